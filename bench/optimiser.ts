/**
 * Timing benchmark: median wall time of `optimiseDelivery` on 50-asset books against the 10 ms budget.
 *
 * Books are seeded-random and realistic: decimals 6, 8 or 18 (so the branch-and-bound stage is skipped, as it
 * is for any book with 18-decimal holdings, and the time is LP + rounding + exact repair), haircuts 0-50%, half
 * the assets capped at 5-60%, some positions already posted, and a requirement between 10% and 90% of the
 * most reachable. A second row times books of 0- and 6-decimal assets, where the exact integer search runs.
 *
 * Standalone: `npx tsx bench/optimiser.ts` (or `npx hardhat run bench/optimiser.ts`).
 */
import { optimiseDelivery, type OptimiserAsset, type OptimiserInput } from "../sdk/optimiser.js";

export interface BenchRow {
  name: string;
  ours: number;
  peer: number;
  ratio: number;
  target: number;
  better: "lower" | "higher";
}

const BUDGET_MS = 10;
const ASSETS = 50;

function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function book(seed: number, decimalsChoice: readonly number[]): OptimiserInput {
  const rnd = prng(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));
  const assets: OptimiserAsset[] = [];
  for (let i = 0; i < ASSETS; i++) {
    const decimals = decimalsChoice[int(0, decimalsChoice.length - 1)];
    const unit = 10n ** BigInt(decimals);
    assets.push({
      id: `T${i}`,
      priceWad: BigInt(int(1, 5_000_000)) * 10n ** 12n + BigInt(int(0, 999_999)),
      decimals,
      haircutBps: int(0, 5_000),
      concentrationCapBps: rnd() < 0.5 ? 10_000 : int(500, 6_000),
      costBps: int(1, 500),
      holdings: BigInt(int(0, 1_000_000)) * unit + BigInt(int(0, 999)),
      posted: rnd() < 0.3 ? BigInt(int(0, 200_000)) * unit : 0n,
    });
  }
  // Price the most reachable value with the optimiser's own exact rule: a zero requirement returns at once.
  const all = assets.map((a) => ({ ...a, posted: a.posted + a.holdings, holdings: 0n }));
  const max = optimiseDelivery({ assets: all, requirement: 0n }).collateralValueBefore;
  return { assets, requirement: (max * BigInt(int(100, 900))) / 1_000n };
}

function medianMs(inputs: readonly OptimiserInput[], runsPerInput: number): number {
  const times: number[] = [];
  for (const input of inputs) optimiseDelivery(input); // warm-up
  for (let run = 0; run < runsPerInput; run++) {
    for (const input of inputs) {
      const start = process.hrtime.bigint();
      optimiseDelivery(input);
      times.push(Number(process.hrtime.bigint() - start) / 1e6);
    }
  }
  times.sort((x, y) => x - y);
  return times[Math.floor(times.length / 2)];
}

function row(name: string, ours: number): BenchRow {
  return {
    name,
    ours: Number(ours.toFixed(4)),
    peer: BUDGET_MS,
    ratio: Number((ours / BUDGET_MS).toFixed(4)),
    target: 1.0,
    better: "lower",
  };
}

export async function benchOptimiser(): Promise<BenchRow[]> {
  const realistic = Array.from({ length: 20 }, (_, k) => book(1_000 + k, [6, 8, 18]));
  const small = Array.from({ length: 20 }, (_, k) => book(2_000 + k, [0, 6]));
  return [
    row(
      `optimiseDelivery, ${ASSETS} assets (6/8/18 decimals), median ms vs ${BUDGET_MS} ms budget`,
      medianMs(realistic, 10),
    ),
    row(
      `optimiseDelivery, ${ASSETS} assets (0/6 decimals, exact integer search), median ms vs ${BUDGET_MS} ms budget`,
      medianMs(small, 10),
    ),
  ];
}

const invokedDirectly = process.argv.some((arg) => arg.endsWith("bench/optimiser.ts"));
if (invokedDirectly) {
  console.table(await benchOptimiser());
}
