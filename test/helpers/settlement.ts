// The DvP tests' own deployment, on a connection of their own: DvPSettlement (and a second one), ERC-20, ERC-721 and
// ERC-1155 tokens, a fee-on-transfer token and an ERC-1271 wallet, every party funded and approved. `loadFixture`
// builds it once per run, whichever file asks first.
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";
import { network } from "hardhat";

import { FAR_DEADLINE, erc20Leg, signSettlement, type Settlement } from "./dvp.js";

export const { ethers, networkHelpers } = await network.create();

export const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

export async function deployFixture() {
  const [seller, buyer, relayer, third, walletOwner, stranger] = await ethers.getSigners();
  const chainId = (await ethers.provider.getNetwork()).chainId;
  const dvp = await ethers.deployContract("DvPSettlement");
  const otherDvp = await ethers.deployContract("DvPSettlement");
  const bond = await ethers.deployContract("MockERC20", ["Tokenized T-bill", "TBILL", 18]);
  const usdc = await ethers.deployContract("MockERC20", ["USD Coin", "USDC", 6]);
  const fot = await ethers.deployContract("FeeOnTransferToken", [100]); // 1 %
  const nft = await ethers.deployContract("MockERC721");
  const multi = await ethers.deployContract("MockERC1155");
  const wallet = await ethers.deployContract("MockERC1271Wallet", [walletOwner.address]);
  const dvpAddr = await dvp.getAddress();

  for (const who of [seller, buyer, third]) {
    await bond.mint(who.address, 1_000_000n * 10n ** 18n);
    await usdc.mint(who.address, 1_000_000_000n * 10n ** 6n);
    await fot.mint(who.address, 1_000_000n * 10n ** 18n);
    await bond.connect(who).approve(dvpAddr, ethers.MaxUint256);
    await usdc.connect(who).approve(dvpAddr, ethers.MaxUint256);
    await fot.connect(who).approve(dvpAddr, ethers.MaxUint256);
    await nft.connect(who).setApprovalForAll(dvpAddr, true);
    await multi.connect(who).setApprovalForAll(dvpAddr, true);
  }
  await nft.mint(seller.address, 7n);
  await multi.mint(third.address, 3n, 500n);
  await usdc.mint(await wallet.getAddress(), 1_000_000n * 10n ** 6n);
  await wallet.connect(walletOwner).approve(await usdc.getAddress(), dvpAddr, ethers.MaxUint256);

  return {
    dvp,
    otherDvp,
    bond,
    usdc,
    fot,
    nft,
    multi,
    wallet,
    chainId,
    dvpAddr,
    seller,
    buyer,
    relayer,
    third,
    walletOwner,
    stranger,
  };
}

export type Fixture = Awaited<ReturnType<typeof deployFixture>>;

/** Seller delivers 1,000 TBILL, buyer pays 990,000 USDC. */
export async function bondForCash(f: Fixture, nonce = 1n, deadline = FAR_DEADLINE): Promise<Settlement> {
  return {
    legs: [
      erc20Leg(await f.bond.getAddress(), 1_000n * 10n ** 18n, f.seller.address, f.buyer.address),
      erc20Leg(await f.usdc.getAddress(), 990_000n * 10n ** 6n, f.buyer.address, f.seller.address),
    ],
    deadline,
    nonce,
  };
}

export async function sign(f: Fixture, signer: HardhatEthersSigner, s: Settlement): Promise<string> {
  return signSettlement(signer, s, f.chainId, f.dvpAddr);
}

/** Every ERC-20 / ERC-721 / ERC-1155 position of the given accounts, as one comparable list. */
export async function snapshot(f: Fixture, accounts: string[]): Promise<bigint[]> {
  const out: bigint[] = [];
  for (const a of accounts) {
    out.push(await f.bond.balanceOf(a), await f.usdc.balanceOf(a), await f.fot.balanceOf(a));
    out.push(await f.nft.balanceOf(a), await f.multi.balanceOf(a, 3n));
  }
  out.push((await f.nft.ownerOf(7n)) === f.seller.address ? 1n : 0n);
  return out;
}
