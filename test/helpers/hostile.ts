// Hostile tokens and the agreements they are tried in: rebasing and re-entrant tokens held by two agreements, a
// blocklisting or pausable token beside ordinary collateral, many listed assets; and for the substitution and
// top-up attacks, a ledger of every balance that must not move.
import { expect } from "chai";
import type { ContractTransactionResponse } from "ethers";

import { ONE_DAY, type EligibilityLine, type System } from "../fixtures.js";
import type {
  BlocklistToken,
  CollateralVault,
  MockERC20,
  PausableToken,
  RebasingToken,
  ReentrantToken,
} from "../../types/ethers-contracts/index.js";
import {
  CALLED_VALUE,
  E18,
  E6,
  TBILL,
  USD,
  adversary,
  calledTerms,
  type TestToken,
  type Token,
} from "./adversary.js";

/** Agreements holding hostile tokens, bound to the suite's current system. */
export function hostileTokens(sys: () => System) {
  const { deploy, agreementListing, pledge, postTbill, mintAndApprove } = adversary(sys);

  async function twoRebasingAgreements() {
    const reb = await deploy<RebasingToken>("RebasingToken");
    const a = await agreementListing(reb);
    const b = await agreementListing(reb);
    for (const vault of [a, b]) {
      await mintAndApprove(reb, sys().pledgor, vault, E18(1_000n));
      await vault.connect(sys().pledgor).deposit(await reb.getAddress(), E18(1_000n));
    }
    return { reb, asset: await reb.getAddress(), a, b };
  }

  async function reentrantAgreement() {
    const ree = await deploy<ReentrantToken>("ReentrantToken");
    const asset = await ree.getAddress();
    const vault = await agreementListing(ree);
    const other = await agreementListing(ree);
    for (const v of [vault, other]) {
      await mintAndApprove(ree, sys().pledgor, v, E18(1_000n));
      await v.connect(sys().pledgor).deposit(asset, E18(1_000n));
    }
    // The token can pay for a nested deposit itself, so only the guard stands in the way.
    await ree.mint(asset, E18(10n));
    await ree.approveFromSelf(await vault.getAddress(), E18(10n));
    return { ree, asset, vault, other, vaultAddress: await vault.getAddress() };
  }

  const nestedCalls = (vault: CollateralVault, asset: string, to: string) => ({
    deposit: vault.interface.encodeFunctionData("deposit", [asset, E18(10n)]),
    withdraw: vault.interface.encodeFunctionData("withdraw", [asset, E18(1n), to]),
    release: vault.interface.encodeFunctionData("release"),
    issueMarginCall: vault.interface.encodeFunctionData("issueMarginCall"),
  });

  async function mixedAgreement<T extends BlocklistToken | PausableToken>(token: T) {
    const asset = await token.getAddress();
    const vault = await agreementListing(token);
    const other = await agreementListing(token);
    for (const v of [vault, other]) {
      await mintAndApprove(token, sys().pledgor, v, E6(1_000n));
      await v.connect(sys().pledgor).deposit(asset, E6(1_000n));
    }
    await postTbill(vault, TBILL(2_000n));
    await sys().fund(sys().stable, sys().pledgor, vault, E18(3_000n));
    await vault.connect(sys().pledgor).deposit(await sys().stable.getAddress(), E18(3_000n));
    await pledge(vault);
    return { asset, vault, other };
  }

  /** `count` fresh 18-decimal tokens, each listed at $1 with no haircut on one shared feed. */
  async function manyAssets(count: number) {
    const tokens: MockERC20[] = [];
    const lines: EligibilityLine[] = [];
    for (let i = 0; i < count; i++) {
      const token = await deploy<MockERC20>("MockERC20", [`T${i}`, `T${i}`, 18n]);
      tokens.push(token);
      lines.push(await sys().line(token, sys().stableFeed, 0n));
    }
    return { tokens, lines };
  }

  return { twoRebasingAgreements, reentrantAgreement, nestedCalls, mixedAgreement, manyAssets };
}

