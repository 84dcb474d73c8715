/**
 * The coverage gate of issue 9: after `hardhat test --coverage`, measures the line and branch coverage of
 * the product contracts and exits 1 if total lines < 95% or total branches < 90%.
 *
 *   npm run coverage                                  # hardhat test --coverage && this script
 *   node scripts/coverage-gate.ts                     # re-evaluates the last coverage run
 *   COVERAGE_MIN_LINES=90 COVERAGE_MIN_BRANCHES=80 node scripts/coverage-gate.ts
 *
 * Scope: every .sol file under contracts/ except contracts/mocks/ (test doubles, hostile tokens, harnesses); the
 * bench's contracts live in bench/contracts/. Files without executable statements (interfaces) have nothing to
 * measure.
 *
 * Where the numbers come from
 * ---------------------------
 * Hardhat 3's coverage (EDR) instruments each Solidity *statement* with a hit marker (a "tag") and writes,
 * per test runner, `coverage/data/<runner>/<uuid>.json`: { tag: count }. Those files stay on disk after the
 * run (Hardhat clears them only when the next run of that runner starts). The tag -> source-range metadata is
 * kept in memory only, so this script recomputes it with the same EDR function Hardhat calls
 * (`addStatementCoverageInstrumentation`, deterministic in source text, source name `project/<path>` and solc
 * version). The solc AST comes from the `solc` npm package (the compiler hardhat.config.ts uses) run with
 * `stopAfter: "parsing"`, which needs no imports.
 *
 * The count of a tag is NOT the number of times the statement ran: EDR reports each tag at most once per
 * transaction (per call of its coverage callback), and Hardhat adds 1 per report. So count(tag) = number of
 * transactions in which the statement ran at least once. Everything below is derived from that.
 *
 * Lines: exactly Hardhat's own rule (a port of its process-coverage.js): a line is instrumented if it holds a
 * character of some statement that is not whitespace, a brace, a comment, an `} else {`, a function or a catch
 * signature; it is uncovered if any such character belongs to a statement that never ran. The result is
 * checked against coverage/lcov.info written by the same run, so the line numbers match Hardhat's table and a
 * stale or mismatched data directory is detected instead of silently mis-measured.
 *
 * What counts as a branch (2 per `if`, 1 per `try` clause):
 *  - `if` true arm: taken iff the arm ran. EDR gives every arm of an `if` its own tag (it wraps the arm in a
 *    block that starts with a hit), i.e. the hit of the first statement of the arm; this also works for empty
 *    arms and single-statement arms without braces.
 *  - `if` false arm, with `else` (including `else if`): taken iff the else arm ran.
 *  - `if` false arm, no `else`:
 *      a) if the true arm cannot complete (it ends in return, revert, break or continue) and the `if` has a
 *         following statement in its block: taken iff that statement ran. Exact, also inside loops.
 *      b) otherwise: taken iff count(if) > count(true arm) - some transaction ran the `if` but never its true
 *         arm, so the condition was false there - and, when the `if` has a following statement in its block,
 *         that statement ran (a necessary condition).
 *  - `try` clauses: the success clause and each `catch` clause is one branch, taken iff the first statement of
 *    its block ran. If exactly one clause is empty (typically `catch {}`), it is taken iff count(try) > the sum
 *    of the other clauses' counts and, when the try has a following statement in its block, that statement ran
 *    (rule b applied to try).
 * Not counted, because statement data cannot show them (listed under "not measured" in the report): conditional
 * expressions `c ? a : b`, a second empty clause of one `try`, Yul `if`/`switch` in inline assembly. Not
 * branches here at all: `require`/`assert`, loop conditions, `&&`/`||` short-circuits, modifiers as such.
 *
 * Known limits (in both directions, so the figure is an estimate with a known bias):
 *  - under-reports: in rule b), code that takes both arms of an `if` within one transaction (a loop, a function
 *    called several times per transaction), in every transaction that runs it, shows count(if) ==
 *    count(true arm), so the false arm looks untaken; the report marks such branches `[count]`;
 *  - over-reports: in rule b), the hit of an `if` is recorded before its condition is evaluated, so a condition
 *    that reverts (an external call, checked arithmetic, an out-of-bounds index) looks like a false arm, unless
 *    rule a) applies or the next-statement check rules it out; likewise a `try` whose call reverts uncaught
 *    looks like its empty clause.
 */
