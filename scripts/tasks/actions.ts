// What the `collateral:*` Hardhat tasks do, as plain functions over a network connection, so integrators can
// call them from their own scripts and tests can drive them on one chain. Bad input throws a TaskInputError
// whose message says what was wrong, before anything is sent.
import { readFileSync } from "node:fs";

import type { HardhatEthers } from "@nomicfoundation/hardhat-ethers/types";
import { Contract, ZeroAddress, isAddress } from "ethers";

import {
  CollateralSystem,
  MarginMonitor,
  deploySystem,
  formatWad,
  loadAddressBook,
  parseAmount,
  type AddressBook,
  type AgreementStatus,
  type AgreementTerms,
  type EligibilityLine,
  InputError,
} from "../../sdk/index.js";

import { agreementSchemaProblem } from "./agreement-schema.js";

/** A task argument the task refuses, with the reason in words. */
export class TaskInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TaskInputError";
  }
}

export interface TaskContext {
  ethers: HardhatEthers;
  networkName: string;
  /** Folder holding the address books. */
  deployments?: string;
  log?: (line: string) => void;
}

export function required(value: string | undefined, option: string): string {
  if (value === undefined || value === "") throw new TaskInputError(`${option} is required`);
  return value;
}

export function requireAddress(value: string, what: string): string {
  if (!isAddress(value)) throw new TaskInputError(`${what} "${value}" is not an address`);
  return value;
}

/** Reads the JSON file at `path`; `what` names it in the refusal ("agreement file", "consent file"). */
export function readJsonFile<T>(path: string, what: string): T {
  try {
    return JSON.parse(readFileSync(path, "utf8")) as T;
  } catch (error) {
    throw new TaskInputError(`cannot read the ${what} ${path}: ${(error as Error).message}`);
  }
}

export async function book(ctx: TaskContext): Promise<AddressBook> {
  let loaded: AddressBook;
  try {
    loaded = loadAddressBook(ctx.networkName, ctx.deployments);
  } catch (error) {
    throw new TaskInputError((error as Error).message);
  }
  const factory = loaded.contracts.AgreementFactory.address;
  if ((await ctx.ethers.provider.getCode(factory)) === "0x") {
    throw new TaskInputError(
      `the address book for "${ctx.networkName}" names a factory at ${factory}, but this network has no contract there ` +
        "(the embedded network starts empty on every run: run `npx hardhat node` and pass --network localhost)",
    );
  }
  return loaded;
}

export async function signer(ctx: TaskContext, account: number) {
  const signers = await ctx.ethers.getSigners();
  if (!Number.isInteger(account) || account < 0 || account >= signers.length) {
    throw new TaskInputError(
      `account ${account} does not exist: this network has ${signers.length} accounts (0..${signers.length - 1})`,
    );
  }
  return signers[account];
}

async function knownVault(system: CollateralSystem, vault: string): Promise<string> {
  requireAddress(vault, "vault");
  if (!(await system.factory.isVault(vault))) {
    throw new TaskInputError(
      `${vault} is not an agreement of the factory at ${system.book.contracts.AgreementFactory.address}`,
    );
  }
  return vault;
}

/** collateral:deploy */
export async function deployAction(
  ctx: TaskContext,
  args: { guardian: string },
): Promise<AddressBook> {
  const [deployer] = await ctx.ethers.getSigners();
  const guardian = args.guardian ? requireAddress(args.guardian, "guardian") : undefined;
  const result = await deploySystem(deployer, {
    network: ctx.networkName,
    guardian,
    writeTo: ctx.deployments ?? "deployments",
  });
  ctx.log?.(
    `deployed to ${ctx.networkName} (chain ${result.chainId}); address book ${ctx.deployments ?? "deployments"}/${ctx.networkName}.json`,
  );
  for (const [name, c] of Object.entries(result.contracts))
    ctx.log?.(`  ${name.padEnd(17)} ${c.address}`);
  return result;
}

/** The JSON file `collateral:open` reads: terms in base-currency units (decimal strings) and the schedule. */
export interface AgreementFile {
  securedParty: string;
  controlAgent?: string;
  salt?: string;
  /** Base-currency amounts as decimal strings only ("500000.5"); periods and bps as integers. */
  terms: Record<keyof AgreementTerms, string | number>;
  schedule: {
    asset: string;
    feed: string;
    kind: "ERC20" | "ERC4626";
    maxPriceAge: number | string;
    minAnswer: string;
    maxAnswer: string;
    haircutBps: number | string;
    concentrationCapBps: number | string;
  }[];
}

