// CollateralVault.deposit: the pledgor posts eligible collateral, credited exactly what arrived; what a deposit
// refuses (other callers, ineligible assets, short deliveries, hostile tokens, locked states) beside it.
import { expect } from "chai";
import { ethers as ethersLib } from "ethers";

import { VaultState, WAD, defaultTerms, useSystem, type System } from "../fixtures.js";
import { E18, E6, TBILL, USD, adversary, looseTerms } from "../helpers/adversary.js";
import { hostileTokens } from "../helpers/hostile.js";
import { refusalSteps } from "../helpers/refusal.js";
import type {
  BlocklistToken,
  FeeOnTransferToken,
  MockERC20,
  NonStandardERC20WithDecimals,
} from "../../types/ethers-contracts/index.js";

describe("CollateralVault.deposit", function () {
  let sys: System;
  const system = useSystem();
  beforeEach(function () {
    sys = system();
  });

  const {
    deploy,
    agreementListing,
    pledge,
    underExclusiveControl,
    postTbill,
    mintAndApprove,
  } = adversary(() => sys);

  it("accounts for posted collateral and emits Deposited", async function () {
    const vault = await sys.openAgreement();
    const amount = 5_000n * 10n ** 6n;
    await sys.fund(sys.tbill, sys.pledgor, vault, amount);
    await expect(vault.connect(sys.pledgor).deposit(await sys.tbill.getAddress(), amount))
      .to.emit(vault, "Deposited")
      .withArgs(await sys.tbill.getAddress(), sys.pledgor.address, amount, amount);
    expect(await vault.balanceOf(await sys.tbill.getAddress())).to.equal(amount);
    expect(await sys.tbill.balanceOf(await vault.getAddress())).to.equal(amount);
  });

  for (const returnsNothing of [false, true]) {
    const style = returnsNothing ? "returns nothing (USDT-style)" : "returns false (ZRX-style)";
    it(`non-standard token that ${style}: deposit, withdraw, release and appropriation work; a failing pull reverts`, async function () {
      const token = await deploy<NonStandardERC20WithDecimals>("NonStandardERC20WithDecimals", [
        returnsNothing,
      ]);
      const asset = await token.getAddress();
      const vault = await agreementListing(token);
      await token.mint(sys.pledgor.address, E6(1_000n));
      await token.connect(sys.pledgor).approve(await vault.getAddress(), E6(500n));
      // A pull beyond the allowance: false is caught by SafeERC20, a revert bubbles up.
      const overdrawn = vault.connect(sys.pledgor).deposit(asset, E6(600n));
      if (returnsNothing)
        await expect(overdrawn).to.be.revertedWithCustomError(token, "ShortTransfer");
      else
        await expect(overdrawn)
          .to.be.revertedWithCustomError(vault, "SafeERC20FailedOperation")
          .withArgs(asset);
      await vault.connect(sys.pledgor).deposit(asset, E6(500n));
      expect(await vault.balanceOf(asset)).to.equal(E6(500n));
      await vault.connect(sys.pledgor).withdraw(asset, E6(100n), sys.pledgor.address);
      expect(await token.balanceOf(sys.pledgor.address)).to.equal(E6(600n));
      await underExclusiveControl(vault, USD(1_000n));
      await vault
        .connect(sys.securedParty)
        .instructTransfer(asset, E6(100n), sys.securedParty.address);
      expect(await token.balanceOf(sys.securedParty.address)).to.equal(E6(100n));
      await expect(vault.connect(sys.securedParty).release())
        .to.emit(vault, "CollateralReturned")
        .withArgs(asset, sys.pledgor.address, E6(300n));
      expect(await token.balanceOf(sys.pledgor.address)).to.equal(E6(900n));
      expect(await token.balanceOf(await vault.getAddress())).to.equal(0n);
    });
  }

  describe("refuses", function () {
    const { postedVault, ledger } = refusalSteps(() => sys);
    const { twoRebasingAgreements, mixedAgreement, manyAssets } = hostileTokens(() => sys);

    it("refuses an ineligible asset, naming it", async function () {
      const vault = await sys.openAgreement();
      const other = await sys.ethers.deployContract("MockERC20", ["Other", "OTH", 18]);
      await expect(vault.connect(sys.pledgor).deposit(await other.getAddress(), 1n))
        .to.be.revertedWithCustomError(vault, "IneligibleAsset")
        .withArgs(await other.getAddress());
    });

    it("refuses a zero amount", async function () {
      const vault = await sys.openAgreement();
      await expect(
        vault.connect(sys.pledgor).deposit(await sys.tbill.getAddress(), 0n),
      ).to.be.revertedWithCustomError(vault, "ZeroAmount");
    });

    it("refuses anyone but the pledgor, so an outsider cannot post dust that blocks valuation", async function () {
      const vault = await sys.openAgreement();
      const tbill = await sys.tbill.getAddress();
      for (const caller of [sys.securedParty, sys.outsider]) {
        await sys.fund(sys.tbill, caller, vault, 1n);
        await expect(vault.connect(caller).deposit(tbill, 1n))
          .to.be.revertedWithCustomError(vault, "Unauthorized")
          .withArgs(caller.address, sys.pledgor.address);
      }
      expect(await vault.balanceOf(tbill)).to.equal(0n);
    });

    it("refuses a fee-on-transfer token rather than mis-accounting it", async function () {
      const fot = await sys.ethers.deployContract("FeeOnTransferToken", [100n]);
      const vault = await sys.openAgreement({
        schedule: [await sys.line(fot, sys.stableFeed, 0n)],
      });
      await fot.mint(sys.pledgor.address, 1_000n);
      await fot.connect(sys.pledgor).approve(await vault.getAddress(), 1_000n);
      await expect(vault.connect(sys.pledgor).deposit(await fot.getAddress(), 1_000n))
        .to.be.revertedWithCustomError(vault, "ShortDelivery")
        .withArgs(await fot.getAddress(), 990n, 1_000n);
      expect(await vault.balanceOf(await fot.getAddress())).to.equal(0n);
    });

    it("fee on transfer: a deposit that arrives short is refused ShortDelivery, another agreement untouched", async function () {
      const fot = await deploy<FeeOnTransferToken>("FeeOnTransferToken", [100n]); // 1% fee
      const asset = await fot.getAddress();
      const vault = await agreementListing(fot);
      const other = await agreementListing(fot);
      await postTbill(other, TBILL(1_000n));
      await mintAndApprove(fot, sys.pledgor, vault, E18(1_000n));
      await expect(vault.connect(sys.pledgor).deposit(asset, E18(1_000n)))
        .to.be.revertedWithCustomError(vault, "ShortDelivery")
        .withArgs(asset, E18(990n), E18(1_000n));
      expect(await vault.balanceOf(asset)).to.equal(0n);
      expect(await fot.balanceOf(await vault.getAddress())).to.equal(0n);
      expect(await fot.balanceOf(sys.pledgor.address)).to.equal(E18(1_000n));
      expect(await other.balanceOf(await sys.tbill.getAddress())).to.equal(TBILL(1_000n));
    });

    it("rebase rounding: a deposit the share rounding shrinks is refused ShortDelivery", async function () {
      const { reb, asset, a } = await twoRebasingAgreements();
      await reb.rebase((3n * WAD) / 2n); // 1 unit is 2/3 of a share: rounds to none
      await mintAndApprove(reb, sys.pledgor, a, 3n);
      await expect(a.connect(sys.pledgor).deposit(asset, 1n))
        .to.be.revertedWithCustomError(a, "ShortDelivery")
        .withArgs(asset, 0n, 1n);
    });

    it("blocklisted vault: deposits are refused with the token's error, the other agreement untouched", async function () {
      const busd = await deploy<BlocklistToken>("BlocklistToken");
      const { asset, vault, other } = await mixedAgreement(busd);
      const vaultAddress = await vault.getAddress();
      await busd.setBlocked(vaultAddress, true);
      await mintAndApprove(busd, sys.pledgor, vault, E6(1n));
      await expect(vault.connect(sys.pledgor).deposit(asset, E6(1n)))
        .to.be.revertedWithCustomError(busd, "Blocked")
        .withArgs(vaultAddress);
      await expect(vault.connect(sys.securedParty).release())
        .to.emit(vault, "CollateralReturnFailed")
        .withArgs(asset, sys.pledgor.address, E6(1_000n));
      expect(await other.balanceOf(asset)).to.equal(E6(1_000n));
      await other.connect(sys.pledgor).withdraw(asset, E6(1_000n), sys.pledgor.address);
    });

    it("an ineligible token (never listed) cannot be posted, even by the pledgor: IneligibleAsset", async function () {
      const stray = await deploy<MockERC20>("MockERC20", ["Stray", "STR", 18n]);
      const vault = await sys.openAgreement();
      await sys.fund(stray, sys.pledgor, vault, 1n);
      await expect(vault.connect(sys.pledgor).deposit(await stray.getAddress(), 1n))
        .to.be.revertedWithCustomError(vault, "IneligibleAsset")
        .withArgs(await stray.getAddress());
    });

    it("deposit refuses a vault under exclusive control or released: InvalidState(state), nothing moves", async function () {
      const vault = await postedVault();
      const tbill = await sys.tbill.getAddress();
      await underExclusiveControl(vault, USD(100_000n));
      await sys.fund(sys.tbill, sys.pledgor, vault, TBILL(1_000n));

      const before = await ledger(vault, [sys.tbill]);
      await expect(vault.connect(sys.pledgor).deposit(tbill, TBILL(1_000n)))
        .to.be.revertedWithCustomError(vault, "InvalidState")
        .withArgs(VaultState.ExclusiveControl);
      expect(await ledger(vault, [sys.tbill])).to.deep.equal(before);

      await vault.connect(sys.securedParty).release();
      const released = await ledger(vault, [sys.tbill]);
      await expect(vault.connect(sys.pledgor).deposit(tbill, TBILL(1_000n)))
        .to.be.revertedWithCustomError(vault, "InvalidState")
        .withArgs(VaultState.Released);
      expect(await ledger(vault, [sys.tbill])).to.deep.equal(released);
      expect(await sys.tbill.balanceOf(sys.pledgor.address)).to.equal(TBILL(1_001_000n));
    });

    it("regression: an outsider can no longer post dust of a listed asset whose feed is down to block the margin call (Unauthorized); a donation of it changes nothing", async function () {
      // The pledgor holds only T-bills; the bond's feed is down, which does not matter while nobody holds bonds.
      // Deposits used to be open to anyone: one raw unit of bond then made every valuation revert, blocking the
      // call below and the pledgor's withdrawals until a delisting matured.
      const vault = await sys.openAgreement({
        terms: { ...defaultTerms, independentAmount: USD(200_000n) },
      });
      const bond = await sys.bond.getAddress();
      await postTbill(vault, TBILL(1_100_000n));
      await pledge(vault);
      await vault.connect(sys.securedParty).setExposure(USD(800_000n));
      await sys.bondFeed.setReverts(true);
      await sys.tbillFeed.setAnswer(92_000000n); // a call is now due
      expect((await sys.lens.status(await vault.getAddress())).marginCallDue).to.equal(true);

      await sys.fund(sys.bond, sys.outsider, vault, 2n);
      await expect(vault.connect(sys.outsider).deposit(bond, 1n))
        .to.be.revertedWithCustomError(vault, "Unauthorized")
        .withArgs(sys.outsider.address, sys.pledgor.address);
      await sys.bond.connect(sys.outsider).transfer(await vault.getAddress(), 1n);
      // The donation cannot be credited by the outsider either, only written down.
      await expect(vault.connect(sys.outsider).reconcile(bond))
        .to.be.revertedWithCustomError(vault, "Unauthorized")
        .withArgs(sys.outsider.address, sys.pledgor.address);
      expect(await vault.balanceOf(bond)).to.equal(0n);
      await expect(vault.connect(sys.outsider).issueMarginCall()).to.emit(vault, "MarginCallIssued");
    });

    it("dust (1 raw unit) of every listed asset: an outsider's deposit is refused Unauthorized, a donation is not accounted, and the pledgor's own dust on 16 assets keeps valuation, withdrawal and release working", async function () {
      const { tokens, lines } = await manyAssets(16);
      const vault = await sys.openAgreement({ schedule: lines, terms: looseTerms });
      const real = await tokens[0].getAddress();
      await sys.fund(tokens[0], sys.pledgor, vault, E18(1_000n));
      await vault.connect(sys.pledgor).deposit(real, E18(1_000n));
      await pledge(vault);
      await vault.connect(sys.securedParty).setExposure(USD(500n));
      await sys.fund(tokens[1], sys.outsider, vault, 1n);
      await expect(vault.connect(sys.outsider).deposit(await tokens[1].getAddress(), 1n))
        .to.be.revertedWithCustomError(vault, "Unauthorized")
        .withArgs(sys.outsider.address, sys.pledgor.address);
      // Sent straight to the vault, the outsider's unit is a donation: held, never accounted or valued.
      await tokens[1].connect(sys.outsider).transfer(await vault.getAddress(), 1n);
      expect(await vault.balanceOf(await tokens[1].getAddress())).to.equal(0n);
      expect(await vault.collateralValue()).to.equal(E18(1_000n));
      for (const token of tokens) {
        await sys.fund(token, sys.pledgor, vault, 1n);
        await vault.connect(sys.pledgor).deposit(await token.getAddress(), 1n);
      }
      const expected = E18(1_000n) + 16n; // each raw unit of an 18-decimal token at $1 is worth 1 wei
      expect(await vault.collateralValue()).to.equal(expected);
      const status = await sys.lens.status(await vault.getAddress());
      expect([status.collateralValue, status.pricesValid, status.positions.length]).to.deep.equal([
        expected,
        true,
        16n,
      ]);
      // Sixteen priced positions keep a withdrawal well inside a block.
      const gas = await vault
        .connect(sys.pledgor)
        .withdraw.estimateGas(real, E18(400n), sys.pledgor.address);
      expect(gas).to.be.lessThan(500_000n);
      await vault.connect(sys.pledgor).withdraw(real, E18(400n), sys.pledgor.address);
      await expect(vault.connect(sys.pledgor).withdraw(real, E18(101n), sys.pledgor.address))
        .to.be.revertedWithCustomError(vault, "WithdrawalBreachesRequirement")
        .withArgs(E18(499n) + 16n, USD(500n));
      await vault.connect(sys.securedParty).release();
      for (const [i, token] of tokens.entries())
        expect(await token.balanceOf(await vault.getAddress())).to.equal(i === 1 ? 1n : 0n); // the donation stays
      expect(await tokens[5].balanceOf(sys.pledgor.address)).to.equal(1n);
    });
  });
});

