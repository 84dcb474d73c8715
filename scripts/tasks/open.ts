import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";

import { openAction } from "./actions.js";
import { runTask } from "./run.js";

export default async function (
  args: { file?: string; account: number },
  hre: HardhatRuntimeEnvironment,
) {
  await runTask(hre, (ctx) => openAction(ctx, args));
}
