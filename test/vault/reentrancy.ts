// CollateralVault.deposit and withdraw under a re-entrant token: every nested call from inside the token's transfer
// is refused by the guard (one table over both functions).
import { expect } from "chai";

import { useSystem, type System } from "../fixtures.js";
import { E18, REENTRY, adversary } from "../helpers/adversary.js";
import { hostileTokens } from "../helpers/hostile.js";

describe("CollateralVault.deposit and withdraw: re-entry", function () {
  let sys: System;
  const system = useSystem();
  beforeEach(function () {
    sys = system();
  });

  const { mintAndApprove } = adversary(() => sys);
  const { reentrantAgreement, nestedCalls } = hostileTokens(() => sys);

  for (const outer of ["deposit", "withdraw"] as const) {
    for (const inner of ["deposit", "withdraw", "release", "issueMarginCall"] as const) {
      it(`re-enters ${inner} from inside ${outer}'s transfer: refused ${REENTRY}, nothing moves`, async function () {
        const { ree, asset, vault, other, vaultAddress } = await reentrantAgreement();
        await ree.arm(vaultAddress, nestedCalls(vault, asset, asset)[inner], true);
        const call =
          outer === "deposit"
            ? (await mintAndApprove(ree, sys.pledgor, vault, E18(5n)),
              vault.connect(sys.pledgor).deposit(asset, E18(5n)))
            : vault.connect(sys.pledgor).withdraw(asset, E18(5n), sys.pledgor.address);
        await expect(call).to.be.revertedWithCustomError(vault, REENTRY);
        expect(await vault.balanceOf(asset)).to.equal(E18(1_000n));
        expect(await ree.balanceOf(vaultAddress)).to.equal(E18(1_000n));
        expect(await other.balanceOf(asset)).to.equal(E18(1_000n));
        expect(await ree.balanceOf(await other.getAddress())).to.equal(E18(1_000n));
      });
    }
  }
});
