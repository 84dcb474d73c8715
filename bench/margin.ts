/**
 * Gas per agreement of a keeper's margin-call batch, `factory.issueMarginCalls(vaults)`, over 1, 10 and 100
 * pledged single-asset agreements that a price drop has left under-covered (every call is checked to be
 * issued). The ratio is the per-agreement gas against the 1-agreement batch: at or below 1.0 means the batch
 * scales no worse than linearly.
 */
import type { HardhatEthers } from "@nomicfoundation/hardhat-ethers/types";
import { ethers as ethersLib } from "ethers";

import { deployOurs, gasOf, line, openAgreement, row, WAD, type BenchRow } from "./common.js";

const MARGIN_CALL_STATE = 2n;

export async function benchMarginCalls(ethers: HardhatEthers): Promise<BenchRow[]> {
  const [, pledgor, securedParty] = await ethers.getSigners();
  const system = await deployOurs(ethers);
  const asset = await ethers.deployContract("MockERC20", ["TBILL", "TBILL", 18]);
  const assetAddr = await asset.getAddress();
  await (await asset.mint(pledgor.address, 1_000_000_000n * WAD)).wait();

  const perAgreement: Array<{ n: number; gas: number }> = [];
  for (const n of [1, 10, 100]) {
    // Each batch has its own feed so that only its agreements are under-covered by its price drop.
    const feed = await ethers.deployContract("MockPriceFeed", [8, 1_00000000n]);
    const schedule = [line(assetAddr, await feed.getAddress())];
    const vaults: string[] = [];
    for (let i = 0; i < n; i++) {
      const vault = await openAgreement(ethers, system, pledgor, securedParty, schedule);
      const vaultAddr = await vault.getAddress();
      await (await asset.connect(pledgor).approve(vaultAddr, ethersLib.MaxUint256)).wait();
      await (await vault.connect(pledgor).deposit(assetAddr, 100_000n * WAD)).wait();
      await (await vault.connect(pledgor).consentToPledge(await vault.termsHash())).wait();
      await (await vault.connect(securedParty).consentToPledge(await vault.termsHash())).wait();
      // 98k of collateral value after the 2% haircut against 95k required.
      await (await vault.connect(securedParty).setExposure(95_000n * WAD)).wait();
      vaults.push(vaultAddr);
    }
    // A 10% drop: 88.2k against 95k, short by more than the 1k minimum transfer amount.
    await (await feed.setAnswer(90_000000n)).wait();
    const gas = await gasOf(system.factory.connect(securedParty).issueMarginCalls(vaults));
    for (const v of vaults) {
      const state = await (await ethers.getContractAt("CollateralVault", v)).state();
      if (BigInt(state) !== MARGIN_CALL_STATE)
        throw new Error(`margin call not issued on ${v} (batch of ${n})`);
    }
    perAgreement.push({ n, gas: gas / n });
  }
  const base = perAgreement[0].gas;
  return perAgreement.map(({ n, gas }) =>
    row(
      `issueMarginCalls, gas per agreement, batch of ${n} vs batch of 1`,
      Math.round(gas),
      base,
      1.0,
    ),
  );
}
