// Clients over the TypeChain types: open agreements, move collateral, run the margin workflow, read status.
import {
  Contract,
  MaxUint256,
  ZeroAddress,
  formatUnits,
  parseUnits,
  getAddress,
  hexlify,
  id as keccakText,
  isHexString,
  keccak256,
  randomBytes,
  type ContractRunner,
  type Signer,
} from "ethers";

import {
  AgreementFactory__factory,
  CollateralLens__factory,
  CollateralVault__factory,
  type AgreementFactory,
  type CollateralLens,
  type CollateralVault,
} from "../types/ethers-contracts/index.js";
import type { AddressBook } from "./deploy.js";
import { buildSettlement, erc20Leg, randomNonce, signSettlement } from "./dvp.js";
import { InputError, decodeError } from "./errors.js";
import { transact } from "./transact.js";

export const VAULT_STATES = [
  "Open",
  "Pledged",
  "MarginCall",
  "ExclusiveControl",
  "Liquidating",
  "Released",
] as const;
export type VaultStateName = (typeof VAULT_STATES)[number];

export enum AssetKind {
  ERC20 = 0,
  ERC4626 = 1,
}

/** Credit Support Annex terms. Values in base currency with 18 decimals; periods in seconds; rates in bps. */
export interface AgreementTerms {
  threshold: bigint;
  independentAmount: bigint;
  minimumTransferAmount: bigint;
  roundingAmount: bigint;
  curePeriod: bigint;
  scheduleNoticePeriod: bigint;
  disputeWindow: bigint;
  liquidationPenaltyBps: bigint;
  maxLiquidationDiscountBps: bigint;
  /**
   * Under exclusive control: seconds the secured party has after the notice, and after each appropriation, to take
   * the next; once they pass with nothing taken, anyone may release the rest to the pledgor.
   */
  appropriationPeriod: bigint;
}

/** One eligibility-schedule line; the vault reads the token's and the feed's decimals itself. */
export interface EligibilityLine {
  asset: string;
  feed: string;
  kind: AssetKind;
  maxPriceAge: bigint;
  minAnswer: bigint;
  maxAnswer: bigint;
  haircutBps: bigint;
  concentrationCapBps: bigint;
}

export interface AssetPosition {
  asset: string;
  balance: bigint;
  marketValue: bigint;
  collateralValue: bigint;
  haircutBps: number;
  concentrationCapBps: number;
  eligible: boolean;
  priceValid: boolean;
}

/** An agreement's status at one block. */
export interface AgreementStatus {
  vault: string;
  state: VaultStateName;
  exposure: bigint;
  requirement: bigint;
  marketValue: bigint;
  collateralValue: bigint;
  /** Collateral value over requirement, in bps; undefined when nothing is required. */
  coverageBps: bigint | undefined;
  pricesValid: boolean;
  callAmount: bigint;
  /** Unix seconds; 0 when no call is open. */
  callDeadline: bigint;
  disputed: boolean;
  undisputedExposure: bigint;
  /** The requirement a margin call may enforce (on the undisputed exposure), and the minimum transfer amount. */
  callableRequirement: bigint;
  minimumTransferAmount: bigint;
  /** A keeper's margin call would open now: prices valid and the shortfall at least the MTA. */
  marginCallDue: boolean;
  /** An open call is past its cure deadline and not cured: the pledgor is in default. */
  cureDeadlinePassed: boolean;
  /**
   * What a Notice of Exclusive Control delivered now would make due, before the penalty: the pledgor's figure while
   * a dispute is open, a mark only once its dispute window has passed (or it was agreed).
   */
  enforceableExposure: bigint;
  /** The open call's requirement when it was issued, and the value delivered against it so far. */
  callRequirement: bigint;
  callDelivered: bigint;
  positions: AssetPosition[];
}

/**
 * The EIP-712 domain of pledge consents: the factory's, which verifies them for its vaults. A consent names its
 * agreement through the vault's `termsHash()`, which commits to the vault's address.
 */
