// What a refusal is tried on and must leave alone: a vault holding 1,000,000 T-bills (with a control agent), and the
// ledger of balances and state a refused call may not move.
import type { System } from "../fixtures.js";
import type { CollateralVault, MockERC20 } from "../../types/ethers-contracts/index.js";
import { TBILL, type Token } from "./adversary.js";

/** The steps, bound to the suite's current system. */
export function refusalSteps(sys: () => System) {
  /** The pledgor funds itself with `amount` of `token` and posts it. */
  async function post(vault: CollateralVault, token: MockERC20, amount: bigint) {
    await sys().fund(token, sys().pledgor, vault, amount);
    await vault.connect(sys().pledgor).deposit(await token.getAddress(), amount);
  }

  /** A vault (with a control agent) holding 1,000,000 T-bills ($1, 2% haircut): 980,000 of collateral. */
  async function postedVault(options: Parameters<System["openAgreement"]>[0] = {}) {
    const vault = await sys().openAgreement({ withAgent: true, ...options });
    await post(vault, sys().tbill, TBILL(1_000_000n));
    return vault;
  }

  /**
   * What a refusal must leave alone: each token held by the vault and by each party and accounted by the vault,
   * and the vault's state, margin, appropriation, notice and top-up configuration.
   */
  async function ledger(vault: CollateralVault, tokens: Token[]): Promise<unknown[]> {
    const vaultAddress = await vault.getAddress();
    const holders = [
      vaultAddress,
      sys().pledgor.address,
      sys().securedParty.address,
      sys().admin.address,
    ];
    const rows: unknown[] = [];
    for (const token of tokens) {
      rows.push(await vault.balanceOf(await token.getAddress()));
      for (const holder of holders) rows.push(await token.balanceOf(holder));
    }
    rows.push(await vault.state(), await vault.marginState(), await vault.appropriation());
    rows.push(await vault.noticeHash(), await vault.topUpConfiguration());
    return rows.map((row) => (typeof row === "object" ? JSON.stringify(row, bigintJson) : row));
  }
  const bigintJson = (_: string, v: unknown) => (typeof v === "bigint" ? v.toString() : v);

  return { post, postedVault, ledger };
}