const WAD_TERMS = new Set([
  "threshold",
  "independentAmount",
  "minimumTransferAmount",
  "roundingAmount",
]);
const TERM_NAMES: (keyof AgreementTerms)[] = [
  "threshold",
  "independentAmount",
  "minimumTransferAmount",
  "roundingAmount",
  "curePeriod",
  "scheduleNoticePeriod",
  "disputeWindow",
  "liquidationPenaltyBps",
  "maxLiquidationDiscountBps",
  "appropriationPeriod",
];

/**
 * A whole number from an agreement file: a string of digits, or a JSON number only while it is a safe integer
 * (a larger one has already been rounded by the JSON parser, so it is refused rather than used).
 */
function integerField(raw: unknown, what: string, max: bigint): bigint {
  if (raw === undefined) throw new TaskInputError(`${what} is missing`);
  let value: bigint;
  if (typeof raw === "number" && Number.isSafeInteger(raw)) value = BigInt(raw);
  else if (typeof raw === "string" && /^-?\d+$/.test(raw.trim())) value = BigInt(raw.trim());
  else if (typeof raw === "number")
    throw new TaskInputError(
      `${what} is ${raw}, which is not a whole number a JSON number can carry exactly; give it as a string of digits`,
    );
  else throw new TaskInputError(`${what} must be a whole number, not ${JSON.stringify(raw)}`);
  if (value < 0n || value > max) throw new TaskInputError(`${what} is ${value}, outside 0..${max}`);
  return value;
}

const UINT16 = 2n ** 16n - 1n;
const UINT32 = 2n ** 32n - 1n;
const INT96 = 2n ** 95n - 1n;
const TERM_MAX: Record<string, bigint> = {
  liquidationPenaltyBps: UINT16,
  maxLiquidationDiscountBps: UINT16,
};

/** Reads and checks an agreement file; amounts in the terms are base-currency decimals, e.g. "100000.50". */
export function parseAgreementFile(path: string): {
  securedParty: string;
  controlAgent: string;
  salt?: string;
  terms: AgreementTerms;
  schedule: EligibilityLine[];
} {
  const file = readJsonFile<AgreementFile>(path, "agreement file");
  // The schema settles the shape (fields present, amounts as decimal strings, kinds, a non-empty schedule); what
  // follows reads the values and checks what a schema cannot bound (uint ranges, checksummed addresses).
  const problem = agreementSchemaProblem(file);
  if (problem) {
    throw new TaskInputError(
      `the agreement file ${path} does not match schemas/agreement.schema.json: ${problem}`,
    );
  }
  const terms = {} as AgreementTerms;
  for (const name of TERM_NAMES) {
    const raw = file.terms[name];
    if (!WAD_TERMS.has(name)) {
      terms[name] = integerField(raw, `term "${name}"`, TERM_MAX[name] ?? UINT32);
      continue;
    }
    terms[name] = baseAmount(raw as string, `term "${name}"`);
    if (terms[name] >= 2n ** 128n)
      throw new TaskInputError(`term "${name}" is above the largest amount an agreement can carry`);
  }
  const schedule = file.schedule.map((line, i): EligibilityLine => {
    return {
      asset: requireAddress(line.asset, `schedule line ${i} asset`),
      feed: requireAddress(line.feed, `schedule line ${i} feed`),
      kind: line.kind === "ERC20" ? 0 : 1,
      maxPriceAge: integerField(line.maxPriceAge, `schedule line ${i} maxPriceAge`, UINT32),
      minAnswer: integerField(line.minAnswer, `schedule line ${i} minAnswer`, INT96),
      maxAnswer: integerField(line.maxAnswer, `schedule line ${i} maxAnswer`, INT96),
      haircutBps: integerField(line.haircutBps, `schedule line ${i} haircutBps`, 10_000n),
      concentrationCapBps: integerField(
        line.concentrationCapBps,
        `schedule line ${i} concentrationCapBps`,
        10_000n,
      ),
    };
  });
  return {
    securedParty: requireAddress(file.securedParty, "securedParty"),
    controlAgent: file.controlAgent
      ? requireAddress(file.controlAgent, "controlAgent")
      : ZeroAddress,
    salt: file.salt,
    terms,
    schedule,
  };
}

/** collateral:open — the signer at `account` opens the agreement as pledgor. */
export async function openAction(
  ctx: TaskContext,
  args: { file?: string; account: number },
): Promise<string> {
  const agreement = parseAgreementFile(required(args.file, "--file"));
  const pledgor = await signer(ctx, args.account);
  const system = new CollateralSystem(await book(ctx), pledgor);
  const { vault } = await system.openAgreement({ pledgor: pledgor.address, ...agreement });
  ctx.log?.(
    `opened agreement ${vault} (pledgor ${pledgor.address}, secured party ${agreement.securedParty})`,
  );
  return vault;
}

