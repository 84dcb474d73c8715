// MarginEngine.configureTopUp and the automatic top-up of issueMarginCall: pulled in the pledgor's order, valued
// after caps after each pull, a failing or hostile asset skipped; pullTopUpAsset is the vault's own.
import { anyValue } from "@nomicfoundation/hardhat-ethers-chai-matchers/withArgs";
import { expect } from "chai";

import {
  AssetKind,
  ONE_DAY,
  VaultState,
  defaultTerms,
  useSystem,
  type EligibilityLine,
  type System,
} from "../fixtures.js";
import {
  BOND,
  CALLED_VALUE,
  E18,
  E6,
  STABLE,
  TBILL,
  TX_GAS_CAP,
  USD,
  adversary,
  calledTerms,
  type TestToken,
} from "../helpers/adversary.js";
import { counterparty } from "../helpers/counterparty.js";
import { hostileFlows } from "../helpers/hostile.js";
import { MET, marginEngine, price8 } from "../helpers/margin.js";
import { refusalSteps } from "../helpers/refusal.js";
import type {
  BlocklistToken,
  FalseReturningToken,
  FeeOnTransferToken,
  GasBurnerToken,
  InconsistentERC4626,
  MockERC20,
  NonStandardERC20WithDecimals,
  OpenTreasury,
  PausableToken,
  ReentrantToken,
  UnreadableBalanceToken,
} from "../../types/ethers-contracts/index.js";

describe("MarginEngine.configureTopUp", function () {
  let sys: System;
  const system = useSystem();
  beforeEach(function () {
    sys = system();
  });

  describe("refuses", function () {
    const { deploy } = adversary(() => sys);
    const { postedVault } = refusalSteps(() => sys);

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
  });
});

