// AgreementFactory.setListingRules: the risk manager's, through the AccessManager after its delay.
import { expect } from "chai";

import { ONE_DAY, defaultTerms, useSystem, type System } from "../fixtures.js";
import { Term, UINT32_MAX, counterparty } from "../helpers/counterparty.js";

describe("AgreementFactory.setListingRules", function () {
  let sys: System;
  const system = useSystem();
  beforeEach(function () {
    sys = system();
  });

  describe("refuses", function () {
    const { oneBlock, minedAt } = counterparty(() => sys);

    afterEach(async function () {
      // A failed test must not leave the chain without automine (the snapshot restore does not reset it).
      await sys.ethers.provider.send("evm_setAutomine", [true]);
    });

    const newRules = async (change: Record<string, bigint> = {}) => {
      const current = await sys.factory.listingRules();
      return {
        maxLiquidationPenaltyBps: current.maxLiquidationPenaltyBps,
        maxLiquidationDiscountBps: current.maxLiquidationDiscountBps,
        minCurePeriod: current.minCurePeriod,
        minDisputeWindow: current.minDisputeWindow,
        minScheduleNoticePeriod: current.minScheduleNoticePeriod,
        minAppropriationPeriod: current.minAppropriationPeriod,
        maxAppropriationPeriod: current.maxAppropriationPeriod,
        ...change,
      };
    };

    const encode = (rules: Awaited<ReturnType<typeof newRules>>) =>
      sys.factory.interface.encodeFunctionData("setListingRules", [rules]);

    it("attack 11, roles: the admin, who holds the risk-manager role with a 1-day delay, cannot set the listing rules directly (AccessManagerNotScheduled); an outsider and the guardian cannot at all (AccessManagedUnauthorized), nor schedule it (rule: setListingRules is the risk manager's, after its delay)", async function () {
      const factory = await sys.factory.getAddress();
      const rules = await newRules({ maxLiquidationPenaltyBps: 1_000n });
      const data = encode(rules);
      await expect(sys.factory.connect(sys.admin).setListingRules(rules))
        .to.be.revertedWithCustomError(sys.manager, "AccessManagerNotScheduled")
        .withArgs(await sys.manager.hashOperation(sys.admin.address, factory, data));
      for (const caller of [sys.outsider, sys.guardian, sys.securedParty]) {
        await expect(sys.factory.connect(caller).setListingRules(rules))
          .to.be.revertedWithCustomError(sys.factory, "AccessManagedUnauthorized")
          .withArgs(caller.address);
      }
      await expect(sys.manager.connect(sys.outsider).schedule(factory, data, 0))
        .to.be.revertedWithCustomError(sys.manager, "AccessManagerUnauthorizedCall")
        .withArgs(sys.outsider.address, factory, data.slice(0, 10));
      expect((await sys.factory.listingRules()).maxLiquidationPenaltyBps).to.equal(2_000n);
    });

    it("attack 11, roles: the risk manager schedules setListingRules, cannot execute it early (AccessManagerNotReady), executes after 1 day (ListingRulesSet), and the new rules bind agreements opened afterwards (rule: the risk manager's delay is 1 day)", async function () {
      const factory = await sys.factory.getAddress();
      const rules = await newRules({ maxLiquidationPenaltyBps: 1_000n });
      const data = encode(rules);
      const opId = await sys.manager.hashOperation(sys.admin.address, factory, data);
      const scheduled = await sys.manager.connect(sys.admin).schedule(factory, data, 0);
      const scheduledAt = await minedAt(scheduled);
      await expect(scheduled)
        .to.emit(sys.manager, "OperationScheduled")
        .withArgs(opId, 1n, scheduledAt + ONE_DAY, sys.admin.address, factory, data);
      await expect(sys.manager.connect(sys.admin).execute(factory, data))
        .to.be.revertedWithCustomError(sys.manager, "AccessManagerNotReady")
        .withArgs(opId);
      await sys.networkHelpers.time.increaseTo(scheduledAt + ONE_DAY - 5n);
      const early = await oneBlock(
        [(o) => sys.manager.connect(sys.admin).execute(factory, data, o)],
        scheduledAt + ONE_DAY - 1n,
      );
      expect(early.outcomes).to.deep.equal([["AccessManagerNotReady", opId]]);
      await sys.networkHelpers.time.setNextBlockTimestamp(scheduledAt + ONE_DAY);
      await expect(sys.manager.connect(sys.admin).execute(factory, data, { gasLimit: 1_000_000n }))
        .to.emit(sys.factory, "ListingRulesSet")
        .withArgs(Object.values(rules));
      expect(await sys.factory.listingRules()).to.deep.equal(Object.values(rules));
      await expect(sys.factory.checkTerms({ ...defaultTerms, liquidationPenaltyBps: 1_500n }))
        .to.be.revertedWithCustomError(sys.factory, "TermOutOfRange")
        .withArgs(Term.LiquidationPenaltyBps, 1_500n, 0n, 1_000n);
    });

    it("attack 11, roles: listing rules beyond the absolute bounds, scheduled and executed after the delay, are refused at execute: a 60% penalty is TermOutOfRange(0, 6000, 0, 5000), a zero cure period and a 366-day appropriation period likewise (rule: no deployment may pass the absolute bounds)", async function () {
      const factory = await sys.factory.getAddress();
      const bad: [Awaited<ReturnType<typeof newRules>>, [Term, bigint, bigint, bigint]][] = [
        [
          await newRules({ maxLiquidationPenaltyBps: 6_000n }),
          [Term.LiquidationPenaltyBps, 6_000n, 0n, 5_000n],
        ],
        [
          await newRules({ maxLiquidationDiscountBps: 5_001n }),
          [Term.MaxLiquidationDiscountBps, 5_001n, 0n, 5_000n],
        ],
        [await newRules({ minCurePeriod: 0n }), [Term.CurePeriod, 0n, 1n, UINT32_MAX]],
        [
          await newRules({ maxAppropriationPeriod: 366n * ONE_DAY }),
          [Term.AppropriationPeriod, 366n * ONE_DAY, ONE_DAY, 365n * ONE_DAY],
        ],
      ];
      for (const [rules] of bad)
        await sys.manager.connect(sys.admin).schedule(factory, encode(rules), 0);
      await sys.networkHelpers.time.increase(ONE_DAY);
      for (const [rules, error] of bad) {
        await expect(sys.manager.connect(sys.admin).execute(factory, encode(rules)))
          .to.be.revertedWithCustomError(sys.factory, "TermOutOfRange")
          .withArgs(...error);
      }
      expect(await sys.factory.listingRules()).to.deep.equal([
        2_000n,
        2_000n,
        3_600n,
        3_600n,
        3_600n,
        ONE_DAY,
        90n * ONE_DAY,
      ]);
    });
  });
});
