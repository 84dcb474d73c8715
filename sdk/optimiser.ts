/**
 * Cheapest-to-deliver collateral optimiser.
 *
 * Given what the pledgor holds, what the vault already holds, and each asset's price, haircut, concentration
 * cap and cost of delivery (bps per year of the market value delivered), find the raw amounts to deliver of
 * least total cost such that the vault's collateral value, computed exactly as `CollateralVault.collateralValue`
 * does (bigint, every rounding down), reaches the requirement.
 *
 * On-chain rule (contracts/libraries/Valuation.sol, CollateralVault.collateralValue):
 *   mv_i  = floor(balance_i * priceWad_i / 10^decimals_i)          (PriceOracle.valueAt, feed decimals <= 18)
 *   cv_i  = floor(mv_i * (10000 - haircut_i) / 10000)
 *   T     = sum_i cv_i
 *   V     = sum_i (cap_i >= 10000 ? cv_i : min(cv_i, floor(T * cap_i / 10000)))
 *
 * Formulation (continuous relaxation, all values divided by the requirement R so the LP is O(1)-scaled):
 *   variables  t_i in [0, 1]  fraction of holdings H_i delivered (only assets with holdings, a price and a
 *                             haircut below 100%); after-haircut value delivered y_i = U_i * t_i, where
 *                             U_i = H_i * price_i * (1 - h_i) is the after-haircut value of all of it
 *              o_j >= 0      overflow of capped asset j: the part of its value above its cap
 *   minimise   sum_i c_i * H_i * price_i * t_i                  (c_i = cost bps; cost is on market value)
 *   subject to o_j >= e_j + y_j - k_j * (E + sum_i y_i)          for every capped asset j (k_j = cap_j / 10000)
 *              E + sum_i y_i - sum_j o_j >= R
 *   where e_j is the (unrounded) after-haircut value already posted and E = sum_j e_j.
 * V = T - sum_j max(0, s_j - k_j T) with s_j = e_j + y_j, so for any y the constraints hold for some o exactly
 * when V >= R: the relaxation is exact for the continuous problem. Notes:
 *   - V is non-decreasing in every delivery (dV/dy_i = [i under its cap] + sum over capped j of k_j >= 0), so
 *     value beyond a cap is never harmful: it still lifts T and with it every other asset's cap. The LP sees
 *     this without special cases, including for assets already over their cap (e_j > k_j E: their row starts
 *     with a positive overflow, which deliveries of *other* assets shrink) and for 0% caps.
 *   - The exact rule only ever rounds down, so V_exact(a) <= V_relaxed(a) and the LP is a true relaxation
 *     (its optimum is a lower bound on the cost of any on-chain-feasible integer allocation).
 *
 * Solution:
 *   1. Exact checks first: a zero shortfall returns an empty allocation; if delivering every holding still
 *      falls short (V is monotone, so that is the best possible), throw `OptimiserError` explaining why.
 *   2. Solve the LP with a dense bounded-variable primal simplex (two phases, Dantzig pricing with a switch to
 *      Bland's rule on degenerate stalls) in float64.
 *   3. Round each delivery up to whole raw units, verify with the exact bigint rule and, if short (floats or
 *      floors), add the fewest extra units of the asset for which that is cheapest; floats can therefore never
 *      produce an allocation the vault would value below the requirement.
 *   4. When every holding is at most 2^40 raw units (so raw amounts are exact in float64), branch and bound
 *      over integer raw amounts with the LP as the bound closes the integrality gap: fractional deliveries are
 *      split floor/ceil; an integral LP point the exact rule rejects (floors) is split into "some asset gets
 *      more" children, which is complete because V is monotone. The search is exact up to the 1e-9 relative
 *      tolerance used when pruning on a float LP bound (and, for assets whose one raw unit is not a whole
 *      number of wei, the sub-wei difference between floored and linear cost), within a node budget; the
 *      result says whether it was proven. For 18-decimal holdings the search is skipped: the rounded LP
 *      solution is within a few raw units of optimal and `lowerBound` gives the LP bound.
 */

import { formatWad } from "./format.js";

const BPS = 10_000n;

