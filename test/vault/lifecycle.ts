// One agreement through its whole lifecycle: a call met by top-up, an unmet call, default, notice, a DvP
// liquidation and the surplus released.
import { expect } from "chai";
import { ethers as ethersLib } from "ethers";

import { ONE_DAY, VaultState, defaultTerms, useSystem, type System } from "../fixtures.js";
import { STABLE, TBILL, USD } from "../helpers/adversary.js";
import { erc20Leg, signSettlement, type Settlement } from "../helpers/dvp.js";
import { Outcome, marginEngine, price8 } from "../helpers/margin.js";

describe("CollateralVault lifecycle", function () {
  let sys: System;
  const system = useSystem();
  beforeEach(function () {
    sys = system();
  });

  const { pledgedAgreement, advance } = marginEngine(() => sys);

  it("walks the whole lifecycle: call met by top-up, unmet call, default, notice, DvP liquidation, surplus released", async function () {
    const { pledgor, securedParty, outsider: keeper, admin: treasury, controlAgent: buyer } = sys;
    const vault = await pledgedAgreement();
    const vaultAddress = await vault.getAddress();
    const tbill = await sys.tbill.getAddress();
    const stable = await sys.stable.getAddress();

    // The pledgor's treasury pre-authorises stablecoin top-ups, capped at 10,000 in total.
    await sys.fund(sys.stable, treasury, vault, STABLE(50_000n));
    await expect(
      vault.connect(pledgor).configureTopUp(treasury.address, [stable], [STABLE(10_000n)]),
    )
      .to.emit(vault, "TopUpConfigured")
      .withArgs(treasury.address, [stable], [STABLE(10_000n)]);

    // Price drop to $0.92: 1,100,000 x 0.92 x 0.98 = 991,760 against 1,000,000: a call for 8,240 rounded to 9,000.
    await sys.tbillFeed.setAnswer(price8(92n));
    const outcomes = await sys.factory.connect(keeper).issueMarginCalls.staticCall([vaultAddress]);
    expect(outcomes).to.deep.equal([BigInt(Outcome.CallIssuedAndMet)]);
    const topUp = sys.factory.connect(keeper).issueMarginCalls([vaultAddress]);
    await expect(topUp)
      .to.emit(vault, "MarginCallIssued")
      .withArgs(
        await sys.factory.getAddress(),
        USD(9_000n),
        USD(8_240n),
        (v: bigint) => v > 0n,
        USD(991_760n),
        USD(1_000_000n),
      );
    await expect(topUp)
      .to.emit(vault, "TopUpPulled")
      .withArgs(stable, treasury.address, STABLE(9_000n), USD(9_000n), STABLE(1_000n));
    await expect(topUp).to.emit(vault, "MarginCallMet").withArgs(USD(1_000_760n), USD(1_000_000n));
    expect(await vault.state()).to.equal(VaultState.Pledged);
    // Not due any more: a second call is refused with the figures.
    await expect(vault.issueMarginCall())
      .to.be.revertedWithCustomError(vault, "NoMarginCallDue")
      .withArgs(USD(1_000_760n), USD(1_000_000n), defaultTerms.minimumTransferAmount);

    // Second drop to $0.85: 916,300 + 9,000 = 925,300: a call for 75,000; the top-up has only 1,000 left.
    await sys.tbillFeed.setAnswer(price8(85n));
    await expect(vault.connect(keeper).issueMarginCall())
      .to.emit(vault, "MarginCallIssued")
      .withArgs(
        keeper.address,
        USD(75_000n),
        USD(74_700n),
        (v: bigint) => v > 0n,
        USD(925_300n),
        USD(1_000_000n),
      );
    expect(await vault.state()).to.equal(VaultState.MarginCall);
    const [, , , callAmount] = await vault.marginState();
    expect(callAmount).to.equal(USD(75_000n));
    await expect(vault.issueMarginCall()).to.be.revertedWithCustomError(
      vault,
      "MarginCallAlreadyOpen",
    );
    await expect(vault.connect(pledgor).withdraw(tbill, 1n, pledgor.address))
      .to.be.revertedWithCustomError(vault, "InvalidState")
      .withArgs(VaultState.MarginCall);

    // The cure period passes unmet: anyone establishes the default.
    await expect(vault.connect(keeper).declareDefault()).to.be.revertedWithCustomError(
      vault,
      "CureDeadlineNotPassed",
    );
    await advance(ONE_DAY + 1n);
    await expect(vault.connect(keeper).declareDefault())
      .to.emit(vault, "DefaultDeclared")
      .withArgs(keeper.address, 3);

    // Notice of Exclusive Control: due = 800,000 + 5% = 840,000.
    const notice = ethersLib.id("NEC signed 2026-11-25");
    await vault.connect(securedParty).deliverNoticeOfExclusiveControl(notice);
    expect(await vault.appropriation()).to.deep.equal([USD(840_000n), 0n]);

    // Partial liquidation through DvP: 400,000 T-bills (worth 340,000) to a buyer for 335,000 of stablecoin.
    const { chainId } = await sys.ethers.provider.getNetwork();
    const dvp = await sys.dvp.getAddress();
    await sys.fund(sys.stable, buyer, sys.dvp, STABLE(400_000n));
    const deadline = BigInt(await sys.networkHelpers.time.latest()) + 3_600n;
    const sale = async (tbills: bigint, cash: bigint, nonce: bigint) => {
      const settlement: Settlement = {
        legs: [
          erc20Leg(tbill, tbills, vaultAddress, buyer.address),
          erc20Leg(stable, cash, buyer.address, securedParty.address),
        ],
        deadline,
        nonce,
      };
      const signature = await signSettlement(buyer, settlement, chainId, dvp);
      return vault
        .connect(securedParty)
        .liquidate(tbill, tbills, stable, cash, buyer.address, deadline, nonce, signature);
    };
    // Below oracle value less the 3% maximum discount (329,800): refused.
    await expect(sale(TBILL(400_000n), STABLE(320_000n), 1n))
      .to.be.revertedWithCustomError(vault, "SalePriceTooLow")
      .withArgs(USD(320_000n), USD(329_800n));
    await expect(sale(TBILL(400_000n), STABLE(335_000n), 2n))
      .to.emit(vault, "Liquidated")
      .withArgs(
        tbill,
        TBILL(400_000n),
        stable,
        STABLE(335_000n),
        buyer.address,
        (id: string) => id.length === 66,
        USD(340_000n),
        USD(335_000n),
      );
    expect(await vault.state()).to.equal(VaultState.Liquidating);
    expect(await sys.tbill.balanceOf(buyer.address)).to.equal(TBILL(400_000n));

    // Appropriation at oracle value, bounded by what is due: 335,000 + 595,000 would exceed 840,000.
    await expect(
      vault.connect(securedParty).instructTransfer(tbill, TBILL(700_000n), securedParty.address),
    )
      .to.be.revertedWithCustomError(vault, "AppropriationExceedsAmountDue")
      .withArgs(USD(930_000n), USD(840_000n));
    await vault
      .connect(securedParty)
      .instructTransfer(tbill, TBILL(590_000n), securedParty.address); // 501,500
    await expect(
      vault.connect(securedParty).instructTransfer(stable, STABLE(3_501n), securedParty.address),
    )
      .to.be.revertedWithCustomError(vault, "AppropriationExceedsAmountDue")
      .withArgs(USD(840_001n), USD(840_000n));
    await vault
      .connect(securedParty)
      .instructTransfer(stable, STABLE(3_500n), securedParty.address);
    expect(await vault.appropriation()).to.deep.equal([USD(840_000n), USD(840_000n)]);

    // Release: the surplus (110,000 T-bills and 6,500 of stablecoin) goes back to the pledgor.
    await vault.connect(securedParty).release();
    expect(await sys.tbill.balanceOf(pledgor.address)).to.equal(TBILL(110_000n));
    expect(await sys.stable.balanceOf(pledgor.address)).to.equal(STABLE(6_500n));
    expect(await sys.tbill.balanceOf(vaultAddress)).to.equal(0n);
    expect(await sys.stable.balanceOf(vaultAddress)).to.equal(0n);
    expect(await vault.state()).to.equal(VaultState.Released);
  });
});
