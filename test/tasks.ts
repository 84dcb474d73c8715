import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

import { expect } from "chai";
import { network } from "hardhat";

import { AssetKind } from "../sdk/index.js";

import {
  TaskInputError,
  depositAction,
  deployAction,
  monitorAction,
  openAction,
  parseAgreementFile,
  statusAction,
  type TaskContext,
} from "../scripts/tasks/actions.js";
import {
  auditAction,
  callAction,
  closeCallAction,
  consentAction,
  defaultAction,
  exposureAction,
  instructAction,
  noticeAction,
  reconcileAction,
  releaseAction,
  substituteAction,
  withdrawAction,
} from "../scripts/tasks/lifecycle.js";
import { disputeAction, resolveAction, topUpAction } from "../scripts/tasks/margin.js";
import {
  liquidateAction,
  pledgeAction,
  signPledgeAction,
  signSaleAction,
} from "../scripts/tasks/signatures.js";
import { priceAction, sandboxAction } from "../scripts/tasks/local-sandbox.js";

/** An agreement file: the secured party, the fixture's terms and one T-bill line at $1. */
function writeAgreementFile(
  folder: string,
  securedParty: string,
  tbill: string,
  feed: string,
): string {
  const file = path.join(folder, "agreement.json");
  writeFileSync(
    file,
    JSON.stringify({
      securedParty,
      terms: {
        threshold: "0",
        independentAmount: "1000.5",
        minimumTransferAmount: "100",
        roundingAmount: "10",
        curePeriod: 86400,
        scheduleNoticePeriod: 172800,
        disputeWindow: 86400,
        liquidationPenaltyBps: 500,
        maxLiquidationDiscountBps: 300,
        appropriationPeriod: 604800,
      },
      schedule: [
        {
          asset: tbill,
          feed,
          kind: "ERC20",
          maxPriceAge: 86400,
          minAnswer: "1",
          maxAnswer: "100000000000",
          haircutBps: 200,
          concentrationCapBps: 10000,
        },
      ],
    }),
  );
  return file;
}

/** A fresh embedded chain, an empty deployments folder and a context whose log lines the test reads. */
async function taskChain(networkName: string) {
  const connection = await network.create();
  const folder = mkdtempSync(path.join(tmpdir(), "tasks-"));
  const lines: string[] = [];
  const ctx: TaskContext = {
    ethers: connection.ethers,
    networkName,
    deployments: folder,
    log: (l) => lines.push(l),
  };
  return { ...connection, folder, lines, ctx };
}

/** What an action threw, as "<ErrorName>: <message>", or "no error". */
const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => "no error",
    (e: Error) => `${e.name}: ${e.message}`,
  );