export function pledgeConsentDomain(chainId: bigint, factory: string) {
  return { name: "AgreementFactory", version: "1", chainId, verifyingContract: factory };
}

/** The EIP-712 types of a pledge consent: `PledgeConsent(bytes32 termsHash,uint256 deadline)`. */
export const PLEDGE_CONSENT_TYPES = {
  PledgeConsent: [
    { name: "termsHash", type: "bytes32" },
    { name: "deadline", type: "uint256" },
  ],
};

const vaultInterface = CollateralVault__factory.createInterface();

/**
 * Converts a human amount ("1250.5") to raw token units with the token's decimals.
 * @throws InputError when the amount is malformed, negative, has more decimals than the token, or exceeds uint256.
 */
export function parseAmount(amount: string, decimals: number, symbol = "the token"): bigint {
  const match = /^(\d+)(?:\.(\d+))?$/.exec(amount.trim());
  if (!match) throw new InputError(`"${amount}" is not a positive decimal amount`);
  const fraction = match[2] ?? "";
  if (fraction.length > decimals) {
    throw new InputError(
      `"${amount}" has ${fraction.length} decimals, but ${symbol} has only ${decimals}`,
    );
  }
  const raw = parseUnits(amount.trim(), decimals);
  if (raw > MaxUint256) {
    throw new InputError(
      `"${amount}" is more than any token can carry: ${raw} raw units, above 2^256 - 1`,
    );
  }
  return raw;
}

/** The hash of a legal document (a Notice of Exclusive Control), for the on-chain record. */
export function documentHash(document: string | Uint8Array): string {
  return typeof document === "string" ? keccakText(document) : keccak256(document);
}

function toStatus(raw: Awaited<ReturnType<CollateralLens["status"]>>): AgreementStatus {
  return {
    vault: raw.vault,
    state: VAULT_STATES[Number(raw.state)],
    exposure: raw.exposure,
    requirement: raw.requirement,
    marketValue: raw.marketValue,
    collateralValue: raw.collateralValue,
    coverageBps: raw.coverageBps === 2n ** 256n - 1n ? undefined : raw.coverageBps,
    pricesValid: raw.pricesValid,
    callAmount: raw.callAmount,
    callDeadline: raw.callDeadline,
    disputed: raw.disputed,
    undisputedExposure: raw.undisputedExposure,
    callableRequirement: raw.callableRequirement,
    minimumTransferAmount: raw.minimumTransferAmount,
    marginCallDue: raw.marginCallDue,
    cureDeadlinePassed: raw.cureDeadlinePassed,
    enforceableExposure: raw.enforceableExposure,
    callRequirement: raw.callRequirement,
    callDelivered: raw.callDelivered,
    positions: raw.positions.map((p) => ({
      asset: p.asset,
      balance: p.balance,
      marketValue: p.marketValue,
      collateralValue: p.collateralValue,
      haircutBps: Number(p.haircutBps),
      concentrationCapBps: Number(p.concentrationCapBps),
      eligible: p.eligible,
      priceValid: p.priceValid,
    })),
  };
}

const ERC20_ABI = [
  "function allowance(address owner, address spender) view returns (uint256)",
  "function approve(address spender, uint256 amount) returns (bool)",
  "function balanceOf(address owner) view returns (uint256)",
  "function decimals() view returns (uint8)",
  "function symbol() view returns (string)",
];

/** The runner as a Signer, for actions that send transactions; a Provider alone is refused in words. */
function requireSigner(runner: ContractRunner): Signer {
  if (typeof (runner as Signer).getAddress !== "function") {
    throw new InputError("this action needs a Signer, not a Provider");
  }
  return runner as Signer;
}

