import { readFileSync } from "node:fs";

import { expect } from "chai";

describe("README", function () {
  it("shows the quickstart exactly as scripts/quickstart.ts, which runs as written", async function () {
    const readme = readFileSync("README.md", "utf8");
    const block = /<!-- quickstart: scripts\/quickstart.ts -->\n```ts\n([\s\S]*?)```/.exec(readme);
    expect(block, "README has the quickstart block").to.not.equal(null);
    expect(block![1]).to.equal(readFileSync("scripts/quickstart.ts", "utf8"));

    const { status } =
      (await import("../scripts/quickstart.js")) as typeof import("../scripts/quickstart.js");
    expect(status.state).to.equal("Open");
    expect(status.collateralValue).to.equal(980_000n * 10n ** 18n);
    expect(status.coverageBps).to.equal(19_600n);
  });
});
