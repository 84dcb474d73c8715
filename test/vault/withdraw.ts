// CollateralVault.withdraw: free while Open, only the excess above the requirement while live; everything a
// withdrawal refuses beside it, and a withdrawal racing a margin call in one block.
import { anyValue } from "@nomicfoundation/hardhat-ethers-chai-matchers/withArgs";
import { expect } from "chai";
import { ethers as ethersLib } from "ethers";

import {
  ONE_DAY,
  VaultState,
  WAD,
  defaultTerms,
  useSystem,
  type EligibilityLine,
  type System,
} from "../fixtures.js";
import {
  CALLED_VALUE,
  E18,
  REENTRY,
  TBILL,
  USD,
  adversary,
  calledTerms,
  looseTerms,
} from "../helpers/adversary.js";
import { counterparty } from "../helpers/counterparty.js";
import { hostileTokens } from "../helpers/hostile.js";
import { marginEngine } from "../helpers/margin.js";
import { refusalSteps } from "../helpers/refusal.js";
import { vaultSteps } from "../helpers/vault.js";
import type {
  BatchingPledgor,
  CollateralVault,
  MockPriceFeed,
} from "../../types/ethers-contracts/index.js";

describe("CollateralVault.withdraw", function () {
  let sys: System;
  const system = useSystem();
  beforeEach(function () {
    sys = system();
  });

  const { deploy, pledge, postTbill } = adversary(() => sys);
  const { postedVault, pledged } = vaultSteps(() => sys);
  const { pledgedAgreement } = marginEngine(() => sys);

  it("are free while Open", async function () {
    const vault = await postedVault();
    const tbill = await sys.tbill.getAddress();
    await expect(
      vault.connect(sys.pledgor).withdraw(tbill, 1_000_000n * 10n ** 6n, sys.pledgor.address),
    )
      .to.emit(vault, "Withdrawn")
      .withArgs(tbill, sys.pledgor.address, 1_000_000n * 10n ** 6n, 0n);
    expect(await sys.tbill.balanceOf(sys.pledgor.address)).to.equal(1_000_000n * 10n ** 6n);
  });

  it("are only the excess above the requirement while Pledged", async function () {
    const vault = await postedVault();
    await pledged(vault);
    await vault.connect(sys.securedParty).setExposure(490_000n * WAD);
    const tbill = await sys.tbill.getAddress();
    // 1,000,000 at $1 less 2% = 980,000 of collateral value against 490,000 required.
    expect(await vault.collateralValue()).to.equal(980_000n * WAD);
    await expect(
      vault.connect(sys.pledgor).withdraw(tbill, 500_000n * 10n ** 6n + 1n, sys.pledgor.address),
    )
      .to.be.revertedWithCustomError(vault, "WithdrawalBreachesRequirement")
      .withArgs(490_000n * WAD - 980_000_000_000n, 490_000n * WAD);
    await vault.connect(sys.pledgor).withdraw(tbill, 500_000n * 10n ** 6n, sys.pledgor.address);
    // The excess is now below the minimum transfer amount: no return is due.
    await expect(vault.connect(sys.pledgor).withdraw(tbill, 1n, sys.pledgor.address))
      .to.be.revertedWithCustomError(vault, "ExcessBelowMinimumTransfer")
      .withArgs(0n, defaultTerms.minimumTransferAmount);
  });

  it("returns excess only when it reaches the minimum transfer amount", async function () {
    const vault = await pledgedAgreement();
    const tbill = await sys.tbill.getAddress();
    // Excess 78,000: returning 70,000 T-bills (68,600 of collateral value) leaves 9,400 of excess.
    await vault.connect(sys.pledgor).withdraw(tbill, TBILL(70_000n), sys.pledgor.address);
    await sys.networkHelpers.time.increase(1n);
    await vault.connect(sys.pledgor).withdraw(tbill, TBILL(9_000n), sys.pledgor.address); // 8,820: 580 left
    await expect(vault.connect(sys.pledgor).withdraw(tbill, TBILL(1n), sys.pledgor.address))
      .to.be.revertedWithCustomError(vault, "ExcessBelowMinimumTransfer")
      .withArgs(USD(580n), defaultTerms.minimumTransferAmount);
  });

  describe("refuses", function () {
    const { postedVault, ledger } = refusalSteps(() => sys);
    const { pledged, tbillAddress } = counterparty(() => sys);
    const { twoRebasingAgreements, reentrantAgreement, nestedCalls } = hostileTokens(() => sys);

    /**
     * A contract-wallet pledgor holding 1,000,000 fund shares (an outside investor holds as many) posts them with
     * 100,000 stable; the exposure takes up the whole collateral value, so nothing is in excess. `fundLine` is how
     * the fund share is listed.
     */
    async function pledgorWithFundShares(fundLine: EligibilityLine) {
      const wallet = await deploy<BatchingPledgor>("BatchingPledgor");
      const walletAddress = await wallet.getAddress();
      const mmfAddress = await sys.mmf.getAddress();
      for (const investor of [sys.outsider.address, walletAddress]) {
        await sys.tbill.mint(sys.admin.address, TBILL(1_000_000n));
        await sys.tbill.connect(sys.admin).approve(mmfAddress, TBILL(1_000_000n));
        await sys.mmf.connect(sys.admin).deposit(TBILL(1_000_000n), investor);
      }
      await sys.tbill.mint(walletAddress, TBILL(200_000n)); // the donation to come
      await sys.stable.mint(walletAddress, E18(100_000n));
      const schedule = [sys.schedule[0], sys.schedule[1], fundLine];
      const salt = ethersLib.id("donation");
      const vaultAddress = await sys.factory.predictVault(
        sys.securedParty.address,
        walletAddress,
        sys.securedParty.address,
        ethersLib.ZeroAddress,
        salt,
      );
      await sys.factory
        .connect(sys.securedParty)
        .openAgreement(walletAddress, sys.securedParty.address, ethersLib.ZeroAddress, looseTerms, schedule, salt);
      const vault = (await sys.ethers.getContractAt("CollateralVault", vaultAddress)) as unknown as CollateralVault;
      const stable = await sys.stable.getAddress();
      const shares = await sys.mmf.balanceOf(walletAddress);
      const erc20 = sys.stable.interface;
      await wallet.run(
        [mmfAddress, stable, vaultAddress, vaultAddress, vaultAddress],
        [
          erc20.encodeFunctionData("approve", [vaultAddress, shares]),
          erc20.encodeFunctionData("approve", [vaultAddress, E18(100_000n)]),
          vault.interface.encodeFunctionData("deposit", [mmfAddress, shares]),
          vault.interface.encodeFunctionData("deposit", [stable, E18(100_000n)]),
          vault.interface.encodeFunctionData("consentToPledge", [await vault.termsHash()]),
        ],
      );
      await vault.connect(sys.securedParty).consentToPledge(await vault.termsHash());
      await vault.connect(sys.securedParty).setExposure(await vault.collateralValue());
      /** In one transaction: donate 200,000 T-bills to the fund, then withdraw `amountOut` stable. */
      const donateAndWithdraw = async (amountOut: bigint) =>
        wallet.run(
          [await sys.tbill.getAddress(), vaultAddress],
          [
            erc20.encodeFunctionData("transfer", [mmfAddress, TBILL(200_000n)]),
            vault.interface.encodeFunctionData("withdraw", [stable, amountOut, walletAddress]),
          ],
        );
      return { wallet, vault, shares, donateAndWithdraw };
    }

    {
      // On the vault of test/helpers/vault.ts: 1,000,000 T-bills, no control agent unless asked.
      const { postedVault, pledged } = vaultSteps(() => sys);

      it("are never valued on a stale price", async function () {
        const vault = await postedVault();
        await pledged(vault);
        await sys.networkHelpers.time.increase(ONE_DAY + 1n);
        await expect(
          vault.connect(sys.pledgor).withdraw(await sys.tbill.getAddress(), 1n, sys.pledgor.address),
        ).to.be.revertedWithCustomError(vault, "StalePrice");
      });

      it("are refused to anyone but the pledgor", async function () {
        const vault = await postedVault();
        await expect(
          vault
            .connect(sys.securedParty)
            .withdraw(await sys.tbill.getAddress(), 1n, sys.securedParty.address),
        )
          .to.be.revertedWithCustomError(vault, "Unauthorized")
          .withArgs(sys.securedParty.address, sys.pledgor.address);
      });
    }

    it("withdraw refuses a zero receiver (ZeroAddress) and a zero amount (ZeroAmount), in every state it allows: nothing moves", async function () {
      const vault = await postedVault();
      const tbill = await sys.tbill.getAddress();
      for (const pledged of [false, true]) {
        if (pledged) await pledge(vault);
        const before = await ledger(vault, [sys.tbill]);
        await expect(
          vault.connect(sys.pledgor).withdraw(tbill, TBILL(1n), ethersLib.ZeroAddress),
        ).to.be.revertedWithCustomError(vault, "ZeroAddress");
        await expect(
          vault.connect(sys.pledgor).withdraw(tbill, 0n, sys.pledgor.address),
        ).to.be.revertedWithCustomError(vault, "ZeroAmount");
        expect(await ledger(vault, [sys.tbill])).to.deep.equal(before);
      }
    });

    it("rebase down: withdrawing the accounted amount fails with the token's error; the held part comes out; the other agreement keeps its shares", async function () {
      const { reb, asset, a, b } = await twoRebasingAgreements();
      const aAddress = await a.getAddress();
      const bShares = await reb.sharesOf(await b.getAddress());
      await reb.rebase(WAD / 2n); // every balance halves: A holds 500 and accounts 1,000
      expect(await reb.balanceOf(aAddress)).to.equal(E18(500n));
      expect(await a.balanceOf(asset)).to.equal(E18(1_000n));

      await expect(a.connect(sys.pledgor).withdraw(asset, E18(1_000n), sys.pledgor.address))
        .to.be.revertedWithCustomError(reb, "InsufficientBalance")
        .withArgs(aAddress, E18(500n), E18(1_000n));
      // What is actually held comes out; the rest stays accounted but unbacked, and cannot be taken from B.
      await a.connect(sys.pledgor).withdraw(asset, E18(500n), sys.pledgor.address);
      expect(await reb.balanceOf(sys.pledgor.address)).to.equal(E18(500n));
      await expect(a.connect(sys.pledgor).withdraw(asset, E18(500n), sys.pledgor.address))
        .to.be.revertedWithCustomError(reb, "InsufficientBalance")
        .withArgs(aAddress, 0n, E18(500n));
      expect(await a.balanceOf(asset)).to.equal(E18(500n));
      expect(await reb.sharesOf(await b.getAddress())).to.equal(bShares);
      expect(await b.balanceOf(asset)).to.equal(E18(1_000n));
    });

    it("a swallowed reentry during withdraw is refused, and the outer withdrawal settles consistently", async function () {
      const { ree, asset, vault, vaultAddress } = await reentrantAgreement();
      await ree.arm(vaultAddress, nestedCalls(vault, asset, asset).deposit, false);
      await vault.connect(sys.pledgor).withdraw(asset, E18(100n), sys.pledgor.address);
      expect(await ree.reentered()).to.equal(false);
      expect(await ree.lastRevert()).to.equal(vault.interface.getError(REENTRY)!.selector);
      expect(await vault.balanceOf(asset)).to.equal(E18(900n));
      expect(await ree.balanceOf(vaultAddress)).to.equal(E18(900n));
      expect(await ree.balanceOf(asset)).to.equal(E18(10n));
    });

    it("check a: a withdrawal during a dispute is held to the full requirement on the mark (1,000,000), not the callable one (600,000): WithdrawalBreachesRequirement (rule: a dispute never frees collateral)", async function () {
      const vault = await pledged(); // 1,078,000 of collateral, 500,000 enforceable
      await vault.connect(sys.securedParty).setExposure(USD(1_000_000n));
      await vault.connect(sys.pledgor).disputeExposure(USD(600_000n));
      expect(await vault.callableRequirement()).to.equal(USD(600_000n));
      expect(await vault.requirement()).to.equal(USD(1_000_000n));
      const tbill = await tbillAddress();
      // 100,000 T-bills (98,000 of value) would leave 980,000: enough for 600,000, not for 1,000,000.
      await expect(vault.connect(sys.pledgor).withdraw(tbill, TBILL(100_000n), sys.pledgor.address))
        .to.be.revertedWithCustomError(vault, "WithdrawalBreachesRequirement")
        .withArgs(USD(980_000n), USD(1_000_000n));
      // What the full requirement allows still comes out: 50,000 T-bills leave 1,029,000.
      await expect(vault.connect(sys.pledgor).withdraw(tbill, TBILL(50_000n), sys.pledgor.address))
        .to.emit(vault, "Withdrawn")
        .withArgs(tbill, sys.pledgor.address, TBILL(50_000n), TBILL(1_050_000n));
    });

    it("priced through convertToAssets: the donation is real, irreversible value, so the excess it frees leaves the secured party covered at what the shares redeem for", async function () {
      const { vault, shares, donateAndWithdraw } = await pledgorWithFundShares(sys.schedule[3]);
      expect(await vault.collateralValue()).to.equal(USD(1_050_000n)); // 950,000 after the 5% haircut + 100,000
      // All that the donation frees (95,000) is refused by a hair: the fund's share price rounds down.
      await expect(donateAndWithdraw(E18(95_000n)))
        .to.be.revertedWithCustomError(vault, "WithdrawalBreachesRequirement")
        .withArgs(anyValue, USD(1_050_000n));
      // The fund now holds 2,200,000 for 2,000,000 shares: the posted shares gain 100,000, 95,000 after haircut.
      await donateAndWithdraw(E18(94_999n));
      const redeemable = await sys.mmf.previewRedeem(shares);
      expect(redeemable).to.be.closeTo(TBILL(1_100_000n), 1n);
      // At what the shares redeem for (T-bill at $1, the 5% haircut) plus the stable left, the requirement holds.
      const redeemableValue = (redeemable * 10n ** 12n * 9_500n) / 10_000n + E18(5_001n);
      expect(redeemableValue).to.be.gte(await vault.requirement() - 10n ** 12n);
      expect(await vault.collateralValue()).to.be.gte(await vault.requirement());
      // The pledgor paid 200,000 to free 94,999: the other 100,000 went to the fund's other investor.
      expect(await sys.mmf.previewRedeem(await sys.mmf.balanceOf(sys.outsider.address))).to.be.closeTo(
        TBILL(1_100_000n),
        1n,
      );
    });

    it("a fund share listed with its own share-price feed (kind ERC20) is not moved by a donation: the same withdrawal is refused", async function () {
      const shareFeed = await deploy<MockPriceFeed>("MockPriceFeed", [8n, 1_00000000n]);
      const { vault, donateAndWithdraw } = await pledgorWithFundShares(
        await sys.line(sys.mmf, shareFeed, 500n),
      );
      expect(await vault.collateralValue()).to.equal(USD(1_050_000n));
      await expect(donateAndWithdraw(E18(95_000n)))
        .to.be.revertedWithCustomError(vault, "WithdrawalBreachesRequirement")
        .withArgs(USD(955_000n), USD(1_050_000n));
      expect(await sys.tbill.balanceOf(await sys.mmf.getAddress())).to.equal(TBILL(2_000_000n)); // all undone
    });
  });

  describe("racing a margin call in one block", function () {
    afterEach(async function () {
      await sys.ethers.provider.send("evm_setAutomine", [true]);
      await sys.networkHelpers.mine(); // flush anything a failed test left pending
    });

    /** No minimum transfer, so a withdrawal is refused for coverage alone; the call rounds up to 1,000. */
    const raceTerms = { ...calledTerms, minimumTransferAmount: 0n };

    /** The revert data of a mined, failed transaction, from its trace. */
    async function revertOf(hash: string) {
      const trace = (await sys.ethers.provider.send("debug_traceTransaction", [
        hash,
        { disableStorage: true, disableMemory: true, disableStack: true },
      ])) as { failed: boolean; returnValue: string };
      expect(trace.failed, "the transaction failed").to.equal(true);
      const data = trace.returnValue.startsWith("0x")
        ? trace.returnValue
        : `0x${trace.returnValue}`;
      return sys.implementation.interface.parseError(data);
    }

    type Step = "drop" | "withdraw" | "call";

    const orders: { steps: Step[]; outcome: string }[] = [
      {
        steps: ["drop", "withdraw", "call"],
        outcome: "the withdrawal reverts WithdrawalBreachesRequirement, the call is 9,000",
      },
      {
        steps: ["withdraw", "drop", "call"],
        outcome: "the withdrawal passes at the old price and the call grows to 54,000",
      },
      {
        steps: ["drop", "call", "withdraw"],
        outcome: "the withdrawal reverts InvalidState(MarginCall), the call is 9,000",
      },
    ];

    for (const { steps, outcome } of orders) {
      it(`a price drop, a 50,000 T-bill withdrawal and a keeper's call mined in one block as ${steps.join(", ")}: ${outcome}`, async function () {
        const vault = await sys.openAgreement({ terms: raceTerms });
        const tbill = await sys.tbill.getAddress();
        await postTbill(vault, TBILL(1_100_000n));
        await pledge(vault);
        await vault.connect(sys.securedParty).setExposure(USD(800_000n));
        // Before the drop: 1,078,000 against 1,000,000, so 50,000 T-bills (49,000 of value) may leave.
        expect(
          await vault
            .connect(sys.pledgor)
            .withdraw.staticCall(tbill, TBILL(50_000n), sys.pledgor.address),
        ).to.deep.equal([]);

        const gwei = 10n ** 9n;
        // Explicit gas (no estimate against the pending block) and falling tips fix the order in the block.
        const fees = (i: number) => ({
          gasLimit: 1_000_000n,
          maxFeePerGas: 100n * gwei,
          maxPriorityFeePerGas: BigInt(10 - i) * gwei,
        });
        const send: Record<Step, (i: number) => Promise<{ hash: string }>> = {
          drop: (i) => sys.tbillFeed.setAnswer(92_000000n, fees(i)),
          withdraw: (i) =>
            vault
              .connect(sys.pledgor)
              .withdraw(tbill, TBILL(50_000n), sys.pledgor.address, fees(i)),
          call: (i) => vault.connect(sys.outsider).issueMarginCall(fees(i)),
        };
        const hashes: Partial<Record<Step, string>> = {};
        await sys.ethers.provider.send("evm_setAutomine", [false]);
        try {
          for (const [i, step] of steps.entries()) hashes[step] = (await send[step](i)).hash;
          await sys.networkHelpers.mine();
        } finally {
          await sys.ethers.provider.send("evm_setAutomine", [true]);
        }

        const receipts = await Promise.all(
          steps.map((step) => sys.ethers.provider.getTransactionReceipt(hashes[step]!)),
        );
        expect(new Set(receipts.map((r) => r!.blockNumber)).size, "one block").to.equal(1);
        expect(receipts.map((r) => r!.index)).to.deep.equal([0, 1, 2]);
        const status = (step: Step) => receipts[steps.indexOf(step)]!.status;
        expect([status("drop"), status("call")]).to.deep.equal([1, 1]);

        const withdrawnFirst = steps.indexOf("withdraw") < steps.indexOf("drop");
        if (withdrawnFirst) {
          expect(status("withdraw")).to.equal(1);
          expect(await sys.tbill.balanceOf(sys.pledgor.address)).to.equal(TBILL(50_000n));
        } else {
          expect(status("withdraw")).to.equal(0);
          const error = await revertOf(hashes.withdraw!);
          if (steps.indexOf("call") < steps.indexOf("withdraw")) {
            expect([error?.name, ...(error?.args ?? [])]).to.deep.equal([
              "InvalidState",
              BigInt(VaultState.MarginCall),
            ]);
          } else {
            // 1,050,000 T-bills at $0.92 less 2%: 946,680 against 1,000,000.
            expect([error?.name, ...(error?.args ?? [])]).to.deep.equal([
              "WithdrawalBreachesRequirement",
              USD(946_680n),
              USD(1_000_000n),
            ]);
          }
          expect(await sys.tbill.balanceOf(sys.pledgor.address)).to.equal(0n);
        }

        // The call is for the shortfall the block's final holdings leave, rounded up to 1,000.
        const held = withdrawnFirst ? TBILL(1_050_000n) : TBILL(1_100_000n);
        const value = withdrawnFirst ? USD(946_680n) : CALLED_VALUE;
        const [amount, shortfall] = withdrawnFirst
          ? [USD(54_000n), USD(53_320n)]
          : [USD(9_000n), USD(8_240n)];
        const callReceipt = receipts[steps.indexOf("call")]!;
        const issued = callReceipt.logs
          .map((log) => vault.interface.parseLog(log))
          .find((log) => log?.name === "MarginCallIssued");
        const { timestamp } = (await sys.ethers.provider.getBlock(callReceipt.blockNumber))!;
        expect([...issued!.args]).to.deep.equal([
          sys.outsider.address,
          amount,
          shortfall,
          BigInt(timestamp) + ONE_DAY,
          value,
          USD(1_000_000n),
        ]);
        expect(await vault.balanceOf(tbill)).to.equal(held);
        expect(await vault.collateralValue()).to.equal(value);
        const [, , , callAmount] = await vault.marginState();
        expect(callAmount).to.equal(amount);
        expect(value + callAmount).to.be.greaterThanOrEqual(USD(1_000_000n));
        expect(await vault.state()).to.equal(VaultState.MarginCall);
      });
    }
  });
});

