import { expect } from "chai";
import type { Signer } from "ethers";
import { network } from "hardhat";

import {
  CollateralSystem,
  MarginMonitor,
  deploySystem,
  pledgeConsentDomain,
  PLEDGE_CONSENT_TYPES,
  type AddressBook,
  type EligibilityLine,
} from "../sdk/index.js";
import type { BulkAgreements, MockERC20, MockPriceFeed } from "../types/ethers-contracts/index.js";
import { ONE_DAY, WAD, defaultTerms } from "./fixtures.js";

describe("Margin monitor", function () {
  let connection: Awaited<ReturnType<typeof network.create>>;
  let signers: Awaited<ReturnType<typeof connection.ethers.getSigners>>;
  let book: AddressBook;
  let tbill: MockERC20;
  let feed: MockPriceFeed;
  let schedule: EligibilityLine[];
  let bulk: BulkAgreements;
  let snapshot: { restore(): Promise<void> };
  const keeperIndex = 7;
  const securedIndex = 2;
  const outsiderIndex = 9;
  // The requirement is the independent amount alone: 1,000 units of T-bills at $1 less 2% cover 950.
  const terms = {
    ...defaultTerms,
    independentAmount: 950n * WAD,
    minimumTransferAmount: 1n * WAD,
    roundingAmount: 0n,
  };

  before(async function () {
    connection = await network.create();
    signers = await connection.ethers.getSigners();
    book = await deploySystem(signers[0], { network: "monitor-test" });
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
        maxPriceAge: 30n * ONE_DAY,
        minAnswer: 1n,
        maxAnswer: 10n ** 12n,
        haircutBps: 200n,
        concentrationCapBps: 10_000n,
      },
    ];
    bulk = (await connection.ethers.deployContract("BulkAgreements", [
      book.contracts.AgreementFactory.address,
    ])) as unknown as BulkAgreements;
    snapshot = await connection.networkHelpers.takeSnapshot();
  });

  afterEach(async function () {
    await snapshot.restore();
    snapshot = await connection.networkHelpers.takeSnapshot();
  });

  /** Opens, funds and pledges `count` agreements holding `units[i]` T-bills each (1,000 by default). */
  async function openPledged(count: number, units: bigint[] = []): Promise<string[]> {
    const secured = signers[securedIndex];
    const vaults: string[] = [];
    const { chainId } = await connection.ethers.provider.getNetwork();
    const deadline = BigInt(await connection.networkHelpers.time.latest()) + ONE_DAY;
    // Agreements of one size open 20 to a transaction; agreements of given sizes one at a time.
    const step = units.length === 0 ? 20 : 1;
    for (let start = 0; start < count; start += step) {
      const n = Math.min(step, count - start);
      const amount = (units[start] ?? 1_000n) * 10n ** 6n;
      const asset = await tbill.getAddress();
      await tbill.mint(await bulk.getAddress(), amount * BigInt(n));
      const batch = await bulk.openMany.staticCall(
        secured.address,
        terms,
        schedule,
        asset,
        amount,
        n,
        start,
      );
      await bulk.openMany(secured.address, terms, schedule, asset, amount, n, start);
      vaults.push(...batch);
    }
    const signatures: string[] = [];
    for (const vault of vaults) {
      const termsHash = await (
        await connection.ethers.getContractAt("CollateralVault", vault)
      ).termsHash();
      signatures.push(
        await secured.signTypedData(
          pledgeConsentDomain(chainId, book.contracts.AgreementFactory.address),
          PLEDGE_CONSENT_TYPES,
          { termsHash, deadline },
        ),
      );
    }
    for (let start = 0; start < vaults.length; start += 100) {
      await bulk.pledgeMany(
        vaults.slice(start, start + 100),
        deadline,
        signatures.slice(start, start + 100),
      );
    }
    return vaults;
  }

  function quietMonitor(system: CollateralSystem, lines: string[] = []) {
    return new MarginMonitor(system, { log: (line) => lines.push(line), pollIntervalMs: 10 });
  }

  it("opens exactly one call after a price move, and none again on the next pass or after a restart", async function () {
    // Only the thin agreement (980 T-bills: 960.4 against 950) falls short when the price drops 2%.
    const vaults = await openPledged(3, [1_200n, 980n, 1_100n]);
    const keeper = new CollateralSystem(book, signers[keeperIndex]);
    const lines: string[] = [];
    const monitor = quietMonitor(keeper, lines);
    expect((await monitor.runOnce()).callsIssued).to.deep.equal([]);

    await feed.setAnswer(98_000000n);
    const first = await monitor.runOnce();
    expect(first.revalued).to.equal(3);
    expect(first.callsIssued).to.deep.equal([vaults[1]]);
    // JSON decision lines, then one human summary line per pass.
    const decision = lines
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as { decision?: string; vault?: string })
      .find((d) => d.decision === "call-issued");
    expect(decision!.vault).to.equal(vaults[1]);
    expect(lines.at(-1)).to.match(
      /^block \d+: 3 agreements re-valued in \d+ RPC calls; 1 margin calls/,
    );

    expect((await monitor.runOnce()).callsIssued).to.deep.equal([]);
    const restarted = quietMonitor(new CollateralSystem(book, signers[keeperIndex]));
    const afterRestart = await restarted.runOnce();
    expect(afterRestart.callsIssued).to.deep.equal([]);
    expect(afterRestart.decisions.map((d) => d.decision)).to.deep.equal(["call-open"]);
  });

  it("reports a default once the cure deadline passes", async function () {
    const vaults = await openPledged(1, [980n]);
    const monitor = quietMonitor(new CollateralSystem(book, signers[keeperIndex]));
    await feed.setAnswer(98_000000n);
    await monitor.runOnce();
    await connection.networkHelpers.time.increase(ONE_DAY + 1n);
    expect((await monitor.runOnce()).defaults).to.deep.equal(vaults);
  });

  it("recovers from a dropped RPC connection by reconnecting", async function () {
    await openPledged(1, [980n]);
    await feed.setAnswer(98_000000n);
    // A keeper whose provider is down: every request fails as a lost connection would.
    const keeper = signers[keeperIndex];
    const deadProvider = new Proxy(connection.ethers.provider, {
      get(target, property, receiver) {
        const value = Reflect.get(target, property, receiver);
        if (typeof value !== "function") return value;
        return () =>
          Promise.reject(
            Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:8545"), {
              code: "NETWORK_ERROR",
            }),
          );
      },
    });
    const brokenKeeper = new Proxy(keeper, {
      get: (target, property) =>
        property === "provider" ? deadProvider : Reflect.get(target, property),
    }) as unknown as Signer;
    const lines: string[] = [];
    let reconnects = 0;
    const monitor = new MarginMonitor(new CollateralSystem(book, brokenKeeper), {
      log: (line) => lines.push(line),
      pollIntervalMs: 5,
      reconnect: async () => {
        reconnects++;
        return new CollateralSystem(book, keeper);
      },
    });
    const running = monitor.start();
    for (let i = 0; i < 200 && !lines.some((l) => l.includes("1 margin calls")); i++)
      await new Promise((r) => setTimeout(r, 10));
    monitor.stop();
    await running;
    expect(lines.some((l) => l.includes('"event":"rpc-error"'))).to.equal(true);
    expect(reconnects).to.equal(1);
    expect(lines.some((l) => l.includes("1 margin calls"))).to.equal(true);
  });

  it("re-values all of 1,000 watched agreements after one price update", async function () {
    this.timeout(300_000);
    const vaults = await openPledged(1_000);
    const monitor = quietMonitor(new CollateralSystem(book, signers[keeperIndex]));
    await feed.setAnswer(96_000000n); // 1,000 x 0.96 x 0.98 = 940.8 < 950: every agreement is due
    const report = await monitor.runOnce();
    expect(report.revalued).to.equal(1_000);
    expect(new Set(report.callsIssued)).to.deep.equal(new Set(vaults));
    // One status call per 25 agreements and one keeper transaction per 50 due ones, instead of 1,000 of each.
    expect(report.rpcCalls).to.be.lessThan(70);
  });

  it("griefing: 2,000 spam agreements opened by an outsider pair do not stop the monitor calling the one due agreement", async function () {
    this.timeout(300_000);
    // The one real agreement: 980 T-bills against 950, short once the price drops 2%.
    const [due] = await openPledged(1, [980n]);
    // The spam: 2,000 agreements between two outsider-controlled addresses, never pledged, one raw unit each.
    const spammer = (await connection.ethers.deployContract("BulkAgreements", [
      book.contracts.AgreementFactory.address,
    ])) as unknown as BulkAgreements;
    const accomplice = signers[outsiderIndex].address;
    await tbill.mint(await spammer.getAddress(), 2_000n);
    for (let start = 0; start < 2_000; start += 20)
      await spammer.openMany(accomplice, terms, schedule, await tbill.getAddress(), 1n, 20, 10_000 + start);
    const keeper = new CollateralSystem(book, signers[keeperIndex]);
    expect((await keeper.agreements()).length).to.equal(2_001);

    await feed.setAnswer(98_000000n);
    const report = await quietMonitor(keeper).runOnce();
    expect(report.revalued).to.equal(2_001);
    expect(report.callsIssued).to.deep.equal([due]);
    expect(report.rpcCalls).to.be.lessThan(100); // 81 status batches and one keeper transaction
  });
});
