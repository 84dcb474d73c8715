// DvPSettlement.settle: every leg moves or none, each sender authorised by calling or by an EIP-712 signature; what
// a settlement refuses (signatures, replays, deadlines, malformed or short legs, reentry) beside it.
import { expect } from "chai";
import { ethers as ethersLib } from "ethers";

import { useSystem, type System } from "../fixtures.js";
import { E18, adversary } from "../helpers/adversary.js";
import {
  FAR_DEADLINE,
  Kind,
  SETTLEMENT_TYPES,
  dvpDomain,
  erc20Leg,
  signSettlement,
  type Leg,
  type Settlement,
} from "../helpers/dvp.js";
import {
  SECP256K1_N,
  bondForCash,
  deployFixture,
  ethers,
  networkHelpers,
  sign,
  snapshot,
} from "../helpers/settlement.js";
import type { UnreadableBalanceToken } from "../../types/ethers-contracts/index.js";

describe("DvPSettlement.settle", function () {
  it("settles a two-leg ERC-20 trade: seller as caller, buyer by EIP-712 signature", async function () {
    const f = await networkHelpers.loadFixture(deployFixture);
    const s = await bondForCash(f, 42n);
    const signature = await sign(f, f.buyer, s);
    const id = await f.dvp.settlementDigest(s);

    const tx = f.dvp.connect(f.seller).settle(s, [{ signer: f.buyer.address, signature }]);
    await expect(tx).to.changeTokenBalances(
      ethers,
      f.bond,
      [f.seller, f.buyer, f.dvp],
      [-(1_000n * 10n ** 18n), 1_000n * 10n ** 18n, 0n],
    );
    await expect(tx).to.changeTokenBalances(
      ethers,
      f.usdc,
      [f.seller, f.buyer, f.dvp],
      [990_000n * 10n ** 6n, -(990_000n * 10n ** 6n), 0n],
    );
    await expect(tx).to.emit(f.dvp, "Settled").withArgs(id, f.seller.address, 2n);
    await expect(tx).to.emit(f.dvp, "SenderAuthorised").withArgs(id, f.buyer.address, 42n);
    await expect(tx)
      .to.emit(f.dvp, "LegSettled")
      .withArgs(
        id,
        0n,
        Kind.ERC20,
        s.legs[0].token,
        0n,
        s.legs[0].amount,
        f.seller.address,
        f.buyer.address,
      );
    await expect(tx)
      .to.emit(f.dvp, "LegSettled")
      .withArgs(
        id,
        1n,
        Kind.ERC20,
        s.legs[1].token,
        0n,
        s.legs[1].amount,
        f.buyer.address,
        f.seller.address,
      );

    expect(await f.dvp.isNonceUsed(f.buyer.address, 42n)).to.equal(true);
    // The caller's nonce is not consumed: the call itself is its authorisation.
    expect(await f.dvp.isNonceUsed(f.seller.address, 42n)).to.equal(false);
    expect(await f.dvp.isNonceUsed(f.buyer.address, 43n)).to.equal(false);
    expect(await f.dvp.nonceBitmap(f.buyer.address, 0n)).to.equal(1n << 42n);
  });

  it("settles when both senders sign and a third party relays", async function () {
    const f = await networkHelpers.loadFixture(deployFixture);
    const s = await bondForCash(f, 7n);
    const sigs = [
      { signer: f.seller.address, signature: await sign(f, f.seller, s) },
      { signer: f.buyer.address, signature: await sign(f, f.buyer, s) },
    ];
    const id = await f.dvp.settlementDigest(s);
    const tx = f.dvp.connect(f.relayer).settle(s, sigs);
    await expect(tx).to.emit(f.dvp, "Settled").withArgs(id, f.relayer.address, 2n);
    await expect(tx).to.emit(f.dvp, "SenderAuthorised").withArgs(id, f.seller.address, 7n);
    await expect(tx).to.emit(f.dvp, "SenderAuthorised").withArgs(id, f.buyer.address, 7n);
    expect(await f.dvp.isNonceUsed(f.seller.address, 7n)).to.equal(true);
    expect(await f.dvp.isNonceUsed(f.buyer.address, 7n)).to.equal(true);
  });

  it("settles a multi-leg, multi-party trade mixing ERC-20, ERC-721 and ERC-1155", async function () {
    const f = await networkHelpers.loadFixture(deployFixture);
    const legs: Leg[] = [
      {
        kind: Kind.ERC721,
        token: await f.nft.getAddress(),
        id: 7n,
        amount: 1n,
        from: f.seller.address,
        to: f.buyer.address,
      },
      {
        kind: Kind.ERC1155,
        token: await f.multi.getAddress(),
        id: 3n,
        amount: 120n,
        from: f.third.address,
        to: f.buyer.address,
      },
      erc20Leg(await f.usdc.getAddress(), 500n * 10n ** 6n, f.buyer.address, f.seller.address),
      erc20Leg(await f.usdc.getAddress(), 250n * 10n ** 6n, f.buyer.address, f.third.address),
      erc20Leg(await f.bond.getAddress(), 5n * 10n ** 18n, f.seller.address, f.third.address),
    ];
    const s: Settlement = { legs, deadline: FAR_DEADLINE, nonce: 99n };
    const sigs = [
      { signer: f.buyer.address, signature: await sign(f, f.buyer, s) },
      { signer: f.third.address, signature: await sign(f, f.third, s) },
    ];
    const usdcBefore = await f.usdc.balanceOf(f.buyer.address);
    const tx = f.dvp.connect(f.seller).settle(s, sigs);
    await expect(tx)
      .to.emit(f.dvp, "Settled")
      .withArgs(await f.dvp.settlementDigest(s), f.seller.address, 5n);
    expect(await f.nft.ownerOf(7n)).to.equal(f.buyer.address);
    expect(await f.multi.balanceOf(f.buyer.address, 3n)).to.equal(120n);
    expect(await f.multi.balanceOf(f.third.address, 3n)).to.equal(380n);
    expect(await f.usdc.balanceOf(f.buyer.address)).to.equal(usdcBefore - 750n * 10n ** 6n);
    expect(await f.bond.balanceOf(f.third.address)).to.equal(1_000_005n * 10n ** 18n);
    for (const token of [f.bond, f.usdc]) expect(await token.balanceOf(f.dvpAddr)).to.equal(0n);
    expect(await f.multi.balanceOf(f.dvpAddr, 3n)).to.equal(0n);
  });

  it("lets a contract (a vault) be msg.sender of its own leg while the buyer signs", async function () {
    const f = await networkHelpers.loadFixture(deployFixture);
    const walletAddr = await f.wallet.getAddress();
    const s: Settlement = {
      legs: [
        erc20Leg(await f.usdc.getAddress(), 1_000n * 10n ** 6n, walletAddr, f.buyer.address),
        erc20Leg(await f.bond.getAddress(), 1n * 10n ** 18n, f.buyer.address, walletAddr),
      ],
      deadline: FAR_DEADLINE,
      nonce: 3n,
    };
    const signature = await sign(f, f.buyer, s);
    const data = f.dvp.interface.encodeFunctionData("settle", [
      s,
      [{ signer: f.buyer.address, signature }],
    ]);
    const tx = f.wallet.connect(f.walletOwner).execute(f.dvpAddr, data);
    await expect(tx)
      .to.emit(f.dvp, "Settled")
      .withArgs(await f.dvp.settlementDigest(s), walletAddr, 2n);
    expect(await f.bond.balanceOf(walletAddr)).to.equal(1n * 10n ** 18n);
  });

  it("accepts an ERC-1271 contract-wallet signature", async function () {
    const f = await networkHelpers.loadFixture(deployFixture);
    const walletAddr = await f.wallet.getAddress();
    const s: Settlement = {
      legs: [
        erc20Leg(await f.bond.getAddress(), 10n ** 18n, f.seller.address, walletAddr),
        erc20Leg(await f.usdc.getAddress(), 990n * 10n ** 6n, walletAddr, f.seller.address),
      ],
      deadline: FAR_DEADLINE,
      nonce: 11n,
    };
    // The wallet's owner signs the same EIP-712 digest; the wallet vouches for it through isValidSignature.
    const signature = await sign(f, f.walletOwner, s);
    const tx = f.dvp.connect(f.seller).settle(s, [{ signer: walletAddr, signature }]);
    await expect(tx)
      .to.emit(f.dvp, "SenderAuthorised")
      .withArgs(await f.dvp.settlementDigest(s), walletAddr, 11n);
    await expect(tx).to.changeTokenBalances(
      ethers,
      f.usdc,
      [walletAddr, f.seller],
      [-(990n * 10n ** 6n), 990n * 10n ** 6n],
    );
    expect(await f.dvp.isNonceUsed(walletAddr, 11n)).to.equal(true);
  });

  it("lets a single caller settle its own legs without any signature", async function () {
    const f = await networkHelpers.loadFixture(deployFixture);
    const base = await bondForCash(f);
    const s: Settlement = {
      ...base,
      legs: [base.legs[0], { ...base.legs[0], to: f.third.address }],
    };
    await expect(f.dvp.connect(f.seller).settle(s, []))
      .to.emit(f.dvp, "Settled")
      .withArgs(await f.dvp.settlementDigest(s), f.seller.address, 2n);
  });

  it("settles a token whose transferFrom returns nothing (USDT-style) through SafeERC20", async function () {
    const f = await networkHelpers.loadFixture(deployFixture);
    const usdt = await ethers.deployContract("NonStandardERC20", [true]);
    await usdt.mint(f.buyer.address, 1_000n);
    await usdt.connect(f.buyer).approve(f.dvpAddr, 1_000n);
    const base = await bondForCash(f);
    const s: Settlement = {
      ...base,
      legs: [
        base.legs[0],
        erc20Leg(await usdt.getAddress(), 600n, f.buyer.address, f.seller.address),
      ],
    };
    const tx = f.dvp
      .connect(f.seller)
      .settle(s, [{ signer: f.buyer.address, signature: await sign(f, f.buyer, s) }]);
    await expect(tx).to.emit(f.dvp, "Settled");
    expect(await usdt.balanceOf(f.seller.address)).to.equal(600n);
    expect(await usdt.allowance(f.buyer.address, f.dvpAddr)).to.equal(400n);
  });

  it("still settles in the deadline's own second", async function () {
    const f = await networkHelpers.loadFixture(deployFixture);
    const deadline = BigInt(await networkHelpers.time.latest()) + 60n;
    const s = await bondForCash(f, 1n, deadline);
    const sigs = [{ signer: f.buyer.address, signature: await sign(f, f.buyer, s) }];
    await networkHelpers.time.setNextBlockTimestamp(deadline);
    await expect(f.dvp.connect(f.seller).settle(s, sigs)).to.emit(f.dvp, "Settled");
  });

  describe("refuses", function () {
    it("leaves every balance untouched when one leg of a mixed settlement fails", async function () {
      const f = await networkHelpers.loadFixture(deployFixture);
      const legs: Leg[] = [
        erc20Leg(await f.usdc.getAddress(), 500n * 10n ** 6n, f.buyer.address, f.seller.address),
        {
          kind: Kind.ERC721,
          token: await f.nft.getAddress(),
          id: 7n,
          amount: 1n,
          from: f.seller.address,
          to: f.buyer.address,
        },
        // The third party owns only 500 of id 3: the last leg fails after the first two have moved.
        {
          kind: Kind.ERC1155,
          token: await f.multi.getAddress(),
          id: 3n,
          amount: 501n,
          from: f.third.address,
          to: f.buyer.address,
        },
      ];
      const s: Settlement = { legs, deadline: FAR_DEADLINE, nonce: 5n };
      const sigs = [
        { signer: f.buyer.address, signature: await sign(f, f.buyer, s) },
        { signer: f.third.address, signature: await sign(f, f.third, s) },
      ];
      const accounts = [f.seller.address, f.buyer.address, f.third.address, f.dvpAddr];
      const before = await snapshot(f, accounts);
      await expect(f.dvp.connect(f.seller).settle(s, sigs))
        .to.be.revertedWithCustomError(f.multi, "ERC1155InsufficientBalance")
        .withArgs(f.third.address, 500n, 501n, 3n);
      expect(await snapshot(f, accounts)).to.deep.equal(before);
      // The failed settlement consumed no nonce: the parties can fix and resubmit.
      expect(await f.dvp.isNonceUsed(f.buyer.address, 5n)).to.equal(false);
      expect(await f.dvp.isNonceUsed(f.third.address, 5n)).to.equal(false);
    });

    it("rejects the replay of a settled order", async function () {
      const f = await networkHelpers.loadFixture(deployFixture);
      const s = await bondForCash(f, 8n);
      const sigs = [{ signer: f.buyer.address, signature: await sign(f, f.buyer, s) }];
      await f.dvp.connect(f.seller).settle(s, sigs);
      await expect(f.dvp.connect(f.seller).settle(s, sigs))
        .to.be.revertedWithCustomError(f.dvp, "NonceAlreadyUsed")
        .withArgs(f.buyer.address, 8n);
    });

    it("rejects an expired settlement with its deadline and the current time", async function () {
      const f = await networkHelpers.loadFixture(deployFixture);
      const deadline = BigInt(await networkHelpers.time.latest()) + 60n;
      const s = await bondForCash(f, 1n, deadline);
      const sigs = [{ signer: f.buyer.address, signature: await sign(f, f.buyer, s) }];
      await networkHelpers.time.setNextBlockTimestamp(deadline + 1n);
      await expect(f.dvp.connect(f.seller).settle(s, sigs))
        .to.be.revertedWithCustomError(f.dvp, "SettlementExpired")
        .withArgs(deadline, deadline + 1n);
    });

    it("rejects a signature made for another chain id", async function () {
      const f = await networkHelpers.loadFixture(deployFixture);
      const s = await bondForCash(f);
      const signature = await signSettlement(f.buyer, s, f.chainId + 1n, f.dvpAddr);
      const recovered = ethers.verifyTypedData(
        dvpDomain(f.chainId, f.dvpAddr),
        SETTLEMENT_TYPES,
        s,
        signature,
      );
      expect(recovered).to.not.equal(f.buyer.address);
      await expect(f.dvp.connect(f.seller).settle(s, [{ signer: f.buyer.address, signature }]))
        .to.be.revertedWithCustomError(f.dvp, "InvalidSigner")
        .withArgs(f.buyer.address, recovered);
    });

    it("rejects a signature made for another DvP deployment", async function () {
      const f = await networkHelpers.loadFixture(deployFixture);
      const s = await bondForCash(f);
      const signature = await signSettlement(f.buyer, s, f.chainId, await f.otherDvp.getAddress());
      const recovered = ethers.verifyTypedData(
        dvpDomain(f.chainId, f.dvpAddr),
        SETTLEMENT_TYPES,
        s,
        signature,
      );
      expect(recovered).to.not.equal(f.buyer.address);
      await expect(f.dvp.connect(f.seller).settle(s, [{ signer: f.buyer.address, signature }]))
        .to.be.revertedWithCustomError(f.dvp, "InvalidSigner")
        .withArgs(f.buyer.address, recovered);
    });

    it("rejects a signature over different legs (tampered amount)", async function () {
      const f = await networkHelpers.loadFixture(deployFixture);
      const s = await bondForCash(f);
      const signature = await sign(f, f.buyer, s);
      const tampered: Settlement = {
        ...s,
        legs: [s.legs[0], { ...s.legs[1], amount: s.legs[1].amount - 1n }],
      };
      await expect(
        f.dvp.connect(f.seller).settle(tampered, [{ signer: f.buyer.address, signature }]),
      ).to.be.revertedWithCustomError(f.dvp, "InvalidSigner");
    });

    it("rejects the malleable (high-s) twin of a valid signature", async function () {
      const f = await networkHelpers.loadFixture(deployFixture);
      const s = await bondForCash(f);
      const good = ethers.Signature.from(await sign(f, f.buyer, s));
      const highS = SECP256K1_N - BigInt(good.s);
      const flippedV = good.v === 27 ? 28 : 27;
      const twin = ethers.concat([good.r, ethers.toBeHex(highS, 32), ethers.toBeHex(flippedV, 1)]);
      // The twin recovers to the same address with a plain ecrecover: only the low-s rule stops it.
      await expect(
        f.dvp.connect(f.seller).settle(s, [{ signer: f.buyer.address, signature: twin }]),
      )
        .to.be.revertedWithCustomError(f.dvp, "MalleableSignature")
        .withArgs(f.buyer.address, ethers.toBeHex(highS, 32));
    });

    it("rejects a signature of the wrong length", async function () {
      const f = await networkHelpers.loadFixture(deployFixture);
      const s = await bondForCash(f);
      const signature = ethers.dataSlice(await sign(f, f.buyer, s), 0, 64);
      await expect(f.dvp.connect(f.seller).settle(s, [{ signer: f.buyer.address, signature }]))
        .to.be.revertedWithCustomError(f.dvp, "MalformedSignature")
        .withArgs(f.buyer.address, 64n);
    });

    it("rejects an ERC-1271 wallet signature made by someone other than its owner", async function () {
      const f = await networkHelpers.loadFixture(deployFixture);
      const walletAddr = await f.wallet.getAddress();
      const s: Settlement = {
        legs: [
          erc20Leg(await f.bond.getAddress(), 10n ** 18n, f.seller.address, walletAddr),
          erc20Leg(await f.usdc.getAddress(), 990n * 10n ** 6n, walletAddr, f.seller.address),
        ],
        deadline: FAR_DEADLINE,
        nonce: 1n,
      };
      const signature = await sign(f, f.stranger, s);
      await expect(f.dvp.connect(f.seller).settle(s, [{ signer: walletAddr, signature }]))
        .to.be.revertedWithCustomError(f.dvp, "InvalidContractSignature")
        .withArgs(walletAddr);
    });

    it("rejects a leg whose sender neither called nor signed", async function () {
      const f = await networkHelpers.loadFixture(deployFixture);
      const s = await bondForCash(f);
      await expect(
        f.dvp
          .connect(f.relayer)
          .settle(s, [{ signer: f.buyer.address, signature: await sign(f, f.buyer, s) }]),
      )
        .to.be.revertedWithCustomError(f.dvp, "SenderNotAuthorised")
        .withArgs(0n, f.seller.address);
    });

    it("rejects a signature from an address that sends no leg, and one from the caller", async function () {
      const f = await networkHelpers.loadFixture(deployFixture);
      const s = await bondForCash(f);
      const sigs = [
        { signer: f.buyer.address, signature: await sign(f, f.buyer, s) },
        { signer: f.third.address, signature: await sign(f, f.third, s) },
      ];
      await expect(f.dvp.connect(f.seller).settle(s, sigs))
        .to.be.revertedWithCustomError(f.dvp, "SignerNotSender")
        .withArgs(1n, f.third.address);
      const callerSig = [
        { signer: f.seller.address, signature: await sign(f, f.seller, s) },
        sigs[0],
      ];
      await expect(f.dvp.connect(f.seller).settle(s, callerSig))
        .to.be.revertedWithCustomError(f.dvp, "SignerNotSender")
        .withArgs(0n, f.seller.address);
    });

    it("rejects the same signer twice (its nonce is spent by the first)", async function () {
      const f = await networkHelpers.loadFixture(deployFixture);
      const s = await bondForCash(f, 4n);
      const sig = { signer: f.buyer.address, signature: await sign(f, f.buyer, s) };
      await expect(f.dvp.connect(f.seller).settle(s, [sig, sig]))
        .to.be.revertedWithCustomError(f.dvp, "NonceAlreadyUsed")
        .withArgs(f.buyer.address, 4n);
    });

    it("reverts a fee-on-transfer leg, naming the leg and what arrived", async function () {
      const f = await networkHelpers.loadFixture(deployFixture);
      const amount = 1_000n * 10n ** 18n;
      const s: Settlement = {
        legs: [
          erc20Leg(await f.usdc.getAddress(), 990n * 10n ** 6n, f.seller.address, f.buyer.address),
          erc20Leg(await f.fot.getAddress(), amount, f.buyer.address, f.seller.address),
        ],
        deadline: FAR_DEADLINE,
        nonce: 1n,
      };
      const accounts = [f.seller.address, f.buyer.address, f.dvpAddr];
      const before = await snapshot(f, accounts);
      await expect(
        f.dvp
          .connect(f.seller)
          .settle(s, [{ signer: f.buyer.address, signature: await sign(f, f.buyer, s) }]),
      )
        .to.be.revertedWithCustomError(f.dvp, "LegDeliveredShort")
        .withArgs(1n, (amount * 99n) / 100n, amount);
      expect(await snapshot(f, accounts)).to.deep.equal(before);
    });

    it("rejects malformed legs with errors naming the leg", async function () {
      const f = await networkHelpers.loadFixture(deployFixture);
      const base = await bondForCash(f);
      const settleBy = (s: Settlement) => f.dvp.connect(f.seller).settle(s, []);
      const sellerOnly = (legs: Leg[]): Settlement => ({ ...base, legs });
      const bondLeg = base.legs[0];

      await expect(settleBy(sellerOnly([bondLeg])))
        .to.be.revertedWithCustomError(f.dvp, "TooFewLegs")
        .withArgs(1n);
      await expect(settleBy(sellerOnly([bondLeg, { ...bondLeg, amount: 0n }])))
        .to.be.revertedWithCustomError(f.dvp, "LegAmountZero")
        .withArgs(1n);
      await expect(settleBy(sellerOnly([bondLeg, { ...bondLeg, id: 5n }])))
        .to.be.revertedWithCustomError(f.dvp, "UnexpectedTokenId")
        .withArgs(1n, 5n);
      const nftLeg: Leg = {
        kind: Kind.ERC721,
        token: await f.nft.getAddress(),
        id: 7n,
        amount: 2n,
        from: f.seller.address,
        to: f.buyer.address,
      };
      await expect(settleBy(sellerOnly([bondLeg, nftLeg])))
        .to.be.revertedWithCustomError(f.dvp, "InvalidERC721Amount")
        .withArgs(1n, 2n);
      await expect(settleBy(sellerOnly([bondLeg, { ...bondLeg, kind: 3 }])))
        .to.be.revertedWithCustomError(f.dvp, "UnknownTokenKind")
        .withArgs(1n, 3n);
      // A leg to oneself delivers nothing new to the receiver: short delivery.
      await expect(settleBy(sellerOnly([bondLeg, { ...bondLeg, to: f.seller.address }])))
        .to.be.revertedWithCustomError(f.dvp, "LegDeliveredShort")
        .withArgs(1n, 0n, bondLeg.amount);
    });

    it("refuses a leg that delivers to the settlement contract itself", async function () {
      const f = await networkHelpers.loadFixture(deployFixture);
      const base = await bondForCash(f);
      const s: Settlement = { ...base, legs: [base.legs[0], { ...base.legs[0], to: f.dvpAddr }] };
      await expect(f.dvp.connect(f.seller).settle(s, []))
        .to.be.revertedWithCustomError(f.dvp, "ReceiverIsSettlement")
        .withArgs(1n);
    });

    it("reverts the whole settlement when a token's transferFrom returns false", async function () {
      const f = await networkHelpers.loadFixture(deployFixture);
      const zrx = await ethers.deployContract("NonStandardERC20", [false]);
      const zrxAddr = await zrx.getAddress();
      await zrx.mint(f.buyer.address, 100n);
      await zrx.connect(f.buyer).approve(f.dvpAddr, 1_000n);
      const base = await bondForCash(f);
      const s: Settlement = {
        ...base,
        legs: [base.legs[0], erc20Leg(zrxAddr, 101n, f.buyer.address, f.seller.address)],
      };
      const accounts = [f.seller.address, f.buyer.address, f.dvpAddr];
      const before = await snapshot(f, accounts);
      await expect(
        f.dvp
          .connect(f.seller)
          .settle(s, [{ signer: f.buyer.address, signature: await sign(f, f.buyer, s) }]),
      )
        .to.be.revertedWithCustomError(f.dvp, "SafeERC20FailedOperation")
        .withArgs(zrxAddr);
      expect(await snapshot(f, accounts)).to.deep.equal(before);
      expect(await zrx.balanceOf(f.buyer.address)).to.equal(100n);
    });

    it("blocks reentry into settle from a receiver callback", async function () {
      const f = await networkHelpers.loadFixture(deployFixture);
      const attacker = await ethers.deployContract("ReentrantReceiver");
      const attackerAddr = await attacker.getAddress();
      const inner = await bondForCash(f, 77n);
      await attacker.arm(
        f.dvpAddr,
        f.dvp.interface.encodeFunctionData("settle", [
          inner,
          [{ signer: f.buyer.address, signature: await sign(f, f.buyer, inner) }],
        ]),
      );
      const s: Settlement = {
        legs: [
          {
            kind: Kind.ERC721,
            token: await f.nft.getAddress(),
            id: 7n,
            amount: 1n,
            from: f.seller.address,
            to: attackerAddr,
          },
          erc20Leg(await f.usdc.getAddress(), 1n, f.seller.address, f.buyer.address),
        ],
        deadline: FAR_DEADLINE,
        nonce: 1n,
      };
      await expect(f.dvp.connect(f.seller).settle(s, [])).to.be.revertedWithCustomError(
        f.dvp,
        "ReentrancyGuardReentrantCall",
      );
      expect(await f.nft.ownerOf(7n)).to.equal(f.seller.address);
    });

    describe("through the deployed system", function () {
      let sys: System;
      const system = useSystem();
      beforeEach(function () {
        sys = system();
      });

      const { deploy } = adversary(() => sys);

      async function dvpParties() {
        const { dvp, stable, admin, outsider } = sys;
        const chainId = (await sys.ethers.provider.getNetwork()).chainId;
        const dvpAddress = await dvp.getAddress();
        for (const who of [admin, outsider]) await sys.fund(stable, who, dvp, E18(1_000n));
        const sign = (signer: Parameters<typeof signSettlement>[0], s: Settlement) =>
          signSettlement(signer, s, chainId, dvpAddress);
        return { dvp, stable: await stable.getAddress(), admin, outsider, sign };
      }

      it("settle refuses a leg whose token balance cannot be read, a hostile token or an address without code: BalanceUnreadable(legIndex, token), nothing moves, no nonce spent", async function () {
        const { dvp, stable, admin, outsider, sign } = await dvpParties();
        const hidden = await deploy<UnreadableBalanceToken>("UnreadableBalanceToken");
        const hiddenAddress = await hidden.getAddress();
        await hidden.mint(outsider.address, E18(500n));
        await hidden.connect(outsider).approve(await dvp.getAddress(), E18(500n));
        // The caller pays 100 stablecoins for 500 of the hidden-balance token, which the outsider signs for.
        const order: Settlement = {
          legs: [
            erc20Leg(stable, E18(100n), admin.address, outsider.address),
            erc20Leg(hiddenAddress, E18(500n), outsider.address, admin.address),
          ],
          deadline: FAR_DEADLINE,
          nonce: 11n,
        };
        const signatures = [{ signer: outsider.address, signature: await sign(outsider, order) }];
        const balances = async () => [
          await sys.stable.balanceOf(admin.address),
          await sys.stable.balanceOf(outsider.address),
          await hidden.balanceOf(admin.address),
          await hidden.balanceOf(outsider.address),
        ];
        const before = await balances();

        await hidden.setUnreadable(true);
        await expect(dvp.connect(admin).settle(order, signatures))
          .to.be.revertedWithCustomError(dvp, "BalanceUnreadable")
          .withArgs(1n, hiddenAddress);
        await hidden.setUnreadable(false);
        expect(await balances()).to.deep.equal(before);
        expect(await dvp.isNonceUsed(outsider.address, 11n)).to.equal(false);

        // An address without code as the token of the first leg.
        const noCode = sys.guardian.address;
        const callerOnly: Settlement = {
          legs: [
            erc20Leg(noCode, 1n, admin.address, outsider.address),
            erc20Leg(stable, E18(1n), admin.address, outsider.address),
          ],
          deadline: FAR_DEADLINE,
          nonce: 12n,
        };
        await expect(dvp.connect(admin).settle(callerOnly, []))
          .to.be.revertedWithCustomError(dvp, "BalanceUnreadable")
          .withArgs(0n, noCode);

        // Readable again, the signed order settles.
        await expect(dvp.connect(admin).settle(order, signatures)).to.emit(dvp, "Settled");
        expect(await hidden.balanceOf(admin.address)).to.equal(E18(500n));
      });

      it("settle finds a leg's signer at index 256, past the used-signature bitmap, yet refuses the 256 signatures before it that send nothing: SignerNotSender(0, signer)", async function () {
        this.timeout(120_000);
        const { dvp, stable, admin, outsider, sign } = await dvpParties();
        const order: Settlement = {
          legs: [
            erc20Leg(stable, E18(10n), outsider.address, sys.pledgor.address),
            erc20Leg(stable, E18(10n), admin.address, outsider.address),
          ],
          deadline: FAR_DEADLINE,
          nonce: 21n,
        };
        const idle = Array.from({ length: 256 }, () => ethersLib.Wallet.createRandom());
        const signatures = [];
        for (const wallet of idle)
          signatures.push({ signer: wallet.address, signature: await sign(wallet, order) });
        signatures.push({ signer: outsider.address, signature: await sign(outsider, order) });
        const before = [
          await sys.stable.balanceOf(outsider.address),
          await sys.stable.balanceOf(admin.address),
          await sys.stable.balanceOf(sys.pledgor.address),
        ];

        await expect(dvp.connect(admin).settle(order, signatures, { gasLimit: 16_000_000n }))
          .to.be.revertedWithCustomError(dvp, "SignerNotSender")
          .withArgs(0n, idle[0].address);
        expect([
          await sys.stable.balanceOf(outsider.address),
          await sys.stable.balanceOf(admin.address),
          await sys.stable.balanceOf(sys.pledgor.address),
        ]).to.deep.equal(before);
        expect(await dvp.isNonceUsed(outsider.address, 21n)).to.equal(false);
        expect(await dvp.isNonceUsed(idle[0].address, 21n)).to.equal(false);
        // The outsider's signature alone authorises its leg.
        await expect(dvp.connect(admin).settle(order, [signatures[256]])).to.emit(dvp, "Settled");
      });
    });
  });
});
