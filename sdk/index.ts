/**
 * The collateral-management SDK: a typed layer over ethers v6 and the TypeChain types. This file is its public
 * surface; anything not exported here is internal and may change.
 *
 * - Deployment: `deploySystem(signer, { network, writeTo })` deploys everything and writes an address book;
 *   `loadAddressBook("sepolia" | chainId)` reads one back.
 * - Agreements: `new CollateralSystem(book, signerOrProvider)` opens agreements (vault address predicted
 *   first), reads the status of many in one call and runs keeper batches; `system.agreement(vault)` gives an
 *   `Agreement` client for deposits, withdrawals, pledge, exposure, disputes, substitution, top-ups, margin
 *   calls, default, the Notice of Exclusive Control, liquidation and release.
 * - Transactions: every sending function simulates first (`staticCall`), so a refusal is reported before any gas
 *   or approval is spent, and returns one shape, `TxResult`: `{ result, hash, receipt, events }`.
 * - DvP orders: `buildSettlement`, `signSettlement`, `verifySettlementSignature`, `settle`, `cancelNonce`.
 * - Audit trail: `buildAuditTrail(provider, book, vault)` replays every event and reconciles the balances;
 *   `auditTrailToJson` / `auditTrailToCsv` export it.
 * - Monitor: `new MarginMonitor(keeperSystem).start()` watches agreements 24/7 (see sdk/monitor.ts).
 * - Optimiser: `optimiseDelivery(...)` picks the cheapest collateral to deliver (see sdk/optimiser.ts).
 * - Errors: every contract revert becomes a `CollateralError` whose message says what was wrong in words; input
 *   the SDK refuses before sending anything is an `InputError`.
 *
 * Amounts are `bigint` raw token units (the token's decimals) or base-currency values with 18 decimals (WAD);
 * `parseAmount` / `formatAmount` / `formatWad` convert them for people. Rates are basis points, as `bigint`.
 */
export {
  Agreement,
  AssetKind,
  CollateralSystem,
  PLEDGE_CONSENT_TYPES,
  VAULT_STATES,
  documentHash,
  parseAmount,
  pledgeConsentDomain,
  type AgreementStatus,
  type AgreementTerms,
  type AssetPosition,
  type EligibilityLine,
  type LiquidationOrder,
  type VaultStateName,
} from "./agreements.js";
export { decodeEvents, type TxResult } from "./transact.js";
export {
  DEFAULT_DELAYS,
  ROLES,
  SYSTEM_CONTRACTS,
  bytecodeMetadata,
  deploySystem,
  describeBuild,
  loadAddressBook,
  readBuildInfo,
  writeAddressBook,
  type AddressBook,
  type BuildDescription,
  type CompilerSettings,
  type DeployOptions,
  type DeployedContract,
  type HardhatBuildInfo,
  type SystemContract,
} from "./deploy.js";
export {
  SETTLEMENT_TYPES,
  TokenKind,
  buildSettlement,
  cancelNonce,
  dvpDomain,
  erc1155Leg,
  erc20Leg,
  erc721Leg,
  randomNonce,
  settle,
  settlementDigest,
  signSettlement,
  verifySettlementSignature,
  type Leg,
  type Settlement,
} from "./dvp.js";
export { CollateralError, InputError, decodeError } from "./errors.js";
export {
  auditTrailToCsv,
  auditTrailToJson,
  buildAuditTrail,
  type AssetReconciliation,
  type AuditEntry,
  type AuditTrail,
} from "./audit.js";
export {
  MarginMonitor,
  type CycleReport,
  type MonitorDecision,
  type MonitorOptions,
} from "./monitor.js";
export {
  OptimiserError,
  optimiseDelivery,
  type AssetDelivery,
  type OptimiserErrorCode,
  type OptimiserInput,
  type OptimiserOptions,
  type OptimiserAsset,
  type OptimiserResult,
} from "./optimiser.js";
export { formatAmount, formatWad } from "./format.js";
