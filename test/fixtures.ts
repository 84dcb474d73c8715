// Shared deployment for the mocha tests: the system, three tokenized assets with Chainlink-style feeds,
// and a helper that opens agreements between two named parties.
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";
import { ethers as ethersLib } from "ethers";
import { network } from "hardhat";

import {
  AssetKind,
  type AgreementTerms as Terms,
  type EligibilityLine,
} from "../sdk/agreements.js";
import { deploySystem as deploySdkSystem } from "../sdk/deploy.js";
import type { AccessManager } from "../types/ethers-contracts/@openzeppelin/contracts/access/manager/AccessManager.js";
import type {
  AgreementFactory,
  CollateralLens,
  DvPSettlement,
  CollateralVault,
  MockERC20,
  MockERC4626,
  MockPriceFeed,
} from "../types/ethers-contracts/index.js";

export { AssetKind, type EligibilityLine, type Terms };

export const WAD = 10n ** 18n;
export const ONE_DAY = 24n * 60n * 60n;

export enum VaultState {
  Open = 0,
  Pledged = 1,
  MarginCall = 2,
  ExclusiveControl = 3,
  Liquidating = 4,
  Released = 5,
}

export const defaultTerms: Terms = {
  threshold: 0n,
  independentAmount: 0n,
  minimumTransferAmount: 1_000n * WAD,
  roundingAmount: 1_000n * WAD,
  curePeriod: ONE_DAY,
  scheduleNoticePeriod: 2n * ONE_DAY,
  disputeWindow: ONE_DAY,
  liquidationPenaltyBps: 500n,
  maxLiquidationDiscountBps: 300n,
  appropriationPeriod: 7n * ONE_DAY,
};

