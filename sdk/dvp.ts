// DvP orders: build, sign (EIP-712), check a signature off-chain, settle.
import {
  Contract,
  MaxUint256,
  TypedDataEncoder,
  getAddress,
  hexlify,
  isAddress,
  randomBytes,
  recoverAddress,
  toBigInt,
  type ContractRunner,
  type Provider,
  type Signer,
  type TypedDataDomain,
} from "ethers";

import { DvPSettlement__factory } from "../types/ethers-contracts/index.js";
import { InputError } from "./errors.js";
import { transact } from "./transact.js";

/** Token kinds, as the `TokenKind` enum of IDvPSettlement. */
export const TokenKind = { ERC20: 0, ERC721: 1, ERC1155: 2 } as const;

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

/** The EIP-712 types every signer signs (see the NatSpec of IDvPSettlement). */
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

export const erc20Leg = (token: string, amount: bigint, from: string, to: string): Leg => ({
  kind: TokenKind.ERC20,
  token,
  id: 0n,
  amount,
  from,
  to,
});
export const erc721Leg = (token: string, id: bigint, from: string, to: string): Leg => ({
  kind: TokenKind.ERC721,
  token,
  id,
  amount: 1n,
  from,
  to,
});
export const erc1155Leg = (
  token: string,
  id: bigint,
  amount: bigint,
  from: string,
  to: string,
): Leg => ({
  kind: TokenKind.ERC1155,
  token,
  id,
  amount,
  from,
  to,
});

/** A random 256-bit nonce: unordered nonces mean parallel orders never block each other. */
export function randomNonce(): bigint {
  return toBigInt(hexlify(randomBytes(32)));
}

/**
 * Builds a settlement, checking what the contract would refuse before anyone signs it.
 * @throws InputError naming the leg and what is wrong with it.
 */
export function buildSettlement(
  legs: Leg[],
  deadline: bigint,
  nonce: bigint = randomNonce(),
): Settlement {
  if (legs.length < 2) {
    throw new InputError(`a settlement needs at least two legs; it has ${legs.length}`);
  }
  const kinds = Object.values(TokenKind) as number[];
  const address = (value: string, i: number, field: string) => {
    if (!isAddress(value)) throw new InputError(`leg ${i}: ${field} "${value}" is not an address`);
    return getAddress(value);
  };
  const checked = legs.map((leg, i) => {
    if (!kinds.includes(leg.kind)) {
      throw new InputError(
        `leg ${i} has the token kind ${leg.kind}; known kinds are ${kinds.join(", ")}`,
      );
    }
    if (leg.amount <= 0n) throw new InputError(`leg ${i} has a zero amount`);
    if (leg.kind === TokenKind.ERC721 && leg.amount !== 1n) {
      throw new InputError(`ERC-721 leg ${i} must have amount 1, not ${leg.amount}`);
    }
    if (leg.kind === TokenKind.ERC20 && leg.id !== 0n) {
      throw new InputError(`ERC-20 leg ${i} must have id 0, not ${leg.id}`);
    }
    const from = address(leg.from, i, "from");
    const to = address(leg.to, i, "to");
    return { ...leg, token: address(leg.token, i, "token"), from, to };
  });
  if (deadline <= 0n) throw new InputError(`the deadline must be a Unix time, not ${deadline}`);
  if (nonce < 0n || nonce > MaxUint256) throw new InputError(`the nonce ${nonce} is not a uint256`);
  return { legs: checked, deadline, nonce };
}

/** The EIP-712 digest a signer signs; also the settlement id the contract emits. */
export function settlementDigest(settlement: Settlement, chainId: bigint, dvp: string): string {
  return TypedDataEncoder.hash(dvpDomain(chainId, dvp), SETTLEMENT_TYPES, settlement);
}

/** Signs `settlement` for the DvP deployment at `dvp` on the signer's chain. */
export async function signSettlement(
  signer: Signer,
  settlement: Settlement,
  dvp: string,
): Promise<string> {
  const { chainId } = await signer.provider!.getNetwork();
  return signer.signTypedData(dvpDomain(chainId, dvp), SETTLEMENT_TYPES, settlement);
}

const ERC1271 = ["function isValidSignature(bytes32 hash, bytes signature) view returns (bytes4)"];

/**
 * Checks off-chain, before sending, that `signature` authorises `signer`'s legs: an EOA's signature must recover
 * to it (low-s only, as the contract requires); a contract wallet must answer ERC-1271's magic value.
 */
export async function verifySettlementSignature(
  provider: Provider,
  settlement: Settlement,
  dvp: string,
  signer: string,
  signature: string,
): Promise<{ valid: boolean; reason?: string }> {
  const { chainId } = await provider.getNetwork();
  const digest = settlementDigest(settlement, chainId, dvp);
  if (!settlement.legs.some((l) => getAddress(l.from) === getAddress(signer))) {
    return { valid: false, reason: `${signer} sends none of the legs` };
  }
  if ((await provider.getCode(signer)) !== "0x") {
    try {
      const magic = await new Contract(signer, ERC1271, provider).isValidSignature(
        digest,
        signature,
      );
      return magic === "0x1626ba7e"
        ? { valid: true }
        : { valid: false, reason: `wallet ${signer} rejected it` };
    } catch {
      return { valid: false, reason: `wallet ${signer} rejected it` };
    }
  }
  const HALF_N = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0n;
  if (signature.length !== 132) return { valid: false, reason: `the signature is not 65 bytes` };
  if (toBigInt("0x" + signature.slice(66, 130)) > HALF_N)
    return { valid: false, reason: "the signature is malleable (high s)" };
  const recovered = recoverAddress(digest, signature);
  return recovered === getAddress(signer)
    ? { valid: true }
    : { valid: false, reason: `the signature recovers to ${recovered}, not ${signer}` };
}

/**
 * Settles `settlement` with the signatures of every sender other than the caller; `settlementId` (also the
 * `result`) identifies it in the `Settled` event.
 */
export async function settle(
  runner: ContractRunner,
  dvp: string,
  settlement: Settlement,
  signatures: { signer: string; signature: string }[],
) {
  const contract = DvPSettlement__factory.connect(dvp, runner);
  const sent = await transact(contract.settle, settlement, signatures);
  return { ...sent, settlementId: sent.result };
}

/** Cancels one of the caller's nonces so no order signed with it can settle. */
export async function cancelNonce(runner: ContractRunner, dvp: string, nonce: bigint) {
  return transact(DvPSettlement__factory.connect(dvp, runner).cancelNonce, nonce);
}
