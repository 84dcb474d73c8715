// Issue 13, "Counterparty-proof margin rules": every attack on the margin rules of docs/margin-rules.md, each a named
// test that performs it as the adversary would (in one block where that is the attack), from either party, with the
// control agent present and absent where it matters, and shows it refused or harmless next to the rule it breaks.
// The last group guards five checks no other test guards: each test fails if its check is weakened.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

import { anyValue } from "@nomicfoundation/hardhat-ethers-chai-matchers/withArgs";
import { expect } from "chai";
import { ethers as ethersLib, type TransactionReceipt } from "ethers";

import {
  AssetKind,
  ONE_DAY,
  VaultState,
  defaultTerms,
  useSystem,
  type EligibilityLine,
  type System,
  type Terms,
} from "./fixtures.js";
import { TBILL, USD, adversary } from "./helpers/adversary.js";
import { PLEDGE_CONSENT_TYPES, pledgeConsentDomain } from "../sdk/agreements.js";
import { CollateralError, decodeError } from "../sdk/errors.js";
import { TaskInputError, parseAgreementFile } from "../scripts/tasks/actions.js";
import type { CollateralVault, MockPriceFeed } from "../types/ethers-contracts/index.js";

const STABLE = (n: bigint) => n * 10n ** 18n;
const BOND = (n: bigint) => n * 10n ** 8n;
const NOTICE = ethersLib.id("Notice of Exclusive Control, signed");
/** A mark no real agreement carries: 10^12 in base currency. */
const HUGE = USD(10n ** 12n);
const MTA = defaultTerms.minimumTransferAmount;
const WINDOW = defaultTerms.disputeWindow;
const CURE = defaultTerms.curePeriod;
const APPROPRIATION = defaultTerms.appropriationPeriod;
const NOTICE_PERIOD = defaultTerms.scheduleNoticePeriod;
/** The amount due on `exposure`: plus the 5% liquidation penalty of `defaultTerms`. */
const dueOn = (exposure: bigint) =>
  exposure + (exposure * defaultTerms.liquidationPenaltyBps) / 10_000n;
const UINT32_MAX = 2n ** 32n - 1n;
const ZERO = ethersLib.ZeroAddress;

/** Term enum of IAgreementFactory. */
enum Term {
  LiquidationPenaltyBps = 0,
  MaxLiquidationDiscountBps = 1,
  CurePeriod = 2,
  DisputeWindow = 3,
  ScheduleNoticePeriod = 4,
  AppropriationPeriod = 5,
}

type TxOverrides = { gasLimit: bigint; maxFeePerGas: bigint; maxPriorityFeePerGas: bigint };
/** One transaction of a block, sent with the overrides that fix its place in the block. */
type Step = (overrides: TxOverrides) => Promise<{ hash: string }>;