export interface OptimiserAsset {
  /** How messages name the asset: a symbol or an address. */
  id: string;
  /** Base-currency value (WAD, 18 decimals) of one whole token, i.e. of 10^decimals raw units. */
  priceWad: bigint;
  decimals: number;
  haircutBps: number;
  /** Concentration cap in bps of the agreement's total after-haircut value; >= 10000 means no cap. */
  concentrationCapBps: number;
  /** Pledgor's opportunity cost of delivering this asset, bps per year of the market value delivered. */
  costBps: number;
  /** Raw units the pledgor holds: the most it can deliver. */
  holdings: bigint;
  /** Raw units already in the vault (they count towards the caps' total). */
  posted: bigint;
}

export interface OptimiserInput {
  assets: readonly OptimiserAsset[];
  /** Collateral value (WAD) the vault must reach. */
  requirement: bigint;
}

export interface OptimiserOptions {
  /**
   * Branch-and-bound node budget for closing the integrality gap (0 disables the search). Default: about 1e5 /
   * (LP rows x columns), at least 20 and at most 20,000 - thousands of nodes for a few assets, dozens for 50.
   */
  maxNodes?: number;
}

export interface AssetDelivery {
  id: string;
  /** Raw units to deliver. */
  amount: bigint;
  /** Market value of the units delivered (WAD, rounded down as on-chain). */
  deliveredMarketValue: bigint;
  /** costBps x deliveredMarketValue. */
  cost: bigint;
  /** The vault's whole position after delivery: market value, value after haircut, and value counted after caps. */
  marketValue: bigint;
  afterHaircut: bigint;
  counted: bigint;
}

export interface OptimiserResult {
  /** Raw units per asset, in input order. */
  allocation: bigint[];
  deliveries: AssetDelivery[];
  /** Sum of costBps x market value delivered (bps x WAD; divide by 10^4 for the yearly cost in WAD). */
  cost: bigint;
  collateralValueBefore: bigint;
  /** Collateral value after delivery under the exact on-chain rule; always >= requirement. */
  collateralValue: bigint;
  requirement: bigint;
  /** LP lower bound on `cost` (float, same units). */
  lowerBound: number;
  /** True when the cost is proven minimal over integer allocations (see the header for the tolerance). */
  provenOptimal: boolean;
}

export type OptimiserErrorCode = "INVALID_INPUT" | "INSUFFICIENT_COLLATERAL";

export class OptimiserError extends Error {
  override readonly name = "OptimiserError";
  constructor(
    readonly code: OptimiserErrorCode,
    message: string,
    /** For INSUFFICIENT_COLLATERAL: what is needed and the most that delivering everything adds. */
    readonly needed?: bigint,
    readonly achievable?: bigint,
  ) {
    super(message);
  }
}

// ------------------------------------------------------------------------------------------- exact valuation

interface Prepared {
  price: bigint[];
  scale: bigint[];
  haircutFactor: bigint[]; // 10000 - haircut
  cap: bigint[]; // >= 10000: none
  costBps: bigint[];
}

function marketValue(p: Prepared, i: number, amount: bigint): bigint {
  return (amount * p.price[i]) / p.scale[i];
}

interface Valuation {
  mv: bigint[];
  cv: bigint[];
  counted: bigint[];
  uncapped: bigint;
  value: bigint;
}

/** CollateralVault.collateralValue for the given balances, with every intermediate. */
function valuation(p: Prepared, balances: readonly bigint[]): Valuation {
  const n = balances.length;
  const mv = new Array<bigint>(n);
  const cv = new Array<bigint>(n);
  const counted = new Array<bigint>(n);
  let uncapped = 0n;
  for (let i = 0; i < n; i++) {
    mv[i] = marketValue(p, i, balances[i]);
    cv[i] = (mv[i] * p.haircutFactor[i]) / BPS;
    uncapped += cv[i];
  }
  let value = 0n;
  for (let i = 0; i < n; i++) {
    let c = cv[i];
    if (p.cap[i] < BPS) {
      const limit = (uncapped * p.cap[i]) / BPS;
      if (limit < c) c = limit;
    }
    counted[i] = c;
    value += c;
  }
  return { mv, cv, counted, uncapped, value };
}

/** Just the collateral value: the hot path of repair and branch and bound. */
function collateralValueOf(p: Prepared, balances: readonly bigint[]): bigint {
  const n = balances.length;
  const cv = new Array<bigint>(n);
  let uncapped = 0n;
  for (let i = 0; i < n; i++) {
    const b = balances[i];
    cv[i] = b === 0n ? 0n : (((b * p.price[i]) / p.scale[i]) * p.haircutFactor[i]) / BPS;
    uncapped += cv[i];
  }
  let value = 0n;
  for (let i = 0; i < n; i++) {
    const c = cv[i];
    if (p.cap[i] < BPS) {
      const limit = (uncapped * p.cap[i]) / BPS;
      value += limit < c ? limit : c;
    } else value += c;
  }
  return value;
}

