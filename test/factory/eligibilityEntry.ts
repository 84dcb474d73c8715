// AgreementFactory.eligibilityEntry: the listing checks of a schedule line (bps, decimals, metadata, a feed that
// answers as a price feed), at open and at changeEligibility.
import { expect } from "chai";
import { ethers as ethersLib, getAddress, toBeHex } from "ethers";

import {
  AssetKind,
  defaultTerms,
  useSystem,
  type EligibilityLine,
  type System,
} from "../fixtures.js";
import { adversary } from "../helpers/adversary.js";
import { counterparty } from "../helpers/counterparty.js";
import type { InconsistentERC4626, MockERC20 } from "../../types/ethers-contracts/index.js";

describe("AgreementFactory.eligibilityEntry", function () {
  let sys: System;
  const system = useSystem();
  beforeEach(function () {
    sys = system();
  });

  describe("refuses", function () {
    const { deploy } = adversary(() => sys);
    const { sdkError, pledged, openWithoutAgent, tbillAddress } = counterparty(() => sys);

    it("refuses a schedule line with a haircut above 100%", async function () {
      const bad = { ...sys.schedule[0], haircutBps: 10_001n };
      const vault = sys.implementation;
      await expect(sys.openAgreement({ schedule: [bad] }))
        .to.be.revertedWithCustomError(vault, "InvalidBps")
        .withArgs(10_001n, 10_000n);
    });

    it("a token without decimals() cannot be listed: MetadataUnreadable(token, decimals())", async function () {
      const token = await deploy<{ getAddress(): Promise<string> }>("NonStandardERC20", [false]);
      const schedule = [...sys.schedule, await sys.line(token, sys.stableFeed, 0n)];
      await expect(sys.openAgreement({ schedule }))
        .to.be.revertedWithCustomError(sys.factory, "MetadataUnreadable")
        .withArgs(await token.getAddress(), ethersLib.id("decimals()").slice(0, 10));
    });

    it("a plain token listed as an ERC-4626 share (no asset()): MetadataUnreadable(token, asset())", async function () {
      const schedule = [
        ...sys.schedule,
        { ...(await sys.line(sys.stable, sys.stableFeed, 0n)), kind: AssetKind.ERC4626 },
      ];
      await expect(sys.openAgreement({ schedule }))
        .to.be.revertedWithCustomError(sys.factory, "MetadataUnreadable")
        .withArgs(await sys.stable.getAddress(), ethersLib.id("asset()").slice(0, 10));
    });

    it("a token with 37 decimals cannot be listed: DecimalsUnsupported(asset, 37)", async function () {
      const token = await deploy<MockERC20>("MockERC20", ["D37", "D37", 37n]);
      const schedule = [await sys.line(token, sys.stableFeed, 0n)];
      await expect(sys.openAgreement({ schedule }))
        .to.be.revertedWithCustomError(sys.implementation, "DecimalsUnsupported")
        .withArgs(await token.getAddress(), 37n);
    });

    it("eligibilityEntry refuses a zero asset (ZeroAddress), also inside openAgreement; nothing is opened", async function () {
      const count = await sys.factory.agreementCount();
      const zeroAsset = { ...sys.schedule[0], asset: ethersLib.ZeroAddress };
      await expect(sys.factory.eligibilityEntry(zeroAsset)).to.be.revertedWithCustomError(
        sys.factory,
        "ZeroAddress",
      );
      await expect(
        sys.openAgreement({ schedule: [sys.schedule[1], zeroAsset] }),
      ).to.be.revertedWithCustomError(sys.factory, "ZeroAddress");
      expect(await sys.factory.agreementCount()).to.equal(count);
      // The same line with its asset is accepted.
      expect((await sys.factory.eligibilityEntry(sys.schedule[0])).pricedDecimals).to.equal(6n);
    });

    it("eligibilityEntry refuses an ERC-4626 line whose asset() answers a word wider than an address: MetadataUnreadable(share, asset())", async function () {
      const assetSelector = ethersLib.id("asset()").slice(0, 10);
      const decimalsSelector = ethersLib.id("decimals()").slice(0, 10);
      const wide = await deploy<InconsistentERC4626>("InconsistentERC4626", [2n ** 160n]);
      const line = await sys.line(wide, sys.tbillFeed, 500n, AssetKind.ERC4626);
      await expect(sys.factory.eligibilityEntry(line))
        .to.be.revertedWithCustomError(sys.factory, "MetadataUnreadable")
        .withArgs(await wide.getAddress(), assetSelector);
      // One below: a valid address, so the check passes and the listing reads that address's decimals (no code).
      const widest = await deploy<InconsistentERC4626>("InconsistentERC4626", [2n ** 160n - 1n]);
      const widestLine = await sys.line(widest, sys.tbillFeed, 500n, AssetKind.ERC4626);
      await expect(sys.factory.eligibilityEntry(widestLine))
        .to.be.revertedWithCustomError(sys.factory, "MetadataUnreadable")
        .withArgs(getAddress(toBeHex(2n ** 160n - 1n, 20)), decimalsSelector);
    });

    it("attack 10, nonsense terms: a schedule line whose feed is the token itself, or an address without code, is FeedUnreadable at open and at changeEligibility, before and after the pledge (with its SDK sentence) (rule: a feed must answer latestRoundData())", async function () {
      const tbill = await tbillAddress();
      const line = await sys.line(sys.tbill, sys.tbillFeed, 200n);
      const asOwnFeed = { ...line, feed: tbill };
      const eoaFeed = { ...line, feed: sys.outsider.address };
      const open = (schedule: EligibilityLine[]) =>
        openWithoutAgent(
          sys.pledgor,
          defaultTerms,
          ethersLib.id(`feed-${Math.random()}`),
          schedule,
        );
      for (const bad of [asOwnFeed, eoaFeed]) {
        await expect(open([bad, ...sys.schedule.slice(1)]))
          .to.be.revertedWithCustomError(sys.implementation, "FeedUnreadable")
          .withArgs(tbill, bad.feed);
        await expect(sys.factory.eligibilityEntry(bad))
          .to.be.revertedWithCustomError(sys.implementation, "FeedUnreadable")
          .withArgs(tbill, bad.feed);
      }
      const error = await sdkError(open([asOwnFeed]));
      expect(error.message).to.equal(
        `FeedUnreadable: ${tbill} does not answer latestRoundData() as a price feed, so it cannot price ${tbill} ` +
          "(it is the asset itself, has no code, or returns something else).",
      );

      const openVault = await sys.openAgreement();
      const live = await pledged();
      for (const vault of [openVault, live]) {
        for (const bad of [asOwnFeed, eoaFeed]) {
          await expect(vault.connect(sys.securedParty).changeEligibility(bad))
            .to.be.revertedWithCustomError(vault, "FeedUnreadable")
            .withArgs(tbill, bad.feed);
        }
        expect((await vault.eligibility(tbill)).feed).to.equal(await sys.tbillFeed.getAddress());
      }
    });
  });
});
