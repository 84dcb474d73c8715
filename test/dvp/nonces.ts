// DvPSettlement.cancelNonce and invalidateNonces: a signer withdraws its unordered nonces, one or a mask at once.
import { expect } from "chai";

import { bondForCash, deployFixture, networkHelpers, sign } from "../helpers/settlement.js";

describe("DvPSettlement.cancelNonce", function () {
  it("rejects an order whose nonce its signer cancelled", async function () {
    const f = await networkHelpers.loadFixture(deployFixture);
    const s = await bondForCash(f, 300n);
    const sigs = [{ signer: f.buyer.address, signature: await sign(f, f.buyer, s) }];
    await expect(f.dvp.connect(f.buyer).cancelNonce(300n))
      .to.emit(f.dvp, "NoncesInvalidated")
      .withArgs(f.buyer.address, 1n, 1n << 44n);
    expect(await f.dvp.isNonceUsed(f.buyer.address, 300n)).to.equal(true);
    await expect(f.dvp.connect(f.seller).settle(s, sigs))
      .to.be.revertedWithCustomError(f.dvp, "NonceAlreadyUsed")
      .withArgs(f.buyer.address, 300n);
  });
});

describe("DvPSettlement.invalidateNonces", function () {
  it("invalidates a whole mask of nonces at once, only for its owner", async function () {
    const f = await networkHelpers.loadFixture(deployFixture);
    await expect(f.dvp.connect(f.buyer).invalidateNonces(2n, 0b1011n))
      .to.emit(f.dvp, "NoncesInvalidated")
      .withArgs(f.buyer.address, 2n, 0b1011n);
    for (const [n, used] of [
      [512n, true],
      [513n, true],
      [514n, false],
      [515n, true],
    ] as const) {
      expect(await f.dvp.isNonceUsed(f.buyer.address, n)).to.equal(used);
      expect(await f.dvp.isNonceUsed(f.seller.address, n)).to.equal(false);
    }
    // Unordered: a later nonce in another word still settles.
    const s = await bondForCash(f, 514n);
    await f.dvp
      .connect(f.seller)
      .settle(s, [{ signer: f.buyer.address, signature: await sign(f, f.buyer, s) }]);
    expect(await f.dvp.nonceBitmap(f.buyer.address, 2n)).to.equal(0b1111n);
  });
});
