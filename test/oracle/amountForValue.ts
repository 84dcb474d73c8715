// PriceOracle.amountForValue (through PriceOracleHarness).
import { expect } from "chai";

import { AssetKind, ONE_DAY, useSystem, type System } from "../fixtures.js";
import { E18, TBILL, USD, adversary } from "../helpers/adversary.js";
import type {
  InconsistentERC4626,
  PriceOracleHarness,
} from "../../types/ethers-contracts/index.js";

describe("PriceOracle.amountForValue", function () {
  let sys: System;
  const system = useSystem();
  beforeEach(function () {
    sys = system();
  });

  describe("refuses", function () {
    const { deploy } = adversary(() => sys);

    it("amountForValue refuses an ERC-4626 whose convertToAssets does not reach the assets one share above convertToShares: InconsistentVaultConversion(vault, assets, shares)", async function () {
      const harness = await deploy<PriceOracleHarness>("PriceOracleHarness");
      const share = await deploy<InconsistentERC4626>("InconsistentERC4626", [
        BigInt(await sys.tbill.getAddress()),
      ]);
      const source = {
        feed: await sys.tbillFeed.getAddress(),
        maxPriceAge: ONE_DAY,
        kind: AssetKind.ERC4626,
        pricedDecimals: 18,
        feedDecimals: 8,
        minAnswer: 1n,
        maxAnswer: 10n ** 20n,
      };
      // $100 at $1 is 100e18 assets; convertToShares says 100e18 shares, which convert back to 50e18, and so
      // does one share more.
      await expect(harness.amountForValue(await share.getAddress(), source, 1_00000000n, USD(100n)))
        .to.be.revertedWithCustomError(harness, "InconsistentVaultConversion")
        .withArgs(await share.getAddress(), E18(100n), E18(100n) + 1n);
      // A vault converting at one rate (the fixture's fund over the 6-decimal T-bill) gets its share count.
      expect(
        await harness.amountForValue(
          await sys.mmf.getAddress(),
          { ...source, pricedDecimals: 6 },
          1_00000000n,
          USD(100n),
        ),
      ).to.equal(TBILL(100n));
    });
  });
});
