// Rebuilds an agreement's history from on-chain events, as JSON or CSV, and reconciles the replayed balances
// against what the vault accounts for and what it holds.
import { Contract, getAddress, type Log, type Provider } from "ethers";

import {
  AgreementFactory__factory,
  CollateralVault__factory,
  DvPSettlement__factory,
} from "../types/ethers-contracts/index.js";
import type { AddressBook } from "./deploy.js";

export interface AuditEntry {
  blockNumber: number;
  timestamp: number;
  transactionHash: string;
  /**
   * Who sent the transaction (its `from`). An event's own caller argument may be a contract: a margin call issued
   * through the factory's keeper batch names the factory as `keeper`, and this the keeper that sent the batch.
   */
  sender: string;
  logIndex: number;
  contract: "AgreementFactory" | "CollateralVault" | "DvPSettlement";
  event: string;
  /** The event's named arguments; bigints as decimal strings so the trail is plain JSON. */
  args: Record<string, string | string[]>;
}

export interface AssetReconciliation {
  asset: string;
  /** The balance replayed from the events alone. */
  replayed: string;
  /** What the vault accounts for on-chain now. */
  accounted: string;
  /** What the vault holds (token balanceOf): above `accounted` only by donations. */
  held: string;
  matches: boolean;
}

export interface AuditTrail {
  vault: string;
  chainId: number;
  fromBlock: number;
  toBlock: number;
  entries: AuditEntry[];
  reconciliation: AssetReconciliation[];
  /** True when every asset's replayed balance equals the accounted one and the vault holds at least that. */
  reconciled: boolean;
}

const vaultInterface = CollateralVault__factory.createInterface();
const factoryInterface = AgreementFactory__factory.createInterface();
const dvpInterface = DvPSettlement__factory.createInterface();

function plain(value: unknown): string | string[] {
  if (Array.isArray(value)) return value.map((v) => String(plain(v)));
  return typeof value === "bigint" ? value.toString() : String(value);
}

/** How each balance-moving event changes the replayed balance of one asset. */
function balanceEffect(
  event: string,
  args: Record<string, string | string[]>,
): [string, bigint] | undefined {
  switch (event) {
    case "Deposited":
      return [args.asset as string, BigInt(args.amount as string)];
    case "Withdrawn":
    case "TransferInstructed":
    case "CollateralReturned":
    case "Liquidated":
      return [args.asset as string, -BigInt(args.amount as string)];
    case "Reconciled":
      return [
        args.asset as string,
        BigInt(args.held as string) - BigInt(args.accountedBefore as string),
      ];
    default:
      return undefined;
  }
}

/**
 * Rebuilds the audit trail of the agreement at `vault`: the factory's opening event, every vault event and the
 * DvP settlements of its liquidations, in chain order, then a reconciliation of the replayed balances.
 */
