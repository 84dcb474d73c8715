// What the vault's attack and refusal tests (test/vault/, test/margin/, test/factory/, test/oracle/) build on: units,
// loose terms, and the few steps every attack starts with.
import { ethers as ethersLib } from "ethers";

import { WAD, defaultTerms, type System } from "../fixtures.js";
import type { CollateralVault } from "../../types/ethers-contracts/index.js";

export const USD = (n: bigint) => n * WAD;
export const TBILL = (n: bigint) => n * 10n ** 6n;
export const E18 = (n: bigint) => n * WAD;
export const E6 = (n: bigint) => n * 10n ** 6n;
/** The fixture's stablecoin (18 decimals) and bond (8 decimals). */
export const STABLE = (n: bigint) => n * WAD;
export const BOND = (n: bigint) => n * 10n ** 8n;

/** Terms with no minimum transfer or rounding, so a pledged vault returns any excess. */
export const looseTerms = { ...defaultTerms, minimumTransferAmount: 0n, roundingAmount: 0n };
/** Against an exposure of 800,000 the requirement is 1,000,000 (as in test/helpers/margin.ts). */
export const calledTerms = { ...defaultTerms, independentAmount: USD(200_000n) };
/** 1,100,000 T-bills at $0.92 less 2%: 991,760 against 1,000,000, so a call for 8,240 rounded up to 9,000. */
export const CALLED_VALUE = USD(991_760n);

/** The error of OpenZeppelin's ReentrancyGuardTransient. */
export const REENTRY = "ReentrancyGuardReentrantCall";
/** EIP-7825 caps a transaction at 2^24 gas; the local network enforces it. */
export const TX_GAS_CAP = 16_777_216n;

type Signer = System["pledgor"];

/** Any test token with open minting and a standard `approve`. */
export type MintableToken = {
  mint(to: string, amount: bigint): Promise<unknown>;
  connect(signer: Signer): { approve(spender: string, amount: bigint): Promise<unknown> };
};
/** Any token whose balances a test reads. */
export type Token = {
  getAddress(): Promise<string>;
  balanceOf(account: string): Promise<bigint>;
};
/** Any of the test tokens: open minting and a standard `approve`. */
export type TestToken = Token & MintableToken;

/** The shared steps, bound to the suite's current system (`sys()` is read at each call, after `beforeEach`). */
export function adversary(sys: () => System) {
  return {
    async deploy<T>(name: string, args: unknown[] = []): Promise<T> {
      return (await sys().ethers.deployContract(name, args)) as unknown as T;
    },

    /** An agreement (with a control agent) whose schedule is the fixture's plus `token` at $1, no haircut. */
    async agreementListing(
      token: { getAddress(): Promise<string> },
      terms = looseTerms,
    ): Promise<CollateralVault> {
      const s = sys();
      const schedule = [...s.schedule, await s.line(token, s.stableFeed, 0n)];
      return s.openAgreement({ schedule, terms, withAgent: true });
    },

    /** Both parties consent: the vault is Pledged. */
    async pledge(vault: CollateralVault) {
      await vault.connect(sys().pledgor).consentToPledge(await vault.termsHash());
      await vault.connect(sys().securedParty).consentToPledge(await vault.termsHash());
    },

    /**
     * Pledged, exposure set and past its dispute window (so it is enforceable), the pledgor acknowledges a default,
     * the secured party takes exclusive control.
     */
    async underExclusiveControl(vault: CollateralVault, exposure = USD(500_000n)) {
      const s = sys();
      await vault.connect(s.pledgor).consentToPledge(await vault.termsHash());
      await vault.connect(s.securedParty).consentToPledge(await vault.termsHash());
      await vault.connect(s.securedParty).setExposure(exposure);
      await s.pastDisputeWindow();
      await vault.connect(s.pledgor).declareDefault();
      await vault.connect(s.securedParty).deliverNoticeOfExclusiveControl(ethersLib.id("NEC"));
    },

    /** The pledgor posts `amount` of a mock T-bill into `vault`. */
    async postTbill(vault: CollateralVault, amount: bigint) {
      const s = sys();
      await s.fund(s.tbill, s.pledgor, vault, amount);
      await vault.connect(s.pledgor).deposit(await s.tbill.getAddress(), amount);
    },

    /** Mints `amount` of a test token to `holder` and approves `spender`. */
    async mintAndApprove(
      token: MintableToken,
      holder: Signer,
      spender: { getAddress(): Promise<string> },
      amount: bigint,
    ) {
      await token.mint(holder.address, amount);
      await token.connect(holder).approve(await spender.getAddress(), amount);
    },
  };
}
