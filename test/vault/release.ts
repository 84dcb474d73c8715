// CollateralVault.release: every asset back to the pledgor, a failing token failing softly; under exclusive control
// anyone releases once what is due is met or the appropriation period has passed.
import { expect } from "chai";

import {
  ONE_DAY,
  VaultState,
  WAD,
  useSystem,
  type EligibilityLine,
  type System,
} from "../fixtures.js";
import { E18, E6, REENTRY, TBILL, TX_GAS_CAP, USD, adversary } from "../helpers/adversary.js";
import { APPROPRIATION, NOTICE, counterparty } from "../helpers/counterparty.js";
import { hostileTokens } from "../helpers/hostile.js";
import type {
  BlocklistToken,
  CollateralVault,
  GasBurnerToken,
  MockERC20,
  PausableToken,
} from "../../types/ethers-contracts/index.js";

describe("CollateralVault.release", function () {
  let sys: System;
  const system = useSystem();
  beforeEach(function () {
    sys = system();
  });

  const { deploy, pledge, postTbill, mintAndApprove } = adversary(() => sys);
  const {
    twoRebasingAgreements,
    reentrantAgreement,
    nestedCalls,
    mixedAgreement,
  } = hostileTokens(() => sys);

  async function expectOthersReturned(vault: CollateralVault, release: Promise<unknown>) {
    await expect(release)
      .to.emit(vault, "CollateralReturned")
      .withArgs(await sys.tbill.getAddress(), sys.pledgor.address, TBILL(2_000n));
    await expect(release)
      .to.emit(vault, "CollateralReturned")
      .withArgs(await sys.stable.getAddress(), sys.pledgor.address, E18(3_000n));
    expect(await sys.tbill.balanceOf(sys.pledgor.address)).to.equal(TBILL(2_000n));
    expect(await sys.stable.balanceOf(sys.pledgor.address)).to.equal(E18(3_000n));
    expect(await vault.state()).to.equal(VaultState.Released);
  }

  async function burnerAgreement(burnerFirst: boolean, others: number) {
    const burner = await deploy<GasBurnerToken>("GasBurnerToken");
    const tokens: MockERC20[] = [];
    const lines: EligibilityLine[] = [];
    for (let i = 0; i < others; i++) {
      const token = await deploy<MockERC20>("MockERC20", [`T${i}`, `T${i}`, 18n]);
      tokens.push(token);
      lines.push(await sys.line(token, sys.stableFeed, 0n));
    }
    const burnerLine = await sys.line(burner, sys.stableFeed, 0n);
    const vault = await sys.openAgreement({
      schedule: burnerFirst ? [burnerLine, ...lines] : [...lines, burnerLine],
    });
    await mintAndApprove(burner, sys.pledgor, vault, E18(1_000n));
    await vault.connect(sys.pledgor).deposit(await burner.getAddress(), E18(1_000n));
    for (const token of tokens) {
      await sys.fund(token, sys.pledgor, vault, E18(1_000n));
      await vault.connect(sys.pledgor).deposit(await token.getAddress(), E18(1_000n));
    }
    await pledge(vault);
    await burner.setBurning(true);
    return { burner, tokens, vault };
  }

  it("rebase down then release: the other assets return, the short token fails softly and stays withdrawable", async function () {
    const { reb, asset, a, b } = await twoRebasingAgreements();
    const aAddress = await a.getAddress();
    await postTbill(a, TBILL(2_000n));
    await pledge(a);
    await reb.rebase(WAD / 2n);
    const release = a.connect(sys.securedParty).release();
    await expect(release)
      .to.emit(a, "CollateralReturned")
      .withArgs(await sys.tbill.getAddress(), sys.pledgor.address, TBILL(2_000n));
    await expect(release)
      .to.emit(a, "CollateralReturnFailed")
      .withArgs(asset, sys.pledgor.address, E18(1_000n));
    expect(await sys.tbill.balanceOf(sys.pledgor.address)).to.equal(TBILL(2_000n));
    expect(await a.balanceOf(asset)).to.equal(E18(1_000n));
    // Released: once the token rebases back, the pledgor withdraws the whole accounted amount.
    await reb.rebase(WAD);
    expect(await reb.balanceOf(aAddress)).to.equal(E18(1_000n));
    await a.connect(sys.pledgor).withdraw(asset, E18(1_000n), sys.pledgor.address);
    expect(await a.balanceOf(asset)).to.equal(0n);
    expect(await reb.balanceOf(aAddress)).to.equal(0n);
    expect(await reb.balanceOf(sys.pledgor.address)).to.equal(E18(1_000n));
    expect(await b.balanceOf(asset)).to.equal(E18(1_000n));
    expect(await reb.balanceOf(await b.getAddress())).to.equal(E18(1_000n));
  });

  it("blocklisted pledgor: release returns every other asset, the blocked one fails softly and is withdrawn after unblocking", async function () {
    const busd = await deploy<BlocklistToken>("BlocklistToken");
    const { asset, vault, other } = await mixedAgreement(busd);
    await busd.setBlocked(sys.pledgor.address, true);
    const release = vault.connect(sys.securedParty).release();
    await expectOthersReturned(vault, release);
    await expect(release)
      .to.emit(vault, "CollateralReturnFailed")
      .withArgs(asset, sys.pledgor.address, E6(1_000n));
    expect(await vault.balanceOf(asset)).to.equal(E6(1_000n));
    await expect(vault.connect(sys.pledgor).withdraw(asset, E6(1_000n), sys.pledgor.address))
      .to.be.revertedWithCustomError(busd, "Blocked")
      .withArgs(sys.pledgor.address);
    await busd.setBlocked(sys.pledgor.address, false);
    await expect(vault.connect(sys.pledgor).withdraw(asset, E6(1_000n), sys.pledgor.address))
      .to.emit(vault, "Withdrawn")
      .withArgs(asset, sys.pledgor.address, E6(1_000n), 0n);
    expect(await busd.balanceOf(sys.pledgor.address)).to.equal(E6(1_000n));
    expect(await other.balanceOf(asset)).to.equal(E6(1_000n));
    expect(await busd.balanceOf(await other.getAddress())).to.equal(E6(1_000n));
  });

  it("paused token: release returns every other asset; the paused one is withdrawn after unpausing", async function () {
    const pau = await deploy<PausableToken>("PausableToken");
    const { asset, vault, other } = await mixedAgreement(pau);
    await pau.setPaused(true);
    const release = vault.connect(sys.securedParty).release();
    await expectOthersReturned(vault, release);
    await expect(release)
      .to.emit(vault, "CollateralReturnFailed")
      .withArgs(asset, sys.pledgor.address, E6(1_000n));
    await expect(
      vault.connect(sys.pledgor).withdraw(asset, E6(1_000n), sys.pledgor.address),
    ).to.be.revertedWithCustomError(pau, "TokenPaused");
    await pau.setPaused(false);
    await vault.connect(sys.pledgor).withdraw(asset, E6(1_000n), sys.pledgor.address);
    expect(await pau.balanceOf(sys.pledgor.address)).to.equal(E6(1_000n));
    expect(await vault.balanceOf(asset)).to.equal(0n);
    expect(await other.balanceOf(asset)).to.equal(E6(1_000n));
  });

  it("a reentry during release fails that token's return softly; the rest is returned and it stays withdrawable", async function () {
    const { ree, asset, vault, vaultAddress } = await reentrantAgreement();
    await postTbill(vault, TBILL(1_000n));
    await pledge(vault);
    await ree.arm(vaultAddress, nestedCalls(vault, asset, asset).withdraw, true);
    const release = vault.connect(sys.securedParty).release();
    await expect(release)
      .to.emit(vault, "CollateralReturnFailed")
      .withArgs(asset, sys.pledgor.address, E18(1_000n));
    await expect(release)
      .to.emit(vault, "CollateralReturned")
      .withArgs(await sys.tbill.getAddress(), sys.pledgor.address, TBILL(1_000n));
    expect(await vault.balanceOf(asset)).to.equal(E18(1_000n));
    expect(await ree.balanceOf(vaultAddress)).to.equal(E18(1_000n));
    // The hook stays armed (its disarming was rolled back with the failed transfer): still refused.
    await expect(
      vault.connect(sys.pledgor).withdraw(asset, E18(1_000n), sys.pledgor.address),
    ).to.be.revertedWithCustomError(vault, REENTRY);
    await ree.disarm();
    await vault.connect(sys.pledgor).withdraw(asset, E18(1_000n), sys.pledgor.address);
    expect(await ree.balanceOf(sys.pledgor.address)).to.equal(E18(1_000n));
  });

  // EIP-7825 caps a transaction at 2^24 gas (the local network enforces it); the vault's trySafeTransfer forwards
  // all but 1/64 of the remaining gas to the token, so only 1/64 of the cap is left for what follows.
  it("a token that burns all gas, listed after the others: release returns every other asset and the burner fails softly", async function () {
    const { burner, tokens, vault } = await burnerAgreement(false, 8);
    const release = vault.connect(sys.securedParty).release({ gasLimit: TX_GAS_CAP });
    await expect(release)
      .to.emit(vault, "CollateralReturnFailed")
      .withArgs(await burner.getAddress(), sys.pledgor.address, E18(1_000n));
    for (const token of tokens)
      expect(await token.balanceOf(sys.pledgor.address)).to.equal(E18(1_000n));
    expect(await vault.balanceOf(await burner.getAddress())).to.equal(E18(1_000n));
    await burner.setBurning(false);
    await vault
      .connect(sys.pledgor)
      .withdraw(await burner.getAddress(), E18(1_000n), sys.pledgor.address);
    expect(await burner.balanceOf(sys.pledgor.address)).to.equal(E18(1_000n));
  });

  // Regression (fixed by TOKEN_TRANSFER_GAS): the burner listed first, then 8 plain ERC-20s, each with 1,000
  // posted; pledged; the burner starts burning gas. `release()` at the 2^24 transaction gas cap used to revert
  // out of gas: the burner's transfer took 63/64 of the gas and the 1/64 left (~262,000) could not return the 8
  // others, so one hostile (or upgraded) token stranded every other asset of the agreement.
  it("regression: a token that burns all gas, listed first, does not block release of the 8 assets after it", async function () {
    const { burner, tokens, vault } = await burnerAgreement(true, 8);
    const release = vault.connect(sys.securedParty).release({ gasLimit: TX_GAS_CAP });
    await expect(release)
      .to.emit(vault, "CollateralReturnFailed")
      .withArgs(await burner.getAddress(), sys.pledgor.address, E18(1_000n));
    for (const token of tokens)
      expect(await token.balanceOf(sys.pledgor.address)).to.equal(E18(1_000n));
    expect(await vault.state()).to.equal(VaultState.Released);
  });

  describe("refuses", function () {
    const {
      now,
      advanceTo,
      oneBlock,
      sdkError,
      pledged,
      call,
      underExclusiveControl,
      disputed,
      tbillAddress,
    } = counterparty(() => sys);

    afterEach(async function () {
      // A failed test must not leave the chain without automine (the snapshot restore does not reset it).
      await sys.ethers.provider.send("evm_setAutomine", [true]);
    });

    it("attack 8, trapped surplus: before anything is taken, the pledgor's and a keeper's release are ReleaseNotYetAllowed(caller, 525,000, notice + 7 days) (with its SDK sentence) (rule: the secured party has the appropriation period)", async function () {
      const { vault, noticeAt } = await underExclusiveControl();
      const releasableAt = noticeAt + APPROPRIATION;
      for (const caller of [sys.pledgor, sys.outsider]) {
        await expect(vault.connect(caller).release())
          .to.be.revertedWithCustomError(vault, "ReleaseNotYetAllowed")
          .withArgs(caller.address, USD(525_000n), releasableAt);
      }
      const error = await sdkError(vault.connect(sys.pledgor).release());
      expect(error.message).to.equal(
        `ReleaseNotYetAllowed: ${sys.pledgor.address} may not release yet: 525,000 of the amount due is still owed ` +
          "(at least the minimum transfer amount) and the secured party's appropriation period runs until " +
          `${new Date(Number(releasableAt) * 1000).toISOString()}.`,
      );
    });

    it("attack 8, trapped surplus: the secured party takes the full 525,000 due and goes silent: the pledgor releases the 575,000 T-bills left at once (rule: anyone may release once what is due is met)", async function () {
      const { vault } = await underExclusiveControl();
      await vault
        .connect(sys.securedParty)
        .instructTransfer(await tbillAddress(), TBILL(525_000n), sys.securedParty.address);
      const release = vault.connect(sys.pledgor).release();
      await expect(release).to.emit(vault, "Released").withArgs(sys.pledgor.address);
      await expect(release)
        .to.emit(vault, "CollateralReturned")
        .withArgs(await tbillAddress(), sys.pledgor.address, TBILL(575_000n));
      expect(await vault.state()).to.equal(VaultState.Released);
      expect(await sys.tbill.balanceOf(sys.pledgor.address)).to.equal(TBILL(575_000n));
    });

    it("attack 8, trapped surplus: the secured party takes all but 1,000 (the MTA) and a keeper is refused; it takes 500 more and a keeper releases the rest for the pledgor (rule: a remainder below the minimum transfer amount needs no transfer)", async function () {
      const { vault, noticeAt } = await underExclusiveControl(true);
      const tbill = await tbillAddress();
      // The control agent, acting on the notice, takes most of it.
      await vault
        .connect(sys.controlAgent)
        .instructTransfer(tbill, TBILL(524_000n), sys.securedParty.address);
      await expect(vault.connect(sys.outsider).release())
        .to.be.revertedWithCustomError(vault, "ReleaseNotYetAllowed")
        .withArgs(sys.outsider.address, USD(1_000n), (await now()) + APPROPRIATION);
      expect(await now()).to.not.equal(noticeAt + APPROPRIATION);
      await vault
        .connect(sys.securedParty)
        .instructTransfer(tbill, TBILL(500n), sys.securedParty.address);
      const release = vault.connect(sys.outsider).release();
      await expect(release).to.emit(vault, "Released").withArgs(sys.outsider.address);
      await expect(release)
        .to.emit(vault, "CollateralReturned")
        .withArgs(tbill, sys.pledgor.address, TBILL(575_500n));
      expect(await vault.state()).to.equal(VaultState.Released);
    });

    it("attack 8, trapped surplus: the secured party takes nothing for the appropriation period: one second before it ends a keeper is refused, at its end anyone releases everything to the pledgor (rule: the appropriation period passed since the notice)", async function () {
      const { vault, noticeAt } = await underExclusiveControl();
      const releasableAt = noticeAt + APPROPRIATION;
      await advanceTo(releasableAt - 10n);
      const early = await oneBlock(
        [(o) => vault.connect(sys.outsider).release(o)],
        releasableAt - 1n,
      );
      expect(early.outcomes).to.deep.equal([
        ["ReleaseNotYetAllowed", sys.outsider.address, USD(525_000n), releasableAt],
      ]);
      const onTime = await oneBlock([(o) => vault.connect(sys.outsider).release(o)], releasableAt);
      expect(onTime.outcomes).to.deep.equal([["ok"]]);
      expect(await vault.state()).to.equal(VaultState.Released);
      expect(await sys.tbill.balanceOf(sys.pledgor.address)).to.equal(TBILL(1_100_000n));
    });

    it("attack 8, trapped surplus: each appropriation restarts the period: 100,000 taken on day 6 moves the release to 7 days after it (rule: the period runs since the last appropriation)", async function () {
      const { vault, noticeAt } = await underExclusiveControl();
      await advanceTo(noticeAt + 6n * ONE_DAY);
      await vault
        .connect(sys.securedParty)
        .instructTransfer(await tbillAddress(), TBILL(100_000n), sys.securedParty.address);
      const takenAt = await now();
      await advanceTo(noticeAt + APPROPRIATION + 1n);
      await expect(vault.connect(sys.pledgor).release())
        .to.be.revertedWithCustomError(vault, "ReleaseNotYetAllowed")
        .withArgs(sys.pledgor.address, USD(425_000n), takenAt + APPROPRIATION);
      await advanceTo(takenAt + APPROPRIATION - 10n);
      const early = await oneBlock(
        [(o) => vault.connect(sys.pledgor).release(o)],
        takenAt + APPROPRIATION - 1n,
      );
      expect(early.outcomes).to.deep.equal([
        ["ReleaseNotYetAllowed", sys.pledgor.address, USD(425_000n), takenAt + APPROPRIATION],
      ]);
      const onTime = await oneBlock(
        [(o) => vault.connect(sys.pledgor).release(o)],
        takenAt + APPROPRIATION,
      );
      expect(onTime.outcomes).to.deep.equal([["ok"]]);
      expect(await sys.tbill.balanceOf(sys.pledgor.address)).to.equal(TBILL(1_000_000n));
    });

    it("attack 8, trapped surplus: dust taken every 6 days restarts the period each time, but the surplus is releasable two periods after the notice at the latest (rule: dust cannot hold the surplus for ever)", async function () {
      const { vault, noticeAt } = await underExclusiveControl();
      const tbill = await tbillAddress();
      const sp = vault.connect(sys.securedParty);
      await advanceTo(noticeAt + 6n * ONE_DAY);
      await sp.instructTransfer(tbill, 1n, sys.securedParty.address);
      await advanceTo(noticeAt + 12n * ONE_DAY);
      await sp.instructTransfer(tbill, 1n, sys.securedParty.address);
      const lastTake = await now();
      // The last dust moved the release to its own date + 7 days = day 19, but the cap is day 14.
      expect(lastTake + APPROPRIATION).to.be.greaterThan(noticeAt + 2n * APPROPRIATION);
      await advanceTo(noticeAt + 2n * APPROPRIATION - 10n);
      const early = await oneBlock(
        [(o) => vault.connect(sys.outsider).release(o)],
        noticeAt + 2n * APPROPRIATION - 1n,
      );
      expect(early.outcomes[0][0]).to.equal("ReleaseNotYetAllowed");
      expect(early.outcomes[0][3]).to.equal(noticeAt + 2n * APPROPRIATION);
      const atCap = await oneBlock(
        [(o) => vault.connect(sys.outsider).release(o)],
        noticeAt + 2n * APPROPRIATION,
      );
      expect(atCap.outcomes).to.deep.equal([["ok"]]);
      expect(await vault.state()).to.equal(VaultState.Released);
      expect(await sys.tbill.balanceOf(sys.pledgor.address)).to.equal(TBILL(1_100_000n) - 2n);
    });

    it("attack 8, trapped surplus: while Pledged or under a margin call, a release by anyone but the secured party is Unauthorized; the secured party may release at any time (rule: only the secured party ends a live agreement)", async function () {
      const vault = await pledged({ withAgent: true });
      for (const caller of [sys.pledgor, sys.outsider, sys.controlAgent]) {
        await expect(vault.connect(caller).release())
          .to.be.revertedWithCustomError(vault, "Unauthorized")
          .withArgs(caller.address, sys.securedParty.address);
      }
      await vault.connect(sys.securedParty).setExposure(USD(1_200_000n));
      await call(vault);
      expect(await vault.state()).to.equal(VaultState.MarginCall);
      await expect(vault.connect(sys.pledgor).release())
        .to.be.revertedWithCustomError(vault, "Unauthorized")
        .withArgs(sys.pledgor.address, sys.securedParty.address);
      await expect(vault.connect(sys.securedParty).release())
        .to.emit(vault, "Released")
        .withArgs(sys.securedParty.address);
      expect(await vault.state()).to.equal(VaultState.Released);
    });

    it("attack 8, trapped surplus: the secured party takes 600,000 of the 630,000 due on a disputed figure, then accepts a lower figure (500,000): nothing is still due, so the pledgor releases the rest (rule: anyone may release once what is due is met)", async function () {
      const vault = await disputed();
      await vault.connect(sys.pledgor).declareDefault();
      const sp = vault.connect(sys.securedParty);
      await sp.deliverNoticeOfExclusiveControl(NOTICE);
      expect(await vault.appropriation()).to.deep.equal([USD(630_000n), 0n]);
      await sp.instructTransfer(await tbillAddress(), TBILL(600_000n), sys.securedParty.address);
      await sp.resolveDispute(USD(500_000n));
      // The amount due went down below what was already taken.
      expect(await vault.appropriation()).to.deep.equal([USD(525_000n), USD(600_000n)]);
      const release = vault.connect(sys.pledgor).release();
      await expect(release).to.emit(vault, "Released").withArgs(sys.pledgor.address);
      expect(await vault.state()).to.equal(VaultState.Released);
      expect(await sys.tbill.balanceOf(sys.pledgor.address)).to.equal(TBILL(500_000n));
    });
  });
});
