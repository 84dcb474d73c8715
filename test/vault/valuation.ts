// CollateralLedger.collateralValue and valueOfHolding: each asset at its oracle price after haircut and caps, exact
// at every decimals count.
import { expect } from "chai";

import { AssetKind, WAD, useSystem, type System } from "../fixtures.js";
import { E18, TBILL, USD, adversary, looseTerms } from "../helpers/adversary.js";
import { refusalSteps } from "../helpers/refusal.js";
import type { MockERC20, MockPriceFeed } from "../../types/ethers-contracts/index.js";

describe("CollateralLedger.collateralValue", function () {
  let sys: System;
  const system = useSystem();
  beforeEach(function () {
    sys = system();
  });

  const { deploy, pledge } = adversary(() => sys);

  // 1,234.56 tokens (1,234 when the token has no decimals) at $2.50 on an 8-decimal feed; one raw unit's value.
  const cases: { decimals: bigint; value: bigint; dust: bigint }[] = [
    { decimals: 0n, value: USD(3_085n), dust: 25n * 10n ** 17n },
    { decimals: 2n, value: 30_864n * 10n ** 17n, dust: 25n * 10n ** 15n },
    { decimals: 6n, value: 30_864n * 10n ** 17n, dust: 25n * 10n ** 11n },
    { decimals: 8n, value: 30_864n * 10n ** 17n, dust: 25n * 10n ** 9n },
    { decimals: 18n, value: 30_864n * 10n ** 17n, dust: 2n },
    { decimals: 24n, value: 30_864n * 10n ** 17n, dust: 0n },
  ];

  it("values each asset after haircut, applies concentration caps and reports coverage", async function () {
    const capped = [
      await sys.line(sys.tbill, sys.tbillFeed, 200n, AssetKind.ERC20, 5_000n),
      await sys.line(sys.bond, sys.bondFeed, 1_000n),
      await sys.line(sys.mmf, sys.tbillFeed, 500n, AssetKind.ERC4626),
    ];
    const vault = await sys.openAgreement({ schedule: capped });
    await sys.fund(sys.tbill, sys.pledgor, vault, 900_000n * 10n ** 6n);
    await vault.connect(sys.pledgor).deposit(await sys.tbill.getAddress(), 900_000n * 10n ** 6n);
    await sys.fund(sys.bond, sys.pledgor, vault, 1_000n * 10n ** 8n); // 1,000 bonds at $100
    await vault.connect(sys.pledgor).deposit(await sys.bond.getAddress(), 1_000n * 10n ** 8n);
    // The fund share: 100,000 T-bills in, then yield doubles the share price.
    await sys.tbill.mint(sys.pledgor.address, 200_000n * 10n ** 6n);
    await sys.tbill
      .connect(sys.pledgor)
      .approve(await sys.mmf.getAddress(), 100_000n * 10n ** 6n);
    await sys.mmf.connect(sys.pledgor).deposit(100_000n * 10n ** 6n, sys.pledgor.address);
    await sys.tbill
      .connect(sys.pledgor)
      .transfer(await sys.mmf.getAddress(), 100_000n * 10n ** 6n);
    const shares = await sys.mmf.balanceOf(sys.pledgor.address);
    await sys.mmf.connect(sys.pledgor).approve(await vault.getAddress(), shares);
    await vault.connect(sys.pledgor).deposit(await sys.mmf.getAddress(), shares);
    await vault.connect(sys.securedParty).setExposure(500_000n * WAD);

    const status = await sys.lens.status(await vault.getAddress());
    const [tbillPos, bondPos, mmfPos] = status.positions;
    expect(tbillPos.marketValue).to.equal(900_000n * WAD);
    expect(bondPos.marketValue).to.equal(100_000n * WAD);
    expect(bondPos.collateralValue).to.equal(90_000n * WAD);
    // convertToAssets rounds down by a unit or so of the 6-decimal underlying.
    expect(mmfPos.marketValue).to.be.closeTo(200_000n * WAD, 10n ** 12n);
    const mmfAfterHaircut = (mmfPos.marketValue * 9_500n) / 10_000n;
    const uncapped = 882_000n * WAD + 90_000n * WAD + mmfAfterHaircut;
    // T-bills count for at most half of the collateral value before caps.
    expect(tbillPos.collateralValue).to.equal(uncapped / 2n);
    expect(status.collateralValue).to.equal(uncapped / 2n + 90_000n * WAD + mmfAfterHaircut);
    expect(status.collateralValue).to.equal(await vault.collateralValue());
    expect(status.requirement).to.equal(500_000n * WAD);
    expect(status.coverageBps).to.equal((status.collateralValue * 10_000n) / status.requirement);
    expect(status.pricesValid).to.equal(true);

    const [fromBatch] = await sys.lens.statusOf([await vault.getAddress()]);
    expect(fromBatch.collateralValue).to.equal(status.collateralValue);
  });

  for (const { decimals, value, dust } of cases) {
    it(`a ${decimals}-decimal token: posted, valued at exactly amount x price, and withdrawn while pledged`, async function () {
      const token = await deploy<MockERC20>("MockERC20", ["D", "D", decimals]);
      const feed = await deploy<MockPriceFeed>("MockPriceFeed", [8n, 250_000_000n]);
      const asset = await token.getAddress();
      const vault = await sys.openAgreement({
        schedule: [await sys.line(token, feed, 0n)],
        terms: looseTerms,
      });
      const amount =
        decimals >= 2n ? 123_456n * 10n ** (decimals - 2n) : 1_234n * 10n ** decimals;
      await sys.fund(token, sys.pledgor, vault, amount);
      await vault.connect(sys.pledgor).deposit(asset, amount);
      await pledge(vault);
      expect(await vault.collateralValue()).to.equal(value);
      expect(await vault.valueOfHolding(asset, amount)).to.equal(value);
      expect(await vault.valueOfHolding(asset, 1n)).to.equal(dust);
      const status = await sys.lens.status(await vault.getAddress());
      expect([status.marketValue, status.collateralValue, status.pricesValid]).to.deep.equal([
        value,
        value,
        true,
      ]);
      await vault.connect(sys.pledgor).withdraw(asset, amount, sys.pledgor.address);
      expect(await token.balanceOf(sys.pledgor.address)).to.equal(amount);
      expect(await vault.collateralValue()).to.equal(0n);
    });
  }
});

describe("CollateralLedger.valueOfHolding", function () {
  let sys: System;
  const system = useSystem();
  beforeEach(function () {
    sys = system();
  });

  describe("refuses", function () {
    const { deploy } = adversary(() => sys);
    const { postedVault } = refusalSteps(() => sys);

    it("valueOfHolding refuses an asset that is not listed: IneligibleAsset(asset)", async function () {
      const vault = await postedVault();
      const stray = await deploy<MockERC20>("MockERC20", ["Stray", "STRAY", 18]);
      const asset = await stray.getAddress();
      await expect(vault.valueOfHolding(asset, E18(1n)))
        .to.be.revertedWithCustomError(vault, "IneligibleAsset")
        .withArgs(asset);
      // A listed asset gets through.
      const tbill = await sys.tbill.getAddress();
      expect(await vault.valueOfHolding(tbill, TBILL(5n))).to.equal(USD(5n));
    });
  });
});
