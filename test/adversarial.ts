// Adversarial suite: hostile tokens, broken oracles, forged authority and griefing, each test named for the
// attack it tries. Every attack must either work correctly or be refused with a clear custom error, and never
// lose or strand another agreement's collateral.
import { anyValue } from "@nomicfoundation/hardhat-ethers-chai-matchers/withArgs";
import { expect } from "chai";
import { ethers as ethersLib } from "ethers";

import {
  AssetKind,
  ONE_DAY,
  VaultState,
  WAD,
  defaultTerms,
  type EligibilityLine,
  type System,
  useSystem,
} from "./fixtures.js";
import { PLEDGE_CONSENT_TYPES, pledgeConsentDomain } from "../sdk/agreements.js";
import { E18, E6, TBILL, USD, adversary, looseTerms } from "./helpers/adversary.js";
import { erc20Leg, signSettlement, type Settlement } from "./helpers/dvp.js";
import type {
  BatchingPledgor,
  BlocklistToken,
  CollateralVault,
  FeeOnTransferToken,
  GasBurnerToken,
  MockERC20,
  MockPriceFeed,
  NonStandardERC20WithDecimals,
  PausableToken,
  RebasingToken,
  ReentrantToken,
} from "../types/ethers-contracts/index.js";


describe("Adversarial", function () {
  let sys: System;
  const system = useSystem();
  beforeEach(function () {
    sys = system();
  });

  const { deploy, agreementListing, pledge, underExclusiveControl, postTbill, mintAndApprove } =
    adversary(() => sys);

  describe("hostile tokens", function () {
    it("fee on transfer: a deposit that arrives short is refused ShortDelivery, another agreement untouched", async function () {
      const fot = await deploy<FeeOnTransferToken>("FeeOnTransferToken", [100n]); // 1% fee
      const asset = await fot.getAddress();
      const vault = await agreementListing(fot);
      const other = await agreementListing(fot);
      await postTbill(other, TBILL(1_000n));
      await mintAndApprove(fot, sys.pledgor, vault, E18(1_000n));
      await expect(vault.connect(sys.pledgor).deposit(asset, E18(1_000n)))
        .to.be.revertedWithCustomError(vault, "ShortDelivery")
        .withArgs(asset, E18(990n), E18(1_000n));
      expect(await vault.balanceOf(asset)).to.equal(0n);
      expect(await fot.balanceOf(await vault.getAddress())).to.equal(0n);
      expect(await fot.balanceOf(sys.pledgor.address)).to.equal(E18(1_000n));
      expect(await other.balanceOf(await sys.tbill.getAddress())).to.equal(TBILL(1_000n));
    });

    describe("rebasing token", function () {
      async function twoRebasingAgreements() {
        const reb = await deploy<RebasingToken>("RebasingToken");
        const a = await agreementListing(reb);
        const b = await agreementListing(reb);
        for (const vault of [a, b]) {
          await mintAndApprove(reb, sys.pledgor, vault, E18(1_000n));
          await vault.connect(sys.pledgor).deposit(await reb.getAddress(), E18(1_000n));
        }
        return { reb, asset: await reb.getAddress(), a, b };
      }

      it("rebase down: withdrawing the accounted amount fails with the token's error; the held part comes out; the other agreement keeps its shares", async function () {
        const { reb, asset, a, b } = await twoRebasingAgreements();
        const aAddress = await a.getAddress();
        const bShares = await reb.sharesOf(await b.getAddress());
        await reb.rebase(WAD / 2n); // every balance halves: A holds 500 and accounts 1,000
        expect(await reb.balanceOf(aAddress)).to.equal(E18(500n));
        expect(await a.balanceOf(asset)).to.equal(E18(1_000n));

        await expect(a.connect(sys.pledgor).withdraw(asset, E18(1_000n), sys.pledgor.address))
          .to.be.revertedWithCustomError(reb, "InsufficientBalance")
          .withArgs(aAddress, E18(500n), E18(1_000n));
        // What is actually held comes out; the rest stays accounted but unbacked, and cannot be taken from B.
        await a.connect(sys.pledgor).withdraw(asset, E18(500n), sys.pledgor.address);
        expect(await reb.balanceOf(sys.pledgor.address)).to.equal(E18(500n));
        await expect(a.connect(sys.pledgor).withdraw(asset, E18(500n), sys.pledgor.address))
          .to.be.revertedWithCustomError(reb, "InsufficientBalance")
          .withArgs(aAddress, 0n, E18(500n));
        expect(await a.balanceOf(asset)).to.equal(E18(500n));
        expect(await reb.sharesOf(await b.getAddress())).to.equal(bShares);
        expect(await b.balanceOf(asset)).to.equal(E18(1_000n));
      });

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

      it("rebase down then release: the other assets return, the short token fails softly and stays withdrawable", async function () {
        const { reb, asset, a, b } = await twoRebasingAgreements();
        const aAddress = await a.getAddress();
        await postTbill(a, TBILL(2_000n));
        await pledge(a);
        await reb.rebase(WAD / 2n);
        const release = a.connect(sys.securedParty).release();
        await expect(release)
          .to.emit(a, "CollateralReturned")
          .withArgs(await sys.tbill.getAddress(), sys.pledgor.address, TBILL(2_000n));
        await expect(release)
          .to.emit(a, "CollateralReturnFailed")
          .withArgs(asset, sys.pledgor.address, E18(1_000n));
        expect(await sys.tbill.balanceOf(sys.pledgor.address)).to.equal(TBILL(2_000n));
        expect(await a.balanceOf(asset)).to.equal(E18(1_000n));
        // Released: once the token rebases back, the pledgor withdraws the whole accounted amount.
        await reb.rebase(WAD);
        expect(await reb.balanceOf(aAddress)).to.equal(E18(1_000n));
        await a.connect(sys.pledgor).withdraw(asset, E18(1_000n), sys.pledgor.address);
        expect(await a.balanceOf(asset)).to.equal(0n);
        expect(await reb.balanceOf(aAddress)).to.equal(0n);
        expect(await reb.balanceOf(sys.pledgor.address)).to.equal(E18(1_000n));
        expect(await b.balanceOf(asset)).to.equal(E18(1_000n));
        expect(await reb.balanceOf(await b.getAddress())).to.equal(E18(1_000n));
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

      it("a surplus of an asset that is not eligible is never credited: IneligibleAsset", async function () {
        const stray = await deploy<MockERC20>("MockERC20", ["Stray", "STR", 18]);
        const a = await agreementListing(sys.stable);
        await stray.mint(await a.getAddress(), E18(5n));
        await expect(a.connect(sys.pledgor).reconcile(await stray.getAddress()))
          .to.be.revertedWithCustomError(a, "IneligibleAsset")
          .withArgs(await stray.getAddress());
        expect(await a.balanceOf(await stray.getAddress())).to.equal(0n);
      });

      it("rebase rounding: a deposit the share rounding shrinks is refused ShortDelivery", async function () {
        const { reb, asset, a } = await twoRebasingAgreements();
        await reb.rebase((3n * WAD) / 2n); // 1 unit is 2/3 of a share: rounds to none
        await mintAndApprove(reb, sys.pledgor, a, 3n);
        await expect(a.connect(sys.pledgor).deposit(asset, 1n))
          .to.be.revertedWithCustomError(a, "ShortDelivery")
          .withArgs(asset, 0n, 1n);
      });
    });

    for (const returnsNothing of [false, true]) {
      const style = returnsNothing ? "returns nothing (USDT-style)" : "returns false (ZRX-style)";
      it(`non-standard token that ${style}: deposit, withdraw, release and appropriation work; a failing pull reverts`, async function () {
        const token = await deploy<NonStandardERC20WithDecimals>("NonStandardERC20WithDecimals", [
          returnsNothing,
        ]);
        const asset = await token.getAddress();
        const vault = await agreementListing(token);
        await token.mint(sys.pledgor.address, E6(1_000n));
        await token.connect(sys.pledgor).approve(await vault.getAddress(), E6(500n));
        // A pull beyond the allowance: false is caught by SafeERC20, a revert bubbles up.
        const overdrawn = vault.connect(sys.pledgor).deposit(asset, E6(600n));
        if (returnsNothing)
          await expect(overdrawn).to.be.revertedWithCustomError(token, "ShortTransfer");
        else
          await expect(overdrawn)
            .to.be.revertedWithCustomError(vault, "SafeERC20FailedOperation")
            .withArgs(asset);
        await vault.connect(sys.pledgor).deposit(asset, E6(500n));
        expect(await vault.balanceOf(asset)).to.equal(E6(500n));
        await vault.connect(sys.pledgor).withdraw(asset, E6(100n), sys.pledgor.address);
        expect(await token.balanceOf(sys.pledgor.address)).to.equal(E6(600n));
        await underExclusiveControl(vault, USD(1_000n));
        await vault
          .connect(sys.securedParty)
          .instructTransfer(asset, E6(100n), sys.securedParty.address);
        expect(await token.balanceOf(sys.securedParty.address)).to.equal(E6(100n));
        await expect(vault.connect(sys.securedParty).release())
          .to.emit(vault, "CollateralReturned")
          .withArgs(asset, sys.pledgor.address, E6(300n));
        expect(await token.balanceOf(sys.pledgor.address)).to.equal(E6(900n));
        expect(await token.balanceOf(await vault.getAddress())).to.equal(0n);
      });
    }

    it("a token without decimals() cannot be listed: MetadataUnreadable(token, decimals())", async function () {
      const token = await deploy<{ getAddress(): Promise<string> }>("NonStandardERC20", [false]);
      const schedule = [...sys.schedule, await sys.line(token, sys.stableFeed, 0n)];
      await expect(sys.openAgreement({ schedule }))
        .to.be.revertedWithCustomError(sys.factory, "MetadataUnreadable")
        .withArgs(await token.getAddress(), ethersLib.id("decimals()").slice(0, 10));
    });

    it("a plain token listed as an ERC-4626 share (no asset()): MetadataUnreadable(token, asset())", async function () {
      const schedule = [
        ...sys.schedule,
        { ...(await sys.line(sys.stable, sys.stableFeed, 0n)), kind: AssetKind.ERC4626 },
      ];
      await expect(sys.openAgreement({ schedule }))
        .to.be.revertedWithCustomError(sys.factory, "MetadataUnreadable")
        .withArgs(await sys.stable.getAddress(), ethersLib.id("asset()").slice(0, 10));
    });

    describe("re-entrant token", function () {
      const REENTRY = "ReentrancyGuardReentrantCall";

      async function reentrantAgreement() {
        const ree = await deploy<ReentrantToken>("ReentrantToken");
        const asset = await ree.getAddress();
        const vault = await agreementListing(ree);
        const other = await agreementListing(ree);
        for (const v of [vault, other]) {
          await mintAndApprove(ree, sys.pledgor, v, E18(1_000n));
          await v.connect(sys.pledgor).deposit(asset, E18(1_000n));
        }
        // The token can pay for a nested deposit itself, so only the guard stands in the way.
        await ree.mint(asset, E18(10n));
        await ree.approveFromSelf(await vault.getAddress(), E18(10n));
        return { ree, asset, vault, other, vaultAddress: await vault.getAddress() };
      }

      const nestedCalls = (vault: CollateralVault, asset: string, to: string) => ({
        deposit: vault.interface.encodeFunctionData("deposit", [asset, E18(10n)]),
        withdraw: vault.interface.encodeFunctionData("withdraw", [asset, E18(1n), to]),
        release: vault.interface.encodeFunctionData("release"),
        issueMarginCall: vault.interface.encodeFunctionData("issueMarginCall"),
      });

      for (const outer of ["deposit", "withdraw"] as const) {
        for (const inner of ["deposit", "withdraw", "release", "issueMarginCall"] as const) {
          it(`re-enters ${inner} from inside ${outer}'s transfer: refused ${REENTRY}, nothing moves`, async function () {
            const { ree, asset, vault, other, vaultAddress } = await reentrantAgreement();
            await ree.arm(vaultAddress, nestedCalls(vault, asset, asset)[inner], true);
            const call =
              outer === "deposit"
                ? (await mintAndApprove(ree, sys.pledgor, vault, E18(5n)),
                  vault.connect(sys.pledgor).deposit(asset, E18(5n)))
                : vault.connect(sys.pledgor).withdraw(asset, E18(5n), sys.pledgor.address);
            await expect(call).to.be.revertedWithCustomError(vault, REENTRY);
            expect(await vault.balanceOf(asset)).to.equal(E18(1_000n));
            expect(await ree.balanceOf(vaultAddress)).to.equal(E18(1_000n));
            expect(await other.balanceOf(asset)).to.equal(E18(1_000n));
            expect(await ree.balanceOf(await other.getAddress())).to.equal(E18(1_000n));
          });
        }
      }

      it("a swallowed reentry during withdraw is refused, and the outer withdrawal settles consistently", async function () {
        const { ree, asset, vault, vaultAddress } = await reentrantAgreement();
        await ree.arm(vaultAddress, nestedCalls(vault, asset, asset).deposit, false);
        await vault.connect(sys.pledgor).withdraw(asset, E18(100n), sys.pledgor.address);
        expect(await ree.reentered()).to.equal(false);
        expect(await ree.lastRevert()).to.equal(vault.interface.getError(REENTRY)!.selector);
        expect(await vault.balanceOf(asset)).to.equal(E18(900n));
        expect(await ree.balanceOf(vaultAddress)).to.equal(E18(900n));
        expect(await ree.balanceOf(asset)).to.equal(E18(10n));
      });

      it("a reentry during release fails that token's return softly; the rest is returned and it stays withdrawable", async function () {
        const { ree, asset, vault, vaultAddress } = await reentrantAgreement();
        await postTbill(vault, TBILL(1_000n));
        await pledge(vault);
        await ree.arm(vaultAddress, nestedCalls(vault, asset, asset).withdraw, true);
        const release = vault.connect(sys.securedParty).release();
        await expect(release)
          .to.emit(vault, "CollateralReturnFailed")
          .withArgs(asset, sys.pledgor.address, E18(1_000n));
        await expect(release)
          .to.emit(vault, "CollateralReturned")
          .withArgs(await sys.tbill.getAddress(), sys.pledgor.address, TBILL(1_000n));
        expect(await vault.balanceOf(asset)).to.equal(E18(1_000n));
        expect(await ree.balanceOf(vaultAddress)).to.equal(E18(1_000n));
        // The hook stays armed (its disarming was rolled back with the failed transfer): still refused.
        await expect(
          vault.connect(sys.pledgor).withdraw(asset, E18(1_000n), sys.pledgor.address),
        ).to.be.revertedWithCustomError(vault, REENTRY);
        await ree.disarm();
        await vault.connect(sys.pledgor).withdraw(asset, E18(1_000n), sys.pledgor.address);
        expect(await ree.balanceOf(sys.pledgor.address)).to.equal(E18(1_000n));
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
    });

    describe("blocklisting and pausable tokens", function () {
      async function mixedAgreement<T extends BlocklistToken | PausableToken>(token: T) {
        const asset = await token.getAddress();
        const vault = await agreementListing(token);
        const other = await agreementListing(token);
        for (const v of [vault, other]) {
          await mintAndApprove(token, sys.pledgor, v, E6(1_000n));
          await v.connect(sys.pledgor).deposit(asset, E6(1_000n));
        }
        await postTbill(vault, TBILL(2_000n));
        await sys.fund(sys.stable, sys.pledgor, vault, E18(3_000n));
        await vault.connect(sys.pledgor).deposit(await sys.stable.getAddress(), E18(3_000n));
        await pledge(vault);
        return { asset, vault, other };
      }

      async function expectOthersReturned(vault: CollateralVault, release: Promise<unknown>) {
        await expect(release)
          .to.emit(vault, "CollateralReturned")
          .withArgs(await sys.tbill.getAddress(), sys.pledgor.address, TBILL(2_000n));
        await expect(release)
          .to.emit(vault, "CollateralReturned")
          .withArgs(await sys.stable.getAddress(), sys.pledgor.address, E18(3_000n));
        expect(await sys.tbill.balanceOf(sys.pledgor.address)).to.equal(TBILL(2_000n));
        expect(await sys.stable.balanceOf(sys.pledgor.address)).to.equal(E18(3_000n));
        expect(await vault.state()).to.equal(VaultState.Released);
      }

      it("blocklisted pledgor: release returns every other asset, the blocked one fails softly and is withdrawn after unblocking", async function () {
        const busd = await deploy<BlocklistToken>("BlocklistToken");
        const { asset, vault, other } = await mixedAgreement(busd);
        await busd.setBlocked(sys.pledgor.address, true);
        const release = vault.connect(sys.securedParty).release();
        await expectOthersReturned(vault, release);
        await expect(release)
          .to.emit(vault, "CollateralReturnFailed")
          .withArgs(asset, sys.pledgor.address, E6(1_000n));
        expect(await vault.balanceOf(asset)).to.equal(E6(1_000n));
        await expect(vault.connect(sys.pledgor).withdraw(asset, E6(1_000n), sys.pledgor.address))
          .to.be.revertedWithCustomError(busd, "Blocked")
          .withArgs(sys.pledgor.address);
        await busd.setBlocked(sys.pledgor.address, false);
        await expect(vault.connect(sys.pledgor).withdraw(asset, E6(1_000n), sys.pledgor.address))
          .to.emit(vault, "Withdrawn")
          .withArgs(asset, sys.pledgor.address, E6(1_000n), 0n);
        expect(await busd.balanceOf(sys.pledgor.address)).to.equal(E6(1_000n));
        expect(await other.balanceOf(asset)).to.equal(E6(1_000n));
        expect(await busd.balanceOf(await other.getAddress())).to.equal(E6(1_000n));
      });

      it("blocklisted vault: deposits are refused with the token's error, the other agreement untouched", async function () {
        const busd = await deploy<BlocklistToken>("BlocklistToken");
        const { asset, vault, other } = await mixedAgreement(busd);
        const vaultAddress = await vault.getAddress();
        await busd.setBlocked(vaultAddress, true);
        await mintAndApprove(busd, sys.pledgor, vault, E6(1n));
        await expect(vault.connect(sys.pledgor).deposit(asset, E6(1n)))
          .to.be.revertedWithCustomError(busd, "Blocked")
          .withArgs(vaultAddress);
        await expect(vault.connect(sys.securedParty).release())
          .to.emit(vault, "CollateralReturnFailed")
          .withArgs(asset, sys.pledgor.address, E6(1_000n));
        expect(await other.balanceOf(asset)).to.equal(E6(1_000n));
        await other.connect(sys.pledgor).withdraw(asset, E6(1_000n), sys.pledgor.address);
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

      it("paused token: release returns every other asset; the paused one is withdrawn after unpausing", async function () {
        const pau = await deploy<PausableToken>("PausableToken");
        const { asset, vault, other } = await mixedAgreement(pau);
        await pau.setPaused(true);
        const release = vault.connect(sys.securedParty).release();
        await expectOthersReturned(vault, release);
        await expect(release)
          .to.emit(vault, "CollateralReturnFailed")
          .withArgs(asset, sys.pledgor.address, E6(1_000n));
        await expect(
          vault.connect(sys.pledgor).withdraw(asset, E6(1_000n), sys.pledgor.address),
        ).to.be.revertedWithCustomError(pau, "TokenPaused");
        await pau.setPaused(false);
        await vault.connect(sys.pledgor).withdraw(asset, E6(1_000n), sys.pledgor.address);
        expect(await pau.balanceOf(sys.pledgor.address)).to.equal(E6(1_000n));
        expect(await vault.balanceOf(asset)).to.equal(0n);
        expect(await other.balanceOf(asset)).to.equal(E6(1_000n));
      });
    });

    describe("decimals", function () {
      // 1,234.56 tokens (1,234 when the token has no decimals) at $2.50 on an 8-decimal feed; one raw unit's value.
      const cases: { decimals: bigint; value: bigint; dust: bigint }[] = [
        { decimals: 0n, value: USD(3_085n), dust: 25n * 10n ** 17n },
        { decimals: 2n, value: 30_864n * 10n ** 17n, dust: 25n * 10n ** 15n },
        { decimals: 6n, value: 30_864n * 10n ** 17n, dust: 25n * 10n ** 11n },
        { decimals: 8n, value: 30_864n * 10n ** 17n, dust: 25n * 10n ** 9n },
        { decimals: 18n, value: 30_864n * 10n ** 17n, dust: 2n },
        { decimals: 24n, value: 30_864n * 10n ** 17n, dust: 0n },
      ];
      for (const { decimals, value, dust } of cases) {
        it(`a ${decimals}-decimal token: posted, valued at exactly amount x price, and withdrawn while pledged`, async function () {
          const token = await deploy<MockERC20>("MockERC20", ["D", "D", decimals]);
          const feed = await deploy<MockPriceFeed>("MockPriceFeed", [8n, 250_000_000n]);
          const asset = await token.getAddress();
          const vault = await sys.openAgreement({
            schedule: [await sys.line(token, feed, 0n)],
            terms: looseTerms,
          });
          const amount =
            decimals >= 2n ? 123_456n * 10n ** (decimals - 2n) : 1_234n * 10n ** decimals;
          await sys.fund(token, sys.pledgor, vault, amount);
          await vault.connect(sys.pledgor).deposit(asset, amount);
          await pledge(vault);
          expect(await vault.collateralValue()).to.equal(value);
          expect(await vault.valueOfHolding(asset, amount)).to.equal(value);
          expect(await vault.valueOfHolding(asset, 1n)).to.equal(dust);
          const status = await sys.lens.status(await vault.getAddress());
          expect([status.marketValue, status.collateralValue, status.pricesValid]).to.deep.equal([
            value,
            value,
            true,
          ]);
          await vault.connect(sys.pledgor).withdraw(asset, amount, sys.pledgor.address);
          expect(await token.balanceOf(sys.pledgor.address)).to.equal(amount);
          expect(await vault.collateralValue()).to.equal(0n);
        });
      }
    });
  });

  describe("ERC-4626 share price moved by a donation within one transaction", function () {
    /**
     * A contract-wallet pledgor holding 1,000,000 fund shares (an outside investor holds as many) posts them with
     * 100,000 stable; the exposure takes up the whole collateral value, so nothing is in excess. `fundLine` is how
     * the fund share is listed.
     */
    async function pledgorWithFundShares(fundLine: EligibilityLine) {
      const wallet = await deploy<BatchingPledgor>("BatchingPledgor");
      const walletAddress = await wallet.getAddress();
      const mmfAddress = await sys.mmf.getAddress();
      for (const investor of [sys.outsider.address, walletAddress]) {
        await sys.tbill.mint(sys.admin.address, TBILL(1_000_000n));
        await sys.tbill.connect(sys.admin).approve(mmfAddress, TBILL(1_000_000n));
        await sys.mmf.connect(sys.admin).deposit(TBILL(1_000_000n), investor);
      }
      await sys.tbill.mint(walletAddress, TBILL(200_000n)); // the donation to come
      await sys.stable.mint(walletAddress, E18(100_000n));
      const schedule = [sys.schedule[0], sys.schedule[1], fundLine];
      const salt = ethersLib.id("donation");
      const vaultAddress = await sys.factory.predictVault(
        sys.securedParty.address,
        walletAddress,
        sys.securedParty.address,
        ethersLib.ZeroAddress,
        salt,
      );
      await sys.factory
        .connect(sys.securedParty)
        .openAgreement(walletAddress, sys.securedParty.address, ethersLib.ZeroAddress, looseTerms, schedule, salt);
      const vault = (await sys.ethers.getContractAt("CollateralVault", vaultAddress)) as unknown as CollateralVault;
      const stable = await sys.stable.getAddress();
      const shares = await sys.mmf.balanceOf(walletAddress);
      const erc20 = sys.stable.interface;
      await wallet.run(
        [mmfAddress, stable, vaultAddress, vaultAddress, vaultAddress],
        [
          erc20.encodeFunctionData("approve", [vaultAddress, shares]),
          erc20.encodeFunctionData("approve", [vaultAddress, E18(100_000n)]),
          vault.interface.encodeFunctionData("deposit", [mmfAddress, shares]),
          vault.interface.encodeFunctionData("deposit", [stable, E18(100_000n)]),
          vault.interface.encodeFunctionData("consentToPledge", [await vault.termsHash()]),
        ],
      );
      await vault.connect(sys.securedParty).consentToPledge(await vault.termsHash());
      await vault.connect(sys.securedParty).setExposure(await vault.collateralValue());
      /** In one transaction: donate 200,000 T-bills to the fund, then withdraw `amountOut` stable. */
      const donateAndWithdraw = async (amountOut: bigint) =>
        wallet.run(
          [await sys.tbill.getAddress(), vaultAddress],
          [
            erc20.encodeFunctionData("transfer", [mmfAddress, TBILL(200_000n)]),
            vault.interface.encodeFunctionData("withdraw", [stable, amountOut, walletAddress]),
          ],
        );
      return { wallet, vault, shares, donateAndWithdraw };
    }

    it("priced through convertToAssets: the donation is real, irreversible value, so the excess it frees leaves the secured party covered at what the shares redeem for", async function () {
      const { vault, shares, donateAndWithdraw } = await pledgorWithFundShares(sys.schedule[3]);
      expect(await vault.collateralValue()).to.equal(USD(1_050_000n)); // 950,000 after the 5% haircut + 100,000
      // All that the donation frees (95,000) is refused by a hair: the fund's share price rounds down.
      await expect(donateAndWithdraw(E18(95_000n)))
        .to.be.revertedWithCustomError(vault, "WithdrawalBreachesRequirement")
        .withArgs(anyValue, USD(1_050_000n));
      // The fund now holds 2,200,000 for 2,000,000 shares: the posted shares gain 100,000, 95,000 after haircut.
      await donateAndWithdraw(E18(94_999n));
      const redeemable = await sys.mmf.previewRedeem(shares);
      expect(redeemable).to.be.closeTo(TBILL(1_100_000n), 1n);
      // At what the shares redeem for (T-bill at $1, the 5% haircut) plus the stable left, the requirement holds.
      const redeemableValue = (redeemable * 10n ** 12n * 9_500n) / 10_000n + E18(5_001n);
      expect(redeemableValue).to.be.gte(await vault.requirement() - 10n ** 12n);
      expect(await vault.collateralValue()).to.be.gte(await vault.requirement());
      // The pledgor paid 200,000 to free 94,999: the other 100,000 went to the fund's other investor.
      expect(await sys.mmf.previewRedeem(await sys.mmf.balanceOf(sys.outsider.address))).to.be.closeTo(
        TBILL(1_100_000n),
        1n,
      );
    });

    it("a fund share listed with its own share-price feed (kind ERC20) is not moved by a donation: the same withdrawal is refused", async function () {
      const shareFeed = await deploy<MockPriceFeed>("MockPriceFeed", [8n, 1_00000000n]);
      const { vault, donateAndWithdraw } = await pledgorWithFundShares(
        await sys.line(sys.mmf, shareFeed, 500n),
      );
      expect(await vault.collateralValue()).to.equal(USD(1_050_000n));
      await expect(donateAndWithdraw(E18(95_000n)))
        .to.be.revertedWithCustomError(vault, "WithdrawalBreachesRequirement")
        .withArgs(USD(955_000n), USD(1_050_000n));
      expect(await sys.tbill.balanceOf(await sys.mmf.getAddress())).to.equal(TBILL(2_000_000n)); // all undone
    });
  });

  describe("broken oracles", function () {
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
  });

  describe("forged authority", function () {
    type Signer = typeof sys.pledgor;
    type Role = "pledgor" | "securedParty" | "controlAgent" | "outsider";
    const signer = (role: Role): Signer => sys[role];

    /** Three agreements with a control agent: Open, Pledged (exposure disputed), and under exclusive control. */
    async function vaultsInEveryState() {
      const open = await sys.openAgreement({ withAgent: true });
      await postTbill(open, TBILL(1_000n));
      const pledged = await sys.openAgreement({ withAgent: true });
      await postTbill(pledged, TBILL(1_100_000n));
      await pledge(pledged);
      await pledged.connect(sys.securedParty).setExposure(USD(800_000n));
      await pledged.connect(sys.pledgor).disputeExposure(USD(700_000n));
      const control = await sys.openAgreement({ withAgent: true });
      await postTbill(control, TBILL(1_100_000n));
      await underExclusiveControl(control, USD(800_000n));
      return { open, pledged, control };
    }

    type Vaults = Awaited<ReturnType<typeof vaultsInEveryState>>;
    type Case = {
      fn: string;
      vault: keyof Vaults;
      callers: Role[];
      call: (v: CollateralVault, caller: Signer) => Promise<unknown>;
      error: string;
      args: (caller: Signer) => unknown[];
    };
    const tbill = () => sys.tbill.getAddress();
    const stable = () => sys.stable.getAddress();
    const unauthorized = (expected: Role) => (caller: Signer) => [
      caller.address,
      signer(expected).address,
    ];
    const noArgs = () => [];
    const withdraw = async (v: CollateralVault, c: Signer) =>
      v.connect(c).withdraw(await tbill(), TBILL(1n), c.address);
    const instruct = async (v: CollateralVault, c: Signer) =>
      v.connect(c).instructTransfer(await tbill(), TBILL(1n), c.address);
    const substitute = async (v: CollateralVault, c: Signer) =>
      v.connect(c).substitute(await stable(), E18(1n), await tbill(), TBILL(1n), c.address);
    const liquidate = async (v: CollateralVault, c: Signer) =>
      v
        .connect(c)
        .liquidate(
          await tbill(),
          TBILL(1n),
          await stable(),
          E18(1n),
          sys.outsider.address,
          ethersLib.MaxUint256,
          0n,
          "0x",
        );
    const changeEligibility = async (v: CollateralVault, c: Signer) =>
      v.connect(c).changeEligibility(await sys.line(sys.tbill, sys.tbillFeed, 0n));
    const initialize = (v: CollateralVault, c: Signer) =>
      v.connect(c).initialize(defaultTerms, []);
    const notParties: Role[] = ["controlAgent", "outsider"];
    const all: Role[] = ["pledgor", "securedParty", "controlAgent", "outsider"];

    const deposit = async (v: CollateralVault, c: Signer) => v.connect(c).deposit(await tbill(), TBILL(1n));
    /** A surplus the pledgor alone may credit: one T-bill sent straight to the vault first. */
    const reconcileSurplus = async (v: CollateralVault, c: Signer) => {
      await sys.tbill.mint(await v.getAddress(), TBILL(1n));
      return v.connect(c).reconcile(await tbill());
    };

    const cases: Case[] = [
      // Pledged (with an open dispute): the party checks come first.
      {
        fn: "deposit",
        vault: "pledged",
        callers: ["securedParty", ...notParties],
        call: deposit,
        error: "Unauthorized",
        args: unauthorized("pledgor"),
      },
      {
        fn: "reconcile (crediting a surplus)",
        vault: "pledged",
        callers: ["securedParty", ...notParties],
        call: reconcileSurplus,
        error: "Unauthorized",
        args: unauthorized("pledgor"),
      },
      {
        fn: "withdraw",
        vault: "pledged",
        callers: ["securedParty", ...notParties],
        call: withdraw,
        error: "Unauthorized",
        args: unauthorized("pledgor"),
      },
      {
        fn: "setExposure",
        vault: "pledged",
        callers: ["pledgor", ...notParties],
        call: (v, c) => v.connect(c).setExposure(0n),
        error: "Unauthorized",
        args: unauthorized("securedParty"),
      },
      {
        fn: "declareDefault",
        vault: "pledged",
        callers: ["securedParty", "outsider"],
        call: (v, c) => v.connect(c).declareDefault(),
        error: "Unauthorized",
        args: unauthorized("controlAgent"),
      },
      {
        fn: "deliverNoticeOfExclusiveControl",
        vault: "pledged",
        callers: ["pledgor", "outsider"],
        call: (v, c) => v.connect(c).deliverNoticeOfExclusiveControl(ethersLib.id("forged")),
        error: "Unauthorized",
        args: unauthorized("securedParty"),
      },
      {
        fn: "deliverNoticeOfExclusiveControl",
        vault: "pledged",
        callers: ["securedParty", "controlAgent"],
        call: (v, c) => v.connect(c).deliverNoticeOfExclusiveControl(ethersLib.id("early")),
        error: "NoDefault",
        args: noArgs,
      },
      {
        fn: "instructTransfer",
        vault: "pledged",
        callers: ["pledgor", "outsider"],
        call: instruct,
        error: "Unauthorized",
        args: unauthorized("securedParty"),
      },
      {
        fn: "instructTransfer",
        vault: "pledged",
        callers: ["securedParty", "controlAgent"],
        call: instruct,
        error: "InvalidState",
        args: () => [VaultState.Pledged],
      },
      {
        fn: "substitute",
        vault: "pledged",
        callers: ["securedParty", ...notParties],
        call: substitute,
        error: "Unauthorized",
        args: unauthorized("pledgor"),
      },
      {
        fn: "configureTopUp",
        vault: "pledged",
        callers: ["securedParty", ...notParties],
        call: (v, c) => v.connect(c).configureTopUp(c.address, [], []),
        error: "Unauthorized",
        args: unauthorized("pledgor"),
      },
      {
        fn: "disputeExposure",
        vault: "pledged",
        callers: ["securedParty", ...notParties],
        call: (v, c) => v.connect(c).disputeExposure(0n),
        error: "Unauthorized",
        args: unauthorized("pledgor"),
      },
      {
        fn: "resolveDispute (at the pledgor's figure)",
        vault: "pledged",
        callers: ["pledgor", "outsider"],
        call: (v, c) => v.connect(c).resolveDispute(USD(700_000n)),
        error: "InvalidResolution",
        args: (c) => [c.address, USD(700_000n)],
      },
      {
        // The pledgor at or above the mark accepts it: that is a resolution, so it is not in this table.
        fn: "resolveDispute (above the pledgor's figure, or by an outsider)",
        vault: "pledged",
        callers: ["securedParty", "outsider"],
        call: (v, c) => v.connect(c).resolveDispute(USD(900_000n)),
        error: "InvalidResolution",
        args: (c) => [c.address, USD(900_000n)],
      },
      {
        fn: "liquidate",
        vault: "pledged",
        callers: ["pledgor", "outsider"],
        call: liquidate,
        error: "Unauthorized",
        args: unauthorized("securedParty"),
      },
      {
        fn: "liquidate",
        vault: "pledged",
        callers: ["securedParty", "controlAgent"],
        call: liquidate,
        error: "InvalidState",
        args: () => [VaultState.Pledged],
      },
      {
        fn: "release",
        vault: "pledged",
        callers: ["pledgor", ...notParties],
        call: (v, c) => v.connect(c).release(),
        error: "Unauthorized",
        args: unauthorized("securedParty"),
      },
      {
        fn: "changeEligibility",
        vault: "pledged",
        callers: ["pledgor", ...notParties],
        call: changeEligibility,
        error: "Unauthorized",
        args: unauthorized("securedParty"),
      },
      {
        fn: "initialize",
        vault: "pledged",
        callers: all,
        call: initialize,
        error: "InvalidInitialization",
        args: noArgs,
      },
      {
        fn: "consentToPledge",
        vault: "pledged",
        callers: all,
        call: async (v, c) => v.connect(c).consentToPledge(await v.termsHash()),
        error: "InvalidState",
        args: () => [VaultState.Pledged],
      },
      {
        fn: "pledgeWithSignature",
        vault: "pledged",
        callers: all,
        call: (v, c) => v.connect(c).pledgeWithSignature(ethersLib.MaxUint256, "0x"),
        error: "InvalidState",
        args: () => [VaultState.Pledged],
      },
      // Open: pledging is for the two parties only; defaults and release need a pledge.
      {
        fn: "consentToPledge",
        vault: "open",
        callers: notParties,
        call: async (v, c) => v.connect(c).consentToPledge(await v.termsHash()),
        error: "Unauthorized",
        args: unauthorized("pledgor"),
      },
      {
        fn: "pledgeWithSignature",
        vault: "open",
        callers: notParties,
        call: (v, c) => v.connect(c).pledgeWithSignature(ethersLib.MaxUint256, "0x"),
        error: "Unauthorized",
        args: unauthorized("pledgor"),
      },
      {
        fn: "declareDefault",
        vault: "open",
        callers: all,
        call: (v, c) => v.connect(c).declareDefault(),
        error: "InvalidState",
        args: () => [VaultState.Open],
      },
      {
        fn: "release",
        vault: "open",
        callers: ["securedParty"],
        call: (v, c) => v.connect(c).release(),
        error: "InvalidState",
        args: () => [VaultState.Open],
      },
      {
        fn: "withdraw",
        vault: "open",
        callers: ["securedParty", ...notParties],
        call: withdraw,
        error: "Unauthorized",
        args: unauthorized("pledgor"),
      },
      // Exclusive control: the pledgor is locked out, outsiders stay out.
      {
        fn: "withdraw",
        vault: "control",
        callers: ["pledgor"],
        call: withdraw,
        error: "InvalidState",
        args: () => [VaultState.ExclusiveControl],
      },
      {
        fn: "substitute",
        vault: "control",
        callers: ["pledgor"],
        call: substitute,
        error: "InvalidState",
        args: () => [VaultState.ExclusiveControl],
      },
      {
        fn: "instructTransfer",
        vault: "control",
        callers: ["pledgor", "outsider"],
        call: instruct,
        error: "Unauthorized",
        args: unauthorized("securedParty"),
      },
      {
        fn: "liquidate",
        vault: "control",
        callers: ["pledgor", "outsider"],
        call: liquidate,
        error: "Unauthorized",
        args: unauthorized("securedParty"),
      },
      {
        fn: "setExposure",
        vault: "control",
        callers: ["securedParty"],
        call: (v, c) => v.connect(c).setExposure(0n),
        error: "InvalidState",
        args: () => [VaultState.ExclusiveControl],
      },
      {
        fn: "declareDefault",
        vault: "control",
        callers: ["pledgor", "controlAgent"],
        call: (v, c) => v.connect(c).declareDefault(),
        error: "InvalidState",
        args: () => [VaultState.ExclusiveControl],
      },
      {
        // Under exclusive control anyone may release, but only once the amount due is met or the secured party let
        // the appropriation period pass: here 840,000 is still due.
        fn: "release",
        vault: "control",
        callers: ["pledgor", ...notParties],
        call: (v, c) => v.connect(c).release(),
        error: "ReleaseNotYetAllowed",
        args: (c) => [c.address, USD(840_000n), anyValue],
      },
    ];

    for (const c of cases) {
      it(`${c.fn} on a ${c.vault} vault from ${c.callers.join(", ")}: ${c.error}`, async function () {
        const vaults = await vaultsInEveryState();
        const vault = vaults[c.vault];
        const before = await vault.state();
        for (const role of c.callers) {
          const caller = signer(role);
          await expect(c.call(vault, caller), `${c.fn} from ${role}`)
            .to.be.revertedWithCustomError(vault, c.error)
            .withArgs(...c.args(caller));
        }
        expect(await vault.state()).to.equal(before);
        expect(await vault.balanceOf(await tbill())).to.equal(
          c.vault === "open" ? TBILL(1_000n) : TBILL(1_100_000n),
        );
      });
    }

    it("the same table's legitimate callers get past the authority checks (the table can fail)", async function () {
      const { open, pledged, control } = await vaultsInEveryState();
      await open.connect(sys.pledgor).withdraw(await tbill(), TBILL(1n), sys.pledgor.address);
      await pledged.connect(sys.securedParty).resolveDispute(USD(700_000n));
      await pledged.connect(sys.securedParty).setExposure(USD(800_000n));
      await pledged.connect(sys.pledgor).configureTopUp(sys.pledgor.address, [], []);
      await sys.fund(sys.tbill, sys.pledgor, pledged, TBILL(1n));
      await pledged.connect(sys.pledgor).deposit(await tbill(), TBILL(1n));
      await sys.tbill.mint(await pledged.getAddress(), TBILL(1n));
      await expect(pledged.connect(sys.pledgor).reconcile(await tbill()))
        .to.emit(pledged, "Reconciled")
        .withArgs(await tbill(), TBILL(1_100_001n), TBILL(1_100_002n));
      await control
        .connect(sys.controlAgent)
        .instructTransfer(await tbill(), TBILL(1n), sys.securedParty.address);
      await control.connect(sys.securedParty).release();
      expect(await control.state()).to.equal(VaultState.Released);
    });

    it("an agreement without a control agent: the zero agent grants nobody its powers", async function () {
      const vault = await sys.openAgreement();
      await postTbill(vault, TBILL(1_000n));
      await pledge(vault);
      await expect(vault.connect(sys.outsider).declareDefault())
        .to.be.revertedWithCustomError(vault, "Unauthorized")
        .withArgs(sys.outsider.address, ethersLib.ZeroAddress);
      await expect(
        vault.connect(sys.controlAgent).deliverNoticeOfExclusiveControl(ethersLib.id("x")),
      )
        .to.be.revertedWithCustomError(vault, "Unauthorized")
        .withArgs(sys.controlAgent.address, sys.securedParty.address);
    });

    it("initialize on the implementation itself is refused InvalidInitialization", async function () {
      const implementation = (await sys.ethers.getContractAt(
        "CollateralVault",
        await sys.implementation.getAddress(),
      )) as unknown as CollateralVault;
      await expect(initialize(implementation, sys.outsider)).to.be.revertedWithCustomError(
        implementation,
        "InvalidInitialization",
      );
    });

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

    it("a pledge consent signature replayed on another vault between the same parties: InvalidConsentSignature", async function () {
      const vault = await sys.openAgreement({ salt: ethersLib.id("a") });
      const other = await sys.openAgreement({ salt: ethersLib.id("b") });
      // Same parties, same terms and schedule, same factory domain: only the terms hash (which commits to the
      // vault's address) differs.
      const { chainId } = await sys.ethers.provider.getNetwork();
      const deadline = BigInt(await sys.networkHelpers.time.latest()) + ONE_DAY;
      const signature = await sys.securedParty.signTypedData(
        pledgeConsentDomain(chainId, await sys.factory.getAddress()),
          PLEDGE_CONSENT_TYPES,
        { termsHash: await vault.termsHash(), deadline },
      );
      await expect(other.connect(sys.pledgor).pledgeWithSignature(deadline, signature))
        .to.be.revertedWithCustomError(other, "InvalidConsentSignature")
        .withArgs(sys.securedParty.address);
      await vault.connect(sys.pledgor).pledgeWithSignature(deadline, signature);
      expect(await vault.state()).to.equal(VaultState.Pledged);
      expect(await other.state()).to.equal(VaultState.Open);
      // Replayed on the vault it was for, once pledged: refused by the state.
      await expect(vault.connect(sys.pledgor).pledgeWithSignature(deadline, signature))
        .to.be.revertedWithCustomError(vault, "InvalidState")
        .withArgs(VaultState.Pledged);
    });

    it("a buyer's DvP liquidation signature replayed: NonceAlreadyUsed; on another vault: InvalidSigner", async function () {
      const buyer = sys.outsider;
      const vault = await sys.openAgreement({ salt: ethersLib.id("a") });
      const other = await sys.openAgreement({ salt: ethersLib.id("b") });
      for (const v of [vault, other]) {
        await postTbill(v, TBILL(1_100_000n));
        await underExclusiveControl(v, USD(800_000n));
      }
      await sys.fund(sys.stable, buyer, sys.dvp, E18(200_000n));
      const { chainId } = await sys.ethers.provider.getNetwork();
      const deadline = BigInt(await sys.networkHelpers.time.latest()) + 3_600n;
      const settlement: Settlement = {
        legs: [
          erc20Leg(await tbill(), TBILL(100_000n), await vault.getAddress(), buyer.address),
          erc20Leg(await stable(), E18(99_000n), buyer.address, sys.securedParty.address),
        ],
        deadline,
        nonce: 7n,
      };
      const signature = await signSettlement(
        buyer,
        settlement,
        chainId,
        await sys.dvp.getAddress(),
      );
      const tbillAddress = await tbill();
      const stableAddress = await stable();
      const sell = (v: CollateralVault) =>
        v
          .connect(sys.securedParty)
          .liquidate(
            tbillAddress,
            TBILL(100_000n),
            stableAddress,
            E18(99_000n),
            buyer.address,
            deadline,
            7n,
            signature,
          );
      await expect(sell(other))
        .to.be.revertedWithCustomError(sys.dvp, "InvalidSigner")
        .withArgs(buyer.address, (recovered: string) => recovered !== buyer.address);
      await expect(sell(vault)).to.emit(vault, "Liquidated");
      await expect(sell(vault))
        .to.be.revertedWithCustomError(sys.dvp, "NonceAlreadyUsed")
        .withArgs(buyer.address, 7n);
      expect(await vault.balanceOf(tbillAddress)).to.equal(TBILL(1_000_000n));
      expect(await other.balanceOf(tbillAddress)).to.equal(TBILL(1_100_000n));
      expect(await sys.stable.balanceOf(sys.securedParty.address)).to.equal(E18(99_000n));
    });
  });

  describe("griefing", function () {
    /** `count` fresh 18-decimal tokens, each listed at $1 with no haircut on one shared feed. */
    async function manyAssets(count: number) {
      const tokens: MockERC20[] = [];
      const lines: EligibilityLine[] = [];
      for (let i = 0; i < count; i++) {
        const token = await deploy<MockERC20>("MockERC20", [`T${i}`, `T${i}`, 18n]);
        tokens.push(token);
        lines.push(await sys.line(token, sys.stableFeed, 0n));
      }
      return { tokens, lines };
    }

    it("a schedule of MAX_ASSETS + 1 assets: openAgreement refused TooManyAssets(17, 16)", async function () {
      const { lines } = await manyAssets(17);
      const implementation = (await sys.ethers.getContractAt(
        "CollateralVault",
        await sys.implementation.getAddress(),
      )) as unknown as CollateralVault;
      expect(await implementation.MAX_ASSETS()).to.equal(16n);
      await expect(sys.openAgreement({ schedule: lines }))
        .to.be.revertedWithCustomError(implementation, "TooManyAssets")
        .withArgs(17n, 16n);
      expect(await sys.factory.agreementCount()).to.equal(0n);
      // Growing a full schedule by one, or a top-up list beyond the bound, is refused the same way.
      const vault = await sys.openAgreement({ schedule: lines.slice(0, 16) });
      await expect(vault.connect(sys.securedParty).changeEligibility(lines[16]))
        .to.be.revertedWithCustomError(vault, "TooManyAssets")
        .withArgs(17n, 16n);
      const assets = lines.map((l) => l.asset);
      await expect(
        vault.connect(sys.pledgor).configureTopUp(
          sys.pledgor.address,
          assets,
          assets.map(() => 1n),
        ),
      )
        .to.be.revertedWithCustomError(vault, "TooManyAssets")
        .withArgs(17n, 16n);
    });

    it("dust (1 raw unit) of every listed asset: an outsider's deposit is refused Unauthorized, a donation is not accounted, and the pledgor's own dust on 16 assets keeps valuation, withdrawal and release working", async function () {
      const { tokens, lines } = await manyAssets(16);
      const vault = await sys.openAgreement({ schedule: lines, terms: looseTerms });
      const real = await tokens[0].getAddress();
      await sys.fund(tokens[0], sys.pledgor, vault, E18(1_000n));
      await vault.connect(sys.pledgor).deposit(real, E18(1_000n));
      await pledge(vault);
      await vault.connect(sys.securedParty).setExposure(USD(500n));
      await sys.fund(tokens[1], sys.outsider, vault, 1n);
      await expect(vault.connect(sys.outsider).deposit(await tokens[1].getAddress(), 1n))
        .to.be.revertedWithCustomError(vault, "Unauthorized")
        .withArgs(sys.outsider.address, sys.pledgor.address);
      // Sent straight to the vault, the outsider's unit is a donation: held, never accounted or valued.
      await tokens[1].connect(sys.outsider).transfer(await vault.getAddress(), 1n);
      expect(await vault.balanceOf(await tokens[1].getAddress())).to.equal(0n);
      expect(await vault.collateralValue()).to.equal(E18(1_000n));
      for (const token of tokens) {
        await sys.fund(token, sys.pledgor, vault, 1n);
        await vault.connect(sys.pledgor).deposit(await token.getAddress(), 1n);
      }
      const expected = E18(1_000n) + 16n; // each raw unit of an 18-decimal token at $1 is worth 1 wei
      expect(await vault.collateralValue()).to.equal(expected);
      const status = await sys.lens.status(await vault.getAddress());
      expect([status.collateralValue, status.pricesValid, status.positions.length]).to.deep.equal([
        expected,
        true,
        16n,
      ]);
      // Sixteen priced positions keep a withdrawal well inside a block.
      const gas = await vault
        .connect(sys.pledgor)
        .withdraw.estimateGas(real, E18(400n), sys.pledgor.address);
      expect(gas).to.be.lessThan(500_000n);
      await vault.connect(sys.pledgor).withdraw(real, E18(400n), sys.pledgor.address);
      await expect(vault.connect(sys.pledgor).withdraw(real, E18(101n), sys.pledgor.address))
        .to.be.revertedWithCustomError(vault, "WithdrawalBreachesRequirement")
        .withArgs(E18(499n) + 16n, USD(500n));
      await vault.connect(sys.securedParty).release();
      for (const [i, token] of tokens.entries())
        expect(await token.balanceOf(await vault.getAddress())).to.equal(i === 1 ? 1n : 0n); // the donation stays
      expect(await tokens[5].balanceOf(sys.pledgor.address)).to.equal(1n);
    });

    describe("top-up source", function () {
      const terms = { ...defaultTerms, independentAmount: USD(200_000n) };

      /** As in MarginEngine.ts: a $0.92 T-bill price opens a call for 9,000 against 1,000,000. */
      async function calledAgreement(stableHeld: bigint) {
        const vault = await sys.openAgreement({ terms });
        await postTbill(vault, TBILL(1_100_000n));
        await pledge(vault);
        await vault.connect(sys.securedParty).setExposure(USD(800_000n));
        const treasury = sys.admin;
        await sys.stable.mint(treasury.address, stableHeld);
        await sys.stable.connect(treasury).approve(await vault.getAddress(), E18(50_000n));
        await vault
          .connect(sys.pledgor)
          .configureTopUp(
            treasury.address,
            [await sys.stable.getAddress(), await sys.tbill.getAddress()],
            [E18(50_000n), TBILL(50_000n)],
          );
        await sys.tbillFeed.setAnswer(92_000000n);
        return { vault, treasury };
      }

      it("a source holding less than its cap gives all it has, and the next asset covers the rest", async function () {
        const { vault, treasury } = await calledAgreement(E18(5_000n));
        await sys.fund(sys.tbill, treasury, vault, TBILL(50_000n));
        const stable = await sys.stable.getAddress();
        const tbill = await sys.tbill.getAddress();
        const call = vault.issueMarginCall();
        await expect(call)
          .to.emit(vault, "TopUpPulled")
          .withArgs(stable, treasury.address, E18(5_000n), USD(5_000n), E18(45_000n));
        // 4,000 / (0.92 x 0.98) rounded up to the raw unit: 4,436.557232 T-bills.
        await expect(call)
          .to.emit(vault, "TopUpPulled")
          .withArgs(
            tbill,
            treasury.address,
            4_436_557_232n,
            4_000_000_000_371_200_000_000n,
            TBILL(50_000n) - 4_436_557_232n,
          );
        await expect(call)
          .to.emit(vault, "MarginCallMet")
          .withArgs(USD(1_000_760n) + 371_200_000_000n, USD(1_000_000n));
        expect(await vault.state()).to.equal(VaultState.Pledged);
        expect(await sys.stable.balanceOf(treasury.address)).to.equal(0n);
      });

      it("a source whose balance cannot meet the call gives what it has and the call stays open", async function () {
        const { vault, treasury } = await calledAgreement(E18(1_000n));
        // The T-bills are approved but not held: skipped, no revert.
        await sys.tbill.connect(treasury).approve(await vault.getAddress(), TBILL(50_000n));
        const call = vault.issueMarginCall();
        await expect(call)
          .to.emit(vault, "TopUpPulled")
          .withArgs(
            await sys.stable.getAddress(),
            treasury.address,
            E18(1_000n),
            USD(1_000n),
            E18(49_000n),
          );
        await expect(call).not.to.emit(vault, "MarginCallMet");
        expect(await vault.state()).to.equal(VaultState.MarginCall);
        const [, , capsLeft] = await vault.topUpConfiguration();
        expect(capsLeft).to.deep.equal([E18(49_000n), TBILL(50_000n)]);
      });
    });
  });

  describe("hostile tokens in a DvP liquidation", function () {
    const buyerOf = () => sys.outsider;

    /** An agreement listing `token`, 1,100,000 T-bills posted, under exclusive control (840,000 due). */
    async function controlledListing(token: { getAddress(): Promise<string> }) {
      const vault = await agreementListing(token);
      await postTbill(vault, TBILL(1_100_000n));
      return vault;
    }

    async function sale(
      vault: CollateralVault,
      asset: string,
      amount: bigint,
      cash: string,
      cashAmount: bigint,
      nonce = 1n,
    ) {
      const buyer = buyerOf();
      const { chainId } = await sys.ethers.provider.getNetwork();
      const deadline = BigInt(await sys.networkHelpers.time.latest()) + 3_600n;
      const settlement: Settlement = {
        legs: [
          erc20Leg(asset, amount, await vault.getAddress(), buyer.address),
          erc20Leg(cash, cashAmount, buyer.address, sys.securedParty.address),
        ],
        deadline,
        nonce,
      };
      const signature = await signSettlement(
        buyer,
        settlement,
        chainId,
        await sys.dvp.getAddress(),
      );
      return vault
        .connect(sys.securedParty)
        .liquidate(asset, amount, cash, cashAmount, buyer.address, deadline, nonce, signature);
    }

    async function expectNothingMoved(vault: CollateralVault) {
      expect(await vault.appropriation()).to.deep.equal([USD(840_000n), 0n]);
      expect(await vault.balanceOf(await sys.tbill.getAddress())).to.equal(TBILL(1_100_000n));
      expect(await sys.tbill.balanceOf(await vault.getAddress())).to.equal(TBILL(1_100_000n));
      expect(await vault.state()).to.equal(VaultState.ExclusiveControl);
      expect(
        await sys.tbill.allowance(await vault.getAddress(), await sys.dvp.getAddress()),
      ).to.equal(0n);
    }

    it("a blocklisted buyer paying in a blocklisting token: the sale reverts Blocked and nothing moves", async function () {
      const busd = await deploy<BlocklistToken>("BlocklistToken");
      const vault = await controlledListing(busd);
      await underExclusiveControl(vault, USD(800_000n));
      await mintAndApprove(busd, buyerOf(), sys.dvp, E6(100_000n));
      await busd.setBlocked(buyerOf().address, true);
      await expect(
        sale(
          vault,
          await sys.tbill.getAddress(),
          TBILL(100_000n),
          await busd.getAddress(),
          E6(99_000n),
        ),
      )
        .to.be.revertedWithCustomError(busd, "Blocked")
        .withArgs(buyerOf().address);
      await expectNothingMoved(vault);
      await busd.setBlocked(buyerOf().address, false);
      await expect(
        sale(
          vault,
          await sys.tbill.getAddress(),
          TBILL(100_000n),
          await busd.getAddress(),
          E6(99_000n),
          2n,
        ),
      ).to.emit(vault, "Liquidated");
      expect(await busd.balanceOf(sys.securedParty.address)).to.equal(E6(99_000n));
    });

    it("cash paid in a fee-on-transfer token: the DvP refuses the short cash leg, nothing moves", async function () {
      const fot = await deploy<FeeOnTransferToken>("FeeOnTransferToken", [100n]);
      const vault = await controlledListing(fot);
      await underExclusiveControl(vault, USD(800_000n));
      await mintAndApprove(fot, buyerOf(), sys.dvp, E18(100_000n));
      await expect(
        sale(
          vault,
          await sys.tbill.getAddress(),
          TBILL(100_000n),
          await fot.getAddress(),
          E18(99_000n),
        ),
      )
        .to.be.revertedWithCustomError(sys.dvp, "LegDeliveredShort")
        .withArgs(1n, E18(98_010n), E18(99_000n));
      await expectNothingMoved(vault);
    });

    it("selling a non-standard (returns nothing) token as collateral: approval and transfer work", async function () {
      const usdt = await deploy<NonStandardERC20WithDecimals>("NonStandardERC20WithDecimals", [
        true,
      ]);
      const asset = await usdt.getAddress();
      const vault = await controlledListing(usdt);
      await usdt.mint(sys.pledgor.address, E6(1_000n));
      await usdt.connect(sys.pledgor).approve(await vault.getAddress(), E6(1_000n));
      await vault.connect(sys.pledgor).deposit(asset, E6(1_000n));
      await underExclusiveControl(vault, USD(800_000n));
      await sys.fund(sys.stable, buyerOf(), sys.dvp, E18(990n));
      await expect(sale(vault, asset, E6(1_000n), await sys.stable.getAddress(), E18(990n)))
        .to.emit(vault, "Liquidated")
        .withArgs(
          asset,
          E6(1_000n),
          await sys.stable.getAddress(),
          E18(990n),
          buyerOf().address,
          (id: string) => id.length === 66,
          USD(1_000n),
          USD(990n),
        );
      expect(await usdt.balanceOf(buyerOf().address)).to.equal(E6(1_000n));
      expect(await vault.balanceOf(asset)).to.equal(0n);
      expect(await usdt.allowance(await vault.getAddress(), await sys.dvp.getAddress())).to.equal(
        0n,
      );
    });

    it("selling a rebased-down token's accounted amount: the token refuses, nothing moves", async function () {
      const reb = await deploy<RebasingToken>("RebasingToken");
      const asset = await reb.getAddress();
      const vault = await controlledListing(reb);
      await mintAndApprove(reb, sys.pledgor, vault, E18(1_000n));
      await vault.connect(sys.pledgor).deposit(asset, E18(1_000n));
      await underExclusiveControl(vault, USD(800_000n));
      await reb.rebase(WAD / 2n);
      await sys.fund(sys.stable, buyerOf(), sys.dvp, E18(1_000n));
      await expect(sale(vault, asset, E18(1_000n), await sys.stable.getAddress(), E18(990n)))
        .to.be.revertedWithCustomError(reb, "InsufficientBalance")
        .withArgs(await vault.getAddress(), E18(500n), E18(1_000n));
      await expectNothingMoved(vault);
      expect(await vault.balanceOf(asset)).to.equal(E18(1_000n));
    });
  });

  describe("griefing with dust of an unpriceable asset", function () {
    it("regression: an outsider can no longer post dust of a listed asset whose feed is down to block the margin call (Unauthorized); a donation of it changes nothing", async function () {
      // The pledgor holds only T-bills; the bond's feed is down, which does not matter while nobody holds bonds.
      // Deposits used to be open to anyone: one raw unit of bond then made every valuation revert, blocking the
      // call below and the pledgor's withdrawals until a delisting matured.
      const vault = await sys.openAgreement({
        terms: { ...defaultTerms, independentAmount: USD(200_000n) },
      });
      const bond = await sys.bond.getAddress();
      await postTbill(vault, TBILL(1_100_000n));
      await pledge(vault);
      await vault.connect(sys.securedParty).setExposure(USD(800_000n));
      await sys.bondFeed.setReverts(true);
      await sys.tbillFeed.setAnswer(92_000000n); // a call is now due
      expect((await sys.lens.status(await vault.getAddress())).marginCallDue).to.equal(true);

      await sys.fund(sys.bond, sys.outsider, vault, 2n);
      await expect(vault.connect(sys.outsider).deposit(bond, 1n))
        .to.be.revertedWithCustomError(vault, "Unauthorized")
        .withArgs(sys.outsider.address, sys.pledgor.address);
      await sys.bond.connect(sys.outsider).transfer(await vault.getAddress(), 1n);
      // The donation cannot be credited by the outsider either, only written down.
      await expect(vault.connect(sys.outsider).reconcile(bond))
        .to.be.revertedWithCustomError(vault, "Unauthorized")
        .withArgs(sys.outsider.address, sys.pledgor.address);
      expect(await vault.balanceOf(bond)).to.equal(0n);
      await expect(vault.connect(sys.outsider).issueMarginCall()).to.emit(vault, "MarginCallIssued");
    });

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

  describe("gas-burning token on release", function () {
    // EIP-7825 caps a transaction at 2^24 gas (the local network enforces it); the vault's trySafeTransfer forwards
    // all but 1/64 of the remaining gas to the token, so only 1/64 of the cap is left for what follows.
    const TX_GAS_CAP = 16_777_216n;

    async function burnerAgreement(burnerFirst: boolean, others: number) {
      const burner = await deploy<GasBurnerToken>("GasBurnerToken");
      const tokens: MockERC20[] = [];
      const lines: EligibilityLine[] = [];
      for (let i = 0; i < others; i++) {
        const token = await deploy<MockERC20>("MockERC20", [`T${i}`, `T${i}`, 18n]);
        tokens.push(token);
        lines.push(await sys.line(token, sys.stableFeed, 0n));
      }
      const burnerLine = await sys.line(burner, sys.stableFeed, 0n);
      const vault = await sys.openAgreement({
        schedule: burnerFirst ? [burnerLine, ...lines] : [...lines, burnerLine],
      });
      await mintAndApprove(burner, sys.pledgor, vault, E18(1_000n));
      await vault.connect(sys.pledgor).deposit(await burner.getAddress(), E18(1_000n));
      for (const token of tokens) {
        await sys.fund(token, sys.pledgor, vault, E18(1_000n));
        await vault.connect(sys.pledgor).deposit(await token.getAddress(), E18(1_000n));
      }
      await pledge(vault);
      await burner.setBurning(true);
      return { burner, tokens, vault };
    }

    it("a token that burns all gas, listed after the others: release returns every other asset and the burner fails softly", async function () {
      const { burner, tokens, vault } = await burnerAgreement(false, 8);
      const release = vault.connect(sys.securedParty).release({ gasLimit: TX_GAS_CAP });
      await expect(release)
        .to.emit(vault, "CollateralReturnFailed")
        .withArgs(await burner.getAddress(), sys.pledgor.address, E18(1_000n));
      for (const token of tokens)
        expect(await token.balanceOf(sys.pledgor.address)).to.equal(E18(1_000n));
      expect(await vault.balanceOf(await burner.getAddress())).to.equal(E18(1_000n));
      await burner.setBurning(false);
      await vault
        .connect(sys.pledgor)
        .withdraw(await burner.getAddress(), E18(1_000n), sys.pledgor.address);
      expect(await burner.balanceOf(sys.pledgor.address)).to.equal(E18(1_000n));
    });

    // Regression (fixed by TOKEN_TRANSFER_GAS): the burner listed first, then 8 plain ERC-20s, each with 1,000
    // posted; pledged; the burner starts burning gas. `release()` at the 2^24 transaction gas cap used to revert
    // out of gas: the burner's transfer took 63/64 of the gas and the 1/64 left (~262,000) could not return the 8
    // others, so one hostile (or upgraded) token stranded every other asset of the agreement.
    it("regression: a token that burns all gas, listed first, does not block release of the 8 assets after it", async function () {
      const { burner, tokens, vault } = await burnerAgreement(true, 8);
      const release = vault.connect(sys.securedParty).release({ gasLimit: TX_GAS_CAP });
      await expect(release)
        .to.emit(vault, "CollateralReturnFailed")
        .withArgs(await burner.getAddress(), sys.pledgor.address, E18(1_000n));
      for (const token of tokens)
        expect(await token.balanceOf(sys.pledgor.address)).to.equal(E18(1_000n));
      expect(await vault.state()).to.equal(VaultState.Released);
    });
  });

  describe("more refusals", function () {
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

    it("a token with 37 decimals cannot be listed: DecimalsUnsupported(asset, 37)", async function () {
      const token = await deploy<MockERC20>("MockERC20", ["D37", "D37", 37n]);
      const schedule = [await sys.line(token, sys.stableFeed, 0n)];
      await expect(sys.openAgreement({ schedule }))
        .to.be.revertedWithCustomError(sys.implementation, "DecimalsUnsupported")
        .withArgs(await token.getAddress(), 37n);
    });

    it("an ineligible token (never listed) cannot be posted, even by the pledgor: IneligibleAsset", async function () {
      const stray = await deploy<MockERC20>("MockERC20", ["Stray", "STR", 18n]);
      const vault = await sys.openAgreement();
      await sys.fund(stray, sys.pledgor, vault, 1n);
      await expect(vault.connect(sys.pledgor).deposit(await stray.getAddress(), 1n))
        .to.be.revertedWithCustomError(vault, "IneligibleAsset")
        .withArgs(await stray.getAddress());
    });
  });
});
