import { expect } from "chai";

import {
  OptimiserError,
  optimiseDelivery,
  type OptimiserAsset,
  type OptimiserInput,
  type OptimiserResult,
} from "../sdk/optimiser.js";

const WAD = 10n ** 18n;

function asset(id: string, fields: Partial<OptimiserAsset>): OptimiserAsset {
  return {
    id,
    priceWad: WAD,
    decimals: 0,
    haircutBps: 0,
    concentrationCapBps: 10_000,
    costBps: 0,
    holdings: 0n,
    posted: 0n,
    ...fields,
  };
}

/** Independent re-statement of CollateralVault.collateralValue (Valuation.afterHaircut / capped). */
function vaultValue(assets: readonly OptimiserAsset[], balances: readonly bigint[]): bigint {
  const cv = assets.map((a, i) => {
    const mv = (balances[i] * a.priceWad) / 10n ** BigInt(a.decimals);
    return (mv * BigInt(10_000 - a.haircutBps)) / 10_000n;
  });
  const total = cv.reduce((s, v) => s + v, 0n);
  return assets.reduce((s, a, i) => {
    if (a.concentrationCapBps >= 10_000) return s + cv[i];
    const limit = (total * BigInt(a.concentrationCapBps)) / 10_000n;
    return s + (cv[i] < limit ? cv[i] : limit);
  }, 0n);
}

function costOf(assets: readonly OptimiserAsset[], amounts: readonly bigint[]): bigint {
  return assets.reduce(
    (s, a, i) => s + BigInt(a.costBps) * ((amounts[i] * a.priceWad) / 10n ** BigInt(a.decimals)),
    0n,
  );
}

function expectFeasible(input: OptimiserInput, result: OptimiserResult): void {
  input.assets.forEach((a, i) => {
    expect(result.allocation[i] >= 0n && result.allocation[i] <= a.holdings).to.equal(true);
  });
  const value = vaultValue(
    input.assets,
    input.assets.map((a, i) => a.posted + result.allocation[i]),
  );
  expect(value).to.equal(result.collateralValue);
  expect(value >= input.requirement).to.equal(true);
  expect(result.cost).to.equal(costOf(input.assets, result.allocation));
}

/** mulberry32: a small seeded PRNG so failures reproduce from the printed seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Least cost over every integer allocation (the last asset by binary search: V is monotone), or null. */
function bruteForce(input: OptimiserInput): bigint | null {
  const { assets, requirement } = input;
  const n = assets.length;
  const amounts = new Array<bigint>(n).fill(0n);
  let best: bigint | null = null;
  const balances = () => assets.map((a, i) => a.posted + amounts[i]);
  const recurse = (i: number) => {
    if (i === n - 1) {
      const last = assets[i];
      amounts[i] = last.holdings;
      if (vaultValue(assets, balances()) < requirement) return;
      let lo = -1n;
      let hi = last.holdings;
      while (hi - lo > 1n) {
        const mid = (lo + hi) / 2n;
        amounts[i] = mid;
        if (vaultValue(assets, balances()) >= requirement) hi = mid;
        else lo = mid;
      }
      amounts[i] = hi;
      const cost = costOf(assets, amounts);
      if (best === null || cost < best) best = cost;
      return;
    }
    for (let a = 0n; a <= assets[i].holdings; a++) {
      amounts[i] = a;
      recurse(i + 1);
    }
    amounts[i] = 0n;
  };
  recurse(0);
  return best;
}

function randomCase(seed: number): OptimiserInput {
  const rnd = prng(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));
  const n = int(2, 4);
  const maxHoldings = n === 4 ? 12 : 30;
  // Half the cases use tiny wei prices so every floor in the on-chain rule bites.
  const tiny = rnd() < 0.5;
  const assets: OptimiserAsset[] = [];
  for (let i = 0; i < n; i++) {
    assets.push(
      asset(`A${i}`, {
        priceWad: tiny
          ? BigInt(int(1, 997))
          : BigInt(int(1, 50)) * 10n ** 17n + BigInt(int(0, 999)),
        haircutBps: rnd() < 0.3 ? 0 : int(0, 6000),
        concentrationCapBps: rnd() < 0.4 ? 10_000 : int(0, 9_000),
        costBps: int(0, 200),
        holdings: BigInt(int(0, maxHoldings)),
        posted: rnd() < 0.5 ? 0n : BigInt(int(0, 25)),
      }),
    );
  }
  const before = vaultValue(
    assets,
    assets.map((a) => a.posted),
  );
  const all = vaultValue(
    assets,
    assets.map((a) => a.posted + a.holdings),
  );
  // Mostly between the current value and the most reachable; sometimes beyond it or already met.
  const r = rnd();
  let requirement: bigint;
  if (r < 0.05) requirement = before;
  else if (r < 0.12) requirement = all + 1n;
  else {
    const span = all > before ? all - before : 0n;
    requirement = before + (span * BigInt(int(1, 1000))) / 1000n;
  }
  return { assets, requirement };
}

