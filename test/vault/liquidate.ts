// CollateralVault.liquidate: a DvP sale of collateral under exclusive control, at no less than oracle value less the
// maximum discount and for no more than is due; hostile tokens and replayed signatures refused.
import { expect } from "chai";
import { ethers as ethersLib } from "ethers";

import { VaultState, WAD, useSystem, type System } from "../fixtures.js";
import { E18, E6, TBILL, USD, adversary } from "../helpers/adversary.js";
import { FAR_DEADLINE, erc20Leg, signSettlement, type Settlement } from "../helpers/dvp.js";
import { refusalSteps } from "../helpers/refusal.js";
import type {
  BlocklistToken,
  CollateralVault,
  FeeOnTransferToken,
  MockERC20,
  NonStandardERC20WithDecimals,
  RebasingToken,
} from "../../types/ethers-contracts/index.js";

describe("CollateralVault.liquidate", function () {
  let sys: System;
  const system = useSystem();
  beforeEach(function () {
    sys = system();
  });

  const {
    deploy,
    agreementListing,
    underExclusiveControl,
    postTbill,
    mintAndApprove,
  } = adversary(() => sys);

  const buyerOf = () => sys.outsider;

  /** An agreement listing `token`, 1,100,000 T-bills posted, under exclusive control (840,000 due). */
  async function controlledListing(token: { getAddress(): Promise<string> }) {
    const vault = await agreementListing(token);
    await postTbill(vault, TBILL(1_100_000n));
    return vault;
  }

  async function sale(
    vault: CollateralVault,
    asset: string,
    amount: bigint,
    cash: string,
    cashAmount: bigint,
    nonce = 1n,
  ) {
    const buyer = buyerOf();
    const { chainId } = await sys.ethers.provider.getNetwork();
    const deadline = BigInt(await sys.networkHelpers.time.latest()) + 3_600n;
    const settlement: Settlement = {
      legs: [
        erc20Leg(asset, amount, await vault.getAddress(), buyer.address),
        erc20Leg(cash, cashAmount, buyer.address, sys.securedParty.address),
      ],
      deadline,
      nonce,
    };
    const signature = await signSettlement(
      buyer,
      settlement,
      chainId,
      await sys.dvp.getAddress(),
    );
    return vault
      .connect(sys.securedParty)
      .liquidate(asset, amount, cash, cashAmount, buyer.address, deadline, nonce, signature);
  }

  it("selling a non-standard (returns nothing) token as collateral: approval and transfer work", async function () {
    const usdt = await deploy<NonStandardERC20WithDecimals>("NonStandardERC20WithDecimals", [
      true,
    ]);
    const asset = await usdt.getAddress();
    const vault = await controlledListing(usdt);
    await usdt.mint(sys.pledgor.address, E6(1_000n));
    await usdt.connect(sys.pledgor).approve(await vault.getAddress(), E6(1_000n));
    await vault.connect(sys.pledgor).deposit(asset, E6(1_000n));
    await underExclusiveControl(vault, USD(800_000n));
    await sys.fund(sys.stable, buyerOf(), sys.dvp, E18(990n));
    await expect(sale(vault, asset, E6(1_000n), await sys.stable.getAddress(), E18(990n)))
      .to.emit(vault, "Liquidated")
      .withArgs(
        asset,
        E6(1_000n),
        await sys.stable.getAddress(),
        E18(990n),
        buyerOf().address,
        (id: string) => id.length === 66,
        USD(1_000n),
        USD(990n),
      );
    expect(await usdt.balanceOf(buyerOf().address)).to.equal(E6(1_000n));
    expect(await vault.balanceOf(asset)).to.equal(0n);
    expect(await usdt.allowance(await vault.getAddress(), await sys.dvp.getAddress())).to.equal(
      0n,
    );
  });

  describe("refuses", function () {
    const { postedVault, ledger } = refusalSteps(() => sys);

    const tbill = () => sys.tbill.getAddress();

    const stable = () => sys.stable.getAddress();

    async function expectNothingMoved(vault: CollateralVault) {
      expect(await vault.appropriation()).to.deep.equal([USD(840_000n), 0n]);
      expect(await vault.balanceOf(await sys.tbill.getAddress())).to.equal(TBILL(1_100_000n));
      expect(await sys.tbill.balanceOf(await vault.getAddress())).to.equal(TBILL(1_100_000n));
      expect(await vault.state()).to.equal(VaultState.ExclusiveControl);
      expect(
        await sys.tbill.allowance(await vault.getAddress(), await sys.dvp.getAddress()),
      ).to.equal(0n);
    }

    it("liquidate refuses a zero amount in either leg (ZeroAmount), a cash token that is not listed (IneligibleAsset) and a sale paying more than is due (AppropriationExceedsAmountDue): nothing moves", async function () {
      const vault = await postedVault();
      await underExclusiveControl(vault, USD(100_000n)); // due: 105,000 with the 5% penalty
      const [tbill, stable] = [await sys.tbill.getAddress(), await sys.stable.getAddress()];
      const stray = await deploy<MockERC20>("MockERC20", ["Stray", "STRAY", 18]);
      const buyer = sys.outsider.address;
      const sale = (asset: string, amount: bigint, cash: string, cashAmount: bigint) =>
        vault
          .connect(sys.securedParty)
          .liquidate(asset, amount, cash, cashAmount, buyer, FAR_DEADLINE, 1n, "0x");

      const before = await ledger(vault, [sys.tbill, sys.stable]);
      await expect(sale(tbill, 0n, stable, E18(1_000n))).to.be.revertedWithCustomError(
        vault,
        "ZeroAmount",
      );
      await expect(sale(tbill, TBILL(1_000n), stable, 0n)).to.be.revertedWithCustomError(
        vault,
        "ZeroAmount",
      );
      await expect(sale(tbill, TBILL(1_000n), await stray.getAddress(), E18(1_000n)))
        .to.be.revertedWithCustomError(vault, "IneligibleAsset")
        .withArgs(await stray.getAddress());
      // 200,000 T-bills for 200,000 stablecoins: a fair price, but 95,000 more than the amount due.
      await expect(sale(tbill, TBILL(200_000n), stable, E18(200_000n)))
        .to.be.revertedWithCustomError(vault, "AppropriationExceedsAmountDue")
        .withArgs(USD(200_000n), USD(105_000n));
      expect(await ledger(vault, [sys.tbill, sys.stable])).to.deep.equal(before);
      expect(await vault.state()).to.equal(VaultState.ExclusiveControl);
      expect(await sys.dvp.isNonceUsed(buyer, 1n)).to.equal(false);
    });

    it("a buyer's DvP liquidation signature replayed: NonceAlreadyUsed; on another vault: InvalidSigner", async function () {
      const buyer = sys.outsider;
      const vault = await sys.openAgreement({ salt: ethersLib.id("a") });
      const other = await sys.openAgreement({ salt: ethersLib.id("b") });
      for (const v of [vault, other]) {
        await postTbill(v, TBILL(1_100_000n));
        await underExclusiveControl(v, USD(800_000n));
      }
      await sys.fund(sys.stable, buyer, sys.dvp, E18(200_000n));
      const { chainId } = await sys.ethers.provider.getNetwork();
      const deadline = BigInt(await sys.networkHelpers.time.latest()) + 3_600n;
      const settlement: Settlement = {
        legs: [
          erc20Leg(await tbill(), TBILL(100_000n), await vault.getAddress(), buyer.address),
          erc20Leg(await stable(), E18(99_000n), buyer.address, sys.securedParty.address),
        ],
        deadline,
        nonce: 7n,
      };
      const signature = await signSettlement(
        buyer,
        settlement,
        chainId,
        await sys.dvp.getAddress(),
      );
      const tbillAddress = await tbill();
      const stableAddress = await stable();
      const sell = (v: CollateralVault) =>
        v
          .connect(sys.securedParty)
          .liquidate(
            tbillAddress,
            TBILL(100_000n),
            stableAddress,
            E18(99_000n),
            buyer.address,
            deadline,
            7n,
            signature,
          );
      await expect(sell(other))
        .to.be.revertedWithCustomError(sys.dvp, "InvalidSigner")
        .withArgs(buyer.address, (recovered: string) => recovered !== buyer.address);
      await expect(sell(vault)).to.emit(vault, "Liquidated");
      await expect(sell(vault))
        .to.be.revertedWithCustomError(sys.dvp, "NonceAlreadyUsed")
        .withArgs(buyer.address, 7n);
      expect(await vault.balanceOf(tbillAddress)).to.equal(TBILL(1_000_000n));
      expect(await other.balanceOf(tbillAddress)).to.equal(TBILL(1_100_000n));
      expect(await sys.stable.balanceOf(sys.securedParty.address)).to.equal(E18(99_000n));
    });

    it("a blocklisted buyer paying in a blocklisting token: the sale reverts Blocked and nothing moves", async function () {
      const busd = await deploy<BlocklistToken>("BlocklistToken");
      const vault = await controlledListing(busd);
      await underExclusiveControl(vault, USD(800_000n));
      await mintAndApprove(busd, buyerOf(), sys.dvp, E6(100_000n));
      await busd.setBlocked(buyerOf().address, true);
      await expect(
        sale(
          vault,
          await sys.tbill.getAddress(),
          TBILL(100_000n),
          await busd.getAddress(),
          E6(99_000n),
        ),
      )
        .to.be.revertedWithCustomError(busd, "Blocked")
        .withArgs(buyerOf().address);
      await expectNothingMoved(vault);
      await busd.setBlocked(buyerOf().address, false);
      await expect(
        sale(
          vault,
          await sys.tbill.getAddress(),
          TBILL(100_000n),
          await busd.getAddress(),
          E6(99_000n),
          2n,
        ),
      ).to.emit(vault, "Liquidated");
      expect(await busd.balanceOf(sys.securedParty.address)).to.equal(E6(99_000n));
    });

    it("cash paid in a fee-on-transfer token: the DvP refuses the short cash leg, nothing moves", async function () {
      const fot = await deploy<FeeOnTransferToken>("FeeOnTransferToken", [100n]);
      const vault = await controlledListing(fot);
      await underExclusiveControl(vault, USD(800_000n));
      await mintAndApprove(fot, buyerOf(), sys.dvp, E18(100_000n));
      await expect(
        sale(
          vault,
          await sys.tbill.getAddress(),
          TBILL(100_000n),
          await fot.getAddress(),
          E18(99_000n),
        ),
      )
        .to.be.revertedWithCustomError(sys.dvp, "LegDeliveredShort")
        .withArgs(1n, E18(98_010n), E18(99_000n));
      await expectNothingMoved(vault);
    });

    it("selling a rebased-down token's accounted amount: the token refuses, nothing moves", async function () {
      const reb = await deploy<RebasingToken>("RebasingToken");
      const asset = await reb.getAddress();
      const vault = await controlledListing(reb);
      await mintAndApprove(reb, sys.pledgor, vault, E18(1_000n));
      await vault.connect(sys.pledgor).deposit(asset, E18(1_000n));
      await underExclusiveControl(vault, USD(800_000n));
      await reb.rebase(WAD / 2n);
      await sys.fund(sys.stable, buyerOf(), sys.dvp, E18(1_000n));
      await expect(sale(vault, asset, E18(1_000n), await sys.stable.getAddress(), E18(990n)))
        .to.be.revertedWithCustomError(reb, "InsufficientBalance")
        .withArgs(await vault.getAddress(), E18(500n), E18(1_000n));
      await expectNothingMoved(vault);
      expect(await vault.balanceOf(asset)).to.equal(E18(1_000n));
    });
  });
});