export async function deploySystem() {
  const connection = await network.create();
  const { ethers, networkHelpers } = connection;
  const [admin, pledgor, securedParty, controlAgent, outsider, guardian] =
    await ethers.getSigners();

  // The system as the SDK deploys it, with the guardian allowed to pause and unpause the factory.
  const book = await deploySdkSystem(admin, { network: "test", guardian: guardian.address });
  const at = <T>(name: string, address: string) =>
    ethers.getContractAt(name, address) as Promise<T>;
  const manager = await at<AccessManager>("AccessManager", book.contracts.AccessManager.address);
  const implementation = await at<CollateralVault>(
    "CollateralVault",
    book.contracts.CollateralVault.address,
  );
  const dvp = await at<DvPSettlement>("DvPSettlement", book.contracts.DvPSettlement.address);
  const lens = await at<CollateralLens>("CollateralLens", book.contracts.CollateralLens.address);
  const factory = await at<AgreementFactory>(
    "AgreementFactory",
    book.contracts.AgreementFactory.address,
  );

  const tbill = (await ethers.deployContract("MockERC20", [
    "Tokenized T-Bill",
    "TBILL",
    6,
  ])) as unknown as MockERC20;
  const stable = (await ethers.deployContract("MockERC20", [
    "Stablecoin",
    "USDS",
    18,
  ])) as unknown as MockERC20;
  const bond = (await ethers.deployContract("MockERC20", [
    "Tokenized Bond",
    "BOND",
    8,
  ])) as unknown as MockERC20;
  const mmf = (await ethers.deployContract("MockERC4626", [
    await tbill.getAddress(),
    "Money Market Fund",
    "MMF",
  ])) as unknown as MockERC4626;
  const tbillFeed = (await ethers.deployContract("MockPriceFeed", [
    8,
    1_00000000n,
  ])) as unknown as MockPriceFeed;
  const stableFeed = (await ethers.deployContract("MockPriceFeed", [
    8,
    1_00000000n,
  ])) as unknown as MockPriceFeed;
  const bondFeed = (await ethers.deployContract("MockPriceFeed", [
    8,
    100_00000000n,
  ])) as unknown as MockPriceFeed;

  const line = async (
    asset: { getAddress(): Promise<string> },
    feed: MockPriceFeed,
    haircutBps: bigint,
    kind = AssetKind.ERC20,
    concentrationCapBps = 10_000n,
  ): Promise<EligibilityLine> => ({
    asset: await asset.getAddress(),
    feed: await feed.getAddress(),
    kind,
    maxPriceAge: ONE_DAY,
    minAnswer: 1n,
    maxAnswer: 10n ** 20n,
    haircutBps,
    concentrationCapBps,
  });
  const schedule: EligibilityLine[] = [
    await line(tbill, tbillFeed, 200n),
    await line(stable, stableFeed, 0n),
    await line(bond, bondFeed, 1_000n),
    await line(mmf, tbillFeed, 500n, AssetKind.ERC4626),
  ];

  async function openAgreement(
    options: {
      terms?: Terms;
      schedule?: EligibilityLine[];
      salt?: string;
      withAgent?: boolean;
    } = {},
  ): Promise<CollateralVault> {
    const salt = options.salt ?? ethersLib.id(`agreement-${Math.random()}`);
    const agent = options.withAgent ? controlAgent.address : ethersLib.ZeroAddress;
    const predicted = await factory.predictVault(
      pledgor.address,
      pledgor.address,
      securedParty.address,
      agent,
      salt,
    );
    await factory
      .connect(pledgor)
      .openAgreement(
        pledgor.address,
        securedParty.address,
        agent,
        options.terms ?? defaultTerms,
        options.schedule ?? schedule,
        salt,
      );
    return (await ethers.getContractAt("CollateralVault", predicted)) as unknown as CollateralVault;
  }

  async function fund(
    token: MockERC20,
    holder: HardhatEthersSigner,
    spender: { getAddress(): Promise<string> },
    amount: bigint,
  ) {
    await token.mint(holder.address, amount);
    await token.connect(holder).approve(await spender.getAddress(), amount);
  }

  /** Republishes every feed at its current answer, so prices stay fresh after time moves. */
  async function refreshFeeds() {
    for (const feed of [tbillFeed, stableFeed, bondFeed]) await feed.setAnswer(await feed.answer());
  }

  /** Moves time by `seconds` and republishes every feed (their maximum price age is one day). */
  async function advance(seconds: bigint) {
    await networkHelpers.time.increase(seconds);
    await refreshFeeds();
  }

  /**
   * Lets the latest mark's dispute window (one day in `defaultTerms`) pass, so the mark becomes enforceable, and
   * republishes every feed so prices stay fresh.
   */
  async function pastDisputeWindow(seconds = ONE_DAY + 1n) {
    await advance(seconds);
  }

  return {
    connection,
    ethers,
    networkHelpers,
    admin,
    pledgor,
    securedParty,
    controlAgent,
    outsider,
    guardian,
    manager,
    implementation,
    dvp,
    lens,
    factory,
    tbill,
    stable,
    bond,
    mmf,
    tbillFeed,
    stableFeed,
    bondFeed,
    schedule,
    line,
    openAgreement,
    fund,
    refreshFeeds,
    advance,
    pastDisputeWindow,
  };
}

export type System = Awaited<ReturnType<typeof deploySystem>>;

/** The one deployment every `useSystem` suite shares: built by the first suite that runs, once per run. */
let shared: Promise<System> | undefined;

/**
 * Registers mocha hooks that take the shared deployment (deploying it once per run, for the first suite that asks)
 * for the enclosing `describe` and restore a snapshot after every test, so each test starts from the same fresh
 * deployment; returns a getter for the system.
 */
export function useSystem(): () => System {
  let sys: System;
  let snapshot: { restore(): Promise<void> };
  before(async function () {
    sys = await (shared ??= deploySystem());
    snapshot = await sys.networkHelpers.takeSnapshot();
  });
  afterEach(async function () {
    await snapshot.restore();
    snapshot = await sys.networkHelpers.takeSnapshot();
  });
  return () => sys;
}
