import { expect } from "chai";
import { ethers as ethersLib } from "ethers";

import { useSystem } from "./fixtures.js";
import { TBILL, adversary } from "./helpers/adversary.js";

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