/** A base-currency amount such as "500000.25" (18 decimals); `what` names it in the refusal. */
export function baseAmount(text: string, what: string): bigint {
  try {
    return parseAmount(text, 18, "a base-currency amount");
  } catch (error) {
    throw new TaskInputError(`${what}: ${(error as Error).message}`);
  }
}

/** The agreement at `--vault`, for the signer at `--account`. */
export async function agreementFor(ctx: TaskContext, args: { vault?: string; account: number }) {
  const from = await signer(ctx, args.account);
  const system = new CollateralSystem(await book(ctx), from);
  const vault = await knownVault(system, required(args.vault, "--vault"));
  return { from, system, vault, agreement: system.agreement(vault) };
}

/** `text` whole tokens of `asset` in raw units, checked against the token's decimals; with its symbol and decimals. */
export async function tokenAmount(
  ctx: TaskContext,
  asset: string,
  text: string,
): Promise<{ amount: bigint; symbol: string; decimals: number }> {
  const token = new Contract(
    asset,
    ["function decimals() view returns (uint8)", "function symbol() view returns (string)"],
    ctx.ethers.provider,
  );
  const [decimals, symbol] = [Number(await token.decimals()), String(await token.symbol())];
  try {
    return { amount: parseAmount(text, decimals, symbol), symbol, decimals };
  } catch (error) {
    throw new TaskInputError((error as InputError).message);
  }
}

/** Runs an SDK call, turning the SDK's refusal before sending (an `InputError`) into the task's own. */
export async function asTaskInput<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof InputError) throw new TaskInputError(error.message);
    throw error;
  }
}

/** collateral:deposit — the pledgor posts `--amount` whole tokens of `--asset`. */
export async function depositAction(
  ctx: TaskContext,
  args: { vault?: string; asset?: string; amount?: string; account: number },
) {
  const asset = requireAddress(required(args.asset, "--asset"), "asset");
  const amountText = required(args.amount, "--amount");
  const { vault, agreement } = await agreementFor(ctx, args);
  const line = await agreement.vault.eligibility(asset);
  if (line.feed === ZeroAddress) {
    throw new TaskInputError(`asset ${asset} is not eligible collateral for agreement ${vault}`);
  }
  const { amount, symbol } = await tokenAmount(ctx, asset, amountText);
  // The SDK refuses a deposit the vault or the wallet would refuse before sending anything: say it as input.
  const result = await asTaskInput(() => agreement.deposit(asset, amount));
  ctx.log?.(`deposited ${amountText} ${symbol} into ${vault} (transaction ${result.hash})`);
  return result;
}

function describeStatus(s: AgreementStatus): string {
  const coverage =
    s.coverageBps === undefined
      ? "no requirement"
      : `coverage ${(Number(s.coverageBps) / 100).toFixed(2)}%`;
  const call =
    s.callAmount > 0n
      ? `; open call ${formatWad(s.callAmount, 2)} due ${new Date(Number(s.callDeadline) * 1000).toISOString()}`
      : "";
  return `${s.vault} ${s.state}: collateral ${formatWad(s.collateralValue, 2)} / requirement ${formatWad(s.requirement, 2)}, ${coverage}${call}${s.pricesValid ? "" : " (a price is invalid)"}`;
}

/** collateral:status — one agreement, or every agreement of the factory. */
export async function statusAction(
  ctx: TaskContext,
  args: { vault: string },
): Promise<AgreementStatus[]> {
  const system = new CollateralSystem(await book(ctx), ctx.ethers.provider);
  const vaults = args.vault ? [await knownVault(system, args.vault)] : await system.agreements();
  const statuses = vaults.length ? await system.statusOf(vaults) : [];
  for (const s of statuses) {
    ctx.log?.(describeStatus(s));
    if (s.pricesValid) continue;
    // Name each asset without a valid price and why, with the oracle's values (its last update, its maximum age).
    for (const problem of await system.agreement(s.vault).priceProblems(s)) {
      ctx.log?.(`  ${problem.asset} has no valid price: ${problem.message}`);
    }
  }
  if (!statuses.length) ctx.log?.("no agreements yet");
  return statuses;
}

/** collateral:monitor — one pass with `once`, else follows new blocks until interrupted. */
export async function monitorAction(
  ctx: TaskContext,
  args: { once: boolean; account: number; interval: number },
) {
  const keeper = await signer(ctx, args.account);
  const monitor = new MarginMonitor(new CollateralSystem(await book(ctx), keeper), {
    pollIntervalMs: args.interval,
    log: ctx.log ?? ((line) => console.log(line)),
  });
  if (args.once) return monitor.runOnce();
  process.once("SIGINT", () => monitor.stop());
  await monitor.start();
  return undefined;
}
