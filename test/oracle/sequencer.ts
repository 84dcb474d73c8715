// PriceOracle.latestAnswer and the L2 sequencer check, at vault level: priced calls wait out an outage and its grace
// period, calls that need no price go on.
import { expect } from "chai";
import { ethers as ethersLib } from "ethers";

import { ONE_DAY, VaultState, useSystem, type System } from "../fixtures.js";
import { CALLED_VALUE, E18, TBILL, USD, adversary, calledTerms } from "../helpers/adversary.js";
import { erc20Leg, signSettlement, type Settlement } from "../helpers/dvp.js";
import { hostileFlows } from "../helpers/hostile.js";
import { deploySystem as deploySdkSystem } from "../../sdk/deploy.js";
import type {
  AgreementFactory,
  CollateralVault,
  DvPSettlement,
  MockPriceFeed,
} from "../../types/ethers-contracts/index.js";

describe("PriceOracle.latestAnswer: the L2 sequencer", function () {
  let sys: System;
  const system = useSystem();
  beforeEach(function () {
    sys = system();
  });

  const { deploy, pledge, postTbill } = adversary(() => sys);

  const GRACE = 3_600n;

  /**
   * A second deployment, through the SDK, whose factory checks an L2 sequencer uptime feed (answer 0 = up,
   * 1 = down; startedAt = when the status last changed) with a one-hour grace period; up since long ago.
   */
  async function sequencedSystem() {
    const uptime = await deploy<MockPriceFeed>("MockPriceFeed", [0n, 0n]);
    await uptime.setRound(1n, 0n, 1n, 1n, 1n);
    const uptimeFeed = await uptime.getAddress();
    const book = await deploySdkSystem(sys.admin, {
      network: "test",
      sequencer: { uptimeFeed, gracePeriod: Number(GRACE) },
    });
    const factory = (await sys.ethers.getContractAt(
      "AgreementFactory",
      book.contracts.AgreementFactory.address,
    )) as unknown as AgreementFactory;
    const dvp = (await sys.ethers.getContractAt(
      "DvPSettlement",
      book.contracts.DvPSettlement.address,
    )) as unknown as DvPSettlement;
    expect(await factory.sequencerCheck()).to.deep.equal([uptimeFeed, GRACE]);

    let count = 0;
    /** An Open agreement of the sequenced deployment, with the fixture's schedule. */
    async function open(): Promise<CollateralVault> {
      const salt = ethersLib.id(`sequenced-${count++}`);
      const [pledgor, securedParty] = [sys.pledgor.address, sys.securedParty.address];
      const predicted = await factory.predictVault(
        pledgor,
        pledgor,
        securedParty,
        ethersLib.ZeroAddress,
        salt,
      );
      await factory
        .connect(sys.pledgor)
        .openAgreement(
          pledgor,
          securedParty,
          ethersLib.ZeroAddress,
          calledTerms,
          sys.schedule,
          salt,
        );
      return (await sys.ethers.getContractAt(
        "CollateralVault",
        predicted,
      )) as unknown as CollateralVault;
    }
    /** 1,100,000 T-bills pledged against an exposure of 800,000 (requirement 1,000,000). */
    async function pledged(): Promise<CollateralVault> {
      const vault = await open();
      await postTbill(vault, TBILL(1_100_000n));
      await pledge(vault);
      await vault.connect(sys.securedParty).setExposure(USD(800_000n));
      return vault;
    }
    /** `pledged`, the mark past its dispute window, the pledgor's default and the notice: 840,000 due. */
    async function controlled(): Promise<CollateralVault> {
      const vault = await pledged();
      await sys.pastDisputeWindow();
      await vault.connect(sys.pledgor).declareDefault();
      await vault.connect(sys.securedParty).deliverNoticeOfExclusiveControl(ethersLib.id("NEC"));
      return vault;
    }
    const now = async () => BigInt(await sys.networkHelpers.time.latest());
    const goDown = async () => {
      const t = await now();
      await uptime.setRound(2n, 1n, t, t, 2n);
    };
    /** The sequencer reports up again; returns the `startedAt` it reports. */
    const comeBack = async () => {
      const t = await now();
      await uptime.setRound(3n, 0n, t, t, 3n);
      return t;
    };
    return { uptimeFeed, factory, dvp, open, pledged, controlled, goDown, comeBack };
  }

  it("sequencer down: a deposit and a withdrawal on an Open vault, a deposit into a called vault and a release still work (they need no price)", async function () {
    const seq = await sequencedSystem();
    const tbill = await sys.tbill.getAddress();
    const stable = await sys.stable.getAddress();
    const openVault = await seq.open();
    const releasedVault = await seq.pledged();
    const calledVault = await seq.pledged();
    await sys.tbillFeed.setAnswer(92_000000n);
    await calledVault.connect(sys.outsider).issueMarginCall();
    expect(await calledVault.state()).to.equal(VaultState.MarginCall);
    await seq.goDown();
    await expect(releasedVault.collateralValue())
      .to.be.revertedWithCustomError(releasedVault, "SequencerDown")
      .withArgs(seq.uptimeFeed);

    await postTbill(openVault, TBILL(1_000n));
    await expect(openVault.connect(sys.pledgor).withdraw(tbill, TBILL(400n), sys.pledgor.address))
      .to.emit(openVault, "Withdrawn")
      .withArgs(tbill, sys.pledgor.address, TBILL(400n), TBILL(600n));
    await postTbill(releasedVault, TBILL(5_000n));
    await expect(releasedVault.connect(sys.securedParty).release())
      .to.emit(releasedVault, "CollateralReturned")
      .withArgs(tbill, sys.pledgor.address, TBILL(1_105_000n));
    expect(await releasedVault.state()).to.equal(VaultState.Released);
    expect(await sys.tbill.balanceOf(sys.pledgor.address)).to.equal(TBILL(1_105_400n));
    // The deposit lands; the call stays open because coverage cannot be valued until the grace period ends.
    await sys.fund(sys.stable, sys.pledgor, calledVault, E18(9_000n));
    await expect(calledVault.connect(sys.pledgor).deposit(stable, E18(9_000n)))
      .to.emit(calledVault, "Deposited")
      .withArgs(stable, sys.pledgor.address, E18(9_000n), E18(9_000n));
    expect(await calledVault.state()).to.equal(VaultState.MarginCall);

    await seq.comeBack();
    await sys.networkHelpers.time.increase(GRACE);
    await sys.tbillFeed.setAnswer(92_000000n);
    await sys.stableFeed.setAnswer(1_00000000n);
    await expect(calledVault.closeMarginCall())
      .to.emit(calledVault, "MarginCallMet")
      .withArgs(CALLED_VALUE + USD(9_000n), USD(1_000_000n));
  });

  describe("refuses", function () {
    const { ledger } = hostileFlows(() => sys);

    /** The five calls that price collateral, each as it succeeds on a live sequencer. */
    async function pricedCalls(
      pledgedVault: CollateralVault,
      controlledVault: CollateralVault,
      dvp: DvPSettlement,
    ) {
      const tbill = await sys.tbill.getAddress();
      const stable = await sys.stable.getAddress();
      const buyer = sys.outsider;
      await sys.fund(sys.stable, sys.pledgor, pledgedVault, E18(1_000n));
      await sys.fund(sys.stable, buyer, dvp, E18(99_000n));
      const { chainId } = await sys.ethers.provider.getNetwork();
      const deadline = BigInt(await sys.networkHelpers.time.latest()) + ONE_DAY;
      const settlement: Settlement = {
        legs: [
          erc20Leg(tbill, TBILL(100_000n), await controlledVault.getAddress(), buyer.address),
          erc20Leg(stable, E18(99_000n), buyer.address, sys.securedParty.address),
        ],
        deadline,
        nonce: 1n,
      };
      const signature = await signSettlement(buyer, settlement, chainId, await dvp.getAddress());
      return {
        withdraw: () =>
          pledgedVault.connect(sys.pledgor).withdraw(tbill, TBILL(10_000n), sys.pledgor.address),
        substitute: () =>
          pledgedVault
            .connect(sys.pledgor)
            .substitute(stable, E18(1_000n), tbill, TBILL(1_000n), sys.pledgor.address),
        issueMarginCall: () => pledgedVault.connect(sys.outsider).issueMarginCall(),
        instructTransfer: () =>
          controlledVault
            .connect(sys.securedParty)
            .instructTransfer(tbill, TBILL(1_000n), sys.securedParty.address),
        liquidate: () =>
          controlledVault
            .connect(sys.securedParty)
            .liquidate(
              tbill,
              TBILL(100_000n),
              stable,
              E18(99_000n),
              buyer.address,
              deadline,
              1n,
              signature,
            ),
      };
    }

    it("sequencer down: a pledged withdrawal, a margin call, a substitution, an instructed transfer and a liquidation revert SequencerDown; the lens reports prices invalid", async function () {
      const seq = await sequencedSystem();
      const pledgedVault = await seq.pledged();
      const controlledVault = await seq.controlled();
      const calls = await pricedCalls(pledgedVault, controlledVault, seq.dvp);
      await sys.tbillFeed.setAnswer(92_000000n); // a call for 9,000 would be due on a live sequencer
      expect((await sys.lens.status(await pledgedVault.getAddress())).marginCallDue).to.equal(true);
      await seq.goDown();
      const tokens = { tbill: sys.tbill, stable: sys.stable };
      const holders = {
        pledgor: sys.pledgor.address,
        securedParty: sys.securedParty.address,
        buyer: sys.outsider.address,
        pledgedVault,
        controlledVault,
      };
      const vaults = { pledgedVault, controlledVault };
      const before = await ledger(tokens, holders, vaults);

      for (const [name, call] of Object.entries(calls)) {
        await expect(call(), name)
          .to.be.revertedWithCustomError(pledgedVault, "SequencerDown")
          .withArgs(seq.uptimeFeed);
      }
      expect(await ledger(tokens, holders, vaults)).to.deep.equal(before);
      expect(await controlledVault.appropriation()).to.deep.equal([USD(840_000n), 0n]);

      const status = await sys.lens.status(await pledgedVault.getAddress());
      expect([status.pricesValid, status.marginCallDue, status.collateralValue]).to.deep.equal([
        false,
        false,
        0n,
      ]);
      const position = status.positions[0];
      expect([
        position.asset,
        position.priceValid,
        position.balance,
        position.marketValue,
      ]).to.deep.equal([await sys.tbill.getAddress(), false, TBILL(1_100_000n), 0n]);
      // A keeper's batch skips the vault instead of reverting.
      expect(
        await seq.factory.issueMarginCalls.staticCall([await pledgedVault.getAddress()]),
      ).to.deep.equal([0n]);
    });

    it("sequencer back up: during the grace period the same five calls revert SequencerGracePeriodNotOver; after it they all work", async function () {
      const seq = await sequencedSystem();
      const pledgedVault = await seq.pledged();
      const controlledVault = await seq.controlled();
      const calls = await pricedCalls(pledgedVault, controlledVault, seq.dvp);
      await seq.goDown();
      await sys.networkHelpers.time.increase(600n);
      const upSince = await seq.comeBack();

      for (const [name, call] of Object.entries(calls)) {
        await expect(call(), name)
          .to.be.revertedWithCustomError(pledgedVault, "SequencerGracePeriodNotOver")
          .withArgs(
            seq.uptimeFeed,
            upSince,
            GRACE,
            (nowTs: bigint) => nowTs > upSince && nowTs < upSince + GRACE,
          );
      }
      expect(await pledgedVault.balanceOf(await sys.tbill.getAddress())).to.equal(
        TBILL(1_100_000n),
      );
      expect(await controlledVault.appropriation()).to.deep.equal([USD(840_000n), 0n]);

      await sys.networkHelpers.time.increase(GRACE);
      await sys.tbillFeed.setAnswer(1_00000000n);
      await sys.stableFeed.setAnswer(1_00000000n);
      await expect(calls.withdraw())
        .to.emit(pledgedVault, "Withdrawn")
        .withArgs(
          await sys.tbill.getAddress(),
          sys.pledgor.address,
          TBILL(10_000n),
          TBILL(1_090_000n),
        );
      await expect(calls.substitute()).to.emit(pledgedVault, "Substituted");
      await expect(calls.instructTransfer()).to.emit(controlledVault, "TransferInstructed");
      await expect(calls.liquidate()).to.emit(controlledVault, "Liquidated");
      expect(await controlledVault.appropriation()).to.deep.equal([USD(840_000n), USD(100_000n)]);
      await sys.tbillFeed.setAnswer(92_000000n);
      await expect(calls.issueMarginCall()).to.emit(pledgedVault, "MarginCallIssued");
      expect(await pledgedVault.state()).to.equal(VaultState.MarginCall);
      expect(await sys.tbill.balanceOf(sys.pledgor.address)).to.equal(TBILL(11_000n));
      expect(await sys.stable.balanceOf(sys.securedParty.address)).to.equal(E18(99_000n));
    });
  });
});
