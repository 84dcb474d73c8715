/**
 * Our two-leg ERC-20 DvP settlement against Seaport 1.6 (`seaport-core` 1.6.6, compiled by `bench/peers.ts`
 * with Seaport's optimized settings) filling the equivalent ERC-20 for ERC-20 trade.
 *
 * Seaport's basic-order paths (`fulfillBasicOrder`, `fulfillBasicOrder_efficient_6GL6yc`) only exist for trades
 * with an ERC-721 or ERC-1155 on one side, so its cheapest correct path for ERC-20 against ERC-20 is
 * `fulfillOrder` with no conduit: the offerer signs an order offering the asset for the cash paid to itself, the
 * fulfiller calls. Ours is the same trade with the roles of signer and caller the other way round: the seller
 * calls `settle`, the buyer signed the settlement. Same tokens, both parties already hold both tokens and have
 * approved both contracts; each trade writes one fresh word (Seaport's order status, our nonce bitmap word).
 */
import type { HardhatEthers } from "@nomicfoundation/hardhat-ethers/types";
import { ethers as ethersLib } from "ethers";

import { erc20Leg, signSettlement, type Settlement } from "../test/helpers/dvp.js";
import { deployRaw, gasOf, row, unmeasured, type BenchRow } from "./common.js";
import { compileSeaport } from "./peers.js";

const TARGET = 1.0;
const NAME =
  "DvP two-leg ERC-20 settle (caller + EOA signature) vs Seaport 1.6 fulfillOrder ERC-20/ERC-20";
const ERC20_ITEM = 1;

const ORDER_TYPES = {
  OrderComponents: [
    { name: "offerer", type: "address" },
    { name: "zone", type: "address" },
    { name: "offer", type: "OfferItem[]" },
    { name: "consideration", type: "ConsiderationItem[]" },
    { name: "orderType", type: "uint8" },
    { name: "startTime", type: "uint256" },
    { name: "endTime", type: "uint256" },
    { name: "zoneHash", type: "bytes32" },
    { name: "salt", type: "uint256" },
    { name: "conduitKey", type: "bytes32" },
    { name: "counter", type: "uint256" },
  ],
  OfferItem: [
    { name: "itemType", type: "uint8" },
    { name: "token", type: "address" },
    { name: "identifierOrCriteria", type: "uint256" },
    { name: "startAmount", type: "uint256" },
    { name: "endAmount", type: "uint256" },
  ],
  ConsiderationItem: [
    { name: "itemType", type: "uint8" },
    { name: "token", type: "address" },
    { name: "identifierOrCriteria", type: "uint256" },
    { name: "startAmount", type: "uint256" },
    { name: "endAmount", type: "uint256" },
    { name: "recipient", type: "address" },
  ],
};

export async function benchSeaport(ethers: HardhatEthers): Promise<BenchRow[]> {
  let compiled;
  try {
    compiled = compileSeaport();
  } catch (error) {
    return [
      unmeasured(
        NAME,
        TARGET,
        `Seaport could not be compiled: ${(error as Error).message.split("\n")[0]}`,
      ),
    ];
  }
  const [seller, buyer] = await ethers.getSigners();
  const chainId = (await ethers.provider.getNetwork()).chainId;

  const conduitController = await deployRaw(compiled.ConduitController, seller);
  const seaport = await deployRaw(compiled.Seaport, seller, await conduitController.getAddress());
  const dvp = await ethers.deployContract("DvPSettlement");
  const asset = await ethers.deployContract("MockERC20", ["Tokenized T-bill", "TBILL", 18]);
  const cash = await ethers.deployContract("MockERC20", ["USD Coin", "USDC", 6]);
  const [seaportAddr, dvpAddr, assetAddr, cashAddr] = await Promise.all([
    seaport.getAddress(),
    dvp.getAddress(),
    asset.getAddress(),
    cash.getAddress(),
  ]);
  for (const who of [seller, buyer]) {
    await (await asset.mint(who.address, 10n ** 24n)).wait();
    await (await cash.mint(who.address, 10n ** 15n)).wait();
    for (const spender of [dvpAddr, seaportAddr]) {
      await (await asset.connect(who).approve(spender, 10n ** 24n)).wait();
      await (await cash.connect(who).approve(spender, 10n ** 15n)).wait();
    }
  }
  const assetAmount = 1_000n * 10n ** 18n;
  const cashAmount = 990_000n * 10n ** 6n;

  // Ours: the seller calls, the buyer signed; nonce in a fresh bitmap word.
  const settlement: Settlement = {
    legs: [
      erc20Leg(assetAddr, assetAmount, seller.address, buyer.address),
      erc20Leg(cashAddr, cashAmount, buyer.address, seller.address),
    ],
    deadline: 2n ** 40n,
    nonce: 0x5ea_0000n << 8n,
  };
  const dvpSignature = await signSettlement(buyer, settlement, chainId, dvpAddr);
  const ours = await gasOf(
    dvp.connect(seller).settle(settlement, [{ signer: buyer.address, signature: dvpSignature }]),
  );

  // Seaport: the seller signs an order offering the asset for the cash; the buyer fulfils it.
  const [version] = (await seaport.getFunction("information")()) as [string, string, string];
  const counter = (await seaport.getFunction("getCounter")(seller.address)) as bigint;
  const parameters = {
    offerer: seller.address,
    zone: ethersLib.ZeroAddress,
    offer: [
      {
        itemType: ERC20_ITEM,
        token: assetAddr,
        identifierOrCriteria: 0n,
        startAmount: assetAmount,
        endAmount: assetAmount,
      },
    ],
    consideration: [
      {
        itemType: ERC20_ITEM,
        token: cashAddr,
        identifierOrCriteria: 0n,
        startAmount: cashAmount,
        endAmount: cashAmount,
        recipient: seller.address,
      },
    ],
    orderType: 0, // FULL_OPEN
    startTime: 0n,
    endTime: 2n ** 40n,
    zoneHash: ethersLib.ZeroHash,
    salt: BigInt(ethersLib.id("bench-seaport-order")),
    conduitKey: ethersLib.ZeroHash,
  };
  const signature = await seller.signTypedData(
    { name: "Seaport", version, chainId, verifyingContract: seaportAddr },
    ORDER_TYPES,
    { ...parameters, counter },
  );
  const assetBefore = await asset.balanceOf(buyer.address);
  const peer = await gasOf(
    seaport.connect(buyer).getFunction("fulfillOrder")(
      { parameters: { ...parameters, totalOriginalConsiderationItems: 1n }, signature },
      ethersLib.ZeroHash,
    ),
  );
  if ((await asset.balanceOf(buyer.address)) - assetBefore !== assetAmount) {
    throw new Error("Seaport fulfillOrder did not deliver the asset");
  }
  return [
    {
      ...row(NAME, ours, peer, TARGET),
      note: `Seaport version ${version}, fresh order-status slot vs fresh nonce word`,
    },
  ];
}
