// CollateralVault.consentToPledge and pledgeWithSignature: both parties consent to one exact terms hash, in two
// calls or one with the other's EIP-712 signature; stale, forged, replayed and voided consents refused.
import { expect } from "chai";
import { ethers as ethersLib } from "ethers";

import { ONE_DAY, VaultState, useSystem, type System } from "../fixtures.js";
import { counterparty } from "../helpers/counterparty.js";
import { PLEDGE_CONSENT_TYPES, pledgeConsentDomain } from "../../sdk/agreements.js";
import type { CollateralVault, MockPriceFeed } from "../../types/ethers-contracts/index.js";

describe("CollateralVault.consentToPledge", function () {
  let sys: System;
  const system = useSystem();
  beforeEach(function () {
    sys = system();
  });

  it("needs both parties' consent in two calls", async function () {
    const vault = await sys.openAgreement();
    const hash = await vault.termsHash();
    await expect(vault.connect(sys.pledgor).consentToPledge(await vault.termsHash()))
      .to.emit(vault, "PledgeConsented")
      .withArgs(sys.pledgor.address, hash, false);
    expect(await vault.state()).to.equal(VaultState.Open);
    await expect(vault.connect(sys.securedParty).consentToPledge(await vault.termsHash()))
      .to.emit(vault, "StateChanged")
      .withArgs(VaultState.Open, VaultState.Pledged);
    await expect(vault.connect(sys.outsider).consentToPledge(await vault.termsHash()))
      .to.be.revertedWithCustomError(vault, "InvalidState")
      .withArgs(VaultState.Pledged);
  });

  describe("refuses", function () {
    const { oneBlock, eventsOf, sdkError, tbillAddress } = counterparty(() => sys);

    afterEach(async function () {
      // A failed test must not leave the chain without automine (the snapshot restore does not reset it).
      await sys.ethers.provider.send("evm_setAutomine", [true]);
    });

    const fullHaircut = () => sys.line(sys.tbill, sys.tbillFeed, 10_000n);

    /**
     * `termsHash()` as the vault computes it, at schedule version `version`: what a secured party precomputes to
     * consent in the same block as its own schedule change.
     */
    async function termsHashAt(vault: CollateralVault, version: bigint) {
      const [pledgor, securedParty, controlAgent] = await vault.parties();
      const t = await vault.terms();
      return ethersLib.keccak256(
        ethersLib.AbiCoder.defaultAbiCoder().encode(
          [
            "address",
            "address",
            "address",
            "address",
            "tuple(uint128,uint128,uint128,uint128,uint32,uint32,uint32,uint16,uint16,uint32)",
            "uint32",
          ],
          [
            await vault.getAddress(),
            pledgor,
            securedParty,
            controlAgent,
            [
              t.threshold,
              t.independentAmount,
              t.minimumTransferAmount,
              t.roundingAmount,
              t.curePeriod,
              t.scheduleNoticePeriod,
              t.disputeWindow,
              t.liquidationPenaltyBps,
              t.maxLiquidationDiscountBps,
              t.appropriationPeriod,
            ],
            version,
          ],
        ),
      );
    }

    it("refuses a pledge while paused", async function () {
      const vault = await sys.openAgreement();
      await sys.factory.connect(sys.guardian).pause();
      await expect(vault.connect(sys.pledgor).consentToPledge(await vault.termsHash())).to.be.revertedWithCustomError(
        vault,
        "NewRiskPaused",
      );
    });

    it("attack 6, consent not bound: the pledgor consents, the secured party makes the T-bill worthless (100% haircut) and consents: PledgeConsentsVoided, still Open; the old hash is TermsHashMismatch (with its SDK sentence) (rule: consent is to one exact terms hash)", async function () {
      const vault = await sys.openAgreement();
      const before = await vault.termsHash();
      await vault.connect(sys.pledgor).consentToPledge(before);
      const change = vault.connect(sys.securedParty).changeEligibility(await fullHaircut());
      await expect(change).to.emit(vault, "EligibilityChanged");
      const after = await vault.termsHash();
      expect(after).to.not.equal(before);
      await expect(change).to.emit(vault, "PledgeConsentsVoided").withArgs(after);
      await vault.connect(sys.securedParty).consentToPledge(after);
      expect(await vault.state()).to.equal(VaultState.Open);

      await expect(vault.connect(sys.pledgor).consentToPledge(before))
        .to.be.revertedWithCustomError(vault, "TermsHashMismatch")
        .withArgs(before, after);
      const error = await sdkError(vault.connect(sys.pledgor).consentToPledge(before));
      expect(error.message).to.equal(
        `TermsHashMismatch: The consent names the terms ${before}, but the agreement's terms are now ${after} ` +
          "(the schedule changed); read the new terms and consent to them.",
      );
      // The secured party's own stale consent is refused the same way.
      await expect(vault.connect(sys.securedParty).consentToPledge(before))
        .to.be.revertedWithCustomError(vault, "TermsHashMismatch")
        .withArgs(before, after);
      // A pledgor that read the new schedule may still pledge under it.
      await vault.connect(sys.pledgor).consentToPledge(after);
      expect(await vault.state()).to.equal(VaultState.Pledged);
      expect((await vault.eligibility(await tbillAddress())).haircutBps).to.equal(10_000n);
    });

    it("attack 6, consent not bound: in one block the pledgor's consent, the secured party's schedule change and its consent: the change voids the pledgor's consent and the vault stays Open (rule: a schedule change while Open voids every consent)", async function () {
      const vault = await sys.openAgreement();
      const before = await vault.termsHash();
      const line = await fullHaircut();
      // The secured party precomputes the hash its change will produce (the schedule version advances by one)
      // and consents to it in the same block, right after the change.
      let version = 0n;
      while (version < 64n && (await termsHashAt(vault, version)) !== before) version++;
      expect(await termsHashAt(vault, version), "the vault's termsHash recomputed").to.equal(
        before,
      );
      const after = await termsHashAt(vault, version + 1n);
      const { outcomes, receipts } = await oneBlock([
        (o) => vault.connect(sys.pledgor).consentToPledge(before, o),
        (o) => vault.connect(sys.securedParty).changeEligibility(line, o),
        (o) => vault.connect(sys.securedParty).consentToPledge(after, o),
      ]);
      expect(outcomes).to.deep.equal([["ok"], ["ok"], ["ok"]]);
      expect(await vault.termsHash()).to.equal(after);
      expect(eventsOf(receipts[1], vault, await vault.getAddress())).to.deep.include([
        "PledgeConsentsVoided",
        after,
      ]);
      expect(await vault.state()).to.equal(VaultState.Open);
      // The pledgor's consent did not survive: only a new one, to the new terms, pledges.
      await vault.connect(sys.pledgor).consentToPledge(after);
      expect(await vault.state()).to.equal(VaultState.Pledged);
    });

    it("attack 6, consent not bound: the secured party front-runs the pledgor's consent with a schedule change in the same block: the consent reverts TermsHashMismatch and nothing is consented (rule: consent is to one exact terms hash)", async function () {
      const vault = await sys.openAgreement();
      const before = await vault.termsHash();
      const line = await fullHaircut();
      const { outcomes } = await oneBlock([
        (o) => vault.connect(sys.securedParty).changeEligibility(line, o),
        (o) => vault.connect(sys.pledgor).consentToPledge(before, o),
      ]);
      const after = await vault.termsHash();
      expect(outcomes).to.deep.equal([["ok"], ["TermsHashMismatch", before, after]]);
      await vault.connect(sys.securedParty).consentToPledge(after);
      expect(await vault.state()).to.equal(VaultState.Open);
    });

    it("attack 8b, before the pledge the schedule may still change, price sources included, and every change voids the consents given (rule: consent is to one terms hash)", async function () {
      const vault = await sys.openAgreement();
      const tbill = await tbillAddress();
      await vault.connect(sys.pledgor).consentToPledge(await vault.termsHash());
      const other = (await sys.ethers.deployContract("MockPriceFeed", [
        8,
        1_00000000n,
      ])) as unknown as MockPriceFeed;
      const change = await vault
        .connect(sys.securedParty)
        .changeEligibility(await sys.line(sys.tbill, other, 200n));
      await expect(change)
        .to.emit(vault, "PledgeConsentsVoided")
        .withArgs(await vault.termsHash());
      expect((await vault.eligibility(tbill)).feed).to.equal(await other.getAddress());
    });
  });
});