// A pledged withdrawal values the assets in listing order and stops once those valued already cover the
// requirement plus the minimum transfer amount (before) and the requirement (after): a concentration cap only
// loosens as the total grows, so the capped value of the assets valued so far is a lower bound of the whole.
describe("CollateralVault.withdraw: the valuation stops once the assets valued cover the requirement", function () {
  const sys = useSystem();
  const { pledge, postTbill } = adversary(sys);

  /** T-bills capped at 60% of the collateral, then one unit of a stablecoin whose feed is down. */
  async function cappedTbillsAndUnpricedDust(exposure: bigint) {
    const s = sys();
    const vault = await s.openAgreement({
      schedule: [
        await s.line(s.tbill, s.tbillFeed, 0n, undefined, 6_000n),
        await s.line(s.stable, s.stableFeed, 0n),
      ],
    });
    await postTbill(vault, TBILL(1_000_000n));
    await s.fund(s.stable, s.pledgor, vault, 1n);
    await vault.connect(s.pledgor).deposit(await s.stable.getAddress(), 1n);
    await pledge(vault);
    await vault.connect(s.securedParty).setExposure(exposure);
    await s.stableFeed.setReverts(true);
    return vault;
  }

  it("a cap that still leaves the T-bills covering: 60% of 999,990 covers 500,000 plus the MTA, so the dust without a price is never read", async function () {
    const vault = await cappedTbillsAndUnpricedDust(USD(500_000n));
    const tbill = await sys().tbill.getAddress();
    await vault.connect(sys().pledgor).withdraw(tbill, TBILL(10n), sys().pledgor.address);
    expect(await vault.balanceOf(tbill)).to.equal(TBILL(999_990n));
    // A full valuation reads every asset, so the margin engine's view still refuses the bad price.
    await expect(vault.collateralValue()).to.be.revertedWithCustomError(vault, "FeedCallFailed");
  });

  it("a cap that binds: 60% of 1,000,000 does not cover 700,000, so the valuation goes on and refuses the dust's missing price", async function () {
    const vault = await cappedTbillsAndUnpricedDust(USD(700_000n));
    const s = sys();
    const tbill = await s.tbill.getAddress();
    await expect(vault.connect(s.pledgor).withdraw(tbill, TBILL(10n), s.pledgor.address))
      .to.be.revertedWithCustomError(vault, "FeedCallFailed")
      .withArgs(await s.stableFeed.getAddress());
    // Priced again, the stablecoin's one unit lifts the cap a hair: the whole is valued, exactly, and falls short.
    await s.stableFeed.setReverts(false);
    const required = await vault.requirement();
    await expect(vault.connect(s.pledgor).withdraw(tbill, TBILL(10n), s.pledgor.address))
      .to.be.revertedWithCustomError(vault, "ExcessBelowMinimumTransfer")
      .withArgs(0n, USD(1_000n));
    // With 500,000 of the stablecoin beside them the T-bills' cap no longer binds the withdrawal.
    await s.fund(s.stable, s.pledgor, vault, E18(500_000n));
    await vault.connect(s.pledgor).deposit(await s.stable.getAddress(), E18(500_000n));
    await vault.connect(s.pledgor).withdraw(tbill, TBILL(10n), s.pledgor.address);
    expect(await vault.collateralValue()).to.be.greaterThanOrEqual(required);
  });
});
