// The `collateral:*` tasks that pass a signature from one party to another as a file: the pledge consent one party
// signs and the other submits, and the liquidation sale a buyer signs and the secured party executes. Each file is
// checked (agreement, terms, deadline, signer) before anything is sent.
import { writeFileSync } from "node:fs";

import { Contract, getAddress, isHexString } from "ethers";

import { formatAmount, type LiquidationOrder } from "../../sdk/index.js";
import {
  TaskInputError,
  agreementFor,
  asTaskInput,
  readJsonFile,
  requireAddress,
  required,
  tokenAmount,
  type TaskContext,
} from "./actions.js";

type AgreementArgs = { vault?: string; account: number };

/** A signed pledge consent, as `collateral:sign-pledge` writes it. */
export interface PledgeConsentFile {
  vault: string;
  termsHash: string;
  deadline: string;
  signer: string;
  signature: string;
}

/** A buyer's signed liquidation order, as `collateral:sign-sale` writes it (amounts in raw units). */
export interface SaleOrderFile {
  vault: string;
  asset: string;
  amount: string;
  cashToken: string;
  cashAmount: string;
  buyer: string;
  deadline: string;
  nonce: string;
  buyerSignature: string;
}

/** Seconds a signature stays valid (`--valid-for`), checked to be a positive whole number. */
function validFor(text: string | undefined): bigint {
  const value = text ?? "86400";
  if (!/^\d+$/.test(value) || BigInt(value) === 0n) {
    throw new TaskInputError(`--valid-for must be a positive number of seconds, not "${value}"`);
  }
  return BigInt(value);
}

async function chainTime(ctx: TaskContext): Promise<bigint> {
  const block = await ctx.ethers.provider.getBlock("latest");
  return BigInt(block!.timestamp);
}

/** Writes `content` as JSON to `out`, or logs it; bigints as decimal strings. */
function emit(ctx: TaskContext, content: object, out: string | undefined, what: string) {
  const text = JSON.stringify(content, null, 2);
  if (out) {
    writeFileSync(out, text + "\n");
    ctx.log?.(`${what} written to ${out}`);
  } else {
    ctx.log?.(text);
  }
}

/** A field of a signature file that must be a whole number. */
function wholeNumber(value: unknown, what: string): bigint {
  if (typeof value !== "string" || !/^\d+$/.test(value)) {
    throw new TaskInputError(`${what} must be a string of digits, not ${JSON.stringify(value)}`);
  }
  return BigInt(value);
}

/**
 * collateral:sign-pledge — the signer (one party) signs its consent to the pledge on the current terms, valid for
 * `--valid-for` seconds, for the other party to submit with `collateral:pledge`.
 */
export async function signPledgeAction(
  ctx: TaskContext,
  args: AgreementArgs & { validFor?: string; out?: string },
): Promise<PledgeConsentFile> {
  const seconds = validFor(args.validFor);
  const { from, vault, agreement } = await agreementFor(ctx, args);
  const { pledgor, securedParty } = await agreement.parties();
  if (from.address !== pledgor && from.address !== securedParty) {
    throw new TaskInputError(
      `${from.address} is neither the pledgor (${pledgor}) nor the secured party (${securedParty}) of ${vault}`,
    );
  }
  const deadline = (await chainTime(ctx)) + seconds;
  const consent: PledgeConsentFile = {
    vault,
    termsHash: await agreement.vault.termsHash(),
    deadline: deadline.toString(),
    signer: from.address,
    signature: await agreement.signPledgeConsent(deadline),
  };
  emit(ctx, consent, args.out, `pledge consent of ${from.address} to ${vault}`);
  return consent;
}

/**
 * collateral:pledge — the other party consents and submits the signed consent in `--consent` in one transaction;
 * the vault is then Pledged.
 */
export async function pledgeAction(ctx: TaskContext, args: AgreementArgs & { consent?: string }) {
  const consent = readJsonFile<PledgeConsentFile>(
    required(args.consent, "--consent"),
    "consent file",
  );
  const { from, vault, agreement } = await agreementFor(ctx, args);
  if (
    !consent.vault ||
    getAddress(requireAddress(consent.vault, "the consent's vault")) !== vault
  ) {
    throw new TaskInputError(`the consent is for ${consent.vault}, not ${vault}`);
  }
  if (consent.signer === from.address) {
    throw new TaskInputError(`the consent is ${from.address}'s own; the other party submits it`);
  }
  const termsHash = await agreement.vault.termsHash();
  if (consent.termsHash !== termsHash) {
    throw new TaskInputError(
      `the terms of ${vault} changed since the consent was signed (it names ${consent.termsHash}, now ${termsHash}): sign again`,
    );
  }
  const deadline = wholeNumber(consent.deadline, "the consent's deadline");
  const now = await chainTime(ctx);
  if (deadline < now) {
    throw new TaskInputError(
      `the consent expired at ${new Date(Number(deadline) * 1000).toISOString()}: sign again`,
    );
  }
  if (!isHexString(consent.signature)) {
    throw new TaskInputError("the consent's signature is not hex data");
  }
  const result = await asTaskInput(() =>
    agreement.pledgeWithSignature(deadline, consent.signature),
  );
  ctx.log?.(
    `${vault} is pledged: ${from.address} consented and submitted ${consent.signer}'s consent`,
  );
  return result;
}

