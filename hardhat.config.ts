import { readdirSync } from "node:fs";
import { createRequire } from "node:module";

import hardhatToolboxMochaEthers from "@nomicfoundation/hardhat-toolbox-mocha-ethers";
import { configVariable, defineConfig, task } from "hardhat/config";
import type { HardhatPlugin } from "hardhat/types/plugins";
import { ArgumentType } from "hardhat/types/arguments";

const require = createRequire(import.meta.url);

// Hardhat cannot download compilers on our machines: every solc comes from the npm registry
// as its wasm build, referenced by absolute path.
const SOLC_VERSION = "0.8.28";
const solcPath = require.resolve("solc/soljson.js");

const compiler = (runs: number) => ({
  version: SOLC_VERSION,
  path: solcPath,
  settings: {
    // Cancun for transient storage (ReentrancyGuardTransient) and MCOPY.
    evmVersion: "cancun",
    optimizer: { enabled: true, runs },
    viaIR: true,
    // The NatSpec of every error reaches the build info, where the SDK's error sentences are generated from it
    // (scripts/error-docs.ts). It does not change the bytecode.
    outputSelection: { "*": { "*": ["userdoc", "devdoc"] } },
  },
});

const coverageRun = process.argv.includes("--coverage");

// The Solidity tests are compiled without the optimiser: they deploy the shipped artifacts (`vm.getCode`), so their
// own code is scaffolding, and optimising thousands of lines of handlers through the IR pipeline is slow (their
// clean compile on two cores: 3 min 32 s optimised, 2 min 28 s not). viaIR stays: the handlers need it.
const testCompiler = {
  version: SOLC_VERSION,
  path: solcPath,
  settings: { evmVersion: "cancun", optimizer: { enabled: false }, viaIR: true },
};
const solidityTests = readdirSync(new URL("./test", import.meta.url))
  .filter((name) => name.endsWith(".t.sol"))
  .map((name) => `test/${name}`);

const buildProfile = {
  compilers: [compiler(10_000)],
  overrides: {
    ...Object.fromEntries(solidityTests.map((file) => [file, testCompiler])),
    // The vault implementation carries custody, the lock states and the margin engine; optimising it for 200 runs
    // keeps it under the 24 KiB code-size limit (EIP-170) at a cost of a few hundred gas per call. The Solidity
    // tests deploy this artifact (`vm.getCode`), so they run the bytecode that ships and never compile it again.
    "contracts/vault/CollateralVault.sol": compiler(200),
  },
};

// After each build, types/error-docs.ts is regenerated from the contracts' NatSpec: the SDK's error sentences.
const errorDocs: HardhatPlugin = {
  id: "collateral-error-docs",
  hookHandlers: { solidity: () => import("./scripts/hooks/error-docs.js") },
};

/**
 * A task's action, loaded only when the task runs: the function `name` of `scripts/tasks/<file>.ts`, run on the
 * task's network by `taskAction` (bad input and contract refusals printed as a message, not a stack trace).
 */
const taskFrom = (file: string, name: string) => async () => {
  const [module, { taskAction }] = await Promise.all([
    import(`./scripts/tasks/${file}.js`),
    import("./scripts/tasks/run.js"),
  ]);
  return { default: taskAction(module[name]) };
};
// Tasks for integrators: `npx hardhat collateral:<name> --network <network> --help` lists each one's options.
type TaskBuilder = ReturnType<typeof task>;
const withVault = (builder: TaskBuilder) =>
  builder
    .addOption({
      name: "vault",
      description: "The agreement's vault",
      type: ArgumentType.STRING_WITHOUT_DEFAULT,
      defaultValue: undefined,
    })
    .addOption({
      name: "account",
      description: "Index of the signing account",
      type: ArgumentType.INT,
      defaultValue: 0,
    });
const stringOption = (name: string, description: string) => ({
  name,
  description,
  type: ArgumentType.STRING_WITHOUT_DEFAULT,
  defaultValue: undefined,
});
const withAssetAmount = (builder: TaskBuilder) =>
  builder
    .addOption(stringOption("asset", "The asset"))
    .addOption(stringOption("amount", "Whole tokens, with at most the token's decimals"));