function deliveryCost(p: Prepared, amounts: readonly bigint[]): bigint {
  let cost = 0n;
  for (let i = 0; i < amounts.length; i++) {
    if (amounts[i] !== 0n) cost += p.costBps[i] * marketValue(p, i, amounts[i]);
  }
  return cost;
}

// -------------------------------------------------------------------------------------------- LP (simplex)

const BASIC = 0;
const AT_LOWER = 1;
const AT_UPPER = 2;
const EPS_COST = 1e-11;
const EPS_PIVOT = 1e-10;
const EPS_FEAS = 1e-9;

interface Lp {
  rows: number;
  cols: number;
  /** Row-major constraint matrix: A x >= b. */
  a: Float64Array;
  b: Float64Array;
  c: Float64Array;
  lo: Float64Array;
  hi: Float64Array;
}

interface LpSolution {
  x: Float64Array;
  objective: number;
}

/**
 * min c.x subject to A x >= b, lo <= x <= hi (lo finite), by a dense bounded-variable primal simplex.
 * Returns null when infeasible. Columns: structural, then one surplus per row, then one artificial per row.
 */
function solveLp(lp: Lp): LpSolution | null {
  const m = lp.rows;
  const n = lp.cols;
  const width = n + 2 * m;
  const tab: Float64Array[] = [];
  const x = new Float64Array(width);
  const lo = new Float64Array(width);
  const hi = new Float64Array(width);
  const state = new Uint8Array(width);
  const basis = new Int32Array(m);
  for (let j = 0; j < n; j++) {
    lo[j] = lp.lo[j];
    hi[j] = lp.hi[j];
    x[j] = lo[j];
    state[j] = AT_LOWER;
  }
  for (let r = 0; r < m; r++) {
    const s = n + r;
    const art = n + m + r;
    hi[s] = Infinity;
    hi[art] = Infinity;
    state[s] = AT_LOWER;
    state[art] = AT_LOWER;
    const row = new Float64Array(width);
    let residual = lp.b[r];
    for (let j = 0; j < n; j++) {
      const v = lp.a[r * n + j];
      row[j] = v;
      residual -= v * lo[j];
    }
    row[s] = -1;
    if (residual <= 0) {
      // Surplus starts basic: negate the row so its column is +1.
      for (let j = 0; j < n + m; j++) row[j] = -row[j];
      basis[r] = s;
      state[s] = BASIC;
      x[s] = -residual;
      hi[art] = 0; // never used
    } else {
      row[art] = 1;
      basis[r] = art;
      state[art] = BASIC;
      x[art] = residual;
    }
    tab.push(row);
  }

  const cost = new Float64Array(width);
  for (let r = 0; r < m; r++) cost[n + m + r] = 1;
  if (!runSimplex(tab, x, lo, hi, state, basis, cost, m, width)) return null;
  let infeasibility = 0;
  for (let r = 0; r < m; r++) infeasibility += x[n + m + r];
  if (infeasibility > EPS_FEAS) return null;

  // Phase 2: artificials are fixed at zero.
  for (let r = 0; r < m; r++) {
    const art = n + m + r;
    hi[art] = 0;
    if (state[art] !== BASIC) {
      x[art] = 0;
      state[art] = AT_LOWER;
    }
    cost[art] = 0;
  }
  for (let j = 0; j < n; j++) cost[j] = lp.c[j];
  if (!runSimplex(tab, x, lo, hi, state, basis, cost, m, width)) return null;
  const out = x.slice(0, n);
  let objective = 0;
  for (let j = 0; j < n; j++) objective += lp.c[j] * out[j];
  return { x: out, objective };
}

