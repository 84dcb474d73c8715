import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";

import { depositAction } from "./actions.js";
import { runTask } from "./run.js";

export default async function (
  args: { vault?: string; asset?: string; amount?: string; account: number },
  hre: HardhatRuntimeEnvironment,
) {
  await runTask(hre, (ctx) => depositAction(ctx, args));
}
