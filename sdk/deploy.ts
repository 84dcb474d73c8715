// Deploys the whole system with any ethers Signer and keeps an address book per network under deployments/.
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import path from "node:path";

import {
  ZeroAddress,
  getAddress,
  keccak256,
  toUtf8Bytes,
  type ContractTransactionResponse,
  type Signer,
} from "ethers";

import {
  AgreementFactory__factory,
  CollateralLens__factory,
  CollateralVault__factory,
  DvPSettlement__factory,
} from "../types/ethers-contracts/index.js";
import { AccessManager__factory } from "../types/ethers-contracts/factories/@openzeppelin/contracts/access/manager/AccessManager__factory.js";

/** AccessManager role ids used by the system (0 is OpenZeppelin's admin role). */
export const ROLES = { ADMIN: 0n, GUARDIAN: 1n, RISK_MANAGER: 2n } as const;

/**
 * Default execution delays, in seconds: what the risk manager changes (the factory's listing rules) and what the
 * admin does (roles, delays, targets) is scheduled through the AccessManager and runs only after this long, so that
 * every counterparty sees a change coming. Pausing, the guardian's, has no delay.
 */
export const DEFAULT_DELAYS = { admin: 2 * 86_400, riskManager: 86_400 } as const;

export const SYSTEM_CONTRACTS = [
  "AccessManager",
  "CollateralVault",
  "DvPSettlement",
  "AgreementFactory",
  "CollateralLens",
] as const;
export type SystemContract = (typeof SYSTEM_CONTRACTS)[number];

/** One deployed contract as an auditor needs it to check the deployment. */
export interface DeployedContract {
  address: string;
  blockNumber: number;
  transactionHash: string;
  /** The solc version embedded in the runtime bytecode's metadata, e.g. "0.8.28". */
  compilerVersion: string;
  /** The metadata hash (IPFS multihash, hex) embedded in the bytecode: it commits to every source and setting. */
  metadataHash: string;
  /**
   * How the contract was compiled, from Hardhat's build info; present only when the deployment was described
   * from the artifacts (`deploySystem(…, { artifacts })` or `describeBuild`).
   */
  build?: BuildDescription;
}

/** The compiler settings of one optimiser/IR configuration, as they appear in solc's standard-JSON input. */
export interface CompilerSettings {
  optimizer: { enabled: boolean; runs: number };
  viaIR: boolean;
  evmVersion: string;
}

/** What an auditor needs to rebuild a contract: where its compiler input is, the settings, and its source hash. */
export interface BuildDescription {
  /** The full solc version, e.g. "0.8.28+commit.7893614a". */
  solcLongVersion: string;
  /** The Hardhat build info holding the standard-JSON input (`artifacts/build-info/<id>.json`). */
  buildInfoId: string;
  /** The contract's source name in that input, e.g. "project/contracts/vault/CollateralVault.sol". */
  sourceName: string;
  contractName: string;
  /** keccak256 of the contract's source file content, exactly as the compiler was given it. */
  sourceHash: string;
  settings: CompilerSettings;
}

/** The address book written to `deployments/<network>.json`. */
export interface AddressBook {
  network: string;
  chainId: number;
  deployer: string;
  deployedAt: string;
  contracts: Record<SystemContract, DeployedContract>;
  /**
   * Local chains only (`collateral:sandbox`): demo tokens by symbol and the test feeds that price them, whose
   * answers `collateral:price` sets. A test double, never part of a real deployment.
   */
  sandbox?: {
    tokens: Record<string, string>;
    feeds: Record<string, string>;
  };
}

