// Monitor throughput: N agreements on the embedded network re-valued after one price update, by the margin
// monitor (batched status calls through the lens) beside the naive way (one status call per agreement),
// measured in the same run on the same chain. N is BENCH_MONITOR_AGREEMENTS (default 10,000).
import type { HardhatEthers } from "@nomicfoundation/hardhat-ethers/types";

import {
  CollateralSystem,
  MarginMonitor,
  PLEDGE_CONSENT_TYPES,
  deploySystem,
  pledgeConsentDomain,
} from "../sdk/index.js";
import type { BenchRow } from "./common.js";
import { ONE_DAY, WAD, line, row } from "./common.js";

export async function benchMonitor(ethers: HardhatEthers): Promise<BenchRow[]> {
  const count = Number(process.env.BENCH_MONITOR_AGREEMENTS ?? 10_000);
  const [operator, securedParty, keeper] = await ethers.getSigners();
  const book = await deploySystem(operator, { network: "bench" });
  const tbill = await ethers.deployContract("MockERC20", ["T-Bill", "TBILL", 6]);
  const feed = await ethers.deployContract("MockPriceFeed", [8, 100_000_000n]);
  const bulk = await ethers.deployContract("BulkAgreements", [
    book.contracts.AgreementFactory.address,
  ]);
  const terms = {
    threshold: 0n,
    independentAmount: 900n * WAD,
    minimumTransferAmount: WAD,
    roundingAmount: 0n,
    curePeriod: ONE_DAY,
    scheduleNoticePeriod: ONE_DAY,
    disputeWindow: ONE_DAY,
    liquidationPenaltyBps: 500n,
    maxLiquidationDiscountBps: 300n,
    appropriationPeriod: 7n * ONE_DAY,
  };
  const schedule = [
    { ...line(await tbill.getAddress(), await feed.getAddress()), maxPriceAge: 30n * ONE_DAY },
  ];

  // Open, fund and pledge the agreements, 20 to a transaction.
  const perAgreement = 1_000n * 10n ** 6n;
  for (let start = 0; start < count; start += 20) {
    const n = Math.min(20, count - start);
    await tbill.mint(await bulk.getAddress(), perAgreement * BigInt(n));
    await (
      await bulk.openMany(
        securedParty.address,
        terms,
        schedule,
        await tbill.getAddress(),
        perAgreement,
        n,
        start,
      )
    ).wait();
  }
  const system = new CollateralSystem(book, keeper);
  const vaults = await system.agreements();
  const { chainId } = await ethers.provider.getNetwork();
  const deadline = BigInt((await ethers.provider.getBlock("latest"))!.timestamp) + ONE_DAY;
  for (let start = 0; start < vaults.length; start += 100) {
    const batch = vaults.slice(start, start + 100);
    const signatures: string[] = [];
    for (const vault of batch) {
      const termsHash = await (await ethers.getContractAt("CollateralVault", vault)).termsHash();
      signatures.push(
        await securedParty.signTypedData(
          pledgeConsentDomain(chainId, book.contracts.AgreementFactory.address),
          PLEDGE_CONSENT_TYPES,
          { termsHash, deadline },
        ),
      );
    }
    await (await bulk.pledgeMany(batch, deadline, signatures)).wait();
  }

  // One price update that leaves every agreement covered: the pass is pure re-valuation.
  await (await feed.setAnswer(99_000_000n)).wait();
  const monitor = new MarginMonitor(system, { log: () => {} });
  let started = performance.now();
  const report = await monitor.runOnce();
  const monitorSeconds = (performance.now() - started) / 1000;
  if (report.revalued !== count)
    throw new Error(`the monitor re-valued ${report.revalued} of ${count}`);

  started = performance.now();
  for (const vault of vaults) await system.agreement(vault).status();
  const naiveSeconds = (performance.now() - started) / 1000;
  const naiveCalls = vaults.length + 1; // one status call each, after listing them

  const ours = count / monitorSeconds;
  const naive = count / naiveSeconds;
  return [
    row(
      `Monitor: agreements re-valued per second, ${count} agreements (vs 20,000/s target)`,
      Math.round(ours),
      20_000,
      1.0,
      "higher",
    ),
    row(
      `Monitor: speed vs the naive way (one status call per agreement), ${count} agreements`,
      Math.round(ours),
      Math.round(naive),
      20,
      "higher",
    ),
    row(
      `Monitor: RPC calls for one pass over ${count} agreements (vs naive)`,
      report.rpcCalls,
      naiveCalls,
      0.05,
      "lower",
    ),
  ];
}