describe("CollateralVault.pledgeWithSignature", function () {
  let sys: System;
  const system = useSystem();
  beforeEach(function () {
    sys = system();
  });

  it("accepts the other party's EIP-712 consent in one call, and refuses a stale or forged one", async function () {
    const vault = await sys.openAgreement();
    const { chainId } = await sys.ethers.provider.getNetwork();
    const deadline = BigInt(await sys.networkHelpers.time.latest()) + ONE_DAY;
    const domain = pledgeConsentDomain(chainId, await sys.factory.getAddress());
    const types = PLEDGE_CONSENT_TYPES;
    const value = { termsHash: await vault.termsHash(), deadline };
    const forged = await sys.outsider.signTypedData(domain, types, value);
    await expect(vault.connect(sys.pledgor).pledgeWithSignature(deadline, forged))
      .to.be.revertedWithCustomError(vault, "InvalidConsentSignature")
      .withArgs(sys.securedParty.address);
    const signature = await sys.securedParty.signTypedData(domain, types, value);
    // The factory's ERC-5267 domain is the one the SDK signs against.
    const [, name, version, domainChainId, verifyingContract] = await sys.factory.eip712Domain();
    expect([name, version, domainChainId, verifyingContract]).to.deep.equal([
      "AgreementFactory",
      "1",
      chainId,
      domain.verifyingContract,
    ]);
    await expect(vault.connect(sys.pledgor).pledgeWithSignature(deadline, signature))
      .to.emit(vault, "PledgeConsented")
      .withArgs(sys.securedParty.address, value.termsHash, true);
    expect(await vault.state()).to.equal(VaultState.Pledged);

    const other = await sys.openAgreement();
    await expect(other.connect(sys.pledgor).pledgeWithSignature(deadline, signature))
      .to.be.revertedWithCustomError(other, "InvalidConsentSignature")
      .withArgs(sys.securedParty.address);
    await sys.networkHelpers.time.increase(2n * ONE_DAY);
    await expect(
      other.connect(sys.pledgor).pledgeWithSignature(deadline, signature),
    ).to.be.revertedWithCustomError(other, "ConsentExpired");
  });

  describe("refuses", function () {
    const { now } = counterparty(() => sys);

    async function consent(
      vault: CollateralVault,
      signer: typeof sys.pledgor,
      deadline: bigint,
      chainId: bigint,
    ) {
      const domain = pledgeConsentDomain(chainId, await sys.factory.getAddress());
      return signer.signTypedData(domain, PLEDGE_CONSENT_TYPES, {
        termsHash: await vault.termsHash(),
        deadline,
      });
    }

    const fullHaircut = () => sys.line(sys.tbill, sys.tbillFeed, 10_000n);

    it("refuses a consent signed over terms the schedule has since changed", async function () {
      const vault = await sys.openAgreement();
      const { chainId } = await sys.ethers.provider.getNetwork();
      const deadline = BigInt(await sys.networkHelpers.time.latest()) + ONE_DAY;
      const domain = pledgeConsentDomain(chainId, await sys.factory.getAddress());
      const types = PLEDGE_CONSENT_TYPES;
      const signature = await sys.pledgor.signTypedData(domain, types, {
        termsHash: await vault.termsHash(),
        deadline,
      });
      await vault
        .connect(sys.securedParty)
        .changeEligibility({ ...sys.schedule[0], haircutBps: 9_000n });
      await expect(vault.connect(sys.securedParty).pledgeWithSignature(deadline, signature))
        .to.be.revertedWithCustomError(vault, "InvalidConsentSignature")
        .withArgs(sys.pledgor.address);
    });

    it("attack 6, consent not bound: the pledgor's signed consent to the old terms is useless after the schedule change: pledgeWithSignature is InvalidConsentSignature (rule: the signed path signs the same hash)", async function () {
      const vault = await sys.openAgreement();
      const { chainId } = await sys.ethers.provider.getNetwork();
      const deadline = (await now()) + ONE_DAY;
      const signature = await sys.pledgor.signTypedData(
        pledgeConsentDomain(chainId, await sys.factory.getAddress()),
        PLEDGE_CONSENT_TYPES,
        { termsHash: await vault.termsHash(), deadline },
      );
      // The signature is good for the terms it names...
      expect(
        await vault.connect(sys.securedParty).pledgeWithSignature.staticCall(deadline, signature),
      ).to.deep.equal([]);
      await vault.connect(sys.securedParty).changeEligibility(await fullHaircut());
      // ...and for nothing else.
      await expect(vault.connect(sys.securedParty).pledgeWithSignature(deadline, signature))
        .to.be.revertedWithCustomError(vault, "InvalidConsentSignature")
        .withArgs(sys.pledgor.address);
      expect(await vault.state()).to.equal(VaultState.Open);
    });

    it("a pledge consent signature replayed on another vault between the same parties: InvalidConsentSignature", async function () {
      const vault = await sys.openAgreement({ salt: ethersLib.id("a") });
      const other = await sys.openAgreement({ salt: ethersLib.id("b") });
      // Same parties, same terms and schedule, same factory domain: only the terms hash (which commits to the
      // vault's address) differs.
      const { chainId } = await sys.ethers.provider.getNetwork();
      const deadline = BigInt(await sys.networkHelpers.time.latest()) + ONE_DAY;
      const signature = await sys.securedParty.signTypedData(
        pledgeConsentDomain(chainId, await sys.factory.getAddress()),
          PLEDGE_CONSENT_TYPES,
        { termsHash: await vault.termsHash(), deadline },
      );
      await expect(other.connect(sys.pledgor).pledgeWithSignature(deadline, signature))
        .to.be.revertedWithCustomError(other, "InvalidConsentSignature")
        .withArgs(sys.securedParty.address);
      await vault.connect(sys.pledgor).pledgeWithSignature(deadline, signature);
      expect(await vault.state()).to.equal(VaultState.Pledged);
      expect(await other.state()).to.equal(VaultState.Open);
      // Replayed on the vault it was for, once pledged: refused by the state.
      await expect(vault.connect(sys.pledgor).pledgeWithSignature(deadline, signature))
        .to.be.revertedWithCustomError(vault, "InvalidState")
        .withArgs(VaultState.Pledged);
    });

    it("a pledge consent signed for another chain id (chainId + 1) is refused InvalidConsentSignature; the same consent for this chain pledges", async function () {
      const vault = await sys.openAgreement();
      const { chainId } = await sys.ethers.provider.getNetwork();
      const deadline = BigInt(await sys.networkHelpers.time.latest()) + ONE_DAY;
      const foreign = await consent(vault, sys.securedParty, deadline, chainId + 1n);
      await expect(vault.connect(sys.pledgor).pledgeWithSignature(deadline, foreign))
        .to.be.revertedWithCustomError(vault, "InvalidConsentSignature")
        .withArgs(sys.securedParty.address);
      expect(await vault.state()).to.equal(VaultState.Open);
      const local = await consent(vault, sys.securedParty, deadline, chainId);
      await expect(vault.connect(sys.pledgor).pledgeWithSignature(deadline, local))
        .to.emit(vault, "PledgeConsented")
        .withArgs(sys.securedParty.address, await vault.termsHash(), true);
      expect(await vault.state()).to.equal(VaultState.Pledged);
    });

    it("a pledge consent submitted one second past its deadline is refused ConsentExpired(deadline, now); at the deadline itself it pledges", async function () {
      const onTime = await sys.openAgreement();
      const late = await sys.openAgreement();
      const { chainId } = await sys.ethers.provider.getNetwork();
      const deadline = BigInt(await sys.networkHelpers.time.latest()) + 100n;
      const onTimeSignature = await consent(onTime, sys.pledgor, deadline, chainId);
      const lateSignature = await consent(late, sys.pledgor, deadline, chainId);
      // Explicit gas: the transactions are mined at the set timestamps, with no estimate in between.
      await sys.networkHelpers.time.setNextBlockTimestamp(deadline);
      await onTime
        .connect(sys.securedParty)
        .pledgeWithSignature(deadline, onTimeSignature, { gasLimit: 500_000n });
      expect(await onTime.state()).to.equal(VaultState.Pledged);
      await sys.networkHelpers.time.setNextBlockTimestamp(deadline + 1n);
      await expect(
        late
          .connect(sys.securedParty)
          .pledgeWithSignature(deadline, lateSignature, { gasLimit: 500_000n }),
      )
        .to.be.revertedWithCustomError(late, "ConsentExpired")
        .withArgs(deadline, deadline + 1n);
      expect(await late.state()).to.equal(VaultState.Open);
    });
  });
});
