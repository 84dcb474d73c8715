// PriceOracle.latestAnswer through the vault: no valuation uses a bad price; each fault reverts with its own error.
import { expect } from "chai";
import { ethers as ethersLib } from "ethers";

import { ONE_DAY, defaultTerms, useSystem, type System } from "../fixtures.js";
import { TBILL, USD, adversary } from "../helpers/adversary.js";

describe("PriceOracle.latestAnswer: the price feed", function () {
  let sys: System;
  const system = useSystem();
  beforeEach(function () {
    sys = system();
  });

  describe("refuses", function () {
    const { pledge, postTbill } = adversary(() => sys);

    /** 1,100,000 T-bills (1,078,000 of collateral value) pledged against an exposure of 1,050,000. */
    async function pledgedOnTbills() {
      const vault = await sys.openAgreement();
      await postTbill(vault, TBILL(1_100_000n));
      await pledge(vault);
      await vault.connect(sys.securedParty).setExposure(USD(1_050_000n));
      return vault;
    }

    const feedAddress = () => sys.tbillFeed.getAddress();

    const now = async () => BigInt(await sys.networkHelpers.time.latest());

    const any = () => true;

    type Fault = {
      name: string;
      error: string;
      break: () => Promise<unknown>;
      args: () => Promise<unknown[]>;
    };

    const faults: Fault[] = [
      {
        name: "stale (updated beyond the maximum age)",
        error: "StalePrice",
        break: async () => {
          const t = (await now()) - 2n * ONE_DAY;
          return sys.tbillFeed.setRound(9n, 1_00000000n, t, t, 9n);
        },
        args: async () => [await feedAddress(), (await now()) - 2n * ONE_DAY - 1n, ONE_DAY, any],
      },
      {
        name: "zero",
        error: "NonPositivePrice",
        break: () => sys.tbillFeed.setAnswer(0n),
        args: async () => [await feedAddress(), 0n],
      },
      {
        name: "negative",
        error: "NonPositivePrice",
        break: () => sys.tbillFeed.setAnswer(-1n),
        args: async () => [await feedAddress(), -1n],
      },
      {
        name: "timestamp zero (no round yet)",
        error: "PriceTimestampZero",
        break: () => sys.tbillFeed.setRound(9n, 1_00000000n, 0n, 0n, 9n),
        args: async () => [await feedAddress()],
      },
      {
        name: "timestamped in the future",
        error: "PriceTimestampInFuture",
        break: async () => {
          const t = (await now()) + ONE_DAY;
          return sys.tbillFeed.setRound(9n, 1_00000000n, t, t, 9n);
        },
        args: async () => [await feedAddress(), (await now()) + ONE_DAY - 1n, any],
      },
      {
        name: "incomplete round (answered in an earlier round)",
        error: "IncompleteRound",
        break: async () => {
          const t = await now();
          return sys.tbillFeed.setRound(9n, 1_00000000n, t, t, 8n);
        },
        args: async () => [await feedAddress(), 9n, 8n],
      },
      {
        name: "out of bounds (above the schedule's maximum answer)",
        error: "PriceOutOfBounds",
        break: () => sys.tbillFeed.setAnswer(10n ** 20n + 1n),
        args: async () => [await feedAddress(), 10n ** 20n + 1n, 1n, 10n ** 20n],
      },
      {
        name: "reverting",
        error: "FeedCallFailed",
        break: () => sys.tbillFeed.setReverts(true),
        args: async () => [await feedAddress()],
      },
      {
        name: "burning all gas",
        error: "FeedCallFailed",
        break: () => sys.tbillFeed.setBurnsAllGas(true),
        args: async () => [await feedAddress()],
      },
    ];

    for (const fault of faults) {
      it(`a ${fault.name} feed: withdraw and issueMarginCall revert ${fault.error}, the lens reports pricesValid=false`, async function () {
        const vault = await pledgedOnTbills();
        const tbill = await sys.tbill.getAddress();
        // Drop the price first so that a margin call would be due on a valid one.
        await sys.tbillFeed.setAnswer(90_000000n);
        const due = await sys.lens.status(await vault.getAddress());
        expect([due.pricesValid, due.marginCallDue]).to.deep.equal([true, true]);
        await sys.tbillFeed.setAnswer(1_00000000n);
        await fault.break();

        // Each transaction is mined one second after the latest block.
        const withdrawArgs = await fault.args();
        await expect(vault.connect(sys.pledgor).withdraw(tbill, TBILL(1n), sys.pledgor.address))
          .to.be.revertedWithCustomError(vault, fault.error)
          .withArgs(...withdrawArgs);
        const callArgs = await fault.args();
        await expect(vault.issueMarginCall())
          .to.be.revertedWithCustomError(vault, fault.error)
          .withArgs(...callArgs);
        await expect(vault.collateralValue()).to.be.revertedWithCustomError(vault, fault.error);

        const status = await sys.lens.status(await vault.getAddress());
        expect(status.pricesValid).to.equal(false);
        expect(status.marginCallDue).to.equal(false);
        const position = status.positions.find((p) => p.asset === tbill);
        expect([position?.priceValid, position?.balance, position?.marketValue]).to.deep.equal([
          false,
          TBILL(1_100_000n),
          0n,
        ]);
        // A keeper's batch skips the unpriceable vault instead of reverting.
        expect(
          await sys.factory.issueMarginCalls.staticCall([await vault.getAddress()]),
        ).to.deep.equal([0n]);
      });
    }

    it("the pledgor's own dust of an asset whose feed is down blocks a full valuation (a margin call, a withdrawal the other assets do not cover) until the feed recovers or a delisting matures (the secured party's remedy); a withdrawal the T-bills alone cover never reads it", async function () {
      const vault = await sys.openAgreement({
        terms: { ...defaultTerms, independentAmount: USD(200_000n) },
      });
      const tbill = await sys.tbill.getAddress();
      const bond = await sys.bond.getAddress();
      await postTbill(vault, TBILL(1_100_000n));
      await sys.fund(sys.bond, sys.pledgor, vault, 1n);
      await vault.connect(sys.pledgor).deposit(bond, 1n);
      await pledge(vault);
      await vault.connect(sys.securedParty).setExposure(USD(800_000n));
      await sys.bondFeed.setReverts(true);
      await sys.tbillFeed.setAnswer(92_000000n);
      const bondFeed = await sys.bondFeed.getAddress();
      // No valuation uses a bad price: the call and the withdrawal both refuse with the feed's error.
      await expect(vault.issueMarginCall())
        .to.be.revertedWithCustomError(vault, "FeedCallFailed")
        .withArgs(bondFeed);
      await sys.tbillFeed.setAnswer(1_00000000n);
      // 1,100,000 T-bills less 2% haircut are 1,078,000 against a requirement of 1,000,000: leaving 1,020,000 of them
      // (999,600 after haircut) needs the bond's value, which has no price.
      await expect(vault.connect(sys.pledgor).withdraw(tbill, TBILL(80_000n), sys.pledgor.address))
        .to.be.revertedWithCustomError(vault, "FeedCallFailed")
        .withArgs(bondFeed);
      // Leaving 1,030,000 (1,009,400 after haircut) is covered by the T-bills alone: the valuation stops before the bond.
      await vault.connect(sys.pledgor).withdraw(tbill, TBILL(70_000n), sys.pledgor.address);
      expect(await vault.balanceOf(tbill)).to.equal(TBILL(1_030_000n));
      const status = await sys.lens.status(await vault.getAddress());
      expect([status.pricesValid, status.marginCallDue]).to.deep.equal([false, false]);
      // The secured party delists the bond; as a tightening it waits out the notice period, then counts for nothing.
      await vault.connect(sys.securedParty).changeEligibility({
        ...(await sys.line(sys.bond, sys.bondFeed, 0n)),
        feed: ethersLib.ZeroAddress,
      });
      await sys.tbillFeed.setAnswer(92_000000n);
      await expect(vault.issueMarginCall()).to.be.revertedWithCustomError(vault, "FeedCallFailed");
      await sys.networkHelpers.time.increase(2n * ONE_DAY);
      await sys.tbillFeed.setAnswer(92_000000n);
      await expect(vault.issueMarginCall()).to.emit(vault, "MarginCallIssued");
    });
  });
});
