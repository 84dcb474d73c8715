// MarginEngine.setExposure, disputeExposure and resolveDispute: the mark, the requirement on it, and a dispute that
// only the parties by agreement (or the control agent) end; a new mark never erases it.
import { anyValue } from "@nomicfoundation/hardhat-ethers-chai-matchers/withArgs";
import { expect } from "chai";

import { ONE_DAY, VaultState, WAD, defaultTerms, useSystem, type System } from "../fixtures.js";
import { STABLE, TBILL, USD, adversary } from "../helpers/adversary.js";
import { HUGE, MTA, NOTICE, WINDOW, counterparty } from "../helpers/counterparty.js";
import { marginEngine } from "../helpers/margin.js";
import { refusalSteps } from "../helpers/refusal.js";

describe("MarginEngine.setExposure", function () {
  let sys: System;
  const system = useSystem();
  beforeEach(function () {
    sys = system();
  });

  it("computes the requirement as max(0, exposure - threshold) + independent amount", async function () {
    const vault = await sys.openAgreement({
      terms: { ...defaultTerms, threshold: 100n * WAD, independentAmount: 50n * WAD },
    });
    expect(await vault.requirement()).to.equal(50n * WAD);
    await expect(vault.connect(sys.securedParty).setExposure(80n * WAD))
      .to.emit(vault, "ExposureSet")
      .withArgs(80n * WAD, 50n * WAD);
    await vault.connect(sys.securedParty).setExposure(300n * WAD);
    expect(await vault.requirement()).to.equal(250n * WAD);
    await expect(vault.connect(sys.pledgor).setExposure(0n)).to.be.revertedWithCustomError(
      vault,
      "Unauthorized",
    );
  });

  describe("refuses", function () {
    const {
      advance,
      advanceTo,
      oneBlock,
      eventsOf,
      pledged,
      call,
      disputed,
      stableAddress,
      agentOf,
    } = counterparty(() => sys);

    /** 500,000 T-bills (490,000), 480,000 enforceable, a mark of 900,000 disputed at 600,000, the call covered. */
    async function coveredDispute(withAgent: boolean) {
      const vault = await pledged({ withAgent, tbills: TBILL(500_000n), exposure: USD(480_000n) });
      await vault.connect(sys.securedParty).setExposure(USD(900_000n));
      await vault.connect(sys.pledgor).disputeExposure(USD(600_000n));
      await call(vault); // on the undisputed 600,000: 110,000
      expect((await vault.marginCall())[0]).to.equal(USD(110_000n));
      await sys.fund(sys.stable, sys.pledgor, vault, STABLE(110_000n));
      await expect(vault.connect(sys.pledgor).deposit(await stableAddress(), STABLE(110_000n)))
        .to.emit(vault, "MarginCallMet")
        .withArgs(USD(600_000n), USD(600_000n));
      expect(await vault.state()).to.equal(VaultState.Pledged);
      return vault;
    }

    for (const withAgent of [false, true]) {
      it(`attack 3, dispute erased by a re-mark (${withAgent ? "with" : "without"} a control agent): the secured party re-marks the disputed 900,000 and then 1,500,000, calls, declares and gives notice in one block; the dispute stays open at the pledgor's 600,000, which is covered, so there is no default (rule: a new mark never erases a dispute)`, async function () {
        const vault = await coveredDispute(withAgent);
        const sp = vault.connect(sys.securedParty);
        const { outcomes } = await oneBlock([
          (o) => sp.setExposure(USD(900_000n), o),
          (o) => sp.setExposure(USD(1_500_000n), o),
          (o) => sp.issueMarginCall(o),
          (o) => sp.declareDefault(o),
          (o) => sp.deliverNoticeOfExclusiveControl(NOTICE, o),
        ]);
        expect(outcomes).to.deep.equal([
          ["ok"],
          ["ok"],
          ["NoMarginCallDue", USD(600_000n), USD(600_000n), MTA],
          ["Unauthorized", sys.securedParty.address, agentOf(withAgent)],
          ["NoDefault"],
        ]);
        expect(await vault.marginState()).to.deep.equal([
          USD(1_500_000n),
          USD(600_000n),
          true,
          0n,
          0n,
        ]);
        expect(await vault.state()).to.equal(VaultState.Pledged);
        expect(await vault.callableRequirement()).to.equal(USD(600_000n));
        expect(await vault.enforceableExposure()).to.equal(USD(600_000n));
        // Time does not end the dispute either.
        await advance(30n * ONE_DAY);
        expect(await vault.enforceableExposure()).to.equal(USD(600_000n));
        await expect(vault.connect(sys.outsider).issueMarginCall())
          .to.be.revertedWithCustomError(vault, "NoMarginCallDue")
          .withArgs(USD(600_000n), USD(600_000n), MTA);
        await expect(sp.deliverNoticeOfExclusiveControl(NOTICE)).to.be.revertedWithCustomError(
          vault,
          "NoDefault",
        );
      });
    }

    it("attack 3, dispute erased by a re-mark: a call open on the mark, cured by the pledgor's dispute alone; after the deadline the secured party re-marks higher and a keeper declares and the secured party gives notice in one block: MarginCallCured (rule: a new mark never erases a dispute)", async function () {
      const vault = await pledged({ tbills: TBILL(500_000n), exposure: USD(480_000n) });
      const sp = vault.connect(sys.securedParty);
      await sp.setExposure(USD(900_000n));
      const deadline = await call(vault); // 900,000 - 490,000 = 410,000
      expect((await vault.marginCall())[0]).to.equal(USD(410_000n));
      // The pledgor admits only what it had let pass: the whole new part is disputed.
      await expect(vault.connect(sys.pledgor).disputeExposure(USD(480_000n)))
        .to.emit(vault, "ExposureDisputed")
        .withArgs(USD(900_000n), USD(480_000n), USD(480_000n));
      await advanceTo(deadline);
      const { outcomes } = await oneBlock([
        (o) => sp.setExposure(USD(900_000n), o),
        (o) => sp.setExposure(USD(2_000_000n), o),
        (o) => vault.connect(sys.outsider).declareDefault(o),
        (o) => sp.deliverNoticeOfExclusiveControl(NOTICE, o),
      ]);
      expect(outcomes).to.deep.equal([
        ["ok"],
        ["ok"],
        ["MarginCallCured", USD(490_000n), USD(480_000n)],
        ["MarginCallCured", USD(490_000n), USD(480_000n)],
      ]);
      expect((await vault.marginState()).slice(0, 3)).to.deep.equal([
        USD(2_000_000n),
        USD(480_000n),
        true,
      ]);
      await expect(vault.connect(sys.outsider).closeMarginCall())
        .to.emit(vault, "MarginCallMet")
        .withArgs(USD(490_000n), USD(480_000n));
      expect(await vault.state()).to.equal(VaultState.Pledged);
    });

    it("attack 3, dispute erased by a re-mark: conceding the pledgor's figure and marking 5,000,000 with a call in one block ends the dispute at 600,000; the new mark has a window of its own, the pledgor disputes it again and no default follows (rule: an agreed figure is enforceable, a new mark is disputable)", async function () {
      const vault = await coveredDispute(false);
      const sp = vault.connect(sys.securedParty);
      const { outcomes, receipts } = await oneBlock([
        (o) => sp.setExposure(USD(600_000n), o),
        (o) => sp.setExposure(USD(5_000_000n), o),
        (o) => sp.issueMarginCall(o),
      ]);
      expect(outcomes).to.deep.equal([["ok"], ["ok"], ["ok"]]);
      expect(eventsOf(receipts[0], vault, await vault.getAddress())[0]).to.deep.equal([
        "DisputeResolved",
        sys.securedParty.address,
        USD(600_000n),
      ]);
      expect(await vault.enforceableExposure()).to.equal(USD(600_000n));
      const [amount, deadline] = await vault.marginCall();
      expect(amount).to.equal(USD(4_400_000n));
      await expect(vault.connect(sys.pledgor).disputeExposure(USD(600_000n)))
        .to.emit(vault, "ExposureDisputed")
        .withArgs(USD(5_000_000n), USD(600_000n), USD(600_000n));
      await advanceTo(deadline + 1n);
      await expect(vault.connect(sys.outsider).declareDefault())
        .to.be.revertedWithCustomError(vault, "MarginCallCured")
        .withArgs(USD(600_000n), USD(600_000n));
      await expect(sp.deliverNoticeOfExclusiveControl(NOTICE)).to.be.revertedWithCustomError(
        vault,
        "MarginCallCured",
      );
      expect(await vault.enforceableExposure()).to.equal(USD(600_000n));
    });

    for (const mark of [550_000n, 600_000n]) {
      it(`attack 3, dispute erased by a re-mark: a mark of ${mark.toLocaleString("en-US")} (${mark < 600_000n ? "below" : "at"} the pledgor's 600,000) ends the dispute at the mark, enforceable at once and not disputable again (rule: a mark at or below the pledgor's figure ends the dispute at the mark)`, async function () {
        const vault = await disputed();
        await expect(vault.connect(sys.securedParty).setExposure(USD(mark)))
          .to.emit(vault, "DisputeResolved")
          .withArgs(sys.securedParty.address, USD(mark));
        expect(await vault.marginState()).to.deep.equal([USD(mark), USD(mark), false, 0n, 0n]);
        expect(await vault.enforceableExposure()).to.equal(USD(mark));
        expect(await vault.requirement()).to.equal(USD(mark));
        await expect(vault.connect(sys.pledgor).disputeExposure(USD(1n)))
          .to.be.revertedWithCustomError(vault, "DisputeWindowClosed")
          .withArgs(0n, WINDOW, anyValue);
      });
    }
  });
});

