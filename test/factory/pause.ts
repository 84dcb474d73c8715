// AgreementFactory.pause and unpause: the guardian's alone; a pause stops new risk and never traps collateral.
import { expect } from "chai";
import { ethers as ethersLib } from "ethers";

import { ONE_DAY, defaultTerms, useSystem, type System } from "../fixtures.js";
import { RISK_MANAGER, counterparty } from "../helpers/counterparty.js";
import { vaultSteps } from "../helpers/vault.js";

describe("AgreementFactory.pause", function () {
  let sys: System;
  const system = useSystem();
  beforeEach(function () {
    sys = system();
  });

  const { postedVault, pledged } = vaultSteps(() => sys);

  it("never lets a pause trap a release or a withdrawal of excess", async function () {
    const vault = await postedVault();
    await pledged(vault);
    await sys.factory.connect(sys.guardian).pause();
    await expect(sys.factory.connect(sys.outsider).unpause()).to.be.revertedWithCustomError(
      sys.factory,
      "AccessManagedUnauthorized",
    );
    await expect(sys.openAgreement()).to.be.revertedWithCustomError(sys.factory, "FactoryPaused");
    const fresh = vault; // pledges are new risk; the excess and the release are not
    await fresh
      .connect(sys.pledgor)
      .withdraw(await sys.tbill.getAddress(), 1n, sys.pledgor.address);
    await fresh.connect(sys.securedParty).release();
    expect(await sys.tbill.balanceOf(sys.pledgor.address)).to.equal(1_000_000n * 10n ** 6n);
  });

  describe("refuses", function () {
    const { openWithoutAgent } = counterparty(() => sys);

    it("factory pause/unpause from anyone but the guardian (even the AccessManager admin): AccessManagedUnauthorized", async function () {
      for (const caller of [sys.admin, sys.pledgor, sys.securedParty, sys.outsider]) {
        await expect(sys.factory.connect(caller).pause())
          .to.be.revertedWithCustomError(sys.factory, "AccessManagedUnauthorized")
          .withArgs(caller.address);
      }
      await sys.factory.connect(sys.guardian).pause();
      expect(await sys.factory.paused()).to.equal(true);
      for (const caller of [sys.admin, sys.pledgor, sys.securedParty, sys.outsider]) {
        await expect(sys.factory.connect(caller).unpause())
          .to.be.revertedWithCustomError(sys.factory, "AccessManagedUnauthorized")
          .withArgs(caller.address);
      }
      expect(await sys.factory.paused()).to.equal(true);
    });

    it("attack 11, roles: the admin role (0) carries a 2-day delay, so even the admin cannot grant itself the risk-manager role without delay at once; the guardian pauses and unpauses with no delay; the admin cannot pause (rule: admin 2 days, risk manager 1 day, guardian none)", async function () {
      expect(await sys.manager.hasRole(0n, sys.admin.address)).to.deep.equal([true, 2n * ONE_DAY]);
      expect(await sys.manager.hasRole(RISK_MANAGER, sys.admin.address)).to.deep.equal([
        true,
        ONE_DAY,
      ]);
      expect(await sys.manager.hasRole(1n, sys.guardian.address)).to.deep.equal([true, 0n]);
      expect(await sys.manager.hasRole(RISK_MANAGER, sys.outsider.address)).to.deep.equal([
        false,
        0n,
      ]);
      const factory = await sys.factory.getAddress();
      expect(
        await sys.manager.getTargetFunctionRole(
          factory,
          sys.factory.interface.getFunction("setListingRules").selector,
        ),
      ).to.equal(RISK_MANAGER);

      const grant = sys.manager.interface.encodeFunctionData("grantRole", [
        RISK_MANAGER,
        sys.admin.address,
        0n,
      ]);
      await expect(sys.manager.connect(sys.admin).grantRole(RISK_MANAGER, sys.admin.address, 0n))
        .to.be.revertedWithCustomError(sys.manager, "AccessManagerNotScheduled")
        .withArgs(
          await sys.manager.hashOperation(sys.admin.address, await sys.manager.getAddress(), grant),
        );

      await expect(sys.factory.connect(sys.guardian).pause())
        .to.emit(sys.factory, "Paused")
        .withArgs(sys.guardian.address);
      expect(await sys.factory.paused()).to.equal(true);
      await expect(
        openWithoutAgent(sys.pledgor, defaultTerms, ethersLib.id("p")),
      ).to.be.revertedWithCustomError(sys.factory, "FactoryPaused");
      await expect(sys.factory.connect(sys.admin).unpause())
        .to.be.revertedWithCustomError(sys.factory, "AccessManagedUnauthorized")
        .withArgs(sys.admin.address);
      await sys.factory.connect(sys.guardian).unpause();
      expect(await sys.factory.paused()).to.equal(false);
    });
  });
});
