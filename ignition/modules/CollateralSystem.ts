// The whole collateral system as a Hardhat Ignition module: the same contracts, constructor arguments and roles as
// the SDK's `deploySystem` (sdk/deploy.ts).
//
//   npx hardhat ignition deploy ignition/modules/CollateralSystem.ts --network sepolia \
//     --parameters '{"CollateralSystem":{"guardian":"0x…"}}'
import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";
import { ZeroAddress, id } from "ethers";

/** AccessManager role id of the guardian (0 is OpenZeppelin's admin role); the same as `ROLES.GUARDIAN` in the SDK. */
const GUARDIAN = 1n;

/** The factory functions only the guardian may call. */
const GUARDIAN_SELECTORS = ["pause()", "unpause()"].map((signature) => id(signature).slice(0, 10));

export default buildModule("CollateralSystem", (m) => {
  const deployer = m.getAccount(0);
  /** Who may pause and unpause the factory; the deployer unless given. */
  const guardian = m.getParameter("guardian", deployer);
  /** L2 sequencer uptime feed (the zero address on L1) and its grace period in seconds. */
  const sequencerUptimeFeed = m.getParameter<string>("sequencerUptimeFeed", ZeroAddress);
  const sequencerGracePeriod = m.getParameter<number>("sequencerGracePeriod", 0);

  const manager = m.contract("AccessManager", [deployer]);
  const implementation = m.contract("CollateralVault", []);
  const settlement = m.contract("DvPSettlement", []);
  const factory = m.contract("AgreementFactory", [
    manager,
    implementation,
    settlement,
    { uptimeFeed: sequencerUptimeFeed, gracePeriod: sequencerGracePeriod },
  ]);
  const lens = m.contract("CollateralLens", []);

  // The roles, in the order deploySystem sets them: pause/unpause restricted to GUARDIAN, the label, the grant.
  const restrict = m.call(manager, "setTargetFunctionRole", [
    factory,
    GUARDIAN_SELECTORS,
    GUARDIAN,
  ]);
  const label = m.call(manager, "labelRole", [GUARDIAN, "GUARDIAN"], { after: [restrict] });
  m.call(manager, "grantRole", [GUARDIAN, guardian, 0], { after: [label] });

  return { manager, implementation, settlement, factory, lens };
});
