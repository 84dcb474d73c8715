import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";

import { deployAction } from "./actions.js";
import { runTask } from "./run.js";

export default async function (args: { guardian: string }, hre: HardhatRuntimeEnvironment) {
  await runTask(hre, (ctx) => deployAction(ctx, args));
}
