// CollateralVault.initialize: only the factory named in a clone's arguments initialises it, once.
import { expect } from "chai";
import { AbiCoder, concat, toBeHex } from "ethers";

import { WAD, defaultTerms, useSystem, type System } from "../fixtures.js";
import type { CollateralVault } from "../../types/ethers-contracts/index.js";

describe("CollateralVault.initialize", function () {
  let sys: System;
  const system = useSystem();
  beforeEach(function () {
    sys = system();
  });

  describe("refuses", function () {
    type Signer = typeof sys.pledgor;

    const initialize = (v: CollateralVault, c: Signer) =>
      v.connect(c).initialize(defaultTerms, []);

    it("initialize on a clone the factory did not deploy refuses every caller but the factory its arguments name: Unauthorized(caller, factory)", async function () {
      // An ERC-1167 clone of the implementation with the factory's immutable arguments (OpenZeppelin's
      // Clones.cloneWithImmutableArgs creation code), deployed by an outsider instead of `openAgreement`.
      const factory = await sys.factory.getAddress();
      const args = AbiCoder.defaultAbiCoder().encode(
        ["address", "address", "address", "address"],
        [sys.pledgor.address, sys.securedParty.address, sys.controlAgent.address, factory],
      );
      const creation = concat([
        "0x61",
        toBeHex(128 + 45, 2),
        "0x3d81600a3d39f3363d3d373d3d3d363d73",
        await sys.implementation.getAddress(),
        "0x5af43d82803e903d91602b57fd5bf3",
        args,
      ]);
      const receipt = await (await sys.outsider.sendTransaction({ data: creation })).wait();
      const clone = (await sys.ethers.getContractAt(
        "CollateralVault",
        receipt!.contractAddress!,
      )) as unknown as CollateralVault;
      expect(await clone.parties()).to.deep.equal([
        sys.pledgor.address,
        sys.securedParty.address,
        sys.controlAgent.address,
        factory,
      ]);

      for (const caller of [sys.outsider, sys.pledgor, sys.securedParty, sys.controlAgent]) {
        await expect(clone.connect(caller).initialize(defaultTerms, sys.schedule))
          .to.be.revertedWithCustomError(clone, "Unauthorized")
          .withArgs(caller.address, factory);
      }
      expect(await clone.listedAssets()).to.deep.equal([]);
      expect(await sys.factory.isVault(await clone.getAddress())).to.equal(false);

      // The factory named in the arguments is the one caller that gets through.
      await sys.networkHelpers.impersonateAccount(factory);
      await sys.networkHelpers.setBalance(factory, WAD);
      const asFactory = await sys.ethers.getSigner(factory);
      await expect(
        clone.connect(asFactory).initialize(defaultTerms, sys.schedule),
      ).to.emit(clone, "AgreementInitialized");
      expect(await clone.listedAssets()).to.have.length(sys.schedule.length);
    });

    it("initialize on the implementation itself is refused InvalidInitialization", async function () {
      const implementation = (await sys.ethers.getContractAt(
        "CollateralVault",
        await sys.implementation.getAddress(),
      )) as unknown as CollateralVault;
      await expect(initialize(implementation, sys.outsider)).to.be.revertedWithCustomError(
        implementation,
        "InvalidInitialization",
      );
    });
  });
});
