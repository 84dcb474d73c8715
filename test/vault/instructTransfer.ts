// CollateralVault.instructTransfer: under exclusive control the secured party (or the control agent) takes at most
// the amount due, at oracle value, and nothing without a price.
import { anyValue } from "@nomicfoundation/hardhat-ethers-chai-matchers/withArgs";
import { expect } from "chai";
import { ethers as ethersLib } from "ethers";

import { VaultState, useSystem, type System } from "../fixtures.js";
import { BOND, E18, E6, REENTRY, TBILL, USD, adversary } from "../helpers/adversary.js";
import { NOTICE, NOTICE_PERIOD, WINDOW, ZERO, counterparty } from "../helpers/counterparty.js";
import { erc20Leg, signSettlement, type Settlement } from "../helpers/dvp.js";
import { hostileTokens } from "../helpers/hostile.js";
import { refusalSteps } from "../helpers/refusal.js";
import type {
  BlocklistToken,
  MockPriceFeed,
  PausableToken,
} from "../../types/ethers-contracts/index.js";

describe("CollateralVault.instructTransfer", function () {
  let sys: System;
  const system = useSystem();
  beforeEach(function () {
    sys = system();
  });

  describe("refuses", function () {
    const {
      deploy,
      agreementListing,
      pledge,
      underExclusiveControl,
      postTbill,
      mintAndApprove,
    } = adversary(() => sys);
    const { postedVault, ledger } = refusalSteps(() => sys);
    const { advance, advanceTo, minedAt, pledged, tbillAddress } = counterparty(() => sys);
    const { reentrantAgreement } = hostileTokens(() => sys);

    it("instructTransfer refuses a zero receiver (ZeroAddress) and a zero amount (ZeroAmount): nothing moves, nothing appropriated", async function () {
      const vault = await postedVault();
      const tbill = await sys.tbill.getAddress();
      await underExclusiveControl(vault, USD(100_000n));
      const before = await ledger(vault, [sys.tbill]);
      for (const sender of [sys.securedParty, sys.controlAgent]) {
        await expect(
          vault.connect(sender).instructTransfer(tbill, TBILL(1_000n), ethersLib.ZeroAddress),
        ).to.be.revertedWithCustomError(vault, "ZeroAddress");
        await expect(
          vault.connect(sender).instructTransfer(tbill, 0n, sys.securedParty.address),
        ).to.be.revertedWithCustomError(vault, "ZeroAmount");
      }
      expect(await ledger(vault, [sys.tbill])).to.deep.equal(before);
      expect(await vault.appropriation()).to.deep.equal([USD(105_000n), 0n]);
    });

    it("a reentry during an instructed transfer under exclusive control is refused, the appropriation unchanged", async function () {
      const { ree, asset, vault, vaultAddress } = await reentrantAgreement();
      await underExclusiveControl(vault, USD(500n));
      const nested = vault.interface.encodeFunctionData("instructTransfer", [
        asset,
        E18(1n),
        sys.securedParty.address,
      ]);
      await ree.arm(vaultAddress, nested, true);
      await expect(
        vault
          .connect(sys.securedParty)
          .instructTransfer(asset, E18(100n), sys.securedParty.address),
      ).to.be.revertedWithCustomError(vault, REENTRY);
      expect(await vault.appropriation()).to.deep.equal([USD(525n), 0n]);
      expect(await vault.balanceOf(asset)).to.equal(E18(1_000n));
    });

    it("blocklisted receiver under exclusive control: the instructed transfer reverts and nothing is appropriated", async function () {
      const busd = await deploy<BlocklistToken>("BlocklistToken");
      const asset = await busd.getAddress();
      const vault = await agreementListing(busd);
      await mintAndApprove(busd, sys.pledgor, vault, E6(1_000n));
      await vault.connect(sys.pledgor).deposit(asset, E6(1_000n));
      await underExclusiveControl(vault, USD(500n));
      await busd.setBlocked(sys.securedParty.address, true);
      await expect(
        vault
          .connect(sys.securedParty)
          .instructTransfer(asset, E6(100n), sys.securedParty.address),
      )
        .to.be.revertedWithCustomError(busd, "Blocked")
        .withArgs(sys.securedParty.address);
      expect(await vault.appropriation()).to.deep.equal([USD(525n), 0n]);
      expect(await vault.balanceOf(asset)).to.equal(E6(1_000n));
    });

    it("a paused token under exclusive control: instructed transfer and a sale paid in it revert TokenPaused, nothing moves", async function () {
      const pau = await deploy<PausableToken>("PausableToken");
      const asset = await pau.getAddress();
      const vault = await agreementListing(pau);
      await mintAndApprove(pau, sys.pledgor, vault, E18(1_000n));
      await vault.connect(sys.pledgor).deposit(asset, E18(1_000n));
      await postTbill(vault, TBILL(1_000n));
      await underExclusiveControl(vault, USD(500n));
      await mintAndApprove(pau, sys.outsider, sys.dvp, E18(1_000n));
      await pau.setPaused(true);
      await expect(
        vault
          .connect(sys.securedParty)
          .instructTransfer(asset, E18(100n), sys.securedParty.address),
      ).to.be.revertedWithCustomError(pau, "TokenPaused");
      const { chainId } = await sys.ethers.provider.getNetwork();
      const deadline = BigInt(await sys.networkHelpers.time.latest()) + 3_600n;
      const tbill = await sys.tbill.getAddress();
      const settlement: Settlement = {
        legs: [
          erc20Leg(tbill, TBILL(100n), await vault.getAddress(), sys.outsider.address),
          erc20Leg(asset, E18(99n), sys.outsider.address, sys.securedParty.address),
        ],
        deadline,
        nonce: 1n,
      };
      const signature = await signSettlement(
        sys.outsider,
        settlement,
        chainId,
        await sys.dvp.getAddress(),
      );
      await expect(
        vault
          .connect(sys.securedParty)
          .liquidate(
            tbill,
            TBILL(100n),
            asset,
            E18(99n),
            sys.outsider.address,
            deadline,
            1n,
            signature,
          ),
      ).to.be.revertedWithCustomError(pau, "TokenPaused");
      expect(await vault.appropriation()).to.deep.equal([USD(525n), 0n]);
      expect(await vault.balanceOf(asset)).to.equal(E18(1_000n));
      expect(await vault.balanceOf(tbill)).to.equal(TBILL(1_000n));
      expect(await vault.state()).to.equal(VaultState.ExclusiveControl);
    });

    {
      // Under exclusive control as test/helpers/counterparty.ts sets it up: 525,000 due on 1,100,000 T-bills.
      const { underExclusiveControl } = counterparty(() => sys);

      it("beyond the brief, a feed of its own: under exclusive control the secured party queues a $0.01 feed it controls for the T-bill; once the notice period has passed it still cannot take the 1,100,000 T-bills (worth 1,100,000) for the 525,000 due (rule: nothing is taken beyond the amount due, at oracle value)", async function () {
        const { vault } = await underExclusiveControl();
        const tbill = await tbillAddress();
        const sp = vault.connect(sys.securedParty);
        const ownFeed = (await sys.ethers.deployContract(
          "MockPriceFeed",
          [8, 1_000000n],
          sys.securedParty,
        )) as unknown as MockPriceFeed;
        const line = await sys.line(sys.tbill, ownFeed, 200n);
        // Whether the vault refuses the change or queues it, the pledgor, locked out under exclusive control, must not
        // lose its surplus to it.
        await sp.changeEligibility(line).then(
          () => undefined,
          () => undefined,
        );
        await advance(NOTICE_PERIOD + 1n);
        await ownFeed.setAnswer(1_000000n);
        await expect(
          sp.instructTransfer(tbill, TBILL(1_100_000n), sys.securedParty.address),
        ).to.be.revertedWithCustomError(vault, "AppropriationExceedsAmountDue");
        await expect(
          sp.instructTransfer(tbill, TBILL(525_001n), sys.securedParty.address),
        ).to.be.revertedWithCustomError(vault, "AppropriationExceedsAmountDue");
        expect(await vault.balanceOf(tbill)).to.equal(TBILL(1_100_000n));
      });
    }

    it("check c: an asset delisted while Open (at once) and still held is never taken under exclusive control: AppropriationExceedsAmountDue(max, due), nothing moves, and it returns to the pledgor on release (rule: an asset without a price cannot be taken)", async function () {
      const vault = await sys.openAgreement();
      const bond = await sys.bond.getAddress();
      await postTbill(vault, TBILL(1_100_000n));
      await sys.fund(sys.bond, sys.pledgor, vault, BOND(100n));
      await vault.connect(sys.pledgor).deposit(bond, BOND(100n));
      await expect(
        vault.connect(sys.securedParty).changeEligibility({
          ...(await sys.line(sys.bond, sys.bondFeed, 1_000n)),
          feed: ZERO,
        }),
      ).to.emit(vault, "EligibilityChanged");
      expect((await vault.eligibility(bond)).feed).to.equal(ZERO);
      await pledge(vault);
      await vault.connect(sys.securedParty).setExposure(USD(500_000n));
      await advance(WINDOW + 1n);
      await vault.connect(sys.pledgor).declareDefault();
      const sp = vault.connect(sys.securedParty);
      await sp.deliverNoticeOfExclusiveControl(NOTICE);
      await expect(sp.instructTransfer(bond, BOND(1n), sys.securedParty.address))
        .to.be.revertedWithCustomError(vault, "AppropriationExceedsAmountDue")
        .withArgs(ethersLib.MaxUint256, USD(525_000n));
      expect(await vault.appropriation()).to.deep.equal([USD(525_000n), 0n]);
      expect(await vault.balanceOf(bond)).to.equal(BOND(100n));
      await sp.instructTransfer(await tbillAddress(), TBILL(525_000n), sys.securedParty.address);
      await expect(vault.connect(sys.pledgor).release())
        .to.emit(vault, "CollateralReturned")
        .withArgs(bond, sys.pledgor.address, BOND(100n));
    });

    it("check c: an asset delisted while live, once the 2-day notice period has passed, is never taken under exclusive control (AppropriationExceedsAmountDue(max, due)); before it matures it is taken at oracle value (rule: an asset without a price cannot be taken)", async function () {
      const vault = await pledged();
      const bond = await sys.bond.getAddress();
      await sys.fund(sys.bond, sys.pledgor, vault, BOND(100n));
      await vault.connect(sys.pledgor).deposit(bond, BOND(100n));
      const delist = { ...(await sys.line(sys.bond, sys.bondFeed, 1_000n)), feed: ZERO };
      const queue = await vault.connect(sys.securedParty).changeEligibility(delist);
      const queuedAt = await minedAt(queue);
      await expect(queue)
        .to.emit(vault, "EligibilityChangeQueued")
        .withArgs(bond, anyValue, queuedAt + NOTICE_PERIOD);
      await vault.connect(sys.pledgor).declareDefault();
      const sp = vault.connect(sys.securedParty);
      await sp.deliverNoticeOfExclusiveControl(NOTICE);
      // Still listed: one bond is taken at its oracle value of 100.
      await sp.instructTransfer(bond, BOND(1n), sys.securedParty.address);
      expect(await vault.appropriation()).to.deep.equal([USD(525_000n), USD(100n)]);
      await advanceTo(queuedAt + NOTICE_PERIOD);
      expect((await vault.eligibility(bond)).feed).to.equal(ZERO);
      await expect(sp.instructTransfer(bond, BOND(1n), sys.securedParty.address))
        .to.be.revertedWithCustomError(vault, "AppropriationExceedsAmountDue")
        .withArgs(ethersLib.MaxUint256, USD(525_000n));
      expect(await vault.appropriation()).to.deep.equal([USD(525_000n), USD(100n)]);
      expect(await vault.balanceOf(bond)).to.equal(BOND(99n));
    });
  });
});
