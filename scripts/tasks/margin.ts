// The `collateral:*` tasks of the margin workflow between marks and calls: disputing a mark, resolving the dispute
// by agreement, and the pledgor's automatic top-up. Bad input throws a TaskInputError before anything is sent.
import { Contract, getAddress } from "ethers";

import { approveIfNeeded } from "../../sdk/agreements.js";
import { formatAmount } from "../../sdk/index.js";
import {
  TaskInputError,
  agreementFor,
  asTaskInput,
  baseAmount,
  requireAddress,
  required,
  tokenAmount,
  type TaskContext,
} from "./actions.js";

type AgreementArgs = { vault?: string; account: number };

/** collateral:dispute — the pledgor disputes the latest mark with its own figure (`--exposure`, base currency). */
export async function disputeAction(ctx: TaskContext, args: AgreementArgs & { exposure?: string }) {
  const figure = baseAmount(required(args.exposure, "--exposure"), "--exposure");
  const { vault, agreement } = await agreementFor(ctx, args);
  const result = await asTaskInput(() => agreement.disputeExposure(figure));
  ctx.log?.(`the mark of ${vault} is disputed; the pledgor's figure is ${args.exposure}`);
  return result;
}

/**
 * collateral:resolve — ends or narrows the dispute at `--exposure`: the pledgor accepting the mark (or raising its
 * figure), the secured party accepting the pledgor's figure (or less), or the control agent deciding.
 */
export async function resolveAction(ctx: TaskContext, args: AgreementArgs & { exposure?: string }) {
  const figure = baseAmount(required(args.exposure, "--exposure"), "--exposure");
  const { vault, agreement } = await agreementFor(ctx, args);
  const result = await asTaskInput(() => agreement.resolveDispute(figure));
  const ended = result.events.some((e) => e.name === "DisputeResolved");
  ctx.log?.(
    ended
      ? `the dispute on ${vault} ended at ${args.exposure}`
      : `the dispute on ${vault} narrowed to ${args.exposure}; it stays open`,
  );
  return result;
}

/**
 * The `--assets` list of a top-up: "asset:cap,asset:cap" in the pledgor's cost order, each cap in whole tokens of
 * that asset.
 */
async function topUpAssets(ctx: TaskContext, text: string) {
  const assets: { asset: string; cap: bigint; symbol: string; decimals: number }[] = [];
  for (const [i, item] of text.split(",").entries()) {
    const [asset, cap, extra] = item.trim().split(":");
    if (!asset || !cap || extra !== undefined) {
      throw new TaskInputError(
        `--assets item ${i} is "${item}"; each item is <asset address>:<cap in whole tokens>, e.g. 0xAb…:250000`,
      );
    }
    requireAddress(asset, `--assets item ${i} asset`);
    const { amount, symbol, decimals } = await tokenAmount(ctx, asset, cap);
    assets.push({ asset, cap: amount, symbol, decimals });
  }
  return assets;
}

/**
 * collateral:top-up — the pledgor authorises `--source` (default: itself) to be pulled automatically when a margin
 * call is issued, `--assets` in cost order, each up to its cap. When the source is the signer, it then approves the
 * vault for each cap; another source is told what it must approve.
 */
export async function topUpAction(
  ctx: TaskContext,
  args: AgreementArgs & { source?: string; assets?: string },
) {
  const assetsText = required(args.assets, "--assets");
  const { from, vault, agreement } = await agreementFor(ctx, args);
  const source = args.source ? getAddress(requireAddress(args.source, "--source")) : from.address;
  const assets = await topUpAssets(ctx, assetsText);
  const result = await asTaskInput(() => agreement.configureTopUp(source, assets));
  const names = assets.map((a) => `${formatAmount(a.cap, a.decimals)} ${a.symbol}`).join(", ");
  ctx.log?.(`automatic top-up of ${vault} from ${source}: ${names}`);
  for (const { asset, cap, symbol, decimals } of assets) {
    const shown = `${formatAmount(cap, decimals)} ${symbol}`;
    if (source === from.address) {
      if (await approveIfNeeded(from, asset, vault, cap))
        ctx.log?.(`  approved ${vault} for ${shown}`);
      continue;
    }
    const token = new Contract(
      asset,
      ["function allowance(address,address) view returns (uint256)"],
      from,
    );
    const allowance = (await token.allowance(source, vault)) as bigint;
    if (allowance < cap) {
      ctx.log?.(
        `  ${source} must approve ${vault} for ${shown} (it allows ${formatAmount(allowance, decimals)})`,
      );
    }
  }
  return result;
}
