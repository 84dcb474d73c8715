// What an auditor does with an address book: take the recorded compiler input of a deployed contract, recompile it
// with the same solc (the npm wasm build), and check the result is the code on chain, byte for byte.
import { readFileSync } from "node:fs";
import path from "node:path";
import { performance } from "node:perf_hooks";

import { expect } from "chai";
import {
  TypedDataEncoder,
  ZeroAddress,
  getBytes,
  hexlify,
  keccak256,
  toBeHex,
  toUtf8Bytes,
  zeroPadValue,
} from "ethers";
import { network } from "hardhat";
import solc from "solc";

import {
  bytecodeMetadata,
  deploySystem,
  describeBuild,
  readBuildInfo,
  SYSTEM_CONTRACTS,
  type AddressBook,
  type SystemContract,
} from "../sdk/index.js";
import { cachedJson } from "../scripts/solc-cache.js";
import { underCoverage } from "./helpers/coverage.js";

const ARTIFACTS = "artifacts";
const VERIFY_CACHE = path.join("cache", "verify-deployment");

/** The EIP-712 domain each contract's constructor passes to OpenZeppelin's EIP712, as its source says. */
const EIP712_DOMAINS = {
  AgreementFactory: { name: "AgreementFactory", version: "1" },
  DvPSettlement: { name: "DvPSettlement", version: "1" },
} as const;

interface ImmutableReference {
  start: number;
  length: number;
}

interface SolcOutput {
  errors?: { severity: string; formattedMessage: string }[];
  sources?: Record<string, { ast?: AstNode }>;
  contracts: Record<
    string,
    Record<
      string,
      {
        evm: {
          deployedBytecode: {
            object: string;
            immutableReferences: Record<string, ImmutableReference[]>;
          };
        };
      }
    >
  >;
}

interface AstNode {
  id?: number;
  nodeType?: string;
  name?: string;
  [key: string]: unknown;
}

/** The names of every declaration in the ASTs, by AST id (immutable references are keyed by the variable's id). */
function declarationNames(output: SolcOutput): Map<string, string> {
  const names = new Map<string, string>();
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(walk);
    if (node === null || typeof node !== "object") return;
    const n = node as AstNode;
    if (n.nodeType === "VariableDeclaration" && n.id !== undefined && n.name !== undefined)
      names.set(String(n.id), n.name);
    Object.values(n).forEach(walk);
  };
  for (const source of Object.values(output.sources ?? {})) walk(source.ast);
  return names;
}

/** solc's output for `input`, from `cache/verify-deployment/` when this compiler already compiled this exact input. */
function compileCached(input: object): { output: SolcOutput; cached: boolean } {
  const json = JSON.stringify(input);
  const { value, cached } = cachedJson(VERIFY_CACHE, "solc", [solc.version(), json], () =>
    JSON.parse(solc.compile(json)) as SolcOutput,
  );
  return { output: value, cached };
}

/** OpenZeppelin's ShortString: the string's bytes left-aligned in a word whose last byte is its length. */
function shortString(value: string): string {
  const bytes = toUtf8Bytes(value);
  if (bytes.length > 31) throw new Error(`"${value}" does not fit a ShortString`);
  const word = new Uint8Array(32);
  word.set(bytes);
  word[31] = bytes.length;
  return hexlify(word);
}

/** The value each of OpenZeppelin EIP712's immutables takes when deployed at `address` on `chainId`. */
function eip712Immutables(
  domain: { name: string; version: string },
  address: string,
  chainId: bigint,
): Record<string, string> {
  return {
    _cachedDomainSeparator: TypedDataEncoder.hashDomain({
      ...domain,
      chainId,
      verifyingContract: address,
    }),
    _cachedChainId: toBeHex(chainId, 32),
    _cachedThis: zeroPadValue(address, 32),
    _hashedName: keccak256(toUtf8Bytes(domain.name)),
    _hashedVersion: keccak256(toUtf8Bytes(domain.version)),
    _name: shortString(domain.name),
    _version: shortString(domain.version),
  };
}

