// The whole collateral system as a Hardhat Ignition module: the same contracts, constructor arguments and roles as
// the SDK's `deploySystem` (sdk/deploy.ts).
//
//   npx hardhat ignition deploy ignition/modules/CollateralSystem.ts --network sepolia \
//     --parameters '{"CollateralSystem":{"guardian":"0x…"}}'
import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";
import { ZeroAddress, id } from "ethers";

/** AccessManager role ids (0 is OpenZeppelin's admin role); the same as `ROLES` in the SDK. */
const ADMIN = 0n;
const GUARDIAN = 1n;
const RISK_MANAGER = 2n;

/** The factory functions only the guardian may call. */
const GUARDIAN_SELECTORS = ["pause()", "unpause()"].map((signature) => id(signature).slice(0, 10));
/** The factory functions only the risk manager may call (after its execution delay). */
const RISK_MANAGER_SELECTORS = [
  "setListingRules((uint16,uint16,uint32,uint32,uint32,uint32,uint32))",
].map((signature) => id(signature).slice(0, 10));

export default buildModule("CollateralSystem", (m) => {
  const deployer = m.getAccount(0);
  /** Who may pause and unpause the factory; the deployer unless given. */
  const guardian = m.getParameter("guardian", deployer);
  /** L2 sequencer uptime feed (the zero address on L1) and its grace period in seconds. */
  const sequencerUptimeFeed = m.getParameter<string>("sequencerUptimeFeed", ZeroAddress);
  const sequencerGracePeriod = m.getParameter<number>("sequencerGracePeriod", 0);
  /** Who may change the listing rules, and the execution delay of that role and of the admin (seconds). */
  const riskManager = m.getParameter("riskManager", deployer);
  const riskManagerDelay = m.getParameter<number>("riskManagerDelay", 86_400);
  const adminDelay = m.getParameter<number>("adminDelay", 2 * 86_400);

  const manager = m.contract("AccessManager", [deployer]);
  // The sequencer check lives in the implementation's code, which every agreement's clone runs.
  const implementation = m.contract("CollateralVault", [
    { uptimeFeed: sequencerUptimeFeed, gracePeriod: sequencerGracePeriod },
  ]);
  const settlement = m.contract("DvPSettlement", []);
  const factory = m.contract("AgreementFactory", [manager, implementation, settlement]);
  const lens = m.contract("CollateralLens", []);

  // The roles, in the order deploySystem sets them: pause/unpause restricted to GUARDIAN, the label, the grant;
  // setListingRules restricted to RISK_MANAGER, the label, the grant with its delay; the admin's delay.
  const restrict = m.call(manager, "setTargetFunctionRole", [
    factory,
    GUARDIAN_SELECTORS,
    GUARDIAN,
  ]);
  const label = m.call(manager, "labelRole", [GUARDIAN, "GUARDIAN"], { after: [restrict] });
  const grant = m.call(manager, "grantRole", [GUARDIAN, guardian, 0], { after: [label] });
  const restrictRules = m.call(
    manager,
    "setTargetFunctionRole",
    [factory, RISK_MANAGER_SELECTORS, RISK_MANAGER],
    { id: "restrictListingRules", after: [grant] },
  );
  const labelRisk = m.call(manager, "labelRole", [RISK_MANAGER, "RISK_MANAGER"], {
    id: "labelRiskManager",
    after: [restrictRules],
  });
  const grantRisk = m.call(manager, "grantRole", [RISK_MANAGER, riskManager, riskManagerDelay], {
    id: "grantRiskManager",
    after: [labelRisk],
  });
  // Last: from here on the admin's own calls wait out its delay too.
  m.call(manager, "grantRole", [ADMIN, deployer, adminDelay], {
    id: "delayAdmin",
    after: [grantRisk],
  });

  return { manager, implementation, settlement, factory, lens };
});
