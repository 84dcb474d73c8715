// AgreementFactory.openAgreement: one vault clone per agreement at the predicted address, its terms checked against
// the listing rules; no one squats an announced address.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

import { anyValue } from "@nomicfoundation/hardhat-ethers-chai-matchers/withArgs";
import { expect } from "chai";
import { ethers as ethersLib } from "ethers";

import {
  ONE_DAY,
  VaultState,
  defaultTerms,
  useSystem,
  type System,
  type Terms,
} from "../fixtures.js";
import { APPROPRIATION, Term, UINT32_MAX, ZERO, counterparty } from "../helpers/counterparty.js";
import { hostileTokens } from "../helpers/hostile.js";
import { TaskInputError, parseAgreementFile } from "../../scripts/tasks/actions.js";
import type { CollateralVault } from "../../types/ethers-contracts/index.js";

describe("AgreementFactory.openAgreement", function () {
  let sys: System;
  const system = useSystem();
  beforeEach(function () {
    sys = system();
  });

  const { oneBlock, sdkError, openWithoutAgent } = counterparty(() => sys);

  it("deploys the vault at the predicted address with the parties, terms and schedule", async function () {
    const salt = ethersLib.id("repo-2026-11");
    const predicted = await sys.factory.predictVault(
      sys.pledgor.address,
      sys.pledgor.address,
      sys.securedParty.address,
      sys.controlAgent.address,
      salt,
    );
    await expect(
      sys.factory
        .connect(sys.pledgor)
        .openAgreement(
          sys.pledgor.address,
          sys.securedParty.address,
          sys.controlAgent.address,
          defaultTerms,
          sys.schedule,
          salt,
        ),
    )
      .to.emit(sys.factory, "AgreementOpened")
      .withArgs(
        predicted,
        sys.pledgor.address,
        sys.securedParty.address,
        sys.controlAgent.address,
        sys.pledgor.address,
        salt,
        Object.values(defaultTerms),
      );
    const vault = await sys.ethers.getContractAt("CollateralVault", predicted);
    expect(await sys.factory.isVault(predicted)).to.equal(true);
    expect(await sys.factory.agreementCount()).to.equal(1n);
    expect(await vault.parties()).to.deep.equal([
      sys.pledgor.address,
      sys.securedParty.address,
      sys.controlAgent.address,
      await sys.factory.getAddress(),
    ]);
    expect(await vault.state()).to.equal(VaultState.Open);
    expect(await vault.listedAssets()).to.have.length(4);
    const line = await vault.eligibility(await sys.tbill.getAddress());
    expect(line.haircutBps).to.equal(200n);
    expect(line.pricedDecimals).to.equal(6n);
    expect(line.feedDecimals).to.equal(8n);
  });

  it("attack 10, nonsense terms: terms at the very bounds open; the SDK says what is out of range (TermOutOfRange sentences) (rule: terms within the listing rules)", async function () {
    const atBounds: Terms = {
      ...defaultTerms,
      liquidationPenaltyBps: 2_000n,
      maxLiquidationDiscountBps: 2_000n,
      curePeriod: 3_600n,
      disputeWindow: 3_600n,
      scheduleNoticePeriod: 3_600n,
      appropriationPeriod: ONE_DAY,
    };
    await sys.factory.checkTerms(atBounds);
    const vault = await sys.openAgreement({ terms: atBounds });
    expect((await vault.terms()).disputeWindow).to.equal(3_600n);
    await sys.factory.checkTerms({ ...defaultTerms, appropriationPeriod: 90n * ONE_DAY });

    const open = (terms: Terms) => openWithoutAgent(sys.pledgor, terms, ethersLib.id("x"));
    const discount = await sdkError(open({ ...defaultTerms, maxLiquidationDiscountBps: 10_001n }));
    expect(discount.message).to.equal(
      "TermOutOfRange: The term MaxLiquidationDiscountBps is 10001, outside 0..2000: the listing rules' range, " +
        "or for the rules themselves the bounds no deployment may pass (a dispute window is never longer than " +
        "the cure period).",
    );
    const window = await sdkError(open({ ...defaultTerms, disputeWindow: 2n * ONE_DAY }));
    expect(window.message).to.equal(
      "TermOutOfRange: The term DisputeWindow is 172800, outside 3600..86400: the listing rules' range, " +
        "or for the rules themselves the bounds no deployment may pass (a dispute window is never longer than " +
        "the cure period).",
    );
  });

  describe("refuses", function () {
    const { manyAssets } = hostileTokens(() => sys);

    afterEach(async function () {
      // A failed test must not leave the chain without automine (the snapshot restore does not reset it).
      await sys.ethers.provider.send("evm_setAutomine", [true]);
    });

    const cases: { what: string; change: Partial<Terms>; error: [Term, bigint, bigint, bigint] }[] =
      [
        {
          what: "a sale discount of 10,001 bps",
          change: { maxLiquidationDiscountBps: 10_001n },
          error: [Term.MaxLiquidationDiscountBps, 10_001n, 0n, 2_000n],
        },
        {
          what: "a sale discount of 10,000 bps (a sale for nothing)",
          change: { maxLiquidationDiscountBps: 10_000n },
          error: [Term.MaxLiquidationDiscountBps, 10_000n, 0n, 2_000n],
        },
        {
          what: "a penalty of 30,000 bps",
          change: { liquidationPenaltyBps: 30_000n },
          error: [Term.LiquidationPenaltyBps, 30_000n, 0n, 2_000n],
        },
        {
          what: "a cure period of 0",
          change: { curePeriod: 0n },
          error: [Term.CurePeriod, 0n, 3_600n, UINT32_MAX],
        },
        {
          what: "a dispute window (2 days) longer than the cure period (1 day)",
          change: { disputeWindow: 2n * ONE_DAY },
          error: [Term.DisputeWindow, 2n * ONE_DAY, 3_600n, ONE_DAY],
        },
        {
          what: "a dispute window of 0",
          change: { disputeWindow: 0n },
          error: [Term.DisputeWindow, 0n, 3_600n, ONE_DAY],
        },
        {
          what: "a schedule notice period of 0",
          change: { scheduleNoticePeriod: 0n },
          error: [Term.ScheduleNoticePeriod, 0n, 3_600n, UINT32_MAX],
        },
        {
          what: "an appropriation period of 0",
          change: { appropriationPeriod: 0n },
          error: [Term.AppropriationPeriod, 0n, ONE_DAY, 90n * ONE_DAY],
        },
        {
          what: "an appropriation period of 91 days",
          change: { appropriationPeriod: 91n * ONE_DAY },
          error: [Term.AppropriationPeriod, 91n * ONE_DAY, ONE_DAY, 90n * ONE_DAY],
        },
      ];

    it("refuses a creator who is not a party, identical parties, and a second initialisation", async function () {
      const { factory, pledgor, securedParty, outsider } = sys;
      await expect(
        factory
          .connect(outsider)
          .openAgreement(
            pledgor.address,
            securedParty.address,
            ethersLib.ZeroAddress,
            defaultTerms,
            sys.schedule,
            ethersLib.ZeroHash,
          ),
      )
        .to.be.revertedWithCustomError(factory, "CreatorNotAParty")
        .withArgs(outsider.address);
      await expect(
        factory
          .connect(pledgor)
          .openAgreement(
            pledgor.address,
            pledgor.address,
            ethersLib.ZeroAddress,
            defaultTerms,
            sys.schedule,
            ethersLib.ZeroHash,
          ),
      )
        .to.be.revertedWithCustomError(factory, "InvalidParties")
        .withArgs(pledgor.address, pledgor.address);
      const vault = await sys.openAgreement();
      await expect(vault.initialize(defaultTerms, [])).to.be.revertedWithCustomError(
        vault,
        "InvalidInitialization",
      );
    });

    for (const { what, change, error } of cases) {
      it(`attack 10, nonsense terms: ${what} is refused at open with TermOutOfRange(${error.join(", ")}) (rule: terms within the listing rules)`, async function () {
        const terms = { ...defaultTerms, ...change };
        const count = await sys.factory.agreementCount();
        await expect(openWithoutAgent(sys.pledgor, terms, ethersLib.id(what)))
          .to.be.revertedWithCustomError(sys.factory, "TermOutOfRange")
          .withArgs(...error);
        await expect(sys.factory.checkTerms(terms))
          .to.be.revertedWithCustomError(sys.factory, "TermOutOfRange")
          .withArgs(...error);
        expect(await sys.factory.agreementCount()).to.equal(count);
      });
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

    it("check d: the factory binds the creator into the salt: an outsider's or the secured party's prediction for the pledgor's announced salt is another address; the secured party's open in the same block lands elsewhere, and the pledgor's open at the announced address still works (rule: no one can squat an announced address)", async function () {
      const salt = ethersLib.id("announced by the pledgor");
      const predict = (creator: string) =>
        sys.factory.predictVault(
          creator,
          sys.pledgor.address,
          sys.securedParty.address,
          ZERO,
          salt,
        );
      const announced = await predict(sys.pledgor.address);
      const bySecuredParty = await predict(sys.securedParty.address);
      const byOutsider = await predict(sys.outsider.address);
      expect(new Set([announced, bySecuredParty, byOutsider]).size).to.equal(3);

      const open = (creator: typeof sys.pledgor, terms: Terms) =>
        openWithoutAgent(creator, terms, salt);
      await expect(open(sys.outsider, defaultTerms))
        .to.be.revertedWithCustomError(sys.factory, "CreatorNotAParty")
        .withArgs(sys.outsider.address);

      // The secured party sees the pledgor's open in the mempool and front-runs it with harsher terms.
      const harsh = { ...defaultTerms, liquidationPenaltyBps: 2_000n };
      const { outcomes } = await oneBlock([
        (o) => openWithoutAgent(sys.securedParty, harsh, salt, sys.schedule, o),
        (o) => openWithoutAgent(sys.pledgor, defaultTerms, salt, sys.schedule, o),
      ]);
      expect(outcomes).to.deep.equal([["ok"], ["ok"]]);
      expect(await sys.factory.isVault(announced)).to.equal(true);
      expect(await sys.factory.isVault(bySecuredParty)).to.equal(true);
      const vault = (await sys.ethers.getContractAt(
        "CollateralVault",
        announced,
      )) as unknown as CollateralVault;
      expect((await vault.terms()).liquidationPenaltyBps).to.equal(500n);
      const squat = (await sys.ethers.getContractAt(
        "CollateralVault",
        bySecuredParty,
      )) as unknown as CollateralVault;
      expect((await squat.terms()).liquidationPenaltyBps).to.equal(2_000n);
    });

    it("check d: a squatter's open first, then the pledgor's: the announced address is still free and the pledgor's open deploys there (rule: no one can squat an announced address)", async function () {
      const salt = ethersLib.id("announced, squatted first");
      const announced = await sys.factory.predictVault(
        sys.pledgor.address,
        sys.pledgor.address,
        sys.securedParty.address,
        ZERO,
        salt,
      );
      await openWithoutAgent(sys.securedParty, defaultTerms, salt);
      expect(await sys.ethers.provider.getCode(announced)).to.equal("0x");
      await expect(openWithoutAgent(sys.pledgor, defaultTerms, salt))
        .to.emit(sys.factory, "AgreementOpened")
        .withArgs(
          announced,
          sys.pledgor.address,
          sys.securedParty.address,
          ZERO,
          sys.pledgor.address,
          salt,
          anyValue,
        );
    });

    it("attack 10, nonsense terms: an agreement file whose amount is a JSON number is refused with TaskInputError before anything is sent; the same amount as a decimal string is read exactly (rule: agreement files take amounts as decimal strings only)", async function () {
      const folder = mkdtempSync(path.join(tmpdir(), "counterparty-"));
      const file = (minimumTransferAmount: string | number) => {
        const content = {
          securedParty: sys.securedParty.address,
          terms: {
            threshold: "0",
            independentAmount: "0",
            minimumTransferAmount,
            roundingAmount: "1000",
            curePeriod: 86_400,
            scheduleNoticePeriod: 172_800,
            disputeWindow: 86_400,
            liquidationPenaltyBps: 500,
            maxLiquidationDiscountBps: 300,
            appropriationPeriod: 604_800,
          },
          schedule: [
            {
              asset: sys.schedule[0].asset,
              feed: sys.schedule[0].feed,
              kind: "ERC20",
              maxPriceAge: 86_400,
              minAnswer: "1",
              maxAnswer: "100000000000000000000",
              haircutBps: 200,
              concentrationCapBps: 10_000,
            },
          ],
        };
        const where = path.join(folder, `agreement-${typeof minimumTransferAmount}.json`);
        writeFileSync(where, JSON.stringify(content));
        return where;
      };
      const numeric = file(1000.5);
      expect(() => parseAgreementFile(numeric))
        .to.throw(TaskInputError)
        .with.property(
          "message",
          `the agreement file ${numeric} does not match schemas/agreement.schema.json: terms.minimumTransferAmount must be a base-currency amount as a decimal string with at most 18 decimals, e.g. "500000.25", not the JSON number 1000.5`,
        );
      const parsed = parseAgreementFile(file("1000.5"));
      expect(parsed.terms.minimumTransferAmount).to.equal(1_000_500_000_000_000_000_000n);
      expect(parsed.terms.appropriationPeriod).to.equal(APPROPRIATION);
    });
  });
});
