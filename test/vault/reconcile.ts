// CollateralLedger.reconcile: anyone writes an agreement down to what it holds (a rebasing token); only the
// pledgor credits a surplus, and only of an eligible asset.
import { anyValue } from "@nomicfoundation/hardhat-ethers-chai-matchers/withArgs";
import { expect } from "chai";

import { WAD, useSystem, type System } from "../fixtures.js";
import { E18, USD, adversary } from "../helpers/adversary.js";
import { hostileTokens } from "../helpers/hostile.js";
import type { MockERC20 } from "../../types/ethers-contracts/index.js";

describe("CollateralLedger.reconcile", function () {
  let sys: System;
  const system = useSystem();
  beforeEach(function () {
    sys = system();
  });

  const { deploy, agreementListing, pledge, mintAndApprove } = adversary(() => sys);
  const { twoRebasingAgreements } = hostileTokens(() => sys);

  it("rebase down: anyone's reconcile writes the agreement down to what it holds, so it is never valued on tokens it lost", async function () {
    const { reb, asset, a, b } = await twoRebasingAgreements();
    const aAddress = await a.getAddress();
    await pledge(a);
    await reb.rebase(WAD / 2n);
    // Until reconciled the vault accounts (and values) 1,000 while it holds 500.
    expect(await a.collateralValue()).to.equal(USD(1_000n));
    await expect(a.connect(sys.outsider).reconcile(asset))
      .to.emit(a, "Reconciled")
      .withArgs(asset, E18(1_000n), E18(500n));
    expect(await a.balanceOf(asset)).to.equal(E18(500n));
    expect(await reb.balanceOf(aAddress)).to.equal(E18(500n));
    expect(await a.collateralValue()).to.equal(USD(500n));
    const status = await sys.lens.status(aAddress);
    expect(status.positions.find((p) => p.asset === asset)?.balance).to.equal(E18(500n));
    // The other agreement is reconciled on its own call only; its shares never moved.
    expect(await b.balanceOf(asset)).to.equal(E18(1_000n));
    // Written down, the whole holding returns on release.
    await expect(a.connect(sys.securedParty).release())
      .to.emit(a, "CollateralReturned")
      .withArgs(asset, sys.pledgor.address, E18(500n));
    expect(await reb.balanceOf(aAddress)).to.equal(0n);
  });

  it("rebase down under a margin-callable exposure: the write-down makes the shortfall callable at once", async function () {
    const { reb, asset, a } = await twoRebasingAgreements();
    await pledge(a);
    await a.connect(sys.securedParty).setExposure(USD(800n));
    await reb.rebase(WAD / 2n);
    await expect(a.issueMarginCall())
      .to.be.revertedWithCustomError(a, "NoMarginCallDue")
      .withArgs(USD(1_000n), USD(800n), 0n);
    await a.connect(sys.outsider).reconcile(asset);
    await expect(a.connect(sys.outsider).issueMarginCall())
      .to.emit(a, "MarginCallIssued")
      .withArgs(sys.outsider.address, USD(300n), USD(300n), anyValue, USD(500n), USD(800n));
  });

  it("rebase up: the surplus is credited only when the pledgor reconciles; an outsider's reconcile is refused", async function () {
    const { reb, asset, a, b } = await twoRebasingAgreements();
    const aAddress = await a.getAddress();
    await pledge(a);
    await reb.rebase(2n * WAD);
    expect(await reb.balanceOf(aAddress)).to.equal(E18(2_000n));
    expect(await a.balanceOf(asset)).to.equal(E18(1_000n));
    expect(await a.collateralValue()).to.equal(USD(1_000n));
    // Before it is credited, the pledgor cannot take more than it accounts.
    await expect(a.connect(sys.pledgor).withdraw(asset, E18(1_001n), sys.pledgor.address))
      .to.be.revertedWithCustomError(a, "InsufficientCollateral")
      .withArgs(asset, E18(1_000n), E18(1_001n));
    for (const caller of [sys.outsider, sys.securedParty]) {
      await expect(a.connect(caller).reconcile(asset))
        .to.be.revertedWithCustomError(a, "Unauthorized")
        .withArgs(caller.address, sys.pledgor.address);
    }
    await expect(a.connect(sys.pledgor).reconcile(asset))
      .to.emit(a, "Reconciled")
      .withArgs(asset, E18(1_000n), E18(2_000n));
    expect(await a.collateralValue()).to.equal(USD(2_000n));
    // A deposit is credited exactly what arrived.
    await mintAndApprove(reb, sys.pledgor, a, E18(100n));
    await expect(a.connect(sys.pledgor).deposit(asset, E18(100n)))
      .to.emit(a, "Deposited")
      .withArgs(asset, sys.pledgor.address, E18(100n), E18(2_100n));
    await expect(a.connect(sys.securedParty).release())
      .to.emit(a, "CollateralReturned")
      .withArgs(asset, sys.pledgor.address, E18(2_100n));
    expect(await a.balanceOf(asset)).to.equal(0n);
    expect(await reb.balanceOf(aAddress)).to.equal(0n);
    expect(await b.balanceOf(asset)).to.equal(E18(1_000n));
  });

  describe("refuses", function () {
    it("a surplus of an asset that is not eligible is never credited: IneligibleAsset", async function () {
      const stray = await deploy<MockERC20>("MockERC20", ["Stray", "STR", 18]);
      const a = await agreementListing(sys.stable);
      await stray.mint(await a.getAddress(), E18(5n));
      await expect(a.connect(sys.pledgor).reconcile(await stray.getAddress()))
        .to.be.revertedWithCustomError(a, "IneligibleAsset")
        .withArgs(await stray.getAddress());
      expect(await a.balanceOf(await stray.getAddress())).to.equal(0n);
    });
  });
});
