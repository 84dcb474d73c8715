// Runs a task action on the network Hardhat was started with, printing a TaskInputError as a plain message.
import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";

import { TaskInputError, type TaskContext } from "./actions.js";

export async function runTask<T>(
  hre: HardhatRuntimeEnvironment,
  action: (ctx: TaskContext) => Promise<T>,
): Promise<void> {
  const { ethers, networkName } = await hre.network.getOrCreate();
  try {
    await action({ ethers, networkName, log: (line) => console.log(line) });
  } catch (error) {
    if (!(error instanceof TaskInputError) && (error as Error)?.name !== "CollateralError")
      throw error;
    console.error(`Error: ${(error as Error).message}`);
    process.exitCode = 1;
  }
}
