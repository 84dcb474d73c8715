/**
 * Compiles the peer protocols the bench compares against, each with its own published compiler settings, through
 * solc-js standard JSON (never through Hardhat's build, so `npm test` never compiles them). Output is cached under
 * `bench/.cache/` keyed by a hash of the compiler version, settings and every source file, so only the first run
 * pays for the (slow, wasm, via-IR) compilation.
 *
 * - Morpho Blue 1.0.0 (`@morpho-org/morpho-blue`): solc 0.8.19, via-IR, optimizer 999,999 runs, EVM paris,
 *   bytecode hash none, as in Morpho Blue's foundry.toml.
 * - Seaport 1.6 (`seaport-core` 1.6.6): solc 0.8.24 (what Seaport 1.6 was built with; 0.8.28 fails with stack-too-deep), via-IR,
 *   optimizer 4,294,967,295 runs, EVM cancun, bytecode hash none, as Seaport's optimized profile.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { cachedJson } from "../scripts/solc-cache.js";

const require = createRequire(import.meta.url);
const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "..");
const cacheDir = path.join(here, ".cache");

interface Solc {
  version(): string;
  compile(
    input: string,
    callbacks?: { import: (p: string) => { contents: string } | { error: string } },
  ): string;
}

export interface CompiledContract {
  abi: unknown[];
  bytecode: string;
}

export type CompiledSet = Record<string, CompiledContract>;

interface PeerSpec {
  /** Cache file name. */
  id: string;
  /** npm package of the solc-js build to use. */
  solcPackage: string;
  /** Source unit names (resolved under node_modules) that are compiled as roots. */
  roots: string[];
  /** "unit:ContractName" pairs whose ABI and creation bytecode are kept, stored under ContractName. */
  wanted: string[];
  settings: Record<string, unknown>;
}

const MORPHO: PeerSpec = {
  id: "morpho-blue-1.0.0",
  solcPackage: "solc-0819",
  roots: [
    "@morpho-org/morpho-blue/src/Morpho.sol",
    "@morpho-org/morpho-blue/src/mocks/IrmMock.sol",
    "@morpho-org/morpho-blue/src/mocks/OracleMock.sol",
  ],
  wanted: [
    "@morpho-org/morpho-blue/src/Morpho.sol:Morpho",
    "@morpho-org/morpho-blue/src/mocks/IrmMock.sol:IrmMock",
    "@morpho-org/morpho-blue/src/mocks/OracleMock.sol:OracleMock",
  ],
  settings: {
    viaIR: true,
    optimizer: { enabled: true, runs: 999_999 },
    evmVersion: "paris",
    metadata: { bytecodeHash: "none" },
  },
};

const SEAPORT: PeerSpec = {
  id: "seaport-core-1.6.6",
  solcPackage: "solc-0824",
  roots: ["seaport-core/src/Seaport.sol", "seaport-core/src/conduit/ConduitController.sol"],
  wanted: [
    "seaport-core/src/Seaport.sol:Seaport",
    "seaport-core/src/conduit/ConduitController.sol:ConduitController",
  ],
  settings: {
    viaIR: true,
    optimizer: { enabled: true, runs: 4_294_967_295 },
    evmVersion: "cancun",
    metadata: { bytecodeHash: "none" },
  },
};

function resolveSource(unit: string): string {
  return path.join(root, "node_modules", unit);
}

/** Every source unit reachable from `roots`, read from node_modules (imports resolved like the compiler does). */
function collectSources(roots: string[]): Record<string, string> {
  const sources: Record<string, string> = {};
  const queue = [...roots];
  while (queue.length > 0) {
    const unit = queue.pop()!;
    if (unit in sources) continue;
    const text = readFileSync(resolveSource(unit), "utf8");
    sources[unit] = text;
    for (const match of text.matchAll(/import\s+(?:[^'"]*?from\s+)?["']([^"']+)["']/g)) {
      const spec = match[1];
      const next = spec.startsWith(".")
        ? path.posix.normalize(path.posix.join(path.posix.dirname(unit), spec))
        : spec;
      queue.push(next);
    }
  }
  return sources;
}

function compile(spec: PeerSpec): CompiledSet {
  const sources = collectSources(spec.roots);
  const solc = require(spec.solcPackage) as Solc;
  const input = {
    language: "Solidity",
    sources: Object.fromEntries(
      Object.entries(sources).map(([unit, content]) => [unit, { content }]),
    ),
    settings: {
      ...spec.settings,
      outputSelection: { "*": { "*": ["abi", "evm.bytecode.object"] } },
    },
  };
  return cachedJson(
    cacheDir,
    spec.id,
    [solc.version(), JSON.stringify(input), JSON.stringify(spec.wanted)],
    () => compileUncached(spec, solc, input),
  ).value;
}

/** Compiles `input` with `solc` and keeps the bytecode and ABI of `spec.wanted`. */
function compileUncached(spec: PeerSpec, solc: Solc, input: object): CompiledSet {
  const started = Date.now();
  process.stdout.write(
    `bench: compiling ${spec.id} with solc ${solc.version()} (first run only)... `,
  );
  const output = JSON.parse(
    solc.compile(JSON.stringify(input), {
      import: (p: string) => {
        try {
          return { contents: readFileSync(resolveSource(p), "utf8") };
        } catch {
          return { error: `not found: ${p}` };
        }
      },
    }),
  ) as {
    errors?: Array<{ severity: string; formattedMessage: string }>;
    contracts?: Record<
      string,
      Record<string, { abi: unknown[]; evm: { bytecode: { object: string } } }>
    >;
  };
  const errors = (output.errors ?? []).filter((e) => e.severity === "error");
  if (errors.length > 0)
    throw new Error(`${spec.id}: ${errors.map((e) => e.formattedMessage).join("\n")}`);
  const result: CompiledSet = {};
  for (const wanted of spec.wanted) {
    const [unit, name] = wanted.split(":");
    const contract = output.contracts?.[unit]?.[name];
    if (contract === undefined || contract.evm.bytecode.object === "") {
      throw new Error(`${spec.id}: no bytecode for ${wanted}`);
    }
    result[name] = { abi: contract.abi, bytecode: `0x${contract.evm.bytecode.object}` };
  }
  console.log(`${((Date.now() - started) / 1000).toFixed(0)} s`);
  return result;
}

export function compileMorpho(): CompiledSet {
  return compile(MORPHO);
}

export function compileSeaport(): CompiledSet {
  return compile(SEAPORT);
}

const invokedDirectly = process.argv.some((arg) => arg.endsWith("bench/peers.ts"));
if (invokedDirectly) {
  const which = process.argv.at(-1);
  if (which !== "seaport") console.log(Object.keys(compileMorpho()));
  if (which !== "morpho") console.log(Object.keys(compileSeaport()));
}
