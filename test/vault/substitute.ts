// CollateralVault.substitute: one asset for another atomically, never more value out than in; what a
// substitution refuses, hostile tokens in either leg included.
import { expect } from "chai";
import { ethers as ethersLib } from "ethers";

import { useSystem, type System } from "../fixtures.js";
import { BOND, E18, E6, REENTRY, STABLE, TBILL, USD, adversary } from "../helpers/adversary.js";
import { hostileFlows } from "../helpers/hostile.js";
import { marginEngine } from "../helpers/margin.js";
import { refusalSteps } from "../helpers/refusal.js";
import type {
  BlocklistToken,
  CollateralVault,
  FeeOnTransferToken,
  NonStandardERC20WithDecimals,
  PausableToken,
  ReentrantToken,
} from "../../types/ethers-contracts/index.js";

describe("CollateralVault.substitute", function () {
  let sys: System;
  const system = useSystem();
  beforeEach(function () {
    sys = system();
  });

  const { deploy, agreementListing, pledge, postTbill, mintAndApprove } = adversary(() => sys);
  const { pledgedAgreement } = marginEngine(() => sys);
  const { ledger, expectAccountedEqualsHeld } = hostileFlows(() => sys);

  /**
   * An agreement listing `token` at $1: 10,000 T-bills (9,800 of collateral value) pledged against a
   * requirement of 5,000, and the pledgor's 1,000 stablecoins approved to it. A second agreement between the
   * same parties lists `token` too and holds 1,000 T-bills.
   */
  async function substitution(token: { getAddress(): Promise<string> }) {
    const vault = await agreementListing(token);
    const other = await agreementListing(token);
    await postTbill(vault, TBILL(10_000n));
    await postTbill(other, TBILL(1_000n));
    await pledge(vault);
    await vault.connect(sys.securedParty).setExposure(USD(5_000n));
    await sys.fund(sys.stable, sys.pledgor, vault, E18(1_000n));
    return {
      vault,
      other,
      asset: await token.getAddress(),
      tbill: await sys.tbill.getAddress(),
      stable: await sys.stable.getAddress(),
    };
  }

  const parties = (vault: CollateralVault, other: CollateralVault) => ({
    pledgor: sys.pledgor.address,
    outsider: sys.outsider.address,
    vault,
    other,
  });

  it("substitutes one asset for another atomically, never below the requirement", async function () {
    const vault = await pledgedAgreement();
    const tbill = await sys.tbill.getAddress();
    const stable = await sys.stable.getAddress();
    await sys.fund(sys.stable, sys.pledgor, vault, STABLE(200_000n));
    // 100,000 of stablecoin in for 100,000 T-bills out: value rises by 2,000 (no haircut on the stablecoin).
    await expect(
      vault
        .connect(sys.pledgor)
        .substitute(stable, STABLE(100_000n), tbill, TBILL(100_000n), sys.pledgor.address),
    )
      .to.emit(vault, "Substituted")
      .withArgs(stable, STABLE(100_000n), tbill, TBILL(100_000n));
    expect(await vault.balanceOf(stable)).to.equal(STABLE(100_000n));
    // Taking out more value than comes in (after haircuts) is no substitution, as under the CSA: the whole swap
    // reverts, naming both values.
    await expect(
      vault
        .connect(sys.pledgor)
        .substitute(stable, STABLE(1_000n), tbill, TBILL(500_000n), sys.pledgor.address),
    )
      .to.be.revertedWithCustomError(vault, "SubstitutionExceedsValue")
      .withArgs(USD(490_000n), USD(1_000n));
    // Regression: one raw unit in for 500 T-bills out of the same asset used to pass (coverage held), paying out
    // an excess below the minimum transfer amount that a withdrawal refuses.
    await expect(
      vault.connect(sys.pledgor).substitute(tbill, 1n, tbill, TBILL(500n), sys.pledgor.address),
    )
      .to.be.revertedWithCustomError(vault, "SubstitutionExceedsValue")
      .withArgs(USD(490n), 980_000_000_000n);
    expect(await vault.balanceOf(stable)).to.equal(STABLE(100_000n));
    const other = await sys.ethers.deployContract("MockERC20", ["Other", "OTH", 18]);
    await expect(
      vault
        .connect(sys.pledgor)
        .substitute(await other.getAddress(), 1n, tbill, 1n, sys.pledgor.address),
    )
      .to.be.revertedWithCustomError(vault, "IneligibleAsset")
      .withArgs(await other.getAddress());
  });

  {
    // With the refusal ledger of test/helpers/refusal.ts (hostileFlows has a ledger of its own).
    const { post, postedVault, ledger } = refusalSteps(() => sys);

    it("substitute takes out a holding whose delisting has matured, worth nothing, for any eligible collateral; before maturity the same swap is refused SubstitutionExceedsValue", async function () {
      const vault = await postedVault();
      const [bond, stable, tbill] = [
        await sys.bond.getAddress(),
        await sys.stable.getAddress(),
        await sys.tbill.getAddress(),
      ];
      await post(vault, sys.bond, BOND(1_000n)); // 100,000 at $100, 90,000 after the 10% haircut
      await pledge(vault);
      await vault.connect(sys.securedParty).setExposure(USD(500_000n));

      // Two tightenings queued in turn: the bond's delisting, then a higher haircut on the fund share.
      await expect(
        vault
          .connect(sys.securedParty)
          .changeEligibility({ ...sys.schedule[2], feed: ethersLib.ZeroAddress }),
      ).to.emit(vault, "EligibilityChangeQueued");
      await expect(
        vault
          .connect(sys.securedParty)
          .changeEligibility({ ...sys.schedule[3], haircutBps: 1_000n }),
      ).to.emit(vault, "EligibilityChangeQueued");
      const [, delistedAt] = await vault.pendingEligibility(bond);
      const [, mmfAt] = await vault.pendingEligibility(await sys.mmf.getAddress());
      expect(mmfAt).to.be.greaterThan(delistedAt);

      await sys.fund(sys.stable, sys.pledgor, vault, E18(1n));
      const swap = () =>
        vault
          .connect(sys.pledgor)
          .substitute(stable, E18(1n), bond, BOND(1_000n), sys.pledgor.address);
      const before = await ledger(vault, [sys.bond, sys.stable]);
      await expect(swap())
        .to.be.revertedWithCustomError(vault, "SubstitutionExceedsValue")
        .withArgs(USD(90_000n), USD(1n));
      expect(await ledger(vault, [sys.bond, sys.stable])).to.deep.equal(before);

      await sys.networkHelpers.time.increaseTo(mmfAt);
      for (const [feed, answer] of [
        [sys.tbillFeed, 1_00000000n],
        [sys.stableFeed, 1_00000000n],
        [sys.bondFeed, 100_00000000n],
      ] as const)
        await feed.setAnswer(answer);
      expect((await vault.eligibility(bond)).feed).to.equal(ethersLib.ZeroAddress);
      await expect(swap())
        .to.emit(vault, "Substituted")
        .withArgs(stable, E18(1n), bond, BOND(1_000n));
      expect(await sys.bond.balanceOf(sys.pledgor.address)).to.equal(BOND(1_000n));
      expect(await vault.balanceOf(bond)).to.equal(0n);
      expect(await vault.balanceOf(stable)).to.equal(E18(1n));

      // Valued without the delisted asset: 980,000 of T-bills and the 1 stablecoin, so 100,000 T-bills of
      // excess can leave (980,001 - 98,000 = 882,001 against 500,000).
      expect(await vault.collateralValue()).to.equal(USD(980_001n));
      await expect(vault.connect(sys.pledgor).withdraw(tbill, TBILL(100_000n), sys.pledgor.address))
        .to.emit(vault, "Withdrawn")
        .withArgs(tbill, sys.pledgor.address, TBILL(100_000n), TBILL(900_000n));
    });
  }

  for (const returnsNothing of [false, true]) {
    const style = returnsNothing ? "returns nothing (USDT-style)" : "returns false (ZRX-style)";
    it(`substituting a token that ${style}: an unfunded pull is refused clearly, a swap taking out more value than it brings SubstitutionExceedsValue, a covered one works in both legs`, async function () {
      const token = await deploy<NonStandardERC20WithDecimals>("NonStandardERC20WithDecimals", [
        returnsNothing,
      ]);
      const { vault, other, asset, tbill, stable } = await substitution(token);
      await token.mint(sys.pledgor.address, E6(1_000n));
      await token.connect(sys.pledgor).approve(await vault.getAddress(), E6(500n));
      const tokens = { token, tbill: sys.tbill, stable: sys.stable };
      const before = await ledger(tokens, parties(vault, other), { vault, other });

      // A pull beyond the allowance: false is caught by SafeERC20, the no-return token's revert bubbles up.
      const overdrawn = vault
        .connect(sys.pledgor)
        .substitute(asset, E6(600n), tbill, TBILL(600n), sys.pledgor.address);
      if (returnsNothing)
        await expect(overdrawn).to.be.revertedWithCustomError(token, "ShortTransfer");
      else
        await expect(overdrawn)
          .to.be.revertedWithCustomError(vault, "SafeERC20FailedOperation")
          .withArgs(asset);
      // 500 in for 6,000 T-bills out: 6,000 x 0.98 = 5,880 out after haircut against 500 in.
      await expect(
        vault
          .connect(sys.pledgor)
          .substitute(asset, E6(500n), tbill, TBILL(6_000n), sys.pledgor.address),
      )
        .to.be.revertedWithCustomError(vault, "SubstitutionExceedsValue")
        .withArgs(USD(5_880n), USD(500n));
      expect(await ledger(tokens, parties(vault, other), { vault, other })).to.deep.equal(before);

      // In: 500 of the token for 500 T-bills.
      await expect(
        vault
          .connect(sys.pledgor)
          .substitute(asset, E6(500n), tbill, TBILL(500n), sys.pledgor.address),
      )
        .to.emit(vault, "Substituted")
        .withArgs(asset, E6(500n), tbill, TBILL(500n));
      expect(await sys.tbill.balanceOf(sys.pledgor.address)).to.equal(TBILL(500n));
      // Out: 200 stablecoins for 200 of the token (the vault's transfer returns nothing, or true).
      await vault
        .connect(sys.pledgor)
        .substitute(stable, E18(200n), asset, E6(200n), sys.pledgor.address);
      expect(await token.balanceOf(sys.pledgor.address)).to.equal(E6(700n));
      expect(await vault.balanceOf(asset)).to.equal(E6(300n));
      await expectAccountedEqualsHeld(vault, [token, sys.tbill, sys.stable]);
      // 9,500 x 0.98 + 300 + 200
      expect(await vault.collateralValue()).to.equal(USD(9_810n));
      expect(await other.balanceOf(tbill)).to.equal(TBILL(1_000n));
    });
  }

  describe("refuses", function () {
    /** `substitution` with the re-entrant token also held by both agreements and able to pay a nested deposit. */
    async function reentrantSubstitution() {
      const ree = await deploy<ReentrantToken>("ReentrantToken");
      const setup = await substitution(ree);
      const { vault, other, asset } = setup;
      for (const v of [vault, other]) {
        await mintAndApprove(ree, sys.pledgor, v, E18(1_000n));
        await v.connect(sys.pledgor).deposit(asset, E18(1_000n));
      }
      await mintAndApprove(ree, sys.pledgor, vault, E18(1_000n));
      await ree.mint(asset, E18(10n));
      await ree.approveFromSelf(await vault.getAddress(), E18(10n));
      return { ree, ...setup };
    }

    const nested = (vault: CollateralVault, asset: string, tbill: string, stable: string) => ({
      deposit: vault.interface.encodeFunctionData("deposit", [asset, E18(10n)]),
      withdraw: vault.interface.encodeFunctionData("withdraw", [tbill, TBILL(1n), asset]),
      substitute: vault.interface.encodeFunctionData("substitute", [
        stable,
        E18(1n),
        tbill,
        TBILL(1n),
        asset,
      ]),
      issueMarginCall: vault.interface.encodeFunctionData("issueMarginCall"),
    });

    {
      // With the refusal ledger of test/helpers/refusal.ts (hostileFlows has a ledger of its own).
      const { postedVault, ledger } = refusalSteps(() => sys);

      it("substitute refuses a zero receiver (ZeroAddress) and a zero amount in either leg (ZeroAmount): nothing moves", async function () {
        const vault = await postedVault();
        await pledge(vault);
        await vault.connect(sys.securedParty).setExposure(USD(500_000n));
        await sys.fund(sys.stable, sys.pledgor, vault, E18(1_000n));
        const [stable, tbill] = [await sys.stable.getAddress(), await sys.tbill.getAddress()];
        const swap = (amountIn: bigint, amountOut: bigint, to: string) =>
          vault.connect(sys.pledgor).substitute(stable, amountIn, tbill, amountOut, to);

        const before = await ledger(vault, [sys.tbill, sys.stable]);
        await expect(
          swap(E18(1_000n), TBILL(1_000n), ethersLib.ZeroAddress),
        ).to.be.revertedWithCustomError(vault, "ZeroAddress");
        await expect(swap(0n, TBILL(1_000n), sys.pledgor.address)).to.be.revertedWithCustomError(
          vault,
          "ZeroAmount",
        );
        await expect(swap(E18(1_000n), 0n, sys.pledgor.address)).to.be.revertedWithCustomError(
          vault,
          "ZeroAmount",
        );
        expect(await ledger(vault, [sys.tbill, sys.stable])).to.deep.equal(before);
        // The same swap with a receiver and both amounts goes through.
        await expect(swap(E18(1_000n), TBILL(1_000n), sys.pledgor.address))
          .to.emit(vault, "Substituted")
          .withArgs(stable, E18(1_000n), tbill, TBILL(1_000n));
      });
    }

    it("substituting IN a fee-on-transfer token: refused ShortDelivery, nothing moves, coverage and the other agreement untouched", async function () {
      const fot = await deploy<FeeOnTransferToken>("FeeOnTransferToken", [100n]); // 1% fee
      const { vault, other, asset, tbill } = await substitution(fot);
      await mintAndApprove(fot, sys.pledgor, vault, E18(1_000n));
      const tokens = { fot, tbill: sys.tbill };
      const before = await ledger(tokens, parties(vault, other), { vault, other });

      await expect(
        vault
          .connect(sys.pledgor)
          .substitute(asset, E18(1_000n), tbill, TBILL(1_000n), sys.pledgor.address),
      )
        .to.be.revertedWithCustomError(vault, "ShortDelivery")
        .withArgs(asset, E18(990n), E18(1_000n));
      expect(await ledger(tokens, parties(vault, other), { vault, other })).to.deep.equal(before);
      expect(before["fot held by pledgor"]).to.equal(E18(1_000n));
      expect(before["tbill accounted by vault"]).to.equal(TBILL(10_000n));
      expect(await vault.collateralValue()).to.equal(USD(9_800n));
      expect(await fot.allowance(sys.pledgor.address, await vault.getAddress())).to.equal(
        E18(1_000n),
      );
    });

    it("substituting OUT a blocklisting token to a blocked receiver, or IN from a blocked pledgor or into a blocked vault: refused Blocked, nothing moves", async function () {
      const busd = await deploy<BlocklistToken>("BlocklistToken");
      const { vault, other, asset, tbill, stable } = await substitution(busd);
      const vaultAddress = await vault.getAddress();
      for (const v of [vault, other]) {
        await mintAndApprove(busd, sys.pledgor, v, E6(1_000n));
        await v.connect(sys.pledgor).deposit(asset, E6(1_000n));
      }
      await mintAndApprove(busd, sys.pledgor, vault, E6(500n));
      const tokens = { busd, tbill: sys.tbill, stable: sys.stable };
      const before = await ledger(tokens, parties(vault, other), { vault, other });
      const swapIn = () =>
        vault
          .connect(sys.pledgor)
          .substitute(asset, E6(500n), tbill, TBILL(500n), sys.pledgor.address);
      const swapOut = (to: string) =>
        vault.connect(sys.pledgor).substitute(stable, E18(500n), asset, E6(500n), to);

      await busd.setBlocked(sys.outsider.address, true);
      await expect(swapOut(sys.outsider.address))
        .to.be.revertedWithCustomError(busd, "Blocked")
        .withArgs(sys.outsider.address);
      await busd.setBlocked(sys.pledgor.address, true);
      await expect(swapIn())
        .to.be.revertedWithCustomError(busd, "Blocked")
        .withArgs(sys.pledgor.address);
      await busd.setBlocked(sys.pledgor.address, false);
      await busd.setBlocked(vaultAddress, true);
      await expect(swapIn()).to.be.revertedWithCustomError(busd, "Blocked").withArgs(vaultAddress);
      await expect(swapOut(sys.pledgor.address))
        .to.be.revertedWithCustomError(busd, "Blocked")
        .withArgs(vaultAddress);
      expect(await ledger(tokens, parties(vault, other), { vault, other })).to.deep.equal(before);
      expect(await vault.collateralValue()).to.equal(USD(10_800n));

      // Unblocked, both legs work: the refusals were the token's, not the vault's.
      await busd.setBlocked(vaultAddress, false);
      await swapIn();
      await busd.setBlocked(sys.outsider.address, false);
      await swapOut(sys.outsider.address);
      expect(await busd.balanceOf(sys.outsider.address)).to.equal(E6(500n));
      expect(await vault.balanceOf(asset)).to.equal(E6(1_000n));
      await expectAccountedEqualsHeld(vault, [busd, sys.tbill, sys.stable]);
      expect(await other.balanceOf(asset)).to.equal(E6(1_000n));
      expect(await busd.balanceOf(await other.getAddress())).to.equal(E6(1_000n));
    });

    it("substituting a paused token in either leg: refused TokenPaused, nothing moves; after unpausing both legs work", async function () {
      const pau = await deploy<PausableToken>("PausableToken");
      const { vault, other, asset, tbill, stable } = await substitution(pau);
      for (const v of [vault, other]) {
        await mintAndApprove(pau, sys.pledgor, v, E18(1_000n));
        await v.connect(sys.pledgor).deposit(asset, E18(1_000n));
      }
      await mintAndApprove(pau, sys.pledgor, vault, E18(500n));
      await pau.setPaused(true);
      const tokens = { pau, tbill: sys.tbill, stable: sys.stable };
      const before = await ledger(tokens, parties(vault, other), { vault, other });
      const swapIn = () =>
        vault
          .connect(sys.pledgor)
          .substitute(asset, E18(500n), tbill, TBILL(500n), sys.pledgor.address);
      const swapOut = () =>
        vault
          .connect(sys.pledgor)
          .substitute(stable, E18(500n), asset, E18(500n), sys.pledgor.address);

      await expect(swapIn()).to.be.revertedWithCustomError(pau, "TokenPaused");
      await expect(swapOut()).to.be.revertedWithCustomError(pau, "TokenPaused");
      expect(await ledger(tokens, parties(vault, other), { vault, other })).to.deep.equal(before);
      expect(await vault.collateralValue()).to.equal(USD(10_800n));

      await pau.setPaused(false);
      await swapIn();
      await swapOut();
      expect(await pau.balanceOf(sys.pledgor.address)).to.equal(E18(500n));
      expect(await sys.tbill.balanceOf(sys.pledgor.address)).to.equal(TBILL(500n));
      expect(await vault.balanceOf(asset)).to.equal(E18(1_000n));
      await expectAccountedEqualsHeld(vault, [pau, sys.tbill, sys.stable]);
      // 9,500 x 0.98 + 1,000 + 500
      expect(await vault.collateralValue()).to.equal(USD(10_810n));
      expect(await other.balanceOf(asset)).to.equal(E18(1_000n));
    });

    for (const leg of ["in", "out"] as const) {
      for (const inner of ["deposit", "withdraw", "substitute", "issueMarginCall"] as const) {
        it(`substituting ${leg.toUpperCase()} a re-entrant token whose transfer re-enters ${inner}: refused ${REENTRY}, nothing moves`, async function () {
          const { ree, vault, other, asset, tbill, stable } = await reentrantSubstitution();
          await ree.arm(
            await vault.getAddress(),
            nested(vault, asset, tbill, stable)[inner],
            true,
          );
          const tokens = { ree, tbill: sys.tbill, stable: sys.stable };
          const holders = { ...parties(vault, other), token: asset };
          const before = await ledger(tokens, holders, { vault, other });
          const swap =
            leg === "in"
              ? vault
                  .connect(sys.pledgor)
                  .substitute(asset, E18(500n), tbill, TBILL(500n), sys.pledgor.address)
              : vault
                  .connect(sys.pledgor)
                  .substitute(stable, E18(500n), asset, E18(500n), sys.pledgor.address);
          await expect(swap).to.be.revertedWithCustomError(vault, REENTRY);
          expect(await ledger(tokens, holders, { vault, other })).to.deep.equal(before);
          expect(await ree.reentered()).to.equal(false);
          expect(await vault.collateralValue()).to.equal(USD(10_800n));
        });
      }
    }

    it("substituting OUT a re-entrant token whose swallowed re-entry is refused: the swap settles consistently, coverage kept", async function () {
      const { ree, vault, other, asset, tbill, stable } = await reentrantSubstitution();
      await ree.arm(
        await vault.getAddress(),
        nested(vault, asset, tbill, stable).withdraw,
        false,
      );
      await expect(
        vault
          .connect(sys.pledgor)
          .substitute(stable, E18(400n), asset, E18(400n), sys.pledgor.address),
      )
        .to.emit(vault, "Substituted")
        .withArgs(stable, E18(400n), asset, E18(400n));
      expect(await ree.reentered()).to.equal(false);
      expect(await ree.lastRevert()).to.equal(vault.interface.getError(REENTRY)!.selector);
      expect(await vault.balanceOf(asset)).to.equal(E18(600n));
      expect(await vault.balanceOf(tbill)).to.equal(TBILL(10_000n));
      await expectAccountedEqualsHeld(vault, [ree, sys.tbill, sys.stable]);
      expect(await vault.collateralValue()).to.equal(USD(10_800n));
      expect(await other.balanceOf(asset)).to.equal(E18(1_000n));
      expect(await ree.balanceOf(await other.getAddress())).to.equal(E18(1_000n));
    });
  });
});