import { existsSync, readdirSync, readFileSync, realpathSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

import {
  addStatementCoverageInstrumentation,
  latestSupportedSolidityVersion,
} from "@nomicfoundation/edr";
import solc from "solc";

/** Minimum total line coverage of the product contracts, in percent (env COVERAGE_MIN_LINES overrides). */
export const MIN_LINES_PERCENT = 95;
/** Minimum total branch coverage of the product contracts, in percent (env COVERAGE_MIN_BRANCHES overrides). */
export const MIN_BRANCHES_PERCENT = 90;
/** Where the measured sources live, relative to the project root. */
export const SOURCE_DIR = "contracts";
/** Test doubles and benchmark scaffolding: compiled and instrumented, but not product code. */
export const EXCLUDED_DIRS = ["contracts/mocks/"];

/** One instrumented statement: its tag (hex) and its source range, trivia included, in UTF-16 units. */
export interface Statement {
  tag: string;
  startUtf16: number;
  endUtf16: number;
}

/** Tag -> number of transactions in which it was hit. */
export type Hits = ReadonlyMap<string, number>;

/** A solc AST node, as much of it as the gate reads. */
export interface AstNode {
  nodeType: string;
  src: string;
  [key: string]: unknown;
}

export interface Branch {
  line: number;
  /** "true" | "false" for an if; "try" | "catch" | "catch Error" | "catch Panic" for try clauses. */
  label: string;
  taken: boolean;
  /**
   * How `taken` was decided: "ran" - the arm's own statement ran; "next" - the statement after an if whose
   * true arm always exits ran (rule a); "count" - transaction counts (rule b), which cannot see an arm taken
   * in a transaction that also took the other one.
   */
  basis: "ran" | "next" | "count";
}

export interface NotMeasured {
  line: number;
  what: string;
}

export interface FileCoverage {
  path: string;
  /** Instrumented lines that ran / did not run (Hardhat's rule), ascending. */
  executedLines: number[];
  uncoveredLines: number[];
  branches: Branch[];
  notMeasured: NotMeasured[];
  /** The file's source, split into lines (index 0 is line 1), for the report. */
  sourceLines: string[];
}

export interface Thresholds {
  lines: number;
  branches: number;
}

export interface Totals {
  linesFound: number;
  linesHit: number;
  branchesFound: number;
  branchesHit: number;
}

export interface Verdict {
  totals: Totals;
  linesPercent: number;
  branchesPercent: number;
  /** One sentence per failed threshold; empty when the gate passes. */
  failures: string[];
}

// ---------------------------------------------------------------------------------------------------------
// Scope

/** Whether a project-relative path is measured: a .sol file under contracts/, outside mocks/ and bench/. */
export function isProductSource(relativePath: string): boolean {
  const p = relativePath.split(path.sep).join("/");
  return (
    p.startsWith(`${SOURCE_DIR}/`) &&
    p.endsWith(".sol") &&
    !EXCLUDED_DIRS.some((dir) => p.startsWith(dir))
  );
}

// ---------------------------------------------------------------------------------------------------------
// Instrumentation metadata and AST

/** The solc version EDR instruments with: the compilation's, capped at the newest EDR supports (as Hardhat does). */
export function instrumentationVersion(solcVersion: string): string {
  const latest = latestSupportedSolidityVersion();
  const parse = (v: string) => v.split("+")[0].split(".").map(Number);
  const [a, b] = [parse(solcVersion), parse(latest)];
  for (let i = 0; i < 3; i++) {
    if (a[i] !== b[i]) return a[i] < b[i] ? solcVersion.split("+")[0] : latest;
  }
  return latest;
}

/** The statements Hardhat instruments in a project file, with the tags its coverage data is keyed by. */
export function instrument(
  relativePath: string,
  content: string,
  solcVersion: string,
): Statement[] {
  const sourceName = `project/${relativePath.split(path.sep).join("/")}`;
  const { metadata } = addStatementCoverageInstrumentation(
    content,
    sourceName,
    instrumentationVersion(solcVersion),
  );
  return metadata
    .filter((m) => m.kind === "statement")
    .map((m) => ({
      tag: Buffer.from(m.tag).toString("hex"),
      startUtf16: m.startUtf16,
      endUtf16: m.endUtf16,
    }));
}

/** The version of the `solc` npm package, e.g. "0.8.28": the compiler hardhat.config.ts points at. */
export function solcPackageVersion(): string {
  return solc.version().split("+")[0];
}

/** Parses Solidity sources (no imports needed) and returns each one's AST. Throws on syntax errors. */
export function parseSolidity(sources: Record<string, string>): Record<string, AstNode> {
  const input = {
    language: "Solidity",
    sources: Object.fromEntries(Object.entries(sources).map(([p, content]) => [p, { content }])),
    settings: { stopAfter: "parsing", outputSelection: { "*": { "": ["ast"] } } },
  };
  const output = JSON.parse(solc.compile(JSON.stringify(input))) as {
    errors?: { severity: string; formattedMessage: string }[];
    sources?: Record<string, { ast: AstNode }>;
  };
  const errors = (output.errors ?? []).filter((e) => e.severity === "error");
  if (errors.length > 0) {
    throw new Error(
      `solc could not parse the sources:\n${errors.map((e) => e.formattedMessage).join("\n")}`,
    );
  }
  return Object.fromEntries(Object.keys(sources).map((p) => [p, output.sources![p].ast]));
}

/** Maps solc's UTF-8 byte offsets to the UTF-16 indexes EDR and JavaScript strings use. */
export function utf8ToUtf16(content: string): (byteOffset: number) => number {
  const map = new Int32Array(Buffer.byteLength(content, "utf8") + 1);
  let byte = 0;
  for (let i = 0; i < content.length; i++) {
    const cp = content.codePointAt(i)!;
    const size = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    map.fill(i, byte, byte + size);
    byte += size;
    if (cp > 0xffff) i++; // a surrogate pair: one code point, two UTF-16 units
  }
  map[byte] = content.length;
  return (byteOffset) => map[byteOffset];
}

/** The index of the first character at or after `i` that is neither whitespace nor a comment. */
export function skipTrivia(content: string, i: number, end: number = content.length): number {
  while (i < end) {
    if (/\s/.test(content[i])) {
      i++;
    } else if (content.startsWith("//", i)) {
      const newline = content.indexOf("\n", i);
      i = newline === -1 ? end : newline + 1;
    } else if (content.startsWith("/*", i)) {
      const close = content.indexOf("*/", i + 2);
      i = close === -1 ? end : close + 2;
    } else {
      break;
    }
  }
  return i;
}

// ---------------------------------------------------------------------------------------------------------
// Lines: Hardhat's rule (hardhat/dist/src/internal/builtin-plugins/coverage/process-coverage.js, 3.18)

const NOT_EXECUTED = 0;
const EXECUTED = 1;
const IGNORED = 2;

const NON_EXECUTABLE_PATTERNS = [
  /\/\/.*?(?=\n|$)/g, // line comments
  /\/\*[\s\S]*?\*\//g, // block comments
  /\}\s*\belse\b\s*\{/g, // } else {
  /^\s*(function\s+[A-Za-z_$][A-Za-z0-9_$]*\s*\([\s\S]*?\)[^{]*?)(?=\s*\{)/gm, // function signatures
  /\bcatch\b(?:\s+[A-Za-z_][A-Za-z0-9_]*)?\s*(?:\([\s\S]*?\))?(?=\s*\{)/g, // catch signatures
];

/** Space, \t..\r, braces: never executable by themselves. */
function isIgnorableChar(code: number): boolean {
  return code === 32 || (code >= 9 && code <= 13) || code === 123 || code === 125;
}

/** Instrumented lines of a file, split into executed and uncovered (1-based, ascending). */
export function lineCoverage(
  content: string,
  statements: readonly Statement[],
  hits: Hits,
): { executed: number[]; uncovered: number[] } {
  if (statements.length === 0) return { executed: [], uncovered: [] };
  let start = content.length;
  let end = 0;
  for (const s of statements) {
    start = Math.min(start, s.startUtf16);
    end = Math.max(end, s.endUtf16);
  }
  const status = new Uint8Array(content.length).fill(IGNORED);
  for (let i = start; i < end; i++) {
    if (!isIgnorableChar(content.charCodeAt(i))) status[i] = EXECUTED;
  }
  for (const s of statements) {
    if ((hits.get(s.tag) ?? 0) > 0) continue;
    for (let i = s.startUtf16; i < s.endUtf16; i++) {
      if (status[i] !== IGNORED) status[i] = NOT_EXECUTED;
    }
  }
  for (const pattern of NON_EXECUTABLE_PATTERNS) {
    for (const match of content.matchAll(pattern)) {
      status.fill(IGNORED, match.index, match.index + match[0].length);
    }
  }

  const executed: number[] = [];
  const uncovered: number[] = [];
  let line = 1;
  let counted = false;
  let missed = false;
  const closeLine = () => {
    if (counted) (missed ? uncovered : executed).push(line);
    line++;
    counted = false;
    missed = false;
  };
  for (let i = 0; i < content.length; i++) {
    if (status[i] !== IGNORED) counted = true;
    if (status[i] === NOT_EXECUTED) missed = true;
    if (content[i] === "\n") closeLine();
  }
  if (!content.endsWith("\n") && content.length > 0) closeLine();
  return { executed, uncovered };
}

// ---------------------------------------------------------------------------------------------------------
// Branches

function isNode(value: unknown): value is AstNode {
  return (
    typeof value === "object" && value !== null && typeof (value as AstNode).nodeType === "string"
  );
}

/** Whether a statement can never complete normally (every path ends in return, revert, break or continue). */
export function alwaysExits(node: AstNode | undefined): boolean {
  if (node === undefined) return false;
  switch (node.nodeType) {
    case "Return":
    case "RevertStatement":
    case "Break":
    case "Continue":
      return true;
    case "ExpressionStatement": {
      const call = node.expression as AstNode | undefined;
      const callee = call?.nodeType === "FunctionCall" ? (call.expression as AstNode) : undefined;
      return callee?.nodeType === "Identifier" && callee.name === "revert";
    }
    case "Block":
    case "UncheckedBlock":
      return (node.statements as AstNode[]).some(alwaysExits);
    case "IfStatement":
      return (
        isNode(node.falseBody) &&
        alwaysExits(node.trueBody as AstNode) &&
        alwaysExits(node.falseBody)
      );
    default:
      return false;
  }
}

/** The branches of one file (see the header for what counts) and what could not be measured. */
export function branchCoverage(
  content: string,
  ast: AstNode,
  statements: readonly Statement[],
  hits: Hits,
): { branches: Branch[]; notMeasured: NotMeasured[] } {
  const toUtf16 = utf8ToUtf16(content);
  const lineStarts = [0];
  for (let i = 0; i < content.length; i++) if (content[i] === "\n") lineStarts.push(i + 1);
  const lineOf = (index: number) => {
    let lo = 0;
    let hi = lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (lineStarts[mid] <= index) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  };
  const startOf = (node: AstNode) => toUtf16(Number(node.src.split(":")[0]));

  // A statement's tag range starts with its leading trivia; the AST node starts at its first token.
  const byStart = new Map<number, Statement>();
  for (const s of statements) {
    const first = skipTrivia(content, s.startUtf16, s.endUtf16);
    const known = byStart.get(first);
    // Should two ranges start at the same token, the innermost one belongs to the node that starts there.
    if (known === undefined || s.endUtf16 - s.startUtf16 < known.endUtf16 - known.startUtf16) {
      byStart.set(first, s);
    }
  }
  /** The hit count of a statement node, or undefined if EDR did not instrument it. */
  const hitsOf = (node: AstNode | undefined): number | undefined => {
    if (node === undefined) return undefined;
    const s = byStart.get(startOf(node));
    return s === undefined ? undefined : (hits.get(s.tag) ?? 0);
  };

  const branches: Branch[] = [];
  const notMeasured: NotMeasured[] = [];

  const visitIf = (node: AstNode, next: AstNode | undefined): void => {
    const line = lineOf(startOf(node));
    const trueBody = node.trueBody as AstNode;
    const falseBody = isNode(node.falseBody) ? node.falseBody : undefined;
    const ifHits = hitsOf(node);
    const trueHits = hitsOf(trueBody);
    const falseHits = falseBody === undefined ? 0 : hitsOf(falseBody);
    if (ifHits === undefined || trueHits === undefined || falseHits === undefined) {
      notMeasured.push({ line, what: "if statement without instrumented arms" });
      return;
    }
    branches.push({ line, label: "true", taken: trueHits > 0, basis: "ran" });
    if (falseBody !== undefined) {
      branches.push({ line, label: "false", taken: falseHits > 0, basis: "ran" });
      return;
    }
    const nextHits = hitsOf(next);
    if (alwaysExits(trueBody) && nextHits !== undefined) {
      branches.push({ line, label: "false", taken: nextHits > 0, basis: "next" }); // rule a)
    } else {
      const taken = ifHits > trueHits && (nextHits === undefined || nextHits > 0); // rule b)
      branches.push({ line, label: "false", taken, basis: "count" });
    }
  };

  const visitTry = (node: AstNode, next: AstNode | undefined): void => {
    const clauses = (node.clauses as AstNode[]).map((clause, i) => {
      const errorName = typeof clause.errorName === "string" ? clause.errorName : "";
      const first = ((clause.block as AstNode).statements as AstNode[])[0];
      return {
        line: lineOf(startOf(clause)),
        label: i === 0 ? "try" : errorName === "" ? "catch" : `catch ${errorName}`,
        firstHits: hitsOf(first),
      };
    });
    const empty = clauses.filter((c) => c.firstHits === undefined);
    const tryHits = hitsOf(node);
    for (const c of clauses) {
      if (c.firstHits !== undefined) {
        branches.push({ line: c.line, label: c.label, taken: c.firstHits > 0, basis: "ran" });
      } else if (empty.length === 1 && tryHits !== undefined) {
        // The one empty clause (typically `catch {}`): like rule b), taken iff some transaction ran the try but
        // none of the other clauses, and the statement after the try (which an empty clause falls through to) ran.
        const others = clauses.reduce((sum, o) => sum + (o.firstHits ?? 0), 0);
        const nextHits = hitsOf(next);
        const taken = tryHits > others && (nextHits === undefined || nextHits > 0);
        branches.push({ line: c.line, label: c.label, taken, basis: "count" });
      } else {
        notMeasured.push({ line: c.line, what: `${c.label} clause with an empty block` });
      }
    }
  };

  const visit = (node: AstNode, next: AstNode | undefined) => {
    switch (node.nodeType) {
      case "IfStatement":
        visitIf(node, next);
        break;
      case "TryStatement":
        visitTry(node, next);
        break;
      case "Conditional":
        notMeasured.push({ line: lineOf(startOf(node)), what: "conditional expression (?:)" });
        break;
      case "YulIf":
      case "YulSwitch":
        notMeasured.push({
          line: lineOf(startOf(node)),
          what: `inline assembly ${node.nodeType === "YulIf" ? "if" : "switch"}`,
        });
        break;
    }
    if (node.nodeType === "Block" || node.nodeType === "UncheckedBlock") {
      const body = node.statements as AstNode[];
      body.forEach((statement, i) => visit(statement, body[i + 1]));
      return;
    }
    for (const value of Object.values(node)) {
      if (Array.isArray(value)) {
        for (const item of value) if (isNode(item)) visit(item, undefined);
      } else if (isNode(value)) {
        visit(value, undefined);
      }
    }
  };
  visit(ast, undefined);

  const byLine = (a: { line: number }, b: { line: number }) => a.line - b.line;
  return { branches: branches.sort(byLine), notMeasured: notMeasured.sort(byLine) };
}

// ---------------------------------------------------------------------------------------------------------
// Files, totals, verdict

/** Measures one file from its source, its instrumented statements, its AST and the run's hits. */
export function analyseFile(input: {
  path: string;
  content: string;
  statements: readonly Statement[];
  ast: AstNode;
  hits: Hits;
}): FileCoverage {
  const { executed, uncovered } = lineCoverage(input.content, input.statements, input.hits);
  const { branches, notMeasured } = branchCoverage(
    input.content,
    input.ast,
    input.statements,
    input.hits,
  );
  return {
    path: input.path,
    executedLines: executed,
    uncoveredLines: uncovered,
    branches,
    notMeasured,
    sourceLines: input.content.split("\n"),
  };
}

/**
 * Measures the product sources among `sources` (project-relative path -> content): mocks, bench and anything
 * outside contracts/ are dropped, as are files without executable statements (interfaces).
 */
export function analyseSources(
  sources: Record<string, string>,
  hits: Hits,
  solcVersion: string = solcPackageVersion(),
): FileCoverage[] {
  const measured = Object.fromEntries(Object.entries(sources).filter(([p]) => isProductSource(p)));
  const asts = parseSolidity(measured);
  const files: FileCoverage[] = [];
  for (const [p, content] of Object.entries(measured).sort(([a], [b]) => a.localeCompare(b))) {
    const statements = instrument(p, content, solcVersion);
    if (statements.length === 0) continue;
    files.push(analyseFile({ path: p, content, statements, ast: asts[p], hits }));
  }
  return files;
}

export function totals(files: readonly FileCoverage[]): Totals {
  const t: Totals = { linesFound: 0, linesHit: 0, branchesFound: 0, branchesHit: 0 };
  for (const f of files) {
    t.linesHit += f.executedLines.length;
    t.linesFound += f.executedLines.length + f.uncoveredLines.length;
    t.branchesFound += f.branches.length;
    t.branchesHit += f.branches.filter((b) => b.taken).length;
  }
  return t;
}

/** hit/found in percent; nothing to measure counts as fully covered. */
export function percent(hit: number, found: number): number {
  return found === 0 ? 100 : (hit * 100) / found;
}

/** Thresholds from COVERAGE_MIN_LINES / COVERAGE_MIN_BRANCHES, defaulting to the constants above. */
export function thresholdsFromEnv(
  env: Record<string, string | undefined> = process.env,
): Thresholds {
  const read = (name: string, fallback: number) => {
    const raw = env[name];
    if (raw === undefined || raw.trim() === "") return fallback;
    const value = Number(raw);
    if (!Number.isFinite(value) || value < 0 || value > 100) {
      throw new Error(`${name} must be a percentage between 0 and 100, got "${raw}"`);
    }
    return value;
  };
  return {
    lines: read("COVERAGE_MIN_LINES", MIN_LINES_PERCENT),
    branches: read("COVERAGE_MIN_BRANCHES", MIN_BRANCHES_PERCENT),
  };
}

/** Compares the totals with the thresholds; a threshold is met when hit/found >= minimum, unrounded. */
export function evaluate(files: readonly FileCoverage[], thresholds: Thresholds): Verdict {
  const t = totals(files);
  const linesPercent = percent(t.linesHit, t.linesFound);
  const branchesPercent = percent(t.branchesHit, t.branchesFound);
  const failures: string[] = [];
  const check = (
    what: string,
    hit: number,
    found: number,
    pct: number,
    min: number,
    env: string,
  ) => {
    if (found > 0 && hit * 100 < min * found) {
      failures.push(
        `${what} coverage ${pct.toFixed(2)}% (${hit}/${found}) is below the ${min}% minimum ` +
          `(${env}) by ${(min - pct).toFixed(2)} percentage points.`,
      );
    }
  };
  check("Line", t.linesHit, t.linesFound, linesPercent, thresholds.lines, "COVERAGE_MIN_LINES");
  check(
    "Branch",
    t.branchesHit,
    t.branchesFound,
    branchesPercent,
    thresholds.branches,
    "COVERAGE_MIN_BRANCHES",
  );
  return { totals: t, linesPercent, branchesPercent, failures };
}

// ---------------------------------------------------------------------------------------------------------
// Report

/** "3, 7-9, 12" */
export function formatRanges(lines: readonly number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    let j = i;
    while (j + 1 < lines.length && lines[j + 1] === lines[j] + 1) j++;
    parts.push(i === j ? `${lines[i]}` : `${lines[i]}-${lines[j]}`);
    i = j;
  }
  return parts.length === 0 ? "-" : parts.join(", ");
}

export function formatReport(
  files: readonly FileCoverage[],
  verdict: Verdict,
  thresholds: Thresholds,
): string {
  const out: string[] = [];
  const pct = (hit: number, found: number) =>
    found === 0 ? "-" : `${percent(hit, found).toFixed(2)}% (${hit}/${found})`;
  const rows = files.map((f) => {
    const taken = f.branches.filter((b) => b.taken).length;
    return [
      f.path,
      pct(f.executedLines.length, f.executedLines.length + f.uncoveredLines.length),
      pct(taken, f.branches.length),
      formatRanges(f.uncoveredLines),
    ];
  });
  const t = verdict.totals;
  const header = ["File", "Lines", "Branches", "Uncovered lines"];
  const footer = ["Total", pct(t.linesHit, t.linesFound), pct(t.branchesHit, t.branchesFound), ""];
  const widths = header.map((h, i) =>
    Math.max(h.length, ...[...rows, footer].map((r) => r[i].length)),
  );
  const row = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(" | ")} |`;
  out.push("Coverage gate (issue 9): contracts/ without contracts/mocks/");
  out.push("");
  out.push(
    row(header),
    `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`,
    ...rows.map(row),
    row(footer),
  );
  out.push("");
  out.push(
    "Branches: both arms of every `if` and every clause of every `try`, from EDR's per-statement hits (counted",
    "once per transaction) and the solc AST. An `if` without `else` has taken its false arm if its true arm always",
    "exits and the statement after the `if` ran; otherwise if the `if` ran in more transactions than its true arm",
    "(and the statement after it, if any, ran); an empty `catch {}` likewise. [count] marks an untaken branch",
    "decided by counts: it may have been taken in a transaction that also took the other arm (loops, repeated",
    "calls). Not measurable from statement data, so not counted: `?:`, Yul if/switch (header of the script).",
  );

  const source = (f: FileCoverage, line: number) => (f.sourceLines[line - 1] ?? "").trim();
  const untaken = files.flatMap((f) =>
    f.branches
      .filter((b) => !b.taken)
      .map((b) => {
        const label = b.basis === "count" ? `${b.label} [count]` : b.label;
        return `  ${f.path}:${b.line} ${label}  ${source(f, b.line)}`;
      }),
  );
  out.push(
    "",
    `Untaken branches (${untaken.length}):`,
    ...(untaken.length > 0 ? untaken : ["  none"]),
  );
  const uncovered = files.flatMap((f) =>
    f.uncoveredLines.map((l) => `  ${f.path}:${l}  ${source(f, l)}`),
  );
  out.push(
    "",
    `Uncovered lines (${uncovered.length}):`,
    ...(uncovered.length > 0 ? uncovered : ["  none"]),
  );
  const notMeasured = files.flatMap((f) =>
    f.notMeasured.map((n) => `  ${f.path}:${n.line} ${n.what}`),
  );
  out.push(
    "",
    `Not measured (${notMeasured.length}):`,
    ...(notMeasured.length > 0 ? notMeasured : ["  none"]),
  );

  out.push("");
  out.push(
    `Total: lines ${verdict.linesPercent.toFixed(2)}% (minimum ${thresholds.lines}%), ` +
      `branches ${verdict.branchesPercent.toFixed(2)}% (minimum ${thresholds.branches}%).`,
  );
  if (verdict.failures.length === 0) {
    out.push("Coverage gate passed.");
  } else {
    out.push("Coverage gate FAILED:", ...verdict.failures.map((f) => `  ${f}`));
  }
  return out.join("\n");
}

// ---------------------------------------------------------------------------------------------------------
// Inputs on disk

/** Sums the hit counts of every runner's data files under coverage/data/ (Hardhat's format: { tag: count }). */
export function loadHits(coverageDir: string): Map<string, number> {
  const dataDir = path.join(coverageDir, "data");
  const hits = new Map<string, number>();
  let files = 0;
  if (existsSync(dataDir)) {
    for (const entry of readdirSync(dataDir, { recursive: true, encoding: "utf8" })) {
      if (!entry.endsWith(".json")) continue;
      const data = JSON.parse(readFileSync(path.join(dataDir, entry), "utf8")) as Record<
        string,
        number
      >;
      for (const [tag, count] of Object.entries(data)) hits.set(tag, (hits.get(tag) ?? 0) + count);
      files++;
    }
  }
  if (files === 0) {
    throw new Error(
      `no coverage data under ${dataDir}: run \`hardhat test --coverage\` (npm run coverage) first`,
    );
  }
  return hits;
}

