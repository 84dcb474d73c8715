// The whole life of an agreement through the `collateral:*` tasks alone, as an integrator runs them: each step is
// its own `hardhat` process against a `hardhat node` this test starts, with the address books in a folder of its
// own. Only time passing is not a task: a sale needs the chain's clock, nothing else here does.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";

import { expect } from "chai";
import { JsonRpcProvider } from "ethers";

const HARDHAT = path.resolve("node_modules/hardhat/dist/src/cli.js");

/** A free TCP port on the loopback interface. */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Starts `hardhat node` on `port` and resolves once it answers JSON-RPC. */
async function startNode(port: number): Promise<ChildProcess> {
  const node = spawn(process.execPath, [HARDHAT, "node", "--port", String(port)], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  node.stdout!.on("data", (chunk) => (output += chunk));
  node.stderr!.on("data", (chunk) => (output += chunk));
  const provider = new JsonRpcProvider(`http://127.0.0.1:${port}`, 31337, {
    staticNetwork: true,
  });
  for (let attempt = 0; attempt < 240; attempt++) {
    if (node.exitCode !== null) throw new Error(`hardhat node exited: ${output}`);
    try {
      await provider.getBlockNumber();
      provider.destroy();
      return node;
    } catch {
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  node.kill("SIGKILL");
  throw new Error(`hardhat node did not answer on port ${port} within 60 s: ${output}`);
}

describe("collateral:* tasks against a local node", function () {
  this.timeout(300_000);
  // The task processes it spawns run the normal build, which a coverage run (instrumented, in its own artifacts
  // folder) has not produced yet; they measure no Solidity coverage either, so they run in the plain test pass.
  if (process.argv.includes("--coverage")) return;
  let node: ChildProcess | undefined;
  let provider: JsonRpcProvider;
  let env: NodeJS.ProcessEnv;
  let folder: string;

  before(async function () {
    const port = await freePort();
    node = await startNode(port);
    folder = mkdtempSync(path.join(tmpdir(), "tasks-localhost-"));
    env = {
      ...process.env,
      LOCALHOST_RPC_URL: `http://127.0.0.1:${port}`,
      COLLATERAL_DEPLOYMENTS: folder,
    };
    provider = new JsonRpcProvider(env.LOCALHOST_RPC_URL, 31337, { staticNetwork: true });
  });

  after(function () {
    provider?.destroy();
    node?.kill("SIGKILL");
  });

  /** Runs `npx hardhat --network localhost collateral:<name> …options`; its output and exit code. */
  function task(name: string, options: Record<string, string | number> = {}) {
    const args = [HARDHAT, "--network", "localhost", `collateral:${name}`];
    for (const [key, value] of Object.entries(options)) {
      args.push(`--${key.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase())}`, String(value));
    }
    const run = spawnSync(process.execPath, args, { env, encoding: "utf8" });
    return { out: run.stdout.trim(), err: run.stderr.trim(), code: run.status };
  }

  /** A task that must succeed: its standard output. */
  function ok(name: string, options: Record<string, string | number> = {}) {
    const run = task(name, options);
    expect(run.code, `collateral:${name} failed:\n${run.out}\n${run.err}`).to.equal(0);
    return run.out;
  }

  /** A task that must be refused with `message`, having sent nothing. */
  async function refused(name: string, options: Record<string, string | number>, message: string) {
    const block = await provider.getBlockNumber();
    const run = task(name, options);
    expect(run.code, `collateral:${name} should have failed:\n${run.out}`).to.equal(1);
    expect(run.err).to.equal(`Error: ${message}`); // one line, no stack trace
    expect(await provider.getBlockNumber()).to.equal(block);
  }

  it("sandbox, open, pledge by signature, deposit, mark, dispute, top-up, call, default, notice, sale, release, audit", async function () {
    ok("deploy");
    const sandbox = ok("sandbox", { accounts: 5 });
    const book = JSON.parse(readFileSync(path.join(folder, "localhost.json"), "utf8"));
    const { TBILL, USDS } = book.sandbox.tokens as Record<string, string>;
    expect(sandbox).to.include(`TBILL ${TBILL}`);
    const agreementFile = path.join(folder, "sandbox", "localhost.agreement.json");

    const opened = ok("open", { file: agreementFile, account: 1 });
    const vault = /opened agreement (0x[0-9a-fA-F]{40})/.exec(opened)![1];
    await refused(
      "deposit",
      { vault, asset: TBILL, amount: "0", account: 1 },
      "the deposit amount must be above zero",
    );
    await refused(
      "deposit",
      { vault, asset: TBILL, amount: "20000000", account: 1 },
      `${(await provider.listAccounts())[1].address} holds 10000000.0 TBILL, less than the 20000000.0 TBILL to deposit`,
    );
    ok("deposit", { vault, asset: TBILL, amount: "1000000", account: 1 });

    // The secured party signs its consent; the pledgor submits it with its own.
    const consent = path.join(folder, "consent.json");
    ok("sign-pledge", { vault, account: 2, out: consent });
    await refused(
      "pledge",
      { vault, consent, account: 2 },
      `the consent is ${(await provider.listAccounts())[2].address}'s own; the other party submits it`,
    );
    expect(ok("pledge", { vault, consent, account: 1 })).to.match(/is pledged/);

    // A mark, disputed and agreed lower: the agreed figure is enforceable at once.
    ok("exposure", { vault, exposure: "950000", account: 2 });
    ok("dispute", { vault, exposure: "900000", account: 1 });
    expect(ok("resolve", { vault, exposure: "900000", account: 2 })).to.match(
      /dispute on .* ended at 900000$/,
    );

    // 20,000 USDS of automatic top-up. A price drop: the call is met at once from it.
    expect(ok("top-up", { vault, assets: `${USDS}:20000`, account: 1 })).to.include(
      "automatic top-up",
    );
    ok("price", { symbol: "TBILL", price: "0.9" });
    expect(ok("call", { vault, account: 3 })).to.match(/issued and met at once/);
    // A second drop exhausts the top-up: the call stays open; the pledgor acknowledges the default.
    ok("price", { symbol: "TBILL", price: "0.85" });
    expect(ok("call", { vault, account: 3 })).to.match(/issued; due by/);
    ok("default", { vault, account: 1 });
    ok("notice", { vault, document: "Notice of Exclusive Control, sandbox", account: 2 });

    // The buyer (account 4) offers 84,000 USDS for 100,000 T-bills; the secured party executes it.
    const order = path.join(folder, "order.json");
    await refused(
      "sign-sale",
      {
        vault,
        asset: TBILL,
        amount: "2000000",
        cashToken: USDS,
        cashAmount: "1",
        out: order,
        account: 4,
      },
      `${vault} holds 1,000,000 TBILL, less than the 2000000 offered for`,
    );
    ok("sign-sale", {
      vault,
      asset: TBILL,
      amount: "100000",
      cashToken: USDS,
      cashAmount: "84000",
      out: order,
      account: 4,
    });
    expect(ok("liquidate", { vault, order, account: 2 })).to.match(/settlement 0x[0-9a-f]{64}$/);

    ok("release", { vault, account: 2 });
    expect(ok("status", { vault })).to.match(/Released/);
    const audit = path.join(folder, "audit.csv");
    expect(ok("audit", { vault, format: "csv", out: audit })).to.match(/entries, reconciled/);
    const csv = readFileSync(audit, "utf8");
    for (const event of [
      "PledgeConsented",
      "ExposureDisputed",
      "DisputeResolved",
      "TopUpPulled",
      "MarginCallIssued",
      "DefaultDeclared",
      "Liquidated",
      "Released",
    ]) {
      expect(csv, event).to.include(event);
    }
  });
});
