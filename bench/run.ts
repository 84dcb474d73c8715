/**
 * `npm run bench`: every gas figure of the project against its peer or reference, measured in this run from
 * transaction receipts on Hardhat's embedded chain. Prints a table and writes `bench/results.json`; see
 * `bench/README.md`. Exits non-zero only when a figure could not be measured, never because a target is missed.
 */
import { writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { network } from "hardhat";
import type { HardhatEthers } from "@nomicfoundation/hardhat-ethers/types";

import { benchCollateral } from "./collateral.js";
import { formatTable, unmeasured, type BenchRow } from "./common.js";
import { benchDvp } from "./dvp.js";
import { benchMarginCalls } from "./margin.js";
import { benchMonitor } from "./monitor.js";
import { benchOptimiser } from "./optimiser.js";
import { benchSeaport } from "./seaport.js";

const parts: Array<{
  name: string;
  target: number;
  run: (ethers: HardhatEthers) => Promise<BenchRow[]>;
}> = [
  { name: "Collateral operations vs Morpho Blue 1.0.0", target: 1.0, run: benchCollateral },
  { name: "DvP vs DvPFloor", target: 1.25, run: benchDvp },
  { name: "DvP vs Seaport 1.6", target: 1.0, run: benchSeaport },
  { name: "Margin-call batch", target: 1.0, run: benchMarginCalls },
  { name: "Cheapest-to-deliver optimiser", target: 1.0, run: () => benchOptimiser() },
  { name: "Monitor throughput", target: 1.0, run: benchMonitor },
];

const rows: BenchRow[] = [];
for (const part of parts) {
  const started = Date.now();
  try {
    // A fresh embedded chain per part, so no part warms another's state.
    const { ethers } = await network.create();
    rows.push(...(await part.run(ethers)));
  } catch (error) {
    console.error(`bench: ${part.name} could not be measured:`, error);
    rows.push(
      unmeasured(
        `${part.name} (all figures)`,
        part.target,
        (error as Error).message.split("\n")[0],
      ),
    );
  }
  console.log(`bench: ${part.name} done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

console.log();
console.log(formatTable(rows));
for (const r of rows.filter((x) => x.note !== undefined)) console.log(`note: ${r.name}: ${r.note}`);

const out = path.join(path.dirname(fileURLToPath(import.meta.url)), "results.json");
writeFileSync(
  out,
  `${JSON.stringify(
    rows.map(({ name, ours, peer, ratio, target, better, note }) => ({
      name,
      ours,
      peer,
      ratio,
      target,
      better,
      ...(note === undefined ? {} : { note }),
    })),
    null,
    2,
  )}\n`,
);
console.log(`\nbench: wrote ${path.relative(process.cwd(), out)}`);

if (rows.some((r) => r.ratio === null)) process.exitCode = 1;
