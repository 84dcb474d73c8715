import { expect } from "chai";

import { defaultTerms, useSystem } from "./fixtures.js";
import { TBILL, USD, adversary } from "./helpers/adversary.js";

// A withdrawal reads the requirement and the minimum transfer amount from one slot, the requirement saturated at
// 2^128 - 1 WAD there. These tests pin that an exposure beyond it is still required in full.
describe("MarginEngine.requirement: the cached requirement and minimum transfer amount", function () {
  const sys = useSystem();
  const { pledge, postTbill } = adversary(sys);

  it("an exposure beyond 2^128 WAD is required exactly, and a withdrawal against it refused on the exact figure", async function () {
    const s = sys();
    const vault = await s.openAgreement({
      terms: { ...defaultTerms, independentAmount: USD(7n) },
    });
    const tbill = await s.tbill.getAddress();
    await postTbill(vault, TBILL(1_000n));
    await pledge(vault);
    const huge = 2n ** 130n;
    await vault.connect(s.securedParty).setExposure(huge);
    expect(await vault.requirement()).to.equal(huge + USD(7n));
    expect(await vault.callableRequirement()).to.equal(huge + USD(7n));
    await expect(vault.connect(s.pledgor).withdraw(tbill, TBILL(1n), s.pledgor.address))
      .to.be.revertedWithCustomError(vault, "ExcessBelowMinimumTransfer")
      .withArgs(0n, USD(1_000n));
    // Back below the saturation point the cached figure is read again.
    await vault.connect(s.securedParty).setExposure(USD(500n));
    expect(await vault.requirement()).to.equal(USD(507n));
  });
});