describe("collateral:* tasks", function () {
  it("deploy, open, deposit, status and monitor validate their input and work end to end", async function () {
    const { ethers, folder, lines, ctx } = await taskChain("tasks-test");
    const [, , securedParty] = await ethers.getSigners();
    // Bad input is a TaskInputError; anything else would be a bug.
    const inputFailure = (promise: Promise<unknown>) =>
      promise.then(
        () => "no error",
        (e: Error) =>
          e instanceof TaskInputError ? e.message : `unexpected ${e.name}: ${e.message}`,
      );

    expect(await inputFailure(statusAction(ctx, { vault: "" }))).to.match(
      /^no address book for "tasks-test"/,
    );
    await deployAction(ctx, { guardian: "" });
    await statusAction(ctx, { vault: "" });
    expect(lines.at(-1)).to.equal("no agreements yet");

    const tbill = await ethers.deployContract("MockERC20", ["T-Bill", "TBILL", 6]);
    const feed = await ethers.deployContract("MockPriceFeed", [8, 100_000_000n]);
    const file = writeAgreementFile(
      folder,
      securedParty.address,
      await tbill.getAddress(),
      await feed.getAddress(),
    );
    expect(await inputFailure(openAction(ctx, { account: 0 }))).to.equal("--file is required");
    expect(
      await inputFailure(openAction(ctx, { file: path.join(folder, "missing.json"), account: 0 })),
    ).to.match(/^cannot read the agreement file/);
    expect(await inputFailure(openAction(ctx, { file, account: 99 }))).to.match(
      /^account 99 does not exist/,
    );
    const vault = await openAction(ctx, { file, account: 1 });

    const [, pledgor] = await ethers.getSigners();
    await tbill.mint(pledgor.address, 10_000_000_000n);
    const other = await ethers.deployContract("MockERC20", ["Other", "OTH", 18]);
    const asset = await tbill.getAddress();
    expect(
      await inputFailure(
        depositAction(ctx, { vault: securedParty.address, asset, amount: "1", account: 1 }),
      ),
    ).to.match(/is not an agreement of the factory/);
    expect(
      await inputFailure(
        depositAction(ctx, { vault, asset: await other.getAddress(), amount: "1", account: 1 }),
      ),
    ).to.match(/is not eligible collateral/);
    expect(
      await inputFailure(depositAction(ctx, { vault, asset, amount: "1.1234567", account: 1 })),
    ).to.equal('"1.1234567" has 7 decimals, but TBILL has only 6');
    expect(
      await inputFailure(
        depositAction(ctx, { vault, asset, amount: "1" + "0".repeat(72), account: 1 }),
      ),
    ).to.equal(
      `"1${"0".repeat(72)}" is more than any token can carry: 1${"0".repeat(78)} raw units, above 2^256 - 1`,
    );
    expect(
      await inputFailure(depositAction(ctx, { vault, asset: "0x1234", amount: "1", account: 1 })),
    ).to.equal('asset "0x1234" is not an address');
    // Refused before anything is sent, the approval included: a zero amount, more than the wallet holds, the
    // wrong party.
    const sentBefore = await ethers.provider.getBlockNumber();
    expect(
      await inputFailure(depositAction(ctx, { vault, asset, amount: "0", account: 1 })),
    ).to.equal("the deposit amount must be above zero");
    expect(
      await inputFailure(depositAction(ctx, { vault, asset, amount: "10001", account: 1 })),
    ).to.equal(`${pledgor.address} holds 10000.0 TBILL, less than the 10001.0 TBILL to deposit`);
    expect(
      await inputFailure(depositAction(ctx, { vault, asset, amount: "1", account: 2 })),
    ).to.equal(
      `${securedParty.address} is not this agreement's pledgor (${pledgor.address}); only the pledgor may deposit`,
    );
    expect(await ethers.provider.getBlockNumber()).to.equal(sentBefore);
    expect(await tbill.allowance(pledgor.address, vault)).to.equal(0n);
    await depositAction(ctx, { vault, asset, amount: "1250.5", account: 1 });

    const [status] = await statusAction(ctx, { vault });
    expect(status.positions[0].balance).to.equal(1_250_500_000n);
    expect(status.requirement).to.equal(1_000_500_000_000_000_000_000n);
    expect(lines.at(-1)).to.match(
      /Open: collateral 1,225\.49 \/ requirement 1,000\.5, coverage 122\.48%/,
    );

    const report = await monitorAction(ctx, { once: true, account: 3, interval: 10 });
    expect(report!.revalued).to.equal(1);

    // A stale price: the status names the asset, the feed's last update and its maximum age.
    await ethers.provider.send("evm_increaseTime", [2 * 86_400]);
    await ethers.provider.send("evm_mine", []);
    await statusAction(ctx, { vault });
    expect(lines.at(-2)).to.match(/\(a price is invalid\)$/);
    expect(lines.at(-1)).to.match(
      new RegExp(
        `^  ${asset} has no valid price: StalePrice: ${await feed.getAddress()} was last updated at \\S+, older than its maximum age of 86400 seconds \\(now \\S+\\)\\.$`,
      ),
    );
  });

  it("run an agreement's whole life: pledge, mark, withdraw, call, default, notice, appropriation, release, audit", async function () {
    const { ethers, networkHelpers, folder, lines, ctx } = await taskChain("tasks-life");
    const [, pledgor, securedParty] = await ethers.getSigners();
    await deployAction(ctx, { guardian: "" });
    const tbill = await ethers.deployContract("MockERC20", ["T-Bill", "TBILL", 6]);
    const feed = await ethers.deployContract("MockPriceFeed", [8, 100_000_000n]);
    const asset = await tbill.getAddress();
    const file = writeAgreementFile(folder, securedParty.address, asset, await feed.getAddress());
    const vault = await openAction(ctx, { file, account: 1 });
    await tbill.mint(pledgor.address, 2_000_000_000_000n); // 2,000,000 TBILL
    await depositAction(ctx, { vault, asset, amount: "1000000", account: 1 });

    // Pledge: both parties consent.
    await consentAction(ctx, { vault, account: 1 });
    await consentAction(ctx, { vault, account: 2 });
    expect(lines.at(-1)).to.match(/the vault is Pledged$/);
    expect(await failure(exposureAction(ctx, { vault, exposure: "-5", account: 2 }))).to.match(
      /^TaskInputError: --exposure: /,
    );
    await exposureAction(ctx, { vault, exposure: "900000", account: 2 });
    // 980,000 after haircut against 901,000.5 required: the excess can come back, not more.
    await withdrawAction(ctx, { vault, asset, amount: "50000", account: 1 });
    expect(
      await failure(withdrawAction(ctx, { vault, asset, amount: "100000", account: 1 })),
    ).to.match(/^CollateralError: WithdrawalBreachesRequirement: /);

    // A price drop: the keeper's call goes unmet past its deadline; then the default and the notice.
    await networkHelpers.time.increase(86_401); // the mark's dispute window passes
    await feed.setAnswer(90_000_000n);
    await callAction(ctx, { vault, account: 3 });
    expect(lines.at(-1)).to.match(/^margin call on .* issued; due by /);
    expect(await failure(closeCallAction(ctx, { vault, account: 3 }))).to.match(
      /^CollateralError: MarginCallNotMet: /,
    );
    await networkHelpers.time.increase(86_401);
    await feed.setAnswer(90_000_000n);
    await defaultAction(ctx, { vault, account: 3 });
    await noticeAction(ctx, {
      vault,
      document: "Notice of Exclusive Control, 2 December 2026",
      account: 2,
    });
    expect(lines.at(-1)).to.match(/^notice of exclusive control delivered/);

    // Appropriation up to what is due, then the release of the rest.
    await instructAction(ctx, {
      vault,
      asset,
      amount: "100000",
      to: securedParty.address,
      account: 2,
    });
    expect(await tbill.balanceOf(securedParty.address)).to.equal(100_000_000_000n);
    await releaseAction(ctx, { vault, account: 2 });
    const [status] = await statusAction(ctx, { vault });
    expect(status.state).to.equal("Released");
    expect(await tbill.balanceOf(pledgor.address)).to.equal(1_900_000_000_000n);

    const out = path.join(folder, "audit.csv");
    const trail = await auditAction(ctx, { vault, format: "csv", out, account: 0 });
    expect(trail.reconciled).to.equal(true);
    expect(lines.at(-1)).to.match(/entries, reconciled, written to /);
    expect(readFileSync(out, "utf8")).to.include(",Released,");
    expect(await failure(auditAction(ctx, { vault, format: "pdf", account: 0 }))).to.equal(
      'TaskInputError: --format must be "csv" or "json", not "pdf"',
    );
  });

  it("sandbox: demo collateral on a local chain, pledged from its own agreement file, repriced by collateral:price", async function () {
    const { ethers, folder, lines, ctx } = await taskChain("sandbox-test");
    const [, pledgor] = await ethers.getSigners();
    expect(await failure(sandboxAction(ctx, { accounts: 3 }))).to.match(
      /^TaskInputError: no address book for "sandbox-test"/,
    );
    await deployAction(ctx, { guardian: "" });
    expect(await failure(priceAction(ctx, { symbol: "TBILL", price: "1" }))).to.equal(
      "TaskInputError: no sandbox on sandbox-test: run collateral:sandbox first",
    );
    expect(await failure(sandboxAction(ctx, { accounts: 0 }))).to.match(
      /^TaskInputError: --accounts must be 1\.\./,
    );
    const { tokens, agreementFile } = await sandboxAction(ctx, { accounts: 3 });
    const mmf = await ethers.getContractAt("MockERC4626", tokens.MMF);
    expect(await mmf.balanceOf(pledgor.address)).to.equal(10n ** 24n);

    // The written agreement file opens as it is; the fund share and the T-bill are posted and valued.
    const vault = await openAction(ctx, { file: agreementFile, account: 1 });
    await depositAction(ctx, { vault, asset: tokens.TBILL, amount: "100000", account: 1 });
    await depositAction(ctx, { vault, asset: tokens.MMF, amount: "100000", account: 1 });
    const [before] = await statusAction(ctx, { vault });
    // 100,000 x $1 less 2% and 100,000 shares x $1 less 5%.
    expect(before.collateralValue).to.equal(193_000n * 10n ** 18n);

    await priceAction(ctx, { symbol: "USDS", price: "0.5" });
    const [after] = await statusAction(ctx, { vault });
    expect(after.collateralValue).to.equal(145_500n * 10n ** 18n);
    expect(await failure(priceAction(ctx, { symbol: "MMF", price: "1" }))).to.equal(
      'TaskInputError: the sandbox has no feed for "MMF" (it has TBILL, USDS; MMF is priced by USDS)',
    );
    expect(await failure(priceAction(ctx, { symbol: "TBILL", price: "-1" }))).to.equal(
      "TaskInputError: --price must be above zero, not -1",
    );
    expect(await failure(priceAction(ctx, { symbol: "TBILL", price: "abc" }))).to.equal(
      'TaskInputError: --price "abc" is not a decimal number of at most 8 decimals',
    );
  });
  it("signed consents, disputes, top-ups, substitution and sales refuse bad files and input before sending anything", async function () {
    const { ethers, networkHelpers, folder, lines, ctx } = await taskChain("tasks-signed");
    const [, pledgor, securedParty, keeper, buyer] = await ethers.getSigners();
    await deployAction(ctx, { guardian: "" });
    const { tokens } = await sandboxAction(ctx, { accounts: 5 });
    const vault = await openAction(ctx, {
      file: path.join(folder, "sandbox", "tasks-signed.agreement.json"),
      account: 1,
    });
    const other = await openAction(ctx, {
      file: path.join(folder, "sandbox", "tasks-signed.agreement.json"),
      account: 1,
    });
    const nothingSent = async (attempt: () => Promise<unknown>, message: string | RegExp) => {
      const block = await ethers.provider.getBlockNumber();
      const error = await failure(attempt());
      if (typeof message === "string") expect(error).to.equal(`TaskInputError: ${message}`);
      else expect(error).to.match(message);
      expect(await ethers.provider.getBlockNumber()).to.equal(block);
    };
    await depositAction(ctx, { vault, asset: tokens.TBILL, amount: "1000000", account: 1 });

    // Pledge consents: the signer must be a party, the file must be this vault's, current and not the submitter's.
    await nothingSent(
      () => signPledgeAction(ctx, { vault, account: 3 }),
      `${keeper.address} is neither the pledgor (${pledgor.address}) nor the secured party (${securedParty.address}) of ${vault}`,
    );
    await nothingSent(
      () => signPledgeAction(ctx, { vault, account: 2, validFor: "soon" }),
      '--valid-for must be a positive number of seconds, not "soon"',
    );
    const consent = path.join(folder, "consent.json");
    await signPledgeAction(ctx, { vault, account: 2, out: consent, validFor: "60" });
    await nothingSent(
      () => pledgeAction(ctx, { vault: other, consent, account: 1 }),
      `the consent is for ${vault}, not ${other}`,
    );
    await nothingSent(
      () => pledgeAction(ctx, { vault, consent: path.join(folder, "none.json"), account: 1 }),
      /^TaskInputError: cannot read the consent file /,
    );
    await networkHelpers.time.increase(120);
    await nothingSent(
      () => pledgeAction(ctx, { vault, consent, account: 1 }),
      /^TaskInputError: the consent expired at \S+: sign again$/,
    );
    await signPledgeAction(ctx, { vault, account: 2, out: consent });
    await pledgeAction(ctx, { vault, consent, account: 1 });
    expect(lines.at(-1)).to.match(/is pledged/);

    // Disputes and resolutions in base currency; a contract refusal comes back in words.
    await exposureAction(ctx, { vault, exposure: "500000", account: 2 });
    await nothingSent(
      () => disputeAction(ctx, { vault, exposure: "lots", account: 1 }),
      '--exposure: "lots" is not a positive decimal amount',
    );
    await disputeAction(ctx, { vault, exposure: "400000", account: 1 });
    expect(await failure(resolveAction(ctx, { vault, exposure: "450000", account: 2 }))).to.match(
      /^CollateralError: InvalidResolution: /,
    );
    await resolveAction(ctx, { vault, exposure: "450000", account: 1 });
    expect(lines.at(-1)).to.equal(`the dispute on ${vault} narrowed to 450000; it stays open`);
    await resolveAction(ctx, { vault, exposure: "450000", account: 2 });
    expect(lines.at(-1)).to.equal(`the dispute on ${vault} ended at 450000`);

    // Top-ups: the list is checked, the signer as source approves each cap, another source is told what to approve.
    await nothingSent(
      () => topUpAction(ctx, { vault, assets: `${tokens.USDS}`, account: 1 }),
      `--assets item 0 is "${tokens.USDS}"; each item is <asset address>:<cap in whole tokens>, e.g. 0xAb…:250000`,
    );
    await nothingSent(
      () => topUpAction(ctx, { vault, assets: `${tokens.USDS}:1.5,0x12:4`, account: 1 }),
      '--assets item 1 asset "0x12" is not an address',
    );
    await topUpAction(ctx, { vault, assets: `${tokens.USDS}:25000`, account: 1 });
    const usds = await ethers.getContractAt("MockERC20", tokens.USDS);
    expect(await usds.allowance(pledgor.address, vault)).to.equal(25_000n * 10n ** 18n);
    await topUpAction(ctx, {
      vault,
      source: keeper.address,
      assets: `${tokens.USDS}:25000`,
      account: 1,
    });
    expect(lines.at(-1)).to.equal(
      `  ${keeper.address} must approve ${vault} for 25,000 USDS (it allows 0)`,
    );

    // Substitution and reconciliation.
    await substituteAction(ctx, {
      vault,
      assetIn: tokens.USDS,
      amountIn: "1000",
      assetOut: tokens.TBILL,
      amountOut: "1000",
      account: 1,
    });
    expect(lines.at(-1)).to.equal(`substituted 1000 USDS for 1000 TBILL in ${vault}`);
    await nothingSent(
      () =>
        substituteAction(ctx, {
          vault,
          assetIn: tokens.USDS,
          amountIn: "20000000",
          assetOut: tokens.TBILL,
          amountOut: "1",
          account: 1,
        }),
      `${pledgor.address} holds 9999000.0 USDS, less than the 20000000.0 USDS to substitute`,
    );
    await reconcileAction(ctx, { vault, asset: tokens.TBILL, account: 3 });
    expect(lines.at(-1)).to.equal(
      `${tokens.TBILL} in ${vault} reconciled: 999000000000 raw units accounted`,
    );

    // A sale is offered only under exclusive control, for what the vault holds, with cash the buyer has.
    const order = path.join(folder, "order.json");
    const sale = { vault, asset: tokens.TBILL, cashToken: tokens.USDS, out: order, account: 4 };
    await nothingSent(
      () => signSaleAction(ctx, { ...sale, amount: "100", cashAmount: "98" }),
      `${vault} is Pledged; collateral is sold only under exclusive control (after the notice)`,
    );
    await defaultAction(ctx, { vault, account: 1 });
    await noticeAction(ctx, { vault, document: "Notice", account: 2 });
    await nothingSent(
      () => signSaleAction(ctx, { ...sale, amount: "100", cashAmount: "20000000" }),
      `the buyer ${buyer.address} holds 10,000,000 USDS, less than the 20000000 offered`,
    );
    await signSaleAction(ctx, { ...sale, amount: "100", cashAmount: "98", validFor: "60" });
    await nothingSent(
      () => liquidateAction(ctx, { vault: other, order, account: 2 }),
      `the order is for ${vault}, not ${other}`,
    );
    await networkHelpers.time.increase(120);
    await nothingSent(
      () => liquidateAction(ctx, { vault, order, account: 2 }),
      /^TaskInputError: the buyer's order expired at /,
    );
    await signSaleAction(ctx, { ...sale, amount: "100", cashAmount: "98" });
    const sold = await liquidateAction(ctx, { vault, order, account: 2 });
    expect(lines.at(-1)).to.equal(
      `sold collateral of ${vault} to ${buyer.address}: settlement ${sold.result}`,
    );
    expect(await usds.balanceOf(securedParty.address)).to.equal(10_000_098n * 10n ** 18n);
  });
  it("checks an agreement file against its JSON Schema, naming the field, and opens the example file", async function () {
    const { ethers, folder, ctx } = await taskChain("tasks-schema");
    await deployAction(ctx, { guardian: "" });
    const example = JSON.parse(readFileSync("examples/agreement.json", "utf8"));
    const opening = async (edit: (file: typeof example) => void) => {
      const file = structuredClone(example);
      edit(file);
      const where = path.join(folder, "edited.json");
      writeFileSync(where, JSON.stringify(file));
      const block = await ethers.provider.getBlockNumber();
      const outcome = await failure(openAction(ctx, { file: where, account: 1 }));
      expect(await ethers.provider.getBlockNumber()).to.equal(block);
      return outcome.replace(`${where} `, "");
    };
    const schemaError = (problem: string) =>
      `TaskInputError: the agreement file does not match schemas/agreement.schema.json: ${problem}`;
    // The bad inputs that once ended in stack traces.
    expect(await opening((f) => delete f.schedule[0].haircutBps)).to.equal(
      schemaError('schedule[0] misses "haircutBps"'),
    );
    expect(await opening((f) => (f.schedule[0].haircutBps = 2.5))).to.equal(
      schemaError(
        "schedule[0].haircutBps must be a whole number (a JSON integer or a string of digits), not 2.5",
      ),
    );
    expect(await opening((f) => (f.terms.liquidationPenaltyBps = -1))).to.equal(
      schemaError("terms.liquidationPenaltyBps is -1: it must be >= 0"),
    );
    expect(await opening((f) => (f.terms.independentAmount = 500000))).to.equal(
      schemaError(
        'terms.independentAmount must be a base-currency amount as a decimal string with at most 18 decimals, e.g. "500000.25", not the JSON number 500000',
      ),
    );
    expect(await opening((f) => (f.schedule[0].haircut = 200))).to.equal(
      schemaError('schedule[0] has an unknown field "haircut"'),
    );
    expect(await opening((f) => (f.schedule[0].kind = 1))).to.equal(
      schemaError('schedule[0].kind is 1; it must be one of "ERC20", "ERC4626"'),
    );
    // What the schema cannot bound is still checked by value.
    expect(await opening((f) => (f.schedule[0].maxAnswer = (2n ** 96n).toString()))).to.equal(
      `TaskInputError: schedule line 0 maxAnswer is ${2n ** 96n}, outside 0..${2n ** 95n - 1n}`,
    );
    expect(await opening((f) => (f.terms.threshold = "1" + "0".repeat(40)))).to.equal(
      'TaskInputError: term "threshold" is above the largest amount an agreement can carry',
    );
    // The example file is valid as it stands (its addresses are the first contracts of a fresh local node).
    const parsed = parseAgreementFile("examples/agreement.json");
    expect(parsed.schedule[0].kind).to.equal(AssetKind.ERC20);
    expect(parsed.terms.independentAmount).to.equal(500_000n * 10n ** 18n);
  });
});
