/**
 * The collateral-management SDK: a typed layer over ethers v6 and the TypeChain types.
 *
 * - Deployment: `deploySystem(signer, { network, writeTo })` deploys everything and writes an address book;
 *   `loadAddressBook("sepolia" | chainId)` reads one back.
 * - Agreements: `new CollateralSystem(book, signerOrProvider)` opens agreements (vault address predicted
 *   first), reads the status of many in one call and runs keeper batches; `system.agreement(vault)` gives an
 *   `Agreement` client for deposits, withdrawals, pledge, exposure, disputes, substitution, top-ups, margin
 *   calls, default, the Notice of Exclusive Control, liquidation and release.
 * - DvP orders: `buildSettlement`, `signSettlement`, `verifySettlementSignature`, `settle`, `cancelNonce`.
 * - Audit trail: `buildAuditTrail(provider, book, vault)` replays every event and reconciles the balances;
 *   `auditTrailToJson` / `auditTrailToCsv` export it.
 * - Monitor: `new MarginMonitor(keeperSystem).start()` watches agreements 24/7 (see sdk/monitor.ts).
 * - Optimiser: `optimiseDelivery(...)` picks the cheapest collateral to deliver (see sdk/optimiser.ts).
 * - Errors: every contract revert becomes a `CollateralError` whose message says what was wrong in words.
 *
 * Amounts are `bigint` raw token units (the token's decimals) or base-currency values with 18 decimals (WAD).
 */
export * from "./agreements.js";
export * from "./deploy.js";
export * from "./dvp.js";
export * from "./errors.js";
export * from "./audit.js";
export * from "./monitor.js";
export * from "./optimiser.js";
export * from "./format.js";
