import { expect } from "chai";
import { network } from "hardhat";

import { runDemo } from "../scripts/demo/lifecycle.js";

describe("npm run demo", function () {
  it("walks the lifecycle with the outcomes it narrates", async function () {
    const { ethers, networkHelpers } = await network.create();
    const lines: string[] = [];
    const outcome = await runDemo(ethers, networkHelpers, (line) => lines.push(line));

    expect(outcome.firstCall).to.deep.equal({
      issued: true,
      metByTopUp: true,
      sameTransaction: true,
    });
    expect(outcome.secondCall).to.deep.equal({ issued: true, metByTopUp: false });
    expect(outcome.defaultReported).to.equal(true);
    expect(outcome.noticeDelivered).to.equal(true);
    // Promise 5: never more than the amount due plus the penalty, and here all of it but rounding dust.
    expect(outcome.receivedBySecuredParty <= outcome.amountDue).to.equal(true);
    expect(outcome.amountDue - outcome.receivedBySecuredParty < 10n ** 16n).to.equal(true);
    expect(outcome.surplusReturned.tbill > 0n).to.equal(true);
    expect(outcome.finalState).to.equal("Released");
    expect(outcome.audit.reconciled).to.equal(true);
    expect(outcome.audit.reconciliation.every((r) => r.replayed === r.accounted)).to.equal(true);
    const events = outcome.audit.entries.map((e) => e.event);
    for (const name of [
      "MarginCallIssued",
      "TopUpPulled",
      "MarginCallMet",
      "DefaultDeclared",
      "NoticeOfExclusiveControlDelivered",
      "Liquidated",
      "Settled",
      "Released",
    ]) {
      expect(events, name).to.include(name);
    }
    expect(lines.join("\n")).to.include("every balance reconciles exactly");
  });
});