describe("Counterparty-proof margin rules (issue 13)", function () {
  let sys: System;
  const system = useSystem();
  beforeEach(function () {
    sys = system();
  });

  const { pledge, postTbill } = adversary(() => sys);

  // ------------------------------------------------------------------------------------------------ helpers

  afterEach(async function () {
    // A failed test must not leave the chain without automine (the snapshot restore does not reset it).
    await sys.ethers.provider.send("evm_setAutomine", [true]);
  });

  const now = async () => BigInt(await sys.networkHelpers.time.latest());

  const refreshFeeds = () => sys.refreshFeeds();
  const advance = (seconds: bigint) => sys.advance(seconds);

  /** Moves time to `timestamp` (a block is mined there) and republishes every feed. */
  async function advanceTo(timestamp: bigint) {
    await sys.networkHelpers.time.increaseTo(timestamp);
    await refreshFeeds();
  }

  /**
   * Mines `steps` in one block, in that order (explicit gas, falling tips), optionally at `timestamp`; returns the
   * receipts, the block's timestamp, and each step's outcome: ["ok"] or the decoded custom error and its arguments.
   */
  async function oneBlock(steps: Step[], timestamp?: bigint) {
    const gwei = 10n ** 9n;
    const hashes: string[] = [];
    await sys.ethers.provider.send("evm_setAutomine", [false]);
    try {
      for (const [i, step] of steps.entries()) {
        const sent = await step({
          gasLimit: 3_000_000n,
          maxFeePerGas: 200n * gwei,
          maxPriorityFeePerGas: BigInt(50 - i) * gwei,
        });
        hashes.push(sent.hash);
      }
      if (timestamp !== undefined) await sys.networkHelpers.time.setNextBlockTimestamp(timestamp);
      await sys.ethers.provider.send("evm_mine", []);
    } finally {
      await sys.ethers.provider.send("evm_setAutomine", [true]);
    }
    const receipts: TransactionReceipt[] = [];
    for (const hash of hashes)
      receipts.push((await sys.ethers.provider.getTransactionReceipt(hash))!);
    expect(new Set(receipts.map((r) => r.blockNumber)).size, "mined in one block").to.equal(1);
    expect(
      receipts.map((r) => r.index),
      "in the order sent",
    ).to.deep.equal(steps.map((_, i) => i));
    const block = await sys.ethers.provider.getBlock(receipts[0].blockNumber);
    const outcomes: unknown[][] = [];
    for (const receipt of receipts) outcomes.push(await outcomeOf(receipt));
    return { receipts, outcomes, timestamp: BigInt(block!.timestamp) };
  }

  /** ["ok"] for a successful transaction, else the custom error it reverted with and its arguments. */
  async function outcomeOf(receipt: TransactionReceipt): Promise<unknown[]> {
    if (receipt.status === 1) return ["ok"];
    const trace = (await sys.ethers.provider.send("debug_traceTransaction", [
      receipt.hash,
      { disableStorage: true, disableMemory: true, disableStack: true },
    ])) as { failed: boolean; returnValue: string };
    const data = trace.returnValue.startsWith("0x") ? trace.returnValue : `0x${trace.returnValue}`;
    const error = decodeError(data);
    if (error) return [error.errorName, ...error.args];
    // The AccessManager's own errors are not among the SDK's contracts.
    const managerError = sys.manager.interface.parseError(data);
    return managerError ? [managerError.name, ...managerError.args] : ["undecoded", data];
  }

  /** The timestamp of the block `tx` was mined in. */
  async function minedAt(tx: { wait(): Promise<TransactionReceipt | null> }) {
    const receipt = await tx.wait();
    return BigInt((await sys.ethers.provider.getBlock(receipt!.blockNumber))!.timestamp);
  }

  /** The events `vault` emitted in `receipt`, as [name, ...args]. */
  function eventsOf(receipt: TransactionReceipt, vault: CollateralVault, address: string) {
    return receipt.logs
      .filter((log) => log.address.toLowerCase() === address.toLowerCase())
      .map((log) => vault.interface.parseLog(log))
      .filter((parsed) => parsed !== null)
      .map((parsed) => [parsed!.name, ...parsed!.args]);
  }

  /** The SDK's decoded error (and sentence) for a call the contracts refuse. */
  async function sdkError(action: Promise<unknown>): Promise<CollateralError> {
    const error = await action.then(
      () => undefined,
      (e: unknown) => decodeError(e),
    );
    expect(error, "a decoded CollateralError").to.be.instanceOf(CollateralError);
    return error!;
  }

  /**
   * A pledged agreement holding `tbills` T-bills ($1, 2% haircut), its exposure marked at `exposure` and past its
   * dispute window, so `exposure` is enforceable.
   */
  async function pledged(
    options: {
      withAgent?: boolean;
      tbills?: bigint;
      exposure?: bigint;
      terms?: Terms;
      schedule?: EligibilityLine[];
    } = {},
  ) {
    const vault = await sys.openAgreement({
      withAgent: options.withAgent ?? false,
      terms: options.terms,
      schedule: options.schedule,
    });
    const tbills = options.tbills ?? TBILL(1_100_000n);
    if (tbills > 0n) await postTbill(vault, tbills);
    await pledge(vault);
    const exposure = options.exposure ?? USD(500_000n);
    await vault.connect(sys.securedParty).setExposure(exposure);
    await advance(WINDOW + 1n);
    expect(await vault.enforceableExposure()).to.equal(exposure);
    return vault;
  }

  /** The pledgor posts `amount` of the stablecoin ($1, no haircut). */
  async function postStable(vault: CollateralVault, amount: bigint) {
    await sys.fund(sys.stable, sys.pledgor, vault, amount);
    await vault.connect(sys.pledgor).deposit(await sys.stable.getAddress(), amount);
  }

  /** A keeper's margin call; returns its deadline. */
  async function call(vault: CollateralVault) {
    await vault.connect(sys.outsider).issueMarginCall();
    const [, deadline] = await vault.marginCall();
    return deadline;
  }

  /** 1,100,000 T-bills, 500,000 enforceable, the pledgor's own default, the secured party's notice: 525,000 due. */
  async function underExclusiveControl(withAgent = false) {
    const vault = await pledged({ withAgent });
    await vault.connect(sys.pledgor).declareDefault();
    await vault.connect(sys.securedParty).deliverNoticeOfExclusiveControl(NOTICE);
    expect(await vault.appropriation()).to.deep.equal([dueOn(USD(500_000n)), 0n]);
    return { vault, noticeAt: await now() };
  }

  /** 1,100,000 T-bills, 500,000 enforceable, a mark of 900,000 the pledgor disputes at 600,000. */
  async function disputed(withAgent = false) {
    const vault = await pledged({ withAgent });
    await vault.connect(sys.securedParty).setExposure(USD(900_000n));
    await expect(vault.connect(sys.pledgor).disputeExposure(USD(600_000n)))
      .to.emit(vault, "ExposureDisputed")
      .withArgs(USD(900_000n), USD(600_000n), USD(600_000n));
    return vault;
  }

  /** The factory's own `openAgreement` for the pledgor and the secured party, without a control agent, by `creator`. */
  const openWithoutAgent = (
    creator: System["pledgor"],
    terms: Terms,
    salt: string,
    schedule: EligibilityLine[] = sys.schedule,
    overrides: Partial<TxOverrides> = {},
  ) =>
    sys.factory
      .connect(creator)
      .openAgreement(
        sys.pledgor.address,
        sys.securedParty.address,
        ZERO,
        terms,
        schedule,
        salt,
        overrides,
      );

  const tbillAddress = () => sys.tbill.getAddress();
  const stableAddress = () => sys.stable.getAddress();
  const agentOf = (withAgent: boolean) => (withAgent ? sys.controlAgent.address : ZERO);

  // ------------------------------------------------------------------------------------------------ attack 1

  describe("rule: a mark is callable at once but enforceable only once the pledgor could dispute it", function () {
    for (const by of ["pledgor", "control agent"] as const) {
      it(`attack 1, unbounded amount due: after the ${by}'s declareDefault, setExposure(huge) and the notice in one block make due only the enforceable 500,000 + 5% (rule: a mark is enforceable only once its dispute window has passed)`, async function () {
        const withAgent = by === "control agent";
        const vault = await pledged({ withAgent });
        const declarer = withAgent ? sys.controlAgent : sys.pledgor;
        await expect(vault.connect(declarer).declareDefault())
          .to.emit(vault, "DefaultDeclared")
          .withArgs(declarer.address, withAgent ? 2 : 1);

        const sp = vault.connect(sys.securedParty);
        const { outcomes } = await oneBlock([
          (o) => sp.setExposure(HUGE, o),
          (o) => sp.deliverNoticeOfExclusiveControl(NOTICE, o),
        ]);
        expect(outcomes).to.deep.equal([["ok"], ["ok"]]);
        expect(await vault.state()).to.equal(VaultState.ExclusiveControl);
        expect(await vault.appropriation()).to.deep.equal([USD(525_000n), 0n]);

        // Nothing beyond the amount due is taken, at oracle value (the T-bill is at $1).
        const tbill = await tbillAddress();
        await expect(sp.instructTransfer(tbill, TBILL(525_001n), sys.securedParty.address))
          .to.be.revertedWithCustomError(vault, "AppropriationExceedsAmountDue")
          .withArgs(USD(525_001n), USD(525_000n));
        await sp.instructTransfer(tbill, TBILL(525_000n), sys.securedParty.address);
        expect(await vault.appropriation()).to.deep.equal([USD(525_000n), USD(525_000n)]);
        expect(await sys.tbill.balanceOf(sys.securedParty.address)).to.equal(TBILL(525_000n));
        if (withAgent) {
          // The control agent acting on the notice is bound by the same figure: one raw unit more is refused.
          await expect(
            vault.connect(sys.controlAgent).instructTransfer(tbill, 1n, sys.controlAgent.address),
          )
            .to.be.revertedWithCustomError(vault, "AppropriationExceedsAmountDue")
            .withArgs(USD(525_000n) + 10n ** 12n, USD(525_000n));
        }
      });
    }

    it("attack 1, unbounded amount due: after a keeper's default on a call unmet past its deadline, setExposure(huge) and the notice in one block make due only the enforceable 1,200,000 + 5% (rule: a mark is enforceable only once its dispute window has passed)", async function () {
      const vault = await pledged({ exposure: USD(1_200_000n) });
      const deadline = await call(vault); // 1,200,000 - 1,078,000 = 122,000
      await advanceTo(deadline + 1n);
      await expect(vault.connect(sys.outsider).declareDefault())
        .to.emit(vault, "DefaultDeclared")
        .withArgs(sys.outsider.address, 3);
      const sp = vault.connect(sys.securedParty);
      const { outcomes } = await oneBlock([
        (o) => sp.setExposure(HUGE, o),
        (o) => sp.deliverNoticeOfExclusiveControl(NOTICE, o),
      ]);
      expect(outcomes).to.deep.equal([["ok"], ["ok"]]);
      expect(await vault.appropriation()).to.deep.equal([USD(1_260_000n), 0n]);
    });

    it("attack 1, unbounded amount due: a keeper's margin call on the huge mark in the same block is open at once, but the pledgor keeps the whole window to dispute it before the call can default (rule: callable at once, disputable before it can default)", async function () {
      const vault = await pledged();
      const sp = vault.connect(sys.securedParty);
      const { outcomes, timestamp } = await oneBlock([
        (o) => sp.setExposure(USD(2_000_000n), o),
        (o) => vault.connect(sys.outsider).issueMarginCall(o),
      ]);
      expect(outcomes).to.deep.equal([["ok"], ["ok"]]);
      // 2,000,000 - 1,078,000 = 922,000, due in one cure period; the mark's window closes at the same second.
      expect(await vault.marginCall()).to.deep.equal([
        USD(922_000n),
        timestamp + CURE,
        USD(2_000_000n),
        0n,
      ]);
      expect(await vault.enforceableExposure()).to.equal(USD(500_000n));
      // The last second the call cannot default is still inside the window: the pledgor disputes then.
      await advanceTo(timestamp + WINDOW - 10n);
      const dispute = await oneBlock(
        [(o) => vault.connect(sys.pledgor).disputeExposure(USD(500_000n), o)],
        timestamp + WINDOW,
      );
      expect(dispute.outcomes).to.deep.equal([["ok"]]);
      await refreshFeeds();
      // The call is now cured by value (1,078,000 against the undisputed 500,000): no default, no notice.
      await expect(vault.connect(sys.outsider).declareDefault())
        .to.be.revertedWithCustomError(vault, "MarginCallCured")
        .withArgs(USD(1_078_000n), USD(500_000n));
      await expect(sp.deliverNoticeOfExclusiveControl(NOTICE)).to.be.revertedWithCustomError(
        vault,
        "MarginCallCured",
      );
    });

    it("attack 1, unbounded amount due: a mark is enforceable once its dispute window has passed, not in the window's last second (rule: enforceable once the pledgor could dispute it)", async function () {
      // Two agreements marked 600,000 in the same block; notices one second apart around the window's end.
      const a = await pledged();
      const b = await pledged();
      for (const v of [a, b]) await v.connect(sys.pledgor).declareDefault();
      const { timestamp: markedAt } = await oneBlock([
        (o) => a.connect(sys.securedParty).setExposure(USD(600_000n), o),
        (o) => b.connect(sys.securedParty).setExposure(USD(600_000n), o),
      ]);
      expect(await a.enforceableExposure()).to.equal(USD(500_000n));
      await advanceTo(markedAt + WINDOW - 20n);
      const atEnd = await oneBlock(
        [(o) => a.connect(sys.securedParty).deliverNoticeOfExclusiveControl(NOTICE, o)],
        markedAt + WINDOW,
      );
      expect(atEnd.outcomes).to.deep.equal([["ok"]]);
      const after = await oneBlock(
        [(o) => b.connect(sys.securedParty).deliverNoticeOfExclusiveControl(NOTICE, o)],
        markedAt + WINDOW + 1n,
      );
      expect(after.outcomes).to.deep.equal([["ok"]]);
      expect(await a.appropriation()).to.deep.equal([USD(525_000n), 0n]);
      expect(await b.appropriation()).to.deep.equal([USD(630_000n), 0n]);
    });
  });

  // ------------------------------------------------------------------------------------------------ attack 2

  describe("rule: while a dispute is open the pledgor's figure is what is enforceable, and afterwards the amount due only goes down", function () {
    it("attack 2, disputed figure enforced: with a dispute open, the pledgor's default, then setExposure(huge) and the notice in one block make due the pledgor's 600,000 + 5% (rule: the pledgor's figure is enforceable while a dispute is open)", async function () {
      const vault = await disputed();
      await vault.connect(sys.pledgor).declareDefault();
      // Even once the disputed mark's window has passed, the dispute keeps the pledgor's figure.
      await advance(WINDOW + 1n);
      expect(await vault.enforceableExposure()).to.equal(USD(600_000n));
      const sp = vault.connect(sys.securedParty);
      const { outcomes } = await oneBlock([
        (o) => sp.setExposure(HUGE, o),
        (o) => sp.deliverNoticeOfExclusiveControl(NOTICE, o),
      ]);
      expect(outcomes).to.deep.equal([["ok"], ["ok"]]);
      expect(await vault.appropriation()).to.deep.equal([USD(630_000n), 0n]);
      const [exposure, undisputed, isDisputed] = await vault.marginState();
      expect([exposure, undisputed, isDisputed]).to.deep.equal([HUGE, USD(600_000n), true]);
      await expect(
        sp.instructTransfer(await tbillAddress(), TBILL(630_001n), sys.securedParty.address),
      )
        .to.be.revertedWithCustomError(vault, "AppropriationExceedsAmountDue")
        .withArgs(USD(630_001n), USD(630_000n));
      // The pledgor cannot open a dispute after the notice to cut the amount due either.
      await expect(vault.connect(sys.pledgor).disputeExposure(USD(1n)))
        .to.be.revertedWithCustomError(vault, "InvalidState")
        .withArgs(VaultState.ExclusiveControl);
    });

    it("attack 2, disputed figure enforced: a margin call on the pledgor's figure unmet past its deadline, then a huge mark and the notice in one block: due is 1,100,000 + 5%, not the mark (rule: the pledgor's figure is enforceable while a dispute is open)", async function () {
      const vault = await pledged({ exposure: USD(1_000_000n) });
      await vault.connect(sys.securedParty).setExposure(USD(2_000_000n));
      await vault.connect(sys.pledgor).disputeExposure(USD(1_100_000n));
      expect(await vault.callableRequirement()).to.equal(USD(1_100_000n));
      const deadline = await call(vault); // 1,100,000 - 1,078,000 = 22,000
      expect((await vault.marginCall())[0]).to.equal(USD(22_000n));
      await advanceTo(deadline + 1n);
      await expect(vault.connect(sys.outsider).declareDefault())
        .to.emit(vault, "DefaultDeclared")
        .withArgs(sys.outsider.address, 3);
      const sp = vault.connect(sys.securedParty);
      const { outcomes } = await oneBlock([
        (o) => sp.setExposure(USD(5_000_000n), o),
        (o) => sp.deliverNoticeOfExclusiveControl(NOTICE, o),
      ]);
      expect(outcomes).to.deep.equal([["ok"], ["ok"]]);
      expect(await vault.appropriation()).to.deep.equal([USD(1_155_000n), 0n]);
    });

    it("attack 2, disputed figure enforced: under exclusive control the control agent resolving above the pledgor's figure leaves the amount due; resolving below lowers it; the secured party accepting less lowers it; the pledgor accepting the mark or raising its figure leaves it (rule: the amount due only goes down)", async function () {
      const open = async () => {
        const vault = await disputed(true);
        await vault.connect(sys.pledgor).declareDefault();
        await vault.connect(sys.securedParty).deliverNoticeOfExclusiveControl(NOTICE);
        expect(await vault.appropriation()).to.deep.equal([USD(630_000n), 0n]);
        return vault;
      };

      const higher = await open();
      await expect(higher.connect(sys.controlAgent).resolveDispute(USD(900_000n)))
        .to.emit(higher, "DisputeResolved")
        .withArgs(sys.controlAgent.address, USD(900_000n));
      expect(await higher.appropriation()).to.deep.equal([USD(630_000n), 0n]);
      expect((await higher.marginState())[2]).to.equal(false);
      await expect(
        higher
          .connect(sys.securedParty)
          .instructTransfer(await tbillAddress(), TBILL(630_001n), sys.securedParty.address),
      )
        .to.be.revertedWithCustomError(higher, "AppropriationExceedsAmountDue")
        .withArgs(USD(630_001n), USD(630_000n));

      const lower = await open();
      await lower.connect(sys.controlAgent).resolveDispute(USD(550_000n));
      expect(await lower.appropriation()).to.deep.equal([USD(577_500n), 0n]);

      const securedPartyAccepts = await open();
      await securedPartyAccepts.connect(sys.securedParty).resolveDispute(USD(580_000n));
      expect(await securedPartyAccepts.appropriation()).to.deep.equal([USD(609_000n), 0n]);

      const pledgorAccepts = await open();
      await expect(pledgorAccepts.connect(sys.pledgor).resolveDispute(USD(900_000n)))
        .to.emit(pledgorAccepts, "DisputeResolved")
        .withArgs(sys.pledgor.address, USD(900_000n));
      expect(await pledgorAccepts.appropriation()).to.deep.equal([USD(630_000n), 0n]);

      const pledgorRaises = await open();
      await expect(pledgorRaises.connect(sys.pledgor).resolveDispute(USD(700_000n)))
        .to.emit(pledgorRaises, "DisputeFigureChanged")
        .withArgs(sys.pledgor.address, USD(900_000n), USD(700_000n));
      expect(await pledgorRaises.appropriation()).to.deep.equal([USD(630_000n), 0n]);
      // Under exclusive control the secured party cannot re-mark at all.
      await expect(pledgorRaises.connect(sys.securedParty).setExposure(HUGE))
        .to.be.revertedWithCustomError(pledgorRaises, "InvalidState")
        .withArgs(VaultState.ExclusiveControl);
    });
  });

  // ------------------------------------------------------------------------------------------------ attack 3

  describe("rule: a new mark never erases a dispute", function () {
    /** 500,000 T-bills (490,000), 480,000 enforceable, a mark of 900,000 disputed at 600,000, the call covered. */
    async function coveredDispute(withAgent: boolean) {
      const vault = await pledged({ withAgent, tbills: TBILL(500_000n), exposure: USD(480_000n) });
      await vault.connect(sys.securedParty).setExposure(USD(900_000n));
      await vault.connect(sys.pledgor).disputeExposure(USD(600_000n));
      await call(vault); // on the undisputed 600,000: 110,000
      expect((await vault.marginCall())[0]).to.equal(USD(110_000n));
      await sys.fund(sys.stable, sys.pledgor, vault, STABLE(110_000n));
      await expect(vault.connect(sys.pledgor).deposit(await stableAddress(), STABLE(110_000n)))
        .to.emit(vault, "MarginCallMet")
        .withArgs(USD(600_000n), USD(600_000n));
      expect(await vault.state()).to.equal(VaultState.Pledged);
      return vault;
    }

    for (const withAgent of [false, true]) {
      it(`attack 3, dispute erased by a re-mark (${withAgent ? "with" : "without"} a control agent): the secured party re-marks the disputed 900,000 and then 1,500,000, calls, declares and gives notice in one block; the dispute stays open at the pledgor's 600,000, which is covered, so there is no default (rule: a new mark never erases a dispute)`, async function () {
        const vault = await coveredDispute(withAgent);
        const sp = vault.connect(sys.securedParty);
        const { outcomes } = await oneBlock([
          (o) => sp.setExposure(USD(900_000n), o),
          (o) => sp.setExposure(USD(1_500_000n), o),
          (o) => sp.issueMarginCall(o),
          (o) => sp.declareDefault(o),
          (o) => sp.deliverNoticeOfExclusiveControl(NOTICE, o),
        ]);
        expect(outcomes).to.deep.equal([
          ["ok"],
          ["ok"],
          ["NoMarginCallDue", USD(600_000n), USD(600_000n), MTA],
          ["Unauthorized", sys.securedParty.address, agentOf(withAgent)],
          ["NoDefault"],
        ]);
        expect(await vault.marginState()).to.deep.equal([
          USD(1_500_000n),
          USD(600_000n),
          true,
          0n,
          0n,
        ]);
        expect(await vault.state()).to.equal(VaultState.Pledged);
        expect(await vault.callableRequirement()).to.equal(USD(600_000n));
        expect(await vault.enforceableExposure()).to.equal(USD(600_000n));
        // Time does not end the dispute either.
        await advance(30n * ONE_DAY);
        expect(await vault.enforceableExposure()).to.equal(USD(600_000n));
        await expect(vault.connect(sys.outsider).issueMarginCall())
          .to.be.revertedWithCustomError(vault, "NoMarginCallDue")
          .withArgs(USD(600_000n), USD(600_000n), MTA);
        await expect(sp.deliverNoticeOfExclusiveControl(NOTICE)).to.be.revertedWithCustomError(
          vault,
          "NoDefault",
        );
      });
    }

    it("attack 3, dispute erased by a re-mark: a call open on the mark, cured by the pledgor's dispute alone; after the deadline the secured party re-marks higher and a keeper declares and the secured party gives notice in one block: MarginCallCured (rule: a new mark never erases a dispute)", async function () {
      const vault = await pledged({ tbills: TBILL(500_000n), exposure: USD(480_000n) });
      const sp = vault.connect(sys.securedParty);
      await sp.setExposure(USD(900_000n));
      const deadline = await call(vault); // 900,000 - 490,000 = 410,000
      expect((await vault.marginCall())[0]).to.equal(USD(410_000n));
      // The pledgor admits only what it had let pass: the whole new part is disputed.
      await expect(vault.connect(sys.pledgor).disputeExposure(USD(480_000n)))
        .to.emit(vault, "ExposureDisputed")
        .withArgs(USD(900_000n), USD(480_000n), USD(480_000n));
      await advanceTo(deadline);
      const { outcomes } = await oneBlock([
        (o) => sp.setExposure(USD(900_000n), o),
        (o) => sp.setExposure(USD(2_000_000n), o),
        (o) => vault.connect(sys.outsider).declareDefault(o),
        (o) => sp.deliverNoticeOfExclusiveControl(NOTICE, o),
      ]);
      expect(outcomes).to.deep.equal([
        ["ok"],
        ["ok"],
        ["MarginCallCured", USD(490_000n), USD(480_000n)],
        ["MarginCallCured", USD(490_000n), USD(480_000n)],
      ]);
      expect((await vault.marginState()).slice(0, 3)).to.deep.equal([
        USD(2_000_000n),
        USD(480_000n),
        true,
      ]);
      await expect(vault.connect(sys.outsider).closeMarginCall())
        .to.emit(vault, "MarginCallMet")
        .withArgs(USD(490_000n), USD(480_000n));
      expect(await vault.state()).to.equal(VaultState.Pledged);
    });

    it("attack 3, dispute erased by a re-mark: conceding the pledgor's figure and marking 5,000,000 with a call in one block ends the dispute at 600,000; the new mark has a window of its own, the pledgor disputes it again and no default follows (rule: an agreed figure is enforceable, a new mark is disputable)", async function () {
      const vault = await coveredDispute(false);
      const sp = vault.connect(sys.securedParty);
      const { outcomes, receipts } = await oneBlock([
        (o) => sp.setExposure(USD(600_000n), o),
        (o) => sp.setExposure(USD(5_000_000n), o),
        (o) => sp.issueMarginCall(o),
      ]);
      expect(outcomes).to.deep.equal([["ok"], ["ok"], ["ok"]]);
      expect(eventsOf(receipts[0], vault, await vault.getAddress())[0]).to.deep.equal([
        "DisputeResolved",
        sys.securedParty.address,
        USD(600_000n),
      ]);
      expect(await vault.enforceableExposure()).to.equal(USD(600_000n));
      const [amount, deadline] = await vault.marginCall();
      expect(amount).to.equal(USD(4_400_000n));
      await expect(vault.connect(sys.pledgor).disputeExposure(USD(600_000n)))
        .to.emit(vault, "ExposureDisputed")
        .withArgs(USD(5_000_000n), USD(600_000n), USD(600_000n));
      await advanceTo(deadline + 1n);
      await expect(vault.connect(sys.outsider).declareDefault())
        .to.be.revertedWithCustomError(vault, "MarginCallCured")
        .withArgs(USD(600_000n), USD(600_000n));
      await expect(sp.deliverNoticeOfExclusiveControl(NOTICE)).to.be.revertedWithCustomError(
        vault,
        "MarginCallCured",
      );
      expect(await vault.enforceableExposure()).to.equal(USD(600_000n));
    });

    for (const mark of [550_000n, 600_000n]) {
      it(`attack 3, dispute erased by a re-mark: a mark of ${mark.toLocaleString("en-US")} (${mark < 600_000n ? "below" : "at"} the pledgor's 600,000) ends the dispute at the mark, enforceable at once and not disputable again (rule: a mark at or below the pledgor's figure ends the dispute at the mark)`, async function () {
        const vault = await disputed();
        await expect(vault.connect(sys.securedParty).setExposure(USD(mark)))
          .to.emit(vault, "DisputeResolved")
          .withArgs(sys.securedParty.address, USD(mark));
        expect(await vault.marginState()).to.deep.equal([USD(mark), USD(mark), false, 0n, 0n]);
        expect(await vault.enforceableExposure()).to.equal(USD(mark));
        expect(await vault.requirement()).to.equal(USD(mark));
        await expect(vault.connect(sys.pledgor).disputeExposure(USD(1n)))
          .to.be.revertedWithCustomError(vault, "DisputeWindowClosed")
          .withArgs(0n, WINDOW, anyValue);
      });
    }
  });

  // ------------------------------------------------------------------------------------------------ attack 4

  describe("rule: a dispute ends only by agreement", function () {
    it("attack 4, self-resolution: the secured party resolving at its own mark, or above it, is InvalidResolution, also right after re-marking in the same block; the dispute stays open (rule: the secured party may only accept the pledgor's figure or less)", async function () {
      const vault = await disputed();
      const sp = vault.connect(sys.securedParty);
      for (const figure of [USD(900_000n), HUGE]) {
        await expect(sp.resolveDispute(figure))
          .to.be.revertedWithCustomError(vault, "InvalidResolution")
          .withArgs(sys.securedParty.address, figure);
      }
      expect(await vault.marginState()).to.deep.equal([USD(900_000n), USD(600_000n), true, 0n, 0n]);
      // In one block: re-mark, then resolve at the mark: the mark stays, the resolution is refused.
      const { outcomes } = await oneBlock([
        (o) => sp.setExposure(USD(900_000n), o),
        (o) => sp.resolveDispute(USD(900_000n), o),
      ]);
      expect(outcomes).to.deep.equal([
        ["ok"],
        ["InvalidResolution", sys.securedParty.address, USD(900_000n)],
      ]);
      expect(await vault.enforceableExposure()).to.equal(USD(600_000n));
    });

    it("attack 4, self-resolution: the pledgor cannot lower its figure, nor restate it, nor open a second dispute (rule: the pledgor may raise its admitted figure, never lower it)", async function () {
      const vault = await disputed();
      const p = vault.connect(sys.pledgor);
      for (const figure of [USD(600_000n) - 1n, USD(600_000n), 0n]) {
        await expect(p.resolveDispute(figure))
          .to.be.revertedWithCustomError(vault, "InvalidResolution")
          .withArgs(sys.pledgor.address, figure);
      }
      await expect(p.disputeExposure(USD(100_000n))).to.be.revertedWithCustomError(
        vault,
        "DisputeAlreadyOpen",
      );
      expect((await vault.marginState())[1]).to.equal(USD(600_000n));
    });

    for (const withAgent of [false, true]) {
      it(`attack 4, self-resolution: an outsider${withAgent ? "" : ", and the control agent's address where no agent is named,"} cannot resolve (InvalidResolution)${withAgent ? "; the named control agent decides any figure, enforceable at once and not disputable again" : ""} (rule: only the parties by agreement, or the control agent, end a dispute)`, async function () {
        const vault = await disputed(withAgent);
        await expect(vault.connect(sys.outsider).resolveDispute(USD(600_000n)))
          .to.be.revertedWithCustomError(vault, "InvalidResolution")
          .withArgs(sys.outsider.address, USD(600_000n));
        const agent = vault.connect(sys.controlAgent);
        if (!withAgent) {
          await expect(agent.resolveDispute(USD(750_000n)))
            .to.be.revertedWithCustomError(vault, "InvalidResolution")
            .withArgs(sys.controlAgent.address, USD(750_000n));
          expect((await vault.marginState())[2]).to.equal(true);
          return;
        }
        await expect(agent.resolveDispute(USD(750_000n)))
          .to.emit(vault, "DisputeResolved")
          .withArgs(sys.controlAgent.address, USD(750_000n));
        expect(await vault.marginState()).to.deep.equal([
          USD(750_000n),
          USD(750_000n),
          false,
          0n,
          0n,
        ]);
        expect(await vault.enforceableExposure()).to.equal(USD(750_000n));
        await expect(vault.connect(sys.pledgor).disputeExposure(USD(700_000n)))
          .to.be.revertedWithCustomError(vault, "DisputeWindowClosed")
          .withArgs(0n, WINDOW, anyValue);
      });
    }

    it("attack 4, self-resolution: the pledgor accepting the mark (any figure at or above it) ends the dispute at the mark, not at its own number (rule: the pledgor accepts the mark)", async function () {
      const vault = await disputed();
      await expect(vault.connect(sys.pledgor).resolveDispute(HUGE))
        .to.emit(vault, "DisputeResolved")
        .withArgs(sys.pledgor.address, USD(900_000n));
      expect(await vault.marginState()).to.deep.equal([
        USD(900_000n),
        USD(900_000n),
        false,
        0n,
        0n,
      ]);
      expect(await vault.enforceableExposure()).to.equal(USD(900_000n));
    });

    it("attack 4, self-resolution: the secured party lowers its mark to 700,000, the pledgor raises its figure to 650,000 and then to meet the mark: the dispute ends at 700,000 (rule: the two figures meeting end the dispute)", async function () {
      const vault = await disputed();
      await vault.connect(sys.securedParty).setExposure(USD(700_000n));
      expect((await vault.marginState()).slice(0, 3)).to.deep.equal([
        USD(700_000n),
        USD(600_000n),
        true,
      ]);
      await expect(vault.connect(sys.pledgor).resolveDispute(USD(650_000n)))
        .to.emit(vault, "DisputeFigureChanged")
        .withArgs(sys.pledgor.address, USD(700_000n), USD(650_000n));
      expect((await vault.marginState()).slice(0, 3)).to.deep.equal([
        USD(700_000n),
        USD(650_000n),
        true,
      ]);
      expect(await vault.enforceableExposure()).to.equal(USD(650_000n));
      await expect(vault.connect(sys.pledgor).resolveDispute(USD(700_000n)))
        .to.emit(vault, "DisputeResolved")
        .withArgs(sys.pledgor.address, USD(700_000n));
      expect((await vault.marginState()).slice(0, 3)).to.deep.equal([
        USD(700_000n),
        USD(700_000n),
        false,
      ]);
      expect(await vault.enforceableExposure()).to.equal(USD(700_000n));
    });

    it("attack 4, self-resolution: a dispute must leave part of the mark in dispute: a figure at the mark, or on a lowered mark, is NothingDisputed (with its SDK sentence); a figure below what was enforceable counts as that (rule: a dispute covers only what is not yet enforceable)", async function () {
      const vault = await pledged(); // 500,000 enforceable
      const sp = vault.connect(sys.securedParty);
      await sp.setExposure(USD(900_000n));
      const error = await sdkError(vault.connect(sys.pledgor).disputeExposure(USD(900_000n)));
      expect(error.errorName).to.equal("NothingDisputed");
      expect(error.message).to.equal(
        "NothingDisputed: There is nothing to dispute: the pledgor's figure 900,000 (never below the exposure " +
          "already enforceable) is not below the mark of 900,000.",
      );
      await expect(vault.connect(sys.pledgor).disputeExposure(USD(100_000n)))
        .to.emit(vault, "ExposureDisputed")
        .withArgs(USD(900_000n), USD(100_000n), USD(500_000n));
      expect(await vault.callableRequirement()).to.equal(USD(500_000n));

      const lowered = await pledged();
      await lowered.connect(sys.securedParty).setExposure(USD(400_000n));
      await expect(lowered.connect(sys.pledgor).disputeExposure(USD(100_000n)))
        .to.be.revertedWithCustomError(lowered, "NothingDisputed")
        .withArgs(USD(400_000n), USD(400_000n));
    });
  });

  // ------------------------------------------------------------------------------------------------ attack 5

  describe("rule: a default on an unmet call lasts only while the call does", function () {
    /** 1,100,000 T-bills against an enforceable 1,200,000: a call for 122,000, unmet, the keeper's default. */
    async function staleDefault(withAgent: boolean) {
      const vault = await pledged({ withAgent, exposure: USD(1_200_000n) });
      await expect(vault.connect(sys.outsider).issueMarginCall())
        .to.emit(vault, "MarginCallIssued")
        .withArgs(
          sys.outsider.address,
          USD(122_000n),
          USD(122_000n),
          anyValue,
          USD(1_078_000n),
          USD(1_200_000n),
        );
      const [, deadline] = await vault.marginCall();
      await advanceTo(deadline + 1n);
      await expect(vault.connect(sys.outsider).declareDefault())
        .to.emit(vault, "DefaultDeclared")
        .withArgs(sys.outsider.address, 3);
      return vault;
    }

    for (const withAgent of [false, true]) {
      it(`attack 5, stale default (${withAgent ? "with" : "without"} a control agent): the keeper's default on an unmet call, the pledgor cures late (DefaultCured, Pledged), and 90 days later, fully covered, the notice is NoDefault (rule: curing the call, even late, ends the default)`, async function () {
        const vault = await staleDefault(withAgent);
        await sys.fund(sys.stable, sys.pledgor, vault, STABLE(122_000n));
        const cure = vault.connect(sys.pledgor).deposit(await stableAddress(), STABLE(122_000n));
        await expect(cure)
          .to.emit(vault, "MarginCallMet")
          .withArgs(USD(1_200_000n), USD(1_200_000n));
        await expect(cure).to.emit(vault, "DefaultCured").withArgs(3);
        expect(await vault.state()).to.equal(VaultState.Pledged);

        await advance(90n * ONE_DAY);
        expect(await vault.collateralValue()).to.equal(USD(1_200_000n));
        await expect(
          vault.connect(sys.securedParty).deliverNoticeOfExclusiveControl(NOTICE),
        ).to.be.revertedWithCustomError(vault, "NoDefault");
        if (withAgent) {
          await expect(
            vault.connect(sys.controlAgent).deliverNoticeOfExclusiveControl(NOTICE),
          ).to.be.revertedWithCustomError(vault, "NoDefault");
        }
        await expect(vault.connect(sys.outsider).declareDefault())
          .to.be.revertedWithCustomError(vault, "Unauthorized")
          .withArgs(sys.outsider.address, agentOf(withAgent));
        await expect(vault.connect(sys.outsider).issueMarginCall())
          .to.be.revertedWithCustomError(vault, "NoMarginCallDue")
          .withArgs(USD(1_200_000n), USD(1_200_000n), MTA);
        expect(await vault.state()).to.equal(VaultState.Pledged);
      });
    }

    it("attack 5, stale default: the control agent's declared default is not turned into a curable one by a keeper's declareDefault on the unmet call: the late cure meets the call (no DefaultCured) and the notice is still good (rule: only a default on an unmet call ends with its cure)", async function () {
      const vault = await pledged({ withAgent: true, exposure: USD(1_200_000n) });
      await expect(vault.connect(sys.controlAgent).declareDefault())
        .to.emit(vault, "DefaultDeclared")
        .withArgs(sys.controlAgent.address, 2);
      const deadline = await call(vault);
      await advanceTo(deadline + 1n);
      await expect(vault.connect(sys.outsider).declareDefault())
        .to.emit(vault, "DefaultDeclared")
        .withArgs(sys.outsider.address, 3);
      await sys.fund(sys.stable, sys.pledgor, vault, STABLE(122_000n));
      const cure = vault.connect(sys.pledgor).deposit(await stableAddress(), STABLE(122_000n));
      await expect(cure).to.emit(vault, "MarginCallMet");
      await expect(cure).not.to.emit(vault, "DefaultCured");
      expect(await vault.state()).to.equal(VaultState.Pledged);
      await expect(vault.connect(sys.securedParty).deliverNoticeOfExclusiveControl(NOTICE))
        .to.emit(vault, "NoticeOfExclusiveControlDelivered")
        .withArgs(sys.securedParty.address, NOTICE);
      expect(await vault.appropriation()).to.deep.equal([USD(1_260_000n), 0n]);
    });

    it("attack 5, stale default: the pledgor's late cure and the secured party's notice in one block, cure first: the notice is NoDefault (rule: the notice needs a continuing default)", async function () {
      const vault = await staleDefault(false);
      await sys.fund(sys.stable, sys.pledgor, vault, STABLE(122_000n));
      const stable = await stableAddress();
      const { outcomes } = await oneBlock([
        (o) => vault.connect(sys.pledgor).deposit(stable, STABLE(122_000n), o),
        (o) => vault.connect(sys.securedParty).deliverNoticeOfExclusiveControl(NOTICE, o),
      ]);
      expect(outcomes).to.deep.equal([["ok"], ["NoDefault"]]);
      expect(await vault.state()).to.equal(VaultState.Pledged);
    });
  });

  // ------------------------------------------------------------------------------------------------ attack 6

  describe("rule: consent is to one exact terms hash, and a schedule change while Open voids every consent", function () {
    const fullHaircut = () => sys.line(sys.tbill, sys.tbillFeed, 10_000n);

    /**
     * `termsHash()` as the vault computes it, at schedule version `version`: what a secured party precomputes to
     * consent in the same block as its own schedule change.
     */
    async function termsHashAt(vault: CollateralVault, version: bigint) {
      const [pledgor, securedParty, controlAgent] = await vault.parties();
      const t = await vault.terms();
      return ethersLib.keccak256(
        ethersLib.AbiCoder.defaultAbiCoder().encode(
          [
            "address",
            "address",
            "address",
            "address",
            "tuple(uint128,uint128,uint128,uint128,uint32,uint32,uint32,uint16,uint16,uint32)",
            "uint32",
          ],
          [
            await vault.getAddress(),
            pledgor,
            securedParty,
            controlAgent,
            [
              t.threshold,
              t.independentAmount,
              t.minimumTransferAmount,
              t.roundingAmount,
              t.curePeriod,
              t.scheduleNoticePeriod,
              t.disputeWindow,
              t.liquidationPenaltyBps,
              t.maxLiquidationDiscountBps,
              t.appropriationPeriod,
            ],
            version,
          ],
        ),
      );
    }

    it("attack 6, consent not bound: the pledgor consents, the secured party makes the T-bill worthless (100% haircut) and consents: PledgeConsentsVoided, still Open; the old hash is TermsHashMismatch (with its SDK sentence) (rule: consent is to one exact terms hash)", async function () {
      const vault = await sys.openAgreement();
      const before = await vault.termsHash();
      await vault.connect(sys.pledgor).consentToPledge(before);
      const change = vault.connect(sys.securedParty).changeEligibility(await fullHaircut());
      await expect(change).to.emit(vault, "EligibilityChanged");
      const after = await vault.termsHash();
      expect(after).to.not.equal(before);
      await expect(change).to.emit(vault, "PledgeConsentsVoided").withArgs(after);
      await vault.connect(sys.securedParty).consentToPledge(after);
      expect(await vault.state()).to.equal(VaultState.Open);

      await expect(vault.connect(sys.pledgor).consentToPledge(before))
        .to.be.revertedWithCustomError(vault, "TermsHashMismatch")
        .withArgs(before, after);
      const error = await sdkError(vault.connect(sys.pledgor).consentToPledge(before));
      expect(error.message).to.equal(
        `TermsHashMismatch: The consent names the terms ${before}, but the agreement's terms are now ${after} ` +
          "(the schedule changed); read the new terms and consent to them.",
      );
      // The secured party's own stale consent is refused the same way.
      await expect(vault.connect(sys.securedParty).consentToPledge(before))
        .to.be.revertedWithCustomError(vault, "TermsHashMismatch")
        .withArgs(before, after);
      // A pledgor that read the new schedule may still pledge under it.
      await vault.connect(sys.pledgor).consentToPledge(after);
      expect(await vault.state()).to.equal(VaultState.Pledged);
      expect((await vault.eligibility(await tbillAddress())).haircutBps).to.equal(10_000n);
    });

    it("attack 6, consent not bound: in one block the pledgor's consent, the secured party's schedule change and its consent: the change voids the pledgor's consent and the vault stays Open (rule: a schedule change while Open voids every consent)", async function () {
      const vault = await sys.openAgreement();
      const before = await vault.termsHash();
      const line = await fullHaircut();
      // The secured party precomputes the hash its change will produce (the schedule version advances by one)
      // and consents to it in the same block, right after the change.
      let version = 0n;
      while (version < 64n && (await termsHashAt(vault, version)) !== before) version++;
      expect(await termsHashAt(vault, version), "the vault's termsHash recomputed").to.equal(
        before,
      );
      const after = await termsHashAt(vault, version + 1n);
      const { outcomes, receipts } = await oneBlock([
        (o) => vault.connect(sys.pledgor).consentToPledge(before, o),
        (o) => vault.connect(sys.securedParty).changeEligibility(line, o),
        (o) => vault.connect(sys.securedParty).consentToPledge(after, o),
      ]);
      expect(outcomes).to.deep.equal([["ok"], ["ok"], ["ok"]]);
      expect(await vault.termsHash()).to.equal(after);
      expect(eventsOf(receipts[1], vault, await vault.getAddress())).to.deep.include([
        "PledgeConsentsVoided",
        after,
      ]);
      expect(await vault.state()).to.equal(VaultState.Open);
      // The pledgor's consent did not survive: only a new one, to the new terms, pledges.
      await vault.connect(sys.pledgor).consentToPledge(after);
      expect(await vault.state()).to.equal(VaultState.Pledged);
    });

    it("attack 6, consent not bound: the secured party front-runs the pledgor's consent with a schedule change in the same block: the consent reverts TermsHashMismatch and nothing is consented (rule: consent is to one exact terms hash)", async function () {
      const vault = await sys.openAgreement();
      const before = await vault.termsHash();
      const line = await fullHaircut();
      const { outcomes } = await oneBlock([
        (o) => vault.connect(sys.securedParty).changeEligibility(line, o),
        (o) => vault.connect(sys.pledgor).consentToPledge(before, o),
      ]);
      const after = await vault.termsHash();
      expect(outcomes).to.deep.equal([["ok"], ["TermsHashMismatch", before, after]]);
      await vault.connect(sys.securedParty).consentToPledge(after);
      expect(await vault.state()).to.equal(VaultState.Open);
    });

    it("attack 6, consent not bound: the pledgor's signed consent to the old terms is useless after the schedule change: pledgeWithSignature is InvalidConsentSignature (rule: the signed path signs the same hash)", async function () {
      const vault = await sys.openAgreement();
      const { chainId } = await sys.ethers.provider.getNetwork();
      const deadline = (await now()) + ONE_DAY;
      const signature = await sys.pledgor.signTypedData(
        pledgeConsentDomain(chainId, await sys.factory.getAddress()),
        PLEDGE_CONSENT_TYPES,
        { termsHash: await vault.termsHash(), deadline },
      );
      // The signature is good for the terms it names...
      expect(
        await vault.connect(sys.securedParty).pledgeWithSignature.staticCall(deadline, signature),
      ).to.deep.equal([]);
      await vault.connect(sys.securedParty).changeEligibility(await fullHaircut());
      // ...and for nothing else.
      await expect(vault.connect(sys.securedParty).pledgeWithSignature(deadline, signature))
        .to.be.revertedWithCustomError(vault, "InvalidConsentSignature")
        .withArgs(sys.pledgor.address);
      expect(await vault.state()).to.equal(VaultState.Open);
    });
  });

  // ------------------------------------------------------------------------------------------------ attack 7

  describe("rule: a call fixes its amount, deadline and requirement when issued; a later increase is a new call", function () {
    /** 1,100,000 T-bills, 1,200,000 enforceable: a call for 122,000 answering 1,200,000. */
    async function called() {
      const vault = await pledged({ exposure: USD(1_200_000n) });
      const deadline = await call(vault);
      expect(await vault.marginCall()).to.deep.equal([
        USD(122_000n),
        deadline,
        USD(1_200_000n),
        0n,
      ]);
      return { vault, deadline };
    }

    it("attack 7, moving goalposts: the secured party raises the exposure to 1,500,000 after the call; the pledgor delivers exactly the 122,000 called: the call closes (MarginCallMet), no default at the deadline, and the increase is a new call with its own cure period (rule: a later mark does not move the call)", async function () {
      const { vault, deadline } = await called();
      await vault.connect(sys.securedParty).setExposure(USD(1_500_000n));
      expect(await vault.callableRequirement()).to.equal(USD(1_500_000n));
      expect(await vault.marginCall()).to.deep.equal([
        USD(122_000n),
        deadline,
        USD(1_200_000n),
        0n,
      ]);
      await sys.fund(sys.stable, sys.pledgor, vault, STABLE(122_000n));
      await expect(vault.connect(sys.pledgor).deposit(await stableAddress(), STABLE(122_000n)))
        .to.emit(vault, "MarginCallMet")
        .withArgs(USD(1_200_000n), USD(1_200_000n));
      expect(await vault.state()).to.equal(VaultState.Pledged);

      await advanceTo(deadline + 1n);
      await expect(vault.connect(sys.outsider).declareDefault())
        .to.be.revertedWithCustomError(vault, "Unauthorized")
        .withArgs(sys.outsider.address, ZERO);
      await expect(
        vault.connect(sys.securedParty).deliverNoticeOfExclusiveControl(NOTICE),
      ).to.be.revertedWithCustomError(vault, "NoDefault");

      const issue = await vault.connect(sys.outsider).issueMarginCall();
      const issuedAt = await minedAt(issue);
      await expect(issue)
        .to.emit(vault, "MarginCallIssued")
        .withArgs(
          sys.outsider.address,
          USD(300_000n),
          USD(300_000n),
          issuedAt + CURE,
          USD(1_200_000n),
          USD(1_500_000n),
        );
      expect((await vault.marginCall())[1]).to.equal(issuedAt + CURE);
    });

    it("attack 7, moving goalposts: the raise lands in the same block just before the pledgor's delivery of the called amount: the delivery still closes the call (rule: the call is cured by the called amount delivered)", async function () {
      const { vault } = await called();
      await sys.fund(sys.stable, sys.pledgor, vault, STABLE(122_000n));
      const stable = await stableAddress();
      const { outcomes, receipts } = await oneBlock([
        (o) => vault.connect(sys.securedParty).setExposure(USD(1_500_000n), o),
        (o) => vault.connect(sys.pledgor).deposit(stable, STABLE(122_000n), o),
      ]);
      expect(outcomes).to.deep.equal([["ok"], ["ok"]]);
      expect(eventsOf(receipts[1], vault, await vault.getAddress())).to.deep.include([
        "MarginCallMet",
        USD(1_200_000n),
        USD(1_200_000n),
      ]);
      expect(await vault.state()).to.equal(VaultState.Pledged);
    });

    it("attack 7, moving goalposts: after the delivery, the raise and a new call seconds before the old deadline: the new call runs a full cure period, so no default at the old deadline (rule: a new call has its own cure period)", async function () {
      const { vault, deadline } = await called();
      await postStable(vault, STABLE(122_000n));
      expect(await vault.state()).to.equal(VaultState.Pledged);
      await advanceTo(deadline - 20n);
      const sp = vault.connect(sys.securedParty);
      const { outcomes, timestamp } = await oneBlock(
        [(o) => sp.setExposure(USD(1_500_000n), o), (o) => sp.issueMarginCall(o)],
        deadline - 5n,
      );
      expect(outcomes).to.deep.equal([["ok"], ["ok"]]);
      const newDeadline = timestamp + CURE;
      expect(await vault.marginCall()).to.deep.equal([
        USD(300_000n),
        newDeadline,
        USD(1_500_000n),
        0n,
      ]);
      const atOldDeadline = await oneBlock(
        [
          (o) => vault.connect(sys.outsider).declareDefault(o),
          (o) => sp.deliverNoticeOfExclusiveControl(NOTICE, o),
        ],
        deadline + 1n,
      );
      expect(atOldDeadline.outcomes).to.deep.equal([
        ["CureDeadlineNotPassed", newDeadline, deadline + 1n],
        ["CureDeadlineNotPassed", newDeadline, deadline + 1n],
      ]);
    });
  });

  // ------------------------------------------------------------------------------------------------ attack 8

  describe("rule: under exclusive control anyone may release once what is due is below the MTA or the appropriation period has passed", function () {
    it("attack 8, trapped surplus: before anything is taken, the pledgor's and a keeper's release are ReleaseNotYetAllowed(caller, 525,000, notice + 7 days) (with its SDK sentence) (rule: the secured party has the appropriation period)", async function () {
      const { vault, noticeAt } = await underExclusiveControl();
      const releasableAt = noticeAt + APPROPRIATION;
      for (const caller of [sys.pledgor, sys.outsider]) {
        await expect(vault.connect(caller).release())
          .to.be.revertedWithCustomError(vault, "ReleaseNotYetAllowed")
          .withArgs(caller.address, USD(525_000n), releasableAt);
      }
      const error = await sdkError(vault.connect(sys.pledgor).release());
      expect(error.message).to.equal(
        `ReleaseNotYetAllowed: ${sys.pledgor.address} may not release yet: 525,000 of the amount due is still owed ` +
          "(at least the minimum transfer amount) and the secured party's appropriation period runs until " +
          `${new Date(Number(releasableAt) * 1000).toISOString()}.`,
      );
    });

    it("attack 8, trapped surplus: the secured party takes the full 525,000 due and goes silent: the pledgor releases the 575,000 T-bills left at once (rule: anyone may release once what is due is met)", async function () {
      const { vault } = await underExclusiveControl();
      await vault
        .connect(sys.securedParty)
        .instructTransfer(await tbillAddress(), TBILL(525_000n), sys.securedParty.address);
      const release = vault.connect(sys.pledgor).release();
      await expect(release).to.emit(vault, "Released").withArgs(sys.pledgor.address);
      await expect(release)
        .to.emit(vault, "CollateralReturned")
        .withArgs(await tbillAddress(), sys.pledgor.address, TBILL(575_000n));
      expect(await vault.state()).to.equal(VaultState.Released);
      expect(await sys.tbill.balanceOf(sys.pledgor.address)).to.equal(TBILL(575_000n));
    });

    it("attack 8, trapped surplus: the secured party takes all but 1,000 (the MTA) and a keeper is refused; it takes 500 more and a keeper releases the rest for the pledgor (rule: a remainder below the minimum transfer amount needs no transfer)", async function () {
      const { vault, noticeAt } = await underExclusiveControl(true);
      const tbill = await tbillAddress();
      // The control agent, acting on the notice, takes most of it.
      await vault
        .connect(sys.controlAgent)
        .instructTransfer(tbill, TBILL(524_000n), sys.securedParty.address);
      await expect(vault.connect(sys.outsider).release())
        .to.be.revertedWithCustomError(vault, "ReleaseNotYetAllowed")
        .withArgs(sys.outsider.address, USD(1_000n), (await now()) + APPROPRIATION);
      expect(await now()).to.not.equal(noticeAt + APPROPRIATION);
      await vault
        .connect(sys.securedParty)
        .instructTransfer(tbill, TBILL(500n), sys.securedParty.address);
      const release = vault.connect(sys.outsider).release();
      await expect(release).to.emit(vault, "Released").withArgs(sys.outsider.address);
      await expect(release)
        .to.emit(vault, "CollateralReturned")
        .withArgs(tbill, sys.pledgor.address, TBILL(575_500n));
      expect(await vault.state()).to.equal(VaultState.Released);
    });

    it("attack 8, trapped surplus: the secured party takes nothing for the appropriation period: one second before it ends a keeper is refused, at its end anyone releases everything to the pledgor (rule: the appropriation period passed since the notice)", async function () {
      const { vault, noticeAt } = await underExclusiveControl();
      const releasableAt = noticeAt + APPROPRIATION;
      await advanceTo(releasableAt - 10n);
      const early = await oneBlock(
        [(o) => vault.connect(sys.outsider).release(o)],
        releasableAt - 1n,
      );
      expect(early.outcomes).to.deep.equal([
        ["ReleaseNotYetAllowed", sys.outsider.address, USD(525_000n), releasableAt],
      ]);
      const onTime = await oneBlock([(o) => vault.connect(sys.outsider).release(o)], releasableAt);
      expect(onTime.outcomes).to.deep.equal([["ok"]]);
      expect(await vault.state()).to.equal(VaultState.Released);
      expect(await sys.tbill.balanceOf(sys.pledgor.address)).to.equal(TBILL(1_100_000n));
    });

    it("attack 8, trapped surplus: each appropriation restarts the period: 100,000 taken on day 6 moves the release to 7 days after it (rule: the period runs since the last appropriation)", async function () {
      const { vault, noticeAt } = await underExclusiveControl();
      await advanceTo(noticeAt + 6n * ONE_DAY);
      await vault
        .connect(sys.securedParty)
        .instructTransfer(await tbillAddress(), TBILL(100_000n), sys.securedParty.address);
      const takenAt = await now();
      await advanceTo(noticeAt + APPROPRIATION + 1n);
      await expect(vault.connect(sys.pledgor).release())
        .to.be.revertedWithCustomError(vault, "ReleaseNotYetAllowed")
        .withArgs(sys.pledgor.address, USD(425_000n), takenAt + APPROPRIATION);
      await advanceTo(takenAt + APPROPRIATION - 10n);
      const early = await oneBlock(
        [(o) => vault.connect(sys.pledgor).release(o)],
        takenAt + APPROPRIATION - 1n,
      );
      expect(early.outcomes).to.deep.equal([
        ["ReleaseNotYetAllowed", sys.pledgor.address, USD(425_000n), takenAt + APPROPRIATION],
      ]);
      const onTime = await oneBlock(
        [(o) => vault.connect(sys.pledgor).release(o)],
        takenAt + APPROPRIATION,
      );
      expect(onTime.outcomes).to.deep.equal([["ok"]]);
      expect(await sys.tbill.balanceOf(sys.pledgor.address)).to.equal(TBILL(1_000_000n));
    });

    it("attack 8, trapped surplus: dust taken every 6 days restarts the period each time, but the surplus is releasable two periods after the notice at the latest (rule: dust cannot hold the surplus for ever)", async function () {
      const { vault, noticeAt } = await underExclusiveControl();
      const tbill = await tbillAddress();
      const sp = vault.connect(sys.securedParty);
      await advanceTo(noticeAt + 6n * ONE_DAY);
      await sp.instructTransfer(tbill, 1n, sys.securedParty.address);
      await advanceTo(noticeAt + 12n * ONE_DAY);
      await sp.instructTransfer(tbill, 1n, sys.securedParty.address);
      const lastTake = await now();
      // The last dust moved the release to its own date + 7 days = day 19, but the cap is day 14.
      expect(lastTake + APPROPRIATION).to.be.greaterThan(noticeAt + 2n * APPROPRIATION);
      await advanceTo(noticeAt + 2n * APPROPRIATION - 10n);
      const early = await oneBlock(
        [(o) => vault.connect(sys.outsider).release(o)],
        noticeAt + 2n * APPROPRIATION - 1n,
      );
      expect(early.outcomes[0][0]).to.equal("ReleaseNotYetAllowed");
      expect(early.outcomes[0][3]).to.equal(noticeAt + 2n * APPROPRIATION);
      const atCap = await oneBlock(
        [(o) => vault.connect(sys.outsider).release(o)],
        noticeAt + 2n * APPROPRIATION,
      );
      expect(atCap.outcomes).to.deep.equal([["ok"]]);
      expect(await vault.state()).to.equal(VaultState.Released);
      expect(await sys.tbill.balanceOf(sys.pledgor.address)).to.equal(TBILL(1_100_000n) - 2n);
    });

    it("attack 8, trapped surplus: while Pledged or under a margin call, a release by anyone but the secured party is Unauthorized; the secured party may release at any time (rule: only the secured party ends a live agreement)", async function () {
      const vault = await pledged({ withAgent: true });
      for (const caller of [sys.pledgor, sys.outsider, sys.controlAgent]) {
        await expect(vault.connect(caller).release())
          .to.be.revertedWithCustomError(vault, "Unauthorized")
          .withArgs(caller.address, sys.securedParty.address);
      }
      await vault.connect(sys.securedParty).setExposure(USD(1_200_000n));
      await call(vault);
      expect(await vault.state()).to.equal(VaultState.MarginCall);
      await expect(vault.connect(sys.pledgor).release())
        .to.be.revertedWithCustomError(vault, "Unauthorized")
        .withArgs(sys.pledgor.address, sys.securedParty.address);
      await expect(vault.connect(sys.securedParty).release())
        .to.emit(vault, "Released")
        .withArgs(sys.securedParty.address);
      expect(await vault.state()).to.equal(VaultState.Released);
    });

    it("attack 8, trapped surplus: the secured party takes 600,000 of the 630,000 due on a disputed figure, then accepts a lower figure (500,000): nothing is still due, so the pledgor releases the rest (rule: anyone may release once what is due is met)", async function () {
      const vault = await disputed();
      await vault.connect(sys.pledgor).declareDefault();
      const sp = vault.connect(sys.securedParty);
      await sp.deliverNoticeOfExclusiveControl(NOTICE);
      expect(await vault.appropriation()).to.deep.equal([USD(630_000n), 0n]);
      await sp.instructTransfer(await tbillAddress(), TBILL(600_000n), sys.securedParty.address);
      await sp.resolveDispute(USD(500_000n));
      // The amount due went down below what was already taken.
      expect(await vault.appropriation()).to.deep.equal([USD(525_000n), USD(600_000n)]);
      const release = vault.connect(sys.pledgor).release();
      await expect(release).to.emit(vault, "Released").withArgs(sys.pledgor.address);
      expect(await vault.state()).to.equal(VaultState.Released);
      expect(await sys.tbill.balanceOf(sys.pledgor.address)).to.equal(TBILL(500_000n));
    });
  });

  describe("rule: under exclusive control nothing is taken beyond the amount due, at oracle value", function () {
    it("beyond the brief, a feed of its own: under exclusive control the secured party queues a $0.01 feed it controls for the T-bill; once the notice period has passed it still cannot take the 1,100,000 T-bills (worth 1,100,000) for the 525,000 due (rule: nothing is taken beyond the amount due, at oracle value)", async function () {
      const { vault } = await underExclusiveControl();
      const tbill = await tbillAddress();
      const sp = vault.connect(sys.securedParty);
      const ownFeed = (await sys.ethers.deployContract(
        "MockPriceFeed",
        [8, 1_000000n],
        sys.securedParty,
      )) as unknown as MockPriceFeed;
      const line = await sys.line(sys.tbill, ownFeed, 200n);
      // Whether the vault refuses the change or queues it, the pledgor, locked out under exclusive control, must not
      // lose its surplus to it.
      await sp.changeEligibility(line).then(
        () => undefined,
        () => undefined,
      );
      await advance(NOTICE_PERIOD + 1n);
      await ownFeed.setAnswer(1_000000n);
      await expect(
        sp.instructTransfer(tbill, TBILL(1_100_000n), sys.securedParty.address),
      ).to.be.revertedWithCustomError(vault, "AppropriationExceedsAmountDue");
      await expect(
        sp.instructTransfer(tbill, TBILL(525_001n), sys.securedParty.address),
      ).to.be.revertedWithCustomError(vault, "AppropriationExceedsAmountDue");
      expect(await vault.balanceOf(tbill)).to.equal(TBILL(1_100_000n));
    });
  });

  describe("rule: the price source of a live line is agreed terms, not the secured party's to swap", function () {
    it("attack 8b, a feed of its own while Pledged: the secured party cannot point the T-bill at a feed it controls, nor change its kind; nothing is queued (rule: PriceSourceFixed)", async function () {
      const vault = await pledged();
      const tbill = await tbillAddress();
      const ownFeed = (await sys.ethers.deployContract(
        "MockPriceFeed",
        [8, 1_000000n],
        sys.securedParty,
      )) as unknown as MockPriceFeed;
      const sp = vault.connect(sys.securedParty);
      await expect(sp.changeEligibility(await sys.line(sys.tbill, ownFeed, 200n)))
        .to.be.revertedWithCustomError(vault, "PriceSourceFixed")
        .withArgs(tbill, await sys.tbillFeed.getAddress(), await ownFeed.getAddress());
      await expect(
        // The fund share priced as a plain token by its underlying's feed: another kind, another price.
        sp.changeEligibility(await sys.line(sys.mmf, sys.tbillFeed, 500n, AssetKind.ERC20)),
      ).to.be.revertedWithCustomError(vault, "PriceSourceFixed");
      const [, effectiveAt] = await vault.pendingEligibility(tbill);
      expect(effectiveAt).to.equal(0n);
      expect((await vault.eligibility(tbill)).feed).to.equal(await sys.tbillFeed.getAddress());
      const sentence = decodeError(
        await sp
          .changeEligibility(await sys.line(sys.tbill, ownFeed, 200n))
          .catch((e: unknown) => e),
      );
      expect(sentence?.message).to.match(/PriceSourceFixed: On a live agreement/);
    });

    it("attack 8b, delist and relist: after a delisting of the T-bill matures, listing it again with another feed (or the same) is PriceSourceFixed, so the locked-out pledgor's collateral is never repriced (rule: PriceSourceFixed)", async function () {
      const { vault } = await underExclusiveControl();
      const tbill = await tbillAddress();
      const sp = vault.connect(sys.securedParty);
      await sp.changeEligibility({
        ...(await sys.line(sys.tbill, sys.tbillFeed, 200n)),
        feed: ZERO,
      });
      await advance(NOTICE_PERIOD + 1n);
      expect((await vault.eligibility(tbill)).feed).to.equal(ZERO);
      const ownFeed = (await sys.ethers.deployContract("MockPriceFeed", [
        8,
        1_000000n,
      ])) as unknown as MockPriceFeed;
      await expect(sp.changeEligibility(await sys.line(sys.tbill, ownFeed, 200n)))
        .to.be.revertedWithCustomError(vault, "PriceSourceFixed")
        .withArgs(tbill, ZERO, await ownFeed.getAddress());
      await expect(
        sp.changeEligibility(await sys.line(sys.tbill, sys.tbillFeed, 200n)),
      ).to.be.revertedWithCustomError(vault, "PriceSourceFixed");
      // Nothing of the delisted asset can be taken, and the pledgor gets it back at release.
      await expect(
        sp.instructTransfer(tbill, TBILL(1n), sys.securedParty.address),
      ).to.be.revertedWithCustomError(vault, "AppropriationExceedsAmountDue");
    });

    it("attack 8b, before the pledge the schedule may still change, price sources included, and every change voids the consents given (rule: consent is to one terms hash)", async function () {
      const vault = await sys.openAgreement();
      const tbill = await tbillAddress();
      await vault.connect(sys.pledgor).consentToPledge(await vault.termsHash());
      const other = (await sys.ethers.deployContract("MockPriceFeed", [
        8,
        1_00000000n,
      ])) as unknown as MockPriceFeed;
      const change = await vault
        .connect(sys.securedParty)
        .changeEligibility(await sys.line(sys.tbill, other, 200n));
      await expect(change)
        .to.emit(vault, "PledgeConsentsVoided")
        .withArgs(await vault.termsHash());
      expect((await vault.eligibility(tbill)).feed).to.equal(await other.getAddress());
    });
  });

  // ------------------------------------------------------------------------------------------------ attack 9

  describe("rule: the automatic top-up re-values after caps after each pull and goes on with the next asset", function () {
    /** T-bills as usual, the stablecoin capped at 10% of the collateral value. */
    const cappedSchedule = async () => [
      await sys.line(sys.tbill, sys.tbillFeed, 200n),
      await sys.line(sys.stable, sys.stableFeed, 0n, AssetKind.ERC20, 1_000n),
    ];

    /** Value after haircut of `raw` T-bill units at $1 (2% haircut), rounded down as the vault does. */
    const tbillValue = (raw: bigint) => (raw * 10n ** 12n * 9_800n) / 10_000n;

    it("attack 9, top-up under concentration caps: the stablecoin, first in the pledgor's order, is capped at 10% and adds only 120,000 of its 122,000; the T-bill after it covers the rest and the call is met in the same transaction (rule: progress is measured after caps)", async function () {
      const vault = await pledged({ exposure: USD(1_200_000n), schedule: await cappedSchedule() });
      const treasury = sys.admin;
      const [stable, tbill] = [await stableAddress(), await tbillAddress()];
      await sys.fund(sys.stable, treasury, vault, STABLE(200_000n));
      await sys.fund(sys.tbill, treasury, vault, TBILL(100_000n));
      await vault
        .connect(sys.pledgor)
        .configureTopUp(treasury.address, [stable, tbill], [STABLE(200_000n), TBILL(100_000n)]);

      expect(await vault.connect(sys.outsider).issueMarginCall.staticCall()).to.equal(true);
      // After the stablecoin: 1,078,000 + min(122,000, 10% of 1,200,000) = 1,198,000; 2,000 still needed, which
      // is 2,000 / 0.98 = 2,040.816327 T-bills (rounded up to the raw unit).
      const pulledTbill = 2_040_816_327n;
      const tbillsAfter = tbillValue(TBILL(1_100_000n) + pulledTbill);
      const uncapped = tbillsAfter + USD(122_000n);
      const valueAfter = tbillsAfter + (uncapped * 1_000n) / 10_000n;
      const issue = vault.connect(sys.outsider).issueMarginCall();
      await expect(issue)
        .to.emit(vault, "MarginCallIssued")
        .withArgs(
          sys.outsider.address,
          USD(122_000n),
          USD(122_000n),
          anyValue,
          USD(1_078_000n),
          USD(1_200_000n),
        );
      await expect(issue)
        .to.emit(vault, "TopUpPulled")
        .withArgs(stable, treasury.address, STABLE(122_000n), USD(122_000n), STABLE(78_000n));
      await expect(issue)
        .to.emit(vault, "TopUpPulled")
        .withArgs(
          tbill,
          treasury.address,
          pulledTbill,
          tbillValue(pulledTbill),
          TBILL(100_000n) - pulledTbill,
        );
      await expect(issue).to.emit(vault, "MarginCallMet").withArgs(valueAfter, USD(1_200_000n));
      expect(await vault.state()).to.equal(VaultState.Pledged);
      expect(await vault.collateralValue()).to.equal(valueAfter);
      expect(valueAfter).to.be.greaterThanOrEqual(USD(1_200_000n));
    });

    it("attack 9, top-up under concentration caps: with the capped stablecoin alone, the call stays open and only its value after the cap (120,000) counts as delivered (rule: each delivery counts at its value after caps)", async function () {
      const vault = await pledged({ exposure: USD(1_200_000n), schedule: await cappedSchedule() });
      const stable = await stableAddress();
      await sys.fund(sys.stable, sys.admin, vault, STABLE(200_000n));
      await vault
        .connect(sys.pledgor)
        .configureTopUp(sys.admin.address, [stable], [STABLE(200_000n)]);
      expect(await vault.connect(sys.outsider).issueMarginCall.staticCall()).to.equal(false);
      await expect(vault.connect(sys.outsider).issueMarginCall()).not.to.emit(
        vault,
        "MarginCallMet",
      );
      expect(await vault.state()).to.equal(VaultState.MarginCall);
      const [amount, , requirementAtIssue, delivered] = await vault.marginCall();
      expect([amount, requirementAtIssue, delivered]).to.deep.equal([
        USD(122_000n),
        USD(1_200_000n),
        USD(120_000n),
      ]);
      expect(await vault.collateralValue()).to.equal(USD(1_198_000n));
    });
    it("attack 9, top-up under concentration caps: a source that allows nothing adds nothing; the call stays open with nothing counted as delivered (rule: only what arrives counts)", async function () {
      const vault = await pledged({ exposure: USD(1_200_000n), schedule: await cappedSchedule() });
      const stable = await stableAddress();
      // The treasury holds the stablecoin but has approved nothing.
      await sys.stable.mint(sys.admin.address, STABLE(200_000n));
      await vault
        .connect(sys.pledgor)
        .configureTopUp(sys.admin.address, [stable], [STABLE(200_000n)]);
      await vault.connect(sys.outsider).issueMarginCall();
      expect(await vault.state()).to.equal(VaultState.MarginCall);
      const [amount, , , delivered] = await vault.marginCall();
      expect([amount, delivered]).to.deep.equal([USD(122_000n), 0n]);
    });

    it("attack 9, a delivery worth nothing: bonds listed at a 100% haircut, deposited during the call, go in but count nothing as delivered, and the call stays open (rule: each delivery counts at its value after haircuts)", async function () {
      const schedule = [
        await sys.line(sys.tbill, sys.tbillFeed, 200n),
        await sys.line(sys.bond, sys.bondFeed, 10_000n),
      ];
      const vault = await pledged({ exposure: USD(1_200_000n), schedule });
      await call(vault);
      const bond = await sys.bond.getAddress();
      await sys.fund(sys.bond, sys.pledgor, vault, BOND(10_000n));
      await vault.connect(sys.pledgor).deposit(bond, BOND(10_000n));
      expect(await vault.balanceOf(bond)).to.equal(BOND(10_000n));
      const [amount, , , delivered] = await vault.marginCall();
      expect([amount, delivered]).to.deep.equal([USD(122_000n), 0n]);
      expect(await vault.state()).to.equal(VaultState.MarginCall);
    });
  });

  // ------------------------------------------------------------------------------------------------ attack 10

  describe("rule: terms are checked against the listing rules when an agreement opens, and every schedule line's feed must answer as a price feed", function () {
    const cases: { what: string; change: Partial<Terms>; error: [Term, bigint, bigint, bigint] }[] =
      [
        {
          what: "a sale discount of 10,001 bps",
          change: { maxLiquidationDiscountBps: 10_001n },
          error: [Term.MaxLiquidationDiscountBps, 10_001n, 0n, 2_000n],
        },
        {
          what: "a sale discount of 10,000 bps (a sale for nothing)",
          change: { maxLiquidationDiscountBps: 10_000n },
          error: [Term.MaxLiquidationDiscountBps, 10_000n, 0n, 2_000n],
        },
        {
          what: "a penalty of 30,000 bps",
          change: { liquidationPenaltyBps: 30_000n },
          error: [Term.LiquidationPenaltyBps, 30_000n, 0n, 2_000n],
        },
        {
          what: "a cure period of 0",
          change: { curePeriod: 0n },
          error: [Term.CurePeriod, 0n, 3_600n, UINT32_MAX],
        },
        {
          what: "a dispute window (2 days) longer than the cure period (1 day)",
          change: { disputeWindow: 2n * ONE_DAY },
          error: [Term.DisputeWindow, 2n * ONE_DAY, 3_600n, ONE_DAY],
        },
        {
          what: "a dispute window of 0",
          change: { disputeWindow: 0n },
          error: [Term.DisputeWindow, 0n, 3_600n, ONE_DAY],
        },
        {
          what: "a schedule notice period of 0",
          change: { scheduleNoticePeriod: 0n },
          error: [Term.ScheduleNoticePeriod, 0n, 3_600n, UINT32_MAX],
        },
        {
          what: "an appropriation period of 0",
          change: { appropriationPeriod: 0n },
          error: [Term.AppropriationPeriod, 0n, ONE_DAY, 90n * ONE_DAY],
        },
        {
          what: "an appropriation period of 91 days",
          change: { appropriationPeriod: 91n * ONE_DAY },
          error: [Term.AppropriationPeriod, 91n * ONE_DAY, ONE_DAY, 90n * ONE_DAY],
        },
      ];

    for (const { what, change, error } of cases) {
      it(`attack 10, nonsense terms: ${what} is refused at open with TermOutOfRange(${error.join(", ")}) (rule: terms within the listing rules)`, async function () {
        const terms = { ...defaultTerms, ...change };
        const count = await sys.factory.agreementCount();
        await expect(openWithoutAgent(sys.pledgor, terms, ethersLib.id(what)))
          .to.be.revertedWithCustomError(sys.factory, "TermOutOfRange")
          .withArgs(...error);
        await expect(sys.factory.checkTerms(terms))
          .to.be.revertedWithCustomError(sys.factory, "TermOutOfRange")
          .withArgs(...error);
        expect(await sys.factory.agreementCount()).to.equal(count);
      });
    }

    it("attack 10, nonsense terms: terms at the very bounds open; the SDK says what is out of range (TermOutOfRange sentences) (rule: terms within the listing rules)", async function () {
      const atBounds: Terms = {
        ...defaultTerms,
        liquidationPenaltyBps: 2_000n,
        maxLiquidationDiscountBps: 2_000n,
        curePeriod: 3_600n,
        disputeWindow: 3_600n,
        scheduleNoticePeriod: 3_600n,
        appropriationPeriod: ONE_DAY,
      };
      await sys.factory.checkTerms(atBounds);
      const vault = await sys.openAgreement({ terms: atBounds });
      expect((await vault.terms()).disputeWindow).to.equal(3_600n);
      await sys.factory.checkTerms({ ...defaultTerms, appropriationPeriod: 90n * ONE_DAY });

      const open = (terms: Terms) => openWithoutAgent(sys.pledgor, terms, ethersLib.id("x"));
      const discount = await sdkError(
        open({ ...defaultTerms, maxLiquidationDiscountBps: 10_001n }),
      );
      expect(discount.message).to.equal(
        "TermOutOfRange: The term MaxLiquidationDiscountBps is 10001, outside 0..2000: the listing rules' range, " +
          "or for the rules themselves the bounds no deployment may pass (a dispute window is never longer than " +
          "the cure period).",
      );
      const window = await sdkError(open({ ...defaultTerms, disputeWindow: 2n * ONE_DAY }));
      expect(window.message).to.equal(
        "TermOutOfRange: The term DisputeWindow is 172800, outside 3600..86400: the listing rules' range, " +
          "or for the rules themselves the bounds no deployment may pass (a dispute window is never longer than " +
          "the cure period).",
      );
    });

    it("attack 10, nonsense terms: a schedule line whose feed is the token itself, or an address without code, is FeedUnreadable at open and at changeEligibility, before and after the pledge (with its SDK sentence) (rule: a feed must answer latestRoundData())", async function () {
      const tbill = await tbillAddress();
      const line = await sys.line(sys.tbill, sys.tbillFeed, 200n);
      const asOwnFeed = { ...line, feed: tbill };
      const eoaFeed = { ...line, feed: sys.outsider.address };
      const open = (schedule: EligibilityLine[]) =>
        openWithoutAgent(
          sys.pledgor,
          defaultTerms,
          ethersLib.id(`feed-${Math.random()}`),
          schedule,
        );
      for (const bad of [asOwnFeed, eoaFeed]) {
        await expect(open([bad, ...sys.schedule.slice(1)]))
          .to.be.revertedWithCustomError(sys.implementation, "FeedUnreadable")
          .withArgs(tbill, bad.feed);
        await expect(sys.factory.eligibilityEntry(bad))
          .to.be.revertedWithCustomError(sys.implementation, "FeedUnreadable")
          .withArgs(tbill, bad.feed);
      }
      const error = await sdkError(open([asOwnFeed]));
      expect(error.message).to.equal(
        `FeedUnreadable: ${tbill} does not answer latestRoundData() as a price feed, so it cannot price ${tbill} ` +
          "(it is the asset itself, has no code, or returns something else).",
      );

      const openVault = await sys.openAgreement();
      const live = await pledged();
      for (const vault of [openVault, live]) {
        for (const bad of [asOwnFeed, eoaFeed]) {
          await expect(vault.connect(sys.securedParty).changeEligibility(bad))
            .to.be.revertedWithCustomError(vault, "FeedUnreadable")
            .withArgs(tbill, bad.feed);
        }
        expect((await vault.eligibility(tbill)).feed).to.equal(await sys.tbillFeed.getAddress());
      }
    });

    it("attack 10, nonsense terms: an agreement file whose amount is a JSON number is refused with TaskInputError before anything is sent; the same amount as a decimal string is read exactly (rule: agreement files take amounts as decimal strings only)", async function () {
      const folder = mkdtempSync(path.join(tmpdir(), "counterparty-"));
      const file = (minimumTransferAmount: string | number) => {
        const content = {
          securedParty: sys.securedParty.address,
          terms: {
            threshold: "0",
            independentAmount: "0",
            minimumTransferAmount,
            roundingAmount: "1000",
            curePeriod: 86_400,
            scheduleNoticePeriod: 172_800,
            disputeWindow: 86_400,
            liquidationPenaltyBps: 500,
            maxLiquidationDiscountBps: 300,
            appropriationPeriod: 604_800,
          },
          schedule: [
            {
              asset: sys.schedule[0].asset,
              feed: sys.schedule[0].feed,
              kind: "ERC20",
              maxPriceAge: 86_400,
              minAnswer: "1",
              maxAnswer: "100000000000000000000",
              haircutBps: 200,
              concentrationCapBps: 10_000,
            },
          ],
        };
        const where = path.join(folder, `agreement-${typeof minimumTransferAmount}.json`);
        writeFileSync(where, JSON.stringify(content));
        return where;
      };
      expect(() => parseAgreementFile(file(1000.5)))
        .to.throw(TaskInputError)
        .with.property(
          "message",
          'term "minimumTransferAmount" must be a decimal string such as "500000.25", not the JSON number 1000.5 (which loses precision)',
        );
      const parsed = parseAgreementFile(file("1000.5"));
      expect(parsed.terms.minimumTransferAmount).to.equal(1_000_500_000_000_000_000_000n);
      expect(parsed.terms.appropriationPeriod).to.equal(APPROPRIATION);
    });
  });

  // ------------------------------------------------------------------------------------------------ attack 11

  describe("rule: roles act through the AccessManager with their execution delays", function () {
    const RISK_MANAGER = 2n;
    const newRules = async (change: Record<string, bigint> = {}) => {
      const current = await sys.factory.listingRules();
      return {
        maxLiquidationPenaltyBps: current.maxLiquidationPenaltyBps,
        maxLiquidationDiscountBps: current.maxLiquidationDiscountBps,
        minCurePeriod: current.minCurePeriod,
        minDisputeWindow: current.minDisputeWindow,
        minScheduleNoticePeriod: current.minScheduleNoticePeriod,
        minAppropriationPeriod: current.minAppropriationPeriod,
        maxAppropriationPeriod: current.maxAppropriationPeriod,
        ...change,
      };
    };
    const encode = (rules: Awaited<ReturnType<typeof newRules>>) =>
      sys.factory.interface.encodeFunctionData("setListingRules", [rules]);

    it("attack 11, roles: the admin, who holds the risk-manager role with a 1-day delay, cannot set the listing rules directly (AccessManagerNotScheduled); an outsider and the guardian cannot at all (AccessManagedUnauthorized), nor schedule it (rule: setListingRules is the risk manager's, after its delay)", async function () {
      const factory = await sys.factory.getAddress();
      const rules = await newRules({ maxLiquidationPenaltyBps: 1_000n });
      const data = encode(rules);
      await expect(sys.factory.connect(sys.admin).setListingRules(rules))
        .to.be.revertedWithCustomError(sys.manager, "AccessManagerNotScheduled")
        .withArgs(await sys.manager.hashOperation(sys.admin.address, factory, data));
      for (const caller of [sys.outsider, sys.guardian, sys.securedParty]) {
        await expect(sys.factory.connect(caller).setListingRules(rules))
          .to.be.revertedWithCustomError(sys.factory, "AccessManagedUnauthorized")
          .withArgs(caller.address);
      }
      await expect(sys.manager.connect(sys.outsider).schedule(factory, data, 0))
        .to.be.revertedWithCustomError(sys.manager, "AccessManagerUnauthorizedCall")
        .withArgs(sys.outsider.address, factory, data.slice(0, 10));
      expect((await sys.factory.listingRules()).maxLiquidationPenaltyBps).to.equal(2_000n);
    });

    it("attack 11, roles: the risk manager schedules setListingRules, cannot execute it early (AccessManagerNotReady), executes after 1 day (ListingRulesSet), and the new rules bind agreements opened afterwards (rule: the risk manager's delay is 1 day)", async function () {
      const factory = await sys.factory.getAddress();
      const rules = await newRules({ maxLiquidationPenaltyBps: 1_000n });
      const data = encode(rules);
      const opId = await sys.manager.hashOperation(sys.admin.address, factory, data);
      const scheduled = await sys.manager.connect(sys.admin).schedule(factory, data, 0);
      const scheduledAt = await minedAt(scheduled);
      await expect(scheduled)
        .to.emit(sys.manager, "OperationScheduled")
        .withArgs(opId, 1n, scheduledAt + ONE_DAY, sys.admin.address, factory, data);
      await expect(sys.manager.connect(sys.admin).execute(factory, data))
        .to.be.revertedWithCustomError(sys.manager, "AccessManagerNotReady")
        .withArgs(opId);
      await sys.networkHelpers.time.increaseTo(scheduledAt + ONE_DAY - 5n);
      const early = await oneBlock(
        [(o) => sys.manager.connect(sys.admin).execute(factory, data, o)],
        scheduledAt + ONE_DAY - 1n,
      );
      expect(early.outcomes).to.deep.equal([["AccessManagerNotReady", opId]]);
      await sys.networkHelpers.time.setNextBlockTimestamp(scheduledAt + ONE_DAY);
      await expect(sys.manager.connect(sys.admin).execute(factory, data, { gasLimit: 1_000_000n }))
        .to.emit(sys.factory, "ListingRulesSet")
        .withArgs(Object.values(rules));
      expect(await sys.factory.listingRules()).to.deep.equal(Object.values(rules));
      await expect(sys.factory.checkTerms({ ...defaultTerms, liquidationPenaltyBps: 1_500n }))
        .to.be.revertedWithCustomError(sys.factory, "TermOutOfRange")
        .withArgs(Term.LiquidationPenaltyBps, 1_500n, 0n, 1_000n);
    });

    it("attack 11, roles: the admin role (0) carries a 2-day delay, so even the admin cannot grant itself the risk-manager role without delay at once; the guardian pauses and unpauses with no delay; the admin cannot pause (rule: admin 2 days, risk manager 1 day, guardian none)", async function () {
      expect(await sys.manager.hasRole(0n, sys.admin.address)).to.deep.equal([true, 2n * ONE_DAY]);
      expect(await sys.manager.hasRole(RISK_MANAGER, sys.admin.address)).to.deep.equal([
        true,
        ONE_DAY,
      ]);
      expect(await sys.manager.hasRole(1n, sys.guardian.address)).to.deep.equal([true, 0n]);
      expect(await sys.manager.hasRole(RISK_MANAGER, sys.outsider.address)).to.deep.equal([
        false,
        0n,
      ]);
      const factory = await sys.factory.getAddress();
      expect(
        await sys.manager.getTargetFunctionRole(
          factory,
          sys.factory.interface.getFunction("setListingRules").selector,
        ),
      ).to.equal(RISK_MANAGER);

      const grant = sys.manager.interface.encodeFunctionData("grantRole", [
        RISK_MANAGER,
        sys.admin.address,
        0n,
      ]);
      await expect(sys.manager.connect(sys.admin).grantRole(RISK_MANAGER, sys.admin.address, 0n))
        .to.be.revertedWithCustomError(sys.manager, "AccessManagerNotScheduled")
        .withArgs(
          await sys.manager.hashOperation(sys.admin.address, await sys.manager.getAddress(), grant),
        );

      await expect(sys.factory.connect(sys.guardian).pause())
        .to.emit(sys.factory, "Paused")
        .withArgs(sys.guardian.address);
      expect(await sys.factory.paused()).to.equal(true);
      await expect(
        openWithoutAgent(sys.pledgor, defaultTerms, ethersLib.id("p")),
      ).to.be.revertedWithCustomError(sys.factory, "FactoryPaused");
      await expect(sys.factory.connect(sys.admin).unpause())
        .to.be.revertedWithCustomError(sys.factory, "AccessManagedUnauthorized")
        .withArgs(sys.admin.address);
      await sys.factory.connect(sys.guardian).unpause();
      expect(await sys.factory.paused()).to.equal(false);
    });

    it("attack 11, roles: listing rules beyond the absolute bounds, scheduled and executed after the delay, are refused at execute: a 60% penalty is TermOutOfRange(0, 6000, 0, 5000), a zero cure period and a 366-day appropriation period likewise (rule: no deployment may pass the absolute bounds)", async function () {
      const factory = await sys.factory.getAddress();
      const bad: [Awaited<ReturnType<typeof newRules>>, [Term, bigint, bigint, bigint]][] = [
        [
          await newRules({ maxLiquidationPenaltyBps: 6_000n }),
          [Term.LiquidationPenaltyBps, 6_000n, 0n, 5_000n],
        ],
        [
          await newRules({ maxLiquidationDiscountBps: 5_001n }),
          [Term.MaxLiquidationDiscountBps, 5_001n, 0n, 5_000n],
        ],
        [await newRules({ minCurePeriod: 0n }), [Term.CurePeriod, 0n, 1n, UINT32_MAX]],
        [
          await newRules({ maxAppropriationPeriod: 366n * ONE_DAY }),
          [Term.AppropriationPeriod, 366n * ONE_DAY, ONE_DAY, 365n * ONE_DAY],
        ],
      ];
      for (const [rules] of bad)
        await sys.manager.connect(sys.admin).schedule(factory, encode(rules), 0);
      await sys.networkHelpers.time.increase(ONE_DAY);
      for (const [rules, error] of bad) {
        await expect(sys.manager.connect(sys.admin).execute(factory, encode(rules)))
          .to.be.revertedWithCustomError(sys.factory, "TermOutOfRange")
          .withArgs(...error);
      }
      expect(await sys.factory.listingRules()).to.deep.equal([
        2_000n,
        2_000n,
        3_600n,
        3_600n,
        3_600n,
        ONE_DAY,
        90n * ONE_DAY,
      ]);
    });
  });

  // ------------------------------------------------------------------------------------------------ five checks

  describe("five checks no test guarded", function () {
    it("check a: a withdrawal during a dispute is held to the full requirement on the mark (1,000,000), not the callable one (600,000): WithdrawalBreachesRequirement (rule: a dispute never frees collateral)", async function () {
      const vault = await pledged(); // 1,078,000 of collateral, 500,000 enforceable
      await vault.connect(sys.securedParty).setExposure(USD(1_000_000n));
      await vault.connect(sys.pledgor).disputeExposure(USD(600_000n));
      expect(await vault.callableRequirement()).to.equal(USD(600_000n));
      expect(await vault.requirement()).to.equal(USD(1_000_000n));
      const tbill = await tbillAddress();
      // 100,000 T-bills (98,000 of value) would leave 980,000: enough for 600,000, not for 1,000,000.
      await expect(vault.connect(sys.pledgor).withdraw(tbill, TBILL(100_000n), sys.pledgor.address))
        .to.be.revertedWithCustomError(vault, "WithdrawalBreachesRequirement")
        .withArgs(USD(980_000n), USD(1_000_000n));
      // What the full requirement allows still comes out: 50,000 T-bills leave 1,029,000.
      await expect(vault.connect(sys.pledgor).withdraw(tbill, TBILL(50_000n), sys.pledgor.address))
        .to.emit(vault, "Withdrawn")
        .withArgs(tbill, sys.pledgor.address, TBILL(50_000n), TBILL(1_050_000n));
    });

    it("check b: a default is refused in the cure deadline's own second (CureDeadlineNotPassed) and allowed one second later (rule: a default is a call unmet past its deadline)", async function () {
      const vault = await pledged({ exposure: USD(1_200_000n) });
      const deadline = await call(vault);
      await advanceTo(deadline - 30n);
      const sp = vault.connect(sys.securedParty);
      const atDeadline = await oneBlock(
        [
          (o) => vault.connect(sys.outsider).declareDefault(o),
          (o) => sp.deliverNoticeOfExclusiveControl(NOTICE, o),
        ],
        deadline,
      );
      expect(atDeadline.outcomes).to.deep.equal([
        ["CureDeadlineNotPassed", deadline, deadline],
        ["CureDeadlineNotPassed", deadline, deadline],
      ]);
      const after = await oneBlock(
        [(o) => vault.connect(sys.outsider).declareDefault(o)],
        deadline + 1n,
      );
      expect(after.outcomes).to.deep.equal([["ok"]]);
      expect(eventsOf(after.receipts[0], vault, await vault.getAddress())).to.deep.equal([
        ["DefaultDeclared", sys.outsider.address, 3n],
      ]);
      await sp.deliverNoticeOfExclusiveControl(NOTICE);
      expect(await vault.appropriation()).to.deep.equal([USD(1_260_000n), 0n]);
    });

    it("check c: an asset delisted while Open (at once) and still held is never taken under exclusive control: AppropriationExceedsAmountDue(max, due), nothing moves, and it returns to the pledgor on release (rule: an asset without a price cannot be taken)", async function () {
      const vault = await sys.openAgreement();
      const bond = await sys.bond.getAddress();
      await postTbill(vault, TBILL(1_100_000n));
      await sys.fund(sys.bond, sys.pledgor, vault, BOND(100n));
      await vault.connect(sys.pledgor).deposit(bond, BOND(100n));
      await expect(
        vault.connect(sys.securedParty).changeEligibility({
          ...(await sys.line(sys.bond, sys.bondFeed, 1_000n)),
          feed: ZERO,
        }),
      ).to.emit(vault, "EligibilityChanged");
      expect((await vault.eligibility(bond)).feed).to.equal(ZERO);
      await pledge(vault);
      await vault.connect(sys.securedParty).setExposure(USD(500_000n));
      await advance(WINDOW + 1n);
      await vault.connect(sys.pledgor).declareDefault();
      const sp = vault.connect(sys.securedParty);
      await sp.deliverNoticeOfExclusiveControl(NOTICE);
      await expect(sp.instructTransfer(bond, BOND(1n), sys.securedParty.address))
        .to.be.revertedWithCustomError(vault, "AppropriationExceedsAmountDue")
        .withArgs(ethersLib.MaxUint256, USD(525_000n));
      expect(await vault.appropriation()).to.deep.equal([USD(525_000n), 0n]);
      expect(await vault.balanceOf(bond)).to.equal(BOND(100n));
      await sp.instructTransfer(await tbillAddress(), TBILL(525_000n), sys.securedParty.address);
      await expect(vault.connect(sys.pledgor).release())
        .to.emit(vault, "CollateralReturned")
        .withArgs(bond, sys.pledgor.address, BOND(100n));
    });

    it("check c: an asset delisted while live, once the 2-day notice period has passed, is never taken under exclusive control (AppropriationExceedsAmountDue(max, due)); before it matures it is taken at oracle value (rule: an asset without a price cannot be taken)", async function () {
      const vault = await pledged();
      const bond = await sys.bond.getAddress();
      await sys.fund(sys.bond, sys.pledgor, vault, BOND(100n));
      await vault.connect(sys.pledgor).deposit(bond, BOND(100n));
      const delist = { ...(await sys.line(sys.bond, sys.bondFeed, 1_000n)), feed: ZERO };
      const queue = await vault.connect(sys.securedParty).changeEligibility(delist);
      const queuedAt = await minedAt(queue);
      await expect(queue)
        .to.emit(vault, "EligibilityChangeQueued")
        .withArgs(bond, anyValue, queuedAt + NOTICE_PERIOD);
      await vault.connect(sys.pledgor).declareDefault();
      const sp = vault.connect(sys.securedParty);
      await sp.deliverNoticeOfExclusiveControl(NOTICE);
      // Still listed: one bond is taken at its oracle value of 100.
      await sp.instructTransfer(bond, BOND(1n), sys.securedParty.address);
      expect(await vault.appropriation()).to.deep.equal([USD(525_000n), USD(100n)]);
      await advanceTo(queuedAt + NOTICE_PERIOD);
      expect((await vault.eligibility(bond)).feed).to.equal(ZERO);
      await expect(sp.instructTransfer(bond, BOND(1n), sys.securedParty.address))
        .to.be.revertedWithCustomError(vault, "AppropriationExceedsAmountDue")
        .withArgs(ethersLib.MaxUint256, USD(525_000n));
      expect(await vault.appropriation()).to.deep.equal([USD(525_000n), USD(100n)]);
      expect(await vault.balanceOf(bond)).to.equal(BOND(99n));
    });

    it("check d: the factory binds the creator into the salt: an outsider's or the secured party's prediction for the pledgor's announced salt is another address; the secured party's open in the same block lands elsewhere, and the pledgor's open at the announced address still works (rule: no one can squat an announced address)", async function () {
      const salt = ethersLib.id("announced by the pledgor");
      const predict = (creator: string) =>
        sys.factory.predictVault(
          creator,
          sys.pledgor.address,
          sys.securedParty.address,
          ZERO,
          salt,
        );
      const announced = await predict(sys.pledgor.address);
      const bySecuredParty = await predict(sys.securedParty.address);
      const byOutsider = await predict(sys.outsider.address);
      expect(new Set([announced, bySecuredParty, byOutsider]).size).to.equal(3);

      const open = (creator: typeof sys.pledgor, terms: Terms) =>
        openWithoutAgent(creator, terms, salt);
      await expect(open(sys.outsider, defaultTerms))
        .to.be.revertedWithCustomError(sys.factory, "CreatorNotAParty")
        .withArgs(sys.outsider.address);

      // The secured party sees the pledgor's open in the mempool and front-runs it with harsher terms.
      const harsh = { ...defaultTerms, liquidationPenaltyBps: 2_000n };
      const { outcomes } = await oneBlock([
        (o) => openWithoutAgent(sys.securedParty, harsh, salt, sys.schedule, o),
        (o) => openWithoutAgent(sys.pledgor, defaultTerms, salt, sys.schedule, o),
      ]);
      expect(outcomes).to.deep.equal([["ok"], ["ok"]]);
      expect(await sys.factory.isVault(announced)).to.equal(true);
      expect(await sys.factory.isVault(bySecuredParty)).to.equal(true);
      const vault = (await sys.ethers.getContractAt(
        "CollateralVault",
        announced,
      )) as unknown as CollateralVault;
      expect((await vault.terms()).liquidationPenaltyBps).to.equal(500n);
      const squat = (await sys.ethers.getContractAt(
        "CollateralVault",
        bySecuredParty,
      )) as unknown as CollateralVault;
      expect((await squat.terms()).liquidationPenaltyBps).to.equal(2_000n);
    });

    it("check d: a squatter's open first, then the pledgor's: the announced address is still free and the pledgor's open deploys there (rule: no one can squat an announced address)", async function () {
      const salt = ethersLib.id("announced, squatted first");
      const announced = await sys.factory.predictVault(
        sys.pledgor.address,
        sys.pledgor.address,
        sys.securedParty.address,
        ZERO,
        salt,
      );
      await openWithoutAgent(sys.securedParty, defaultTerms, salt);
      expect(await sys.ethers.provider.getCode(announced)).to.equal("0x");
      await expect(openWithoutAgent(sys.pledgor, defaultTerms, salt))
        .to.emit(sys.factory, "AgreementOpened")
        .withArgs(
          announced,
          sys.pledgor.address,
          sys.securedParty.address,
          ZERO,
          sys.pledgor.address,
          salt,
          anyValue,
        );
    });

    it("check e: shortening the T-bill's maxPriceAge on a live agreement is queued for the notice period (EligibilityChangeQueued, effective now + 2 days), not applied at once; before the pledge it applies at once (rule: a tightening of the live schedule waits out the notice period)", async function () {
      const vault = await pledged();
      const tbill = await tbillAddress();
      const shorter = { ...(await sys.line(sys.tbill, sys.tbillFeed, 200n)), maxPriceAge: 3_600n };
      const change = await vault.connect(sys.securedParty).changeEligibility(shorter);
      const queuedAt = await minedAt(change);
      await expect(change)
        .to.emit(vault, "EligibilityChangeQueued")
        .withArgs(tbill, anyValue, queuedAt + NOTICE_PERIOD);
      await expect(change).not.to.emit(vault, "EligibilityChanged");
      const [entry, effectiveAt] = await vault.pendingEligibility(tbill);
      expect([entry.maxPriceAge, effectiveAt]).to.deep.equal([3_600n, queuedAt + NOTICE_PERIOD]);
      expect((await vault.eligibility(tbill)).maxPriceAge).to.equal(ONE_DAY);
      // Two hours later, on a two-hour-old price, the agreement is still valued: the old age applies.
      await sys.networkHelpers.time.increase(2n * 3_600n);
      expect(await vault.collateralValue()).to.equal(USD(1_078_000n));
      await advanceTo(queuedAt + NOTICE_PERIOD);
      expect((await vault.eligibility(tbill)).maxPriceAge).to.equal(3_600n);

      const open = await sys.openAgreement();
      await expect(open.connect(sys.securedParty).changeEligibility(shorter)).to.emit(
        open,
        "EligibilityChanged",
      );
      expect((await open.eligibility(tbill)).maxPriceAge).to.equal(3_600n);
    });
  });
});
