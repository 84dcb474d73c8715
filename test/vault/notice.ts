// CollateralVault.deliverNoticeOfExclusiveControl: on a continuing default the notice locks the pledgor out and
// fixes the amount due from the enforceable exposure, never from a fresh or disputed mark.
import { expect } from "chai";
import { ethers as ethersLib } from "ethers";

import { VaultState, WAD, useSystem, type System } from "../fixtures.js";
import { STABLE, TBILL, USD, adversary } from "../helpers/adversary.js";
import { HUGE, NOTICE, WINDOW, counterparty } from "../helpers/counterparty.js";
import { refusalSteps } from "../helpers/refusal.js";
import { vaultSteps } from "../helpers/vault.js";

describe("CollateralVault.deliverNoticeOfExclusiveControl", function () {
  let sys: System;
  const system = useSystem();
  beforeEach(function () {
    sys = system();
  });

  const { postedVault, pledged } = vaultSteps(() => sys);

  it("locks the pledgor out once the notice is delivered, and bounds what the secured party takes", async function () {
    const vault = await postedVault({ withAgent: true });
    await pledged(vault);
    await vault.connect(sys.securedParty).setExposure(100_000n * WAD);
    // The mark becomes enforceable (part of an amount due) once its dispute window has passed.
    await sys.pastDisputeWindow();
    const tbill = await sys.tbill.getAddress();
    const notice = ethersLib.id("notice-of-exclusive-control.pdf");

    await expect(
      vault.connect(sys.securedParty).deliverNoticeOfExclusiveControl(notice),
    ).to.be.revertedWithCustomError(vault, "NoDefault");
    await expect(vault.connect(sys.controlAgent).declareDefault())
      .to.emit(vault, "DefaultDeclared")
      .withArgs(sys.controlAgent.address, 2);
    await expect(vault.connect(sys.securedParty).deliverNoticeOfExclusiveControl(notice))
      .to.emit(vault, "NoticeOfExclusiveControlDelivered")
      .withArgs(sys.securedParty.address, notice);
    expect(await vault.noticeHash()).to.equal(notice);
    expect(await vault.state()).to.equal(VaultState.ExclusiveControl);

    await expect(vault.connect(sys.pledgor).withdraw(tbill, 1n, sys.pledgor.address))
      .to.be.revertedWithCustomError(vault, "InvalidState")
      .withArgs(VaultState.ExclusiveControl);
    await expect(
      vault.connect(sys.pledgor).instructTransfer(tbill, 1n, sys.pledgor.address),
    ).to.be.revertedWithCustomError(vault, "Unauthorized");

    // Due: 100,000 plus 5% penalty = 105,000 at $1.
    await vault
      .connect(sys.securedParty)
      .instructTransfer(tbill, 100_000n * 10n ** 6n, sys.securedParty.address);
    await expect(
      vault
        .connect(sys.controlAgent)
        .instructTransfer(tbill, 5_000n * 10n ** 6n + 1n, sys.securedParty.address),
    )
      .to.be.revertedWithCustomError(vault, "AppropriationExceedsAmountDue")
      .withArgs(105_000n * WAD + 10n ** 12n, 105_000n * WAD);
    await vault
      .connect(sys.controlAgent)
      .instructTransfer(tbill, 5_000n * 10n ** 6n, sys.securedParty.address);
    expect(await sys.tbill.balanceOf(sys.securedParty.address)).to.equal(105_000n * 10n ** 6n);

    await expect(vault.connect(sys.securedParty).release())
      .to.emit(vault, "CollateralReturned")
      .withArgs(tbill, sys.pledgor.address, 895_000n * 10n ** 6n);
    expect(await sys.tbill.balanceOf(sys.pledgor.address)).to.equal(895_000n * 10n ** 6n);
    expect(await vault.state()).to.equal(VaultState.Released);
  });

  describe("refuses", function () {
    const { pledge } = adversary(() => sys);
    const { postedVault, ledger } = refusalSteps(() => sys);
    const {
      advance,
      advanceTo,
      oneBlock,
      pledged,
      call,
      disputed,
      staleDefault,
      tbillAddress,
      stableAddress,
    } = counterparty(() => sys);

    afterEach(async function () {
      // A failed test must not leave the chain without automine (the snapshot restore does not reset it).
      await sys.ethers.provider.send("evm_setAutomine", [true]);
    });

    it("deliverNoticeOfExclusiveControl refuses an Open vault and a second notice (InvalidState) and a zero document hash (EmptyNotice)", async function () {
      const vault = await postedVault();
      const notice = ethersLib.id("NEC");
      await expect(vault.connect(sys.securedParty).deliverNoticeOfExclusiveControl(notice))
        .to.be.revertedWithCustomError(vault, "InvalidState")
        .withArgs(VaultState.Open);

      await pledge(vault);
      await vault.connect(sys.securedParty).setExposure(USD(100_000n));
      await vault.connect(sys.pledgor).declareDefault();
      const before = await ledger(vault, [sys.tbill]);
      for (const sender of [sys.securedParty, sys.controlAgent]) {
        await expect(
          vault.connect(sender).deliverNoticeOfExclusiveControl(ethersLib.ZeroHash),
        ).to.be.revertedWithCustomError(vault, "EmptyNotice");
      }
      expect(await ledger(vault, [sys.tbill])).to.deep.equal(before);
      expect(await vault.state()).to.equal(VaultState.Pledged);

      await vault.connect(sys.securedParty).deliverNoticeOfExclusiveControl(notice);
      const delivered = await ledger(vault, [sys.tbill]);
      await expect(
        vault.connect(sys.controlAgent).deliverNoticeOfExclusiveControl(ethersLib.id("second")),
      )
        .to.be.revertedWithCustomError(vault, "InvalidState")
        .withArgs(VaultState.ExclusiveControl);
      expect(await ledger(vault, [sys.tbill])).to.deep.equal(delivered);
      expect(await vault.noticeHash()).to.equal(notice);
    });

    for (const by of ["pledgor", "control agent"] as const) {
      it(`attack 1, unbounded amount due: after the ${by}'s declareDefault, setExposure(huge) and the notice in one block make due only the enforceable 500,000 + 5% (rule: a mark is enforceable only once its dispute window has passed)`, async function () {
        const withAgent = by === "control agent";
        const vault = await pledged({ withAgent });
        const declarer = withAgent ? sys.controlAgent : sys.pledgor;
        await expect(vault.connect(declarer).declareDefault())
          .to.emit(vault, "DefaultDeclared")
          .withArgs(declarer.address, withAgent ? 2 : 1);

        const sp = vault.connect(sys.securedParty);
        const { outcomes } = await oneBlock([
          (o) => sp.setExposure(HUGE, o),
          (o) => sp.deliverNoticeOfExclusiveControl(NOTICE, o),
        ]);
        expect(outcomes).to.deep.equal([["ok"], ["ok"]]);
        expect(await vault.state()).to.equal(VaultState.ExclusiveControl);
        expect(await vault.appropriation()).to.deep.equal([USD(525_000n), 0n]);

        // Nothing beyond the amount due is taken, at oracle value (the T-bill is at $1).
        const tbill = await tbillAddress();
        await expect(sp.instructTransfer(tbill, TBILL(525_001n), sys.securedParty.address))
          .to.be.revertedWithCustomError(vault, "AppropriationExceedsAmountDue")
          .withArgs(USD(525_001n), USD(525_000n));
        await sp.instructTransfer(tbill, TBILL(525_000n), sys.securedParty.address);
        expect(await vault.appropriation()).to.deep.equal([USD(525_000n), USD(525_000n)]);
        expect(await sys.tbill.balanceOf(sys.securedParty.address)).to.equal(TBILL(525_000n));
        if (withAgent) {
          // The control agent acting on the notice is bound by the same figure: one raw unit more is refused.
          await expect(
            vault.connect(sys.controlAgent).instructTransfer(tbill, 1n, sys.controlAgent.address),
          )
            .to.be.revertedWithCustomError(vault, "AppropriationExceedsAmountDue")
            .withArgs(USD(525_000n) + 10n ** 12n, USD(525_000n));
        }
      });
    }

    it("attack 1, unbounded amount due: after a keeper's default on a call unmet past its deadline, setExposure(huge) and the notice in one block make due only the enforceable 1,200,000 + 5% (rule: a mark is enforceable only once its dispute window has passed)", async function () {
      const vault = await pledged({ exposure: USD(1_200_000n) });
      const deadline = await call(vault); // 1,200,000 - 1,078,000 = 122,000
      await advanceTo(deadline + 1n);
      await expect(vault.connect(sys.outsider).declareDefault())
        .to.emit(vault, "DefaultDeclared")
        .withArgs(sys.outsider.address, 3);
      const sp = vault.connect(sys.securedParty);
      const { outcomes } = await oneBlock([
        (o) => sp.setExposure(HUGE, o),
        (o) => sp.deliverNoticeOfExclusiveControl(NOTICE, o),
      ]);
      expect(outcomes).to.deep.equal([["ok"], ["ok"]]);
      expect(await vault.appropriation()).to.deep.equal([USD(1_260_000n), 0n]);
    });

    it("attack 1, unbounded amount due: a mark is enforceable once its dispute window has passed, not in the window's last second (rule: enforceable once the pledgor could dispute it)", async function () {
      // Two agreements marked 600,000 in the same block; notices one second apart around the window's end.
      const a = await pledged();
      const b = await pledged();
      for (const v of [a, b]) await v.connect(sys.pledgor).declareDefault();
      const { timestamp: markedAt } = await oneBlock([
        (o) => a.connect(sys.securedParty).setExposure(USD(600_000n), o),
        (o) => b.connect(sys.securedParty).setExposure(USD(600_000n), o),
      ]);
      expect(await a.enforceableExposure()).to.equal(USD(500_000n));
      await advanceTo(markedAt + WINDOW - 20n);
      const atEnd = await oneBlock(
        [(o) => a.connect(sys.securedParty).deliverNoticeOfExclusiveControl(NOTICE, o)],
        markedAt + WINDOW,
      );
      expect(atEnd.outcomes).to.deep.equal([["ok"]]);
      const after = await oneBlock(
        [(o) => b.connect(sys.securedParty).deliverNoticeOfExclusiveControl(NOTICE, o)],
        markedAt + WINDOW + 1n,
      );
      expect(after.outcomes).to.deep.equal([["ok"]]);
      expect(await a.appropriation()).to.deep.equal([USD(525_000n), 0n]);
      expect(await b.appropriation()).to.deep.equal([USD(630_000n), 0n]);
    });

    it("attack 2, disputed figure enforced: with a dispute open, the pledgor's default, then setExposure(huge) and the notice in one block make due the pledgor's 600,000 + 5% (rule: the pledgor's figure is enforceable while a dispute is open)", async function () {
      const vault = await disputed();
      await vault.connect(sys.pledgor).declareDefault();
      // Even once the disputed mark's window has passed, the dispute keeps the pledgor's figure.
      await advance(WINDOW + 1n);
      expect(await vault.enforceableExposure()).to.equal(USD(600_000n));
      const sp = vault.connect(sys.securedParty);
      const { outcomes } = await oneBlock([
        (o) => sp.setExposure(HUGE, o),
        (o) => sp.deliverNoticeOfExclusiveControl(NOTICE, o),
      ]);
      expect(outcomes).to.deep.equal([["ok"], ["ok"]]);
      expect(await vault.appropriation()).to.deep.equal([USD(630_000n), 0n]);
      const [exposure, undisputed, isDisputed] = await vault.marginState();
      expect([exposure, undisputed, isDisputed]).to.deep.equal([HUGE, USD(600_000n), true]);
      await expect(
        sp.instructTransfer(await tbillAddress(), TBILL(630_001n), sys.securedParty.address),
      )
        .to.be.revertedWithCustomError(vault, "AppropriationExceedsAmountDue")
        .withArgs(USD(630_001n), USD(630_000n));
      // The pledgor cannot open a dispute after the notice to cut the amount due either.
      await expect(vault.connect(sys.pledgor).disputeExposure(USD(1n)))
        .to.be.revertedWithCustomError(vault, "InvalidState")
        .withArgs(VaultState.ExclusiveControl);
    });

    it("attack 2, disputed figure enforced: a margin call on the pledgor's figure unmet past its deadline, then a huge mark and the notice in one block: due is 1,100,000 + 5%, not the mark (rule: the pledgor's figure is enforceable while a dispute is open)", async function () {
      const vault = await pledged({ exposure: USD(1_000_000n) });
      await vault.connect(sys.securedParty).setExposure(USD(2_000_000n));
      await vault.connect(sys.pledgor).disputeExposure(USD(1_100_000n));
      expect(await vault.callableRequirement()).to.equal(USD(1_100_000n));
      const deadline = await call(vault); // 1,100,000 - 1,078,000 = 22,000
      expect((await vault.marginCall())[0]).to.equal(USD(22_000n));
      await advanceTo(deadline + 1n);
      await expect(vault.connect(sys.outsider).declareDefault())
        .to.emit(vault, "DefaultDeclared")
        .withArgs(sys.outsider.address, 3);
      const sp = vault.connect(sys.securedParty);
      const { outcomes } = await oneBlock([
        (o) => sp.setExposure(USD(5_000_000n), o),
        (o) => sp.deliverNoticeOfExclusiveControl(NOTICE, o),
      ]);
      expect(outcomes).to.deep.equal([["ok"], ["ok"]]);
      expect(await vault.appropriation()).to.deep.equal([USD(1_155_000n), 0n]);
    });

    it("attack 5, stale default: the pledgor's late cure and the secured party's notice in one block, cure first: the notice is NoDefault (rule: the notice needs a continuing default)", async function () {
      const vault = await staleDefault(false);
      await sys.fund(sys.stable, sys.pledgor, vault, STABLE(122_000n));
      const stable = await stableAddress();
      const { outcomes } = await oneBlock([
        (o) => vault.connect(sys.pledgor).deposit(stable, STABLE(122_000n), o),
        (o) => vault.connect(sys.securedParty).deliverNoticeOfExclusiveControl(NOTICE, o),
      ]);
      expect(outcomes).to.deep.equal([["ok"], ["NoDefault"]]);
      expect(await vault.state()).to.equal(VaultState.Pledged);
    });
  });
});
