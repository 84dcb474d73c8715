// The `collateral:*` tasks for an agreement's life after it opens: pledge, mark, withdraw, margin calls, default,
// the Notice of Exclusive Control, appropriation, release and the audit export. Each is a plain function over a
// network connection (see actions.ts); bad input throws a TaskInputError before anything is sent, and a contract's
// refusal comes back as the SDK's CollateralError.
import { writeFileSync } from "node:fs";

import { auditTrailToCsv, auditTrailToJson, buildAuditTrail } from "../../sdk/index.js";
import {
  TaskInputError,
  agreementFor,
  baseAmount,
  asTaskInput,
  requireAddress,
  required,
  tokenAmount,
  type TaskContext,
} from "./actions.js";

type AgreementArgs = { vault?: string; account: number };

/** collateral:consent — the signer (pledgor or secured party) consents to the pledge on the current terms. */
export async function consentAction(ctx: TaskContext, args: AgreementArgs) {
  const { vault, agreement, from } = await agreementFor(ctx, args);
  const result = await asTaskInput(() => agreement.consentToPledge());
  const state = (await agreement.status()).state;
  ctx.log?.(`${from.address} consented to the pledge of ${vault}; the vault is ${state}`);
  return result;
}

/** collateral:exposure — the secured party marks the exposure (`--exposure`, base currency). */
export async function exposureAction(
  ctx: TaskContext,
  args: AgreementArgs & { exposure?: string },
) {
  const exposure = baseAmount(required(args.exposure, "--exposure"), "--exposure");
  const { vault, agreement } = await agreementFor(ctx, args);
  const result = await asTaskInput(() => agreement.setExposure(exposure));
  ctx.log?.(`exposure of ${vault} set to ${args.exposure}`);
  return result;
}

/** collateral:withdraw — the pledgor takes back `--amount` whole tokens of `--asset` (to `--to`, or itself). */
export async function withdrawAction(
  ctx: TaskContext,
  args: AgreementArgs & { asset?: string; amount?: string; to?: string },
) {
  const asset = requireAddress(required(args.asset, "--asset"), "asset");
  const to = args.to ? requireAddress(args.to, "--to") : undefined;
  const { vault, agreement } = await agreementFor(ctx, args);
  const { amount, symbol } = await tokenAmount(ctx, asset, required(args.amount, "--amount"));
  const result = await asTaskInput(() => agreement.withdraw(asset, amount, to));
  ctx.log?.(`withdrew ${args.amount} ${symbol} from ${vault}`);
  return result;
}

/**
 * collateral:substitute — the pledgor swaps `--amount-out` of `--asset-out` for `--amount-in` of `--asset-in` in one
 * transaction (approving only what is missing of the asset going in), to `--to` or itself.
 */
export async function substituteAction(
  ctx: TaskContext,
  args: AgreementArgs & {
    assetIn?: string;
    amountIn?: string;
    assetOut?: string;
    amountOut?: string;
    to?: string;
  },
) {
  const assetIn = requireAddress(required(args.assetIn, "--asset-in"), "--asset-in");
  const assetOut = requireAddress(required(args.assetOut, "--asset-out"), "--asset-out");
  const to = args.to ? requireAddress(args.to, "--to") : undefined;
  const { vault, agreement } = await agreementFor(ctx, args);
  const goingIn = await tokenAmount(ctx, assetIn, required(args.amountIn, "--amount-in"));
  const comingOut = await tokenAmount(ctx, assetOut, required(args.amountOut, "--amount-out"));
  const result = await asTaskInput(() =>
    agreement.substitute(assetIn, goingIn.amount, assetOut, comingOut.amount, to),
  );
  ctx.log?.(
    `substituted ${args.amountIn} ${goingIn.symbol} for ${args.amountOut} ${comingOut.symbol} in ${vault}`,
  );
  return result;
}

/**
 * collateral:reconcile — sets the accounted balance of `--asset` to what the vault holds (a rebasing token): anyone
 * writes a shortfall down, only the pledgor credits a surplus.
 */
