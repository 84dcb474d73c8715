// CollateralVault.changeEligibility: the secured party's schedule changes, a live tightening only after the notice
// period, and never a live line's price source.
import { anyValue } from "@nomicfoundation/hardhat-ethers-chai-matchers/withArgs";
import { expect } from "chai";
import { ethers as ethersLib } from "ethers";

import { AssetKind, ONE_DAY, VaultState, WAD, useSystem, type System } from "../fixtures.js";
import { TBILL, USD, adversary } from "../helpers/adversary.js";
import { NOTICE_PERIOD, ZERO, counterparty } from "../helpers/counterparty.js";
import { refusalSteps } from "../helpers/refusal.js";
import { vaultSteps } from "../helpers/vault.js";
import { decodeError } from "../../sdk/errors.js";
import type { MockERC20, MockPriceFeed } from "../../types/ethers-contracts/index.js";

describe("CollateralVault.changeEligibility", function () {
  let sys: System;
  const system = useSystem();
  beforeEach(function () {
    sys = system();
  });

  const { deploy, pledge } = adversary(() => sys);
  const { postedVault } = refusalSteps(() => sys);
  const {
    advance,
    advanceTo,
    minedAt,
    pledged,
    underExclusiveControl,
    tbillAddress,
  } = counterparty(() => sys);

  {
    // On the vault of test/helpers/vault.ts: 1,000,000 T-bills, no control agent unless asked.
    const { postedVault, pledged } = vaultSteps(() => sys);

    it("applies a tightening of a live schedule only after the notice period", async function () {
      const vault = await postedVault();
      await pledged(vault);
      const tbill = await sys.tbill.getAddress();
      const tighter = { ...sys.schedule[0], haircutBps: 1_000n };
      const tx = vault.connect(sys.securedParty).changeEligibility(tighter);
      await expect(tx).to.emit(vault, "EligibilityChangeQueued");
      expect((await vault.eligibility(tbill)).haircutBps).to.equal(200n);
      const [pending, effectiveAt] = await vault.pendingEligibility(tbill);
      expect(pending.haircutBps).to.equal(1_000n);
      expect(effectiveAt).to.equal(BigInt(await sys.networkHelpers.time.latest()) + 2n * ONE_DAY);
      await sys.networkHelpers.time.increaseTo(effectiveAt);
      await sys.tbillFeed.setAnswer(1_00000000n);
      expect((await vault.eligibility(tbill)).haircutBps).to.equal(1_000n);
      expect(await vault.collateralValue()).to.equal(900_000n * WAD);
    });

    it("applies a loosening at once, and a delisting only after notice", async function () {
      const vault = await postedVault();
      await pledged(vault);
      const tbill = await sys.tbill.getAddress();
      await expect(
        vault.connect(sys.securedParty).changeEligibility({ ...sys.schedule[0], haircutBps: 100n }),
      ).to.emit(vault, "EligibilityChanged");
      expect((await vault.eligibility(tbill)).haircutBps).to.equal(100n);
      await vault
        .connect(sys.securedParty)
        .changeEligibility({ ...sys.schedule[0], feed: ethersLib.ZeroAddress });
      await sys.fund(sys.tbill, sys.pledgor, vault, 1n);
      await vault.connect(sys.pledgor).deposit(tbill, 1n);
      await sys.networkHelpers.time.increase(2n * ONE_DAY);
      await expect(vault.connect(sys.pledgor).deposit(tbill, 1n)).to.be.revertedWithCustomError(
        vault,
        "IneligibleAsset",
      );
    });
  }

  it("changeEligibility relists a delisted asset at once before the pledge (listed once); on a live agreement, once the delisting has matured, relisting is PriceSourceFixed", async function () {
    const vault = await postedVault();
    const bond = await sys.bond.getAddress();
    const listed = [...(await vault.listedAssets())];
    const sp = vault.connect(sys.securedParty);
    // Before the pledge: the delisting and the relisting both apply at once.
    await sp.changeEligibility({ ...sys.schedule[2], feed: ethersLib.ZeroAddress });
    expect((await vault.eligibility(bond)).feed).to.equal(ethersLib.ZeroAddress);
    const relist = sp.changeEligibility(sys.schedule[2]);
    await expect(relist).to.emit(vault, "EligibilityChanged");
    await expect(relist).not.to.emit(vault, "EligibilityChangeQueued");
    const line = await vault.eligibility(bond);
    expect(line.feed).to.equal(await sys.bondFeed.getAddress());
    expect(line.haircutBps).to.equal(1_000n);
    expect(await vault.listedAssets()).to.deep.equal(listed);

    // Live: a new asset is listed at once (a listing is no tightening).
    await pledge(vault);
    const fresh = await deploy<MockERC20>("MockERC20", ["Fresh", "FRESH", 18]);
    const listing = sp.changeEligibility(await sys.line(fresh, sys.stableFeed, 0n));
    await expect(listing).to.emit(vault, "EligibilityChanged");
    await expect(listing).not.to.emit(vault, "EligibilityChangeQueued");
    listed.push(await fresh.getAddress());
    expect(await vault.listedAssets()).to.deep.equal(listed);
    // The delisting waits out the notice period, and the asset cannot be listed again after it.
    await sp.changeEligibility({ ...sys.schedule[2], feed: ethersLib.ZeroAddress });
    const [, effectiveAt] = await vault.pendingEligibility(bond);
    await sys.networkHelpers.time.increaseTo(effectiveAt);
    expect((await vault.eligibility(bond)).feed).to.equal(ethersLib.ZeroAddress);
    await expect(sp.changeEligibility(sys.schedule[2]))
      .to.be.revertedWithCustomError(vault, "PriceSourceFixed")
      .withArgs(bond, ethersLib.ZeroAddress, await sys.bondFeed.getAddress());
    expect(await vault.listedAssets()).to.deep.equal(listed);
  });

  it("check e: shortening the T-bill's maxPriceAge on a live agreement is queued for the notice period (EligibilityChangeQueued, effective now + 2 days), not applied at once; before the pledge it applies at once (rule: a tightening of the live schedule waits out the notice period)", async function () {
    const vault = await pledged();
    const tbill = await tbillAddress();
    const shorter = { ...(await sys.line(sys.tbill, sys.tbillFeed, 200n)), maxPriceAge: 3_600n };
    const change = await vault.connect(sys.securedParty).changeEligibility(shorter);
    const queuedAt = await minedAt(change);
    await expect(change)
      .to.emit(vault, "EligibilityChangeQueued")
      .withArgs(tbill, anyValue, queuedAt + NOTICE_PERIOD);
    await expect(change).not.to.emit(vault, "EligibilityChanged");
    const [entry, effectiveAt] = await vault.pendingEligibility(tbill);
    expect([entry.maxPriceAge, effectiveAt]).to.deep.equal([3_600n, queuedAt + NOTICE_PERIOD]);
    expect((await vault.eligibility(tbill)).maxPriceAge).to.equal(ONE_DAY);
    // Two hours later, on a two-hour-old price, the agreement is still valued: the old age applies.
    await sys.networkHelpers.time.increase(2n * 3_600n);
    expect(await vault.collateralValue()).to.equal(USD(1_078_000n));
    await advanceTo(queuedAt + NOTICE_PERIOD);
    expect((await vault.eligibility(tbill)).maxPriceAge).to.equal(3_600n);

    const open = await sys.openAgreement();
    await expect(open.connect(sys.securedParty).changeEligibility(shorter)).to.emit(
      open,
      "EligibilityChanged",
    );
    expect((await open.eligibility(tbill)).maxPriceAge).to.equal(3_600n);
  });

  describe("refuses", function () {
    it("lets only the secured party change it", async function () {
      const vault = await sys.openAgreement();
      await expect(vault.connect(sys.pledgor).changeEligibility(sys.schedule[0]))
        .to.be.revertedWithCustomError(vault, "Unauthorized")
        .withArgs(sys.pledgor.address, sys.securedParty.address);
    });

    it("changeEligibility refuses a released vault: InvalidState(Released), the line unchanged", async function () {
      const vault = await postedVault();
      await pledge(vault);
      await vault.connect(sys.securedParty).release();
      const bond = await sys.bond.getAddress();
      const line = await vault.eligibility(bond);
      await expect(
        vault.connect(sys.securedParty).changeEligibility({ ...sys.schedule[2], haircutBps: 0n }),
      )
        .to.be.revertedWithCustomError(vault, "InvalidState")
        .withArgs(VaultState.Released);
      expect(await vault.eligibility(bond)).to.deep.equal(line);
      expect(line.haircutBps).to.equal(1_000n);
    });

    it("attack 8b, a feed of its own while Pledged: the secured party cannot point the T-bill at a feed it controls, nor change its kind; nothing is queued (rule: PriceSourceFixed)", async function () {
      const vault = await pledged();
      const tbill = await tbillAddress();
      const ownFeed = (await sys.ethers.deployContract(
        "MockPriceFeed",
        [8, 1_000000n],
        sys.securedParty,
      )) as unknown as MockPriceFeed;
      const sp = vault.connect(sys.securedParty);
      await expect(sp.changeEligibility(await sys.line(sys.tbill, ownFeed, 200n)))
        .to.be.revertedWithCustomError(vault, "PriceSourceFixed")
        .withArgs(tbill, await sys.tbillFeed.getAddress(), await ownFeed.getAddress());
      await expect(
        // The fund share priced as a plain token by its underlying's feed: another kind, another price.
        sp.changeEligibility(await sys.line(sys.mmf, sys.tbillFeed, 500n, AssetKind.ERC20)),
      ).to.be.revertedWithCustomError(vault, "PriceSourceFixed");
      const [, effectiveAt] = await vault.pendingEligibility(tbill);
      expect(effectiveAt).to.equal(0n);
      expect((await vault.eligibility(tbill)).feed).to.equal(await sys.tbillFeed.getAddress());
      const sentence = decodeError(
        await sp
          .changeEligibility(await sys.line(sys.tbill, ownFeed, 200n))
          .catch((e: unknown) => e),
      );
      expect(sentence?.message).to.match(/PriceSourceFixed: On a live agreement/);
    });

    it("attack 8b, delist and relist: after a delisting of the T-bill matures, listing it again with another feed (or the same) is PriceSourceFixed, so the locked-out pledgor's collateral is never repriced (rule: PriceSourceFixed)", async function () {
      const { vault } = await underExclusiveControl();
      const tbill = await tbillAddress();
      const sp = vault.connect(sys.securedParty);
      await sp.changeEligibility({
        ...(await sys.line(sys.tbill, sys.tbillFeed, 200n)),
        feed: ZERO,
      });
      await advance(NOTICE_PERIOD + 1n);
      expect((await vault.eligibility(tbill)).feed).to.equal(ZERO);
      const ownFeed = (await sys.ethers.deployContract("MockPriceFeed", [
        8,
        1_000000n,
      ])) as unknown as MockPriceFeed;
      await expect(sp.changeEligibility(await sys.line(sys.tbill, ownFeed, 200n)))
        .to.be.revertedWithCustomError(vault, "PriceSourceFixed")
        .withArgs(tbill, ZERO, await ownFeed.getAddress());
      await expect(
        sp.changeEligibility(await sys.line(sys.tbill, sys.tbillFeed, 200n)),
      ).to.be.revertedWithCustomError(vault, "PriceSourceFixed");
      // Nothing of the delisted asset can be taken, and the pledgor gets it back at release.
      await expect(
        sp.instructTransfer(tbill, TBILL(1n), sys.securedParty.address),
      ).to.be.revertedWithCustomError(vault, "AppropriationExceedsAmountDue");
    });
  });
});
