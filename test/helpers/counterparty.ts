// The steps the margin-rule attacks of docs/margin-rules.md are built from (the tests named "attack N" and
// "check x"): a pledged agreement whose mark is enforceable, a dispute, a call, exclusive control, and several
// transactions mined in one block in a fixed order, each with its outcome.
import { expect } from "chai";
import { ethers as ethersLib, type TransactionReceipt } from "ethers";
import { anyValue } from "@nomicfoundation/hardhat-ethers-chai-matchers/withArgs";

import { defaultTerms, type EligibilityLine, type System, type Terms } from "../fixtures.js";
import { CollateralError, decodeError } from "../../sdk/errors.js";
import type { CollateralVault } from "../../types/ethers-contracts/index.js";
import { TBILL, USD, adversary } from "./adversary.js";

export const NOTICE = ethersLib.id("Notice of Exclusive Control, signed");
/** A mark no real agreement carries: 10^12 in base currency. */
export const HUGE = USD(10n ** 12n);
export const MTA = defaultTerms.minimumTransferAmount;
export const WINDOW = defaultTerms.disputeWindow;
export const CURE = defaultTerms.curePeriod;
export const APPROPRIATION = defaultTerms.appropriationPeriod;
export const NOTICE_PERIOD = defaultTerms.scheduleNoticePeriod;
/** The amount due on `exposure`: plus the 5% liquidation penalty of `defaultTerms`. */
export const dueOn = (exposure: bigint) =>
  exposure + (exposure * defaultTerms.liquidationPenaltyBps) / 10_000n;
export const UINT32_MAX = 2n ** 32n - 1n;
export const ZERO = ethersLib.ZeroAddress;
/** The AccessManager role of the risk manager. */
export const RISK_MANAGER = 2n;

/** Term enum of IAgreementFactory. */
export enum Term {
  LiquidationPenaltyBps = 0,
  MaxLiquidationDiscountBps = 1,
  CurePeriod = 2,
  DisputeWindow = 3,
  ScheduleNoticePeriod = 4,
  AppropriationPeriod = 5,
}

export type TxOverrides = { gasLimit: bigint; maxFeePerGas: bigint; maxPriorityFeePerGas: bigint };
/** One transaction of a block, sent with the overrides that fix its place in the block. */
export type Step = (overrides: TxOverrides) => Promise<{ hash: string }>;

/**
 * The steps, bound to the suite's current system. A suite that mines blocks by hand (`oneBlock`) restores automine
 * after each test: `afterEach(() => sys.ethers.provider.send("evm_setAutomine", [true]))`.
 */
