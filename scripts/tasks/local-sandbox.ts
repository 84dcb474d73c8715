// A sandbox on a local chain (`npx hardhat node`): demo collateral an integrator can pledge at once, and a price
// setter for its feeds. The tokens and feeds are the project's test doubles, so both tasks refuse any chain but the
// local ones (chain id 31337).
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";

import { parseUnits } from "ethers";

import { writeAddressBook } from "../../sdk/index.js";
import { TaskInputError, book, required, signer, type TaskContext } from "./actions.js";

const LOCAL_CHAIN_ID = 31337n;
const FEED_DECIMALS = 8;

async function requireLocal(ctx: TaskContext, task: string) {
  const { chainId } = await ctx.ethers.provider.getNetwork();
  if (chainId !== LOCAL_CHAIN_ID) {
    throw new TaskInputError(
      `${task} deploys test doubles and runs only on a local chain (chain id ${LOCAL_CHAIN_ID}); this is chain ${chainId}`,
    );
  }
}

/**
 * collateral:sandbox — deploys a 6-decimal tokenized T-bill, an 18-decimal stablecoin and an ERC-4626 money-market
 * fund share over the stablecoin, with $1 feeds; gives each of the first `--accounts` accounts 10,000,000 T-bills,
 * 10,000,000 stablecoins and 1,000,000 fund shares; records them in the address book and writes an agreement file
 * (`deployments/sandbox/<network>.agreement.json`) that lists all three, with account 2 as the secured party.
 */
export async function sandboxAction(ctx: TaskContext, args: { accounts: number }) {
  await requireLocal(ctx, "collateral:sandbox");
  const addressBook = await book(ctx);
  const deployer = await signer(ctx, 0);
  const signers = await ctx.ethers.getSigners();
  if (!Number.isInteger(args.accounts) || args.accounts < 1 || args.accounts > signers.length) {
    throw new TaskInputError(`--accounts must be 1..${signers.length}, not ${args.accounts}`);
  }
  const deploy = async (name: string, params: unknown[]) => {
    const contract = await ctx.ethers.deployContract(name, params, deployer);
    await contract.waitForDeployment();
    return contract;
  };
  const tbill = await deploy("MockERC20", ["Sandbox Tokenized T-Bill", "TBILL", 6]);
  const usds = await deploy("MockERC20", ["Sandbox Stablecoin", "USDS", 18]);
  const fund = await deploy("MockERC4626", [
    await usds.getAddress(),
    "Sandbox Money-Market Fund",
    "MMF",
  ]);
  const dollar = parseUnits("1", FEED_DECIMALS);
  const tbillFeed = await deploy("MockPriceFeed", [FEED_DECIMALS, dollar]);
  const usdsFeed = await deploy("MockPriceFeed", [FEED_DECIMALS, dollar]);

  for (const holder of signers.slice(0, args.accounts)) {
    await (await tbill.getFunction("mint")(holder.address, parseUnits("10000000", 6))).wait();
    await (await usds.getFunction("mint")(holder.address, parseUnits("11000000", 18))).wait();
    const shares = parseUnits("1000000", 18);
    await (
      await usds.connect(holder).getFunction("approve")(await fund.getAddress(), shares)
    ).wait();
    await (await fund.connect(holder).getFunction("deposit")(shares, holder.address)).wait();
  }

  const tokens = {
    TBILL: await tbill.getAddress(),
    USDS: await usds.getAddress(),
    MMF: await fund.getAddress(),
  };
  const feeds = { TBILL: await tbillFeed.getAddress(), USDS: await usdsFeed.getAddress() };
  const folder = ctx.deployments ?? "deployments";
  writeAddressBook({ ...addressBook, sandbox: { tokens, feeds } }, folder);

  const line = (asset: string, feed: string, kind: string, haircutBps: number) => ({
    asset,
    feed,
    kind,
    maxPriceAge: 86_400,
    // Bounds in the feed's units (8 decimals): $0.01 to $1,000.
    minAnswer: String(parseUnits("0.01", FEED_DECIMALS)),
    maxAnswer: String(parseUnits("1000", FEED_DECIMALS)),
    haircutBps,
    concentrationCapBps: 10_000,
  });
  const agreementFile = path.join(folder, "sandbox", `${ctx.networkName}.agreement.json`);
  mkdirSync(path.dirname(agreementFile), { recursive: true });
  writeFileSync(
    agreementFile,
    JSON.stringify(
      {
        securedParty: signers[2].address,
        terms: {
          threshold: "0",
          independentAmount: "0",
          minimumTransferAmount: "1000",
          roundingAmount: "1000",
          curePeriod: 86_400,
          scheduleNoticePeriod: 172_800,
          disputeWindow: 86_400,
          liquidationPenaltyBps: 500,
          maxLiquidationDiscountBps: 300,
          appropriationPeriod: 604_800,
        },
        schedule: [
          line(tokens.TBILL, feeds.TBILL, "ERC20", 200),
          line(tokens.USDS, feeds.USDS, "ERC20", 0),
          // The fund share is priced through its underlying: the stablecoin's feed and ERC-4626 conversion.
          line(tokens.MMF, feeds.USDS, "ERC4626", 500),
        ],
      },
      null,
      2,
    ) + "\n",
  );
  ctx.log?.(
    `sandbox on ${ctx.networkName}: TBILL ${tokens.TBILL}, USDS ${tokens.USDS}, MMF ${tokens.MMF} ` +
      `(accounts 0..${args.accounts - 1} funded); agreement file ${agreementFile}`,
  );
  return { tokens, feeds, agreementFile };
}

/** collateral:price — sets a sandbox feed's answer: `--symbol TBILL --price 0.98` (US dollars). */
export async function priceAction(ctx: TaskContext, args: { symbol?: string; price?: string }) {
  await requireLocal(ctx, "collateral:price");
  const symbol = required(args.symbol, "--symbol");
  const priceText = required(args.price, "--price");
  const feeds = (await book(ctx)).sandbox?.feeds;
  if (!feeds)
    throw new TaskInputError(`no sandbox on ${ctx.networkName}: run collateral:sandbox first`);
  const feedAddress = feeds[symbol];
  if (!feedAddress) {
    throw new TaskInputError(
      `the sandbox has no feed for "${symbol}" (it has ${Object.keys(feeds).join(", ")}; MMF is priced by USDS)`,
    );
  }
  let answer: bigint;
  try {
    answer = parseUnits(priceText, FEED_DECIMALS);
  } catch {
    throw new TaskInputError(
      `--price "${priceText}" is not a decimal number of at most ${FEED_DECIMALS} decimals`,
    );
  }
  if (answer <= 0n) throw new TaskInputError(`--price must be above zero, not ${priceText}`);
  const feed = await ctx.ethers.getContractAt("MockPriceFeed", feedAddress, await signer(ctx, 0));
  await (await feed.setAnswer(answer)).wait();
  ctx.log?.(`${symbol} priced at $${priceText} (feed ${feedAddress})`);
  return answer;
}