/** Runs to optimality; false if unbounded or out of iterations (neither happens on our bounded-below LPs). */
function runSimplex(
  tab: Float64Array[],
  x: Float64Array,
  lo: Float64Array,
  hi: Float64Array,
  state: Uint8Array,
  basis: Int32Array,
  cost: Float64Array,
  m: number,
  width: number,
): boolean {
  const d = Float64Array.from(cost);
  for (let r = 0; r < m; r++) {
    const cb = cost[basis[r]];
    if (cb === 0) continue;
    const row = tab[r];
    for (let j = 0; j < width; j++) d[j] -= cb * row[j];
  }
  let degenerate = 0;
  const maxIterations = 50 * (width + m);
  for (let iteration = 0; iteration < maxIterations; iteration++) {
    const bland = degenerate > 30;
    let enter = -1;
    let bestScore = EPS_COST;
    for (let j = 0; j < width; j++) {
      const s = state[j];
      if (s === BASIC || hi[j] - lo[j] <= 0) continue;
      const score = s === AT_LOWER ? -d[j] : d[j];
      if (score > bestScore) {
        enter = j;
        if (bland) break;
        bestScore = score;
      }
    }
    if (enter < 0) return true;

    const dir = state[enter] === AT_LOWER ? 1 : -1;
    let theta = hi[enter] - lo[enter];
    let leave = -1;
    let leaveToUpper = false;
    for (let r = 0; r < m; r++) {
      const alpha = tab[r][enter] * dir; // basic value falls by theta * alpha
      const bv = basis[r];
      let limit: number;
      let toUpper: boolean;
      if (alpha > EPS_PIVOT) {
        limit = (x[bv] - lo[bv]) / alpha;
        toUpper = false;
      } else if (alpha < -EPS_PIVOT && hi[bv] !== Infinity) {
        limit = (hi[bv] - x[bv]) / -alpha;
        toUpper = true;
      } else continue;
      if (limit < 0) limit = 0;
      if (limit < theta || (bland && limit === theta && leave >= 0 && bv < basis[leave])) {
        theta = limit;
        leave = r;
        leaveToUpper = toUpper;
      }
    }
    if (theta === Infinity) return false;
    degenerate = theta < 1e-12 ? degenerate + 1 : 0;

    const step = dir * theta;
    x[enter] += step;
    if (step !== 0) for (let r = 0; r < m; r++) x[basis[r]] -= step * tab[r][enter];
    if (leave < 0) {
      state[enter] = state[enter] === AT_LOWER ? AT_UPPER : AT_LOWER;
      x[enter] = state[enter] === AT_LOWER ? lo[enter] : hi[enter];
      continue;
    }
    const out = basis[leave];
    state[out] = leaveToUpper ? AT_UPPER : AT_LOWER;
    x[out] = leaveToUpper ? hi[out] : lo[out];
    const pivotRow = tab[leave];
    const pivot = pivotRow[enter];
    for (let j = 0; j < width; j++) pivotRow[j] /= pivot;
    pivotRow[enter] = 1;
    for (let r = 0; r < m; r++) {
      if (r === leave) continue;
      const row = tab[r];
      const f = row[enter];
      if (f === 0) continue;
      for (let j = 0; j < width; j++) row[j] -= f * pivotRow[j];
      row[enter] = 0;
    }
    const fd = d[enter];
    if (fd !== 0) {
      for (let j = 0; j < width; j++) d[j] -= fd * pivotRow[j];
      d[enter] = 0;
    }
    basis[leave] = enter;
    state[enter] = BASIC;
  }
  return false;
}

// ----------------------------------------------------------------------------------------------- optimiser

/** Floats are fine for the LP data: feasibility is always re-checked with the exact bigint rule. */
function toFloat(v: bigint): number {
  return Number(v);
}

/** Values in messages: four decimals are enough for a person. */
const formatValue = (value: bigint) => formatWad(value, 4);

function formatBps(bps: bigint): string {
  const whole = bps / 100n;
  const frac = bps % 100n;
  return frac === 0n
    ? `${whole}%`
    : `${whole}.${frac.toString().padStart(2, "0").replace(/0$/, "")}%`;
}

function validate(input: OptimiserInput): void {
  const bad = (what: string) => {
    throw new OptimiserError("INVALID_INPUT", what);
  };
  if (input.requirement < 0n) bad("requirement must not be negative");
  const seen = new Set<string>();
  for (const a of input.assets) {
    if (seen.has(a.id)) bad(`asset ${a.id} is listed twice`);
    seen.add(a.id);
    if (a.priceWad < 0n) bad(`asset ${a.id}: price must not be negative`);
    if (!Number.isInteger(a.decimals) || a.decimals < 0 || a.decimals > 77)
      bad(`asset ${a.id}: decimals must be an integer in [0, 77]`);
    if (!Number.isInteger(a.haircutBps) || a.haircutBps < 0 || a.haircutBps > 10_000)
      bad(`asset ${a.id}: haircutBps must be an integer in [0, 10000]`);
    if (!Number.isInteger(a.concentrationCapBps) || a.concentrationCapBps < 0)
      bad(`asset ${a.id}: concentrationCapBps must be a non-negative integer`);
    if (!Number.isInteger(a.costBps) || a.costBps < 0)
      bad(`asset ${a.id}: costBps must be a non-negative integer`);
    if (a.holdings < 0n || a.posted < 0n) bad(`asset ${a.id}: amounts must not be negative`);
  }
}

