// The whole collateral lifecycle on the embedded network, told as a narrative: deploy, onboard, list assets,
// post the cheapest collateral, pledge, a price move met by the automatic top-up in the same block, a second
// move left unmet past its cure deadline, the Notice of Exclusive Control, liquidation through DvP, release
// of the surplus, and the reconciled audit trail. `npm run demo` runs it; test/demo.ts checks its outcomes.
import type { HardhatEthers } from "@nomicfoundation/hardhat-ethers/types";
import type { NetworkHelpers } from "@nomicfoundation/hardhat-network-helpers/types";

import {
  AssetKind,
  CollateralSystem,
  MarginMonitor,
  buildAuditTrail,
  deploySystem,
  formatWad,
  optimiseDelivery,
  parseAmount,
  type AgreementStatus,
  type AgreementTerms,
  type AuditTrail,
  type EligibilityLine,
} from "../../sdk/index.js";
import type { MockERC20, MockERC4626, MockPriceFeed } from "../../types/ethers-contracts/index.js";

const WAD = 10n ** 18n;
const DAY = 86_400n;
const usd = (n: bigint) => n * WAD;
const units6 = (n: bigint) => n * 10n ** 6n;
const feedPrice = (dollars: string) => parseAmount(dollars, 8);

export interface DemoOutcome {
  vault: string;
  firstCall: { issued: boolean; metByTopUp: boolean; sameTransaction: boolean };
  secondCall: { issued: boolean; metByTopUp: boolean };
  defaultReported: boolean;
  noticeDelivered: boolean;
  amountDue: bigint;
  receivedBySecuredParty: bigint;
  surplusReturned: { tbill: bigint; mmf: bigint; usdc: bigint };
  finalState: AgreementStatus["state"];
  audit: AuditTrail;
}

