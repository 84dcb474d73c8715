import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

import { expect } from "chai";

import {
  analyseFile,
  analyseSources,
  evaluate,
  instrument,
  isProductSource,
  main,
  parseSolidity,
  skipTrivia,
  thresholdsFromEnv,
  type FileCoverage,
  type Statement,
} from "../scripts/coverage-gate.js";

// The gate itself (scripts/coverage-gate.ts) on small synthetic sources: real EDR instrumentation and a real
// solc AST, with hit counts chosen by each test in place of a coverage run.

const PATH = "contracts/Synthetic.sol";
const SOURCE = `// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

contract Synthetic {
    uint256 x;

    function withElse(uint256 a) external {
        if (a > 1) {
            x = 1;
        } else {
            x = 2;
        }
    }

    function withoutElse(uint256 a) external {
        if (a > 2) {
            x = 3;
        }
        x += 1;
    }

    function guard(uint256 a) external {
        if (a == 0) revert();
        x = a;
    }

    function loop(uint256 n) external {
        for (uint256 i; i < n; ++i) {
            if (i % 2 == 0) {
                x += i;
            }
        }
    }

    function attempt() external {
        try this.guard(0) {
            x = 4;
        } catch {
            x = 5;
        }
    }

    function attemptQuietly() external {
        try this.guard(0) {
            x = 6;
        } catch {}
        x = 7;
    }

    function pick(uint256 a) external pure returns (uint256) {
        return a > 1 ? 1 : 2;
    }
}
`;

const statements: Statement[] = instrument(PATH, SOURCE, "0.8.28");
const ast = parseSolidity({ [PATH]: SOURCE })[PATH];

/** The tag of the statement that starts at `snippet` (its first occurrence). */
function tagAt(snippet: string): string {
  const index = SOURCE.indexOf(snippet);
  expect(index, snippet).to.be.greaterThan(-1);
  const statement = statements.find((s) => skipTrivia(SOURCE, s.startUtf16, s.endUtf16) === index);
  expect(statement, `an instrumented statement at "${snippet}"`).to.not.equal(undefined);
  return statement!.tag;
}

function lineOf(snippet: string): number {
  return SOURCE.slice(0, SOURCE.indexOf(snippet)).split("\n").length;
}

/** Hit counts (tag -> transactions that ran it) from statement snippets, on top of `base`. */
function hits(
  counts: Record<string, number>,
  base: ReadonlyMap<string, number> = new Map(),
): Map<string, number> {
  const result = new Map(base);
  for (const [snippet, n] of Object.entries(counts)) result.set(tagAt(snippet), n);
  return result;
}

const QUIET_TRY = "try this.guard(0) {\n            x = 6";

/**
 * A run that covers everything: every statement ran, and each if without else (and the try with the empty
 * catch) ran in one more transaction than its true arm (its success clause).
 */
function full(): Map<string, number> {
  return hits(
    { "if (a > 2)": 2, "if (i % 2 == 0)": 2, [QUIET_TRY]: 2 },
    new Map(statements.map((s) => [s.tag, 1])),
  );
}

/** The else arm of withElse and the catch clause never ran. */
function partial(): Map<string, number> {
  return hits({ "{\n            x = 2;": 0, "x = 2;": 0, "x = 5;": 0 }, full());
}

function measure(counts: Record<string, number> | Map<string, number>): FileCoverage {
  return analyseFile({
    path: PATH,
    content: SOURCE,
    statements,
    ast,
    hits: counts instanceof Map ? counts : hits(counts),
  });
}

/** The taken flags of the branches on the line of `snippet`, by label. */
function branchesAt(file: FileCoverage, snippet: string): Record<string, boolean> {
  const line = lineOf(snippet);
  return Object.fromEntries(
    file.branches.filter((b) => b.line === line).map((b) => [b.label, b.taken]),
  );
}