describe("MarginEngine.disputeExposure", function () {
  let sys: System;
  const system = useSystem();
  beforeEach(function () {
    sys = system();
  });

  const { pledgedAgreement } = marginEngine(() => sys);

  it("keeps the undisputed part of a disputed exposure callable, and resolves disputes by the rules", async function () {
    const vault = await pledgedAgreement();
    await vault.connect(sys.securedParty).setExposure(USD(900_000n)); // requirement 1,100,000
    await expect(vault.connect(sys.pledgor).disputeExposure(USD(850_000n)))
      .to.emit(vault, "ExposureDisputed")
      .withArgs(USD(900_000n), USD(850_000n), USD(850_000n));
    expect(await vault.callableRequirement()).to.equal(USD(1_050_000n));
    expect(await vault.requirement()).to.equal(USD(1_100_000n));
    await expect(vault.connect(sys.pledgor).disputeExposure(USD(1n))).to.be.revertedWithCustomError(
      vault,
      "DisputeAlreadyOpen",
    );
    // The call is for the undisputed shortfall: 1,050,000 - 1,078,000 < 0, so none is due yet.
    await expect(vault.issueMarginCall()).to.be.revertedWithCustomError(vault, "NoMarginCallDue");

    await expect(vault.connect(sys.pledgor).resolveDispute(USD(850_000n)))
      .to.be.revertedWithCustomError(vault, "InvalidResolution")
      .withArgs(sys.pledgor.address, USD(850_000n));
    await expect(
      vault.connect(sys.securedParty).resolveDispute(USD(950_000n)),
    ).to.be.revertedWithCustomError(vault, "InvalidResolution");
    // Above the pledgor's figure the secured party cannot "resolve"; it may lower its mark, and the dispute stays.
    await expect(vault.connect(sys.securedParty).resolveDispute(USD(870_000n)))
      .to.be.revertedWithCustomError(vault, "InvalidResolution")
      .withArgs(sys.securedParty.address, USD(870_000n));
    await vault.connect(sys.securedParty).setExposure(USD(870_000n));
    expect((await vault.marginState()).disputed).to.equal(true);
    expect(await vault.callableRequirement()).to.equal(USD(1_050_000n));
    // The pledgor raises its figure to the mark: the two figures meet and the dispute ends there.
    await expect(vault.connect(sys.pledgor).resolveDispute(USD(870_000n)))
      .to.emit(vault, "DisputeResolved")
      .withArgs(sys.pledgor.address, USD(870_000n));
    expect(await vault.callableRequirement()).to.equal(USD(1_070_000n));
    expect(await vault.enforceableExposure()).to.equal(USD(870_000n));

    await vault.connect(sys.securedParty).setExposure(USD(880_000n));
    await sys.networkHelpers.time.increase(ONE_DAY + 1n);
    await expect(vault.connect(sys.pledgor).disputeExposure(USD(1n))).to.be.revertedWithCustomError(
      vault,
      "DisputeWindowClosed",
    );
  });

  describe("refuses", function () {
    const { pledge } = adversary(() => sys);
    const { postedVault, ledger } = refusalSteps(() => sys);
    const { sdkError, pledged } = counterparty(() => sys);

    it("disputeExposure refuses an Open or released vault (InvalidState) and resolveDispute refuses when no dispute is open (NoDisputeOpen)", async function () {
      const vault = await postedVault();
      await expect(vault.connect(sys.pledgor).disputeExposure(0n))
        .to.be.revertedWithCustomError(vault, "InvalidState")
        .withArgs(VaultState.Open);

      await pledge(vault);
      await vault.connect(sys.securedParty).setExposure(USD(500_000n));
      const before = await ledger(vault, [sys.tbill]);
      for (const [sender, figure] of [
        [sys.securedParty, USD(400_000n)],
        [sys.pledgor, USD(500_000n)],
        [sys.controlAgent, USD(1n)],
      ] as const) {
        await expect(vault.connect(sender).resolveDispute(figure)).to.be.revertedWithCustomError(
          vault,
          "NoDisputeOpen",
        );
      }
      expect(await ledger(vault, [sys.tbill])).to.deep.equal(before);
      expect(await vault.marginState()).to.deep.equal([
        USD(500_000n),
        USD(500_000n),
        false,
        0n,
        0n,
      ]);

      await vault.connect(sys.securedParty).release();
      await expect(vault.connect(sys.pledgor).disputeExposure(0n))
        .to.be.revertedWithCustomError(vault, "InvalidState")
        .withArgs(VaultState.Released);
    });

    it("attack 4, self-resolution: a dispute must leave part of the mark in dispute: a figure at the mark, or on a lowered mark, is NothingDisputed (with its SDK sentence); a figure below what was enforceable counts as that (rule: a dispute covers only what is not yet enforceable)", async function () {
      const vault = await pledged(); // 500,000 enforceable
      const sp = vault.connect(sys.securedParty);
      await sp.setExposure(USD(900_000n));
      const error = await sdkError(vault.connect(sys.pledgor).disputeExposure(USD(900_000n)));
      expect(error.errorName).to.equal("NothingDisputed");
      expect(error.message).to.equal(
        "NothingDisputed: There is nothing to dispute: the pledgor's figure 900,000 (never below the exposure " +
          "already enforceable) is not below the mark of 900,000.",
      );
      await expect(vault.connect(sys.pledgor).disputeExposure(USD(100_000n)))
        .to.emit(vault, "ExposureDisputed")
        .withArgs(USD(900_000n), USD(100_000n), USD(500_000n));
      expect(await vault.callableRequirement()).to.equal(USD(500_000n));

      const lowered = await pledged();
      await lowered.connect(sys.securedParty).setExposure(USD(400_000n));
      await expect(lowered.connect(sys.pledgor).disputeExposure(USD(100_000n)))
        .to.be.revertedWithCustomError(lowered, "NothingDisputed")
        .withArgs(USD(400_000n), USD(400_000n));
    });
  });
});