/** The steps of an agreement's life after it opens, each one transaction by the signer at --account. */
const lifecycleTasks = [
  withVault(
    task(
      "collateral:consent",
      "Consents to the pledge on the agreement's current terms (pledgor or secured party)",
    ),
  )
    .setAction(taskFrom("lifecycle", "consentAction"))
    .build(),
  withVault(task("collateral:exposure", "Marks the exposure, in the base currency (secured party)"))
    .addOption(stringOption("exposure", "Base-currency amount, e.g. 500000.25"))
    .setAction(taskFrom("lifecycle", "exposureAction"))
    .build(),
  withVault(
    withAssetAmount(
      task("collateral:withdraw", "Takes back collateral (pledgor): only the excess once pledged"),
    ),
  )
    .addOption({
      ...stringOption("to", "Receiver (default: the signer)"),
      type: ArgumentType.STRING,
      defaultValue: "",
    })
    .setAction(taskFrom("lifecycle", "withdrawAction"))
    .build(),
  withVault(
    task(
      "collateral:substitute",
      "Swaps collateral in one transaction (pledgor): what comes out worth no more than what goes in",
    ),
  )
    .addOption(stringOption("assetIn", "The eligible asset delivered"))
    .addOption(stringOption("amountIn", "Whole tokens of --asset-in"))
    .addOption(stringOption("assetOut", "The asset taken back"))
    .addOption(stringOption("amountOut", "Whole tokens of --asset-out"))
    .addOption({
      ...stringOption("to", "Receiver of --asset-out (default: the signer)"),
      type: ArgumentType.STRING,
      defaultValue: "",
    })
    .setAction(taskFrom("lifecycle", "substituteAction"))
    .build(),
  withVault(
    task(
      "collateral:reconcile",
      "Sets an asset's accounted balance to what the vault holds (a rebasing token)",
    ),
  )
    .addOption(stringOption("asset", "The asset"))
    .setAction(taskFrom("lifecycle", "reconcileAction"))
    .build(),
  withVault(task("collateral:dispute", "Disputes the latest mark with the pledgor's own figure"))
    .addOption(stringOption("exposure", "The pledgor's figure, base currency, e.g. 450000"))
    .setAction(taskFrom("margin", "disputeAction"))
    .build(),
  withVault(
    task(
      "collateral:resolve",
      "Ends or narrows a dispute at an agreed figure (pledgor, secured party or control agent)",
    ),
  )
    .addOption(stringOption("exposure", "The agreed figure, base currency"))
    .setAction(taskFrom("margin", "resolveAction"))
    .build(),
  withVault(
    task(
      "collateral:top-up",
      "Pre-authorises automatic top-ups (pledgor): a source and assets in cost order with caps",
    ),
  )
    .addOption({
      ...stringOption(
        "source",
        "The address pulled from (default: the signer, which then approves)",
      ),
      type: ArgumentType.STRING,
      defaultValue: "",
    })
    .addOption(stringOption("assets", "asset:cap,asset:cap in cost order, caps in whole tokens"))
    .setAction(taskFrom("margin", "topUpAction"))
    .build(),
  withVault(
    task(
      "collateral:sign-pledge",
      "Signs this party's pledge consent for the other party to submit (writes a consent file)",
    ),
  )
    .addOption({
      ...stringOption("validFor", "Seconds the consent stays valid"),
      type: ArgumentType.STRING,
      defaultValue: "86400",
    })
    .addOption({
      ...stringOption("out", "File to write (default: print)"),
      type: ArgumentType.STRING,
      defaultValue: "",
    })
    .setAction(taskFrom("signatures", "signPledgeAction"))
    .build(),
  withVault(
    task(
      "collateral:pledge",
      "Consents and submits the other party's signed consent: the vault is Pledged",
    ),
  )
    .addOption(stringOption("consent", "The consent file collateral:sign-pledge wrote"))
    .setAction(taskFrom("signatures", "pledgeAction"))
    .build(),
  withVault(task("collateral:call", "Issues the margin call that is due (anyone)"))
    .setAction(taskFrom("lifecycle", "callAction"))
    .build(),
  withVault(task("collateral:close-call", "Closes a margin call the collateral now meets (anyone)"))
    .setAction(taskFrom("lifecycle", "closeCallAction"))
    .build(),
  withVault(
    task(
      "collateral:default",
      "Declares a default: the pledgor's acknowledgement, or a call unmet past its deadline",
    ),
  )
    .setAction(taskFrom("lifecycle", "defaultAction"))
    .build(),
  withVault(task("collateral:notice", "Delivers the Notice of Exclusive Control (secured party)"))
    .addOption(stringOption("document", "The signed notice's text, or its 32-byte hash"))
    .setAction(taskFrom("lifecycle", "noticeAction"))
    .build(),
  withVault(
    withAssetAmount(
      task("collateral:instruct", "Under exclusive control, moves collateral against what is due"),
    ),
  )
    .addOption(stringOption("to", "Receiver"))
    .setAction(taskFrom("lifecycle", "instructAction"))
    .build(),
  withVault(
    withAssetAmount(
      task(
        "collateral:sign-sale",
        "As the buyer, offers cash for collateral under exclusive control (approves DvP, writes an order file)",
      ),
    ),
  )
    .addOption(stringOption("cashToken", "The eligible asset paid"))
    .addOption(stringOption("cashAmount", "Whole tokens of --cash-token"))
    .addOption({
      ...stringOption("validFor", "Seconds the offer stays valid"),
      type: ArgumentType.STRING,
      defaultValue: "3600",
    })
    .addOption({
      ...stringOption("out", "File to write (default: print)"),
      type: ArgumentType.STRING,
      defaultValue: "",
    })
    .setAction(taskFrom("signatures", "signSaleAction"))
    .build(),
  withVault(
    task(
      "collateral:liquidate",
      "Executes a buyer's signed sale through DvP (secured party or control agent)",
    ),
  )
    .addOption(stringOption("order", "The order file collateral:sign-sale wrote"))
    .setAction(taskFrom("signatures", "liquidateAction"))
    .build(),
  withVault(task("collateral:release", "Returns the collateral to the pledgor"))
    .setAction(taskFrom("lifecycle", "releaseAction"))
    .build(),
  withVault(task("collateral:audit", "Exports the agreement's reconciled audit trail"))
    .addOption({
      ...stringOption("format", "csv or json"),
      type: ArgumentType.STRING,
      defaultValue: "csv",
    })
    .addOption({
      ...stringOption("out", "File to write (default: print)"),
      type: ArgumentType.STRING,
      defaultValue: "",
    })
    .setAction(taskFrom("lifecycle", "auditAction"))
    .build(),
];