/** Approves `spender` for `amount` of `token` only when the current allowance falls short of it. */
export async function approveIfNeeded(
  signer: Signer,
  token: string,
  spender: string,
  amount: bigint,
) {
  const erc20 = new Contract(token, ERC20_ABI, signer);
  const owner = await signer.getAddress();
  const allowance: bigint = await erc20.allowance(owner, spender);
  if (allowance >= amount) return undefined;
  return transact(erc20.approve, spender, amount);
}

/** The system as deployed on one network: open agreements, read many statuses, run keeper batches. */
export class CollateralSystem {
  readonly factory: AgreementFactory;
  readonly lens: CollateralLens;

  constructor(
    readonly book: AddressBook,
    readonly runner: ContractRunner,
  ) {
    this.factory = AgreementFactory__factory.connect(
      book.contracts.AgreementFactory.address,
      runner,
    );
    this.lens = CollateralLens__factory.connect(book.contracts.CollateralLens.address, runner);
  }

  /** The vault address `openAgreement` will deploy to, before it exists. */
  async predictVault(params: {
    creator: string;
    pledgor: string;
    securedParty: string;
    controlAgent?: string;
    salt: string;
  }): Promise<string> {
    return this.factory.predictVault(
      params.creator,
      params.pledgor,
      params.securedParty,
      params.controlAgent ?? ZeroAddress,
      params.salt,
    );
  }

  /** Opens an agreement as the connected signer (a party) and returns its client. */
  async openAgreement(params: {
    pledgor: string;
    securedParty: string;
    controlAgent?: string;
    terms: AgreementTerms;
    schedule: EligibilityLine[];
    salt?: string;
  }) {
    const signer = this.signer();
    const salt = params.salt ?? hexlify(randomBytes(32));
    const creator = await signer.getAddress();
    const vault = await this.predictVault({ ...params, creator, salt });
    const result = await transact(
      this.factory.openAgreement,
      params.pledgor,
      params.securedParty,
      params.controlAgent ?? ZeroAddress,
      params.terms,
      params.schedule,
      salt,
    );
    return { ...result, vault, agreement: this.agreement(vault) };
  }

  /** A client for an existing agreement's vault. */
  agreement(vault: string, runner: ContractRunner = this.runner): Agreement {
    return new Agreement(getAddress(vault), runner, this);
  }

  /** Every agreement the factory has opened, in opening order. */
  async agreements(): Promise<string[]> {
    const count = await this.factory.agreementCount();
    return Promise.all(
      Array.from({ length: Number(count) }, (_, i) => this.factory.agreementAt(i)),
    );
  }

  /** The status of many agreements in one call. */
  async statusOf(vaults: string[]): Promise<AgreementStatus[]> {
    return (await this.lens.statusOf(vaults)).map(toStatus);
  }

  /**
   * As a keeper: opens margin calls for every due agreement among `vaults` in one transaction; returns which got
   * a call and which were met at once by their automatic top-up.
   */
  async issueMarginCalls(vaults: string[]) {
    const result = await transact(this.factory.issueMarginCalls, vaults);
    const called: string[] = [];
    const met: string[] = [];
    for (const log of result.receipt.logs) {
      const parsed = vaultInterface.parseLog(log);
      if (parsed?.name === "MarginCallIssued") called.push(getAddress(log.address));
      if (parsed?.name === "MarginCallMet") met.push(getAddress(log.address));
    }
    return { ...result, called, met };
  }

  signer(): Signer {
    return requireSigner(this.runner);
  }
}

/** One agreement's vault, seen by whoever the runner is: pledgor, secured party, control agent or keeper. */
export class Agreement {
  readonly vault: CollateralVault;

  constructor(
    readonly address: string,
    readonly runner: ContractRunner,
    readonly system: CollateralSystem,
  ) {
    this.vault = CollateralVault__factory.connect(address, runner);
  }

  /** The same agreement seen by another signer. */
  as(runner: ContractRunner): Agreement {
    return new Agreement(this.address, runner, this.system);
  }

  private signer(): Signer {
    return requireSigner(this.runner);
  }