export async function buildAuditTrail(
  provider: Provider,
  book: AddressBook,
  vault: string,
  options: { fromBlock?: number; toBlock?: number } = {},
): Promise<AuditTrail> {
  vault = getAddress(vault);
  const fromBlock = options.fromBlock ?? book.contracts.AgreementFactory.blockNumber;
  const toBlock = options.toBlock ?? (await provider.getBlockNumber());
  const [vaultLogs, openedLogs] = await Promise.all([
    provider.getLogs({ address: vault, fromBlock, toBlock }),
    provider.getLogs({
      address: book.contracts.AgreementFactory.address,
      topics: [
        factoryInterface.getEvent("AgreementOpened").topicHash,
        "0x" + vault.slice(2).toLowerCase().padStart(64, "0"),
      ],
      fromBlock,
      toBlock,
    }),
  ]);
  const settlementIds = new Set<string>();
  for (const log of vaultLogs) {
    const parsed = vaultInterface.parseLog(log);
    if (parsed?.name === "Liquidated") settlementIds.add(parsed.args.settlementId as string);
  }
  const dvpLogs: Log[] = settlementIds.size
    ? (
        await provider.getLogs({
          address: book.contracts.DvPSettlement.address,
          fromBlock,
          toBlock,
        })
      ).filter((l) => settlementIds.has(l.topics[1]))
    : [];

  const timestamps = new Map<number, number>();
  const senders = new Map<string, string>();
  const entries: AuditEntry[] = [];
  const sources: [
    Log[],
    AuditEntry["contract"],
    typeof vaultInterface | typeof factoryInterface | typeof dvpInterface,
  ][] = [
    [openedLogs, "AgreementFactory", factoryInterface],
    [vaultLogs, "CollateralVault", vaultInterface],
    [dvpLogs, "DvPSettlement", dvpInterface],
  ];
  for (const [logs, contract, iface] of sources) {
    for (const log of logs) {
      const parsed = iface.parseLog(log);
      if (!parsed) continue;
      if (!timestamps.has(log.blockNumber))
        timestamps.set(log.blockNumber, (await provider.getBlock(log.blockNumber))!.timestamp);
      if (!senders.has(log.transactionHash))
        senders.set(
          log.transactionHash,
          (await provider.getTransaction(log.transactionHash))!.from,
        );
      const args: Record<string, string | string[]> = {};
      parsed.fragment.inputs.forEach((input, i) => (args[input.name] = plain(parsed.args[i])));
      entries.push({
        blockNumber: log.blockNumber,
        timestamp: timestamps.get(log.blockNumber)!,
        transactionHash: log.transactionHash,
        sender: senders.get(log.transactionHash)!,
        logIndex: log.index,
        contract,
        event: parsed.name,
        args,
      });
    }
  }
  entries.sort((a, b) => a.blockNumber - b.blockNumber || a.logIndex - b.logIndex);

  const replayed = new Map<string, bigint>();
  for (const entry of entries) {
    if (entry.contract !== "CollateralVault") continue;
    const effect = balanceEffect(entry.event, entry.args);
    if (effect)
      replayed.set(getAddress(effect[0]), (replayed.get(getAddress(effect[0])) ?? 0n) + effect[1]);
  }
  const vaultContract = CollateralVault__factory.connect(vault, provider);
  const assets = new Set<string>([
    ...replayed.keys(),
    ...(await vaultContract.listedAssets()).map((a) => getAddress(a)),
  ]);
  const reconciliation: AssetReconciliation[] = [];
  for (const asset of assets) {
    const accounted = await vaultContract.balanceOf(asset, { blockTag: toBlock });
    const token = new Contract(
      asset,
      ["function balanceOf(address) view returns (uint256)"],
      provider,
    );
    const held: bigint = await token.balanceOf(vault, { blockTag: toBlock });
    const replay = replayed.get(asset) ?? 0n;
    reconciliation.push({
      asset,
      replayed: replay.toString(),
      accounted: accounted.toString(),
      held: held.toString(),
      matches: replay === accounted && held >= accounted,
    });
  }
  const { chainId } = await provider.getNetwork();
  return {
    vault,
    chainId: Number(chainId),
    fromBlock,
    toBlock,
    entries,
    reconciliation,
    reconciled: reconciliation.every((r) => r.matches),
  };
}

/** The trail as JSON, with the reconciliation at the end. */
export function auditTrailToJson(trail: AuditTrail): string {
  return JSON.stringify(trail, null, 2);
}

/** The trail as CSV: one row per event, then one reconciliation row per asset. */
export function auditTrailToCsv(trail: AuditTrail): string {
  const quote = (v: string) => (/[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
  const rows = ["block,timestamp,transaction,sender,log_index,contract,event,args"];
  for (const e of trail.entries) {
    const args = Object.entries(e.args)
      .map(([k, v]) => `${k}=${Array.isArray(v) ? `[${v.join(" ")}]` : v}`)
      .join("; ");
    rows.push(
      [
        e.blockNumber,
        new Date(e.timestamp * 1000).toISOString(),
        e.transactionHash,
        e.sender,
        e.logIndex,
        e.contract,
        e.event,
        args,
      ]
        .map((v) => quote(String(v)))
        .join(","),
    );
  }
  rows.push("");
  rows.push("reconciliation_asset,replayed,accounted,held,matches");
  for (const r of trail.reconciliation)
    rows.push([r.asset, r.replayed, r.accounted, r.held, r.matches].join(","));
  return rows.join("\n") + "\n";
}