describe("optimiseDelivery", function () {
  describe("worked examples", function () {
    it("delivers the cheapest asset first when nothing is capped", function () {
      const input: OptimiserInput = {
        requirement: 150n * WAD,
        assets: [
          asset("A", { costBps: 10, holdings: 100n }),
          asset("B", { costBps: 50, holdings: 100n }),
          asset("C", { costBps: 30, holdings: 100n }),
        ],
      };
      const result = optimiseDelivery(input);
      expect(result.allocation).to.deep.equal([100n, 0n, 50n]);
      expect(result.cost).to.equal((10n * 100n + 30n * 50n) * WAD);
      expect(result.collateralValue).to.equal(150n * WAD);
      expect(result.provenOptimal).to.equal(true);
      expectFeasible(input, result);
    });

    it("ranks by cost per unit of collateral value, haircuts included", function () {
      // A costs 10 bps but a 50% haircut makes it 20 bps per unit of collateral value; B is 15.
      const input: OptimiserInput = {
        requirement: 100n * WAD,
        assets: [
          asset("A", { costBps: 10, haircutBps: 5_000, holdings: 1_000n }),
          asset("B", { costBps: 15, holdings: 1_000n }),
        ],
      };
      const result = optimiseDelivery(input);
      expect(result.allocation).to.deep.equal([0n, 100n]);
      expect(result.deliveries[1]).to.include({
        amount: 100n,
        deliveredMarketValue: 100n * WAD,
        afterHaircut: 100n * WAD,
        counted: 100n * WAD,
      });
    });

    it("mixes assets when a cap binds on the cheap one", function () {
      // A (10 bps) counts for at most 40%; B (20 bps) is uncapped. x of A, y of B on an empty vault:
      // under A's cap V = x + y with x <= 2y/3, so the cheapest is x = 40, y = 60 (cost 1,600). Over A's cap
      // V = 0.4x + 1.4y, whose cheapest point is x = 250, y = 0 (cost 2,500). So 40 A + 60 B.
      const input: OptimiserInput = {
        requirement: 100n * WAD,
        assets: [
          asset("A", { costBps: 10, concentrationCapBps: 4_000, holdings: 1_000n }),
          asset("B", { costBps: 20, holdings: 1_000n }),
        ],
      };
      const result = optimiseDelivery(input);
      expect(result.allocation).to.deep.equal([40n, 60n]);
      expect(result.cost).to.equal(1_600n * WAD);
      expect(result.deliveries[0].counted).to.equal(40n * WAD);
      expectFeasible(input, result);
    });

    it("over-delivers a capped cheap asset when the uncapped one is far dearer", function () {
      // Same as above with B at 100 bps: 40 A + 60 B costs 6,400 but 250 A alone (40% of 250 = 100) costs 2,500.
      const input: OptimiserInput = {
        requirement: 100n * WAD,
        assets: [
          asset("A", { costBps: 10, concentrationCapBps: 4_000, holdings: 1_000n }),
          asset("B", { costBps: 100, holdings: 1_000n }),
        ],
      };
      const result = optimiseDelivery(input);
      expect(result.allocation).to.deep.equal([250n, 0n]);
      expect(result.cost).to.equal(2_500n * WAD);
      expect(result.collateralValue).to.equal(100n * WAD);
    });

    it("handles an asset already over its cap", function () {
      // The vault holds 100 A (cap 40%): it counts for 40. Each B delivered (uncapped, 20 bps) adds 1 and lifts
      // A's cap by 0.4, so V = 40 + 1.4y >= 100 needs y >= 42.86: 43 units (V = 57.2 + 43 = 100.2; 42 gives
      // 98.8). More A only adds 0.4 per unit (150 units, cost 1,500, against 43 x 20 = 860).
      const input: OptimiserInput = {
        requirement: 100n * WAD,
        assets: [
          asset("A", { costBps: 10, concentrationCapBps: 4_000, holdings: 1_000n, posted: 100n }),
          asset("B", { costBps: 20, holdings: 1_000n }),
        ],
      };
      const result = optimiseDelivery(input);
      expect(result.collateralValueBefore).to.equal(40n * WAD);
      expect(result.allocation).to.deep.equal([0n, 43n]);
      expect(result.cost).to.equal(860n * WAD);
      expect(result.collateralValue).to.equal(1002n * 10n ** 17n);
      expect(result.deliveries[0].counted).to.equal(572n * 10n ** 17n);
      expectFeasible(input, result);
    });

    it("returns an empty allocation when there is no shortfall", function () {
      const input: OptimiserInput = {
        requirement: 50n * WAD,
        assets: [asset("A", { costBps: 10, holdings: 100n, posted: 60n, haircutBps: 1_000 })],
      };
      const result = optimiseDelivery(input);
      expect(result.allocation).to.deep.equal([0n]);
      expect(result.cost).to.equal(0n);
      expect(result.collateralValue).to.equal(54n * WAD);
    });

    it("explains insufficient holdings", function () {
      const input: OptimiserInput = {
        requirement: 50n * WAD,
        assets: [asset("A", { costBps: 10, haircutBps: 1_000, holdings: 10n, posted: 5n })],
      };
      let caught: unknown;
      try {
        optimiseDelivery(input);
      } catch (error) {
        caught = error;
      }
      expect(caught).to.be.instanceOf(OptimiserError);
      const error = caught as OptimiserError;
      expect(error.code).to.equal("INSUFFICIENT_COLLATERAL");
      expect(error.needed).to.equal(455n * 10n ** 17n);
      expect(error.achievable).to.equal(9n * WAD);
      expect(error.message).to.equal(
        "cannot reach the requirement of 50: the collateral value is 4.5, so 45.5 is needed, but holdings " +
          "worth 10 (9 after haircuts) can add at most 9 after haircuts and caps",
      );
    });

    it("explains a cap that makes the requirement unreachable", function () {
      const input: OptimiserInput = {
        requirement: 1_300n * WAD,
        assets: [
          asset("A", { costBps: 10, concentrationCapBps: 4_000, holdings: 2_000n }),
          asset("B", { costBps: 10, holdings: 300n }),
        ],
      };
      expect(() => optimiseDelivery(input)).to.throw(
        OptimiserError,
        "can add at most 1,220 after haircuts and caps (with everything delivered the total before caps " +
          "would be 2,300; A alone is capped at 40%: its 2,000 after haircut counts for 920)",
      );
    });

    it("rejects invalid input with a typed error", function () {
      expect(() =>
        optimiseDelivery({ requirement: 1n, assets: [asset("A", { haircutBps: 10_001 })] }),
      ).to.throw(OptimiserError, "haircutBps");
    });
  });

  describe("against brute force", function () {
    it("matches the least cost over every integer allocation on 300 seeded random cases", function () {
      this.timeout(120_000);
      let solved = 0;
      let infeasible = 0;
      for (let seed = 1; seed <= 300; seed++) {
        const input = randomCase(seed);
        const best = bruteForce(input);
        let result: OptimiserResult | null = null;
        try {
          result = optimiseDelivery(input);
        } catch (error) {
          if (!(error instanceof OptimiserError)) throw error;
          // Compared as booleans: the bigint-aware chai matchers cannot compare null.
          expect(
            best === null,
            `seed ${seed}: optimiser says infeasible, brute force found ${best}`,
          ).to.equal(true);
          infeasible++;
          continue;
        }
        expect(best !== null, `seed ${seed}: brute force found nothing feasible`).to.equal(true);
        expectFeasible(input, result);
        expect(result.cost, `seed ${seed}`).to.equal(best);
        expect(result.provenOptimal, `seed ${seed}`).to.equal(true);
        solved++;
      }
      expect(solved).to.be.greaterThan(200);
      expect(infeasible).to.be.greaterThan(5);
    });
  });

  describe("feasibility", function () {
    it("always satisfies the exact on-chain rule on realistic random books", function () {
      this.timeout(60_000);
      for (let seed = 1; seed <= 200; seed++) {
        const rnd = prng(seed * 7919);
        const int = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));
        const n = int(1, 30);
        const assets: OptimiserAsset[] = [];
        for (let i = 0; i < n; i++) {
          const decimals = [0, 6, 8, 18][int(0, 3)];
          const whole = BigInt(int(0, 1_000_000));
          assets.push(
            asset(`T${i}`, {
              decimals,
              priceWad: BigInt(int(1, 5_000_000)) * 10n ** 12n + BigInt(int(0, 10 ** 6)),
              haircutBps: int(0, 5_000),
              concentrationCapBps: rnd() < 0.5 ? 10_000 : int(500, 9_000),
              costBps: int(0, 500),
              holdings: whole * 10n ** BigInt(decimals) + BigInt(int(0, 999)),
              posted: rnd() < 0.5 ? 0n : BigInt(int(0, 100_000)) * 10n ** BigInt(decimals),
            }),
          );
        }
        const all = vaultValue(
          assets,
          assets.map((a) => a.posted + a.holdings),
        );
        const input = { assets, requirement: (all * BigInt(int(1, 1_000))) / 1_000n };
        let result: OptimiserResult;
        try {
          result = optimiseDelivery(input);
        } catch (error) {
          throw new Error(`seed ${seed}: ${String(error)}`);
        }
        expectFeasible(input, result);
        // The LP bound is a true lower bound (up to float tolerance).
        const bound = result.lowerBound;
        const cost = Number(result.cost);
        expect(
          cost >= bound * (1 - 1e-9) - 1,
          `seed ${seed}: cost ${cost} bound ${bound}`,
        ).to.equal(true);
      }
    });
  });
});
