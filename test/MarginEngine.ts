import { expect } from "chai";
import { ethers as ethersLib } from "ethers";

import { ONE_DAY, VaultState, WAD, defaultTerms, useSystem, type System } from "./fixtures.js";
import { erc20Leg, signSettlement, type Settlement } from "./helpers/dvp.js";

const USD = (n: bigint) => n * WAD;
const TBILL = (n: bigint) => n * 10n ** 6n;
const STABLE = (n: bigint) => n * WAD;
const price8 = (cents: bigint) => cents * 10n ** 6n; // an 8-decimal feed answer from a price in cents

enum Outcome {
  Skipped = 0,
  CallIssued = 1,
  CallIssuedAndMet = 2,
}

describe("Margin engine", function () {
  let sys: System;
  const system = useSystem();
  beforeEach(function () {
    sys = system();
  });

  // Requirement = exposure + independent amount; 1,100,000 T-bills at $1 less 2% = 1,078,000 covers 1,000,000.
  const terms = { ...defaultTerms, independentAmount: USD(200_000n) };

  async function pledgedAgreement() {
    const vault = await sys.openAgreement({ terms });
    await sys.fund(sys.tbill, sys.pledgor, vault, TBILL(1_100_000n));
    await vault.connect(sys.pledgor).deposit(await sys.tbill.getAddress(), TBILL(1_100_000n));
    await vault.connect(sys.pledgor).consentToPledge(await vault.termsHash());
    await vault.connect(sys.securedParty).consentToPledge(await vault.termsHash());
    await vault.connect(sys.securedParty).setExposure(USD(800_000n));
    return vault;
  }

  /** Moves time and republishes every feed so prices stay fresh. */
  async function advance(seconds: bigint, tbillCents = 0n) {
    await sys.networkHelpers.time.increase(seconds);
    await sys.tbillFeed.setAnswer(
      tbillCents === 0n ? await sys.tbillFeed.answer() : price8(tbillCents),
    );
    await sys.stableFeed.setAnswer(await sys.stableFeed.answer());
  }

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

  it("closes an open call when a deposit restores coverage", async function () {
    const vault = await pledgedAgreement();
    await sys.tbillFeed.setAnswer(price8(90n)); // 970,200: a call for 30,000
    await vault.issueMarginCall();
    await sys.fund(sys.stable, sys.pledgor, vault, STABLE(20_000n));
    await vault.connect(sys.pledgor).deposit(await sys.stable.getAddress(), STABLE(20_000n));
    expect(await vault.state()).to.equal(VaultState.MarginCall);
    await sys.fund(sys.stable, sys.pledgor, vault, STABLE(10_000n));
    await expect(vault.connect(sys.pledgor).deposit(await sys.stable.getAddress(), STABLE(10_000n)))
      .to.emit(vault, "MarginCallMet")
      .withArgs(USD(1_000_200n), USD(1_000_000n));
    expect(await vault.state()).to.equal(VaultState.Pledged);
  });

  it("lets anyone close a call after the price recovers", async function () {
    const vault = await pledgedAgreement();
    await sys.tbillFeed.setAnswer(price8(90n));
    await vault.issueMarginCall();
    await expect(vault.connect(sys.outsider).closeMarginCall())
      .to.be.revertedWithCustomError(vault, "MarginCallNotMet")
      .withArgs(await vault.collateralValue(), await vault.callableRequirement());
    await sys.tbillFeed.setAnswer(price8(100n));
    await expect(vault.connect(sys.outsider).closeMarginCall()).to.emit(vault, "MarginCallMet");
  });

  it("refuses a default on a call cured by a price recovery, even past its deadline", async function () {
    const vault = await pledgedAgreement();
    await sys.tbillFeed.setAnswer(price8(90n));
    await vault.issueMarginCall();
    await advance(ONE_DAY + 1n, 100n); // the price is back at $1 and the call was never closed
    await expect(vault.connect(sys.outsider).declareDefault())
      .to.be.revertedWithCustomError(vault, "MarginCallCured")
      .withArgs(USD(1_078_000n), USD(1_000_000n));
    await expect(
      vault.connect(sys.securedParty).deliverNoticeOfExclusiveControl(ethersLib.id("notice")),
    ).to.be.revertedWithCustomError(vault, "MarginCallCured");
    await vault.connect(sys.outsider).closeMarginCall();
    expect(await vault.state()).to.equal(VaultState.Pledged);
  });

  it("skips a top-up asset whose source revoked its allowance and pulls the next in cost order", async function () {
    const vault = await pledgedAgreement();
    const { admin: treasury } = sys;
    await sys.fund(sys.stable, treasury, vault, STABLE(50_000n));
    await sys.fund(sys.tbill, treasury, vault, TBILL(50_000n));
    await vault
      .connect(sys.pledgor)
      .configureTopUp(
        treasury.address,
        [await sys.stable.getAddress(), await sys.tbill.getAddress()],
        [STABLE(50_000n), TBILL(50_000n)],
      );
    await sys.stable.connect(treasury).approve(await vault.getAddress(), 0n);
    await sys.tbillFeed.setAnswer(price8(92n)); // call for 9,000; T-bills at $0.92 less 2%
    await expect(vault.issueMarginCall()).to.emit(vault, "MarginCallMet");
    // 9,000 / (0.92 x 0.98) = 9,982.2537710... T-bills: the smallest raw amount that covers the call.
    const pulled = TBILL(50_000n) - (await sys.tbill.balanceOf(treasury.address));
    expect(pulled).to.equal(9_982_253_772n);
    const [, , capsLeft] = await vault.topUpConfiguration();
    expect(capsLeft).to.deep.equal([STABLE(50_000n), TBILL(50_000n) - pulled]);
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

  it("keeps the undisputed part of a disputed exposure callable, and resolves disputes by the rules", async function () {
    const vault = await pledgedAgreement();
    await vault.connect(sys.securedParty).setExposure(USD(900_000n)); // requirement 1,100,000
    await expect(vault.connect(sys.pledgor).disputeExposure(USD(850_000n)))
      .to.emit(vault, "ExposureDisputed")
      .withArgs(USD(900_000n), USD(850_000n), USD(850_000n));
    expect(await vault.callableRequirement()).to.equal(USD(1_050_000n));
    expect(await vault.requirement()).to.equal(USD(1_100_000n));
    await expect(vault.connect(sys.pledgor).disputeExposure(USD(1n))).to.be.revertedWithCustomError(
      vault,
      "DisputeAlreadyOpen",
    );
    // The call is for the undisputed shortfall: 1,050,000 - 1,078,000 < 0, so none is due yet.
    await expect(vault.issueMarginCall()).to.be.revertedWithCustomError(vault, "NoMarginCallDue");

    await expect(vault.connect(sys.pledgor).resolveDispute(USD(850_000n)))
      .to.be.revertedWithCustomError(vault, "InvalidResolution")
      .withArgs(sys.pledgor.address, USD(850_000n));
    await expect(
      vault.connect(sys.securedParty).resolveDispute(USD(950_000n)),
    ).to.be.revertedWithCustomError(vault, "InvalidResolution");
    // Above the pledgor's figure the secured party cannot "resolve"; it may lower its mark, and the dispute stays.
    await expect(vault.connect(sys.securedParty).resolveDispute(USD(870_000n)))
      .to.be.revertedWithCustomError(vault, "InvalidResolution")
      .withArgs(sys.securedParty.address, USD(870_000n));
    await vault.connect(sys.securedParty).setExposure(USD(870_000n));
    expect((await vault.marginState()).disputed).to.equal(true);
    expect(await vault.callableRequirement()).to.equal(USD(1_050_000n));
    // The pledgor raises its figure to the mark: the two figures meet and the dispute ends there.
    await expect(vault.connect(sys.pledgor).resolveDispute(USD(870_000n)))
      .to.emit(vault, "DisputeResolved")
      .withArgs(sys.pledgor.address, USD(870_000n));
    expect(await vault.callableRequirement()).to.equal(USD(1_070_000n));
    expect(await vault.enforceableExposure()).to.equal(USD(870_000n));

    await vault.connect(sys.securedParty).setExposure(USD(880_000n));
    await sys.networkHelpers.time.increase(ONE_DAY + 1n);
    await expect(vault.connect(sys.pledgor).disputeExposure(USD(1n))).to.be.revertedWithCustomError(
      vault,
      "DisputeWindowClosed",
    );
  });

  it("substitutes one asset for another atomically, never below the requirement", async function () {
    const vault = await pledgedAgreement();
    const tbill = await sys.tbill.getAddress();
    const stable = await sys.stable.getAddress();
    await sys.fund(sys.stable, sys.pledgor, vault, STABLE(200_000n));
    // 100,000 of stablecoin in for 100,000 T-bills out: value rises by 2,000 (no haircut on the stablecoin).
    await expect(
      vault
        .connect(sys.pledgor)
        .substitute(stable, STABLE(100_000n), tbill, TBILL(100_000n), sys.pledgor.address),
    )
      .to.emit(vault, "Substituted")
      .withArgs(stable, STABLE(100_000n), tbill, TBILL(100_000n));
    expect(await vault.balanceOf(stable)).to.equal(STABLE(100_000n));
    // Taking out more value than comes in (after haircuts) is no substitution, as under the CSA: the whole swap
    // reverts, naming both values.
    await expect(
      vault
        .connect(sys.pledgor)
        .substitute(stable, STABLE(1_000n), tbill, TBILL(500_000n), sys.pledgor.address),
    )
      .to.be.revertedWithCustomError(vault, "SubstitutionExceedsValue")
      .withArgs(USD(490_000n), USD(1_000n));
    // Regression: one raw unit in for 500 T-bills out of the same asset used to pass (coverage held), paying out
    // an excess below the minimum transfer amount that a withdrawal refuses.
    await expect(
      vault.connect(sys.pledgor).substitute(tbill, 1n, tbill, TBILL(500n), sys.pledgor.address),
    )
      .to.be.revertedWithCustomError(vault, "SubstitutionExceedsValue")
      .withArgs(USD(490n), 980_000_000_000n);
    expect(await vault.balanceOf(stable)).to.equal(STABLE(100_000n));
    const other = await sys.ethers.deployContract("MockERC20", ["Other", "OTH", 18]);
    await expect(
      vault
        .connect(sys.pledgor)
        .substitute(await other.getAddress(), 1n, tbill, 1n, sys.pledgor.address),
    )
      .to.be.revertedWithCustomError(vault, "IneligibleAsset")
      .withArgs(await other.getAddress());
  });

  it("batches margin calls across agreements, skipping those not due and addresses that are not vaults", async function () {
    const covered = await pledgedAgreement();
    const due = await pledgedAgreement();
    await due.connect(sys.securedParty).setExposure(USD(950_000n)); // requirement 1,150,000 > 1,078,000
    const outcomes = await sys.factory.issueMarginCalls.staticCall([
      await covered.getAddress(),
      await due.getAddress(),
      sys.outsider.address,
    ]);
    expect(outcomes).to.deep.equal([
      BigInt(Outcome.Skipped),
      BigInt(Outcome.CallIssued),
      BigInt(Outcome.Skipped),
    ]);
  });
});
