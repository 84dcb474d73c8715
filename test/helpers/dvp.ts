// The SDK's DvP order types, with the signing helper shaped as the DvP tests call it (chain id given).
import type { Signer } from "ethers";

import { SETTLEMENT_TYPES, dvpDomain, type Settlement } from "../../sdk/dvp.js";

export {
  SETTLEMENT_TYPES,
  TokenKind as Kind,
  dvpDomain,
  erc20Leg,
  type Leg,
  type Settlement,
} from "../../sdk/dvp.js";

/** A deadline no test reaches (2^40 seconds, in the year 36812). */
export const FAR_DEADLINE = 2n ** 40n;

/** Signs `settlement` for the DvP deployment at `verifyingContract` on `chainId`. */
export async function signSettlement(
  signer: Signer,
  settlement: Settlement,
  chainId: bigint,
  verifyingContract: string,
): Promise<string> {
  return signer.signTypedData(dvpDomain(chainId, verifyingContract), SETTLEMENT_TYPES, settlement);
}