function insufficientMessage(
  input: OptimiserInput,
  p: Prepared,
  before: bigint,
  all: Valuation,
): string {
  const assets = input.assets;
  const needed = input.requirement - before;
  const add = all.value - before;
  let deliverableMv = 0n;
  let deliverableCv = 0n;
  for (let i = 0; i < assets.length; i++) {
    const mv = marketValue(p, i, assets[i].holdings);
    deliverableMv += mv;
    deliverableCv += (mv * p.haircutFactor[i]) / BPS;
  }
  let message =
    `cannot reach the requirement of ${formatValue(input.requirement)}: the collateral value is ` +
    `${formatValue(before)}, so ${formatValue(needed)} is needed, but holdings worth ` +
    `${formatValue(deliverableMv)} (${formatValue(deliverableCv)} after haircuts) can add at most ` +
    `${formatValue(add)} after haircuts and caps`;
  const binding: string[] = [];
  for (let i = 0; i < assets.length; i++) {
    if (all.counted[i] < all.cv[i]) {
      binding.push(
        `${assets[i].id} alone is capped at ${formatBps(p.cap[i])}: its ${formatValue(all.cv[i])} after ` +
          `haircut counts for ${formatValue(all.counted[i])}`,
      );
    }
  }
  if (binding.length > 0) {
    message +=
      ` (with everything delivered the total before caps would be ${formatValue(all.uncapped)}; ` +
      binding.join("; ") +
      ")";
  }
  return message;
}

interface Model {
  /** Input index of each LP delivery variable t_v. */
  vars: number[];
  /** Input index of each overflow variable, in row order. */
  capped: number[];
  /** After-haircut value of all holdings / R, per delivery variable. */
  u: number[];
  /** Cost coefficient per delivery variable (normalised). */
  c: number[];
  costScale: number;
  /** The LP with root bounds; branch and bound edits lo/hi of the first vars.length columns. */
  lp: Lp;
}

function buildModel(input: OptimiserInput, p: Prepared): Model {
  const assets = input.assets;
  const R = toFloat(input.requirement);
  const vars: number[] = [];
  const u: number[] = [];
  const rawCost: number[] = [];
  const e: number[] = assets.map((a, i) => {
    const unit = toFloat(p.price[i]) / toFloat(p.scale[i]);
    return (toFloat(a.posted) * unit * toFloat(p.haircutFactor[i])) / 10_000 / R;
  });
  const E = e.reduce((s, v) => s + v, 0);
  const varOf = new Map<number, number>();
  for (let i = 0; i < assets.length; i++) {
    const a = assets[i];
    if (a.holdings === 0n || p.price[i] === 0n || p.haircutFactor[i] === 0n) continue;
    const mvAll = (toFloat(a.holdings) * toFloat(p.price[i])) / toFloat(p.scale[i]);
    varOf.set(i, vars.length);
    vars.push(i);
    u.push((mvAll * toFloat(p.haircutFactor[i])) / 10_000 / R);
    rawCost.push(a.costBps * mvAll);
  }
  const capped: number[] = [];
  for (let i = 0; i < assets.length; i++) {
    if (p.cap[i] < BPS && (e[i] > 0 || varOf.has(i))) capped.push(i);
  }
  const costScale = Math.max(...rawCost, 0) || 1;
  const c = rawCost.map((v) => v / costScale);
  const nv = vars.length;
  const cols = nv + capped.length;
  const rows = capped.length + 1;
  const a = new Float64Array(rows * cols);
  const b = new Float64Array(rows);
  capped.forEach((j, r) => {
    const k = toFloat(p.cap[j]) / 10_000;
    for (let v = 0; v < nv; v++) a[r * cols + v] = k * u[v];
    const own = varOf.get(j);
    if (own !== undefined) a[r * cols + own] -= u[own];
    a[r * cols + nv + r] = 1;
    b[r] = e[j] - k * E;
  });
  const main = capped.length;
  for (let v = 0; v < nv; v++) a[main * cols + v] = u[v];
  for (let r = 0; r < capped.length; r++) a[main * cols + nv + r] = -1;
  b[main] = 1 - E;
  const lo = new Float64Array(cols);
  const hi = new Float64Array(cols);
  const cost = new Float64Array(cols);
  for (let v = 0; v < nv; v++) {
    hi[v] = 1;
    cost[v] = c[v];
  }
  for (let r = 0; r < capped.length; r++) hi[nv + r] = Infinity;
  return { vars, capped, u, c, costScale, lp: { rows, cols, a, b, c: cost, lo, hi } };
}