  /** Full status: values per asset, haircuts, coverage, open call and deadline, state. */
  async status(): Promise<AgreementStatus> {
    return toStatus(await this.system.lens.status(this.address));
  }

  /**
   * Why each held asset without a valid price has none, in words: the oracle's own refusal (a stale, future-dated,
   * out-of-bounds or unreadable answer, a sequencer down) with its values, e.g. the feed's last update and maximum age.
   * @param status This agreement's status when the caller has just read it (read here otherwise).
   */
  async priceProblems(
    status?: AgreementStatus,
  ): Promise<Array<{ asset: string; message: string }>> {
    status ??= await this.status();
    const problems: Array<{ asset: string; message: string }> = [];
    for (const position of status.positions) {
      if (position.priceValid || position.balance === 0n) continue;
      const message = await this.vault.valueOfHolding
        .staticCall(position.asset, position.balance)
        .then(
          () => "the price became valid again",
          (error: unknown) => decodeError(error)?.message ?? (error as Error).message,
        );
      problems.push({ asset: position.asset, message });
    }
    return problems;
  }

  async parties() {
    const [pledgor, securedParty, controlAgent, factory] = await this.vault.parties();
    return { pledgor, securedParty, controlAgent, factory };
  }

  /**
   * Refuses in words, before any transaction is sent (an approval included), a delivery of `amount` of `asset` that
   * the vault would refuse or the wallet cannot make: a signer that is not the pledgor, a vault past the states
   * that take deliveries (`states`), an asset the schedule does not list, a wallet holding too little.
   */
  private async checkDelivery(
    action: string,
    asset: string,
    amount: bigint,
    states: readonly VaultStateName[],
  ) {
    if (amount <= 0n) throw new InputError(`the ${action} amount must be above zero`);
    const from = await this.signer().getAddress();
    const [{ pledgor }, state, line] = await Promise.all([
      this.parties(),
      this.vault.state(),
      this.vault.eligibility(asset),
    ]);
    if (getAddress(from) !== getAddress(pledgor)) {
      throw new InputError(
        `${from} is not this agreement's pledgor (${pledgor}); only the pledgor may ${action}`,
      );
    }
    const stateName = VAULT_STATES[Number(state)];
    if (!states.includes(stateName)) {
      throw new InputError(
        `the vault is ${stateName}; a ${action} needs it ${states.join(" or ")}`,
      );
    }
    if (line.feed === ZeroAddress) {
      throw new InputError(
        `asset ${asset} is not eligible collateral under the agreement's schedule`,
      );
    }
    const token = new Contract(asset, ERC20_ABI, this.runner);
    const [held, decimals, symbol] = await Promise.all([
      token.balanceOf(from) as Promise<bigint>,
      token.decimals() as Promise<bigint>,
      (token.symbol() as Promise<string>).catch(() => asset),
    ]);
    if (held < amount) {
      const show = (raw: bigint) => `${formatUnits(raw, decimals)} ${symbol}`;
      throw new InputError(
        `${from} holds ${show(held)}, less than the ${show(amount)} to ${action}`,
      );
    }
  }

  /**
   * Posts `amount` (raw units) of `asset`, approving the vault for exactly what is missing first. Nothing is sent,
   * not even the approval, unless the signer is the pledgor, the vault takes deposits, the asset is eligible and the
   * wallet holds the amount.
   */
  async deposit(asset: string, amount: bigint) {
    await this.checkDelivery("deposit", asset, amount, ["Open", "Pledged", "MarginCall"]);
    await approveIfNeeded(this.signer(), asset, this.address, amount);
    return transact(this.vault.deposit, asset, amount);
  }

  /**
   * Sets the accounted balance of `asset` to what the vault holds (rebasing tokens): anyone writes a shortfall
   * down; only the pledgor credits a surplus, and only of an eligible asset.
   */
  async reconcile(asset: string) {
    return transact(this.vault.reconcile, asset);
  }

