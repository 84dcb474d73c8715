// Refusals and rarely taken paths: every argument, state and listing check of the product contracts that the
// other suites leave unexercised, each test named for the refusal or path it proves. A refusal is asserted with
// its exact custom error and arguments, and with a ledger (balances held and accounted, state, appropriation,
// margin) that must not move. Found by `npm run coverage` (scripts/coverage-gate.ts lists what never ran).
import { expect } from "chai";
import { AbiCoder, concat, ethers as ethersLib, getAddress, toBeHex } from "ethers";

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
import { E18, TBILL, USD, adversary, calledTerms, looseTerms } from "./helpers/adversary.js";
import { erc20Leg, signSettlement, type Settlement } from "./helpers/dvp.js";
import type {
  CollateralVault,
  InconsistentERC4626,
  MockERC20,
  PriceOracleHarness,
  UnreadableBalanceToken,
} from "../types/ethers-contracts/index.js";

const BOND = (n: bigint) => n * 10n ** 8n;

const FAR_DEADLINE = 2n ** 40n;
/** IAgreementFactory.MarginCallOutcome. */
const SKIPPED = 0n;
const ISSUED = 1n;
const MET = 2n;

type Token = { getAddress(): Promise<string>; balanceOf(account: string): Promise<bigint> };

describe("Refusals", function () {
  let sys: System;
  const system = useSystem();
  beforeEach(function () {
    sys = system();
  });

  const { deploy, pledge, underExclusiveControl } = adversary(() => sys);

  /** The pledgor funds itself with `amount` of `token` and posts it. */
  async function post(vault: CollateralVault, token: MockERC20, amount: bigint) {
    await sys.fund(token, sys.pledgor, vault, amount);
    await vault.connect(sys.pledgor).deposit(await token.getAddress(), amount);
  }

  /** A vault (with a control agent) holding 1,000,000 T-bills ($1, 2% haircut): 980,000 of collateral. */
  async function postedVault(options: Parameters<System["openAgreement"]>[0] = {}) {
    const vault = await sys.openAgreement({ withAgent: true, ...options });
    await post(vault, sys.tbill, TBILL(1_000_000n));
    return vault;
  }

  /**
   * What a refusal must leave alone: each token held by the vault and by each party and accounted by the vault,
   * and the vault's state, margin, appropriation, notice and top-up configuration.
   */
  async function ledger(vault: CollateralVault, tokens: Token[]): Promise<unknown[]> {
    const vaultAddress = await vault.getAddress();
    const holders = [
      vaultAddress,
      sys.pledgor.address,
      sys.securedParty.address,
      sys.admin.address,
    ];
    const rows: unknown[] = [];
    for (const token of tokens) {
      rows.push(await vault.balanceOf(await token.getAddress()));
      for (const holder of holders) rows.push(await token.balanceOf(holder));
    }
    rows.push(await vault.state(), await vault.marginState(), await vault.appropriation());
    rows.push(await vault.noticeHash(), await vault.topUpConfiguration());
    return rows.map((row) => (typeof row === "object" ? JSON.stringify(row, bigintJson) : row));
  }
  const bigintJson = (_: string, v: unknown) => (typeof v === "bigint" ? v.toString() : v);

  describe("vault lifecycle", function () {
    it("initialize on a clone the factory did not deploy refuses every caller but the factory its arguments name: Unauthorized(caller, factory)", async function () {
      // An ERC-1167 clone of the implementation with the factory's immutable arguments (OpenZeppelin's
      // Clones.cloneWithImmutableArgs creation code), deployed by an outsider instead of `openAgreement`.
      const factory = await sys.factory.getAddress();
      const args = AbiCoder.defaultAbiCoder().encode(
        ["address", "address", "address", "address"],
        [sys.pledgor.address, sys.securedParty.address, sys.controlAgent.address, factory],
      );
      const creation = concat([
        "0x61",
        toBeHex(128 + 45, 2),
        "0x3d81600a3d39f3363d3d373d3d3d363d73",
        await sys.implementation.getAddress(),
        "0x5af43d82803e903d91602b57fd5bf3",
        args,
      ]);
      const receipt = await (await sys.outsider.sendTransaction({ data: creation })).wait();
      const clone = (await sys.ethers.getContractAt(
        "CollateralVault",
        receipt!.contractAddress!,
      )) as unknown as CollateralVault;
      expect(await clone.parties()).to.deep.equal([
        sys.pledgor.address,
        sys.securedParty.address,
        sys.controlAgent.address,
        factory,
      ]);

      for (const caller of [sys.outsider, sys.pledgor, sys.securedParty, sys.controlAgent]) {
        await expect(clone.connect(caller).initialize(defaultTerms, sys.schedule))
          .to.be.revertedWithCustomError(clone, "Unauthorized")
          .withArgs(caller.address, factory);
      }
      expect(await clone.listedAssets()).to.deep.equal([]);
      expect(await sys.factory.isVault(await clone.getAddress())).to.equal(false);

      // The factory named in the arguments is the one caller that gets through.
      await sys.networkHelpers.impersonateAccount(factory);
      await sys.networkHelpers.setBalance(factory, WAD);
      const asFactory = await sys.ethers.getSigner(factory);
      await expect(
        clone.connect(asFactory).initialize(defaultTerms, sys.schedule),
      ).to.emit(clone, "AgreementInitialized");
      expect(await clone.listedAssets()).to.have.length(sys.schedule.length);
    });

    it("deposit refuses a vault under exclusive control or released: InvalidState(state), nothing moves", async function () {
      const vault = await postedVault();
      const tbill = await sys.tbill.getAddress();
      await underExclusiveControl(vault, USD(100_000n));
      await sys.fund(sys.tbill, sys.pledgor, vault, TBILL(1_000n));

      const before = await ledger(vault, [sys.tbill]);
      await expect(vault.connect(sys.pledgor).deposit(tbill, TBILL(1_000n)))
        .to.be.revertedWithCustomError(vault, "InvalidState")
        .withArgs(VaultState.ExclusiveControl);
      expect(await ledger(vault, [sys.tbill])).to.deep.equal(before);

      await vault.connect(sys.securedParty).release();
      const released = await ledger(vault, [sys.tbill]);
      await expect(vault.connect(sys.pledgor).deposit(tbill, TBILL(1_000n)))
        .to.be.revertedWithCustomError(vault, "InvalidState")
        .withArgs(VaultState.Released);
      expect(await ledger(vault, [sys.tbill])).to.deep.equal(released);
      expect(await sys.tbill.balanceOf(sys.pledgor.address)).to.equal(TBILL(1_001_000n));
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

    it("changeEligibility refuses a released vault: InvalidState(Released), the line unchanged", async function () {
      const vault = await postedVault();
      await pledge(vault);
      await vault.connect(sys.securedParty).release();
      const bond = await sys.bond.getAddress();
      const line = await vault.eligibility(bond);
      await expect(
        vault.connect(sys.securedParty).changeEligibility({ ...sys.schedule[2], haircutBps: 0n }),
      )
        .to.be.revertedWithCustomError(vault, "InvalidState")
        .withArgs(VaultState.Released);
      expect(await vault.eligibility(bond)).to.deep.equal(line);
      expect(line.haircutBps).to.equal(1_000n);
    });

    it("valueOfHolding refuses an asset that is not listed: IneligibleAsset(asset)", async function () {
      const vault = await postedVault();
      const stray = await deploy<MockERC20>("MockERC20", ["Stray", "STRAY", 18]);
      const asset = await stray.getAddress();
      await expect(vault.valueOfHolding(asset, E18(1n)))
        .to.be.revertedWithCustomError(vault, "IneligibleAsset")
        .withArgs(asset);
      // A listed asset gets through.
      const tbill = await sys.tbill.getAddress();
      expect(await vault.valueOfHolding(tbill, TBILL(5n))).to.equal(USD(5n));
    });
  });

  describe("argument checks", function () {
    it("instructTransfer refuses a zero receiver (ZeroAddress) and a zero amount (ZeroAmount): nothing moves, nothing appropriated", async function () {
      const vault = await postedVault();
      const tbill = await sys.tbill.getAddress();
      await underExclusiveControl(vault, USD(100_000n));
      const before = await ledger(vault, [sys.tbill]);
      for (const sender of [sys.securedParty, sys.controlAgent]) {
        await expect(
          vault.connect(sender).instructTransfer(tbill, TBILL(1_000n), ethersLib.ZeroAddress),
        ).to.be.revertedWithCustomError(vault, "ZeroAddress");
        await expect(
          vault.connect(sender).instructTransfer(tbill, 0n, sys.securedParty.address),
        ).to.be.revertedWithCustomError(vault, "ZeroAmount");
      }
      expect(await ledger(vault, [sys.tbill])).to.deep.equal(before);
      expect(await vault.appropriation()).to.deep.equal([USD(105_000n), 0n]);
    });

    it("withdraw refuses a zero receiver (ZeroAddress) and a zero amount (ZeroAmount), in every state it allows: nothing moves", async function () {
      const vault = await postedVault();
      const tbill = await sys.tbill.getAddress();
      for (const pledged of [false, true]) {
        if (pledged) await pledge(vault);
        const before = await ledger(vault, [sys.tbill]);
        await expect(
          vault.connect(sys.pledgor).withdraw(tbill, TBILL(1n), ethersLib.ZeroAddress),
        ).to.be.revertedWithCustomError(vault, "ZeroAddress");
        await expect(
          vault.connect(sys.pledgor).withdraw(tbill, 0n, sys.pledgor.address),
        ).to.be.revertedWithCustomError(vault, "ZeroAmount");
        expect(await ledger(vault, [sys.tbill])).to.deep.equal(before);
      }
    });

    it("substitute refuses a zero receiver (ZeroAddress) and a zero amount in either leg (ZeroAmount): nothing moves", async function () {
      const vault = await postedVault();
      await pledge(vault);
      await vault.connect(sys.securedParty).setExposure(USD(500_000n));
      await sys.fund(sys.stable, sys.pledgor, vault, E18(1_000n));
      const [stable, tbill] = [await sys.stable.getAddress(), await sys.tbill.getAddress()];
      const swap = (amountIn: bigint, amountOut: bigint, to: string) =>
        vault.connect(sys.pledgor).substitute(stable, amountIn, tbill, amountOut, to);

      const before = await ledger(vault, [sys.tbill, sys.stable]);
      await expect(
        swap(E18(1_000n), TBILL(1_000n), ethersLib.ZeroAddress),
      ).to.be.revertedWithCustomError(vault, "ZeroAddress");
      await expect(swap(0n, TBILL(1_000n), sys.pledgor.address)).to.be.revertedWithCustomError(
        vault,
        "ZeroAmount",
      );
      await expect(swap(E18(1_000n), 0n, sys.pledgor.address)).to.be.revertedWithCustomError(
        vault,
        "ZeroAmount",
      );
      expect(await ledger(vault, [sys.tbill, sys.stable])).to.deep.equal(before);
      // The same swap with a receiver and both amounts goes through.
      await expect(swap(E18(1_000n), TBILL(1_000n), sys.pledgor.address))
        .to.emit(vault, "Substituted")
        .withArgs(stable, E18(1_000n), tbill, TBILL(1_000n));
    });

    it("configureTopUp refuses assets and caps of different lengths (LengthMismatch) and an asset that is not eligible (IneligibleAsset): the configuration unchanged", async function () {
      const vault = await postedVault();
      const [stable, bond] = [await sys.stable.getAddress(), await sys.bond.getAddress()];
      const stray = await (
        await deploy<MockERC20>("MockERC20", ["Stray", "STRAY", 18])
      ).getAddress();
      await vault.connect(sys.pledgor).configureTopUp(sys.admin.address, [stable], [E18(10n)]);
      const before = await vault.topUpConfiguration();

      await expect(
        vault.connect(sys.pledgor).configureTopUp(sys.admin.address, [stable, bond], [E18(1n)]),
      )
        .to.be.revertedWithCustomError(vault, "LengthMismatch")
        .withArgs(2n, 1n);
      await expect(
        vault
          .connect(sys.pledgor)
          .configureTopUp(sys.outsider.address, [bond, stray], [BOND(1n), E18(1n)]),
      )
        .to.be.revertedWithCustomError(vault, "IneligibleAsset")
        .withArgs(stray);
      expect(await vault.topUpConfiguration()).to.deep.equal(before);
      expect(before).to.deep.equal([sys.admin.address, [stable], [E18(10n)]]);
    });

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

    it("liquidate refuses a zero amount in either leg (ZeroAmount), a cash token that is not listed (IneligibleAsset) and a sale paying more than is due (AppropriationExceedsAmountDue): nothing moves", async function () {
      const vault = await postedVault();
      await underExclusiveControl(vault, USD(100_000n)); // due: 105,000 with the 5% penalty
      const [tbill, stable] = [await sys.tbill.getAddress(), await sys.stable.getAddress()];
      const stray = await deploy<MockERC20>("MockERC20", ["Stray", "STRAY", 18]);
      const buyer = sys.outsider.address;
      const sale = (asset: string, amount: bigint, cash: string, cashAmount: bigint) =>
        vault
          .connect(sys.securedParty)
          .liquidate(asset, amount, cash, cashAmount, buyer, FAR_DEADLINE, 1n, "0x");

      const before = await ledger(vault, [sys.tbill, sys.stable]);
      await expect(sale(tbill, 0n, stable, E18(1_000n))).to.be.revertedWithCustomError(
        vault,
        "ZeroAmount",
      );
      await expect(sale(tbill, TBILL(1_000n), stable, 0n)).to.be.revertedWithCustomError(
        vault,
        "ZeroAmount",
      );
      await expect(sale(tbill, TBILL(1_000n), await stray.getAddress(), E18(1_000n)))
        .to.be.revertedWithCustomError(vault, "IneligibleAsset")
        .withArgs(await stray.getAddress());
      // 200,000 T-bills for 200,000 stablecoins: a fair price, but 95,000 more than the amount due.
      await expect(sale(tbill, TBILL(200_000n), stable, E18(200_000n)))
        .to.be.revertedWithCustomError(vault, "AppropriationExceedsAmountDue")
        .withArgs(USD(200_000n), USD(105_000n));
      expect(await ledger(vault, [sys.tbill, sys.stable])).to.deep.equal(before);
      expect(await vault.state()).to.equal(VaultState.ExclusiveControl);
      expect(await sys.dvp.isNonceUsed(buyer, 1n)).to.equal(false);
    });
  });

  describe("automatic top-up", function () {
    it("issueMarginCall's top-up skips an asset with no cap left, one with a 100% haircut and one whose price is stale, and meets the call from the next", async function () {
      const junk = await deploy<MockERC20>("MockERC20", ["Junk", "JUNK", 18]);
      const usd2 = await deploy<MockERC20>("MockERC20", ["Second stablecoin", "USD2", 18]);
      const schedule: EligibilityLine[] = [
        ...sys.schedule,
        await sys.line(junk, sys.stableFeed, 10_000n), // counts for nothing
        await sys.line(usd2, sys.stableFeed, 0n),
      ];
      const vault = await sys.openAgreement({ terms: calledTerms, schedule });
      await post(vault, sys.tbill, TBILL(1_100_000n));
      await pledge(vault);
      await vault.connect(sys.securedParty).setExposure(USD(800_000n));

      const treasury = sys.admin;
      const tokens = [sys.stable, junk, sys.bond, usd2];
      const assets = await Promise.all(tokens.map((t) => t.getAddress()));
      const amounts = [E18(50_000n), E18(50_000n), BOND(1_000n), E18(50_000n)];
      for (const [i, token] of tokens.entries()) await sys.fund(token, treasury, vault, amounts[i]);
      const caps = [0n, E18(50_000n), BOND(1_000n), E18(50_000n)];
      await vault.connect(sys.pledgor).configureTopUp(treasury.address, assets, caps);

      // A day later the bond's feed has not updated (stale); the others have, the T-bill at $0.92:
      // 1,100,000 x 0.92 x 0.98 = 991,760 against 1,000,000, a call for 9,000.
      await sys.networkHelpers.time.increase(ONE_DAY + 1n);
      await sys.tbillFeed.setAnswer(92_000000n);
      await sys.stableFeed.setAnswer(1_00000000n);
      await expect(vault.valueOfHolding(assets[2], 1n)).to.be.revertedWithCustomError(
        vault,
        "StalePrice",
      );

      const call = vault.connect(sys.outsider).issueMarginCall();
      await expect(call)
        .to.emit(vault, "TopUpPulled")
        .withArgs(assets[3], treasury.address, E18(9_000n), USD(9_000n), E18(41_000n));
      await expect(call).to.emit(vault, "MarginCallMet").withArgs(USD(1_000_760n), USD(1_000_000n));
      expect(await vault.state()).to.equal(VaultState.Pledged);
      // The three skipped assets did not move and their caps are untouched.
      for (const [i, token] of tokens.slice(0, 3).entries()) {
        expect(await token.balanceOf(treasury.address), assets[i]).to.equal(amounts[i]);
        expect(await vault.balanceOf(assets[i]), assets[i]).to.equal(0n);
      }
      const [, , capsLeft] = await vault.topUpConfiguration();
      expect(capsLeft).to.deep.equal([0n, E18(50_000n), BOND(1_000n), E18(41_000n)]);
      expect(await vault.balanceOf(assets[3])).to.equal(E18(9_000n));
    });
  });

  describe("eligibility schedule", function () {
    it("substitute takes out a holding whose delisting has matured, worth nothing, for any eligible collateral; before maturity the same swap is refused SubstitutionExceedsValue", async function () {
      const vault = await postedVault();
      const [bond, stable, tbill] = [
        await sys.bond.getAddress(),
        await sys.stable.getAddress(),
        await sys.tbill.getAddress(),
      ];
      await post(vault, sys.bond, BOND(1_000n)); // 100,000 at $100, 90,000 after the 10% haircut
      await pledge(vault);
      await vault.connect(sys.securedParty).setExposure(USD(500_000n));

      // Two tightenings queued in turn: the bond's delisting, then a higher haircut on the fund share.
      await expect(
        vault
          .connect(sys.securedParty)
          .changeEligibility({ ...sys.schedule[2], feed: ethersLib.ZeroAddress }),
      ).to.emit(vault, "EligibilityChangeQueued");
      await expect(
        vault
          .connect(sys.securedParty)
          .changeEligibility({ ...sys.schedule[3], haircutBps: 1_000n }),
      ).to.emit(vault, "EligibilityChangeQueued");
      const [, delistedAt] = await vault.pendingEligibility(bond);
      const [, mmfAt] = await vault.pendingEligibility(await sys.mmf.getAddress());
      expect(mmfAt).to.be.greaterThan(delistedAt);

      await sys.fund(sys.stable, sys.pledgor, vault, E18(1n));
      const swap = () =>
        vault
          .connect(sys.pledgor)
          .substitute(stable, E18(1n), bond, BOND(1_000n), sys.pledgor.address);
      const before = await ledger(vault, [sys.bond, sys.stable]);
      await expect(swap())
        .to.be.revertedWithCustomError(vault, "SubstitutionExceedsValue")
        .withArgs(USD(90_000n), USD(1n));
      expect(await ledger(vault, [sys.bond, sys.stable])).to.deep.equal(before);

      await sys.networkHelpers.time.increaseTo(mmfAt);
      for (const [feed, answer] of [
        [sys.tbillFeed, 1_00000000n],
        [sys.stableFeed, 1_00000000n],
        [sys.bondFeed, 100_00000000n],
      ] as const)
        await feed.setAnswer(answer);
      expect((await vault.eligibility(bond)).feed).to.equal(ethersLib.ZeroAddress);
      await expect(swap())
        .to.emit(vault, "Substituted")
        .withArgs(stable, E18(1n), bond, BOND(1_000n));
      expect(await sys.bond.balanceOf(sys.pledgor.address)).to.equal(BOND(1_000n));
      expect(await vault.balanceOf(bond)).to.equal(0n);
      expect(await vault.balanceOf(stable)).to.equal(E18(1n));

      // Valued without the delisted asset: 980,000 of T-bills and the 1 stablecoin, so 100,000 T-bills of
      // excess can leave (980,001 - 98,000 = 882,001 against 500,000).
      expect(await vault.collateralValue()).to.equal(USD(980_001n));
      await expect(vault.connect(sys.pledgor).withdraw(tbill, TBILL(100_000n), sys.pledgor.address))
        .to.emit(vault, "Withdrawn")
        .withArgs(tbill, sys.pledgor.address, TBILL(100_000n), TBILL(900_000n));
    });

    it("changeEligibility relists a delisted asset at once before the pledge (listed once); on a live agreement, once the delisting has matured, relisting is PriceSourceFixed", async function () {
      const vault = await postedVault();
      const bond = await sys.bond.getAddress();
      const listed = [...(await vault.listedAssets())];
      const sp = vault.connect(sys.securedParty);
      // Before the pledge: the delisting and the relisting both apply at once.
      await sp.changeEligibility({ ...sys.schedule[2], feed: ethersLib.ZeroAddress });
      expect((await vault.eligibility(bond)).feed).to.equal(ethersLib.ZeroAddress);
      const relist = sp.changeEligibility(sys.schedule[2]);
      await expect(relist).to.emit(vault, "EligibilityChanged");
      await expect(relist).not.to.emit(vault, "EligibilityChangeQueued");
      const line = await vault.eligibility(bond);
      expect(line.feed).to.equal(await sys.bondFeed.getAddress());
      expect(line.haircutBps).to.equal(1_000n);
      expect(await vault.listedAssets()).to.deep.equal(listed);

      // Live: a new asset is listed at once (a listing is no tightening).
      await pledge(vault);
      const fresh = await deploy<MockERC20>("MockERC20", ["Fresh", "FRESH", 18]);
      const listing = sp.changeEligibility(await sys.line(fresh, sys.stableFeed, 0n));
      await expect(listing).to.emit(vault, "EligibilityChanged");
      await expect(listing).not.to.emit(vault, "EligibilityChangeQueued");
      listed.push(await fresh.getAddress());
      expect(await vault.listedAssets()).to.deep.equal(listed);
      // The delisting waits out the notice period, and the asset cannot be listed again after it.
      await sp.changeEligibility({ ...sys.schedule[2], feed: ethersLib.ZeroAddress });
      const [, effectiveAt] = await vault.pendingEligibility(bond);
      await sys.networkHelpers.time.increaseTo(effectiveAt);
      expect((await vault.eligibility(bond)).feed).to.equal(ethersLib.ZeroAddress);
      await expect(sp.changeEligibility(sys.schedule[2]))
        .to.be.revertedWithCustomError(vault, "PriceSourceFixed")
        .withArgs(bond, ethersLib.ZeroAddress, await sys.bondFeed.getAddress());
      expect(await vault.listedAssets()).to.deep.equal(listed);
    });
  });

  describe("factory", function () {
    it("eligibilityEntry refuses a zero asset (ZeroAddress), also inside openAgreement; nothing is opened", async function () {
      const count = await sys.factory.agreementCount();
      const zeroAsset = { ...sys.schedule[0], asset: ethersLib.ZeroAddress };
      await expect(sys.factory.eligibilityEntry(zeroAsset)).to.be.revertedWithCustomError(
        sys.factory,
        "ZeroAddress",
      );
      await expect(
        sys.openAgreement({ schedule: [sys.schedule[1], zeroAsset] }),
      ).to.be.revertedWithCustomError(sys.factory, "ZeroAddress");
      expect(await sys.factory.agreementCount()).to.equal(count);
      // The same line with its asset is accepted.
      expect((await sys.factory.eligibilityEntry(sys.schedule[0])).pricedDecimals).to.equal(6n);
    });

    it("eligibilityEntry refuses an ERC-4626 line whose asset() answers a word wider than an address: MetadataUnreadable(share, asset())", async function () {
      const assetSelector = ethersLib.id("asset()").slice(0, 10);
      const decimalsSelector = ethersLib.id("decimals()").slice(0, 10);
      const wide = await deploy<InconsistentERC4626>("InconsistentERC4626", [2n ** 160n]);
      const line = await sys.line(wide, sys.tbillFeed, 500n, AssetKind.ERC4626);
      await expect(sys.factory.eligibilityEntry(line))
        .to.be.revertedWithCustomError(sys.factory, "MetadataUnreadable")
        .withArgs(await wide.getAddress(), assetSelector);
      // One below: a valid address, so the check passes and the listing reads that address's decimals (no code).
      const widest = await deploy<InconsistentERC4626>("InconsistentERC4626", [2n ** 160n - 1n]);
      const widestLine = await sys.line(widest, sys.tbillFeed, 500n, AssetKind.ERC4626);
      await expect(sys.factory.eligibilityEntry(widestLine))
        .to.be.revertedWithCustomError(sys.factory, "MetadataUnreadable")
        .withArgs(getAddress(toBeHex(2n ** 160n - 1n, 20)), decimalsSelector);
    });

    it("issueMarginCalls reverts the batch when a vault call ran out of gas with the keeper's last 1/64: InsufficientGas(gasLeft, gasBefore), nothing issued", async function () {
      this.timeout(300_000);
      const vault = await postedVault({ terms: looseTerms });
      await pledge(vault);
      await vault.connect(sys.securedParty).setExposure(USD(990_000n)); // 980,000 against 990,000: due
      const vaults = [await vault.getAddress()];
      const keeper = sys.factory.connect(sys.outsider);
      const selector = sys.factory.interface.getError("InsufficientGas")!.selector;

      // The least gas limit at which the batch reaches the vault but the vault call starves; found by a sweep
      // because the instrumented build of `--coverage` costs more gas.
      let found: { gasLimit: bigint; data: string } | undefined;
      for (let gasLimit = 25_000n; gasLimit <= 1_000_000n && !found; gasLimit += 250n) {
        try {
          await keeper.issueMarginCalls.staticCall(vaults, { gasLimit });
        } catch (error) {
          const data = (error as { data?: unknown }).data; // an object when the transaction ran out of gas
          if (typeof data === "string" && data.startsWith(selector)) found = { gasLimit, data };
        }
      }
      expect(found, "a gas limit at which the batch reverts InsufficientGas").to.not.equal(
        undefined,
      );
      const [gasLeft, gasBefore] = sys.factory.interface.decodeErrorResult(
        "InsufficientGas",
        found!.data,
      );
      expect(gasLeft * 64n).to.be.at.most(gasBefore); // the vault call left the keeper its last 1/64
      expect(gasBefore).to.be.lessThan(found!.gasLimit);

      await expect(keeper.issueMarginCalls(vaults, { gasLimit: found!.gasLimit }))
        .to.be.revertedWithCustomError(sys.factory, "InsufficientGas")
        .withArgs(gasLeft, gasBefore);
      expect(await vault.state()).to.equal(VaultState.Pledged);
      // With enough gas the same batch issues the call.
      expect(await keeper.issueMarginCalls.staticCall(vaults)).to.deep.equal([ISSUED]);
      await keeper.issueMarginCalls(vaults);
      expect(await vault.state()).to.equal(VaultState.MarginCall);
    });
  });

  describe("price oracle", function () {
    it("amountForValue refuses an ERC-4626 whose convertToAssets does not reach the assets one share above convertToShares: InconsistentVaultConversion(vault, assets, shares)", async function () {
      const harness = await deploy<PriceOracleHarness>("PriceOracleHarness");
      const share = await deploy<InconsistentERC4626>("InconsistentERC4626", [
        BigInt(await sys.tbill.getAddress()),
      ]);
      const source = {
        feed: await sys.tbillFeed.getAddress(),
        maxPriceAge: ONE_DAY,
        kind: AssetKind.ERC4626,
        pricedDecimals: 18,
        feedDecimals: 8,
        minAnswer: 1n,
        maxAnswer: 10n ** 20n,
      };
      // $100 at $1 is 100e18 assets; convertToShares says 100e18 shares, which convert back to 50e18, and so
      // does one share more.
      await expect(harness.amountForValue(await share.getAddress(), source, 1_00000000n, USD(100n)))
        .to.be.revertedWithCustomError(harness, "InconsistentVaultConversion")
        .withArgs(await share.getAddress(), E18(100n), E18(100n) + 1n);
      // A vault converting at one rate (the fixture's fund over the 6-decimal T-bill) gets its share count.
      expect(
        await harness.amountForValue(
          await sys.mmf.getAddress(),
          { ...source, pricedDecimals: 6 },
          1_00000000n,
          USD(100n),
        ),
      ).to.equal(TBILL(100n));
    });
  });

  describe("DvP settlement", function () {
    async function dvpParties() {
      const { dvp, stable, admin, outsider } = sys;
      const chainId = (await sys.ethers.provider.getNetwork()).chainId;
      const dvpAddress = await dvp.getAddress();
      for (const who of [admin, outsider]) await sys.fund(stable, who, dvp, E18(1_000n));
      const sign = (signer: Parameters<typeof signSettlement>[0], s: Settlement) =>
        signSettlement(signer, s, chainId, dvpAddress);
      return { dvp, stable: await stable.getAddress(), admin, outsider, sign };
    }

    it("settle refuses a leg whose token balance cannot be read, a hostile token or an address without code: BalanceUnreadable(legIndex, token), nothing moves, no nonce spent", async function () {
      const { dvp, stable, admin, outsider, sign } = await dvpParties();
      const hidden = await deploy<UnreadableBalanceToken>("UnreadableBalanceToken");
      const hiddenAddress = await hidden.getAddress();
      await hidden.mint(outsider.address, E18(500n));
      await hidden.connect(outsider).approve(await dvp.getAddress(), E18(500n));
      // The caller pays 100 stablecoins for 500 of the hidden-balance token, which the outsider signs for.
      const order: Settlement = {
        legs: [
          erc20Leg(stable, E18(100n), admin.address, outsider.address),
          erc20Leg(hiddenAddress, E18(500n), outsider.address, admin.address),
        ],
        deadline: FAR_DEADLINE,
        nonce: 11n,
      };
      const signatures = [{ signer: outsider.address, signature: await sign(outsider, order) }];
      const balances = async () => [
        await sys.stable.balanceOf(admin.address),
        await sys.stable.balanceOf(outsider.address),
        await hidden.balanceOf(admin.address),
        await hidden.balanceOf(outsider.address),
      ];
      const before = await balances();

      await hidden.setUnreadable(true);
      await expect(dvp.connect(admin).settle(order, signatures))
        .to.be.revertedWithCustomError(dvp, "BalanceUnreadable")
        .withArgs(1n, hiddenAddress);
      await hidden.setUnreadable(false);
      expect(await balances()).to.deep.equal(before);
      expect(await dvp.isNonceUsed(outsider.address, 11n)).to.equal(false);

      // An address without code as the token of the first leg.
      const noCode = sys.guardian.address;
      const callerOnly: Settlement = {
        legs: [
          erc20Leg(noCode, 1n, admin.address, outsider.address),
          erc20Leg(stable, E18(1n), admin.address, outsider.address),
        ],
        deadline: FAR_DEADLINE,
        nonce: 12n,
      };
      await expect(dvp.connect(admin).settle(callerOnly, []))
        .to.be.revertedWithCustomError(dvp, "BalanceUnreadable")
        .withArgs(0n, noCode);

      // Readable again, the signed order settles.
      await expect(dvp.connect(admin).settle(order, signatures)).to.emit(dvp, "Settled");
      expect(await hidden.balanceOf(admin.address)).to.equal(E18(500n));
    });

    it("settle finds a leg's signer at index 256, past the used-signature bitmap, yet refuses the 256 signatures before it that send nothing: SignerNotSender(0, signer)", async function () {
      this.timeout(120_000);
      const { dvp, stable, admin, outsider, sign } = await dvpParties();
      const order: Settlement = {
        legs: [
          erc20Leg(stable, E18(10n), outsider.address, sys.pledgor.address),
          erc20Leg(stable, E18(10n), admin.address, outsider.address),
        ],
        deadline: FAR_DEADLINE,
        nonce: 21n,
      };
      const idle = Array.from({ length: 256 }, () => ethersLib.Wallet.createRandom());
      const signatures = [];
      for (const wallet of idle)
        signatures.push({ signer: wallet.address, signature: await sign(wallet, order) });
      signatures.push({ signer: outsider.address, signature: await sign(outsider, order) });
      const before = [
        await sys.stable.balanceOf(outsider.address),
        await sys.stable.balanceOf(admin.address),
        await sys.stable.balanceOf(sys.pledgor.address),
      ];

      await expect(dvp.connect(admin).settle(order, signatures, { gasLimit: 16_000_000n }))
        .to.be.revertedWithCustomError(dvp, "SignerNotSender")
        .withArgs(0n, idle[0].address);
      expect([
        await sys.stable.balanceOf(outsider.address),
        await sys.stable.balanceOf(admin.address),
        await sys.stable.balanceOf(sys.pledgor.address),
      ]).to.deep.equal(before);
      expect(await dvp.isNonceUsed(outsider.address, 21n)).to.equal(false);
      expect(await dvp.isNonceUsed(idle[0].address, 21n)).to.equal(false);
      // The outsider's signature alone authorises its leg.
      await expect(dvp.connect(admin).settle(order, [signatures[256]])).to.emit(dvp, "Settled");
    });
  });

  // Regressions of two bugs this suite found: the factory's out-of-gas check missed the clone's own 1/64 (it now
  // allows 2/64), and a top-up asset whose balance read or conversion failed blocked the margin call (each asset
  // is now pulled in a capped call of its own, `pullTopUpAsset`).
  it("pullTopUpAsset refuses every caller but the vault itself (parties and the source included): Unauthorized(caller, vault)", async function () {
    const vault = await postedVault();
    const vaultAddress = await vault.getAddress();
    const stable = await sys.stable.getAddress();
    await sys.fund(sys.stable, sys.admin, vault, E18(50_000n));
    for (const caller of [sys.pledgor, sys.securedParty, sys.controlAgent, sys.outsider, sys.admin]) {
      await expect(vault.connect(caller).pullTopUpAsset(stable, sys.admin.address, USD(1_000n)))
        .to.be.revertedWithCustomError(vault, "Unauthorized")
        .withArgs(caller.address, vaultAddress);
    }
    expect(await vault.balanceOf(stable)).to.equal(0n);
    expect(await sys.stable.balanceOf(sys.admin.address)).to.equal(E18(50_000n));
  });

  describe("regressions", function () {
    it("a keeper's batch at a gas limit that starves the vault call inside its clone reverts InsufficientGas instead of skipping the due agreement", async function () {
      this.timeout(300_000);
      const vault = await postedVault({ terms: looseTerms });
      await pledge(vault);
      await vault.connect(sys.securedParty).setExposure(USD(990_000n));
      const vaults = [await vault.getAddress()];
      const keeper = sys.factory.connect(sys.outsider);
      const skipped: bigint[] = [];
      for (let gasLimit = 25_000n; gasLimit <= 400_000n; gasLimit += 500n) {
        const outcome = await keeper.issueMarginCalls.staticCall(vaults, { gasLimit }).then(
          ([o]) => o,
          () => undefined,
        ); // reverted: the keeper retries with more gas
        if (outcome === SKIPPED) skipped.push(gasLimit);
      }
      expect(skipped, "gas limits at which a due agreement is silently skipped").to.deep.equal([]);
    });

    it("a top-up asset whose balanceOf reverts is skipped, and the next asset meets the call", async function () {
      const hidden = await deploy<UnreadableBalanceToken>("UnreadableBalanceToken");
      const schedule = [...sys.schedule, await sys.line(hidden, sys.stableFeed, 0n)];
      const vault = await sys.openAgreement({ terms: calledTerms, schedule });
      await post(vault, sys.tbill, TBILL(1_100_000n));
      await pledge(vault);
      await vault.connect(sys.securedParty).setExposure(USD(800_000n));
      await hidden.mint(sys.admin.address, E18(50_000n));
      await hidden.connect(sys.admin).approve(await vault.getAddress(), E18(50_000n));
      await sys.fund(sys.stable, sys.admin, vault, E18(50_000n));
      await vault
        .connect(sys.pledgor)
        .configureTopUp(
          sys.admin.address,
          [await hidden.getAddress(), await sys.stable.getAddress()],
          [E18(50_000n), E18(50_000n)],
        );
      await sys.tbillFeed.setAnswer(92_000000n);
      await hidden.setUnreadable(true);
      // `_pullTopUps`: "An asset whose price, balance or transfer fails is skipped."
      expect(await vault.connect(sys.outsider).issueMarginCall.staticCall()).to.equal(true);
      expect(
        await sys.factory.issueMarginCalls.staticCall([await vault.getAddress()]),
      ).to.deep.equal([MET]);
    });

    it("a top-up fund share whose conversions disagree (InconsistentVaultConversion) is skipped, and the next asset meets the call", async function () {
      const share = await deploy<InconsistentERC4626>("InconsistentERC4626", [
        BigInt(await sys.tbill.getAddress()),
      ]);
      const schedule = [...sys.schedule, await sys.line(share, sys.tbillFeed, 0n, AssetKind.ERC4626)];
      const vault = await sys.openAgreement({ terms: calledTerms, schedule });
      await post(vault, sys.tbill, TBILL(1_100_000n));
      await pledge(vault);
      await vault.connect(sys.securedParty).setExposure(USD(800_000n));
      await sys.fund(sys.stable, sys.admin, vault, E18(50_000n));
      await vault
        .connect(sys.pledgor)
        .configureTopUp(
          sys.admin.address,
          [await share.getAddress(), await sys.stable.getAddress()],
          [E18(50_000n), E18(50_000n)],
        );
      await sys.tbillFeed.setAnswer(92_000000n);
      const call = vault.connect(sys.outsider).issueMarginCall();
      await expect(call)
        .to.emit(vault, "TopUpPulled")
        .withArgs(await sys.stable.getAddress(), sys.admin.address, E18(9_000n), USD(9_000n), E18(41_000n));
      await expect(call).to.emit(vault, "MarginCallMet");
      expect(await vault.balanceOf(await share.getAddress())).to.equal(0n);
    });
  });
});
