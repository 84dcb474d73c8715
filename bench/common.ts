// Shared pieces of the gas bench: the result row, receipt gas, raw deployment of peer bytecode, and our system.
import {
  Contract,
  ContractFactory,
  ethers as ethersLib,
  type ContractTransactionResponse,
  type Signer,
} from "ethers";
import type { HardhatEthers } from "@nomicfoundation/hardhat-ethers/types";

import { deploySystem } from "../sdk/deploy.js";
import type { AgreementTerms as Terms, EligibilityLine as Line } from "../sdk/agreements.js";
import type { CompiledContract } from "./peers.js";

export type { Line, Terms };

export interface BenchRow {
  name: string;
  /** Our gas (receipt `gasUsed`); null when it could not be measured. */
  ours: number | null;
  /** The peer's gas (or the reference figure the ratio is taken against); null when not measured. */
  peer: number | null;
  /** ours / peer, rounded to 4 decimals; null when either side is missing. */
  ratio: number | null;
  target: number;
  better: "lower" | "higher";
  /** Why a figure is missing, when it is. */
  note?: string;
}

export const WAD = 10n ** 18n;
export const ONE_DAY = 24n * 60n * 60n;

export function row(
  name: string,
  ours: number,
  peer: number,
  target: number,
  better: "lower" | "higher" = "lower",
): BenchRow {
  return { name, ours, peer, ratio: Number((ours / peer).toFixed(4)), target, better };
}

export function unmeasured(name: string, target: number, note: string): BenchRow {
  return { name, ours: null, peer: null, ratio: null, target, better: "lower", note };
}

/** Sends a transaction, waits for it, requires success and returns the receipt's `gasUsed`. */
export async function gasOf(tx: Promise<ContractTransactionResponse>): Promise<number> {
  const receipt = await (await tx).wait();
  if (receipt === null || receipt.status !== 1)
    throw new Error("transaction failed or has no receipt");
  return Number(receipt.gasUsed);
}

/** Deploys solc-js output with ethers and returns a Contract bound to `signer`. */
export async function deployRaw(
  compiled: CompiledContract,
  signer: Signer,
  ...args: unknown[]
): Promise<Contract> {
  const factory = new ContractFactory(
    compiled.abi as ethersLib.InterfaceAbi,
    compiled.bytecode,
    signer,
  );
  const deployed = await factory.deploy(...args);
  await deployed.waitForDeployment();
  return new Contract(await deployed.getAddress(), compiled.abi as ethersLib.InterfaceAbi, signer);
}

/** The terms the mocha fixture uses: zero threshold and independent amount, MTA and rounding 1,000. */
import { defaultTerms as benchTerms } from "../test/fixtures.js";
export { benchTerms };

/** An ERC-20 schedule line with a 2% haircut, no concentration cap and a one-day staleness limit. */
export function line(asset: string, feed: string, haircutBps = 200n): Line {
  return {
    asset,
    feed,
    kind: 0,
    maxPriceAge: ONE_DAY,
    minAnswer: 1n,
    maxAnswer: 10n ** 20n,
    haircutBps,
    concentrationCapBps: 10_000n,
  };
}

/** Deploys the system with the SDK, as users and the mocha fixture do; returns the DvP and the factory. */
export async function deployOurs(ethers: HardhatEthers) {
  const [admin] = await ethers.getSigners();
  const book = await deploySystem(admin, { network: "bench" });
  const dvp = await ethers.getContractAt("DvPSettlement", book.contracts.DvPSettlement.address);
  const factory = await ethers.getContractAt(
    "AgreementFactory",
    book.contracts.AgreementFactory.address,
  );
  return { dvp, factory };
}

export type OurSystem = Awaited<ReturnType<typeof deployOurs>>;

let saltCounter = 0;

/** Opens an agreement (the pledgor is the creator) and returns its vault. */
export async function openAgreement(
  ethers: HardhatEthers,
  system: OurSystem,
  pledgor: Signer,
  securedParty: Signer,
  schedule: Line[],
  terms: Terms = benchTerms,
) {
  const salt = ethersLib.id(`bench-agreement-${saltCounter++}`);
  const [p, s] = [await pledgor.getAddress(), await securedParty.getAddress()];
  const vault = await system.factory.predictVault(p, p, s, ethersLib.ZeroAddress, salt);
  await (
    await system.factory
      .connect(pledgor)
      .openAgreement(p, s, ethersLib.ZeroAddress, terms, schedule, salt)
  ).wait();
  return ethers.getContractAt("CollateralVault", vault);
}

/** Prints rows as an aligned table with a pass mark against each target. */
export function formatTable(rows: BenchRow[]): string {
  const header = ["name", "ours", "peer", "ratio", "target", "ok"];
  const cells = rows.map((r) => {
    const ok =
      r.ratio === null
        ? "n/a"
        : (r.better === "lower" ? r.ratio <= r.target : r.ratio >= r.target)
          ? "✓"
          : "✗";
    return [
      r.name,
      r.ours === null ? "-" : r.ours.toLocaleString("en-US"),
      r.peer === null ? "-" : r.peer.toLocaleString("en-US"),
      r.ratio === null ? "unmeasured" : r.ratio.toFixed(4),
      `${r.better === "lower" ? "<=" : ">="} ${r.target}`,
      ok,
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const right = [false, true, true, true, true, false];
  const fmt = (c: string[]) =>
    c
      .map((v, i) => (right[i] ? v.padStart(widths[i]) : v.padEnd(widths[i])))
      .join("  ")
      .trimEnd();
  return [fmt(header), widths.map((w) => "-".repeat(w)).join("  "), ...cells.map(fmt)].join("\n");
}