export interface DeployOptions {
  /** The address book's network name, e.g. "hardhat", "sepolia". */
  network: string;
  /** Who may pause new risk; defaults to the deployer. */
  guardian?: string;
  /** Who may change the factory's listing rules, with `riskManagerDelay`; defaults to the deployer. */
  riskManager?: string;
  /** Execution delay of the risk manager, in seconds (default `DEFAULT_DELAYS.riskManager`). */
  riskManagerDelay?: number;
  /**
   * Execution delay of the admin (the deployer), in seconds, set last so that the deployment itself needs no
   * scheduling (default `DEFAULT_DELAYS.admin`).
   */
  adminDelay?: number;
  /** L2 sequencer uptime feed (zero or omitted on L1) and its grace period in seconds. */
  sequencer?: { uptimeFeed: string; gracePeriod: number };
  /** Folder to write the address book to; omit to keep it in memory only. */
  writeTo?: string;
  /**
   * Hardhat's artifacts folder (e.g. "artifacts"): when given, every contract's entry also records its compiler
   * settings and source hash (`build`, see `describeBuild`), checked against the deployed bytecode's metadata
   * hash. Omit it where there are no artifacts (the SDK deploys from the bytecode compiled into its types).
   */
  artifacts?: string;
}

/**
 * Reads the solc version and metadata hash from the CBOR trailer solc appends to every runtime bytecode.
 * @throws when the bytecode carries no solc metadata.
 */
export function bytecodeMetadata(runtimeBytecode: string): {
  compilerVersion: string;
  metadataHash: string;
} {
  const hex = runtimeBytecode.replace(/^0x/, "");
  const cborLength = parseInt(hex.slice(-4), 16);
  const cbor = hex.slice(-(cborLength + 2) * 2, -4);
  const solc = cbor.match(/64736f6c6343([0-9a-f]{6})$/); // "solc" key, 3-byte version, at the end
  const ipfs = cbor.match(/6469706673582212(20[0-9a-f]{64})/); // "ipfs" key, 34-byte multihash
  if (!solc || !ipfs) throw new Error("the runtime bytecode carries no solc metadata trailer");
  const [major, minor, patch] = [0, 2, 4].map((i) => parseInt(solc[1].slice(i, i + 2), 16));
  return { compilerVersion: `${major}.${minor}.${patch}`, metadataHash: `0x12${ipfs[1]}` };
}

async function record(
  signer: Signer,
  contract: {
    getAddress(): Promise<string>;
    deploymentTransaction(): ContractTransactionResponse | null;
  },
): Promise<DeployedContract> {
  const tx = contract.deploymentTransaction();
  if (!tx) throw new Error("the contract was not deployed by this call");
  const receipt = await tx.wait();
  if (!receipt) throw new Error(`deployment transaction ${tx.hash} was dropped`);
  const address = await contract.getAddress();
  const code = await signer.provider!.getCode(address);
  return {
    address,
    blockNumber: receipt.blockNumber,
    transactionHash: tx.hash,
    ...bytecodeMetadata(code),
  };
}

/**
 * Deploys the AccessManager, the vault implementation, the DvP settlement, the agreement factory and the lens;
 * grants the guardian the pause role and the risk manager the listing rules (with its execution delay), then gives
 * the admin its execution delay; returns (and optionally writes) the address book.
 */