describe("MarginEngine.issueMarginCall: the automatic top-up", function () {
  let sys: System;
  const system = useSystem();
  beforeEach(function () {
    sys = system();
  });

  const { deploy, pledge, postTbill } = adversary(() => sys);
  const { pledgedAgreement } = marginEngine(() => sys);
  const {
    ledger,
    expectAccountedEqualsHeld,
    expectCallIssued,
    toppedUp,
    configureAndDropPrice,
  } = hostileFlows(() => sys);

  const terms = { ...defaultTerms, independentAmount: USD(200_000n) };

  /** As in test/helpers/margin.ts: a $0.92 T-bill price opens a call for 9,000 against 1,000,000. */
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

  it("skips a top-up asset whose source revoked its allowance and pulls the next in cost order", async function () {
    const vault = await pledgedAgreement();
    const { admin: treasury } = sys;
    await sys.fund(sys.stable, treasury, vault, STABLE(50_000n));
    await sys.fund(sys.tbill, treasury, vault, TBILL(50_000n));
    await vault
      .connect(sys.pledgor)
      .configureTopUp(
        treasury.address,
        [await sys.stable.getAddress(), await sys.tbill.getAddress()],
        [STABLE(50_000n), TBILL(50_000n)],
      );
    await sys.stable.connect(treasury).approve(await vault.getAddress(), 0n);
    await sys.tbillFeed.setAnswer(price8(92n)); // call for 9,000; T-bills at $0.92 less 2%
    await expect(vault.issueMarginCall()).to.emit(vault, "MarginCallMet");
    // 9,000 / (0.92 x 0.98) = 9,982.2537710... T-bills: the smallest raw amount that covers the call.
    const pulled = TBILL(50_000n) - (await sys.tbill.balanceOf(treasury.address));
    expect(pulled).to.equal(9_982_253_772n);
    const [, , capsLeft] = await vault.topUpConfiguration();
    expect(capsLeft).to.deep.equal([STABLE(50_000n), TBILL(50_000n) - pulled]);
  });

  for (const returnsNothing of [false, true]) {
    const style = returnsNothing ? "returns nothing (USDT-style)" : "returns false when short";
    it(`a solvent top-up asset that ${style}: pulled as any ERC-20, the call met from it alone`, async function () {
      const token = await deploy<NonStandardERC20WithDecimals>("NonStandardERC20WithDecimals", [
        returnsNothing,
      ]);
      const { vault, treasury, asset } = await toppedUp(token, E6(20_000n));
      await configureAndDropPrice(vault, treasury.address, asset, E6(20_000n));
      const call = vault.connect(sys.outsider).issueMarginCall();
      await expectCallIssued(vault, call);
      await expect(call)
        .to.emit(vault, "TopUpPulled")
        .withArgs(asset, treasury.address, E6(9_000n), USD(9_000n), E6(11_000n));
      await expect(call)
        .to.emit(vault, "MarginCallMet")
        .withArgs(CALLED_VALUE + USD(9_000n), USD(1_000_000n));
      expect(await token.balanceOf(treasury.address)).to.equal(E6(11_000n));
      expect(await sys.stable.balanceOf(treasury.address)).to.equal(E18(50_000n));
      expect(await vault.balanceOf(asset)).to.equal(E6(9_000n));
      await expectAccountedEqualsHeld(vault, [token, sys.stable, sys.tbill]);
    });
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

  describe("refuses", function () {
    const { agreementListing, mintAndApprove } = adversary(() => sys);
    const { post } = refusalSteps(() => sys);
    const { pledged, call, tbillAddress, stableAddress } = counterparty(() => sys);

    type Hostile = {
      name: string;
      deploy: () => Promise<TestToken>;
      unit: (n: bigint) => bigint;
      break: (ctx: { token: TestToken; treasury: string; vault: string }) => Promise<unknown>;
    };

    const hostiles: Hostile[] = [
      {
        name: "returns false without moving anything (its balance and allowance look fine)",
        deploy: () => deploy<FalseReturningToken>("FalseReturningToken"),
        unit: E18,
        break: ({ token }) => (token as unknown as FalseReturningToken).setRefusing(true),
      },
      {
        name: "blocklists the source",
        deploy: () => deploy<BlocklistToken>("BlocklistToken"),
        unit: E6,
        break: ({ token, treasury }) =>
          (token as unknown as BlocklistToken).setBlocked(treasury, true),
      },
      {
        name: "blocklists the vault",
        deploy: () => deploy<BlocklistToken>("BlocklistToken"),
        unit: E6,
        break: ({ token, vault }) => (token as unknown as BlocklistToken).setBlocked(vault, true),
      },
      {
        name: "is paused",
        deploy: () => deploy<PausableToken>("PausableToken"),
        unit: E18,
        break: ({ token }) => (token as unknown as PausableToken).setPaused(true),
      },
      {
        name: "re-enters the vault from its transfer",
        deploy: () => deploy<ReentrantToken>("ReentrantToken"),
        unit: E18,
        break: ({ token, vault }) =>
          (token as unknown as ReentrantToken).arm(
            vault,
            sys.implementation.interface.encodeFunctionData("closeMarginCall"),
            true,
          ),
      },
    ];

    /**
     * The treasury is a contract holding 5,000 re-entrant tokens, 50,000 stablecoins and 50,000 T-bills, all
     * approved to the vault; the re-entrant token, first in the top-up order, makes the treasury revoke its
     * stablecoin allowance from inside its own transfer to the vault.
     */
    async function revokingSource(withTbill: boolean) {
      const ree = await deploy<ReentrantToken>("ReentrantToken");
      const treasury = await deploy<OpenTreasury>("OpenTreasury");
      const source = await treasury.getAddress();
      const vault = await agreementListing(ree, calledTerms);
      const vaultAddress = await vault.getAddress();
      await postTbill(vault, TBILL(1_100_000n));
      await pledge(vault);
      await vault.connect(sys.securedParty).setExposure(USD(800_000n));
      const [asset, stable, tbill] = [
        await ree.getAddress(),
        await sys.stable.getAddress(),
        await sys.tbill.getAddress(),
      ];
      await ree.mint(source, E18(5_000n));
      await treasury.approve(asset, vaultAddress, E18(5_000n));
      await sys.stable.mint(source, E18(50_000n));
      await treasury.approve(stable, vaultAddress, E18(50_000n));
      await sys.tbill.mint(source, TBILL(50_000n));
      await treasury.approve(tbill, vaultAddress, TBILL(50_000n));
      const assets = withTbill ? [asset, stable, tbill] : [asset, stable];
      const caps = [E18(5_000n), E18(50_000n), TBILL(50_000n)].slice(0, assets.length);
      await vault.connect(sys.pledgor).configureTopUp(source, assets, caps);
      await ree.arm(
        source,
        treasury.interface.encodeFunctionData("approve", [stable, vaultAddress, 0n]),
        true,
      );
      await sys.tbillFeed.setAnswer(92_000000n);
      return { ree, vault, vaultAddress, source, asset, stable, tbill };
    }

    /** T-bills as usual, the stablecoin capped at 10% of the collateral value. */
    const cappedSchedule = async () => [
      await sys.line(sys.tbill, sys.tbillFeed, 200n),
      await sys.line(sys.stable, sys.stableFeed, 0n, AssetKind.ERC20, 1_000n),
    ];

    /** Value after haircut of `raw` T-bill units at $1 (2% haircut), rounded down as the vault does. */
    const tbillValue = (raw: bigint) => (raw * 10n ** 12n * 9_800n) / 10_000n;

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

    // Regressions: a top-up asset whose balance read or conversion failed blocked the margin call (each asset
    // is now pulled in a capped call of its own, `pullTopUpAsset`).
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

    it("a fee-on-transfer top-up asset: credited what arrived (never more than asked), the next asset tops up the fee, accounted == held", async function () {
      const fot = await deploy<FeeOnTransferToken>("FeeOnTransferToken", [100n]); // 1% fee
      const { vault, other, treasury, asset, stable } = await toppedUp(fot, E18(20_000n));
      await configureAndDropPrice(vault, treasury.address, asset, E18(20_000n));

      const call = vault.connect(sys.outsider).issueMarginCall();
      await expectCallIssued(vault, call);
      // 9,000 asked, 8,910 arrived: the cap is spent by what the source paid, the value by what arrived.
      await expect(call)
        .to.emit(vault, "TopUpPulled")
        .withArgs(asset, treasury.address, E18(8_910n), USD(8_910n), E18(11_000n));
      await expect(call)
        .to.emit(vault, "Deposited")
        .withArgs(asset, treasury.address, E18(8_910n), E18(8_910n));
      await expect(call)
        .to.emit(vault, "TopUpPulled")
        .withArgs(stable, treasury.address, E18(90n), USD(90n), E18(49_910n));
      await expect(call)
        .to.emit(vault, "MarginCallMet")
        .withArgs(CALLED_VALUE + USD(9_000n), USD(1_000_000n));
      expect(await vault.state()).to.equal(VaultState.Pledged);
      expect(await fot.balanceOf(treasury.address)).to.equal(E18(11_000n));
      expect(await sys.stable.balanceOf(treasury.address)).to.equal(E18(49_910n));
      expect(await vault.balanceOf(asset)).to.equal(E18(8_910n));
      await expectAccountedEqualsHeld(vault, [fot, sys.stable, sys.tbill]);
      const [, , capsLeft] = await vault.topUpConfiguration();
      expect(capsLeft).to.deep.equal([E18(11_000n), E18(49_910n)]);
      expect(await other.balanceOf(await sys.tbill.getAddress())).to.equal(TBILL(1_000n));
      expect(await fot.balanceOf(await other.getAddress())).to.equal(0n);
    });

    for (const hostile of hostiles) {
      it(`a top-up asset that ${hostile.name}: skipped without reverting, the next asset meets the call, accounted == held`, async function () {
        const token = await hostile.deploy();
        const amount = hostile.unit(20_000n);
        const { vault, other, vaultAddress, treasury, asset, stable } = await toppedUp(
          token,
          amount,
        );
        await configureAndDropPrice(vault, treasury.address, asset, amount);
        await hostile.break({ token, treasury: treasury.address, vault: vaultAddress });
        const holders = { treasury: treasury.address, vault, other };
        const before = await ledger({ token }, holders, { vault, other });

        const call = vault.connect(sys.outsider).issueMarginCall();
        await expectCallIssued(vault, call);
        await expect(call)
          .to.emit(vault, "TopUpPulled")
          .withArgs(stable, treasury.address, E18(9_000n), USD(9_000n), E18(41_000n));
        await expect(call)
          .to.emit(vault, "MarginCallMet")
          .withArgs(CALLED_VALUE + USD(9_000n), USD(1_000_000n));
        // The hostile asset did not move and its cap is intact; the call was met (back to Pledged).
        expect(await ledger({ token }, holders, { vault, other })).to.deep.equal(before);
        expect(before["token held by treasury"]).to.equal(amount);
        expect(await vault.state()).to.equal(VaultState.Pledged);
        const [, , capsLeft] = await vault.topUpConfiguration();
        expect(capsLeft).to.deep.equal([amount, E18(41_000n)]);
        await expectAccountedEqualsHeld(vault, [token, sys.stable, sys.tbill]);
      });
    }

    // The vault pulls top-ups with at most TOKEN_TRANSFER_GAS per transfer: a token burning all it is given
    // costs 300,000 gas, not the whole transaction. (It used OpenZeppelin's trySafeTransferFrom, which forwards
    // all but 1/64 of the remaining gas, so a burner left 1/64 for everything after it.)
    it("a gas-burning token first in the top-up order, one asset after it: the keeper's call at the 2^24 transaction gas cap still pulls that asset and meets the call", async function () {
      const burner = await deploy<GasBurnerToken>("GasBurnerToken");
      const { vault, treasury, asset, stable } = await toppedUp(burner, E18(20_000n));
      await configureAndDropPrice(vault, treasury.address, asset, E18(20_000n));
      await burner.setBurning(true);

      // Before the transfer cap this needed about 7.4 million gas; it now fits well under one million.
      const call = vault.connect(sys.outsider).issueMarginCall({ gasLimit: TX_GAS_CAP });
      await expectCallIssued(vault, call);
      await expect(call)
        .to.emit(vault, "TopUpPulled")
        .withArgs(stable, treasury.address, E18(9_000n), USD(9_000n), E18(41_000n));
      await expect(call)
        .to.emit(vault, "MarginCallMet")
        .withArgs(CALLED_VALUE + USD(9_000n), USD(1_000_000n));
      expect(await vault.state()).to.equal(VaultState.Pledged);
      expect(await vault.balanceOf(asset)).to.equal(0n);
      expect(await burner.balanceOf(treasury.address)).to.equal(E18(20_000n));
      expect((await (await call).wait())!.gasUsed).to.be.lessThan(1_000_000n);
    });

    // Regression (fixed by TOKEN_TRANSFER_GAS on top-up pulls, as release() had): with the burner first and four capped assets after it, issueMarginCall reverts out of
    // gas at every gas limit up to the 2^24 transaction cap: the 1/64 of the gas left after the burner cannot
    // pay for four pulls and the closing valuation. The margin call cannot be issued at all, so one hostile (or
    // upgraded) eligible token in the pledgor's top-up list shields the pledgor from margin calls and default.
    it("a gas-burning token first in the top-up order, four capped assets after it: the keeper's call at the 2^24 gas cap pulls them and meets the call", async function () {
      const burner = await deploy<GasBurnerToken>("GasBurnerToken");
      const treasury = sys.admin;
      const tokens: MockERC20[] = [];
      for (let i = 0; i < 4; i++)
        tokens.push(await deploy<MockERC20>("MockERC20", [`T${i}`, `T${i}`, 18n]));
      const schedule = [...sys.schedule];
      for (const token of [burner, ...tokens])
        schedule.push(await sys.line(token, sys.stableFeed, 0n));
      const vault = await sys.openAgreement({ schedule, terms: calledTerms, withAgent: true });
      await postTbill(vault, TBILL(1_100_000n));
      await pledge(vault);
      await vault.connect(sys.securedParty).setExposure(USD(800_000n));
      await mintAndApprove(burner, treasury, vault, E18(20_000n));
      for (const token of tokens) await mintAndApprove(token, treasury, vault, E18(5_000n));
      // The pledgor caps each of the four at 2,250: all four are needed for the call of 9,000.
      const assets = [await burner.getAddress()];
      for (const token of tokens) assets.push(await token.getAddress());
      await vault
        .connect(sys.pledgor)
        .configureTopUp(treasury.address, assets, [
          E18(20_000n),
          ...tokens.map(() => E18(2_250n)),
        ]);
      await sys.tbillFeed.setAnswer(92_000000n);
      await burner.setBurning(true);

      const call = vault.connect(sys.outsider).issueMarginCall({ gasLimit: TX_GAS_CAP });
      await expectCallIssued(vault, call);
      for (const token of tokens)
        await expect(call)
          .to.emit(vault, "TopUpPulled")
          .withArgs(await token.getAddress(), treasury.address, E18(2_250n), USD(2_250n), 0n);
      await expect(call)
        .to.emit(vault, "MarginCallMet")
        .withArgs(CALLED_VALUE + USD(9_000n), USD(1_000_000n));
      expect(await vault.state()).to.equal(VaultState.Pledged);
      await expectAccountedEqualsHeld(vault, [burner, ...tokens]);
    });

    // Regression (fixed: issueMarginCall now values the vault directly after its top-ups). `_closeCallIfMet` caught
    // any failure of `this.collateralValue()`, an out-of-gas included. Before the fix a
    // keeper (the secured party, say) sending just enough gas for the pull (about 236,000-247,500 here; 253,500
    // and up closes the call) gets issueMarginCall to succeed with met = false: the source is pulled for the full
    // 9,000 but the vault stays in MarginCall with its cure deadline running. Anyone can close it afterwards with
    // closeMarginCall, but the automatic top-up's promise (the call met in the same transaction) then depends on
    // the keeper's choice of gas limit. In issueMarginCall the prices were valid a moment before (and each pulled
    // asset's answer was validated), so the valuation there need not be a try.
    it("a keeper tuning its gas limit cannot get a call issued and left open that the automatic top-up meets", async function () {
      const treasury = sys.admin;
      const vault = await sys.openAgreement({ terms: calledTerms });
      await postTbill(vault, TBILL(1_100_000n));
      await pledge(vault);
      await vault.connect(sys.securedParty).setExposure(USD(800_000n));
      await mintAndApprove(sys.stable, treasury, vault, E18(50_000n));
      await vault
        .connect(sys.pledgor)
        .configureTopUp(treasury.address, [await sys.stable.getAddress()], [E18(50_000n)]);
      await sys.tbillFeed.setAnswer(92_000000n);

      const keeper = vault.connect(sys.outsider);
      const met = (gasLimit: bigint) =>
        keeper.issueMarginCall.staticCall({ gasLimit }).then(
          (result) => result,
          () => undefined, // reverted: nothing issued
        );
      expect(await met(TX_GAS_CAP)).to.equal(true);
      const leftOpen: bigint[] = [];
      for (let gasLimit = 150_000n; gasLimit <= 400_000n; gasLimit += 1_000n)
        if ((await met(gasLimit)) === false) leftOpen.push(gasLimit);
      expect(leftOpen, "gas limits at which the call is issued but left open").to.deep.equal([]);
    });

    it("the next asset's allowance revoked by a transfer hook: the call takes the first asset, skips the revoked one and stays open, nothing reverts", async function () {
      const { ree, vault, vaultAddress, source, asset, stable } = await revokingSource(false);
      const call = vault.connect(sys.outsider).issueMarginCall();
      await expectCallIssued(vault, call);
      await expect(call)
        .to.emit(vault, "TopUpPulled")
        .withArgs(asset, source, E18(5_000n), USD(5_000n), 0n);
      await expect(call).not.to.emit(vault, "MarginCallMet");
      expect(await ree.reentered()).to.equal(true);
      expect(await sys.stable.allowance(source, vaultAddress)).to.equal(0n);
      expect(await sys.stable.balanceOf(source)).to.equal(E18(50_000n));
      expect(await vault.state()).to.equal(VaultState.MarginCall);
      expect(await vault.collateralValue()).to.equal(CALLED_VALUE + USD(5_000n));
      const [, , capsLeft] = await vault.topUpConfiguration();
      expect(capsLeft).to.deep.equal([0n, E18(50_000n)]);
      expect(await vault.balanceOf(stable)).to.equal(0n);
      await expectAccountedEqualsHeld(vault, [ree, sys.stable, sys.tbill]);
      // The pledgor meets the rest by hand.
      await sys.fund(sys.stable, sys.pledgor, vault, E18(4_000n));
      await expect(vault.connect(sys.pledgor).deposit(stable, E18(4_000n)))
        .to.emit(vault, "MarginCallMet")
        .withArgs(CALLED_VALUE + USD(9_000n), USD(1_000_000n));
    });

    it("the next asset's allowance revoked by a transfer hook: the asset after it meets the call", async function () {
      const { ree, vault, source, asset, stable, tbill } = await revokingSource(true);
      const call = vault.connect(sys.outsider).issueMarginCall();
      await expectCallIssued(vault, call);
      await expect(call)
        .to.emit(vault, "TopUpPulled")
        .withArgs(asset, source, E18(5_000n), USD(5_000n), 0n);
      // 4,000 / (0.92 x 0.98) rounded up to the raw unit: 4,436.557232 T-bills.
      await expect(call)
        .to.emit(vault, "TopUpPulled")
        .withArgs(
          tbill,
          source,
          4_436_557_232n,
          4_000_000_000_371_200_000_000n,
          TBILL(50_000n) - 4_436_557_232n,
        );
      await expect(call)
        .to.emit(vault, "MarginCallMet")
        .withArgs(CALLED_VALUE + USD(9_000n) + 371_200_000_000n, USD(1_000_000n));
      expect(await ree.reentered()).to.equal(true);
      const [, , capsLeft] = await vault.topUpConfiguration();
      expect(capsLeft).to.deep.equal([0n, E18(50_000n), TBILL(50_000n) - 4_436_557_232n]);
      expect(await vault.balanceOf(stable)).to.equal(0n);
      expect(await vault.balanceOf(tbill)).to.equal(TBILL(1_100_000n) + 4_436_557_232n);
      await expectAccountedEqualsHeld(vault, [ree, sys.stable, sys.tbill]);
    });

    it("attack 9, top-up under concentration caps: the stablecoin, first in the pledgor's order, is capped at 10% and adds only 120,000 of its 122,000; the T-bill after it covers the rest and the call is met in the same transaction (rule: progress is measured after caps)", async function () {
      const vault = await pledged({ exposure: USD(1_200_000n), schedule: await cappedSchedule() });
      const treasury = sys.admin;
      const [stable, tbill] = [await stableAddress(), await tbillAddress()];
      await sys.fund(sys.stable, treasury, vault, STABLE(200_000n));
      await sys.fund(sys.tbill, treasury, vault, TBILL(100_000n));
      await vault
        .connect(sys.pledgor)
        .configureTopUp(treasury.address, [stable, tbill], [STABLE(200_000n), TBILL(100_000n)]);

      expect(await vault.connect(sys.outsider).issueMarginCall.staticCall()).to.equal(true);
      // After the stablecoin: 1,078,000 + min(122,000, 10% of 1,200,000) = 1,198,000; 2,000 still needed, which
      // is 2,000 / 0.98 = 2,040.816327 T-bills (rounded up to the raw unit).
      const pulledTbill = 2_040_816_327n;
      const tbillsAfter = tbillValue(TBILL(1_100_000n) + pulledTbill);
      const uncapped = tbillsAfter + USD(122_000n);
      const valueAfter = tbillsAfter + (uncapped * 1_000n) / 10_000n;
      const issue = vault.connect(sys.outsider).issueMarginCall();
      await expect(issue)
        .to.emit(vault, "MarginCallIssued")
        .withArgs(
          sys.outsider.address,
          USD(122_000n),
          USD(122_000n),
          anyValue,
          USD(1_078_000n),
          USD(1_200_000n),
        );
      await expect(issue)
        .to.emit(vault, "TopUpPulled")
        .withArgs(stable, treasury.address, STABLE(122_000n), USD(122_000n), STABLE(78_000n));
      await expect(issue)
        .to.emit(vault, "TopUpPulled")
        .withArgs(
          tbill,
          treasury.address,
          pulledTbill,
          tbillValue(pulledTbill),
          TBILL(100_000n) - pulledTbill,
        );
      await expect(issue).to.emit(vault, "MarginCallMet").withArgs(valueAfter, USD(1_200_000n));
      expect(await vault.state()).to.equal(VaultState.Pledged);
      expect(await vault.collateralValue()).to.equal(valueAfter);
      expect(valueAfter).to.be.greaterThanOrEqual(USD(1_200_000n));
    });

    it("attack 9, top-up under concentration caps: with the capped stablecoin alone, the call stays open and only its value after the cap (120,000) counts as delivered (rule: each delivery counts at its value after caps)", async function () {
      const vault = await pledged({ exposure: USD(1_200_000n), schedule: await cappedSchedule() });
      const stable = await stableAddress();
      await sys.fund(sys.stable, sys.admin, vault, STABLE(200_000n));
      await vault
        .connect(sys.pledgor)
        .configureTopUp(sys.admin.address, [stable], [STABLE(200_000n)]);
      expect(await vault.connect(sys.outsider).issueMarginCall.staticCall()).to.equal(false);
      await expect(vault.connect(sys.outsider).issueMarginCall()).not.to.emit(
        vault,
        "MarginCallMet",
      );
      expect(await vault.state()).to.equal(VaultState.MarginCall);
      const [amount, , requirementAtIssue, delivered] = await vault.marginCall();
      expect([amount, requirementAtIssue, delivered]).to.deep.equal([
        USD(122_000n),
        USD(1_200_000n),
        USD(120_000n),
      ]);
      expect(await vault.collateralValue()).to.equal(USD(1_198_000n));
    });

    it("attack 9, top-up under concentration caps: a source that allows nothing adds nothing; the call stays open with nothing counted as delivered (rule: only what arrives counts)", async function () {
      const vault = await pledged({ exposure: USD(1_200_000n), schedule: await cappedSchedule() });
      const stable = await stableAddress();
      // The treasury holds the stablecoin but has approved nothing.
      await sys.stable.mint(sys.admin.address, STABLE(200_000n));
      await vault
        .connect(sys.pledgor)
        .configureTopUp(sys.admin.address, [stable], [STABLE(200_000n)]);
      await vault.connect(sys.outsider).issueMarginCall();
      expect(await vault.state()).to.equal(VaultState.MarginCall);
      const [amount, , , delivered] = await vault.marginCall();
      expect([amount, delivered]).to.deep.equal([USD(122_000n), 0n]);
    });

    it("attack 9, a delivery worth nothing: bonds listed at a 100% haircut, deposited during the call, go in but count nothing as delivered, and the call stays open (rule: each delivery counts at its value after haircuts)", async function () {
      const schedule = [
        await sys.line(sys.tbill, sys.tbillFeed, 200n),
        await sys.line(sys.bond, sys.bondFeed, 10_000n),
      ];
      const vault = await pledged({ exposure: USD(1_200_000n), schedule });
      await call(vault);
      const bond = await sys.bond.getAddress();
      await sys.fund(sys.bond, sys.pledgor, vault, BOND(10_000n));
      await vault.connect(sys.pledgor).deposit(bond, BOND(10_000n));
      expect(await vault.balanceOf(bond)).to.equal(BOND(10_000n));
      const [amount, , , delivered] = await vault.marginCall();
      expect([amount, delivered]).to.deep.equal([USD(122_000n), 0n]);
      expect(await vault.state()).to.equal(VaultState.MarginCall);
    });
  });
});

describe("MarginEngine.pullTopUpAsset", function () {
  let sys: System;
  const system = useSystem();
  beforeEach(function () {
    sys = system();
  });

  describe("refuses", function () {
    const { postedVault } = refusalSteps(() => sys);

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
  });
});
