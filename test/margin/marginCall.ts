// MarginEngine.issueMarginCall and closeMarginCall: a call fixes its amount, deadline and requirement when issued;
// it closes once coverage is restored.
import { expect } from "chai";

import { VaultState, useSystem, type System } from "../fixtures.js";
import { STABLE, USD } from "../helpers/adversary.js";
import { CURE, NOTICE, WINDOW, ZERO, counterparty } from "../helpers/counterparty.js";
import { marginEngine, price8 } from "../helpers/margin.js";

describe("MarginEngine.issueMarginCall", function () {
  let sys: System;
  const system = useSystem();
  beforeEach(function () {
    sys = system();
  });

  describe("refuses", function () {
    const {
      refreshFeeds,
      advanceTo,
      oneBlock,
      minedAt,
      eventsOf,
      pledged,
      postStable,
      call,
      stableAddress,
    } = counterparty(() => sys);

    afterEach(async function () {
      // A failed test must not leave the chain without automine (the snapshot restore does not reset it).
      await sys.ethers.provider.send("evm_setAutomine", [true]);
    });

    /** 1,100,000 T-bills, 1,200,000 enforceable: a call for 122,000 answering 1,200,000. */
    async function called() {
      const vault = await pledged({ exposure: USD(1_200_000n) });
      const deadline = await call(vault);
      expect(await vault.marginCall()).to.deep.equal([
        USD(122_000n),
        deadline,
        USD(1_200_000n),
        0n,
      ]);
      return { vault, deadline };
    }

    it("attack 1, unbounded amount due: a keeper's margin call on the huge mark in the same block is open at once, but the pledgor keeps the whole window to dispute it before the call can default (rule: callable at once, disputable before it can default)", async function () {
      const vault = await pledged();
      const sp = vault.connect(sys.securedParty);
      const { outcomes, timestamp } = await oneBlock([
        (o) => sp.setExposure(USD(2_000_000n), o),
        (o) => vault.connect(sys.outsider).issueMarginCall(o),
      ]);
      expect(outcomes).to.deep.equal([["ok"], ["ok"]]);
      // 2,000,000 - 1,078,000 = 922,000, due in one cure period; the mark's window closes at the same second.
      expect(await vault.marginCall()).to.deep.equal([
        USD(922_000n),
        timestamp + CURE,
        USD(2_000_000n),
        0n,
      ]);
      expect(await vault.enforceableExposure()).to.equal(USD(500_000n));
      // The last second the call cannot default is still inside the window: the pledgor disputes then.
      await advanceTo(timestamp + WINDOW - 10n);
      const dispute = await oneBlock(
        [(o) => vault.connect(sys.pledgor).disputeExposure(USD(500_000n), o)],
        timestamp + WINDOW,
      );
      expect(dispute.outcomes).to.deep.equal([["ok"]]);
      await refreshFeeds();
      // The call is now cured by value (1,078,000 against the undisputed 500,000): no default, no notice.
      await expect(vault.connect(sys.outsider).declareDefault())
        .to.be.revertedWithCustomError(vault, "MarginCallCured")
        .withArgs(USD(1_078_000n), USD(500_000n));
      await expect(sp.deliverNoticeOfExclusiveControl(NOTICE)).to.be.revertedWithCustomError(
        vault,
        "MarginCallCured",
      );
    });

    it("attack 7, moving goalposts: the secured party raises the exposure to 1,500,000 after the call; the pledgor delivers exactly the 122,000 called: the call closes (MarginCallMet), no default at the deadline, and the increase is a new call with its own cure period (rule: a later mark does not move the call)", async function () {
      const { vault, deadline } = await called();
      await vault.connect(sys.securedParty).setExposure(USD(1_500_000n));
      expect(await vault.callableRequirement()).to.equal(USD(1_500_000n));
      expect(await vault.marginCall()).to.deep.equal([
        USD(122_000n),
        deadline,
        USD(1_200_000n),
        0n,
      ]);
      await sys.fund(sys.stable, sys.pledgor, vault, STABLE(122_000n));
      await expect(vault.connect(sys.pledgor).deposit(await stableAddress(), STABLE(122_000n)))
        .to.emit(vault, "MarginCallMet")
        .withArgs(USD(1_200_000n), USD(1_200_000n));
      expect(await vault.state()).to.equal(VaultState.Pledged);

      await advanceTo(deadline + 1n);
      await expect(vault.connect(sys.outsider).declareDefault())
        .to.be.revertedWithCustomError(vault, "Unauthorized")
        .withArgs(sys.outsider.address, ZERO);
      await expect(
        vault.connect(sys.securedParty).deliverNoticeOfExclusiveControl(NOTICE),
      ).to.be.revertedWithCustomError(vault, "NoDefault");

      const issue = await vault.connect(sys.outsider).issueMarginCall();
      const issuedAt = await minedAt(issue);
      await expect(issue)
        .to.emit(vault, "MarginCallIssued")
        .withArgs(
          sys.outsider.address,
          USD(300_000n),
          USD(300_000n),
          issuedAt + CURE,
          USD(1_200_000n),
          USD(1_500_000n),
        );
      expect((await vault.marginCall())[1]).to.equal(issuedAt + CURE);
    });

    it("attack 7, moving goalposts: the raise lands in the same block just before the pledgor's delivery of the called amount: the delivery still closes the call (rule: the call is cured by the called amount delivered)", async function () {
      const { vault } = await called();
      await sys.fund(sys.stable, sys.pledgor, vault, STABLE(122_000n));
      const stable = await stableAddress();
      const { outcomes, receipts } = await oneBlock([
        (o) => vault.connect(sys.securedParty).setExposure(USD(1_500_000n), o),
        (o) => vault.connect(sys.pledgor).deposit(stable, STABLE(122_000n), o),
      ]);
      expect(outcomes).to.deep.equal([["ok"], ["ok"]]);
      expect(eventsOf(receipts[1], vault, await vault.getAddress())).to.deep.include([
        "MarginCallMet",
        USD(1_200_000n),
        USD(1_200_000n),
      ]);
      expect(await vault.state()).to.equal(VaultState.Pledged);
    });

    it("attack 7, moving goalposts: after the delivery, the raise and a new call seconds before the old deadline: the new call runs a full cure period, so no default at the old deadline (rule: a new call has its own cure period)", async function () {
      const { vault, deadline } = await called();
      await postStable(vault, STABLE(122_000n));
      expect(await vault.state()).to.equal(VaultState.Pledged);
      await advanceTo(deadline - 20n);
      const sp = vault.connect(sys.securedParty);
      const { outcomes, timestamp } = await oneBlock(
        [(o) => sp.setExposure(USD(1_500_000n), o), (o) => sp.issueMarginCall(o)],
        deadline - 5n,
      );
      expect(outcomes).to.deep.equal([["ok"], ["ok"]]);
      const newDeadline = timestamp + CURE;
      expect(await vault.marginCall()).to.deep.equal([
        USD(300_000n),
        newDeadline,
        USD(1_500_000n),
        0n,
      ]);
      const atOldDeadline = await oneBlock(
        [
          (o) => vault.connect(sys.outsider).declareDefault(o),
          (o) => sp.deliverNoticeOfExclusiveControl(NOTICE, o),
        ],
        deadline + 1n,
      );
      expect(atOldDeadline.outcomes).to.deep.equal([
        ["CureDeadlineNotPassed", newDeadline, deadline + 1n],
        ["CureDeadlineNotPassed", newDeadline, deadline + 1n],
      ]);
    });
  });
});