/** A local sandbox: demo collateral and a price setter for its feeds (chain id 31337 only). */
const sandboxTasks = [
  task(
    "collateral:sandbox",
    "Deploys demo collateral (T-bill, stablecoin, fund share) and feeds on a local chain, funds accounts, writes an agreement file",
  )
    .addOption({
      name: "accounts",
      description: "How many of the first accounts to fund",
      type: ArgumentType.INT,
      defaultValue: 5,
    })
    .setAction(taskFrom("local-sandbox", "sandboxAction"))
    .build(),
  task(
    "collateral:price",
    "Sets a sandbox feed's price in US dollars, e.g. --symbol TBILL --price 0.98",
  )
    .addOption(stringOption("symbol", "TBILL or USDS (the fund share is priced by USDS)"))
    .addOption(stringOption("price", "US dollars, up to 8 decimals"))
    .setAction(taskFrom("local-sandbox", "priceAction"))
    .build(),
];

const collateralTasks = [
  task("collateral:deploy", "Deploys the system and writes deployments/<network>.json")
    .addOption({
      name: "guardian",
      description: "Who may pause new risk (default: the deployer)",
      type: ArgumentType.STRING,
      defaultValue: "",
    })
    .setAction(taskFrom("actions", "deployAction"))
    .build(),
  task(
    "collateral:open",
    "Opens an agreement as pledgor from a JSON agreement file (terms and schedule)",
  )
    .addOption({
      name: "file",
      description: "Path of the agreement file",
      type: ArgumentType.STRING_WITHOUT_DEFAULT,
      defaultValue: undefined,
    })
    .addOption({
      name: "account",
      description: "Index of the signing account",
      type: ArgumentType.INT,
      defaultValue: 0,
    })
    .setAction(taskFrom("actions", "openAction"))
    .build(),
  withVault(
    withAssetAmount(
      task(
        "collateral:deposit",
        "Posts collateral to an agreement (the amount in whole tokens, e.g. 1250.5)",
      ),
    ),
  )
    .setAction(taskFrom("actions", "depositAction"))
    .build(),
  task("collateral:status", "Prints the status of one agreement, or of all")
    .addOption({
      name: "vault",
      description: "One agreement's vault (default: all)",
      type: ArgumentType.STRING,
      defaultValue: "",
    })
    .setAction(taskFrom("actions", "statusAction"))
    .build(),
  task(
    "collateral:monitor",
    "Runs the margin monitor: re-values agreements each block, calls margin, reports defaults",
  )
    .addFlag({ name: "once", description: "One pass, then exit" })
    .addOption({
      name: "interval",
      description: "Milliseconds between polls for a new block",
      type: ArgumentType.INT,
      defaultValue: 2_000,
    })
    .addOption({
      name: "account",
      description: "Index of the signing account",
      type: ArgumentType.INT,
      defaultValue: 0,
    })
    .setAction(taskFrom("actions", "monitorAction"))
    .build(),
];