// A deposit reads one word of the asset's position: its balance and whether the applied schedule line lists it.
// These tests pin that the flag follows every way a line is applied: at once on an open agreement, and when a
// queued delisting of a live one matures (read from the queue) and is then moved into the schedule.
describe("CollateralVault.deposit: the position's listed flag follows the schedule", function () {
  const sys = useSystem();
  const { pledge, postTbill } = adversary(sys);

  const delisted = async () => ({
    ...(await sys().line(sys().tbill, sys().tbillFeed, 200n)),
    feed: ethersLib.ZeroAddress,
  });

  it("a delisting applied at once (agreement still open) refuses the next deposit IneligibleAsset; listing it again accepts it", async function () {
    const s = sys();
    const vault = await s.openAgreement();
    const tbill = await s.tbill.getAddress();
    await postTbill(vault, TBILL(1_000n));
    await vault.connect(s.securedParty).changeEligibility(await delisted());
    await s.fund(s.tbill, s.pledgor, vault, TBILL(1n));
    await expect(vault.connect(s.pledgor).deposit(tbill, TBILL(1n)))
      .to.be.revertedWithCustomError(vault, "IneligibleAsset")
      .withArgs(tbill);
    await vault.connect(s.securedParty).changeEligibility(await s.line(s.tbill, s.tbillFeed, 200n));
    await vault.connect(s.pledgor).deposit(tbill, TBILL(1n));
    expect(await vault.balanceOf(tbill)).to.equal(TBILL(1_001n));
  });

  it("a queued delisting of a live agreement refuses deposits once it matures, and still after it is moved into the schedule", async function () {
    const s = sys();
    const vault = await s.openAgreement();
    const tbill = await s.tbill.getAddress();
    await postTbill(vault, TBILL(1_000n));
    await pledge(vault);
    await vault.connect(s.securedParty).changeEligibility(await delisted());
    await s.fund(s.tbill, s.pledgor, vault, TBILL(2n));
    // Within the notice period the line still lists the T-bill.
    await vault.connect(s.pledgor).deposit(tbill, TBILL(1n));
    await s.advance(2n * 24n * 60n * 60n + 1n);
    await expect(vault.connect(s.pledgor).deposit(tbill, TBILL(1n)))
      .to.be.revertedWithCustomError(vault, "IneligibleAsset")
      .withArgs(tbill);
    // A later change of the same line (the same delisting again) first moves the matured one into the schedule.
    await vault.connect(s.securedParty).changeEligibility(await delisted());
    await expect(vault.connect(s.pledgor).deposit(tbill, TBILL(1n)))
      .to.be.revertedWithCustomError(vault, "IneligibleAsset")
      .withArgs(tbill);
  });
});
