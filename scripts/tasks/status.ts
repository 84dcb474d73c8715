import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";

import { statusAction } from "./actions.js";
import { runTask } from "./run.js";

export default async function (args: { vault: string }, hre: HardhatRuntimeEnvironment) {
  await runTask(hre, (ctx) => statusAction(ctx, args));
}