describe("MarginEngine.closeMarginCall", function () {
  let sys: System;
  const system = useSystem();
  beforeEach(function () {
    sys = system();
  });

  const { pledgedAgreement } = marginEngine(() => sys);

  it("closes an open call when a deposit restores coverage", async function () {
    const vault = await pledgedAgreement();
    await sys.tbillFeed.setAnswer(price8(90n)); // 970,200: a call for 30,000
    await vault.issueMarginCall();
    await sys.fund(sys.stable, sys.pledgor, vault, STABLE(20_000n));
    await vault.connect(sys.pledgor).deposit(await sys.stable.getAddress(), STABLE(20_000n));
    expect(await vault.state()).to.equal(VaultState.MarginCall);
    await sys.fund(sys.stable, sys.pledgor, vault, STABLE(10_000n));
    await expect(vault.connect(sys.pledgor).deposit(await sys.stable.getAddress(), STABLE(10_000n)))
      .to.emit(vault, "MarginCallMet")
      .withArgs(USD(1_000_200n), USD(1_000_000n));
    expect(await vault.state()).to.equal(VaultState.Pledged);
  });

  it("lets anyone close a call after the price recovers", async function () {
    const vault = await pledgedAgreement();
    await sys.tbillFeed.setAnswer(price8(90n));
    await vault.issueMarginCall();
    await expect(vault.connect(sys.outsider).closeMarginCall())
      .to.be.revertedWithCustomError(vault, "MarginCallNotMet")
      .withArgs(await vault.collateralValue(), await vault.callableRequirement());
    await sys.tbillFeed.setAnswer(price8(100n));
    await expect(vault.connect(sys.outsider).closeMarginCall()).to.emit(vault, "MarginCallMet");
  });
});