describe("MarginEngine.resolveDispute", function () {
  let sys: System;
  const system = useSystem();
  beforeEach(function () {
    sys = system();
  });

  describe("refuses", function () {
    const { oneBlock, disputed, tbillAddress } = counterparty(() => sys);

    it("attack 2, disputed figure enforced: under exclusive control the control agent resolving above the pledgor's figure leaves the amount due; resolving below lowers it; the secured party accepting less lowers it; the pledgor accepting the mark or raising its figure leaves it (rule: the amount due only goes down)", async function () {
      const open = async () => {
        const vault = await disputed(true);
        await vault.connect(sys.pledgor).declareDefault();
        await vault.connect(sys.securedParty).deliverNoticeOfExclusiveControl(NOTICE);
        expect(await vault.appropriation()).to.deep.equal([USD(630_000n), 0n]);
        return vault;
      };

      const higher = await open();
      await expect(higher.connect(sys.controlAgent).resolveDispute(USD(900_000n)))
        .to.emit(higher, "DisputeResolved")
        .withArgs(sys.controlAgent.address, USD(900_000n));
      expect(await higher.appropriation()).to.deep.equal([USD(630_000n), 0n]);
      expect((await higher.marginState())[2]).to.equal(false);
      await expect(
        higher
          .connect(sys.securedParty)
          .instructTransfer(await tbillAddress(), TBILL(630_001n), sys.securedParty.address),
      )
        .to.be.revertedWithCustomError(higher, "AppropriationExceedsAmountDue")
        .withArgs(USD(630_001n), USD(630_000n));

      const lower = await open();
      await lower.connect(sys.controlAgent).resolveDispute(USD(550_000n));
      expect(await lower.appropriation()).to.deep.equal([USD(577_500n), 0n]);

      const securedPartyAccepts = await open();
      await securedPartyAccepts.connect(sys.securedParty).resolveDispute(USD(580_000n));
      expect(await securedPartyAccepts.appropriation()).to.deep.equal([USD(609_000n), 0n]);

      const pledgorAccepts = await open();
      await expect(pledgorAccepts.connect(sys.pledgor).resolveDispute(USD(900_000n)))
        .to.emit(pledgorAccepts, "DisputeResolved")
        .withArgs(sys.pledgor.address, USD(900_000n));
      expect(await pledgorAccepts.appropriation()).to.deep.equal([USD(630_000n), 0n]);

      const pledgorRaises = await open();
      await expect(pledgorRaises.connect(sys.pledgor).resolveDispute(USD(700_000n)))
        .to.emit(pledgorRaises, "DisputeFigureChanged")
        .withArgs(sys.pledgor.address, USD(900_000n), USD(700_000n));
      expect(await pledgorRaises.appropriation()).to.deep.equal([USD(630_000n), 0n]);
      // Under exclusive control the secured party cannot re-mark at all.
      await expect(pledgorRaises.connect(sys.securedParty).setExposure(HUGE))
        .to.be.revertedWithCustomError(pledgorRaises, "InvalidState")
        .withArgs(VaultState.ExclusiveControl);
    });

    it("attack 4, self-resolution: the secured party resolving at its own mark, or above it, is InvalidResolution, also right after re-marking in the same block; the dispute stays open (rule: the secured party may only accept the pledgor's figure or less)", async function () {
      const vault = await disputed();
      const sp = vault.connect(sys.securedParty);
      for (const figure of [USD(900_000n), HUGE]) {
        await expect(sp.resolveDispute(figure))
          .to.be.revertedWithCustomError(vault, "InvalidResolution")
          .withArgs(sys.securedParty.address, figure);
      }
      expect(await vault.marginState()).to.deep.equal([USD(900_000n), USD(600_000n), true, 0n, 0n]);
      // In one block: re-mark, then resolve at the mark: the mark stays, the resolution is refused.
      const { outcomes } = await oneBlock([
        (o) => sp.setExposure(USD(900_000n), o),
        (o) => sp.resolveDispute(USD(900_000n), o),
      ]);
      expect(outcomes).to.deep.equal([
        ["ok"],
        ["InvalidResolution", sys.securedParty.address, USD(900_000n)],
      ]);
      expect(await vault.enforceableExposure()).to.equal(USD(600_000n));
    });

    it("attack 4, self-resolution: the pledgor cannot lower its figure, nor restate it, nor open a second dispute (rule: the pledgor may raise its admitted figure, never lower it)", async function () {
      const vault = await disputed();
      const p = vault.connect(sys.pledgor);
      for (const figure of [USD(600_000n) - 1n, USD(600_000n), 0n]) {
        await expect(p.resolveDispute(figure))
          .to.be.revertedWithCustomError(vault, "InvalidResolution")
          .withArgs(sys.pledgor.address, figure);
      }
      await expect(p.disputeExposure(USD(100_000n))).to.be.revertedWithCustomError(
        vault,
        "DisputeAlreadyOpen",
      );
      expect((await vault.marginState())[1]).to.equal(USD(600_000n));
    });

    for (const withAgent of [false, true]) {
      it(`attack 4, self-resolution: an outsider${withAgent ? "" : ", and the control agent's address where no agent is named,"} cannot resolve (InvalidResolution)${withAgent ? "; the named control agent decides any figure, enforceable at once and not disputable again" : ""} (rule: only the parties by agreement, or the control agent, end a dispute)`, async function () {
        const vault = await disputed(withAgent);
        await expect(vault.connect(sys.outsider).resolveDispute(USD(600_000n)))
          .to.be.revertedWithCustomError(vault, "InvalidResolution")
          .withArgs(sys.outsider.address, USD(600_000n));
        const agent = vault.connect(sys.controlAgent);
        if (!withAgent) {
          await expect(agent.resolveDispute(USD(750_000n)))
            .to.be.revertedWithCustomError(vault, "InvalidResolution")
            .withArgs(sys.controlAgent.address, USD(750_000n));
          expect((await vault.marginState())[2]).to.equal(true);
          return;
        }
        await expect(agent.resolveDispute(USD(750_000n)))
          .to.emit(vault, "DisputeResolved")
          .withArgs(sys.controlAgent.address, USD(750_000n));
        expect(await vault.marginState()).to.deep.equal([
          USD(750_000n),
          USD(750_000n),
          false,
          0n,
          0n,
        ]);
        expect(await vault.enforceableExposure()).to.equal(USD(750_000n));
        await expect(vault.connect(sys.pledgor).disputeExposure(USD(700_000n)))
          .to.be.revertedWithCustomError(vault, "DisputeWindowClosed")
          .withArgs(0n, WINDOW, anyValue);
      });
    }

    it("attack 4, self-resolution: the pledgor accepting the mark (any figure at or above it) ends the dispute at the mark, not at its own number (rule: the pledgor accepts the mark)", async function () {
      const vault = await disputed();
      await expect(vault.connect(sys.pledgor).resolveDispute(HUGE))
        .to.emit(vault, "DisputeResolved")
        .withArgs(sys.pledgor.address, USD(900_000n));
      expect(await vault.marginState()).to.deep.equal([
        USD(900_000n),
        USD(900_000n),
        false,
        0n,
        0n,
      ]);
      expect(await vault.enforceableExposure()).to.equal(USD(900_000n));
    });

    it("attack 4, self-resolution: the secured party lowers its mark to 700,000, the pledgor raises its figure to 650,000 and then to meet the mark: the dispute ends at 700,000 (rule: the two figures meeting end the dispute)", async function () {
      const vault = await disputed();
      await vault.connect(sys.securedParty).setExposure(USD(700_000n));
      expect((await vault.marginState()).slice(0, 3)).to.deep.equal([
        USD(700_000n),
        USD(600_000n),
        true,
      ]);
      await expect(vault.connect(sys.pledgor).resolveDispute(USD(650_000n)))
        .to.emit(vault, "DisputeFigureChanged")
        .withArgs(sys.pledgor.address, USD(700_000n), USD(650_000n));
      expect((await vault.marginState()).slice(0, 3)).to.deep.equal([
        USD(700_000n),
        USD(650_000n),
        true,
      ]);
      expect(await vault.enforceableExposure()).to.equal(USD(650_000n));
      await expect(vault.connect(sys.pledgor).resolveDispute(USD(700_000n)))
        .to.emit(vault, "DisputeResolved")
        .withArgs(sys.pledgor.address, USD(700_000n));
      expect((await vault.marginState()).slice(0, 3)).to.deep.equal([
        USD(700_000n),
        USD(700_000n),
        false,
      ]);
      expect(await vault.enforceableExposure()).to.equal(USD(700_000n));
    });
  });
});

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