describe("coverage gate", function () {
  this.timeout(60_000);

  it("takes each arm of an if with else iff that arm ran", function () {
    const ifWithElse = "if (a > 1)";
    const onlyTrue = measure({ [ifWithElse]: 2, "{\n            x = 1;": 2, "x = 1;": 2 });
    expect(branchesAt(onlyTrue, ifWithElse)).to.deep.equal({ true: true, false: false });

    const both = measure({
      [ifWithElse]: 3,
      "{\n            x = 1;": 2,
      "x = 1;": 2,
      "{\n            x = 2;": 1,
    });
    expect(branchesAt(both, ifWithElse)).to.deep.equal({ true: true, false: true });
  });

  it("takes the false arm of an if without else iff the if ran in more transactions than its true arm", function () {
    const ifWithoutElse = "if (a > 2)";
    const arm = "{\n            x = 3;";
    expect(
      branchesAt(measure({ [ifWithoutElse]: 3, [arm]: 3, "x += 1;": 3 }), ifWithoutElse),
    ).to.deep.equal({
      true: true,
      false: false,
    });
    expect(
      branchesAt(measure({ [ifWithoutElse]: 4, [arm]: 3, "x += 1;": 4 }), ifWithoutElse),
    ).to.deep.equal({
      true: true,
      false: true,
    });
    // The extra transaction never reached the statement after the if, which every false arm leads to: it
    // reverted in the condition, so no false arm.
    expect(branchesAt(measure({ [ifWithoutElse]: 4, [arm]: 3 }), ifWithoutElse).false).to.equal(
      false,
    );
    expect(branchesAt(measure({ [ifWithoutElse]: 2, "x += 1;": 2 }), ifWithoutElse)).to.deep.equal({
      true: false,
      false: true,
    });
  });

  it("uses counts, not booleans, for an if in a loop", function () {
    const ifInLoop = "if (i % 2 == 0)";
    const arm = "{\n                x += i;";
    const loop = { "for (uint256 i;": 2, "{\n            if (i % 2": 2 };
    // Two transactions ran the if, one of them never its true arm: the false arm was taken.
    expect(branchesAt(measure({ ...loop, [ifInLoop]: 2, [arm]: 1 }), ifInLoop)).to.deep.equal({
      true: true,
      false: true,
    });
    // Every transaction that ran the if also ran its true arm. Hits are counted once per transaction, so this
    // cannot show a false arm taken within the same transaction: reported untaken (the documented under-report).
    expect(branchesAt(measure({ ...loop, [ifInLoop]: 2, [arm]: 2 }), ifInLoop)).to.deep.equal({
      true: true,
      false: false,
    });
  });

  it("takes the false arm of an if whose true arm exits iff the statement after it ran", function () {
    const guard = "if (a == 0)";
    // More transactions ran the if than its revert, but none reached `x = a`: they reverted in the condition.
    expect(branchesAt(measure({ [guard]: 2, "revert();": 1 }), guard)).to.deep.equal({
      true: true,
      false: false,
    });
    expect(branchesAt(measure({ [guard]: 2, "revert();": 1, "x = a;": 1 }), guard)).to.deep.equal({
      true: true,
      false: true,
    });
  });

  it("counts try clauses as branches and lists conditional expressions as not measured", function () {
    const clauses = (file: FileCoverage, snippet: string) =>
      file.branches.filter((b) => b.line === lineOf(snippet)).map((b) => [b.label, b.taken]);
    const file = measure({ "try this.guard(0)": 1, "x = 4;": 1 });
    expect(clauses(file, "try this")).to.deep.equal([["try", true]]);
    expect(clauses(file, "} catch {\n")).to.deep.equal([["catch", false]]);
    expect(file.notMeasured).to.deep.equal([
      { line: lineOf("a > 1 ? 1 : 2"), what: "conditional expression (?:)" },
    ]);
    // 2 arms for each of the 4 ifs, and 2 clauses for each of the 2 trys.
    expect(file.branches).to.have.length(12);

    // An empty `catch {}`: taken iff the try ran in more transactions than its other clauses, and the
    // statement after the try ran.
    const quiet = "} catch {}";
    expect(clauses(measure({ [QUIET_TRY]: 2, "x = 6;": 2, "x = 7;": 2 }), quiet)).to.deep.equal([
      ["catch", false],
    ]);
    expect(clauses(measure({ [QUIET_TRY]: 3, "x = 6;": 2, "x = 7;": 3 }), quiet)).to.deep.equal([
      ["catch", true],
    ]);
    expect(clauses(measure({ [QUIET_TRY]: 3, "x = 6;": 2, "x = 7;": 2 }), quiet)).to.deep.equal([
      ["catch", true],
    ]);
    expect(clauses(measure({ [QUIET_TRY]: 3, "x = 6;": 2 }), quiet)).to.deep.equal([
      ["catch", false],
    ]);
  });

  it("reports as uncovered exactly the lines of statements that never ran", function () {
    expect(measure(full()).uncoveredLines).to.deep.equal([]);
    expect(measure(partial()).uncoveredLines).to.deep.equal([lineOf("x = 2;"), lineOf("x = 5;")]);
  });

  it("measures only product code: no mocks, no bench, no interfaces", function () {
    expect(isProductSource("contracts/vault/CollateralVault.sol")).to.equal(true);
    expect(isProductSource("contracts/mocks/doubles/MockERC20.sol")).to.equal(false);
    expect(isProductSource("bench/contracts/DvPFloor.sol")).to.equal(false);
    expect(isProductSource("test/CollateralVault.t.sol")).to.equal(false);

    const mock = SOURCE.replace("contract Synthetic", "contract Mock");
    const files = analyseSources(
      {
        [PATH]: SOURCE,
        "contracts/mocks/Mock.sol": mock,
        "bench/contracts/Mock.sol": mock,
        "contracts/interfaces/IThing.sol":
          "pragma solidity ^0.8.28;\ninterface IThing { function f() external; }\n",
      },
      new Map(),
      "0.8.28",
    );
    expect(files.map((f) => f.path)).to.deep.equal([PATH]);
  });

  it("fails below either threshold, saying by how much, and passes at or above them", function () {
    const covered = measure(full());
    expect(evaluate([covered], { lines: 95, branches: 90 }).failures).to.deep.equal([]);
    expect(evaluate([covered], { lines: 100, branches: 100 }).failures).to.deep.equal([]);

    const missing = measure(partial());
    const verdict = evaluate([missing], { lines: 95, branches: 90 });
    const { linesFound, linesHit, branchesFound, branchesHit } = verdict.totals;
    expect([linesFound - linesHit, branchesFound, branchesHit]).to.deep.equal([2, 12, 10]);
    expect(verdict.linesPercent).to.be.below(95);
    expect(verdict.failures).to.deep.equal([
      `Line coverage ${verdict.linesPercent.toFixed(2)}% (${linesHit}/${linesFound}) is below the 95% minimum ` +
        `(COVERAGE_MIN_LINES) by ${(95 - verdict.linesPercent).toFixed(2)} percentage points.`,
      "Branch coverage 83.33% (10/12) is below the 90% minimum (COVERAGE_MIN_BRANCHES) by 6.67 percentage points.",
    ]);
    expect(evaluate([missing], { lines: 0, branches: 83 }).failures).to.deep.equal([]);
    expect(evaluate([missing], { lines: 0, branches: 84 }).failures).to.have.length(1);

    expect(thresholdsFromEnv({})).to.deep.equal({ lines: 95, branches: 90 });
    expect(
      thresholdsFromEnv({ COVERAGE_MIN_LINES: "80", COVERAGE_MIN_BRANCHES: "70.5" }),
    ).to.deep.equal({
      lines: 80,
      branches: 70.5,
    });
    expect(() => thresholdsFromEnv({ COVERAGE_MIN_LINES: "ninety" })).to.throw(
      /COVERAGE_MIN_LINES/,
    );
  });

  it("exits 1 below the thresholds, 0 above them and 2 without data, from files on disk", function () {
    const root = mkdtempSync(path.join(tmpdir(), "coverage-gate-"));
    try {
      mkdirSync(path.join(root, "contracts", "mocks"), { recursive: true });
      writeFileSync(path.join(root, PATH), SOURCE);
      // A never-run mock would pull the totals down if it were measured.
      writeFileSync(
        path.join(root, "contracts/mocks/Mock.sol"),
        SOURCE.replace("contract Synthetic", "contract Mock"),
      );
      const output: string[] = [];
      const run = (env: Record<string, string> = {}) =>
        main(root, env, (text) => output.push(text));

      expect(run()).to.equal(2);
      expect(output.join("\n")).to.match(/no coverage data/);

      // Hardhat's data format: coverage/data/<runner>/<uuid>.json, { tag: count }; split over two runners.
      const entries = [...partial()].filter(([, n]) => n > 0);
      mkdirSync(path.join(root, "coverage/data/mocha"), { recursive: true });
      mkdirSync(path.join(root, "coverage/data/solidity"), { recursive: true });
      writeFileSync(
        path.join(root, "coverage/data/mocha/a.json"),
        JSON.stringify(Object.fromEntries(entries.slice(0, 5))),
      );
      writeFileSync(
        path.join(root, "coverage/data/solidity/b.json"),
        JSON.stringify(Object.fromEntries(entries.slice(5))),
      );

      output.length = 0;
      expect(run()).to.equal(1);
      const report = output.join("\n");
      expect(report).to.include(`${PATH}:${lineOf("if (a > 1)")} false`);
      expect(report).to.include(`${PATH}:${lineOf("x = 2;")}  x = 2;`);
      expect(report).to.not.include("contracts/mocks/Mock.sol");
      expect(report).to.match(/Coverage gate FAILED:\n {2}Line coverage .* by /);

      output.length = 0;
      expect(run({ COVERAGE_MIN_LINES: "80", COVERAGE_MIN_BRANCHES: "75" })).to.equal(0);
      expect(output.join("\n")).to.match(/Coverage gate passed\./);

      // An lcov.info (Hardhat's report of the same run) that disagrees with the data: cannot measure.
      writeFileSync(
        path.join(root, "coverage/lcov.info"),
        `TN:\nSF:${PATH}\nDA:9,1\nLH:1\nLF:1\nend_of_record\n`,
      );
      output.length = 0;
      expect(run({ COVERAGE_MIN_LINES: "80", COVERAGE_MIN_BRANCHES: "75" })).to.equal(2);
      expect(output.join("\n")).to.match(/do not give the lines of coverage\/lcov\.info/);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