/**
 * The substitution and top-up attacks' checks and agreements, bound to the suite's current system: a ledger of
 * every named balance, accounted == held, the keeper's call at the $0.92 T-bill price.
 */
export function hostileFlows(sys: () => System) {
  const { agreementListing, pledge, postTbill, mintAndApprove } = adversary(sys);

  /**
   * Every named token's balance at every named holder, every named vault's accounted balance of it, and each
   * vault's state: two equal ledgers mean nothing moved.
   */
  async function ledger(
    tokens: Record<string, Token>,
    holders: Record<string, { getAddress(): Promise<string> } | string>,
    vaults: Record<string, CollateralVault>,
  ): Promise<Record<string, bigint>> {
    const rows: Record<string, bigint> = {};
    for (const [t, token] of Object.entries(tokens)) {
      const asset = await token.getAddress();
      for (const [h, holder] of Object.entries(holders)) {
        const account = typeof holder === "string" ? holder : await holder.getAddress();
        rows[`${t} held by ${h}`] = await token.balanceOf(account);
      }
      for (const [v, vault] of Object.entries(vaults))
        rows[`${t} accounted by ${v}`] = await vault.balanceOf(asset);
    }
    for (const [v, vault] of Object.entries(vaults)) rows[`state of ${v}`] = await vault.state();
    return rows;
  }

  /** Promise 1: for each token, what `vault` accounts for equals what it holds. */
  async function expectAccountedEqualsHeld(vault: CollateralVault, tokens: Token[]) {
    const vaultAddress = await vault.getAddress();
    for (const token of tokens) {
      const asset = await token.getAddress();
      expect(await vault.balanceOf(asset), `accounted ${asset}`).to.equal(
        await token.balanceOf(vaultAddress),
      );
    }
  }

  /** The keeper's call after the $0.92 T-bill price: 9,000 for a shortfall of 8,240, due in a day. */
  async function expectCallIssued(
    vault: CollateralVault,
    call: Promise<ContractTransactionResponse>,
  ) {
    const receipt = await (await call).wait();
    const { timestamp } = (await sys().ethers.provider.getBlock(receipt!.blockNumber))!;
    await expect(call)
      .to.emit(vault, "MarginCallIssued")
      .withArgs(
        sys().outsider.address,
        USD(9_000n),
        USD(8_240n),
        BigInt(timestamp) + ONE_DAY,
        CALLED_VALUE,
        USD(1_000_000n),
      );
  }

  /**
   * An agreement listing `token` at $1: 1,100,000 T-bills pledged against a requirement of 1,000,000. The
   * treasury (the top-up source, an EOA) holds `amount` of `token` and 50,000 stablecoins, both approved to
   * the vault. A second agreement lists `token` too and holds 1,000 T-bills.
   */
  async function toppedUp(token: TestToken, amount: bigint) {
    const treasury = sys().admin;
    const vault = await agreementListing(token, calledTerms);
    const other = await agreementListing(token, calledTerms);
    await postTbill(vault, TBILL(1_100_000n));
    await postTbill(other, TBILL(1_000n));
    await pledge(vault);
    await vault.connect(sys().securedParty).setExposure(USD(800_000n));
    await mintAndApprove(token, treasury, vault, amount);
    await mintAndApprove(sys().stable, treasury, vault, E18(50_000n));
    return {
      vault,
      other,
      vaultAddress: await vault.getAddress(),
      treasury,
      asset: await token.getAddress(),
      stable: await sys().stable.getAddress(),
    };
  }

  /** Top-ups from `source`, `asset` first then the stablecoin; a $0.92 T-bill price then makes a call due. */
  async function configureAndDropPrice(
    vault: CollateralVault,
    source: string,
    asset: string,
    cap: bigint,
  ) {
    await vault
      .connect(sys().pledgor)
      .configureTopUp(source, [asset, await sys().stable.getAddress()], [cap, E18(50_000n)]);
    await sys().tbillFeed.setAnswer(92_000000n);
  }

  return { ledger, expectAccountedEqualsHeld, expectCallIssued, toppedUp, configureAndDropPrice };
}
