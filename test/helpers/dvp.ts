import type { Signer, TypedDataDomain } from "ethers";

/** Token kinds, as the `TokenKind` enum of IDvPSettlement. */
export const Kind = { ERC20: 0, ERC721: 1, ERC1155: 2 } as const;

export interface Leg {
  kind: number;
  token: string;
  id: bigint;
  amount: bigint;
  from: string;
  to: string;
}

export interface Settlement {
  legs: Leg[];
  deadline: bigint;
  nonce: bigint;
}

/** The EIP-712 types every signer signs (see IDvPSettlement NatSpec). */
export const SETTLEMENT_TYPES = {
  Settlement: [
    { name: "legs", type: "Leg[]" },
    { name: "deadline", type: "uint256" },
    { name: "nonce", type: "uint256" },
  ],
  Leg: [
    { name: "kind", type: "uint8" },
    { name: "token", type: "address" },
    { name: "id", type: "uint256" },
    { name: "amount", type: "uint256" },
    { name: "from", type: "address" },
    { name: "to", type: "address" },
  ],
};

export function dvpDomain(chainId: bigint, verifyingContract: string): TypedDataDomain {
  return { name: "DvPSettlement", version: "1", chainId, verifyingContract };
}

/** Signs `settlement` with `signer.signTypedData` for the DvP deployment at `verifyingContract` on `chainId`. */
export async function signSettlement(
  signer: Signer,
  settlement: Settlement,
  chainId: bigint,
  verifyingContract: string,
): Promise<string> {
  return signer.signTypedData(dvpDomain(chainId, verifyingContract), SETTLEMENT_TYPES, settlement);
}

export function erc20Leg(token: string, amount: bigint, from: string, to: string): Leg {
  return { kind: Kind.ERC20, token, id: 0n, amount, from, to };
}
