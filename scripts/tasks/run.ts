// Runs a task action on the network Hardhat was started with, printing bad input and contract refusals (a
// TaskInputError, the SDK's InputError or CollateralError) as a plain message.
import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";

import { TaskInputError, type TaskContext } from "./actions.js";

export async function runTask<T>(
  hre: HardhatRuntimeEnvironment,
  action: (ctx: TaskContext) => Promise<T>,
): Promise<void> {
  const { ethers, networkName } = await hre.network.getOrCreate();
  try {
    // COLLATERAL_DEPLOYMENTS moves the address books out of ./deployments (a test's own folder, a shared drive).
    const deployments = process.env.COLLATERAL_DEPLOYMENTS || undefined;
    await action({ ethers, networkName, deployments, log: (line) => console.log(line) });
  } catch (error) {
    // Bad input and contract refusals are the user's to fix: a plain message, no stack trace.
    const name = (error as Error)?.name;
    if (!(error instanceof TaskInputError) && name !== "CollateralError" && name !== "InputError")
      throw error;
    console.error(`Error: ${(error as Error).message}`);
    process.exitCode = 1;
  }
}

/** The default export of a task's action module: `action` run on the task's network (see `runTask`). */
export function taskAction<A>(action: (ctx: TaskContext, args: A) => Promise<unknown>) {
  return async (args: A, hre: HardhatRuntimeEnvironment) =>
    runTask(hre, (ctx) => action(ctx, args));
}
