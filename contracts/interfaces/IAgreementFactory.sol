// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {AgreementTerms, EligibilityInput, EligibleAsset} from "../types/AgreementTypes.sol";
import {SequencerCheck} from "../libraries/PriceOracle.sol";

/// @notice The deployment's listing rules for agreement terms: the bounds every agreement's terms must meet when it
/// opens. The risk manager changes them through the AccessManager, with an execution delay; they bind agreements
/// opened after the change.
struct ListingRules {
    /// @dev Highest liquidation penalty, and highest discount to oracle value a liquidation sale may accept.
    uint16 maxLiquidationPenaltyBps;
    uint16 maxLiquidationDiscountBps;
    /// @dev Shortest cure period, dispute window and schedule notice period (a dispute window is also never longer
    /// than the cure period, so the pledgor can always dispute a mark before a call on it can default).
    uint32 minCurePeriod;
    uint32 minDisputeWindow;
    uint32 minScheduleNoticePeriod;
    /// @dev Bounds of the appropriation period after which anyone may release the surplus under exclusive control.
    uint32 minAppropriationPeriod;
    uint32 maxAppropriationPeriod;
}

/// @notice The agreement term (or listing rule) a `TermOutOfRange` error is about.
enum Term {
    LiquidationPenaltyBps,
    MaxLiquidationDiscountBps,
    CurePeriod,
    DisputeWindow,
    ScheduleNoticePeriod,
    AppropriationPeriod
}

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

    /// @notice The risk manager changed the listing rules; agreements opened from now on must meet `rules`.
    event ListingRulesSet(ListingRules rules);

    /// @notice The term `term` is `value`, outside `min`..`max`: the listing rules' range, or for the rules themselves
    /// the bounds no deployment may pass (a dispute window is never longer than the cure period).
    /// @param value The term's value, in basis points or seconds as the term is
    /// @param min The least value allowed
    /// @param max The greatest value allowed
    error TermOutOfRange(Term term, uint256 value, uint256 min, uint256 max);
    /// @notice The pledgor `pledgor` and the secured party `securedParty` must be two different, non-zero addresses.
    error InvalidParties(address pledgor, address securedParty);
    /// @notice `creator` is not one of the agreement's parties, so it may not open it.
    error CreatorNotAParty(address creator);
    /// @notice Opening agreements is paused by the guardian.
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
    /// @dev Reverts `ZeroAddress`, `InvalidBps`, `MetadataUnreadable`, `DecimalsUnsupported` (above 36),
    /// `FeedUnreadable` (a feed that is the asset itself or does not answer `latestRoundData()`) or the oracle's
    /// listing errors (`ZeroFeed`, `ZeroMaxPriceAge`, `InvalidBounds`). A zero feed is a delisting and returns an
    /// empty line.
    /// @param input The proposed line.
    /// @return entry The line as a vault stores it.
    function eligibilityEntry(EligibilityInput calldata input) external view returns (EligibleAsset memory entry);

    /// @notice The call a vault makes to this deployment's DvP contract to sell `amount` of `asset` (from the caller,
    /// the vault) to `buyer` for `cashAmount` of `cashToken` paid to `payee`: a two-leg settlement with the buyer's
    /// signature. Encoding it here keeps the vault under the code-size limit.
    /// @param asset The collateral sold.
    /// @param amount Raw units of `asset`.
    /// @param cashToken The token the buyer pays in.
    /// @param cashAmount Raw units of `cashToken`.
    /// @param buyer The buyer, who signed the settlement.
    /// @param payee Who receives the cash (the secured party).
    /// @param deadline The settlement's deadline.
    /// @param nonce The buyer's DvP nonce.
    /// @param buyerSignature The buyer's EIP-712 signature of the settlement.
    /// @return dvp The DvP contract to call (`settlement()`).
    /// @return settleCall The calldata of `IDvPSettlement.settle`.
    function saleSettlement(
        address asset,
        uint256 amount,
        address cashToken,
        uint256 cashAmount,
        address buyer,
        address payee,
        uint256 deadline,
        uint256 nonce,
        bytes calldata buyerSignature
    ) external view returns (address dvp, bytes memory settleCall);

    /// @notice The listing rules agreements opened now must meet.
    function listingRules() external view returns (ListingRules memory);

    /// @notice The risk manager sets the listing rules (restricted through the AccessManager, with the risk
    /// manager's execution delay). Each rule must stay within bounds no deployment may pass: penalties and discounts
    /// at most 50%, every period at least one second, appropriation periods at most 365 days.
    /// @param rules The new rules.
    function setListingRules(ListingRules calldata rules) external;

    /// @notice Checks `terms` against the listing rules, reverting `TermOutOfRange` for the first term outside them.
    /// @param terms The terms an agreement would open with.
    function checkTerms(AgreementTerms calldata terms) external view;

    /// @notice Opens an agreement and deploys its vault. The caller must be the pledgor or the secured party. The
    /// terms must meet the listing rules (`checkTerms`) and every schedule line the listing rules of
    /// `eligibilityEntry`.
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

    /// @notice The deployment's L2 sequencer check: the vault implementation's, which every clone applies.
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

    /// @notice The guardian stops new risk: new agreements and pledges. Restricted by the AccessManager.
    function pause() external;

    /// @notice The guardian lets new risk in again. Restricted by the AccessManager.
    function unpause() external;
}
