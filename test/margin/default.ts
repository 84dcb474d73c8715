// MarginEngine.declareDefault: the pledgor's or control agent's declaration, or anyone's on a call unmet past its
// deadline; a cured call ends the default.
import { expect } from "chai";
import { ethers as ethersLib } from "ethers";

import { ONE_DAY, VaultState, useSystem, type System } from "../fixtures.js";
import { STABLE, USD } from "../helpers/adversary.js";
import { MTA, NOTICE, counterparty } from "../helpers/counterparty.js";
import { marginEngine, price8 } from "../helpers/margin.js";
import { vaultSteps } from "../helpers/vault.js";

describe("MarginEngine.declareDefault", function () {
  let sys: System;
  const system = useSystem();
  beforeEach(function () {
    sys = system();
  });

  const { postedVault, pledged } = vaultSteps(() => sys);

  it("lets the pledgor consent to a default, and refuses a default declared by an outsider", async function () {
    const vault = await postedVault();
    await pledged(vault);
    await expect(vault.connect(sys.outsider).declareDefault()).to.be.revertedWithCustomError(
      vault,
      "Unauthorized",
    );
    await expect(vault.connect(sys.pledgor).declareDefault())
      .to.emit(vault, "DefaultDeclared")
      .withArgs(sys.pledgor.address, 1);
  });

  describe("refuses", function () {
    const {
      advance,
      advanceTo,
      oneBlock,
      eventsOf,
      pledged,
      call,
      staleDefault,
      stableAddress,
      agentOf,
    } = counterparty(() => sys);

    afterEach(async function () {
      // A failed test must not leave the chain without automine (the snapshot restore does not reset it).
      await sys.ethers.provider.send("evm_setAutomine", [true]);
    });

    {
      // The worked example of test/helpers/margin.ts, whose advance also moves the T-bill's price.
      const { pledgedAgreement, advance } = marginEngine(() => sys);

      it("refuses a default on a call cured by a price recovery, even past its deadline", async function () {
        const vault = await pledgedAgreement();
        await sys.tbillFeed.setAnswer(price8(90n));
        await vault.issueMarginCall();
        await advance(ONE_DAY + 1n, 100n); // the price is back at $1 and the call was never closed
        await expect(vault.connect(sys.outsider).declareDefault())
          .to.be.revertedWithCustomError(vault, "MarginCallCured")
          .withArgs(USD(1_078_000n), USD(1_000_000n));
        await expect(
          vault.connect(sys.securedParty).deliverNoticeOfExclusiveControl(ethersLib.id("notice")),
        ).to.be.revertedWithCustomError(vault, "MarginCallCured");
        await vault.connect(sys.outsider).closeMarginCall();
        expect(await vault.state()).to.equal(VaultState.Pledged);
      });
    }

    it("check b: a default is refused in the cure deadline's own second (CureDeadlineNotPassed) and allowed one second later (rule: a default is a call unmet past its deadline)", async function () {
      const vault = await pledged({ exposure: USD(1_200_000n) });
      const deadline = await call(vault);
      await advanceTo(deadline - 30n);
      const sp = vault.connect(sys.securedParty);
      const atDeadline = await oneBlock(
        [
          (o) => vault.connect(sys.outsider).declareDefault(o),
          (o) => sp.deliverNoticeOfExclusiveControl(NOTICE, o),
        ],
        deadline,
      );
      expect(atDeadline.outcomes).to.deep.equal([
        ["CureDeadlineNotPassed", deadline, deadline],
        ["CureDeadlineNotPassed", deadline, deadline],
      ]);
      const after = await oneBlock(
        [(o) => vault.connect(sys.outsider).declareDefault(o)],
        deadline + 1n,
      );
      expect(after.outcomes).to.deep.equal([["ok"]]);
      expect(eventsOf(after.receipts[0], vault, await vault.getAddress())).to.deep.equal([
        ["DefaultDeclared", sys.outsider.address, 3n],
      ]);
      await sp.deliverNoticeOfExclusiveControl(NOTICE);
      expect(await vault.appropriation()).to.deep.equal([USD(1_260_000n), 0n]);
    });

    for (const withAgent of [false, true]) {
      it(`attack 5, stale default (${withAgent ? "with" : "without"} a control agent): the keeper's default on an unmet call, the pledgor cures late (DefaultCured, Pledged), and 90 days later, fully covered, the notice is NoDefault (rule: curing the call, even late, ends the default)`, async function () {
        const vault = await staleDefault(withAgent);
        await sys.fund(sys.stable, sys.pledgor, vault, STABLE(122_000n));
        const cure = vault.connect(sys.pledgor).deposit(await stableAddress(), STABLE(122_000n));
        await expect(cure)
          .to.emit(vault, "MarginCallMet")
          .withArgs(USD(1_200_000n), USD(1_200_000n));
        await expect(cure).to.emit(vault, "DefaultCured").withArgs(3);
        expect(await vault.state()).to.equal(VaultState.Pledged);

        await advance(90n * ONE_DAY);
        expect(await vault.collateralValue()).to.equal(USD(1_200_000n));
        await expect(
          vault.connect(sys.securedParty).deliverNoticeOfExclusiveControl(NOTICE),
        ).to.be.revertedWithCustomError(vault, "NoDefault");
        if (withAgent) {
          await expect(
            vault.connect(sys.controlAgent).deliverNoticeOfExclusiveControl(NOTICE),
          ).to.be.revertedWithCustomError(vault, "NoDefault");
        }
        await expect(vault.connect(sys.outsider).declareDefault())
          .to.be.revertedWithCustomError(vault, "Unauthorized")
          .withArgs(sys.outsider.address, agentOf(withAgent));
        await expect(vault.connect(sys.outsider).issueMarginCall())
          .to.be.revertedWithCustomError(vault, "NoMarginCallDue")
          .withArgs(USD(1_200_000n), USD(1_200_000n), MTA);
        expect(await vault.state()).to.equal(VaultState.Pledged);
      });
    }

    it("attack 5, stale default: the control agent's declared default is not turned into a curable one by a keeper's declareDefault on the unmet call: the late cure meets the call (no DefaultCured) and the notice is still good (rule: only a default on an unmet call ends with its cure)", async function () {
      const vault = await pledged({ withAgent: true, exposure: USD(1_200_000n) });
      await expect(vault.connect(sys.controlAgent).declareDefault())
        .to.emit(vault, "DefaultDeclared")
        .withArgs(sys.controlAgent.address, 2);
      const deadline = await call(vault);
      await advanceTo(deadline + 1n);
      await expect(vault.connect(sys.outsider).declareDefault())
        .to.emit(vault, "DefaultDeclared")
        .withArgs(sys.outsider.address, 3);
      await sys.fund(sys.stable, sys.pledgor, vault, STABLE(122_000n));
      const cure = vault.connect(sys.pledgor).deposit(await stableAddress(), STABLE(122_000n));
      await expect(cure).to.emit(vault, "MarginCallMet");
      await expect(cure).not.to.emit(vault, "DefaultCured");
      expect(await vault.state()).to.equal(VaultState.Pledged);
      await expect(vault.connect(sys.securedParty).deliverNoticeOfExclusiveControl(NOTICE))
        .to.emit(vault, "NoticeOfExclusiveControlDelivered")
        .withArgs(sys.securedParty.address, NOTICE);
      expect(await vault.appropriation()).to.deep.equal([USD(1_260_000n), 0n]);
    });
  });
});
