// CollateralLens.status: reports an agreement even when a feed is broken, flagging it.
import { expect } from "chai";

import { useSystem, type System } from "../fixtures.js";
import { vaultSteps } from "../helpers/vault.js";

describe("CollateralLens.status", function () {
  let sys: System;
  const system = useSystem();
  beforeEach(function () {
    sys = system();
  });

  const { postedVault } = vaultSteps(() => sys);

  it("keeps reporting status with a broken feed, flagging it", async function () {
    const vault = await postedVault();
    await sys.tbillFeed.setReverts(true);
    const status = await sys.lens.status(await vault.getAddress());
    expect(status.pricesValid).to.equal(false);
    expect(status.positions[0].priceValid).to.equal(false);
    expect(status.collateralValue).to.equal(0n);
  });
});