  /** Takes back `amount` of `asset` (the pledgor), to itself unless `to` is given. */
  async withdraw(asset: string, amount: bigint, to?: string) {
    return transact(this.vault.withdraw, asset, amount, to ?? (await this.signer().getAddress()));
  }

  /** Swaps `amountOut` of `assetOut` for `amountIn` of `assetIn` in one transaction (the pledgor). */
  async substitute(
    assetIn: string,
    amountIn: bigint,
    assetOut: string,
    amountOut: bigint,
    to?: string,
  ) {
    await this.checkDelivery("substitute", assetIn, amountIn, ["Pledged"]);
    await approveIfNeeded(this.signer(), assetIn, this.address, amountIn);
    const receiver = to ?? (await this.signer().getAddress());
    return transact(this.vault.substitute, assetIn, amountIn, assetOut, amountOut, receiver);
  }

  /**
   * This party's consent to the pledge under the exact terms `termsHash` (the vault's `termsHash()` the party
   * reviewed; read now when omitted). The second consent to the same terms moves the vault to Pledged; a schedule
   * change in between voids the first, and a consent naming terms that changed is refused (`TermsHashMismatch`).
   */
  async consentToPledge(termsHash?: string) {
    const hash = termsHash ?? (await this.vault.termsHash());
    return transact(this.vault.consentToPledge, hash);
  }

  /** Signs this party's EIP-712 pledge consent (in the factory's domain) for the other party to submit. */
  async signPledgeConsent(deadline: bigint): Promise<string> {
    const signer = this.signer();
    const { chainId } = await signer.provider!.getNetwork();
    const { factory } = await this.parties();
    return signer.signTypedData(pledgeConsentDomain(chainId, factory), PLEDGE_CONSENT_TYPES, {
      termsHash: await this.vault.termsHash(),
      deadline,
    });
  }

  /** Consents and submits the other party's signed consent in one transaction. */
  async pledgeWithSignature(deadline: bigint, otherPartySignature: string) {
    return transact(this.vault.pledgeWithSignature, deadline, otherPartySignature);
  }

  /** The secured party's exposure, in base currency WAD. */
  async setExposure(exposure: bigint) {
    return transact(this.vault.setExposure, exposure);
  }

  /**
   * The pledgor disputes the latest mark within its dispute window, with its own figure: that figure (never below
   * what was already enforceable) is then what stays callable and enforceable until the dispute ends.
   */
  async disputeExposure(pledgorExposure: bigint) {
    return transact(this.vault.disputeExposure, pledgorExposure);
  }

  /**
   * Ends or narrows a dispute, by agreement: the pledgor accepts the mark (a figure at or above it) or raises its
   * own figure; the secured party accepts the pledgor's figure or less; the control agent decides any figure.
   */
  async resolveDispute(agreedExposure: bigint) {
    return transact(this.vault.resolveDispute, agreedExposure);
  }

  /** What a notice delivered now would make due before the penalty (see `AgreementStatus.enforceableExposure`). */
  async enforceableExposure(): Promise<bigint> {
    return this.vault.enforceableExposure();
  }

  /** The open margin call: amount, deadline, the requirement it answered and the value delivered so far. */
  async marginCall(): Promise<{
    amount: bigint;
    deadline: bigint;
    requirementAtIssue: bigint;
    delivered: bigint;
  }> {
    const [amount, deadline, requirementAtIssue, delivered] = await this.vault.marginCall();
    return { amount, deadline, requirementAtIssue, delivered };
  }

  /** The pledgor's automatic top-up: `source` approves the vault; assets in cost order with total caps. */
  async configureTopUp(source: string, assets: { asset: string; cap: bigint }[]) {
    return transact(
      this.vault.configureTopUp,
      source,
      assets.map((a) => a.asset),
      assets.map((a) => a.cap),
    );
  }

