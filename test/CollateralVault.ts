import { expect } from "chai";
import { ethers as ethersLib } from "ethers";

import { PLEDGE_CONSENT_TYPES, pledgeConsentDomain } from "../sdk/agreements.js";

import {
  AssetKind,
  ONE_DAY,
  VaultState,
  WAD,
  defaultTerms,
  useSystem,
  type System,
} from "./fixtures.js";

describe("CollateralVault", function () {
  let sys: System;
  const system = useSystem();
  beforeEach(function () {
    sys = system();
  });

  /** A vault with 1,000,000 T-bills (6 decimals, $1, 2% haircut) posted by the pledgor. */
  async function postedVault(options: { withAgent?: boolean } = {}) {
    const vault = await sys.openAgreement(options);
    await sys.fund(sys.tbill, sys.pledgor, vault, 1_000_000n * 10n ** 6n);
    await vault.connect(sys.pledgor).deposit(await sys.tbill.getAddress(), 1_000_000n * 10n ** 6n);
    return vault;
  }

  async function pledged(vault: Awaited<ReturnType<System["openAgreement"]>>) {
    await vault.connect(sys.pledgor).consentToPledge(await vault.termsHash());
    await vault.connect(sys.securedParty).consentToPledge(await vault.termsHash());
  }

  describe("opening an agreement", function () {
    it("deploys the vault at the predicted address with the parties, terms and schedule", async function () {
      const salt = ethersLib.id("repo-2026-11");
      const predicted = await sys.factory.predictVault(
        sys.pledgor.address,
        sys.pledgor.address,
        sys.securedParty.address,
        sys.controlAgent.address,
        salt,
      );
      await expect(
        sys.factory
          .connect(sys.pledgor)
          .openAgreement(
            sys.pledgor.address,
            sys.securedParty.address,
            sys.controlAgent.address,
            defaultTerms,
            sys.schedule,
            salt,
          ),
      )
        .to.emit(sys.factory, "AgreementOpened")
        .withArgs(
          predicted,
          sys.pledgor.address,
          sys.securedParty.address,
          sys.controlAgent.address,
          sys.pledgor.address,
          salt,
          Object.values(defaultTerms),
        );
      const vault = await sys.ethers.getContractAt("CollateralVault", predicted);
      expect(await sys.factory.isVault(predicted)).to.equal(true);
      expect(await sys.factory.agreementCount()).to.equal(1n);
      expect(await vault.parties()).to.deep.equal([
        sys.pledgor.address,
        sys.securedParty.address,
        sys.controlAgent.address,
        await sys.factory.getAddress(),
      ]);
      expect(await vault.state()).to.equal(VaultState.Open);
      expect(await vault.listedAssets()).to.have.length(4);
      const line = await vault.eligibility(await sys.tbill.getAddress());
      expect(line.haircutBps).to.equal(200n);
      expect(line.pricedDecimals).to.equal(6n);
      expect(line.feedDecimals).to.equal(8n);
    });

    it("refuses a creator who is not a party, identical parties, and a second initialisation", async function () {
      const { factory, pledgor, securedParty, outsider } = sys;
      await expect(
        factory
          .connect(outsider)
          .openAgreement(
            pledgor.address,
            securedParty.address,
            ethersLib.ZeroAddress,
            defaultTerms,
            sys.schedule,
            ethersLib.ZeroHash,
          ),
      )
        .to.be.revertedWithCustomError(factory, "CreatorNotAParty")
        .withArgs(outsider.address);
      await expect(
        factory
          .connect(pledgor)
          .openAgreement(
            pledgor.address,
            pledgor.address,
            ethersLib.ZeroAddress,
            defaultTerms,
            sys.schedule,
            ethersLib.ZeroHash,
          ),
      )
        .to.be.revertedWithCustomError(factory, "InvalidParties")
        .withArgs(pledgor.address, pledgor.address);
      const vault = await sys.openAgreement();
      await expect(
        vault.initialize(defaultTerms, []),
      ).to.be.revertedWithCustomError(vault, "InvalidInitialization");
    });

    it("refuses a schedule line with a haircut above 100%", async function () {
      const bad = { ...sys.schedule[0], haircutBps: 10_001n };
      const vault = sys.implementation;
      await expect(sys.openAgreement({ schedule: [bad] }))
        .to.be.revertedWithCustomError(vault, "InvalidBps")
        .withArgs(10_001n, 10_000n);
    });
  });

  describe("deposits", function () {
    it("accounts for posted collateral and emits Deposited", async function () {
      const vault = await sys.openAgreement();
      const amount = 5_000n * 10n ** 6n;
      await sys.fund(sys.tbill, sys.pledgor, vault, amount);
      await expect(vault.connect(sys.pledgor).deposit(await sys.tbill.getAddress(), amount))
        .to.emit(vault, "Deposited")
        .withArgs(await sys.tbill.getAddress(), sys.pledgor.address, amount, amount);
      expect(await vault.balanceOf(await sys.tbill.getAddress())).to.equal(amount);
      expect(await sys.tbill.balanceOf(await vault.getAddress())).to.equal(amount);
    });

    it("refuses an ineligible asset, naming it", async function () {
      const vault = await sys.openAgreement();
      const other = await sys.ethers.deployContract("MockERC20", ["Other", "OTH", 18]);
      await expect(vault.connect(sys.pledgor).deposit(await other.getAddress(), 1n))
        .to.be.revertedWithCustomError(vault, "IneligibleAsset")
        .withArgs(await other.getAddress());
    });

    it("refuses a fee-on-transfer token rather than mis-accounting it", async function () {
      const fot = await sys.ethers.deployContract("FeeOnTransferToken", [100n]);
      const vault = await sys.openAgreement({
        schedule: [await sys.line(fot, sys.stableFeed, 0n)],
      });
      await fot.mint(sys.pledgor.address, 1_000n);
      await fot.connect(sys.pledgor).approve(await vault.getAddress(), 1_000n);
      await expect(vault.connect(sys.pledgor).deposit(await fot.getAddress(), 1_000n))
        .to.be.revertedWithCustomError(vault, "ShortDelivery")
        .withArgs(await fot.getAddress(), 990n, 1_000n);
      expect(await vault.balanceOf(await fot.getAddress())).to.equal(0n);
    });

    it("refuses a zero amount", async function () {
      const vault = await sys.openAgreement();
      await expect(
        vault.connect(sys.pledgor).deposit(await sys.tbill.getAddress(), 0n),
      ).to.be.revertedWithCustomError(vault, "ZeroAmount");
    });

    it("refuses anyone but the pledgor, so an outsider cannot post dust that blocks valuation", async function () {
      const vault = await sys.openAgreement();
      const tbill = await sys.tbill.getAddress();
      for (const caller of [sys.securedParty, sys.outsider]) {
        await sys.fund(sys.tbill, caller, vault, 1n);
        await expect(vault.connect(caller).deposit(tbill, 1n))
          .to.be.revertedWithCustomError(vault, "Unauthorized")
          .withArgs(caller.address, sys.pledgor.address);
      }
      expect(await vault.balanceOf(tbill)).to.equal(0n);
    });
  });

  describe("pledge", function () {
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
  });

  describe("withdrawals", function () {
    it("are free while Open", async function () {
      const vault = await postedVault();
      const tbill = await sys.tbill.getAddress();
      await expect(
        vault.connect(sys.pledgor).withdraw(tbill, 1_000_000n * 10n ** 6n, sys.pledgor.address),
      )
        .to.emit(vault, "Withdrawn")
        .withArgs(tbill, sys.pledgor.address, 1_000_000n * 10n ** 6n, 0n);
      expect(await sys.tbill.balanceOf(sys.pledgor.address)).to.equal(1_000_000n * 10n ** 6n);
    });

    it("are only the excess above the requirement while Pledged", async function () {
      const vault = await postedVault();
      await pledged(vault);
      await vault.connect(sys.securedParty).setExposure(490_000n * WAD);
      const tbill = await sys.tbill.getAddress();
      // 1,000,000 at $1 less 2% = 980,000 of collateral value against 490,000 required.
      expect(await vault.collateralValue()).to.equal(980_000n * WAD);
      await expect(
        vault.connect(sys.pledgor).withdraw(tbill, 500_000n * 10n ** 6n + 1n, sys.pledgor.address),
      )
        .to.be.revertedWithCustomError(vault, "WithdrawalBreachesRequirement")
        .withArgs(490_000n * WAD - 980_000_000_000n, 490_000n * WAD);
      await vault.connect(sys.pledgor).withdraw(tbill, 500_000n * 10n ** 6n, sys.pledgor.address);
      // The excess is now below the minimum transfer amount: no return is due.
      await expect(vault.connect(sys.pledgor).withdraw(tbill, 1n, sys.pledgor.address))
        .to.be.revertedWithCustomError(vault, "ExcessBelowMinimumTransfer")
        .withArgs(0n, defaultTerms.minimumTransferAmount);
    });

    it("are never valued on a stale price", async function () {
      const vault = await postedVault();
      await pledged(vault);
      await sys.networkHelpers.time.increase(ONE_DAY + 1n);
      await expect(
        vault.connect(sys.pledgor).withdraw(await sys.tbill.getAddress(), 1n, sys.pledgor.address),
      ).to.be.revertedWithCustomError(vault, "StalePrice");
    });

    it("are refused to anyone but the pledgor", async function () {
      const vault = await postedVault();
      await expect(
        vault
          .connect(sys.securedParty)
          .withdraw(await sys.tbill.getAddress(), 1n, sys.securedParty.address),
      )
        .to.be.revertedWithCustomError(vault, "Unauthorized")
        .withArgs(sys.securedParty.address, sys.pledgor.address);
    });
  });

  describe("valuation", function () {
    it("values each asset after haircut, applies concentration caps and reports coverage", async function () {
      const capped = [
        await sys.line(sys.tbill, sys.tbillFeed, 200n, AssetKind.ERC20, 5_000n),
        await sys.line(sys.bond, sys.bondFeed, 1_000n),
        await sys.line(sys.mmf, sys.tbillFeed, 500n, AssetKind.ERC4626),
      ];
      const vault = await sys.openAgreement({ schedule: capped });
      await sys.fund(sys.tbill, sys.pledgor, vault, 900_000n * 10n ** 6n);
      await vault.connect(sys.pledgor).deposit(await sys.tbill.getAddress(), 900_000n * 10n ** 6n);
      await sys.fund(sys.bond, sys.pledgor, vault, 1_000n * 10n ** 8n); // 1,000 bonds at $100
      await vault.connect(sys.pledgor).deposit(await sys.bond.getAddress(), 1_000n * 10n ** 8n);
      // The fund share: 100,000 T-bills in, then yield doubles the share price.
      await sys.tbill.mint(sys.pledgor.address, 200_000n * 10n ** 6n);
      await sys.tbill
        .connect(sys.pledgor)
        .approve(await sys.mmf.getAddress(), 100_000n * 10n ** 6n);
      await sys.mmf.connect(sys.pledgor).deposit(100_000n * 10n ** 6n, sys.pledgor.address);
      await sys.tbill
        .connect(sys.pledgor)
        .transfer(await sys.mmf.getAddress(), 100_000n * 10n ** 6n);
      const shares = await sys.mmf.balanceOf(sys.pledgor.address);
      await sys.mmf.connect(sys.pledgor).approve(await vault.getAddress(), shares);
      await vault.connect(sys.pledgor).deposit(await sys.mmf.getAddress(), shares);
      await vault.connect(sys.securedParty).setExposure(500_000n * WAD);

      const status = await sys.lens.status(await vault.getAddress());
      const [tbillPos, bondPos, mmfPos] = status.positions;
      expect(tbillPos.marketValue).to.equal(900_000n * WAD);
      expect(bondPos.marketValue).to.equal(100_000n * WAD);
      expect(bondPos.collateralValue).to.equal(90_000n * WAD);
      // convertToAssets rounds down by a unit or so of the 6-decimal underlying.
      expect(mmfPos.marketValue).to.be.closeTo(200_000n * WAD, 10n ** 12n);
      const mmfAfterHaircut = (mmfPos.marketValue * 9_500n) / 10_000n;
      const uncapped = 882_000n * WAD + 90_000n * WAD + mmfAfterHaircut;
      // T-bills count for at most half of the collateral value before caps.
      expect(tbillPos.collateralValue).to.equal(uncapped / 2n);
      expect(status.collateralValue).to.equal(uncapped / 2n + 90_000n * WAD + mmfAfterHaircut);
      expect(status.collateralValue).to.equal(await vault.collateralValue());
      expect(status.requirement).to.equal(500_000n * WAD);
      expect(status.coverageBps).to.equal((status.collateralValue * 10_000n) / status.requirement);
      expect(status.pricesValid).to.equal(true);

      const [fromBatch] = await sys.lens.statusOf([await vault.getAddress()]);
      expect(fromBatch.collateralValue).to.equal(status.collateralValue);
    });

    it("keeps reporting status with a broken feed, flagging it", async function () {
      const vault = await postedVault();
      await sys.tbillFeed.setReverts(true);
      const status = await sys.lens.status(await vault.getAddress());
      expect(status.pricesValid).to.equal(false);
      expect(status.positions[0].priceValid).to.equal(false);
      expect(status.collateralValue).to.equal(0n);
    });

    it("computes the requirement as max(0, exposure - threshold) + independent amount", async function () {
      const vault = await sys.openAgreement({
        terms: { ...defaultTerms, threshold: 100n * WAD, independentAmount: 50n * WAD },
      });
      expect(await vault.requirement()).to.equal(50n * WAD);
      await expect(vault.connect(sys.securedParty).setExposure(80n * WAD))
        .to.emit(vault, "ExposureSet")
        .withArgs(80n * WAD, 50n * WAD);
      await vault.connect(sys.securedParty).setExposure(300n * WAD);
      expect(await vault.requirement()).to.equal(250n * WAD);
      await expect(vault.connect(sys.pledgor).setExposure(0n)).to.be.revertedWithCustomError(
        vault,
        "Unauthorized",
      );
    });
  });

  describe("eligibility schedule", function () {
    it("applies a tightening of a live schedule only after the notice period", async function () {
      const vault = await postedVault();
      await pledged(vault);
      const tbill = await sys.tbill.getAddress();
      const tighter = { ...sys.schedule[0], haircutBps: 1_000n };
      const tx = vault.connect(sys.securedParty).changeEligibility(tighter);
      await expect(tx).to.emit(vault, "EligibilityChangeQueued");
      expect((await vault.eligibility(tbill)).haircutBps).to.equal(200n);
      const [pending, effectiveAt] = await vault.pendingEligibility(tbill);
      expect(pending.haircutBps).to.equal(1_000n);
      expect(effectiveAt).to.equal(BigInt(await sys.networkHelpers.time.latest()) + 2n * ONE_DAY);
      await sys.networkHelpers.time.increaseTo(effectiveAt);
      await sys.tbillFeed.setAnswer(1_00000000n);
      expect((await vault.eligibility(tbill)).haircutBps).to.equal(1_000n);
      expect(await vault.collateralValue()).to.equal(900_000n * WAD);
    });

    it("applies a loosening at once, and a delisting only after notice", async function () {
      const vault = await postedVault();
      await pledged(vault);
      const tbill = await sys.tbill.getAddress();
      await expect(
        vault.connect(sys.securedParty).changeEligibility({ ...sys.schedule[0], haircutBps: 100n }),
      ).to.emit(vault, "EligibilityChanged");
      expect((await vault.eligibility(tbill)).haircutBps).to.equal(100n);
      await vault
        .connect(sys.securedParty)
        .changeEligibility({ ...sys.schedule[0], feed: ethersLib.ZeroAddress });
      await sys.fund(sys.tbill, sys.pledgor, vault, 1n);
      await vault.connect(sys.pledgor).deposit(tbill, 1n);
      await sys.networkHelpers.time.increase(2n * ONE_DAY);
      await expect(vault.connect(sys.pledgor).deposit(tbill, 1n)).to.be.revertedWithCustomError(
        vault,
        "IneligibleAsset",
      );
    });

    it("lets only the secured party change it", async function () {
      const vault = await sys.openAgreement();
      await expect(vault.connect(sys.pledgor).changeEligibility(sys.schedule[0]))
        .to.be.revertedWithCustomError(vault, "Unauthorized")
        .withArgs(sys.pledgor.address, sys.securedParty.address);
    });
  });

  describe("default, exclusive control and release", function () {
    it("locks the pledgor out once the notice is delivered, and bounds what the secured party takes", async function () {
      const vault = await postedVault({ withAgent: true });
      await pledged(vault);
      await vault.connect(sys.securedParty).setExposure(100_000n * WAD);
      // The mark becomes enforceable (part of an amount due) once its dispute window has passed.
      await sys.pastDisputeWindow();
      const tbill = await sys.tbill.getAddress();
      const notice = ethersLib.id("notice-of-exclusive-control.pdf");

      await expect(
        vault.connect(sys.securedParty).deliverNoticeOfExclusiveControl(notice),
      ).to.be.revertedWithCustomError(vault, "NoDefault");
      await expect(vault.connect(sys.controlAgent).declareDefault())
        .to.emit(vault, "DefaultDeclared")
        .withArgs(sys.controlAgent.address, 2);
      await expect(vault.connect(sys.securedParty).deliverNoticeOfExclusiveControl(notice))
        .to.emit(vault, "NoticeOfExclusiveControlDelivered")
        .withArgs(sys.securedParty.address, notice);
      expect(await vault.noticeHash()).to.equal(notice);
      expect(await vault.state()).to.equal(VaultState.ExclusiveControl);

      await expect(vault.connect(sys.pledgor).withdraw(tbill, 1n, sys.pledgor.address))
        .to.be.revertedWithCustomError(vault, "InvalidState")
        .withArgs(VaultState.ExclusiveControl);
      await expect(
        vault.connect(sys.pledgor).instructTransfer(tbill, 1n, sys.pledgor.address),
      ).to.be.revertedWithCustomError(vault, "Unauthorized");

      // Due: 100,000 plus 5% penalty = 105,000 at $1.
      await vault
        .connect(sys.securedParty)
        .instructTransfer(tbill, 100_000n * 10n ** 6n, sys.securedParty.address);
      await expect(
        vault
          .connect(sys.controlAgent)
          .instructTransfer(tbill, 5_000n * 10n ** 6n + 1n, sys.securedParty.address),
      )
        .to.be.revertedWithCustomError(vault, "AppropriationExceedsAmountDue")
        .withArgs(105_000n * WAD + 10n ** 12n, 105_000n * WAD);
      await vault
        .connect(sys.controlAgent)
        .instructTransfer(tbill, 5_000n * 10n ** 6n, sys.securedParty.address);
      expect(await sys.tbill.balanceOf(sys.securedParty.address)).to.equal(105_000n * 10n ** 6n);

      await expect(vault.connect(sys.securedParty).release())
        .to.emit(vault, "CollateralReturned")
        .withArgs(tbill, sys.pledgor.address, 895_000n * 10n ** 6n);
      expect(await sys.tbill.balanceOf(sys.pledgor.address)).to.equal(895_000n * 10n ** 6n);
      expect(await vault.state()).to.equal(VaultState.Released);
    });

    it("lets the pledgor consent to a default, and refuses a default declared by an outsider", async function () {
      const vault = await postedVault();
      await pledged(vault);
      await expect(vault.connect(sys.outsider).declareDefault()).to.be.revertedWithCustomError(
        vault,
        "Unauthorized",
      );
      await expect(vault.connect(sys.pledgor).declareDefault())
        .to.emit(vault, "DefaultDeclared")
        .withArgs(sys.pledgor.address, 1);
    });

    it("never lets a pause trap a release or a withdrawal of excess", async function () {
      const vault = await postedVault();
      await pledged(vault);
      await sys.factory.connect(sys.guardian).pause();
      await expect(sys.factory.connect(sys.outsider).unpause()).to.be.revertedWithCustomError(
        sys.factory,
        "AccessManagedUnauthorized",
      );
      await expect(sys.openAgreement()).to.be.revertedWithCustomError(sys.factory, "FactoryPaused");
      const fresh = vault; // pledges are new risk; the excess and the release are not
      await fresh
        .connect(sys.pledgor)
        .withdraw(await sys.tbill.getAddress(), 1n, sys.pledgor.address);
      await fresh.connect(sys.securedParty).release();
      expect(await sys.tbill.balanceOf(sys.pledgor.address)).to.equal(1_000_000n * 10n ** 6n);
    });

    it("refuses a pledge while paused", async function () {
      const vault = await sys.openAgreement();
      await sys.factory.connect(sys.guardian).pause();
      await expect(vault.connect(sys.pledgor).consentToPledge(await vault.termsHash())).to.be.revertedWithCustomError(
        vault,
        "NewRiskPaused",
      );
    });
  });
});