export async function reconcileAction(ctx: TaskContext, args: AgreementArgs & { asset?: string }) {
  const asset = requireAddress(required(args.asset, "--asset"), "asset");
  const { vault, agreement } = await agreementFor(ctx, args);
  const result = await asTaskInput(() => agreement.reconcile(asset));
  ctx.log?.(`${asset} in ${vault} reconciled: ${result.result} raw units accounted`);
  return result;
}

/** collateral:call — anyone issues the margin call that is due (met at once by a configured top-up, if any). */
export async function callAction(ctx: TaskContext, args: AgreementArgs) {
  const { vault, agreement } = await agreementFor(ctx, args);
  const result = await asTaskInput(() => agreement.issueMarginCall());
  const status = await agreement.status();
  ctx.log?.(
    result.met
      ? `margin call on ${vault} issued and met at once by the automatic top-up`
      : `margin call on ${vault} issued; due by ${new Date(Number(status.callDeadline) * 1000).toISOString()}`,
  );
  return result;
}

/** collateral:close-call — anyone closes a margin call the collateral now meets. */
export async function closeCallAction(ctx: TaskContext, args: AgreementArgs) {
  const { vault, agreement } = await agreementFor(ctx, args);
  const result = await asTaskInput(() => agreement.closeMarginCall());
  ctx.log?.(`margin call on ${vault} closed`);
  return result;
}

/** collateral:default — a default is declared (the pledgor's acknowledgement, or an unmet call past its deadline). */
export async function defaultAction(ctx: TaskContext, args: AgreementArgs) {
  const { vault, agreement } = await agreementFor(ctx, args);
  const result = await asTaskInput(() => agreement.declareDefault());
  ctx.log?.(`default declared on ${vault}`);
  return result;
}

/** collateral:notice — the secured party delivers the Notice of Exclusive Control (`--document`: text or hash). */
export async function noticeAction(ctx: TaskContext, args: AgreementArgs & { document?: string }) {
  const document = required(args.document, "--document");
  const { vault, agreement } = await agreementFor(ctx, args);
  const result = await asTaskInput(() => agreement.deliverNoticeOfExclusiveControl(document));
  const [amountDue] = await agreement.vault.appropriation();
  ctx.log?.(`notice of exclusive control delivered for ${vault}; amount due ${amountDue} (WAD)`);
  return result;
}

/** collateral:instruct — under exclusive control, moves `--amount` of `--asset` to `--to` against what is due. */
export async function instructAction(
  ctx: TaskContext,
  args: AgreementArgs & { asset?: string; amount?: string; to?: string },
) {
  const asset = requireAddress(required(args.asset, "--asset"), "asset");
  const to = requireAddress(required(args.to, "--to"), "--to");
  const { vault, agreement } = await agreementFor(ctx, args);
  const { amount, symbol } = await tokenAmount(ctx, asset, required(args.amount, "--amount"));
  const result = await asTaskInput(() => agreement.instructTransfer(asset, amount, to));
  ctx.log?.(`instructed ${args.amount} ${symbol} from ${vault} to ${to}`);
  return result;
}

/** collateral:release — returns the collateral to the pledgor (the secured party, or anyone once it is due). */
export async function releaseAction(ctx: TaskContext, args: AgreementArgs) {
  const { vault, agreement } = await agreementFor(ctx, args);
  const result = await asTaskInput(() => agreement.release());
  ctx.log?.(`${vault} released`);
  return result;
}

/** collateral:audit — the agreement's audit trail, reconciled, as CSV or JSON, to `--out` or the console. */
export async function auditAction(
  ctx: TaskContext,
  args: AgreementArgs & { format?: string; out?: string },
) {
  const format = args.format || "csv";
  if (format !== "csv" && format !== "json") {
    throw new TaskInputError(`--format must be "csv" or "json", not "${format}"`);
  }
  const { vault, system } = await agreementFor(ctx, args);
  const trail = await buildAuditTrail(ctx.ethers.provider, system.book, vault);
  const text = format === "csv" ? auditTrailToCsv(trail) : auditTrailToJson(trail);
  if (args.out) {
    writeFileSync(args.out, text);
    ctx.log?.(
      `audit trail of ${vault}: ${trail.entries.length} entries, ${trail.reconciled ? "reconciled" : "NOT reconciled"}, written to ${args.out}`,
    );
  } else {
    ctx.log?.(text);
  }
  return trail;
}
