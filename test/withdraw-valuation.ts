import { expect } from "chai";

import { useSystem } from "./fixtures.js";
import { E18, TBILL, USD, adversary } from "./helpers/adversary.js";

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