  /** As a keeper: opens a margin call; `met` tells whether the automatic top-up met it at once. */
  async issueMarginCall() {
    const result = await transact(this.vault.issueMarginCall);
    return { ...result, met: result.result };
  }

  /**
   * Closes the open margin call once it is met (anyone may). Without an open call nothing is sent and the
   * `InputError` says why: a delivery that meets a call closes it in the same transaction (`MarginCallMet`).
   */
  async closeMarginCall() {
    const state = VAULT_STATES[Number(await this.vault.state())];
    if (state === "Pledged") {
      throw new InputError(
        "no margin call is open (the vault is Pledged): the last call was met and closed already; " +
          "a delivery that meets a call closes it in the same transaction (MarginCallMet)",
      );
    }
    if (state !== "MarginCall") {
      throw new InputError(`no margin call is open: the vault is ${state}`);
    }
    return transact(this.vault.closeMarginCall);
  }

  async declareDefault() {
    return transact(this.vault.declareDefault);
  }

  /** Delivers the Notice of Exclusive Control: pass the signed document (hashed here) or its 32-byte hash. */
  async deliverNoticeOfExclusiveControl(document: string | Uint8Array) {
    const hash =
      typeof document === "string" && isHexString(document, 32) ? document : documentHash(document);
    return transact(this.vault.deliverNoticeOfExclusiveControl, hash);
  }

  /** Under exclusive control: appropriates `amount` of `asset` to `to` at oracle value. */
  async instructTransfer(asset: string, amount: bigint, to: string) {
    return transact(this.vault.instructTransfer, asset, amount, to);
  }

  /**
   * Under exclusive control: sells `amount` of `asset` to `buyer` for `cashAmount` of `cashToken` through DvP.
   * `buyerSignature` is the buyer's signature of `liquidationSettlement(...)`; see `signLiquidation`.
   */
  async liquidate(params: LiquidationOrder & { buyerSignature: string }) {
    const p = params;
    return transact(
      this.vault.liquidate,
      p.asset,
      p.amount,
      p.cashToken,
      p.cashAmount,
      p.buyer,
      p.deadline,
      p.nonce,
      p.buyerSignature,
    );
  }

  /** The two-leg settlement a liquidation sale executes: the buyer signs exactly this. */
  async liquidationSettlement(order: LiquidationOrder) {
    const { securedParty } = await this.parties();
    return buildSettlement(
      [
        erc20Leg(order.asset, order.amount, this.address, order.buyer),
        erc20Leg(order.cashToken, order.cashAmount, order.buyer, securedParty),
      ],
      order.deadline,
      order.nonce,
    );
  }

  /** As the buyer: approves the DvP contract for the cash and signs the liquidation settlement. */
  async signLiquidation(
    buyer: Signer,
    order: Omit<LiquidationOrder, "nonce"> & { nonce?: bigint },
  ) {
    const full: LiquidationOrder = { ...order, nonce: order.nonce ?? randomNonce() };
    const dvp = this.system.book.contracts.DvPSettlement.address;
    await approveIfNeeded(buyer, order.cashToken, dvp, order.cashAmount);
    const settlement = await this.liquidationSettlement(full);
    const signature = await signSettlement(buyer, settlement, dvp);
    return { ...full, buyerSignature: signature };
  }

  /**
   * Ends the agreement: everything accounted returns to the pledgor. The secured party may release any time after
   * the pledge; under exclusive control anyone may once what is still due is below the minimum transfer amount or
   * the appropriation period has passed since the notice or the last appropriation.
   */
  async release() {
    return transact(this.vault.release);
  }

  /** The secured party changes one schedule line (a live tightening waits out the notice period). */
  async changeEligibility(line: EligibilityLine) {
    return transact(this.vault.changeEligibility, line);
  }
}

export interface LiquidationOrder {
  asset: string;
  amount: bigint;
  cashToken: string;
  cashAmount: bigint;
  buyer: string;
  deadline: bigint;
  nonce: bigint;
}
