import { network } from "hardhat";

import { CollateralSystem, deploySystem, formatWad, parseAmount } from "../sdk/index.js";

const { ethers } = await network.create();
const [operator, pledgor, securedParty] = await ethers.getSigners();

// 1. Deploy the system; the address book lists every contract with its compiler version.
const book = await deploySystem(operator, { network: "quickstart" });

// 2. A tokenized T-bill and its Chainlink-style feed (test doubles here, real ones in production).
const tbill = await ethers.deployContract("MockERC20", ["Tokenized T-Bill", "TBILL", 6]);
const feed = await ethers.deployContract("MockPriceFeed", [8, 100_000_000n]); // $1.00, 8 decimals

// 3. The pledgor opens an agreement with the secured party: CSA terms and an eligibility schedule.
const system = new CollateralSystem(book, pledgor);
const { agreement } = await system.openAgreement({
  pledgor: pledgor.address,
  securedParty: securedParty.address,
  terms: {
    threshold: 0n,
    independentAmount: parseAmount("500000", 18), // base-currency amounts have 18 decimals
    minimumTransferAmount: parseAmount("10000", 18),
    roundingAmount: parseAmount("1000", 18),
    curePeriod: 86_400n,
    scheduleNoticePeriod: 2n * 86_400n,
    disputeWindow: 86_400n,
    liquidationPenaltyBps: 500n,
    maxLiquidationDiscountBps: 300n,
    appropriationPeriod: 7n * 86_400n,
  },
  schedule: [
    {
      asset: await tbill.getAddress(),
      feed: await feed.getAddress(),
      kind: 0, // a plain ERC-20 (1 for an ERC-4626 fund share)
      maxPriceAge: 86_400n,
      minAnswer: 1n,
      maxAnswer: 10n ** 12n,
      haircutBps: 200n,
      concentrationCapBps: 10_000n,
    },
  ],
});

// 4. Post collateral: the SDK approves the vault for exactly what is missing.
await tbill.mint(pledgor.address, parseAmount("1000000", 6));
await agreement.deposit(await tbill.getAddress(), parseAmount("1000000", 6));

// 5. Read the status: values after haircut, requirement and coverage.
export const status = await agreement.status();
console.log(
  `${status.state}: collateral ${formatWad(status.collateralValue)} against ` +
    `${formatWad(status.requirement)}, coverage ${Number(status.coverageBps) / 100}%`,
);