export async function deploySystem(signer: Signer, options: DeployOptions): Promise<AddressBook> {
  if (!signer.provider) throw new Error("deploySystem needs a signer connected to a provider");
  const deployer = await signer.getAddress();
  const { chainId } = await signer.provider.getNetwork();

  const manager = await new AccessManager__factory(signer).deploy(deployer);
  // The sequencer check lives in the implementation's code, which every agreement's clone runs.
  const sequencer = options.sequencer ?? { uptimeFeed: ZeroAddress, gracePeriod: 0 };
  const implementation = await new CollateralVault__factory(signer).deploy(sequencer);
  const dvp = await new DvPSettlement__factory(signer).deploy();
  const factory = await new AgreementFactory__factory(signer).deploy(
    await manager.getAddress(),
    await implementation.getAddress(),
    await dvp.getAddress(),
  );
  const lens = await new CollateralLens__factory(signer).deploy();

  const contracts: Record<SystemContract, DeployedContract> = {
    AccessManager: await record(signer, manager),
    CollateralVault: await record(signer, implementation),
    DvPSettlement: await record(signer, dvp),
    AgreementFactory: await record(signer, factory),
    CollateralLens: await record(signer, lens),
  };
  if (options.artifacts !== undefined) {
    for (const name of SYSTEM_CONTRACTS) {
      const { build, metadataHash } = describeBuildWithMetadata(options.artifacts, name);
      // Artifacts from another compilation (stale, or another project's) would describe other bytecode.
      if (metadataHash !== contracts[name].metadataHash)
        throw new Error(
          `the artifacts in ${options.artifacts}/ describe a different ${name} (metadata hash ${metadataHash}) ` +
            `than the one deployed (${contracts[name].metadataHash}); rebuild them with \`npx hardhat build\``,
        );
      contracts[name].build = build;
    }
  }

  const selectors = [
    factory.interface.getFunction("pause").selector,
    factory.interface.getFunction("unpause").selector,
  ];
  await (
    await manager.setTargetFunctionRole(await factory.getAddress(), selectors, ROLES.GUARDIAN)
  ).wait();
  await (await manager.labelRole(ROLES.GUARDIAN, "GUARDIAN")).wait();
  await (
    await manager.grantRole(ROLES.GUARDIAN, getAddress(options.guardian ?? deployer), 0)
  ).wait();
  await (
    await manager.setTargetFunctionRole(
      await factory.getAddress(),
      [factory.interface.getFunction("setListingRules").selector],
      ROLES.RISK_MANAGER,
    )
  ).wait();
  await (await manager.labelRole(ROLES.RISK_MANAGER, "RISK_MANAGER")).wait();
  await (
    await manager.grantRole(
      ROLES.RISK_MANAGER,
      getAddress(options.riskManager ?? deployer),
      options.riskManagerDelay ?? DEFAULT_DELAYS.riskManager,
    )
  ).wait();
  // Last: from here on the admin's own calls (roles, delays, targets) wait out its delay too.
  const adminDelay = options.adminDelay ?? DEFAULT_DELAYS.admin;
  await (await manager.grantRole(ROLES.ADMIN, deployer, adminDelay)).wait();

  const book: AddressBook = {
    network: options.network,
    chainId: Number(chainId),
    deployer,
    deployedAt: new Date().toISOString(),
    contracts,
  };
  if (options.writeTo) writeAddressBook(book, options.writeTo);
  return book;
}

/** Writes `book` to `<folder>/<network>.json`. */
export function writeAddressBook(book: AddressBook, folder: string): string {
  mkdirSync(folder, { recursive: true });
  const file = path.join(folder, `${book.network}.json`);
  writeFileSync(file, JSON.stringify(book, null, 2) + "\n");
  return file;
}

/**
 * Loads an address book by network name (`deployments/sepolia.json`) or by chain id (the first book in the folder
 * with that chain id).
 * @throws with the folder and what it holds when no book matches.
 */
export function loadAddressBook(
  networkOrChainId: string | number | bigint,
  folder = "deployments",
): AddressBook {
  if (typeof networkOrChainId === "string") {
    const file = path.join(folder, `${networkOrChainId}.json`);
    if (existsSync(file)) return parseBook(file);
  }
  const files = existsSync(folder) ? readdirSync(folder).filter((f) => f.endsWith(".json")) : [];
  for (const f of files) {
    const book = parseBook(path.join(folder, f));
    if (
      String(book.chainId) === String(networkOrChainId) ||
      book.network === String(networkOrChainId)
    )
      return book;
  }
  throw new Error(
    `no address book for "${networkOrChainId}" in ${folder}/ (it holds: ${files.join(", ") || "nothing"}); ` +
      "deploy first with `npx hardhat collateral:deploy` or deploySystem()",
  );
}

function parseBook(file: string): AddressBook {
  const book = JSON.parse(readFileSync(file, "utf8")) as AddressBook;
  for (const name of SYSTEM_CONTRACTS) {
    if (!book.contracts?.[name]?.address)
      throw new Error(`address book ${file} has no address for ${name}`);
  }
  return book;
}

/** A Hardhat 3 artifact (`artifacts/<source>.sol/<Contract>.json`), the fields `describeBuild` reads. */
interface HardhatArtifact {
  contractName: string;
  sourceName: string;
  inputSourceName?: string;
  deployedBytecode: string;
  buildInfoId?: string;
}