describe("Verifiable deployment", function () {
  before(function () {
    // Instrumented bytecode has other gas costs and another metadata hash: nothing to compare under coverage.
    if (underCoverage) this.skip();
  });

  // Recompiling with viaIR in the wasm compiler takes seconds per contract; the test logs the time each takes.
  this.timeout(5 * 60_000);

  let connection: Awaited<ReturnType<typeof network.create>>;
  let book: AddressBook;

  before(async function () {
    connection = await network.create();
    const [deployer] = await connection.ethers.getSigners();
    book = await deploySystem(deployer, { network: "verify-test", artifacts: ARTIFACTS });
  });

  it("records the compiler settings and source hash of every contract in the address book", function () {
    for (const [name, contract] of Object.entries(book.contracts)) {
      const build = contract.build!;
      expect(build, name).to.not.equal(undefined);
      expect(build.solcLongVersion).to.equal("0.8.28+commit.7893614a");
      expect(build.solcLongVersion.split("+")[0]).to.equal(contract.compilerVersion);
      expect(build.settings.viaIR).to.equal(true);
      expect(build.settings.evmVersion).to.equal("cancun");
      expect(build.settings.optimizer).to.deep.equal({
        enabled: true,
        // hardhat.config.ts: the vault is optimised for 200 runs to fit EIP-170, everything else for 10,000.
        runs: name === "CollateralVault" ? 200 : 10_000,
      });
      expect(build.sourceHash).to.match(/^0x[0-9a-f]{64}$/);
      expect(describeBuild(ARTIFACTS, name)).to.deep.equal(build);
    }
    // The recorded source hash is the hash of the source in this repository.
    const vault = book.contracts.CollateralVault.build!;
    expect(vault.sourceName).to.equal("project/contracts/vault/CollateralVault.sol");
    expect(vault.sourceHash).to.equal(
      keccak256(readFileSync("contracts/vault/CollateralVault.sol")),
    );
    expect(() => describeBuild("no-such-artifacts", "CollateralVault")).to.throw(
      /no artifacts folder/,
    );
    expect(() => describeBuild(ARTIFACTS, "NoSuchContract")).to.throw(/no artifact for/);
  });

  /** The value every immutable of `name` must hold, by variable name, as its constructor computes it. */
  async function expectedImmutables(name: SystemContract): Promise<Record<string, string>> {
    const { chainId } = await connection.ethers.provider.getNetwork();
    const address = book.contracts[name].address;
    switch (name) {
      case "DvPSettlement":
        return eip712Immutables(EIP712_DOMAINS[name], address, chainId);
      case "AgreementFactory":
        return {
          ...eip712Immutables(EIP712_DOMAINS[name], address, chainId),
          vaultImplementation: zeroPadValue(book.contracts.CollateralVault.address, 32),
          settlement: zeroPadValue(book.contracts.DvPSettlement.address, 32),
        };
      case "CollateralVault":
        // The deployment's sequencer check (none here: a zero feed and grace period).
        return {
          _SEQUENCER_UPTIME_FEED: zeroPadValue(ZeroAddress, 32),
          _SEQUENCER_GRACE_PERIOD: zeroPadValue("0x00", 32),
        };
      default:
        return {}; // AccessManager and CollateralLens have none.
    }
  }

  for (const name of SYSTEM_CONTRACTS) {
    it(`recompiles ${name} from the recorded input to exactly the deployed runtime code`, async function () {
      const deployed = book.contracts[name];
      const build = deployed.build!;
      const buildInfo = readBuildInfo(ARTIFACTS, name);
      expect(buildInfo.id).to.equal(build.buildInfoId);
      const source = buildInfo.input.sources[build.sourceName];
      expect(keccak256(toUtf8Bytes(source.content))).to.equal(build.sourceHash);

      // The same compiler: the wasm build of the recorded version.
      expect(solc.version().split(".Emscripten")[0]).to.equal(build.solcLongVersion);
      expect(solc.version().split("+")[0]).to.equal(deployed.compilerVersion);

      // The recorded input as it is (every source, optimizer, viaIR, evmVersion, remappings, metadata settings);
      // only the output selection is narrowed, to this contract's runtime code. The output selection is not part
      // of the metadata and does not change the bytecode, but asking for any output of another source makes solc
      // generate code for its contracts too (Hardhat put the Solidity tests in the DvP's input): 2 minutes
      // instead of 3 seconds. The ASTs, to name the immutables, come from a separate analysis-only pass.
      const sourceNames = Object.keys(buildInfo.input.sources);
      const select = (outputSelection: object) => ({
        ...buildInfo.input,
        settings: { ...buildInfo.input.settings, outputSelection },
      });
      const input = select({
        [build.sourceName]: {
          [build.contractName]: [
            "evm.deployedBytecode.object",
            "evm.deployedBytecode.immutableReferences",
          ],
        },
      });
      const started = performance.now();
      const { output, cached } = compileCached(input);
      const seconds = (performance.now() - started) / 1000;
      console.log(
        `      recompiled ${name} (${sourceNames.length} sources) in ${seconds.toFixed(1)} s${cached ? " (cached)" : ""}`,
      );
      const errors = (output.errors ?? []).filter((e) => e.severity === "error");
      expect(errors.map((e) => e.formattedMessage)).to.deep.equal([]);
      const compiled = output.contracts[build.sourceName][build.contractName].evm.deployedBytecode;

      const onChain = getBytes(await connection.ethers.provider.getCode(deployed.address));
      const rebuilt = getBytes("0x" + compiled.object);
      expect(rebuilt.length, "runtime code length").to.equal(onChain.length);

      // Immutables: solc leaves 32 zero bytes in the runtime code at every `immutableReferences` range, and the
      // constructor writes the values there at deployment. So the rebuilt code cannot match there by itself: copy
      // the deployed bytes into those ranges (and only those) before comparing everything else. Those bytes are not
      // taken on trust either: each immutable, identified by name through the AST, must hold the value the
      // constructor computes (EIP-712's cached domain separator, chain id, address, hashed and short name and
      // version; the factory's implementation and settlement addresses), and an immutable this test does not know
      // fails it.
      const names = declarationNames(compileCached(select({ "*": { "": ["ast"] } })).output);
      const expected = await expectedImmutables(name);
      const patched = Uint8Array.from(rebuilt);
      const seen = new Set<string>();
      for (const [id, ranges] of Object.entries(compiled.immutableReferences)) {
        const variable = names.get(id);
        expect(Object.keys(expected), `immutable #${id}`).to.include(variable);
        seen.add(variable!);
        for (const { start, length } of ranges) {
          expect(hexlify(rebuilt.slice(start, start + length))).to.equal(
            hexlify(new Uint8Array(length)),
          );
          const value = onChain.slice(start, start + length);
          expect(hexlify(value), variable).to.equal(expected[variable!]);
          patched.set(value, start);
        }
      }
      expect([...seen].sort()).to.deep.equal(Object.keys(expected).sort());

      // Everything else, including the metadata trailer (hence the metadata hash), matches exactly.
      expect(hexlify(patched)).to.equal(hexlify(onChain));
      expect(bytecodeMetadata(compiled.object).metadataHash).to.equal(deployed.metadataHash);
    });
  }
});
