// `npm run demo`: the whole collateral lifecycle on the embedded Hardhat network, narrated.
import { network } from "hardhat";

import { runDemo } from "./demo/lifecycle.js";

const started = Date.now();
const { ethers, networkHelpers } = await network.create();
const outcome = await runDemo(ethers, networkHelpers);
console.log(`\nDemo finished in ${((Date.now() - started) / 1000).toFixed(1)} s.`);
if (!outcome.audit.reconciled) process.exitCode = 1;
