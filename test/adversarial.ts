// Adversarial suite: hostile tokens, broken oracles, forged authority and griefing, each test named for the
// attack it tries. Every attack must either work correctly or be refused with a clear custom error, and never
// lose or strand another agreement's collateral.
import { expect } from "chai";
import { ethers as ethersLib } from "ethers";

import {
  AssetKind,
  ONE_DAY,
  VaultState,
  WAD,
  defaultTerms,
  deploySystem,
  type EligibilityLine,
} from "./fixtures.js";
import { erc20Leg, signSettlement, type Settlement } from "./helpers/dvp.js";
import type {
  BlocklistToken,
  CollateralVault,
  FeeOnTransferToken,
  MockERC20,
  MockPriceFeed,
  NonStandardERC20WithDecimals,
  PausableToken,
  RebasingToken,
  ReentrantToken,
} from "../types/ethers-contracts/index.js";

type System = Awaited<ReturnType<typeof deploySystem>>;

const USD = (n: bigint) => n * WAD;
const TBILL = (n: bigint) => n * 10n ** 6n;
const E18 = (n: bigint) => n * WAD;
const E6 = (n: bigint) => n * 10n ** 6n;

/** Terms with no minimum transfer or rounding, so a pledged vault returns any excess. */
const looseTerms = { ...defaultTerms, minimumTransferAmount: 0n, roundingAmount: 0n };

describe("Adversarial", function () {
  let sys: System;
  let snapshot: { restore(): Promise<void> };

  before(async function () {
    sys = await deploySystem();
    snapshot = await sys.networkHelpers.takeSnapshot();
  });

  afterEach(async function () {
    await snapshot.restore();
    snapshot = await sys.networkHelpers.takeSnapshot();
  });

  async function deploy<T>(name: string, args: unknown[] = []): Promise<T> {
    return (await sys.ethers.deployContract(name, args)) as unknown as T;
  }

  /** An agreement (with a control agent) whose schedule is the fixture's plus `token` at $1, no haircut. */
  async function agreementListing(
    token: { getAddress(): Promise<string> },
    terms = looseTerms,
  ): Promise<CollateralVault> {
    const schedule = [...sys.schedule, await sys.line(token, sys.stableFeed, 0n)];
    return sys.openAgreement({ schedule, terms, withAgent: true });
  }

  async function pledge(vault: CollateralVault) {
    await vault.connect(sys.pledgor).consentToPledge();
    await vault.connect(sys.securedParty).consentToPledge();
  }

  /** Pledged, exposure set, the pledgor acknowledges a default, the secured party takes exclusive control. */
  async function underExclusiveControl(vault: CollateralVault, exposure = USD(500_000n)) {
    await pledge(vault);
    await vault.connect(sys.securedParty).setExposure(exposure);
    await vault.connect(sys.pledgor).declareDefault();
    await vault.connect(sys.securedParty).deliverNoticeOfExclusiveControl(ethersLib.id("NEC"));
  }

  /** The pledgor posts `amount` of a mock T-bill into `vault`. */
  async function postTbill(vault: CollateralVault, amount: bigint) {
    await sys.fund(sys.tbill, sys.pledgor, vault, amount);
    await vault.connect(sys.pledgor).deposit(await sys.tbill.getAddress(), amount);
  }

  /** Mints `amount` of a test token with open minting to `holder` and approves `spender`. */
  async function mintAndApprove(
    token: {
      mint(to: string, amount: bigint): Promise<unknown>;
      connect(s: typeof sys.pledgor): {
        approve(spender: string, amount: bigint): Promise<unknown>;
      };
    },
    holder: typeof sys.pledgor,
    spender: { getAddress(): Promise<string> },
    amount: bigint,
  ) {
    await token.mint(holder.address, amount);
    await token.connect(holder).approve(await spender.getAddress(), amount);
  }

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
        .withArgs(asset, E18(1_000n), E18(990n));
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

      it("rebase down: the vault values what it accounts, not what it holds (documents the overvaluation)", async function () {
        const { reb, asset, a } = await twoRebasingAgreements();
        await reb.rebase(WAD / 2n);
        // Known limitation, not fixed by the vault: a negative rebase is invisible to valuation until a transfer
        // fails. Rebasing tokens must not be listed (use a wrapped, non-rebasing share instead).
        expect(await a.collateralValue()).to.equal(USD(1_000n));
        const status = await sys.lens.status(await a.getAddress());
        const position = status.positions.find((p) => p.asset === asset);
        expect(position?.balance).to.equal(E18(1_000n));
        expect(await reb.balanceOf(await a.getAddress())).to.equal(E18(500n));
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

      it("rebase up: the surplus is a donation (accounted <= held), never credited, and stays after release", async function () {
        const { reb, asset, a, b } = await twoRebasingAgreements();
        const aAddress = await a.getAddress();
        await pledge(a);
        await reb.rebase(2n * WAD);
        expect(await reb.balanceOf(aAddress)).to.equal(E18(2_000n));
        expect(await a.balanceOf(asset)).to.equal(E18(1_000n));
        expect(await a.collateralValue()).to.equal(USD(1_000n));
        // The pledgor cannot take more than it accounts.
        await expect(a.connect(sys.pledgor).withdraw(asset, E18(1_001n), sys.pledgor.address))
          .to.be.revertedWithCustomError(a, "InsufficientCollateral")
          .withArgs(asset, E18(1_001n), E18(1_000n));
        // A deposit is credited exactly what arrived, even with the surplus already held.
        await mintAndApprove(reb, sys.pledgor, a, E18(100n));
        await expect(a.connect(sys.pledgor).deposit(asset, E18(100n)))
          .to.emit(a, "Deposited")
          .withArgs(asset, sys.pledgor.address, E18(100n), E18(1_100n));
        await expect(a.connect(sys.securedParty).release())
          .to.emit(a, "CollateralReturned")
          .withArgs(asset, sys.pledgor.address, E18(1_100n));
        expect(await a.balanceOf(asset)).to.equal(0n);
        expect(await reb.balanceOf(aAddress)).to.equal(E18(1_000n)); // no sweep: the donation stays
        expect(await b.balanceOf(asset)).to.equal(E18(1_000n));
      });

      it("rebase rounding: a deposit the share rounding shrinks is refused ShortDelivery", async function () {
        const { reb, asset, a } = await twoRebasingAgreements();
        await reb.rebase((3n * WAD) / 2n); // 1 unit is 2/3 of a share: rounds to none
        await mintAndApprove(reb, sys.pledgor, a, 3n);
        await expect(a.connect(sys.pledgor).deposit(asset, 1n))
          .to.be.revertedWithCustomError(a, "ShortDelivery")
          .withArgs(asset, 1n, 0n);
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

    it("a token without decimals() cannot be listed: openAgreement reverts", async function () {
      const token = await deploy<{ getAddress(): Promise<string> }>("NonStandardERC20", [false]);
      const schedule = [...sys.schedule, await sys.line(token, sys.stableFeed, 0n)];
      await expect(sys.openAgreement({ schedule })).to.be.revertedWithoutReason(sys.ethers);
    });
  });
});
