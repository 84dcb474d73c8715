// The margin engine's worked example: 1,100,000 T-bills pledged against an exposure of 800,000 with an independent
// amount of 200,000 (requirement 1,000,000), and the keeper batch's outcomes.
import { defaultTerms, type System } from "../fixtures.js";
import { TBILL, USD } from "./adversary.js";

export const price8 = (cents: bigint) => cents * 10n ** 6n; // an 8-decimal feed answer from a price in cents

/** IAgreementFactory.MarginCallOutcome. */
export enum Outcome {
  Skipped = 0,
  CallIssued = 1,
  CallIssuedAndMet = 2,
}
/** IAgreementFactory.MarginCallOutcome, as the bigints `issueMarginCalls` returns. */
export const SKIPPED = 0n;
export const ISSUED = 1n;
export const MET = 2n;

/** The worked example's steps, bound to the suite's current system. */
export function marginEngine(sys: () => System) {
  // Requirement = exposure + independent amount; 1,100,000 T-bills at $1 less 2% = 1,078,000 covers 1,000,000.
  const terms = { ...defaultTerms, independentAmount: USD(200_000n) };

  async function pledgedAgreement() {
    const vault = await sys().openAgreement({ terms });
    await sys().fund(sys().tbill, sys().pledgor, vault, TBILL(1_100_000n));
    await vault.connect(sys().pledgor).deposit(await sys().tbill.getAddress(), TBILL(1_100_000n));
    await vault.connect(sys().pledgor).consentToPledge(await vault.termsHash());
    await vault.connect(sys().securedParty).consentToPledge(await vault.termsHash());
    await vault.connect(sys().securedParty).setExposure(USD(800_000n));
    return vault;
  }

  /** Moves time and republishes the T-bill (at `tbillCents` if given) and stablecoin feeds. */
  async function advance(seconds: bigint, tbillCents = 0n) {
    await sys().networkHelpers.time.increase(seconds);
    await sys().tbillFeed.setAnswer(
      tbillCents === 0n ? await sys().tbillFeed.answer() : price8(tbillCents),
    );
    await sys().stableFeed.setAnswer(await sys().stableFeed.answer());
  }

  return { pledgedAgreement, advance };
}