/**
 * collateral:sign-sale — the buyer (the signer) offers `--cash-amount` of `--cash-token` for `--amount` of
 * `--asset` held by an agreement under exclusive control: approves the DvP contract for the cash and signs the
 * two-leg settlement the vault's `liquidate` executes. Nothing is sent unless the agreement is under exclusive
 * control, holds the asset and the buyer holds the cash.
 */
export async function signSaleAction(
  ctx: TaskContext,
  args: AgreementArgs & {
    asset?: string;
    amount?: string;
    cashToken?: string;
    cashAmount?: string;
    validFor?: string;
    out?: string;
  },
): Promise<SaleOrderFile> {
  const asset = getAddress(requireAddress(required(args.asset, "--asset"), "--asset"));
  const cashToken = getAddress(
    requireAddress(required(args.cashToken, "--cash-token"), "--cash-token"),
  );
  const seconds = validFor(args.validFor);
  const { from: buyer, vault, agreement } = await agreementFor(ctx, args);
  const sold = await tokenAmount(ctx, asset, required(args.amount, "--amount"));
  const paid = await tokenAmount(ctx, cashToken, required(args.cashAmount, "--cash-amount"));
  const status = await agreement.status();
  if (status.state !== "ExclusiveControl") {
    throw new TaskInputError(
      `${vault} is ${status.state}; collateral is sold only under exclusive control (after the notice)`,
    );
  }
  const held = status.positions.find((p) => getAddress(p.asset) === asset)?.balance ?? 0n;
  if (held < sold.amount) {
    throw new TaskInputError(
      `${vault} holds ${formatAmount(held, sold.decimals)} ${sold.symbol}, less than the ${args.amount} offered for`,
    );
  }
  const cash = new Contract(
    cashToken,
    ["function balanceOf(address) view returns (uint256)"],
    buyer,
  );
  const wallet = (await cash.balanceOf(buyer.address)) as bigint;
  if (wallet < paid.amount) {
    throw new TaskInputError(
      `the buyer ${buyer.address} holds ${formatAmount(wallet, paid.decimals)} ${paid.symbol}, less than the ${args.cashAmount} offered`,
    );
  }
  const deadline = (await chainTime(ctx)) + seconds;
  const order = await agreement.signLiquidation(buyer, {
    asset,
    amount: sold.amount,
    cashToken,
    cashAmount: paid.amount,
    buyer: buyer.address,
    deadline,
  });
  const file: SaleOrderFile = {
    vault,
    asset,
    amount: order.amount.toString(),
    cashToken,
    cashAmount: order.cashAmount.toString(),
    buyer: buyer.address,
    deadline: order.deadline.toString(),
    nonce: order.nonce.toString(),
    buyerSignature: order.buyerSignature,
  };
  emit(
    ctx,
    file,
    args.out,
    `offer of ${args.cashAmount} ${paid.symbol} for ${args.amount} ${sold.symbol} of ${vault}`,
  );
  return file;
}

/** collateral:liquidate — the secured party (or control agent) executes the buyer's signed sale in `--order`. */
export async function liquidateAction(ctx: TaskContext, args: AgreementArgs & { order?: string }) {
  const file = readJsonFile<SaleOrderFile>(required(args.order, "--order"), "order file");
  const { vault, agreement } = await agreementFor(ctx, args);
  if (!file.vault || getAddress(requireAddress(file.vault, "the order's vault")) !== vault) {
    throw new TaskInputError(`the order is for ${file.vault}, not ${vault}`);
  }
  const order: LiquidationOrder & { buyerSignature: string } = {
    asset: requireAddress(file.asset, "the order's asset"),
    amount: wholeNumber(file.amount, "the order's amount"),
    cashToken: requireAddress(file.cashToken, "the order's cashToken"),
    cashAmount: wholeNumber(file.cashAmount, "the order's cashAmount"),
    buyer: requireAddress(file.buyer, "the order's buyer"),
    deadline: wholeNumber(file.deadline, "the order's deadline"),
    nonce: wholeNumber(file.nonce, "the order's nonce"),
    buyerSignature: file.buyerSignature,
  };
  if (order.deadline < (await chainTime(ctx))) {
    throw new TaskInputError(
      `the buyer's order expired at ${new Date(Number(order.deadline) * 1000).toISOString()}`,
    );
  }
  const result = await asTaskInput(() => agreement.liquidate(order));
  ctx.log?.(`sold collateral of ${vault} to ${order.buyer}: settlement ${result.result}`);
  return result;
}
