// Every custom error of every contract, decoded into a typed SDK error whose message says in words what was
// wrong and carries the values. The sentences of the system's own errors are their NatSpec `@notice`, generated at
// build time into types/error-docs.ts (scripts/error-docs.ts); only the errors of OpenZeppelin's contracts that can
// surface are worded here.
import { ErrorFragment, Interface, type InterfaceAbi, type Result } from "ethers";

import { formatWad } from "./format.js";
import { ERROR_DOCS, type ErrorDoc } from "../types/error-docs.js";
import {
  AgreementFactory__factory,
  CollateralVault__factory,
  DvPSettlement__factory,
} from "../types/ethers-contracts/index.js";
import { AccessManager__factory } from "../types/ethers-contracts/factories/@openzeppelin/contracts/access/manager/AccessManager__factory.js";

type Describe = (a: Result) => string;

const t = (v: unknown) => new Date(Number(v) * 1000).toISOString();

function formatParam(param: ErrorDoc["params"][number], value: unknown): string {
  switch (param.format) {
    case "wad":
      return formatWad(BigInt(value as bigint));
    case "time":
      return t(value);
    case "enum":
      return param.members?.[Number(value)] ?? String(value);
    default:
      return String(value);
  }
}

/**
 * The sentence of one of the system's errors: its `@notice`, each backticked parameter name replaced by its value
 * and any other backticked code (a function's name) shown plainly.
 */
function fromNatSpec(doc: ErrorDoc): Describe {
  return (args) =>
    doc.notice.replace(/`([^`]+)`/g, (_, code: string) => {
      const index = doc.params.findIndex((param) => param.name === code);
      return index < 0 ? code : formatParam(doc.params[index], args[index]);
    });
}

/** The errors of OpenZeppelin's contracts that can surface through the system, in words. */
const THIRD_PARTY_MESSAGES: Record<string, Describe> = {
  "AccessManagedUnauthorized(address)": (a) => `${a[0]} does not hold the role this function needs`,
  "AccessManagedRequiredDelay(address,uint32)": (a) =>
    `${a[0]} must schedule this call through the access manager and wait ${a[1]} seconds`,
  "AccessManagedInvalidAuthority(address)": (a) => `${a[0]} is not a valid access manager`,
  // The AccessManager itself: roles act after their execution delay, scheduled first
  "AccessManagerAlreadyScheduled(bytes32)": (a) =>
    `operation ${a[0]} is already scheduled; execute or cancel it first`,
  "AccessManagerNotScheduled(bytes32)": (a) =>
    `operation ${a[0]} was not scheduled: a role with an execution delay must schedule the call first (manager.schedule) and execute it once the delay has passed`,
  "AccessManagerNotReady(bytes32)": (a) =>
    `operation ${a[0]} is scheduled but its execution delay has not passed yet`,
  "AccessManagerExpired(bytes32)": (a) =>
    `operation ${a[0]} expired before it was executed; schedule it again`,
  "AccessManagerLockedRole(uint64)": (a) => `role ${a[0]} is locked and cannot be changed`,
  "AccessManagerBadConfirmation()": () =>
    "renouncing a role must be confirmed by the account that holds it",
  "AccessManagerUnauthorizedAccount(address,uint64)": (a) =>
    `${a[0]} does not hold role ${a[1]}, which this needs`,
  "AccessManagerUnauthorizedCall(address,address,bytes4)": (a) =>
    `${a[0]} may not call function ${a[2]} of ${a[1]}, not even by scheduling it`,
  "AccessManagerUnauthorizedConsume(address)": (a) =>
    `${a[0]} may not consume a scheduled operation`,
  "AccessManagerUnauthorizedCancel(address,address,address,bytes4)": (a) =>
    `${a[0]} may not cancel ${a[1]}'s scheduled call of ${a[3]} on ${a[2]}`,
  "AccessManagerInvalidInitialAdmin(address)": (a) => `${a[0]} cannot be the initial admin`,
  "SafeCastOverflowedUintDowncast(uint8,uint256)": (a) => `${a[1]} does not fit in ${a[0]} bits`,
  "AddressEmptyCode(address)": (a) => `${a[0]} has no code, so the scheduled call cannot run there`,
  "FailedCall()": () => "the scheduled call reverted without a reason",
  "EnforcedPause()": () => "the contract is paused",
  "ExpectedPause()": () => "the contract is not paused",
  "CloneArgumentsTooLong()": () => "the vault's immutable arguments are too long",
  "Create2EmptyBytecode()": () => "the vault implementation has no code",
  "FailedDeployment()": () => "the vault could not be deployed (this salt may already be used)",
  "InsufficientBalance(uint256,uint256)": (a) => `the balance ${a[0]} is below the ${a[1]} needed`,
  // Tokens (ERC-6093) and plain reverts
  "ERC20InsufficientBalance(address,uint256,uint256)": (a) =>
    `the token refused the transfer: ${a[0]} holds only ${a[1]} (raw units) and ${a[2]} was to move`,
  "ERC20InsufficientAllowance(address,uint256,uint256)": (a) =>
    `the token refused the transfer: ${a[0]} is approved for only ${a[1]} (raw units) and ${a[2]} was to move; approve it first`,
  "ERC20InvalidSender(address)": (a) => `the token refuses transfers from ${a[0]}`,
  "ERC20InvalidReceiver(address)": (a) => `the token refuses transfers to ${a[0]}`,
  "ERC20InvalidApprover(address)": (a) => `the token refuses approvals by ${a[0]}`,
  "ERC20InvalidSpender(address)": (a) => `the token refuses ${a[0]} as a spender`,
  "ERC721NonexistentToken(uint256)": (a) => `token id ${a[0]} does not exist`,
  "ERC721IncorrectOwner(address,uint256,address)": (a) =>
    `${a[0]} does not own token id ${a[1]}; ${a[2]} does`,
  "ERC721InsufficientApproval(address,uint256)": (a) =>
    `${a[0]} is not approved to move token id ${a[1]}`,
  "ERC1155InsufficientBalance(address,uint256,uint256,uint256)": (a) =>
    `${a[0]} holds only ${a[1]} of token id ${a[3]} and ${a[2]} was to move`,
  "ERC1155MissingApprovalForAll(address,address)": (a) =>
    `${a[0]} is not approved for all of ${a[1]}'s tokens`,
  "Error(string)": (a) => `a contract (often the token) reverted: "${a[0]}"`,
  "Panic(uint256)": (a) =>
    `a contract panicked with code 0x${BigInt(a[0]).toString(16)} (0x11: arithmetic overflow, 0x12: division by zero)`,
  // OpenZeppelin internals that can surface
  "ReentrancyGuardReentrantCall()": () => "a reentrant call was refused",
  "SafeERC20FailedOperation(address)": (a) =>
    `token ${a[0]} refused the transfer (returned false or reverted)`,
  "InvalidInitialization()": () => "the vault is already initialised",
  "NotInitializing()": () => "the vault is not initialising",
  "InvalidShortString()": () => "an EIP-712 name or version is malformed",
  "StringTooLong(string)": (a) => `the string ${a[0]} is too long`,
};

