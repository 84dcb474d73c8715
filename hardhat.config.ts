import { createRequire } from "node:module";

import hardhatToolboxMochaEthers from "@nomicfoundation/hardhat-toolbox-mocha-ethers";
import { configVariable, defineConfig } from "hardhat/config";

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
  },
});

const buildProfile = {
  compilers: [compiler(10_000)],
  overrides: {
    // The vault implementation carries the whole margin engine; optimising it for 200 runs keeps it under
    // the 24 KiB code-size limit (EIP-170) at a cost of a few hundred gas per call.
    "contracts/vault/CollateralVault.sol": compiler(200),
  },
};

export default defineConfig({
  plugins: [hardhatToolboxMochaEthers],
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
    localhost: {
      type: "http",
      chainType: "l1",
      url: "http://127.0.0.1:8545",
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
