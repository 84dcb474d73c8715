// Hardhat hook: after each successful build, regenerate the SDK's error documentation from the NatSpec.
import type { SolidityHooks } from "hardhat/types/hooks";

import { writeErrorDocs } from "../error-docs.js";

export default async (): Promise<Partial<SolidityHooks>> => ({
  async processArtifactsAfterSuccessfulBuild(context, artifactPaths) {
    await writeErrorDocs(context.config.paths.root, artifactPaths, context.config.paths.artifacts);
  },
});
