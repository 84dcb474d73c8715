// Who may call each CollateralVault function, in each state: one table over every entry point (its rows name the
// function), the table's legitimate callers, and an agreement without a control agent.
import { anyValue } from "@nomicfoundation/hardhat-ethers-chai-matchers/withArgs";
import { expect } from "chai";
import { ethers as ethersLib } from "ethers";

import { VaultState, defaultTerms, useSystem, type System } from "../fixtures.js";
import { E18, TBILL, USD, adversary } from "../helpers/adversary.js";
import type { CollateralVault } from "../../types/ethers-contracts/index.js";

describe("CollateralVault authority", function () {
  let sys: System;
  const system = useSystem();
  beforeEach(function () {
    sys = system();
  });

  const { pledge, underExclusiveControl, postTbill } = adversary(() => sys);

  type Signer = typeof sys.pledgor;

  type Role = "pledgor" | "securedParty" | "controlAgent" | "outsider";

  const signer = (role: Role): Signer => sys[role];

  /** Three agreements with a control agent: Open, Pledged (exposure disputed), and under exclusive control. */
  async function vaultsInEveryState() {
    const open = await sys.openAgreement({ withAgent: true });
    await postTbill(open, TBILL(1_000n));
    const pledged = await sys.openAgreement({ withAgent: true });
    await postTbill(pledged, TBILL(1_100_000n));
    await pledge(pledged);
    await pledged.connect(sys.securedParty).setExposure(USD(800_000n));
    await pledged.connect(sys.pledgor).disputeExposure(USD(700_000n));
    const control = await sys.openAgreement({ withAgent: true });
    await postTbill(control, TBILL(1_100_000n));
    await underExclusiveControl(control, USD(800_000n));
    return { open, pledged, control };
  }

  type Vaults = Awaited<ReturnType<typeof vaultsInEveryState>>;

  type Case = {
    fn: string;
    vault: keyof Vaults;
    callers: Role[];
    call: (v: CollateralVault, caller: Signer) => Promise<unknown>;
    error: string;
    args: (caller: Signer) => unknown[];
  };

  const tbill = () => sys.tbill.getAddress();

  const stable = () => sys.stable.getAddress();

  const unauthorized = (expected: Role) => (caller: Signer) => [
    caller.address,
    signer(expected).address,
  ];

  const noArgs = () => [];

  const withdraw = async (v: CollateralVault, c: Signer) =>
    v.connect(c).withdraw(await tbill(), TBILL(1n), c.address);

  const instruct = async (v: CollateralVault, c: Signer) =>
    v.connect(c).instructTransfer(await tbill(), TBILL(1n), c.address);

  const substitute = async (v: CollateralVault, c: Signer) =>
    v.connect(c).substitute(await stable(), E18(1n), await tbill(), TBILL(1n), c.address);

  const liquidate = async (v: CollateralVault, c: Signer) =>
    v
      .connect(c)
      .liquidate(
        await tbill(),
        TBILL(1n),
        await stable(),
        E18(1n),
        sys.outsider.address,
        ethersLib.MaxUint256,
        0n,
        "0x",
      );

  const changeEligibility = async (v: CollateralVault, c: Signer) =>
    v.connect(c).changeEligibility(await sys.line(sys.tbill, sys.tbillFeed, 0n));

  const initialize = (v: CollateralVault, c: Signer) =>
    v.connect(c).initialize(defaultTerms, []);

  const notParties: Role[] = ["controlAgent", "outsider"];

  const all: Role[] = ["pledgor", "securedParty", "controlAgent", "outsider"];

  const deposit = async (v: CollateralVault, c: Signer) => v.connect(c).deposit(await tbill(), TBILL(1n));

  /** A surplus the pledgor alone may credit: one T-bill sent straight to the vault first. */
  const reconcileSurplus = async (v: CollateralVault, c: Signer) => {
    await sys.tbill.mint(await v.getAddress(), TBILL(1n));
    return v.connect(c).reconcile(await tbill());
  };

  const cases: Case[] = [
    // Pledged (with an open dispute): the party checks come first.
    {
      fn: "deposit",
      vault: "pledged",
      callers: ["securedParty", ...notParties],
      call: deposit,
      error: "Unauthorized",
      args: unauthorized("pledgor"),
    },
    {
      fn: "reconcile (crediting a surplus)",
      vault: "pledged",
      callers: ["securedParty", ...notParties],
      call: reconcileSurplus,
      error: "Unauthorized",
      args: unauthorized("pledgor"),
    },
    {
      fn: "withdraw",
      vault: "pledged",
      callers: ["securedParty", ...notParties],
      call: withdraw,
      error: "Unauthorized",
      args: unauthorized("pledgor"),
    },
    {
      fn: "setExposure",
      vault: "pledged",
      callers: ["pledgor", ...notParties],
      call: (v, c) => v.connect(c).setExposure(0n),
      error: "Unauthorized",
      args: unauthorized("securedParty"),
    },
    {
      fn: "declareDefault",
      vault: "pledged",
      callers: ["securedParty", "outsider"],
      call: (v, c) => v.connect(c).declareDefault(),
      error: "Unauthorized",
      args: unauthorized("controlAgent"),
    },
    {
      fn: "deliverNoticeOfExclusiveControl",
      vault: "pledged",
      callers: ["pledgor", "outsider"],
      call: (v, c) => v.connect(c).deliverNoticeOfExclusiveControl(ethersLib.id("forged")),
      error: "Unauthorized",
      args: unauthorized("securedParty"),
    },
    {
      fn: "deliverNoticeOfExclusiveControl",
      vault: "pledged",
      callers: ["securedParty", "controlAgent"],
      call: (v, c) => v.connect(c).deliverNoticeOfExclusiveControl(ethersLib.id("early")),
      error: "NoDefault",
      args: noArgs,
    },
    {
      fn: "instructTransfer",
      vault: "pledged",
      callers: ["pledgor", "outsider"],
      call: instruct,
      error: "Unauthorized",
      args: unauthorized("securedParty"),
    },
    {
      fn: "instructTransfer",
      vault: "pledged",
      callers: ["securedParty", "controlAgent"],
      call: instruct,
      error: "InvalidState",
      args: () => [VaultState.Pledged],
    },
    {
      fn: "substitute",
      vault: "pledged",
      callers: ["securedParty", ...notParties],
      call: substitute,
      error: "Unauthorized",
      args: unauthorized("pledgor"),
    },
    {
      fn: "configureTopUp",
      vault: "pledged",
      callers: ["securedParty", ...notParties],
      call: (v, c) => v.connect(c).configureTopUp(c.address, [], []),
      error: "Unauthorized",
      args: unauthorized("pledgor"),
    },
    {
      fn: "disputeExposure",
      vault: "pledged",
      callers: ["securedParty", ...notParties],
      call: (v, c) => v.connect(c).disputeExposure(0n),
      error: "Unauthorized",
      args: unauthorized("pledgor"),
    },
    {
      fn: "resolveDispute (at the pledgor's figure)",
      vault: "pledged",
      callers: ["pledgor", "outsider"],
      call: (v, c) => v.connect(c).resolveDispute(USD(700_000n)),
      error: "InvalidResolution",
      args: (c) => [c.address, USD(700_000n)],
    },
    {
      // The pledgor at or above the mark accepts it: that is a resolution, so it is not in this table.
      fn: "resolveDispute (above the pledgor's figure, or by an outsider)",
      vault: "pledged",
      callers: ["securedParty", "outsider"],
      call: (v, c) => v.connect(c).resolveDispute(USD(900_000n)),
      error: "InvalidResolution",
      args: (c) => [c.address, USD(900_000n)],
    },
    {
      fn: "liquidate",
      vault: "pledged",
      callers: ["pledgor", "outsider"],
      call: liquidate,
      error: "Unauthorized",
      args: unauthorized("securedParty"),
    },
    {
      fn: "liquidate",
      vault: "pledged",
      callers: ["securedParty", "controlAgent"],
      call: liquidate,
      error: "InvalidState",
      args: () => [VaultState.Pledged],
    },
    {
      fn: "release",
      vault: "pledged",
      callers: ["pledgor", ...notParties],
      call: (v, c) => v.connect(c).release(),
      error: "Unauthorized",
      args: unauthorized("securedParty"),
    },
    {
      fn: "changeEligibility",
      vault: "pledged",
      callers: ["pledgor", ...notParties],
      call: changeEligibility,
      error: "Unauthorized",
      args: unauthorized("securedParty"),
    },
    {
      fn: "initialize",
      vault: "pledged",
      callers: all,
      call: initialize,
      error: "InvalidInitialization",
      args: noArgs,
    },
    {
      fn: "consentToPledge",
      vault: "pledged",
      callers: all,
      call: async (v, c) => v.connect(c).consentToPledge(await v.termsHash()),
      error: "InvalidState",
      args: () => [VaultState.Pledged],
    },
    {
      fn: "pledgeWithSignature",
      vault: "pledged",
      callers: all,
      call: (v, c) => v.connect(c).pledgeWithSignature(ethersLib.MaxUint256, "0x"),
      error: "InvalidState",
      args: () => [VaultState.Pledged],
    },
    // Open: pledging is for the two parties only; defaults and release need a pledge.
    {
      fn: "consentToPledge",
      vault: "open",
      callers: notParties,
      call: async (v, c) => v.connect(c).consentToPledge(await v.termsHash()),
      error: "Unauthorized",
      args: unauthorized("pledgor"),
    },
    {
      fn: "pledgeWithSignature",
      vault: "open",
      callers: notParties,
      call: (v, c) => v.connect(c).pledgeWithSignature(ethersLib.MaxUint256, "0x"),
      error: "Unauthorized",
      args: unauthorized("pledgor"),
    },
    {
      fn: "declareDefault",
      vault: "open",
      callers: all,
      call: (v, c) => v.connect(c).declareDefault(),
      error: "InvalidState",
      args: () => [VaultState.Open],
    },
    {
      fn: "release",
      vault: "open",
      callers: ["securedParty"],
      call: (v, c) => v.connect(c).release(),
      error: "InvalidState",
      args: () => [VaultState.Open],
    },
    {
      fn: "withdraw",
      vault: "open",
      callers: ["securedParty", ...notParties],
      call: withdraw,
      error: "Unauthorized",
      args: unauthorized("pledgor"),
    },
    // Exclusive control: the pledgor is locked out, outsiders stay out.
    {
      fn: "withdraw",
      vault: "control",
      callers: ["pledgor"],
      call: withdraw,
      error: "InvalidState",
      args: () => [VaultState.ExclusiveControl],
    },
    {
      fn: "substitute",
      vault: "control",
      callers: ["pledgor"],
      call: substitute,
      error: "InvalidState",
      args: () => [VaultState.ExclusiveControl],
    },
    {
      fn: "instructTransfer",
      vault: "control",
      callers: ["pledgor", "outsider"],
      call: instruct,
      error: "Unauthorized",
      args: unauthorized("securedParty"),
    },
    {
      fn: "liquidate",
      vault: "control",
      callers: ["pledgor", "outsider"],
      call: liquidate,
      error: "Unauthorized",
      args: unauthorized("securedParty"),
    },
    {
      fn: "setExposure",
      vault: "control",
      callers: ["securedParty"],
      call: (v, c) => v.connect(c).setExposure(0n),
      error: "InvalidState",
      args: () => [VaultState.ExclusiveControl],
    },
    {
      fn: "declareDefault",
      vault: "control",
      callers: ["pledgor", "controlAgent"],
      call: (v, c) => v.connect(c).declareDefault(),
      error: "InvalidState",
      args: () => [VaultState.ExclusiveControl],
    },
    {
      // Under exclusive control anyone may release, but only once the amount due is met or the secured party let
      // the appropriation period pass: here 840,000 is still due.
      fn: "release",
      vault: "control",
      callers: ["pledgor", ...notParties],
      call: (v, c) => v.connect(c).release(),
      error: "ReleaseNotYetAllowed",
      args: (c) => [c.address, USD(840_000n), anyValue],
    },
  ];

  for (const c of cases) {
    it(`${c.fn} on a ${c.vault} vault from ${c.callers.join(", ")}: ${c.error}`, async function () {
      const vaults = await vaultsInEveryState();
      const vault = vaults[c.vault];
      const before = await vault.state();
      for (const role of c.callers) {
        const caller = signer(role);
        await expect(c.call(vault, caller), `${c.fn} from ${role}`)
          .to.be.revertedWithCustomError(vault, c.error)
          .withArgs(...c.args(caller));
      }
      expect(await vault.state()).to.equal(before);
      expect(await vault.balanceOf(await tbill())).to.equal(
        c.vault === "open" ? TBILL(1_000n) : TBILL(1_100_000n),
      );
    });
  }

  it("the same table's legitimate callers get past the authority checks (the table can fail)", async function () {
    const { open, pledged, control } = await vaultsInEveryState();
    await open.connect(sys.pledgor).withdraw(await tbill(), TBILL(1n), sys.pledgor.address);
    await pledged.connect(sys.securedParty).resolveDispute(USD(700_000n));
    await pledged.connect(sys.securedParty).setExposure(USD(800_000n));
    await pledged.connect(sys.pledgor).configureTopUp(sys.pledgor.address, [], []);
    await sys.fund(sys.tbill, sys.pledgor, pledged, TBILL(1n));
    await pledged.connect(sys.pledgor).deposit(await tbill(), TBILL(1n));
    await sys.tbill.mint(await pledged.getAddress(), TBILL(1n));
    await expect(pledged.connect(sys.pledgor).reconcile(await tbill()))
      .to.emit(pledged, "Reconciled")
      .withArgs(await tbill(), TBILL(1_100_001n), TBILL(1_100_002n));
    await control
      .connect(sys.controlAgent)
      .instructTransfer(await tbill(), TBILL(1n), sys.securedParty.address);
    await control.connect(sys.securedParty).release();
    expect(await control.state()).to.equal(VaultState.Released);
  });

  it("an agreement without a control agent: the zero agent grants nobody its powers", async function () {
    const vault = await sys.openAgreement();
    await postTbill(vault, TBILL(1_000n));
    await pledge(vault);
    await expect(vault.connect(sys.outsider).declareDefault())
      .to.be.revertedWithCustomError(vault, "Unauthorized")
      .withArgs(sys.outsider.address, ethersLib.ZeroAddress);
    await expect(
      vault.connect(sys.controlAgent).deliverNoticeOfExclusiveControl(ethersLib.id("x")),
    )
      .to.be.revertedWithCustomError(vault, "Unauthorized")
      .withArgs(sys.controlAgent.address, sys.securedParty.address);
  });
});
