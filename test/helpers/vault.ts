// A vault holding 1,000,000 T-bills, and both parties' consent: the setup of the vault's basic happy paths.
import type { System } from "../fixtures.js";

/** The steps, bound to the suite's current system. */
export function vaultSteps(sys: () => System) {
  /** A vault with 1,000,000 T-bills (6 decimals, $1, 2% haircut) posted by the pledgor. */
  async function postedVault(options: { withAgent?: boolean } = {}) {
    const vault = await sys().openAgreement(options);
    await sys().fund(sys().tbill, sys().pledgor, vault, 1_000_000n * 10n ** 6n);
    await vault
      .connect(sys().pledgor)
      .deposit(await sys().tbill.getAddress(), 1_000_000n * 10n ** 6n);
    return vault;
  }

  async function pledged(vault: Awaited<ReturnType<System["openAgreement"]>>) {
    await vault.connect(sys().pledgor).consentToPledge(await vault.termsHash());
    await vault.connect(sys().securedParty).consentToPledge(await vault.termsHash());
  }

  return { postedVault, pledged };
}
