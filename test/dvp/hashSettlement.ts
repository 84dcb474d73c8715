// DvPSettlement.hashSettlement, settlementDigest and DOMAIN_SEPARATOR: EIP-712 exactly as ethers computes it.
import { expect } from "chai";

import { SETTLEMENT_TYPES, dvpDomain } from "../helpers/dvp.js";
import { bondForCash, deployFixture, ethers, networkHelpers } from "../helpers/settlement.js";

describe("DvPSettlement.hashSettlement", function () {
  it("matches ethers' EIP-712 hashing (struct hash, digest, domain separator)", async function () {
    const f = await networkHelpers.loadFixture(deployFixture);
    const s = await bondForCash(f, 2n ** 255n + 12345n);
    const encoder = ethers.TypedDataEncoder.from(SETTLEMENT_TYPES);
    expect(await f.dvp.hashSettlement(s)).to.equal(encoder.hash(s));
    expect(await f.dvp.settlementDigest(s)).to.equal(
      ethers.TypedDataEncoder.hash(dvpDomain(f.chainId, f.dvpAddr), SETTLEMENT_TYPES, s),
    );
    expect(await f.dvp.DOMAIN_SEPARATOR()).to.equal(
      ethers.TypedDataEncoder.hashDomain(dvpDomain(f.chainId, f.dvpAddr)),
    );
  });
});