export function counterparty(sys: () => System) {
  const { pledge, postTbill } = adversary(sys);

  const now = async () => BigInt(await sys().networkHelpers.time.latest());

  const refreshFeeds = () => sys().refreshFeeds();
  const advance = (seconds: bigint) => sys().advance(seconds);

  /** Moves time to `timestamp` (a block is mined there) and republishes every feed. */
  async function advanceTo(timestamp: bigint) {
    await sys().networkHelpers.time.increaseTo(timestamp);
    await refreshFeeds();
  }

  /**
   * Mines `steps` in one block, in that order (explicit gas, falling tips), optionally at `timestamp`; returns the
   * receipts, the block's timestamp, and each step's outcome: ["ok"] or the decoded custom error and its arguments.
   */
  async function oneBlock(steps: Step[], timestamp?: bigint) {
    const gwei = 10n ** 9n;
    const hashes: string[] = [];
    await sys().ethers.provider.send("evm_setAutomine", [false]);
    try {
      for (const [i, step] of steps.entries()) {
        const sent = await step({
          gasLimit: 3_000_000n,
          maxFeePerGas: 200n * gwei,
          maxPriorityFeePerGas: BigInt(50 - i) * gwei,
        });
        hashes.push(sent.hash);
      }
      if (timestamp !== undefined) await sys().networkHelpers.time.setNextBlockTimestamp(timestamp);
      await sys().ethers.provider.send("evm_mine", []);
    } finally {
      await sys().ethers.provider.send("evm_setAutomine", [true]);
    }
    const receipts: TransactionReceipt[] = [];
    for (const hash of hashes)
      receipts.push((await sys().ethers.provider.getTransactionReceipt(hash))!);
    expect(new Set(receipts.map((r) => r.blockNumber)).size, "mined in one block").to.equal(1);
    expect(
      receipts.map((r) => r.index),
      "in the order sent",
    ).to.deep.equal(steps.map((_, i) => i));
    const block = await sys().ethers.provider.getBlock(receipts[0].blockNumber);
    const outcomes: unknown[][] = [];
    for (const receipt of receipts) outcomes.push(await outcomeOf(receipt));
    return { receipts, outcomes, timestamp: BigInt(block!.timestamp) };
  }

  /** ["ok"] for a successful transaction, else the custom error it reverted with and its arguments. */
  async function outcomeOf(receipt: TransactionReceipt): Promise<unknown[]> {
    if (receipt.status === 1) return ["ok"];
    const trace = (await sys().ethers.provider.send("debug_traceTransaction", [
      receipt.hash,
      { disableStorage: true, disableMemory: true, disableStack: true },
    ])) as { failed: boolean; returnValue: string };
    const data = trace.returnValue.startsWith("0x") ? trace.returnValue : `0x${trace.returnValue}`;
    const error = decodeError(data);
    if (error) return [error.errorName, ...error.args];
    // The AccessManager's own errors are not among the SDK's contracts.
    const managerError = sys().manager.interface.parseError(data);
    return managerError ? [managerError.name, ...managerError.args] : ["undecoded", data];
  }

  /** The timestamp of the block `tx` was mined in. */
  async function minedAt(tx: { wait(): Promise<TransactionReceipt | null> }) {
    const receipt = await tx.wait();
    return BigInt((await sys().ethers.provider.getBlock(receipt!.blockNumber))!.timestamp);
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
    const vault = await sys().openAgreement({
      withAgent: options.withAgent ?? false,
      terms: options.terms,
      schedule: options.schedule,
    });
    const tbills = options.tbills ?? TBILL(1_100_000n);
    if (tbills > 0n) await postTbill(vault, tbills);
    await pledge(vault);
    const exposure = options.exposure ?? USD(500_000n);
    await vault.connect(sys().securedParty).setExposure(exposure);
    await advance(WINDOW + 1n);
    expect(await vault.enforceableExposure()).to.equal(exposure);
    return vault;
  }

  /** The pledgor posts `amount` of the stablecoin ($1, no haircut). */
  async function postStable(vault: CollateralVault, amount: bigint) {
    await sys().fund(sys().stable, sys().pledgor, vault, amount);
    await vault.connect(sys().pledgor).deposit(await sys().stable.getAddress(), amount);
  }

  /** A keeper's margin call; returns its deadline. */
  async function call(vault: CollateralVault) {
    await vault.connect(sys().outsider).issueMarginCall();
    const [, deadline] = await vault.marginCall();
    return deadline;
  }

  /** 1,100,000 T-bills, 500,000 enforceable, the pledgor's own default, the secured party's notice: 525,000 due. */
  async function underExclusiveControl(withAgent = false) {
    const vault = await pledged({ withAgent });
    await vault.connect(sys().pledgor).declareDefault();
    await vault.connect(sys().securedParty).deliverNoticeOfExclusiveControl(NOTICE);
    expect(await vault.appropriation()).to.deep.equal([dueOn(USD(500_000n)), 0n]);
    return { vault, noticeAt: await now() };
  }

  /** 1,100,000 T-bills, 500,000 enforceable, a mark of 900,000 the pledgor disputes at 600,000. */
  async function disputed(withAgent = false) {
    const vault = await pledged({ withAgent });
    await vault.connect(sys().securedParty).setExposure(USD(900_000n));
    await expect(vault.connect(sys().pledgor).disputeExposure(USD(600_000n)))
      .to.emit(vault, "ExposureDisputed")
      .withArgs(USD(900_000n), USD(600_000n), USD(600_000n));
    return vault;
  }

  /** The factory's own `openAgreement` for the pledgor and the secured party, without a control agent, by `creator`. */
  const openWithoutAgent = (
    creator: System["pledgor"],
    terms: Terms,
    salt: string,
    schedule: EligibilityLine[] = sys().schedule,
    overrides: Partial<TxOverrides> = {},
  ) =>
    sys().factory
      .connect(creator)
      .openAgreement(
        sys().pledgor.address,
        sys().securedParty.address,
        ZERO,
        terms,
        schedule,
        salt,
        overrides,
      );

  const tbillAddress = () => sys().tbill.getAddress();
  const stableAddress = () => sys().stable.getAddress();
  const agentOf = (withAgent: boolean) => (withAgent ? sys().controlAgent.address : ZERO);

  /** 1,100,000 T-bills against an enforceable 1,200,000: a call for 122,000, unmet, the keeper's default. */
  async function staleDefault(withAgent: boolean) {
    const vault = await pledged({ withAgent, exposure: USD(1_200_000n) });
    await expect(vault.connect(sys().outsider).issueMarginCall())
      .to.emit(vault, "MarginCallIssued")
      .withArgs(
        sys().outsider.address,
        USD(122_000n),
        USD(122_000n),
        anyValue,
        USD(1_078_000n),
        USD(1_200_000n),
      );
    const [, deadline] = await vault.marginCall();
    await advanceTo(deadline + 1n);
    await expect(vault.connect(sys().outsider).declareDefault())
      .to.emit(vault, "DefaultDeclared")
      .withArgs(sys().outsider.address, 3);
    return vault;
  }

  return {
    now,
    refreshFeeds,
    advance,
    advanceTo,
    oneBlock,
    outcomeOf,
    minedAt,
    eventsOf,
    sdkError,
    pledged,
    postStable,
    call,
    underExclusiveControl,
    disputed,
    staleDefault,
    openWithoutAgent,
    tbillAddress,
    stableAddress,
    agentOf,
  };
}
