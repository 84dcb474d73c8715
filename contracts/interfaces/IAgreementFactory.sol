// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {AgreementTerms, EligibilityInput, EligibleAsset} from "./ICollateralVault.sol";
import {SequencerCheck} from "../libraries/PriceOracle.sol";

/// @title IAgreementFactory
/// @notice Creates one segregated vault per agreement (an ERC-1167 clone at an address computable before
/// creation), registers its parties and terms, and holds the deployment-wide guardian pause.
interface IAgreementFactory {
    /// @notice An agreement was opened: `vault` holds its collateral and nothing else.
    event AgreementOpened(
        address indexed vault,
        address indexed pledgor,
        address indexed securedParty,
        address controlAgent,
        address creator,
        bytes32 salt,
        AgreementTerms terms
    );

    /// @notice The pledgor and the secured party are the same address, or one of them is zero.
    error InvalidParties(address pledgor, address securedParty);
    /// @notice The caller must be one of the agreement's parties to open it.
    error CreatorNotAParty(address creator);
    /// @notice New agreements are paused by the guardian.
    error FactoryPaused();

    /// @notice Whether `signature` is `signer`'s EIP-712 consent, in this factory's domain, to pledge under the
    /// terms `termsHash` until `deadline`: `PledgeConsent(bytes32 termsHash,uint256 deadline)`. The terms hash
    /// commits to the vault's address, parties, terms and schedule version, so a consent serves one agreement only.
    /// Accepts EOA signatures (ECDSA, low-s) and ERC-1271 contract wallets.
    /// @param signer The consenting party.
    /// @param termsHash The vault's `termsHash()`.
    /// @param deadline The consent's deadline (the vault checks it).
    /// @param signature The signature.
    /// @return valid True when the signature is the signer's.
    function isValidPledgeConsent(
        address signer,
        bytes32 termsHash,
        uint256 deadline,
        bytes calldata signature
    ) external view returns (bool valid);

    /// @notice The deployment's listing rules, applied by every vault to every schedule line it is given: checks
    /// the line and returns it as stored, with the decimals of the priced token and of the feed read from chain.
    /// @dev Reverts `ZeroAddress`, `InvalidBps`, `MetadataUnreadable`, `UnsupportedDecimals` (above 36) or the
    /// oracle's listing errors (`ZeroFeed`, `ZeroMaxPriceAge`, `InvalidBounds`). A zero feed is a delisting and
    /// returns an empty line.
    /// @param input The proposed line.
    /// @return entry The line as a vault stores it.
    function eligibilityEntry(EligibilityInput calldata input) external view returns (EligibleAsset memory entry);

    /// @notice Opens an agreement and deploys its vault. The caller must be the pledgor or the secured party.
    /// @param pledgor The party posting collateral.
    /// @param securedParty The party the collateral secures.
    /// @param controlAgent An optional neutral agent (zero for none) that may declare a default and act on the
    /// secured party's notice.
    /// @param terms The Credit Support Annex terms.
    /// @param schedule The initial eligibility schedule.
    /// @param salt Any value; with the parties and creator it fixes the vault's address.
    /// @return vault The new vault's address, equal to `predictVault` for the same arguments.
    function openAgreement(
        address pledgor,
        address securedParty,
        address controlAgent,
        AgreementTerms calldata terms,
        EligibilityInput[] calldata schedule,
        bytes32 salt
    ) external returns (address vault);

    /// @notice The address `openAgreement` will deploy to for these arguments.
    /// @param creator The address that will call `openAgreement`.
    /// @param pledgor The pledgor.
    /// @param securedParty The secured party.
    /// @param controlAgent The control agent or zero.
    /// @param salt The salt.
    function predictVault(
        address creator,
        address pledgor,
        address securedParty,
        address controlAgent,
        bytes32 salt
    ) external view returns (address);

    /// @notice Whether `vault` was deployed by this factory.
    function isVault(address vault) external view returns (bool);

    /// @notice The number of agreements opened.
    function agreementCount() external view returns (uint256);

    /// @notice The vault of the `index`-th agreement, in opening order.
    function agreementAt(uint256 index) external view returns (address);

    /// @notice Up to `count` vaults from the `start`-th agreement on, in opening order (fewer at the end).
    function agreementsFrom(uint256 start, uint256 count) external view returns (address[] memory vaults);

    /// @notice The vault implementation every clone delegates to.
    function vaultImplementation() external view returns (address);

    /// @notice The DvP settlement contract vaults sell collateral through under exclusive control.
    function settlement() external view returns (address);

    /// @notice The deployment's L2 sequencer check, copied into each new vault.
    function sequencerCheck() external view returns (SequencerCheck memory);

    /// @notice What the batch margin-call entry point did for one agreement.
    enum MarginCallOutcome {
        Skipped,
        CallIssued,
        CallIssuedAndMet
    }

    /// @notice Keepers open margin calls for many agreements in one transaction after a price move: agreements
    /// not due (covered, a call already open, a bad price, or not a vault of this factory) are skipped.
    /// @param vaults The agreements' vaults.
    /// @return outcomes What was done for each, in order.
    function issueMarginCalls(address[] calldata vaults) external returns (MarginCallOutcome[] memory outcomes);

    /// @notice Whether the guardian has paused new risk (new agreements and pledges). Never stops a withdrawal
    /// of excess, a release or an instruction under exclusive control.
    function paused() external view returns (bool);
}