/** Rounds LP fractions of holdings up to whole raw units. */
function roundUp(t: number, holdings: bigint): bigint {
  if (t <= 1e-12) return 0n;
  if (t >= 1 - 1e-12) return holdings;
  const ONE = 1n << 53n;
  const num = BigInt(Math.ceil(t * 2 ** 53));
  const amount = (holdings * num + ONE - 1n) / ONE;
  return amount > holdings ? holdings : amount;
}

/**
 * Makes `amounts` (deliveries) feasible under the exact rule, cheaply: first the single asset whose fewest extra
 * units do it at least cost (every asset is tried; each search starts from a linear estimate of the units needed
 * and re-values only the changed asset and the capped ones); failing that, every asset moved the same fraction
 * of the way to its holdings.
 */
function repair(
  input: OptimiserInput,
  p: Prepared,
  posted: readonly bigint[],
  amounts: bigint[],
): bigint[] {
  const n = amounts.length;
  const R = input.requirement;
  const balances = amounts.map((a, i) => a + posted[i]);
  const base = valuation(p, balances);
  if (base.value >= R) return amounts;
  const deficit = toFloat(R - base.value);
  const cappedIdx: number[] = [];
  let uncappedSum = 0n;
  let bindingShare = 0;
  for (let j = 0; j < n; j++) {
    if (p.cap[j] < BPS) {
      cappedIdx.push(j);
      if (base.counted[j] < base.cv[j]) bindingShare += toFloat(p.cap[j]) / 10_000;
    } else uncappedSum += base.cv[j];
  }
  let best: bigint[] | null = null;
  let bestCost = 0n;
  for (let i = 0; i < n; i++) {
    const room = input.assets[i].holdings - amounts[i];
    if (room === 0n || p.price[i] === 0n || p.haircutFactor[i] === 0n) continue;
    const cvBase = base.cv[i];
    const iCapped = p.cap[i] < BPS;
    const uncappedOthers = iCapped ? uncappedSum : uncappedSum - cvBase;
    const ok = (extra: bigint): boolean => {
      const cvi = ((((balances[i] + extra) * p.price[i]) / p.scale[i]) * p.haircutFactor[i]) / BPS;
      const total = base.uncapped - cvBase + cvi;
      let value = uncappedOthers;
      for (const j of cappedIdx) {
        const c = j === i ? cvi : base.cv[j];
        const limit = (total * p.cap[j]) / BPS;
        value += limit < c ? limit : c;
      }
      if (!iCapped) value += cvi;
      return value >= R;
    };
    // Linear estimate: each unit adds its after-haircut value, times 1 if under its cap, plus the share of
    // every binding cap it lifts.
    const unitCv =
      (toFloat(p.price[i]) / toFloat(p.scale[i])) * (toFloat(p.haircutFactor[i]) / 10_000);
    const own = iCapped && base.counted[i] < base.cv[i] ? 0 : 1;
    const rate = unitCv * (own + bindingShare);
    let estimate = rate > 0 ? BigInt(Math.min(Math.ceil(deficit / rate), 2 ** 60)) : 1n;
    if (estimate < 1n) estimate = 1n;
    if (estimate > room) estimate = room;
    // Bracket (lo infeasible, hi feasible) around the estimate by galloping, then bisect.
    let lo: bigint;
    let hi: bigint;
    let step = estimate >> 6n > 0n ? estimate >> 6n : 1n;
    if (ok(estimate)) {
      hi = estimate;
      for (;;) {
        const cand = hi - step;
        if (cand <= 0n) {
          lo = 0n;
          break;
        }
        if (!ok(cand)) {
          lo = cand;
          break;
        }
        hi = cand;
        step *= 2n;
      }
    } else {
      if (estimate === room) continue;
      lo = estimate;
      for (;;) {
        const cand = lo + step;
        if (cand >= room) {
          hi = room;
          break;
        }
        if (ok(cand)) {
          hi = cand;
          break;
        }
        lo = cand;
        step *= 2n;
      }
      if (hi === room && !ok(room)) continue;
    }
    while (hi - lo > 1n) {
      const mid = (lo + hi) / 2n;
      if (ok(mid)) hi = mid;
      else lo = mid;
    }
    const extraCost =
      p.costBps[i] * (marketValue(p, i, amounts[i] + hi) - marketValue(p, i, amounts[i]));
    if (best === null || extraCost < bestCost) {
      best = amounts.slice();
      best[i] += hi;
      bestCost = extraCost;
    }
  }
  if (best !== null) return best;
  // Fallback: amounts + ceil(lambda * (holdings - amounts)) is monotone in lambda and feasible at lambda = 1.
  const ONE = 1n << 32n;
  const at = (lambda: bigint) =>
    amounts.map((a, i) => a + ((input.assets[i].holdings - a) * lambda + ONE - 1n) / ONE);
  let lo = 0n;
  let hi = ONE;
  while (hi - lo > 1n) {
    const mid = (lo + hi) / 2n;
    const cand = at(mid);
    if (
      collateralValueOf(
        p,
        cand.map((a, i) => a + posted[i]),
      ) >= R
    )
      hi = mid;
    else lo = mid;
  }
  return at(hi);
}

