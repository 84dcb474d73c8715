import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

import { expect } from "chai";
import { Interface } from "ethers";
import hre from "hardhat";

import { collectErrorDocs } from "../scripts/error-docs.js";
import { decodeError } from "../sdk/index.js";
import { ERROR_DOCS } from "../types/error-docs.js";

/** Every contract artifact of the current build (build infos and type declarations left out). */
function artifactPaths(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith(".json"))
    .map((entry) => path.join(entry.parentPath, entry.name))
    .filter((file) => !file.includes(`${path.sep}build-info${path.sep}`));
}

const refusal = (promise: Promise<unknown>) =>
  promise.then(
    () => "resolved",
    (error: Error) => error.message,
  );

const encode = (signature: string, args: unknown[]) =>
  new Interface([`error ${signature}`]).encodeErrorResult(signature.split("(")[0], args);

describe("SDK error sentences generated from the NatSpec", function () {
  it("are exactly what the build's userdoc and devdoc say: the generated module is the current build's", async function () {
    const fromBuild = await collectErrorDocs(
      artifactPaths(hre.config.paths.artifacts),
      hre.config.paths.artifacts,
    );
    expect(fromBuild).to.deep.equal(ERROR_DOCS);
    // Every custom error the product declares, from the parties' refusals to the oracle's.
    expect(Object.keys(ERROR_DOCS).length).to.be.greaterThanOrEqual(71);
    expect(ERROR_DOCS["Unauthorized(address,address)"].source).to.equal(
      "contracts/interfaces/IAgreementState.sol",
    );
  });

  it("name every parameter of every error in its notice, so each sentence carries all the values", function () {
    const unnamed = Object.entries(ERROR_DOCS).flatMap(([signature, doc]) =>
      doc.params.filter((p) => !doc.notice.includes(`\`${p.name}\``)).map((p) => `${signature}.${p.name}`),
    );
    expect(unnamed).to.deep.equal([]);
  });

  it("show WAD values as amounts, timestamps as dates and enums by name, as the @param units say", function () {
    const breach = decodeError(
      encode("WithdrawalBreachesRequirement(uint256 collateralValue, uint256 requirement)", [
        1_500_000n * 10n ** 18n + 5n * 10n ** 17n,
        2_000_000n * 10n ** 18n,
      ]),
    );
    expect(breach?.message).to.equal(
      "WithdrawalBreachesRequirement: The withdrawal would leave collateral worth 1,500,000.5 after haircuts, " +
        "below the requirement of 2,000,000.",
    );
    const expired = decodeError(
      encode("ConsentExpired(uint256 deadline, uint256 nowTs)", [1_767_225_600n, 1_767_225_601n]),
    );
    expect(expired?.message).to.equal(
      "ConsentExpired: The signed consent expired at 2026-01-01T00:00:00.000Z (now 2026-01-01T00:00:01.000Z).",
    );
    const state = decodeError(encode("InvalidState(uint8 actual)", [3]));
    expect(state?.message).to.equal("InvalidState: The vault is ExclusiveControl, and this needs another state.");
    // A count or a token amount in the token's own units is shown as it is.
    const short = decodeError(
      encode("ShortDelivery(address asset, uint256 received, uint256 expected)", [
        "0x00000000000000000000000000000000000000aa",
        99n,
        100n,
      ]),
    );
    expect(short?.message).to.equal(
      "ShortDelivery: 0x00000000000000000000000000000000000000AA delivered 99 where 100 was asked (a fee on " +
        "transfer or a short delivery).",
    );
  });

  describe("the generator refuses", function () {
    /** A build of one product source declaring `errors`, as Hardhat writes it. */
    function fakeBuild(
      errors: Array<{ source: string; name: string; notice?: string }>,
    ): { dir: string; artifact: string } {
      const dir = mkdtempSync(path.join(tmpdir(), "error-docs-"));
      mkdirSync(path.join(dir, "build-info"));
      const sources: Record<string, unknown> = {};
      for (const { source, name } of errors) {
        const ast = { nodeType: "SourceUnit", nodes: [{ nodeType: "ErrorDefinition", name, nodes: [] }] };
        sources[`project/${source}`] ??= { ast: { nodeType: "SourceUnit", nodes: [] } };
        (sources[`project/${source}`] as { ast: { nodes: unknown[] } }).ast.nodes.push(...ast.nodes);
      }
      const userdoc = {
        errors: Object.fromEntries(
          errors.filter((e) => e.notice).map((e) => [`${e.name}()`, [{ notice: e.notice }]]),
        ),
      };
      const output = {
        output: {
          sources,
          contracts: { "project/contracts/Thing.sol": { Thing: { userdoc, devdoc: {} } } },
        },
      };
      writeFileSync(path.join(dir, "build-info", "b1.output.json"), JSON.stringify(output));
      const artifact = path.join(dir, "Thing.json");
      writeFileSync(
        artifact,
        JSON.stringify({
          sourceName: "contracts/Thing.sol",
          contractName: "Thing",
          inputSourceName: "project/contracts/Thing.sol",
          buildInfoId: "b1",
          abi: errors.map((e) => ({ type: "error", name: e.name, inputs: [] })),
        }),
      );
      return { dir, artifact };
    }

    it("one error name declared in two product sources (error names are unique)", async function () {
      const { dir, artifact } = fakeBuild([
        { source: "contracts/A.sol", name: "ShortDelivery", notice: "Short." },
        { source: "contracts/B.sol", name: "ShortDelivery", notice: "Short." },
      ]);
      expect(await refusal(collectErrorDocs([artifact], dir))).to.equal(
        "error ShortDelivery is declared in both contracts/A.sol and contracts/B.sol: error names must be unique",
      );
    });

    it("a product error without a @notice (its sentence would be missing)", async function () {
      const { dir, artifact } = fakeBuild([{ source: "contracts/A.sol", name: "Undocumented" }]);
      expect(await refusal(collectErrorDocs([artifact], dir))).to.equal(
        "error Undocumented() (contracts/A.sol) has no @notice",
      );
    });

    it("nothing for a test double's errors: mocks are not the product", async function () {
      const { dir, artifact } = fakeBuild([{ source: "contracts/mocks/hostile/Evil.sol", name: "Evil" }]);
      expect(await collectErrorDocs([artifact], dir)).to.deep.equal({});
    });
  });
});
