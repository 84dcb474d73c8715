// Every custom error of every contract, decoded into a typed SDK error whose message says in words what was
// wrong and carries the values.
import { ErrorFragment, Interface, type InterfaceAbi, type Result } from "ethers";

import { formatWad } from "./format.js";
import {
  AgreementFactory__factory,
  CollateralVault__factory,
  DvPSettlement__factory,
} from "../types/ethers-contracts/index.js";
import { AccessManager__factory } from "../types/ethers-contracts/factories/@openzeppelin/contracts/access/manager/AccessManager__factory.js";

const STATES = ["Open", "Pledged", "MarginCall", "ExclusiveControl", "Liquidating", "Released"];

/** The agreement terms a `TermOutOfRange` error can name, in the order of the contracts' `Term` enum. */
const TERMS = [
  "liquidationPenaltyBps",
  "maxLiquidationDiscountBps",
  "curePeriod (seconds)",
  "disputeWindow (seconds)",
  "scheduleNoticePeriod (seconds)",
  "appropriationPeriod (seconds)",
];

const t = (v: unknown) => new Date(Number(v) * 1000).toISOString();
type Describe = (a: Result) => string;

/** One sentence per error signature. A test checks that every error in every ABI has one. */
export const ERROR_MESSAGES: Record<string, Describe> = {
  // Vault: parties, states and amounts
  "Unauthorized(address,address)": (a) => `${a[0]} may not do this; only ${a[1]} may`,
  "InvalidState(uint8)": (a) =>
    `the vault is ${STATES[Number(a[0])] ?? a[0]}, and this needs another state`,
  "IneligibleAsset(address)": (a) =>
    `asset ${a[0]} is not eligible collateral under the agreement's schedule`,
  "ZeroAmount()": () => "the amount is zero",
  "ZeroAddress()": () => "a destination is the zero address",
  "ShortDelivery(address,uint256,uint256)": (a) =>
    `token ${a[0]} delivered ${a[1]} where ${a[2]} was asked (a fee on transfer or a short delivery)`,
  "InsufficientCollateral(address,uint256,uint256)": (a) =>
    `the vault accounts for only ${a[1]} of ${a[0]}, and ${a[2]} was asked`,
  "WithdrawalBreachesRequirement(uint256,uint256)": (a) =>
    `collateral value would be ${formatWad(a[0])}, below the requirement of ${formatWad(a[1])}`,
  "ConsentExpired(uint256,uint256)": (a) =>
    `the signed consent expired at ${t(a[0])} (now ${t(a[1])})`,
  "InvalidConsentSignature(address)": (a) =>
    `the pledge consent is not signed by ${a[0]} over the agreement's current terms`,
  "NoDefault()": () => "no default has been established, so exclusive control cannot be taken",
  "EmptyNotice()": () => "the Notice of Exclusive Control's document hash is zero",
  "TooManyAssets(uint256,uint256)": (a) =>
    `${a[0]} assets exceed the most an agreement may list (${a[1]})`,
  "InvalidBps(uint256,uint256)": (a) =>
    `haircut ${a[0]} bps or concentration cap ${a[1]} bps is outside 0..10,000 (a cap must be above 0)`,
  "DecimalsUnsupported(address,uint256)": (a) =>
    `${a[0]} has ${a[1]} decimals; at most 36 are supported`,
  "AppropriationExceedsAmountDue(uint256,uint256)": (a) =>
    `the secured party would have taken ${formatWad(a[0])}, beyond the ${formatWad(a[1])} due (exposure plus penalty)`,
  "NewRiskPaused()": () => "new risk is paused by the guardian",
  "MarginCallNotMet(uint256,uint256)": (a) =>
    `the margin call is still unmet: collateral worth ${formatWad(a[0])} after haircuts against a requirement of ${formatWad(a[1])}`,
  "SubstitutionExceedsValue(uint256,uint256)": (a) =>
    `the assets taken out are worth ${formatWad(a[0])} after haircut, more than the ${formatWad(a[1])} the substitute is worth`,
  "InsufficientGas(uint256,uint256)": (a) =>
    `only ${a[0]} gas was left where a token transfer needs ${a[1]}; send the transaction again with a higher gas limit`,
  "PriceSourceFixed(address,address,address)": (a) =>
    `on a live agreement the price source of ${a[0]} is fixed (feed ${a[1]}${a[1] === "0x0000000000000000000000000000000000000000" ? ", delisted" : ""}): ` +
    `the secured party alone may not price it by ${a[2]} or as another kind, nor list it again once delisted`,
  "FeedUnreadable(address,address)": (a) =>
    `${a[1]} does not answer latestRoundData() as a price feed, so it cannot price ${a[0]} ` +
    `(is it the token itself, or an address without a feed?)`,
  "MetadataUnreadable(address,bytes4)": (a) =>
    `${a[0]} did not answer ${a[1] === "0x38d52e0f" ? "asset()" : a[1] === "0x313ce567" ? "decimals()" : a[1]} with one word, so it cannot be listed (is it the token or feed you meant, and of the kind declared?)`,
  // Margin engine
  "NoMarginCallDue(uint256,uint256,uint256)": (a) =>
    `no margin call is due: collateral value ${formatWad(a[0])} against a requirement of ${formatWad(a[1])}, ` +
    `minimum transfer amount ${formatWad(a[2])}`,
  "MarginCallAlreadyOpen(uint256,uint256)": (a) =>
    `a margin call for ${formatWad(a[0])} is already open until ${t(a[1])}`,
  "MarginCallCured(uint256,uint256)": (a) =>
    `the margin call is cured, so it is no default: the called amount was delivered, or the collateral value ` +
    `${formatWad(a[0])} meets the call's requirement of ${formatWad(a[1])}`,
  "CureDeadlineNotPassed(uint256,uint256)": (a) =>
    `the cure deadline ${t(a[0])} has not passed (now ${t(a[1])})`,
  "ExcessBelowMinimumTransfer(uint256,uint256)": (a) =>
    `the excess of ${formatWad(a[0])} is below the minimum transfer amount of ${formatWad(a[1])}`,
  "DisputeWindowClosed(uint256,uint256,uint256)": (a) =>
    `the exposure set at ${t(a[0])} could be disputed for ${a[1]} seconds only (now ${t(a[2])})`,
  "DisputeAlreadyOpen()": () => "the exposure is already in dispute",
  "NoDisputeOpen()": () => "no dispute is open",
  "InvalidResolution(address,uint256)": (a) =>
    `${a[0]} may not resolve the dispute at ${formatWad(a[1])} (the pledgor can only accept the mark or raise ` +
    `its own figure, the secured party only accept the pledgor's figure or less; the control agent decides any figure)`,
  "NothingDisputed(uint256,uint256)": (a) =>
    `there is nothing to dispute: the pledgor's figure ${formatWad(a[0])} (never below the exposure already ` +
    `enforceable) is not below the mark of ${formatWad(a[1])}`,
  "TermsHashMismatch(bytes32,bytes32)": (a) =>
    `the consent names terms ${a[0]}, but the agreement's terms are now ${a[1]} (the schedule changed); ` +
    `read the new terms and consent to them`,
  "ReleaseNotYetAllowed(address,uint256,uint256)": (a) =>
    `${a[0]} may not release yet: ${formatWad(a[1])} of the amount due is still owed and the secured party's ` +
    `appropriation period runs until ${t(a[2])}`,
  "LengthMismatch(uint256,uint256)": (a) => `two lists differ in length (${a[0]} and ${a[1]})`,
  "SalePriceTooLow(uint256,uint256)": (a) =>
    `the sale's cash is worth ${formatWad(a[0])}, below the ${formatWad(a[1])} minimum (oracle value less the maximum discount)`,
  // Oracle
  "NonPositivePrice(address,int256)": (a) =>
    `feed ${a[0]} answered ${a[1]}, which is not a positive price`,
  "PriceTimestampZero(address)": (a) =>
    `feed ${a[0]} reported an incomplete round (updatedAt is zero)`,
  "PriceTimestampInFuture(address,uint256,uint256)": (a) =>
    `feed ${a[0]} reports an update at ${t(a[1])}, in the future (now ${t(a[2])})`,
  "StalePrice(address,uint256,uint256,uint256)": (a) =>
    `feed ${a[0]} was last updated at ${t(a[1])}, older than its maximum age of ${a[2]} seconds (now ${t(a[3])})`,
  "PriceOutOfBounds(address,int256,int256,int256)": (a) =>
    `feed ${a[0]} answered ${a[1]}, outside its bounds [${a[2]}, ${a[3]}]`,
  "IncompleteRound(address,uint80,uint80)": (a) =>
    `feed ${a[0]} round ${a[1]} was answered in an earlier round (${a[2]})`,
  "SequencerDown(address)": (a) => `the L2 sequencer is down (uptime feed ${a[0]})`,
  "SequencerGracePeriodNotOver(address,uint256,uint256,uint256)": (a) =>
    `the L2 sequencer came back at ${t(a[1])}; its ${a[2]}-second grace period is not over (now ${t(a[3])})`,
  "FeedCallFailed(address)": (a) =>
    `price feed ${a[0]} reverted, ran out of gas or answered malformed data`,
  "UnsupportedDecimals(uint8,uint8)": (a) =>
    `token decimals ${a[0]} or feed decimals ${a[1]} exceed 36`,
  "ZeroFeed()": () => "the price feed is the zero address",
  "ZeroMaxPriceAge()": () => "the maximum price age is zero",
  "InvalidBounds(int256,int256)": (a) =>
    `the price bounds [${a[0]}, ${a[1]}] are empty or not positive`,
  "InconsistentVaultConversion(address,uint256,uint256)": (a) =>
    `fund share ${a[0]} converts inconsistently (${a[1]} assets vs ${a[2]} shares)`,
  // Factory and access
  "InvalidParties(address,address)": (a) =>
    `pledgor ${a[0]} and secured party ${a[1]} must be two different non-zero addresses`,
  "CreatorNotAParty(address)": (a) =>
    `${a[0]} is not a party to the agreement, so it cannot open it`,
  "FactoryPaused()": () => "opening agreements is paused by the guardian",
  "TermOutOfRange(uint8,uint256,uint256,uint256)": (a) =>
    `${TERMS[Number(a[0])] ?? `term ${a[0]}`} is ${a[1]}, outside the listing rules' range ` +
    `${a[2]}..${a[3]}${Number(a[0]) === 3 ? " (a dispute window is never longer than the cure period)" : ""}`,
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
  // DvP settlement
  "TooFewLegs(uint256)": (a) => `a settlement needs at least two legs; it has ${a[0]}`,
  "SettlementExpired(uint256,uint256)": (a) =>
    `the settlement expired at ${t(a[0])} (now ${t(a[1])})`,
  "LegAmountZero(uint256)": (a) => `leg ${a[0]} has a zero amount`,
  "InvalidERC721Amount(uint256,uint256)": (a) =>
    `leg ${a[0]} moves an ERC-721 with amount ${a[1]}; it must be 1`,
  "UnexpectedTokenId(uint256,uint256)": (a) =>
    `ERC-20 leg ${a[0]} carries token id ${a[1]}; it must be 0`,
  "UnknownTokenKind(uint256,uint256)": (a) => `leg ${a[0]} has an unknown token kind ${a[1]}`,
  "SenderNotAuthorised(uint256,address)": (a) =>
    `leg ${a[0]}'s sender ${a[1]} neither called nor signed`,
  "SignerNotSender(uint256,address)": (a) =>
    `signature ${a[0]} is from ${a[1]}, which sends no leg (or is the caller)`,
  "NonceAlreadyUsed(address,uint256)": (a) =>
    `nonce ${a[1]} of ${a[0]} was already used by a settlement or cancelled`,
  "InvalidSigner(address,address)": (a) =>
    `the signature recovers to ${a[1]}, not ${a[0]} (another chain, contract, order or key)`,
  "MalleableSignature(address,bytes32)": (a) =>
    `the signature of ${a[0]} is a malleable high-s twin`,
  "MalformedSignature(address,uint256)": (a) =>
    `the signature of ${a[0]} is malformed (${a[1]} bytes)`,
  "InvalidContractSignature(address)": (a) =>
    `the contract wallet ${a[0]} did not accept the signature`,
  "BalanceUnreadable(uint256,address)": (a) =>
    `leg ${a[0]}'s token ${a[1]} did not answer balanceOf`,
  "LegDeliveredShort(uint256,uint256,uint256)": (a) =>
    `leg ${a[0]}'s receiver got ${a[1]} instead of ${a[2]} (a fee on transfer or a short delivery)`,
  "ReceiverIsSettlement(uint256)": (a) => `leg ${a[0]} delivers to the settlement contract itself`,
  // OpenZeppelin internals that can surface
  "ReentrancyGuardReentrantCall()": () => "a reentrant call was refused",
  "SafeERC20FailedOperation(address)": (a) =>
    `token ${a[0]} refused the transfer (returned false or reverted)`,
  "InvalidInitialization()": () => "the vault is already initialised",
  "NotInitializing()": () => "the vault is not initialising",
  "InvalidShortString()": () => "an EIP-712 name or version is malformed",
  "StringTooLong(string)": (a) => `the string ${a[0]} is too long`,
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

const ABIS: InterfaceAbi[] = [
  CollateralVault__factory.abi,
  AgreementFactory__factory.abi,
  DvPSettlement__factory.abi,
  AccessManager__factory.abi,
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