export async function runDemo(
  ethers: HardhatEthers,
  networkHelpers: NetworkHelpers,
  log: (line: string) => void = console.log,
): Promise<DemoOutcome> {
  const say = (line = "") => log(line);
  const coverage = (s: AgreementStatus) =>
    s.coverageBps === undefined ? "n/a" : `${(Number(s.coverageBps) / 100).toFixed(2)}%`;
  const describe = (label: string, s: AgreementStatus) =>
    say(
      `   ${label}: state ${s.state}, collateral value ${formatWad(s.collateralValue, 2)} against a requirement of ` +
        `${formatWad(s.requirement, 2)}, coverage ${coverage(s)}` +
        (s.callAmount > 0n ? `, open call ${formatWad(s.callAmount, 2)}` : ""),
    );

  const [operator, fund, bank, treasury, dealer, keeperSigner] = await ethers.getSigners();
  say("1. Deploying the system (access manager, vault implementation, DvP, factory, lens)");
  const book = await deploySystem(operator, { network: "demo" });
  for (const [name, contract] of Object.entries(book.contracts))
    say(`   ${name.padEnd(17)} ${contract.address}`);

  say("\n2. Listing three tokenized assets with Chainlink-style feeds (8 decimals)");
  const usdc = (await ethers.deployContract("MockERC20", [
    "USD Stablecoin",
    "USDC",
    6,
  ])) as unknown as MockERC20;
  const tbill = (await ethers.deployContract("MockERC20", [
    "Tokenized 3M T-Bill",
    "TBILL",
    6,
  ])) as unknown as MockERC20;
  const mmf = (await ethers.deployContract("MockERC4626", [
    await usdc.getAddress(),
    "Money Market Fund",
    "MMF",
  ])) as unknown as MockERC4626;
  const usdcFeed = (await ethers.deployContract("MockPriceFeed", [
    8,
    feedPrice("1"),
  ])) as unknown as MockPriceFeed;
  const tbillFeed = (await ethers.deployContract("MockPriceFeed", [
    8,
    feedPrice("1"),
  ])) as unknown as MockPriceFeed;
  const line = async (
    asset: { getAddress(): Promise<string> },
    feed: MockPriceFeed,
    kind: AssetKind,
    haircutBps: bigint,
    capBps: bigint,
  ): Promise<EligibilityLine> => ({
    asset: await asset.getAddress(),
    feed: await feed.getAddress(),
    kind,
    maxPriceAge: DAY,
    minAnswer: feedPrice("0.01"),
    maxAnswer: feedPrice("100"),
    haircutBps,
    concentrationCapBps: capBps,
  });
  const schedule = [
    await line(tbill, tbillFeed, AssetKind.ERC20, 200n, 7_000n),
    await line(mmf, usdcFeed, AssetKind.ERC4626, 400n, 5_000n),
    await line(usdc, usdcFeed, AssetKind.ERC20, 0n, 10_000n),
  ];
  say("   TBILL  tokenized T-bill, 6 decimals: haircut 2%, at most 70% of the collateral value");
  say("   MMF    money-market fund share (ERC-4626 over USDC): haircut 4%, at most 50%");
  say("   USDC   stablecoin, 6 decimals: no haircut, no cap");

  say(
    "\n3. Onboarding: the fund pledges to the bank under a CSA (IA 2,000,000; MTA 100,000; rounding 10,000; cure 1 day)",
  );
  await usdc.mint(fund.address, units6(4_000_000n) + units6(1_000_000n));
  await usdc.connect(fund).approve(await mmf.getAddress(), units6(4_000_000n));
  await mmf.connect(fund).deposit(units6(4_000_000n), fund.address);
  await usdc.mint(await mmf.getAddress(), units6(80_000n)); // the fund's yield: one share is now worth 1.02
  await tbill.mint(fund.address, units6(7_000_000n));
  const terms: AgreementTerms = {
    threshold: 0n,
    independentAmount: usd(2_000_000n),
    minimumTransferAmount: usd(100_000n),
    roundingAmount: usd(10_000n),
    curePeriod: DAY,
    scheduleNoticePeriod: 2n * DAY,
    disputeWindow: DAY,
    liquidationPenaltyBps: 500n,
    maxLiquidationDiscountBps: 300n,
    appropriationPeriod: 7n * DAY,
  };
  const fundView = new CollateralSystem(book, fund);
  const predicted = await fundView.predictVault({
    creator: fund.address,
    pledgor: fund.address,
    securedParty: bank.address,
    salt: ethers.id("CSA fund-bank 2026"),
  });
  const { agreement } = await fundView.openAgreement({
    pledgor: fund.address,
    securedParty: bank.address,
    terms,
    schedule,
    salt: ethers.id("CSA fund-bank 2026"),
  });
  say(`   vault predicted at ${predicted}, opened at ${agreement.address}`);
  const asBank = agreement.as(bank);
  await asBank.setExposure(usd(8_000_000n));

  say(
    "\n4. Choosing the cheapest collateral to deliver (costs: TBILL 5 bps, MMF 15 bps, USDC 40 bps a year)",
  );
  const sharePrice = (await mmf.convertToAssets(10n ** 6n)) * 10n ** 12n;
  const target = usd(10_200_000n); // the requirement plus a 2% buffer
  const plan = optimiseDelivery({
    requirement: target,
    assets: [
      {
        id: "TBILL",
        priceWad: WAD,
        decimals: 6,
        haircutBps: 200,
        concentrationCapBps: 7_000,
        costBps: 5,
        holdings: await tbill.balanceOf(fund.address),
        posted: 0n,
      },
      {
        id: "MMF",
        priceWad: sharePrice,
        decimals: 6,
        haircutBps: 400,
        concentrationCapBps: 5_000,
        costBps: 15,
        holdings: await mmf.balanceOf(fund.address),
        posted: 0n,
      },
      {
        id: "USDC",
        priceWad: WAD,
        decimals: 6,
        haircutBps: 0,
        concentrationCapBps: 10_000,
        costBps: 40,
        holdings: await usdc.balanceOf(fund.address),
        posted: 0n,
      },
    ],
  });
  const tokens = { TBILL: tbill, MMF: mmf, USDC: usdc } as const;
  for (const delivery of plan.deliveries) {
    if (delivery.amount === 0n) continue;
    say(
      `   deliver ${formatWad(delivery.amount * 10n ** 12n, 2)} ${delivery.id} (market value ${formatWad(delivery.deliveredMarketValue, 2)})`,
    );
    await agreement.deposit(
      await tokens[delivery.id as keyof typeof tokens].getAddress(),
      delivery.amount,
    );
  }
  say(`   yearly cost of the delivery: ${formatWad(plan.cost / 10_000n, 2)}`);

  say("\n5. Pledge: the bank signs its consent (EIP-712), the fund submits it with its own");
  const deadline = BigInt(await networkHelpers.time.latest()) + DAY;
  await agreement.pledgeWithSignature(deadline, await asBank.signPledgeConsent(deadline));
  describe("pledged", await agreement.status());

  say("\n6. The fund's treasury pre-authorises USDC top-ups, capped at 300,000");
  await usdc.mint(treasury.address, units6(1_000_000n));
  await usdc.connect(treasury).approve(agreement.address, units6(300_000n));
  await agreement.configureTopUp(treasury.address, [
    { asset: await usdc.getAddress(), cap: units6(300_000n) },
  ]);

  const monitorLines: string[] = [];
  const monitor = new MarginMonitor(new CollateralSystem(book, keeperSigner), {
    vaults: [agreement.address],
    log: (l) => monitorLines.push(l),
  });

  say(
    "\n7. T-bills fall 5%: the monitor re-values, calls margin, and the top-up meets the call in the same block",
  );
  await tbillFeed.setAnswer(feedPrice("0.95"));
  const first = await monitor.runOnce();
  const firstDecision = first.decisions.find((d) => d.vault === agreement.address);
  const firstCallEvents = monitorLines.filter((l) => l.includes('"decision"'));
  say(`   monitor: ${firstDecision?.decision} (${firstDecision?.detail ?? ""})`);
  describe("after the top-up", await agreement.status());

  say("\n8. T-bills fall to 0.80: the call is too large for what is left of the top-up cap");
  await tbillFeed.setAnswer(feedPrice("0.80"));
  const second = await monitor.runOnce();
  const secondStatus = await agreement.status();
  describe("called", secondStatus);
  say(`   cure deadline ${new Date(Number(secondStatus.callDeadline) * 1000).toISOString()}`);

  say("\n9. A day passes with the call unmet: the monitor reports the default");
  await networkHelpers.time.increase(DAY + 1n);
  await tbillFeed.setAnswer(feedPrice("0.80"));
  await usdcFeed.setAnswer(feedPrice("1"));
  const third = await monitor.runOnce();
  say(
    `   monitor: ${third.defaults.includes(agreement.address) ? "default reported" : "no default"}`,
  );

  say("\n10. The bank delivers the Notice of Exclusive Control; the fund is locked out");
  await asBank.deliverNoticeOfExclusiveControl(
    "Notice of Exclusive Control: Fund/Bank CSA, delivered 2026-11-24",
  );
  const [amountDue] = await agreement.vault.appropriation();
  say(`   amount due (exposure plus 5% penalty): ${formatWad(amountDue, 2)}`);
  const lockedOut = await agreement.withdraw(await tbill.getAddress(), 1n).then(
    () => "withdrew!",
    (e: Error) => e.message,
  );
  say(`   the fund tries to withdraw: ${lockedOut}`);

  say(
    "\n11. Liquidation: a dealer buys 4,000,000 T-bills through DvP at 2% under the oracle price",
  );
  await usdc.mint(dealer.address, units6(4_000_000n));
  const tbillOnSale = units6(4_000_000n);
  const order = await agreement.signLiquidation(dealer, {
    asset: await tbill.getAddress(),
    amount: tbillOnSale,
    cashToken: await usdc.getAddress(),
    cashAmount: units6(3_136_000n), // 4,000,000 x 0.80 x 0.98
    buyer: dealer.address,
    deadline: BigInt(await networkHelpers.time.latest()) + 3_600n,
  });
  await asBank.liquidate(order);
  const bankCashAfterSale = await usdc.balanceOf(bank.address);
  say(
    `   the bank received ${formatWad(bankCashAfterSale * 10n ** 12n, 2)} USDC against ${formatWad(tbillOnSale * 10n ** 12n, 0)} TBILL, in one settlement`,
  );

  say(
    "\n12. The bank appropriates the rest of what is due at oracle value: USDC, then fund shares, then T-bills",
  );
  // The largest amount of `asset` worth at most `value` at the vault's own oracle valuation.
  const amountWorth = async (asset: string, value: bigint) => {
    let [low, high] = [0n, await agreement.vault.balanceOf(asset)];
    while (low < high) {
      const mid = (low + high + 1n) / 2n;
      if ((await agreement.vault.valueOfHolding(asset, mid)) <= value) low = mid;
      else high = mid - 1n;
    }
    return low;
  };
  let [, taken] = await agreement.vault.appropriation();
  for (const token of [usdc, mmf, tbill]) {
    const asset = await token.getAddress();
    const amount = await amountWorth(asset, amountDue - taken);
    if (amount === 0n) continue;
    await asBank.instructTransfer(asset, amount, bank.address);
    [, taken] = await agreement.vault.appropriation();
    say(
      `   took ${formatWad(amount * 10n ** 12n, 2)} ${await token.symbol()}: ${formatWad(taken, 2)} of ${formatWad(amountDue, 2)} due`,
    );
  }

  say("\n13. Release: the surplus goes back to the fund");
  const before = {
    tbill: await tbill.balanceOf(fund.address),
    mmf: await mmf.balanceOf(fund.address),
    usdc: await usdc.balanceOf(fund.address),
  };
  await asBank.release();
  const surplus = {
    tbill: (await tbill.balanceOf(fund.address)) - before.tbill,
    mmf: (await mmf.balanceOf(fund.address)) - before.mmf,
    usdc: (await usdc.balanceOf(fund.address)) - before.usdc,
  };
  say(
    `   returned: ${formatWad(surplus.tbill * 10n ** 12n, 2)} TBILL, ${formatWad(surplus.mmf * 10n ** 12n, 2)} MMF, ${formatWad(surplus.usdc * 10n ** 12n, 2)} USDC`,
  );
  const finalStatus = await agreement.status();

  say("\n14. The audit trail, rebuilt from events alone");
  const audit = await buildAuditTrail(ethers.provider, book, agreement.address);
  for (const entry of audit.entries)
    say(`   block ${entry.blockNumber}  ${entry.contract.padEnd(16)} ${entry.event}`);
  const symbols = new Map<string, string>();
  for (const token of [tbill, mmf, usdc])
    symbols.set(await token.getAddress(), await token.symbol());
  for (const r of audit.reconciliation) {
    const symbol = symbols.get(r.asset) ?? r.asset;
    say(
      `   ${symbol.padEnd(6)} replayed ${r.replayed}, accounted ${r.accounted}, held ${r.held} ${r.matches ? "✓" : "✗"}`,
    );
  }
  say(`   ${audit.reconciled ? "every balance reconciles exactly" : "RECONCILIATION FAILED"}`);

  const receivedBySecuredParty = taken;
  return {
    vault: agreement.address,
    firstCall: {
      issued: first.callsIssued.includes(agreement.address),
      metByTopUp: first.callsMetByTopUp.includes(agreement.address),
      sameTransaction: firstCallEvents.some((l) => l.includes("call-met-by-top-up")),
    },
    secondCall: {
      issued: second.callsIssued.includes(agreement.address),
      metByTopUp: second.callsMetByTopUp.includes(agreement.address),
    },
    defaultReported: third.defaults.includes(agreement.address),
    noticeDelivered: (await agreement.vault.noticeHash()) !== ethers.ZeroHash,
    amountDue,
    receivedBySecuredParty,
    surplusReturned: surplus,
    finalState: finalStatus.state,
    audit,
  };
}
