import hre from "hardhat";

/**
 * Whether this run is `hardhat test --coverage`: the contracts are then instrumented, so gas figures and
 * bytecode (and its metadata hash) differ from the real build by design.
 */
export const underCoverage = hre.globalOptions.coverage === true;