/** lcov.info -> path -> line -> count (the DA records). */
export function parseLcov(text: string): Map<string, Map<number, number>> {
  const result = new Map<string, Map<number, number>>();
  let current: Map<number, number> | undefined;
  for (const line of text.split("\n")) {
    if (line.startsWith("SF:")) {
      current = new Map();
      result.set(line.slice(3).split(path.sep).join("/"), current);
    } else if (line.startsWith("DA:") && current !== undefined) {
      const [lineNumber, count] = line.slice(3).split(",").map(Number);
      current.set(lineNumber, count);
    }
  }
  return result;
}

/** Where the recomputed lines disagree with Hardhat's lcov.info of the same run (empty when they agree). */
export function compareWithLcov(
  files: readonly FileCoverage[],
  lcov: Map<string, Map<number, number>>,
): string[] {
  const problems: string[] = [];
  for (const f of files) {
    const recorded = lcov.get(f.path);
    if (recorded === undefined) {
      problems.push(`${f.path}: not in lcov.info`);
      continue;
    }
    const ours = new Map<number, number>([
      ...f.executedLines.map((l): [number, number] => [l, 1]),
      ...f.uncoveredLines.map((l): [number, number] => [l, 0]),
    ]);
    const differing = [...new Set([...ours.keys(), ...recorded.keys()])]
      .filter((l) => (ours.get(l) ?? -1) !== Math.min(recorded.get(l) ?? -1, 1))
      .sort((a, b) => a - b);
    if (differing.length > 0) problems.push(`${f.path}: lines ${formatRanges(differing)}`);
  }
  return problems;
}

