import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";

import { monitorAction } from "./actions.js";
import { runTask } from "./run.js";

export default async function (
  args: { once: boolean; account: number; interval: number },
  hre: HardhatRuntimeEnvironment,
) {
  await runTask(hre, (ctx) => monitorAction(ctx, args));
}
