import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

import { expect } from "chai";
import { ethers as ethersLib } from "ethers";
import { network } from "hardhat";

import {
  CollateralError,
  CollateralSystem,
  auditTrailToCsv,
  auditTrailToJson,
  buildAuditTrail,
  InputError,
  buildSettlement,
  cancelNonce,
  decodeError,
  deploySystem,
  erc20Leg,
  formatAmount,
  formatWad,
  loadAddressBook,
  parseAmount,
  settle,
  settlementDigest,
  signSettlement,
  TokenKind,
  verifySettlementSignature,
  type AddressBook,
  type EligibilityLine,
} from "../sdk/index.js";
import { ERROR_FRAGMENTS, ERROR_MESSAGES } from "../sdk/errors.js";
import {
  DvPSettlement__factory,
  type MockERC20,
  type MockPriceFeed,
} from "../types/ethers-contracts/index.js";
import { defaultTerms, ONE_DAY, WAD } from "./fixtures.js";

describe("SDK", function () {
  let connection: Awaited<ReturnType<typeof network.create>>;
  let book: AddressBook;
  let folder: string;
  let snapshot: { restore(): Promise<void> };
  let signers: Awaited<ReturnType<typeof connection.ethers.getSigners>>;
  let tbill: MockERC20;
  let feed: MockPriceFeed;
  let schedule: EligibilityLine[];

  before(async function () {
    connection = await network.create();
    signers = await connection.ethers.getSigners();
    folder = mkdtempSync(path.join(tmpdir(), "deployments-"));
    book = await deploySystem(signers[0], {
      network: "hardhat-test",
      writeTo: folder,
      guardian: signers[5].address,
    });
    tbill = (await connection.ethers.deployContract("MockERC20", [
      "T-Bill",
      "TBILL",
      6,
    ])) as unknown as MockERC20;
    feed = (await connection.ethers.deployContract("MockPriceFeed", [
      8,
      1_00000000n,
    ])) as unknown as MockPriceFeed;
    schedule = [
      {
        asset: await tbill.getAddress(),
        feed: await feed.getAddress(),
        kind: 0,
        maxPriceAge: ONE_DAY,
        minAnswer: 1n,
        maxAnswer: 10n ** 12n,
        haircutBps: 200n,
        concentrationCapBps: 10_000n,
      },
    ];
    snapshot = await connection.networkHelpers.takeSnapshot();
  });

  afterEach(async function () {
    await snapshot.restore();
    snapshot = await connection.networkHelpers.takeSnapshot();
  });

  const [PLEDGOR, SECURED, , , OUTSIDER] = [1, 2, 3, 4, 6];

  async function opened() {
    const system = new CollateralSystem(book, signers[PLEDGOR]);
    const { agreement } = await system.openAgreement({
      pledgor: signers[PLEDGOR].address,
      securedParty: signers[SECURED].address,
      terms: defaultTerms,
      schedule,
    });
    return { system, agreement };
  }

  describe("deployment", function () {
    it("deploys the system and writes an address book it can load by name and by chain id", async function () {
      const byName = loadAddressBook("hardhat-test", folder);
      const byChainId = loadAddressBook(31337, folder);
      expect(byName).to.deep.equal(book);
      expect(byChainId.contracts.AgreementFactory.address).to.equal(
        book.contracts.AgreementFactory.address,
      );
      for (const contract of Object.values(book.contracts)) {
        expect(contract.compilerVersion).to.equal("0.8.28");
        expect(contract.metadataHash).to.match(/^0x1220[0-9a-f]{64}$/);
        expect(await connection.ethers.provider.getCode(contract.address)).to.not.equal("0x");
      }
      expect(() => loadAddressBook("mainnet", folder)).to.throw(/no address book for "mainnet"/);
    });

    it("grants the guardian, and only the guardian, the pause", async function () {
      const factory = new CollateralSystem(book, signers[5]).factory;
      await factory.pause();
      expect(await factory.paused()).to.equal(true);
      const system = new CollateralSystem(book, signers[OUTSIDER]);
      const error = await system.factory.unpause().then(
        () => undefined,
        (e: unknown) => decodeError(e),
      );
      expect(error).to.be.instanceOf(CollateralError);
      expect(error!.message).to.equal(
        `AccessManagedUnauthorized: ${signers[OUTSIDER].address} does not hold the role this function needs`,
      );
    });
  });

  describe("agreements", function () {
    it("opens an agreement at the predicted address and reads its status", async function () {
      const system = new CollateralSystem(book, signers[PLEDGOR]);
      const salt = ethersLib.id("isda-csa-2026");
      const predicted = await system.predictVault({
        creator: signers[PLEDGOR].address,
        pledgor: signers[PLEDGOR].address,
        securedParty: signers[SECURED].address,
        salt,
      });
      const { vault, events } = await system.openAgreement({
        pledgor: signers[PLEDGOR].address,
        securedParty: signers[SECURED].address,
        terms: defaultTerms,
        schedule,
        salt,
      });
      expect(vault).to.equal(predicted);
      expect(events.map((e) => e.name)).to.include("AgreementOpened");
      expect(await system.agreements()).to.deep.equal([vault]);
      const status = await system.agreement(vault).status();
      expect(status.state).to.equal("Open");
      expect(status.coverageBps).to.equal(undefined);
    });

    it("deposits approving only what is missing, pledges by signature, and reports coverage", async function () {
      const { system, agreement } = await opened();
      const tbillAddress = await tbill.getAddress();
      await tbill.mint(signers[PLEDGOR].address, parseAmount("1000000", 6));
      await tbill.connect(signers[PLEDGOR]).approve(agreement.address, parseAmount("400000", 6));
      const { events } = await agreement.deposit(tbillAddress, parseAmount("1000000", 6));
      expect(events.find((e) => e.name === "Deposited")!.args.amount).to.equal(
        parseAmount("1000000", 6),
      );
      // The allowance was raised to exactly the deposit, and is now spent.
      expect(await tbill.allowance(signers[PLEDGOR].address, agreement.address)).to.equal(0n);

      const deadline = BigInt(await connection.networkHelpers.time.latest()) + ONE_DAY;
      const signature = await agreement.as(signers[SECURED]).signPledgeConsent(deadline);
      await agreement.pledgeWithSignature(deadline, signature);
      await agreement.as(signers[SECURED]).setExposure(490_000n * WAD);
      const [status] = await system.statusOf([agreement.address]);
      expect(status.state).to.equal("Pledged");
      expect(status.collateralValue).to.equal(980_000n * WAD);
      expect(status.coverageBps).to.equal(20_000n);
      expect(status.positions[0]).to.include({ haircutBps: 200, priceValid: true, eligible: true });

      await agreement.withdraw(tbillAddress, parseAmount("500000", 6));
      expect(await tbill.balanceOf(signers[PLEDGOR].address)).to.equal(parseAmount("500000", 6));
    });

    it("turns every failure into a typed error that says what was wrong", async function () {
      const { agreement } = await opened();
      const tbillAddress = await tbill.getAddress();
      const other = await connection.ethers.deployContract("MockERC20", ["Other", "OTH", 18]);
      await other.mint(signers[PLEDGOR].address, 5n);
      const ineligible = await agreement
        .as(signers[SECURED])
        .withdraw(await other.getAddress(), 5n)
        .catch((e: unknown) => e);
      expect(ineligible).to.be.instanceOf(CollateralError);
      expect((ineligible as CollateralError).errorName).to.equal("Unauthorized");
      const unauthorised = await agreement
        .as(signers[SECURED])
        .withdraw(tbillAddress, 1n)
        .catch((e: unknown) => e);
      expect((unauthorised as Error).message).to.equal(
        `Unauthorized: ${signers[SECURED].address} may not do this; only ${signers[PLEDGOR].address} may.`,
      );
      const tooMuch = await agreement.withdraw(tbillAddress, 7n).catch((e: unknown) => e);
      expect((tooMuch as CollateralError).args.toArray()).to.deep.equal([tbillAddress, 0n, 7n]);
      const noCall = await agreement.issueMarginCall().catch((e: unknown) => e);
      expect((noCall as Error).message).to.match(/^InvalidState: The vault is Open/);
      const zero = await agreement.deposit(tbillAddress, 0n).catch((e: unknown) => e);
      expect(zero).to.be.instanceOf(InputError);
      expect((zero as Error).message).to.equal("the deposit amount must be above zero");
    });

    it("refuses a deposit the vault or the wallet would refuse before sending anything, the approval included", async function () {
      const { agreement } = await opened();
      const pledgor = signers[PLEDGOR].address;
      const vault = agreement.address;
      const tbillAddress = await tbill.getAddress();
      const other = await connection.ethers.deployContract("MockERC20", ["Other", "OTH", 18]);
      await other.mint(pledgor, 5n);
      await tbill.mint(pledgor, 1_000_000n); // 1 TBILL
      await tbill.mint(signers[SECURED].address, 1_000_000n);
      const nothingSent = async (attempt: () => Promise<unknown>, message: string) => {
        const block = await connection.ethers.provider.getBlockNumber();
        const error = await attempt().catch((e: unknown) => e);
        expect(error).to.be.instanceOf(InputError);
        expect((error as Error).message).to.equal(message);
        expect(await connection.ethers.provider.getBlockNumber()).to.equal(block);
        for (const owner of [pledgor, signers[SECURED].address]) {
          expect(await tbill.allowance(owner, vault)).to.equal(0n);
          expect(await other.allowance(owner, vault)).to.equal(0n);
        }
      };
      await nothingSent(
        () => agreement.deposit(tbillAddress, 2_000_000n),
        `${pledgor} holds 1.0 TBILL, less than the 2.0 TBILL to deposit`,
      );
      await nothingSent(
        () => agreement.as(signers[SECURED]).deposit(tbillAddress, 1n),
        `${signers[SECURED].address} is not this agreement's pledgor (${pledgor}); only the pledgor may deposit`,
      );
      await nothingSent(
        async () => agreement.deposit(await other.getAddress(), 5n),
        `asset ${await other.getAddress()} is not eligible collateral under the agreement's schedule`,
      );
      await nothingSent(
        () => agreement.deposit(tbillAddress, 0n),
        "the deposit amount must be above zero",
      );
      await nothingSent(
        () => agreement.substitute(tbillAddress, 1n, tbillAddress, 1n),
        "the vault is Open; a substitute needs it Pledged",
      );
      // A good deposit still goes through: approval, then the deposit.
      await agreement.deposit(tbillAddress, 1_000_000n);
      expect(await tbill.balanceOf(vault)).to.equal(1_000_000n);
      // Every transaction is simulated first: the contract's refusal comes back without a transaction mined.
      const block = await connection.ethers.provider.getBlockNumber();
      const refused = await agreement.withdraw(tbillAddress, 2_000_000n).catch((e: unknown) => e);
      expect(refused).to.be.instanceOf(CollateralError);
      expect((refused as CollateralError).errorName).to.equal("InsufficientCollateral");
      expect(await connection.ethers.provider.getBlockNumber()).to.equal(block);
    });

    it("validates human amounts against the token's decimals", function () {
      expect(parseAmount("1250.5", 6)).to.equal(1_250_500_000n);
      expect(() => parseAmount("1.1234567", 6, "TBILL")).to.throw(
        InputError,
        '"1.1234567" has 7 decimals, but TBILL has only 6',
      );
      expect(() => parseAmount("-3", 6)).to.throw(InputError, "is not a positive decimal amount");
      expect(formatAmount(1_234_500_000n, 6)).to.equal("1,234.5");
      expect(formatAmount(1_234_567_891n, 6, 2)).to.equal("1,234.56"); // truncated, never rounded up
      expect(formatAmount(0n, 6)).to.equal("0");
      expect(formatWad(-(10n ** 22n) - 5n * 10n ** 17n)).to.equal("-10,000.5");
    });

    it("runs a keeper batch and reports which agreements got a call", async function () {
      const { system, agreement } = await opened();
      await tbill.mint(signers[PLEDGOR].address, parseAmount("1000", 6));
      await agreement.deposit(await tbill.getAddress(), parseAmount("1000", 6));
      await agreement.consentToPledge();
      await agreement.as(signers[SECURED]).consentToPledge();
      await agreement.as(signers[SECURED]).setExposure(5_000n * WAD);
      const keeper = new CollateralSystem(book, signers[OUTSIDER]);
      const { called, met } = await keeper.issueMarginCalls([agreement.address]);
      expect(called).to.deep.equal([agreement.address]);
      expect(met).to.deep.equal([]);
      expect((await system.agreement(agreement.address).status()).state).to.equal("MarginCall");
      // The audit trail names who sent each transaction: the call's `keeper` argument is the factory that ran the
      // batch, its sender the keeper.
      const trail = await buildAuditTrail(connection.ethers.provider, book, agreement.address);
      const issued = trail.entries.find((e) => e.event === "MarginCallIssued")!;
      expect(issued.args.keeper).to.equal(book.contracts.AgreementFactory.address);
      expect(issued.sender).to.equal(signers[OUTSIDER].address);
      expect(trail.entries.find((e) => e.event === "Deposited")!.sender).to.equal(
        signers[PLEDGOR].address,
      );
      expect(auditTrailToCsv(trail)).to.include(`,${signers[OUTSIDER].address},`);
    });
  });

  describe("margin workflow through the SDK", function () {
    it("substitutes, disputes, calls and closes margin, and cancels a DvP nonce, with typed errors on failure", async function () {
      const { agreement } = await opened();
      const [pledgor, securedParty, keeper] = [
        signers[PLEDGOR],
        signers[SECURED],
        signers[OUTSIDER],
      ];
      const tbillAddress = await tbill.getAddress();
      const cash = (await connection.ethers.deployContract("MockERC20", [
        "Cash",
        "USD",
        6,
      ])) as unknown as MockERC20;
      const cashAddress = await cash.getAddress();
      await agreement
        .as(securedParty)
        .changeEligibility({ ...schedule[0], asset: cashAddress, haircutBps: 0n });
      await tbill.mint(pledgor.address, parseAmount("1000000", 6));
      await agreement.deposit(tbillAddress, parseAmount("1000000", 6));
      await agreement.consentToPledge();
      await agreement.as(securedParty).consentToPledge();
      await agreement.as(securedParty).setExposure(900_000n * WAD); // 980,000 of value against 900,000

      // Substitution: 100,000 of cash in for 100,000 T-bills out, in one transaction.
      await cash.mint(pledgor.address, parseAmount("100000", 6));
      const { events } = await agreement.substitute(
        cashAddress,
        parseAmount("100000", 6),
        tbillAddress,
        parseAmount("100000", 6),
      );
      expect(events.map((e) => e.name)).to.include("Substituted");

      // Dispute: the undisputed 850,000 stays callable; the secured party lowers its mark to 870,000 and the
      // pledgor raises its figure to meet it, which ends the dispute there.
      await agreement.disputeExposure(850_000n * WAD);
      expect((await agreement.status()).undisputedExposure).to.equal(850_000n * WAD);
      const badResolution = await agreement.resolveDispute(1n).catch((e: unknown) => e);
      expect((badResolution as CollateralError).errorName).to.equal("InvalidResolution");
      await agreement.as(securedParty).setExposure(870_000n * WAD);
      expect((await agreement.status()).disputed).to.equal(true);
      await agreement.resolveDispute(870_000n * WAD);
      expect(await agreement.enforceableExposure()).to.equal(870_000n * WAD);

      // A price drop: the keeper's call, then a price recovery lets anyone close it.
      await feed.setAnswer(90_000000n); // 900,000 T-bills x 0.90 x 0.98 + 100,000 = 893,800: covered
      const notDue = await agreement
        .as(keeper)
        .issueMarginCall()
        .catch((e: unknown) => e);
      expect((notDue as CollateralError).errorName).to.equal("NoMarginCallDue");
      await feed.setAnswer(80_000000n); // 705,600 + 100,000 = 805,600 < 870,000: a call
      const call = await agreement.as(keeper).issueMarginCall();
      expect(call.met).to.equal(false);
      expect((await agreement.status()).state).to.equal("MarginCall");
      const stillShort = await agreement
        .as(keeper)
        .closeMarginCall()
        .catch((e: unknown) => e);
      expect((stillShort as CollateralError).errorName).to.equal("MarginCallNotMet");
      await feed.setAnswer(100_000000n);
      await agreement.as(keeper).closeMarginCall();
      expect((await agreement.status()).state).to.equal("Pledged");
      // Closing it again (or after a deposit that met it) says so in words and sends nothing.
      const block = await connection.ethers.provider.getBlockNumber();
      const again = await agreement
        .as(keeper)
        .closeMarginCall()
        .catch((e: unknown) => e);
      expect(again).to.be.instanceOf(InputError);
      expect((again as Error).message).to.match(
        /^no margin call is open \(the vault is Pledged\): the last call was met and closed already/,
      );
      expect(await connection.ethers.provider.getBlockNumber()).to.equal(block);

      // A DvP nonce cancelled by its owner can no longer settle.
      const dvp = book.contracts.DvPSettlement.address;
      await cancelNonce(securedParty, dvp, 42n);
      const dvpContract = DvPSettlement__factory.connect(dvp, connection.ethers.provider);
      expect(await dvpContract.isNonceUsed(securedParty.address, 42n)).to.equal(true);
    });
  });

  describe("audit trail", function () {
    it("rebuilds an agreement's history from events and reconciles it with the vault's balances", async function () {
      const { agreement } = await opened();
      const tbillAddress = await tbill.getAddress();
      const [pledgor, securedParty, buyer] = [
        signers[PLEDGOR],
        signers[SECURED],
        signers[OUTSIDER],
      ];
      const cash = (await connection.ethers.deployContract("MockERC20", [
        "Cash",
        "USD",
        6,
      ])) as unknown as MockERC20;
      await agreement
        .as(securedParty)
        .changeEligibility({ ...schedule[0], asset: await cash.getAddress(), haircutBps: 0n });
      await tbill.mint(pledgor.address, parseAmount("1000", 6));
      await agreement.deposit(tbillAddress, parseAmount("1000", 6));
      await agreement.withdraw(tbillAddress, parseAmount("100", 6));
      await agreement.consentToPledge();
      await agreement.as(securedParty).consentToPledge();
      await agreement.as(securedParty).setExposure(500n * WAD);
      // A donation: held, never accounted.
      await tbill.mint(agreement.address, 7n);
      // The mark is enforceable once its dispute window has passed (prices republished).
      await connection.networkHelpers.time.increase(ONE_DAY + 1n);
      await feed.setAnswer(await feed.answer());
      await agreement.declareDefault();
      await agreement
        .as(securedParty)
        .deliverNoticeOfExclusiveControl("Notice of Exclusive Control, 2026-11-23");
      await cash.mint(buyer.address, parseAmount("200", 6));
      const deadline = BigInt(await connection.networkHelpers.time.latest()) + 600n;
      const order = await agreement.signLiquidation(buyer, {
        asset: tbillAddress,
        amount: parseAmount("200", 6),
        cashToken: await cash.getAddress(),
        cashAmount: parseAmount("196", 6),
        buyer: buyer.address,
        deadline,
      });
      // One return shape: the sale's settlement id is the decoded return value, and its events are decoded.
      const sale = await agreement.as(securedParty).liquidate(order);
      expect(sale.result).to.match(/^0x[0-9a-f]{64}$/);
      expect(sale.events.map((e) => e.name)).to.include.members(["Liquidated", "Settled"]);
      expect(sale.receipt.hash).to.equal(sale.hash);
      await agreement
        .as(securedParty)
        .instructTransfer(tbillAddress, parseAmount("300", 6), securedParty.address);
      await agreement.as(securedParty).release();

      const trail = await buildAuditTrail(connection.ethers.provider, book, agreement.address);
      const events = trail.entries.map((e) => e.event);
      expect(events[0]).to.equal("AgreementOpened");
      for (const name of [
        "Deposited",
        "Withdrawn",
        "PledgeConsented",
        "ExposureSet",
        "DefaultDeclared",
        "NoticeOfExclusiveControlDelivered",
        "Liquidated",
        "Settled",
        "LegSettled",
        "TransferInstructed",
        "Released",
        "CollateralReturned",
      ]) {
        expect(events, name).to.include(name);
      }
      const tbillLine = trail.reconciliation.find((r) => r.asset === tbillAddress)!;
      expect(tbillLine).to.deep.equal({
        asset: tbillAddress,
        replayed: "0",
        accounted: "0",
        held: "7",
        matches: true,
      });
      expect(trail.reconciled).to.equal(true);

      // Stopping the replay before the release reconciles against the balances of that block.
      const beforeRelease = await buildAuditTrail(
        connection.ethers.provider,
        book,
        agreement.address,
        {
          toBlock: trail.entries.find((e) => e.event === "Released")!.blockNumber - 1,
        },
      );
      expect(beforeRelease.reconciliation.find((r) => r.asset === tbillAddress)!.replayed).to.equal(
        parseAmount("400", 6).toString(),
      );
      expect(beforeRelease.reconciled).to.equal(true);

      const csv = auditTrailToCsv(trail).split("\n");
      expect(csv[0]).to.equal("block,timestamp,transaction,sender,log_index,contract,event,args");
      expect(csv.filter((line) => line.includes(",Deposited,"))).to.have.length(1);
      expect(csv).to.include("reconciliation_asset,replayed,accounted,held,matches");
      expect(JSON.parse(auditTrailToJson(trail)).entries).to.have.length(trail.entries.length);
    });

    it("credits a surplus with reconcile, and the audit trail replays the Reconciled entry", async function () {
      const { agreement } = await opened();
      const tbillAddress = await tbill.getAddress();
      await tbill.mint(signers[PLEDGOR].address, parseAmount("1000", 6));
      await agreement.deposit(tbillAddress, parseAmount("1000", 6));
      await tbill.mint(agreement.address, 7n); // a positive rebase, say
      const outsider = await agreement
        .as(signers[OUTSIDER])
        .reconcile(tbillAddress)
        .catch((e: unknown) => e);
      expect((outsider as CollateralError).errorName).to.equal("Unauthorized");
      const { events } = await agreement.reconcile(tbillAddress);
      expect(events.map((e) => e.name)).to.include("Reconciled");
      const trail = await buildAuditTrail(connection.ethers.provider, book, agreement.address);
      expect(trail.reconciliation.find((r) => r.asset === tbillAddress)).to.deep.equal({
        asset: tbillAddress,
        replayed: (parseAmount("1000", 6) + 7n).toString(),
        accounted: (parseAmount("1000", 6) + 7n).toString(),
        held: (parseAmount("1000", 6) + 7n).toString(),
        matches: true,
      });
      expect(trail.reconciled).to.equal(true);
    });
  });

  describe("errors", function () {
    it("has a sentence for every custom error of every contract", function () {
      const missing = [...ERROR_FRAGMENTS.values()]
        .map((f) => f.format("sighash"))
        .filter((s) => !ERROR_MESSAGES[s]);
      expect(missing).to.deep.equal([]);
    });
  });

  describe("DvP orders", function () {
    /**
     * 100 T-bills from the seller for 99 cash from the buyer, both approved to the DvP contract; the buyer is funded
     * with `buyerCash`.
     */
    async function twoLegOrder(buyerCash: bigint) {
      const [seller, buyer] = [signers[PLEDGOR], signers[SECURED]];
      const cash = (await connection.ethers.deployContract("MockERC20", [
        "Cash",
        "USD",
        18,
      ])) as unknown as MockERC20;
      const dvp = book.contracts.DvPSettlement.address;
      await tbill.mint(seller.address, 100n);
      await cash.mint(buyer.address, buyerCash);
      await tbill.connect(seller).approve(dvp, 100n);
      await cash.connect(buyer).approve(dvp, 99n);
      const deadline = BigInt(await connection.networkHelpers.time.latest()) + 600n;
      const order = buildSettlement(
        [
          erc20Leg(await tbill.getAddress(), 100n, seller.address, buyer.address),
          erc20Leg(await cash.getAddress(), 99n, buyer.address, seller.address),
        ],
        deadline,
      );
      return { seller, buyer, cash, dvp, deadline, order };
    }

    it("builds, signs, checks off-chain and settles a two-leg order", async function () {
      const { seller, buyer, cash, dvp, deadline, order } = await twoLegOrder(99n);
      const signature = await signSettlement(buyer, order, dvp);
      const provider = connection.ethers.provider;
      expect(
        await verifySettlementSignature(provider, order, dvp, buyer.address, signature),
      ).to.deep.equal({ valid: true });
      const forged = await signSettlement(signers[OUTSIDER], order, dvp);
      expect(
        (await verifySettlementSignature(provider, order, dvp, buyer.address, forged)).valid,
      ).to.equal(false);

      const { settlementId } = await settle(seller, dvp, order, [
        { signer: buyer.address, signature },
      ]);
      expect(settlementId).to.match(/^0x[0-9a-f]{64}$/);
      expect(settlementId).to.equal(settlementDigest(order, 31337n, dvp));
      expect(await cash.balanceOf(seller.address)).to.equal(99n);
      const replay = await settle(seller, dvp, order, [{ signer: buyer.address, signature }]).catch(
        (e: unknown) => e,
      );
      expect((replay as Error).message).to.equal(
        `NonceAlreadyUsed: Nonce ${order.nonce} of ${buyer.address} was already used by a settlement or ` +
          "cancelled by its owner.",
      );
      expect(() => buildSettlement([order.legs[0]], deadline)).to.throw(
        InputError,
        "a settlement needs at least two legs; it has 1",
      );
      const [tbillLeg, cashLeg] = order.legs;
      const refusal = (legs: typeof order.legs, due = deadline) => {
        try {
          buildSettlement(legs, due);
          return "no error";
        } catch (e) {
          return e instanceof InputError ? e.message : `unexpected ${(e as Error).name}`;
        }
      };
      expect(refusal([tbillLeg, { ...cashLeg, amount: 0n }])).to.equal("leg 1 has a zero amount");
      expect(refusal([tbillLeg, { ...cashLeg, kind: 7 }])).to.equal(
        "leg 1 has the token kind 7; known kinds are 0, 1, 2",
      );
      expect(refusal([{ ...tbillLeg, id: 3n }, cashLeg])).to.equal(
        "ERC-20 leg 0 must have id 0, not 3",
      );
      expect(refusal([tbillLeg, { ...cashLeg, kind: TokenKind.ERC721, amount: 2n }])).to.equal(
        "ERC-721 leg 1 must have amount 1, not 2",
      );
      expect(refusal([tbillLeg, { ...cashLeg, to: "0x1234" }])).to.equal(
        'leg 1: to "0x1234" is not an address',
      );
      expect(refusal([tbillLeg, cashLeg], 0n)).to.equal("the deadline must be a Unix time, not 0");
    });

    it("reports a token's own revert (ERC-6093) as a typed error naming the shortfall, not as raw revert data", async function () {
      const { seller, buyer, dvp, order } = await twoLegOrder(50n); // the buyer is 49 short
      const signature = await signSettlement(buyer, order, dvp);
      const error = await settle(seller, dvp, order, [{ signer: buyer.address, signature }]).catch(
        (e: unknown) => e,
      );
      expect(error).to.be.instanceOf(CollateralError);
      expect((error as Error).message).to.equal(
        `ERC20InsufficientBalance: the token refused the transfer: ${buyer.address} holds only 50 (raw units) ` +
          "and 99 was to move",
      );
      // Plain reverts of older tokens and panics are named too.
      const reason = new ethersLib.Interface(["error Error(string)"]).encodeErrorResult("Error", [
        "transfer amount exceeds balance",
      ]);
      expect(decodeError(reason)?.message).to.equal(
        'Error: a contract (often the token) reverted: "transfer amount exceeds balance"',
      );
      const panic = new ethersLib.Interface(["error Panic(uint256)"]).encodeErrorResult(
        "Panic",
        [0x11],
      );
      expect(decodeError(panic)?.message).to.match(/^Panic: a contract panicked with code 0x11/);
    });
  });
});