function readSources(root: string): Record<string, string> {
  const sources: Record<string, string> = {};
  for (const entry of readdirSync(path.join(root, SOURCE_DIR), {
    recursive: true,
    encoding: "utf8",
  })) {
    const relativePath = path.join(SOURCE_DIR, entry).split(path.sep).join("/");
    if (relativePath.endsWith(".sol"))
      sources[relativePath] = readFileSync(path.join(root, relativePath), "utf8");
  }
  return sources;
}

/**
 * Evaluates the last coverage run of the project at `root`; returns the exit code: 0 pass, 1 below a
 * threshold, 2 cannot measure (no data, or data that does not match lcov.info).
 */
export function main(
  root: string = process.cwd(),
  env: Record<string, string | undefined> = process.env,
  print: (text: string) => void = (text) => console.log(text),
): number {
  try {
    const thresholds = thresholdsFromEnv(env);
    const coverageDir = path.join(root, "coverage");
    const hits = loadHits(coverageDir);
    const files = analyseSources(readSources(root), hits);
    const lcovPath = path.join(coverageDir, "lcov.info");
    if (existsSync(lcovPath)) {
      const problems = compareWithLcov(files, parseLcov(readFileSync(lcovPath, "utf8")));
      if (problems.length > 0) {
        print(
          "Coverage gate cannot measure: the hits in coverage/data/ do not give the lines of coverage/lcov.info\n" +
            "(stale data of a runner from an earlier partial run, or another EDR/solc version than the run's).\n" +
            "Re-run `npm run coverage`.\n  " +
            problems.join("\n  "),
        );
        return 2;
      }
      print("(lines cross-checked with coverage/lcov.info of the same run: identical)");
    } else {
      print(`(no ${lcovPath} to cross-check the lines with)`);
    }
    const verdict = evaluate(files, thresholds);
    print(formatReport(files, verdict, thresholds));
    return verdict.failures.length === 0 ? 0 : 1;
  } catch (error) {
    print(
      `Coverage gate cannot measure: ${error instanceof Error ? error.message : String(error)}`,
    );
    return 2;
  }
}

const invokedDirectly =
  process.argv[1] !== undefined &&
  existsSync(process.argv[1]) &&
  pathToFileURL(realpathSync(process.argv[1])).href ===
    pathToFileURL(realpathSync(new URL(import.meta.url))).href;
if (invokedDirectly) {
  process.exitCode = main();
}