/** One sentence per error signature. A test checks that every error in every ABI has one. */
export const ERROR_MESSAGES: Record<string, Describe> = {
  ...THIRD_PARTY_MESSAGES,
  ...Object.fromEntries(
    Object.entries(ERROR_DOCS).map(([signature, doc]) => [signature, fromNatSpec(doc)]),
  ),
};

/** A contract revert decoded: `name` and `args` are the custom error's, `message` says it in words. */
export class CollateralError extends Error {
  constructor(
    readonly errorName: string,
    readonly signature: string,
    readonly args: Result,
    readonly description: string,
    options?: { cause?: unknown },
  ) {
    super(`${errorName}: ${description}`, options);
    this.name = "CollateralError";
  }
}

/**
 * What a token can revert with when the vault or the settlement moves it: OpenZeppelin's ERC-6093 errors (every
 * OpenZeppelin 5 token), and the `Error(string)` and `Panic(uint256)` of older and hand-written tokens. The vault and
 * the DvP contract bubble a token's revert as it is, so these reach the SDK unchanged.
 */
const TOKEN_ERRORS: InterfaceAbi = [
  "error ERC20InsufficientBalance(address sender, uint256 balance, uint256 needed)",
  "error ERC20InsufficientAllowance(address spender, uint256 allowance, uint256 needed)",
  "error ERC20InvalidSender(address sender)",
  "error ERC20InvalidReceiver(address receiver)",
  "error ERC20InvalidApprover(address approver)",
  "error ERC20InvalidSpender(address spender)",
  "error ERC721NonexistentToken(uint256 tokenId)",
  "error ERC721IncorrectOwner(address sender, uint256 tokenId, address owner)",
  "error ERC721InsufficientApproval(address operator, uint256 tokenId)",
  "error ERC1155InsufficientBalance(address sender, uint256 balance, uint256 needed, uint256 tokenId)",
  "error ERC1155MissingApprovalForAll(address operator, address owner)",
  "error Error(string reason)",
  "error Panic(uint256 code)",
];

const ABIS: InterfaceAbi[] = [
  CollateralVault__factory.abi,
  AgreementFactory__factory.abi,
  DvPSettlement__factory.abi,
  AccessManager__factory.abi,
  TOKEN_ERRORS,
];

/** Every error fragment the system's contracts can revert with, by selector. */
export const ERROR_FRAGMENTS: Map<string, ErrorFragment> = (() => {
  const map = new Map<string, ErrorFragment>();
  for (const abi of ABIS) {
    new Interface(abi).forEachError((fragment) => map.set(fragment.selector, fragment));
  }
  return map;
})();

/** Finds revert data in what ethers throws (or in a raw hex string). */
function revertData(error: unknown): string | undefined {
  if (typeof error === "string") return error.startsWith("0x") ? error : undefined;
  if (typeof error !== "object" || error === null) return undefined;
  const candidate = error as { data?: unknown; error?: unknown; info?: { error?: unknown } };
  if (typeof candidate.data === "string" && candidate.data.startsWith("0x")) return candidate.data;
  return revertData(candidate.error) ?? revertData(candidate.info?.error);
}

/**
 * Decodes a contract revert into a `CollateralError`; returns undefined when `error` carries no revert data of
 * the system's contracts.
 */
export function decodeError(error: unknown): CollateralError | undefined {
  const data = revertData(error);
  if (!data || data.length < 10) return undefined;
  const fragment = ERROR_FRAGMENTS.get(data.slice(0, 10).toLowerCase());
  if (!fragment) return undefined;
  const args = Interface.from([fragment]).decodeErrorResult(fragment, data);
  const signature = fragment.format("sighash");
  const describe = ERROR_MESSAGES[signature];
  const description = describe ? describe(args) : `the contract reverted with ${signature}`;
  return new CollateralError(fragment.name, signature, args, description, { cause: error });
}

/** Runs `action`, rethrowing any revert of the system's contracts as a `CollateralError`. */
export async function withDecodedErrors<T>(action: () => Promise<T>): Promise<T> {
  try {
    return await action();
  } catch (error) {
    throw decodeError(error) ?? error;
  }
}

/** An input the SDK refuses before sending anything. */
export class InputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InputError";
  }
}