const EXACT_SEARCH_LIMIT = 1n << 40n;

export function optimiseDelivery(
  input: OptimiserInput,
  options: OptimiserOptions = {},
): OptimiserResult {
  validate(input);
  const assets = input.assets;
  const n = assets.length;
  const p: Prepared = {
    price: assets.map((a) => a.priceWad),
    scale: assets.map((a) => 10n ** BigInt(a.decimals)),
    haircutFactor: assets.map((a) => BPS - BigInt(a.haircutBps)),
    cap: assets.map((a) => BigInt(a.concentrationCapBps)),
    costBps: assets.map((a) => BigInt(a.costBps)),
  };
  const posted = assets.map((a) => a.posted);
  const before = collateralValueOf(p, posted);
  const R = input.requirement;

  const finish = (amounts: bigint[], lowerBound: number, proven: boolean): OptimiserResult => {
    const after = valuation(
      p,
      amounts.map((a, i) => a + posted[i]),
    );
    const deliveries = amounts.map((amount, i) => {
      const deliveredMarketValue = marketValue(p, i, amount);
      return {
        id: assets[i].id,
        amount,
        deliveredMarketValue,
        cost: p.costBps[i] * deliveredMarketValue,
        marketValue: after.mv[i],
        afterHaircut: after.cv[i],
        counted: after.counted[i],
      };
    });
    if (after.value < R) throw new Error("optimiser invariant: allocation below requirement");
    return {
      allocation: amounts,
      deliveries,
      cost: deliveries.reduce((s, d) => s + d.cost, 0n),
      collateralValueBefore: before,
      collateralValue: after.value,
      requirement: R,
      lowerBound,
      provenOptimal: proven,
    };
  };

  if (before >= R) return finish(new Array<bigint>(n).fill(0n), 0, true);

  const allBalances = assets.map((a) => a.posted + a.holdings);
  const all = valuation(p, allBalances);
  if (all.value < R) {
    throw new OptimiserError(
      "INSUFFICIENT_COLLATERAL",
      insufficientMessage(input, p, before, all),
      R - before,
      all.value - before,
    );
  }

  const model = buildModel(input, p);
  const { vars, lp, costScale } = model;
  const nv = vars.length;
  const root = solveLp(lp);
  // Delivering everything is feasible on-chain, hence in the relaxation; a null here is numerical trouble,
  // which the repair step below absorbs (starting from everything and trimming nothing is still feasible).
  const rootAmounts = new Array<bigint>(n).fill(0n);
  if (root) {
    for (let v = 0; v < nv; v++)
      rootAmounts[vars[v]] = roundUp(root.x[v], assets[vars[v]].holdings);
  } else {
    for (let v = 0; v < nv; v++) rootAmounts[vars[v]] = assets[vars[v]].holdings;
  }
  let incumbent = repair(input, p, posted, rootAmounts);
  let incumbentCost = deliveryCost(p, incumbent);
  const lowerBound = root ? root.objective * costScale : 0;

  const tolerance = (cost: bigint) => 1e-9 * Math.max(1, toFloat(cost));
  // Sub-wei slack when one raw unit is not a whole number of wei: floored cost may undercut the linear one.
  let slack = 0;
  for (const i of vars) if (p.price[i] % p.scale[i] !== 0n) slack += assets[i].costBps;
  const closed = () => lowerBound - slack >= toFloat(incumbentCost) - tolerance(incumbentCost);
  if (!root) return finish(incumbent, lowerBound, false);
  if (closed()) return finish(incumbent, lowerBound, true);

  // Default budget: about 1e5 tableau entries' worth of nodes (thousands for a handful of assets, a few dozen
  // for 50), which keeps the call within a few ms; pass maxNodes to search longer.
  const maxNodes =
    options.maxNodes ?? Math.max(20, Math.min(20_000, Math.floor(1e5 / (lp.rows * lp.cols))));
  const searchable = vars.every((i) => assets[i].holdings <= EXACT_SEARCH_LIMIT);
  if (maxNodes <= 0 || !searchable) return finish(incumbent, lowerBound, false);

  // Branch and bound over integer raw amounts, bounds in raw units per delivery variable.
  const H = vars.map((i) => toFloat(assets[i].holdings));
  interface Node {
    lo: number[];
    hi: number[];
  }
  const stack: Node[] = [{ lo: new Array<number>(nv).fill(0), hi: H.slice() }];
  let nodes = 0;
  let exhausted = true;
  while (stack.length > 0) {
    if (nodes++ >= maxNodes) {
      exhausted = false;
      break;
    }
    const node = stack.pop()!;
    for (let v = 0; v < nv; v++) {
      lp.lo[v] = node.lo[v] / H[v];
      lp.hi[v] = node.hi[v] / H[v];
    }
    const sol = solveLp(lp);
    if (!sol) continue;
    const bound = sol.objective * costScale;
    if (bound - slack >= toFloat(incumbentCost) - tolerance(incumbentCost)) continue;
    // Raw amounts of the LP point; pick the most fractional delivery to branch on.
    const q = new Array<number>(nv);
    let branchVar = -1;
    let branchFrac = 1e-7;
    for (let v = 0; v < nv; v++) {
      const raw = Math.min(node.hi[v], Math.max(node.lo[v], sol.x[v] * H[v]));
      const nearest = Math.round(raw);
      const frac = Math.abs(raw - nearest);
      q[v] = raw;
      if (frac > branchFrac) {
        branchFrac = frac;
        branchVar = v;
      }
    }
    if (branchVar >= 0) {
      const raw = q[branchVar];
      const down = { lo: node.lo, hi: node.hi.slice() };
      down.hi[branchVar] = Math.floor(raw);
      const up = { lo: node.lo.slice(), hi: node.hi };
      up.lo[branchVar] = Math.ceil(raw);
      stack.push(down, up); // up first: it tends to be feasible, tightening the incumbent early
      continue;
    }
    // Integral LP point: the exact rule decides.
    const point = q.map((raw, v) => Math.min(node.hi[v], Math.max(node.lo[v], Math.round(raw))));
    const amounts = new Array<bigint>(n).fill(0n);
    for (let v = 0; v < nv; v++) amounts[vars[v]] = BigInt(point[v]);
    if (
      collateralValueOf(
        p,
        amounts.map((a, i) => a + posted[i]),
      ) >= R
    ) {
      const cost = deliveryCost(p, amounts);
      if (cost < incumbentCost) {
        incumbent = amounts;
        incumbentCost = cost;
      }
      continue;
    }
    // Floors made it fall short. Every feasible point of the node has some asset above this point (V is
    // monotone), so split into: asset 0 above; asset 0 at most, asset 1 above; ... (a partition).
    const prefixHi = node.hi.slice();
    for (let v = 0; v < nv; v++) {
      if (point[v] + 1 <= node.hi[v]) {
        const child = { lo: node.lo.slice(), hi: prefixHi.slice() };
        child.lo[v] = point[v] + 1;
        stack.push(child);
      }
      prefixHi[v] = point[v];
    }
  }
  return finish(incumbent, lowerBound, exhausted);
}