/** A Hardhat 3 build info (`artifacts/build-info/<id>.json`): solc's standard-JSON input and its version. */
export interface HardhatBuildInfo {
  id: string;
  solcVersion: string;
  solcLongVersion: string;
  input: {
    language: string;
    sources: Record<string, { content: string }>;
    settings: {
      optimizer?: { enabled?: boolean; runs?: number };
      viaIR?: boolean;
      evmVersion?: string;
      [setting: string]: unknown;
    };
  };
}

function findArtifact(artifactsDir: string, contractName: string): HardhatArtifact {
  if (!existsSync(artifactsDir))
    throw new Error(`no artifacts folder ${artifactsDir}/: run \`npx hardhat build\` first`);
  // "contracts/vault/CollateralVault.sol:CollateralVault", or a bare name that must be unique.
  const [source, name] = contractName.includes(":")
    ? contractName.split(":")
    : [undefined, contractName];
  const matches: string[] = [];
  const walk = (folder: string): void => {
    for (const entry of readdirSync(folder, { withFileTypes: true })) {
      const file = path.join(folder, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== "build-info") walk(file);
      } else if (entry.name === `${name}.json` && path.basename(folder).endsWith(".sol")) {
        matches.push(file);
      }
    }
  };
  walk(artifactsDir);
  const candidates = matches
    .map((file) => JSON.parse(readFileSync(file, "utf8")) as HardhatArtifact)
    .filter((a) => a.contractName === name && (source === undefined || a.sourceName === source));
  if (candidates.length !== 1)
    throw new Error(
      candidates.length === 0
        ? `no artifact for ${contractName} in ${artifactsDir}/`
        : `${contractName} is ambiguous in ${artifactsDir}/ (${candidates.map((a) => a.sourceName).join(", ")}); ` +
            "give it as <source>:<name>",
    );
  return candidates[0];
}

/** Reads the build info a contract's artifact points to (its solc standard-JSON input and version). */
export function readBuildInfo(artifactsDir: string, contractName: string): HardhatBuildInfo {
  const artifact = findArtifact(artifactsDir, contractName);
  if (!artifact.buildInfoId)
    throw new Error(
      `the artifact of ${contractName} has no buildInfoId (not a Hardhat 3 artifact)`,
    );
  const file = path.join(artifactsDir, "build-info", `${artifact.buildInfoId}.json`);
  if (!existsSync(file)) throw new Error(`the build info ${file} of ${contractName} is missing`);
  return JSON.parse(readFileSync(file, "utf8")) as HardhatBuildInfo;
}

function describeBuildWithMetadata(
  artifactsDir: string,
  contractName: string,
): { build: BuildDescription; metadataHash: string } {
  const artifact = findArtifact(artifactsDir, contractName);
  const buildInfo = readBuildInfo(artifactsDir, contractName);
  const sourceName = artifact.inputSourceName ?? artifact.sourceName;
  const source = buildInfo.input.sources[sourceName];
  if (!source) throw new Error(`the build info ${buildInfo.id} does not hold ${sourceName}`);
  const { optimizer, viaIR, evmVersion } = buildInfo.input.settings;
  const build: BuildDescription = {
    solcLongVersion: buildInfo.solcLongVersion,
    buildInfoId: buildInfo.id,
    sourceName,
    contractName: artifact.contractName,
    sourceHash: keccak256(toUtf8Bytes(source.content)),
    settings: {
      optimizer: { enabled: optimizer?.enabled ?? false, runs: optimizer?.runs ?? 200 },
      viaIR: viaIR ?? false,
      // solc's default when the input names none; Hardhat always names one.
      evmVersion: evmVersion ?? "default",
    },
  };
  return { build, metadataHash: bytecodeMetadata(artifact.deployedBytecode).metadataHash };
}

/**
 * Describes how a contract was compiled from Hardhat's artifacts: the solc version, the build info holding its
 * standard-JSON input, the optimiser runs, viaIR and EVM version, and keccak256 of its source file content.
 * `contractName` is a bare name ("CollateralVault") or fully qualified ("contracts/vault/CollateralVault.sol:CollateralVault").
 * @throws when the artifacts folder, the artifact or its build info is missing, or the name is ambiguous.
 */
export function describeBuild(artifactsDir: string, contractName: string): BuildDescription {
  return describeBuildWithMetadata(artifactsDir, contractName).build;
}
