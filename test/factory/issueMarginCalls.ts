// AgreementFactory.issueMarginCalls: the keeper's batch skips what is not due and never starves or silently skips
// a due agreement.
import { expect } from "chai";

import { VaultState, useSystem, type System } from "../fixtures.js";
import { E18, TBILL, USD, adversary, calledTerms, looseTerms } from "../helpers/adversary.js";
import { hostileFlows } from "../helpers/hostile.js";
import { ISSUED, MET, Outcome, SKIPPED, marginEngine } from "../helpers/margin.js";
import { refusalSteps } from "../helpers/refusal.js";
import type { GasBurnerToken } from "../../types/ethers-contracts/index.js";

describe("AgreementFactory.issueMarginCalls", function () {
  let sys: System;
  const system = useSystem();
  beforeEach(function () {
    sys = system();
  });

  const { pledgedAgreement } = marginEngine(() => sys);

  it("batches margin calls across agreements, skipping those not due and addresses that are not vaults", async function () {
    const covered = await pledgedAgreement();
    const due = await pledgedAgreement();
    await due.connect(sys.securedParty).setExposure(USD(950_000n)); // requirement 1,150,000 > 1,078,000
    const outcomes = await sys.factory.issueMarginCalls.staticCall([
      await covered.getAddress(),
      await due.getAddress(),
      sys.outsider.address,
    ]);
    expect(outcomes).to.deep.equal([
      BigInt(Outcome.Skipped),
      BigInt(Outcome.CallIssued),
      BigInt(Outcome.Skipped),
    ]);
  });

  describe("refuses", function () {
    const { deploy, pledge, postTbill } = adversary(() => sys);
    const { postedVault } = refusalSteps(() => sys);
    const { toppedUp, configureAndDropPrice } = hostileFlows(() => sys);

    it("issueMarginCalls reverts the batch when a vault call ran out of gas with the keeper's last 1/64: InsufficientGas(gasLeft, gasBefore), nothing issued", async function () {
      this.timeout(300_000);
      const vault = await postedVault({ terms: looseTerms });
      await pledge(vault);
      await vault.connect(sys.securedParty).setExposure(USD(990_000n)); // 980,000 against 990,000: due
      const vaults = [await vault.getAddress()];
      const keeper = sys.factory.connect(sys.outsider);
      const selector = sys.factory.interface.getError("InsufficientGas")!.selector;

      // The least gas limit at which the batch reaches the vault but the vault call starves; found by a sweep
      // because the instrumented build of `--coverage` costs more gas.
      let found: { gasLimit: bigint; data: string } | undefined;
      for (let gasLimit = 25_000n; gasLimit <= 1_000_000n && !found; gasLimit += 250n) {
        try {
          await keeper.issueMarginCalls.staticCall(vaults, { gasLimit });
        } catch (error) {
          const data = (error as { data?: unknown }).data; // an object when the transaction ran out of gas
          if (typeof data === "string" && data.startsWith(selector)) found = { gasLimit, data };
        }
      }
      expect(found, "a gas limit at which the batch reverts InsufficientGas").to.not.equal(
        undefined,
      );
      const [gasLeft, gasBefore] = sys.factory.interface.decodeErrorResult(
        "InsufficientGas",
        found!.data,
      );
      expect(gasLeft * 64n).to.be.at.most(gasBefore); // the vault call left the keeper its last 1/64
      expect(gasBefore).to.be.lessThan(found!.gasLimit);

      await expect(keeper.issueMarginCalls(vaults, { gasLimit: found!.gasLimit }))
        .to.be.revertedWithCustomError(sys.factory, "InsufficientGas")
        .withArgs(gasLeft, gasBefore);
      expect(await vault.state()).to.equal(VaultState.Pledged);
      // With enough gas the same batch issues the call.
      expect(await keeper.issueMarginCalls.staticCall(vaults)).to.deep.equal([ISSUED]);
      await keeper.issueMarginCalls(vaults);
      expect(await vault.state()).to.equal(VaultState.MarginCall);
    });

    // Regression: the factory's out-of-gas check missed the clone's own 1/64 (it now allows 2/64).
    it("a keeper's batch at a gas limit that starves the vault call inside its clone reverts InsufficientGas instead of skipping the due agreement", async function () {
      this.timeout(300_000);
      const vault = await postedVault({ terms: looseTerms });
      await pledge(vault);
      await vault.connect(sys.securedParty).setExposure(USD(990_000n));
      const vaults = [await vault.getAddress()];
      const keeper = sys.factory.connect(sys.outsider);
      const skipped: bigint[] = [];
      for (let gasLimit = 25_000n; gasLimit <= 400_000n; gasLimit += 500n) {
        const outcome = await keeper.issueMarginCalls.staticCall(vaults, { gasLimit }).then(
          ([o]) => o,
          () => undefined,
        ); // reverted: the keeper retries with more gas
        if (outcome === SKIPPED) skipped.push(gasLimit);
      }
      expect(skipped, "gas limits at which a due agreement is silently skipped").to.deep.equal([]);
    });

    // As in the gas-burning top-up regressions of test/margin/topUp.ts: the vault pulls top-ups with at most
    // TOKEN_TRANSFER_GAS (300,000) per transfer, where OpenZeppelin's trySafeTransferFrom left a burner's
    // vault 1/64 of the gas for everything after it.
    // Regression, same cause, across agreements (promise 2). Before the fix a keeper's batch of two due agreements with 3
    // million gas (ten times what the two calls need) returns [Skipped, Skipped]: the burner's vault runs out of
    // gas (the factory's try/catch skips it) and the 1/64 it leaves the factory is too little for the second,
    // unrelated agreement, whose margin call is then not issued either. From about 8 million gas both calls are
    // issued, but the first is not met ([CallIssued, CallIssued]).
    it("a gas-burning top-up token in one agreement does not starve the margin call of the next agreement in a keeper's batch (3,000,000 gas)", async function () {
      const burner = await deploy<GasBurnerToken>("GasBurnerToken");
      const { vault, treasury, asset } = await toppedUp(burner, E18(20_000n));
      const unrelated = await sys.openAgreement({ terms: calledTerms });
      await postTbill(unrelated, TBILL(1_100_000n));
      await pledge(unrelated);
      await unrelated.connect(sys.securedParty).setExposure(USD(800_000n));
      await configureAndDropPrice(vault, treasury.address, asset, E18(20_000n));
      await burner.setBurning(true);

      const batch = [await vault.getAddress(), await unrelated.getAddress()];
      expect(
        await sys.factory
          .connect(sys.outsider)
          .issueMarginCalls.staticCall(batch, { gasLimit: 3_000_000n }),
      ).to.deep.equal([MET, ISSUED]);
      await sys.factory.connect(sys.outsider).issueMarginCalls(batch, { gasLimit: 3_000_000n });
      expect(await vault.state()).to.equal(VaultState.Pledged);
      expect(await unrelated.state()).to.equal(VaultState.MarginCall);
    });
  });
});