export default defineConfig({
  plugins: [hardhatToolboxMochaEthers, errorDocs],
  paths: {
    // The product and its test doubles under contracts/; the bench's own scaffolding beside the bench.
    sources: { solidity: ["contracts", "bench/contracts"] },
    // A coverage run (`--coverage`) compiles instrumented bytecode: it keeps its own artifacts and compile cache,
    // so that it never overwrites the normal build and `npm test`'s uninstrumented pass recompiles nothing.
    artifacts: coverageRun ? "cache/coverage/artifacts" : "artifacts",
    cache: coverageRun ? "cache/coverage" : "cache",
  },
  tasks: [...collateralTasks, ...lifecycleTasks, ...sandboxTasks],
  solidity: {
    profiles: {
      default: buildProfile,
      production: buildProfile,
    },
    // Deployed as-is from OpenZeppelin: the AccessManager that holds the guardian and risk-manager roles.
    npmFilesToBuild: ["@openzeppelin/contracts/access/manager/AccessManager.sol"],
  },
  test: {
    solidity: {
      profiles: {
        // The profile `npm test` and CI run: fits a 2-core machine comfortably.
        default: {
          fuzz: { runs: 256 },
          invariant: { runs: 64, depth: 32, failOnRevert: false },
        },
        // `npm run test:deep`: ten times the runs and depth of the default profile.
        deep: {
          fuzz: { runs: 2_560 },
          invariant: { runs: 640, depth: 320, failOnRevert: false },
        },
      },
    },
  },
  networks: {
    // The embedded simulated chain is the default network.
    default: {
      type: "edr-simulated",
      chainType: "l1",
    },
    // `npx hardhat node` on its default port; LOCALHOST_RPC_URL points at another (a test's own node).
    localhost: {
      type: "http",
      chainType: "l1",
      url: process.env.LOCALHOST_RPC_URL || "http://127.0.0.1:8545",
    },
    // Remote networks: URL and key come from configuration variables
    // (`npx hardhat keystore set SEPOLIA_RPC_URL`, or the environment), never from the repo.
    sepolia: {
      type: "http",
      chainType: "l1",
      url: configVariable("SEPOLIA_RPC_URL"),
      accounts: [configVariable("SEPOLIA_PRIVATE_KEY")],
    },
    mainnet: {
      type: "http",
      chainType: "l1",
      url: configVariable("MAINNET_RPC_URL"),
      accounts: [configVariable("MAINNET_PRIVATE_KEY")],
    },
  },
  verify: {
    etherscan: {
      apiKey: configVariable("ETHERSCAN_API_KEY"),
    },
  },
});
