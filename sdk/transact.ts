// The one way the SDK sends a transaction: simulated first, so a refusal is reported before any gas is spent, then
// sent, mined and answered in one shape.
import type { ContractTransactionResponse, LogDescription, TransactionReceipt } from "ethers";

import {
  AgreementFactory__factory,
  CollateralVault__factory,
  DvPSettlement__factory,
} from "../types/ethers-contracts/index.js";
import { withDecodedErrors } from "./errors.js";

/**
 * What every transaction-sending function of the SDK returns: the function's decoded return value (as simulated on
 * the state the transaction was sent against), the transaction's hash and receipt, and the system's events it
 * emitted, decoded.
 */
export interface TxResult<R = unknown> {
  result: R;
  hash: string;
  receipt: TransactionReceipt;
  events: LogDescription[];
}

/** A contract method as ethers v6 and TypeChain give it: callable statically and sendable. */
interface SendableMethod {
  staticCall(...args: any[]): Promise<any>;
  send(...args: any[]): Promise<ContractTransactionResponse>;
}

const eventInterfaces = [
  CollateralVault__factory.createInterface(),
  AgreementFactory__factory.createInterface(),
  DvPSettlement__factory.createInterface(),
];

/** The system's events among `receipt`'s logs, decoded (logs of other contracts, such as tokens, are skipped). */
export function decodeEvents(receipt: TransactionReceipt): LogDescription[] {
  const events: LogDescription[] = [];
  for (const log of receipt.logs) {
    for (const iface of eventInterfaces) {
      const parsed = iface.parseLog(log);
      if (parsed) {
        events.push(parsed);
        break;
      }
    }
  }
  return events;
}

/**
 * Simulates `method(...args)` with `staticCall` and, only if that succeeds, sends it and waits for its receipt. A
 * revert at either step is rethrown as a `CollateralError` (the system's and the tokens' errors in words).
 */
export async function transact<M extends SendableMethod>(
  method: M,
  ...args: Parameters<M["send"]>
): Promise<TxResult<Awaited<ReturnType<M["staticCall"]>>>> {
  return withDecodedErrors(async () => {
    const result = await method.staticCall(...args);
    const tx = await method.send(...args);
    const receipt = await tx.wait();
    if (!receipt) throw new Error(`transaction ${tx.hash} was dropped`);
    return { result, hash: tx.hash, receipt, events: decodeEvents(receipt) };
  });
}
