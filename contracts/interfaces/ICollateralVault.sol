// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {AgreementTerms, EligibilityInput} from "../types/AgreementTypes.sol";
import {IAgreementState} from "./IAgreementState.sol";
import {ICollateralLedger} from "./ICollateralLedger.sol";
import {IEligibilitySchedule} from "./IEligibilitySchedule.sol";
import {IMarginEngine} from "./IMarginEngine.sol";

/// @title ICollateralVault
/// @notice One agreement's segregated vault: it holds that agreement's tokenized collateral and nothing else and
/// runs the lock state machine (the on-chain form of a Notice of Exclusive Control): who may move what, and when.
/// What is owed is the margin engine's (`IMarginEngine`), what is held the ledger's (`ICollateralLedger`).
interface ICollateralVault is IAgreementState, IEligibilitySchedule, ICollateralLedger, IMarginEngine {
    // ---------------------------------------------------------------- events

    /// @notice The vault was initialised for an agreement.
    event AgreementInitialized(
        address indexed pledgor,
        address indexed securedParty,
        address indexed controlAgent,
        AgreementTerms terms
    );
    /// @notice `amount` of `asset` left to `to` by the pledgor's withdrawal.
    event Withdrawn(address indexed asset, address indexed to, uint256 amount, uint256 balance);
    /// @notice The pledgor swapped `amountOut` of `assetOut` for `amountIn` of `assetIn` in one transaction.
    event Substituted(address indexed assetIn, uint256 amountIn, address indexed assetOut, uint256 amountOut);
    /// @notice `party` consented to the pledge of the agreement's collateral under the terms `termsHash`.
    event PledgeConsented(address indexed party, bytes32 termsHash, bool bySignature);
    /// @notice A schedule change while `Open` voided the consents given so far: both parties consent again, to the
    /// new `termsHash`.
    event PledgeConsentsVoided(bytes32 termsHash);
    /// @notice The Notice of Exclusive Control whose document hash is `noticeHash` was delivered by `by`.
    event NoticeOfExclusiveControlDelivered(address indexed by, bytes32 noticeHash);
    /// @notice Under exclusive control, `by` instructed `amount` of `asset` to `to`.
    event TransferInstructed(address indexed asset, address indexed to, address indexed by, uint256 amount);
    /// @notice Under exclusive control, `amount` of `asset` was sold to `buyer` for `cashAmount` of `cashToken`
    /// paid to the secured party, through the DvP settlement `settlementId`; values at oracle prices.
    event Liquidated(
        address indexed asset,
        uint256 amount,
        address indexed cashToken,
        uint256 cashAmount,
        address indexed buyer,
        bytes32 settlementId,
        uint256 assetValue,
        uint256 cashValue
    );
    /// @notice The agreement ended, or under exclusive control the amount due was met or the appropriation period
    /// passed: the collateral returns to the pledgor.
    event Released(address indexed by);

    // ---------------------------------------------------------------- errors

    /// @notice The withdrawal would leave collateral worth `collateralValue` after haircuts, below the requirement of
    /// `requirement`.
    /// @param collateralValue Collateral value after haircuts, after the withdrawal (WAD)
    /// @param requirement Exposure above the threshold plus the independent amount (WAD)
    error WithdrawalBreachesRequirement(uint256 collateralValue, uint256 requirement);
    /// @notice The collateral's excess of `excess` over the requirement is below the minimum transfer amount of
    /// `minimumTransferAmount`.
    /// @param excess Collateral value after haircuts less the requirement (WAD)
    /// @param minimumTransferAmount The agreement's minimum transfer amount (WAD)
    error ExcessBelowMinimumTransfer(uint256 excess, uint256 minimumTransferAmount);
    /// @notice The assets taken out are worth `valueOut` after haircut, more than the `valueIn` the substitute is
    /// worth.
    /// @param valueOut Haircut value of the assets returned (WAD)
    /// @param valueIn Haircut value of the substitute delivered (WAD)
    error SubstitutionExceedsValue(uint256 valueOut, uint256 valueIn);
    /// @notice The signed consent expired at `deadline` (now `nowTs`).
    /// @param deadline The consent's deadline (Unix time)
    /// @param nowTs The block's time (Unix time)
    error ConsentExpired(uint256 deadline, uint256 nowTs);
    /// @notice The pledge consent is not signed by `signer` over the agreement's current terms.
    error InvalidConsentSignature(address signer);
    /// @notice The consent names the terms `given`, but the agreement's terms are now `current` (the schedule changed);
    /// read the new terms and consent to them.
    error TermsHashMismatch(bytes32 given, bytes32 current);
    /// @notice New risk is paused by the guardian.
    error NewRiskPaused();
    /// @notice The Notice of Exclusive Control's document hash is zero.
    error EmptyNotice();
    /// @notice The sale's cash is worth `cashValue`, below the minimum of `minimumCashValue` (the collateral's oracle
    /// value less the maximum liquidation discount).
    /// @param cashValue The cash leg's oracle value (WAD)
    /// @param minimumCashValue The least the collateral sold may fetch (WAD)
    error SalePriceTooLow(uint256 cashValue, uint256 minimumCashValue);

    // ---------------------------------------------------------------- custody

    /// @notice Called once by the factory right after cloning.
    /// @param terms The agreement's Credit Support Annex terms.
    /// @param schedule The initial eligibility schedule.
    function initialize(AgreementTerms calldata terms, EligibilityInput[] calldata schedule) external;

    /// @notice The pledgor posts `amount` of `asset` as collateral. Only the pledgor: an outsider's dust of a
    /// listed asset whose feed is down would otherwise block every valuation of the agreement.
    /// @dev Reverts `Unauthorized` for any other caller, `IneligibleAsset` for an asset outside the effective
    /// schedule, `ShortDelivery` when the token delivers less than `amount`, and `InvalidState` under exclusive
    /// control, liquidation or after release.
    /// @param asset The ERC-20 or ERC-4626 share to post; the caller approves this vault first.
    /// @param amount Raw token units.
    function deposit(address asset, uint256 amount) external;
    /// @notice The pledgor takes back `amount` of `asset` to `to`: freely while `Open` or after `Released`, only
    /// the excess above the requirement while `Pledged` (valued on valid prices), never otherwise.
    /// @param asset The asset to withdraw.
    /// @param amount Raw token units.
    /// @param to The receiver.
    function withdraw(address asset, uint256 amount, address to) external;
    /// @notice The pledgor swaps `amountOut` of `assetOut` for `amountIn` of `assetIn` in one transaction, the
    /// new asset eligible, what comes out worth no more than what goes in (after haircuts, as under the CSA; an
    /// ineligible asset counts for nothing), and coverage never below the requirement.
    /// @param assetIn The eligible asset delivered in (the caller approves this vault).
    /// @param amountIn Raw units of `assetIn`.
    /// @param assetOut The asset taken back.
    /// @param amountOut Raw units of `assetOut`.
    /// @param to The receiver of `assetOut`.
    function substitute(address assetIn, uint256 amountIn, address assetOut, uint256 amountOut, address to) external;

    // ---------------------------------------------------------------- pledge

    /// @notice The caller (pledgor or secured party) consents to the pledge under the exact terms `expectedTermsHash`
    /// (parties, terms and schedule version, see `termsHash`); when both have consented to the current terms, the
    /// vault is `Pledged`. A schedule change while `Open` voids every consent given so far, so neither party can be
    /// pledged under a schedule it never saw.
    /// @dev Reverts `TermsHashMismatch` when the terms changed since the caller read them.
    /// @param expectedTermsHash The `termsHash()` the caller read and accepts.
    function consentToPledge(bytes32 expectedTermsHash) external;
    /// @notice The caller (one party) consents and submits the other party's EIP-712 signed consent in one call,
    /// moving the vault to `Pledged`. Works with EOAs and ERC-1271 contract wallets.
    /// @param deadline The signature's deadline.
    /// @param signature The other party's signature over `PledgeConsent(bytes32 termsHash,uint256 deadline)`.
    function pledgeWithSignature(uint256 deadline, bytes calldata signature) external;

    // ---------------------------------------------------------------- exclusive control

    /// @notice The secured party (or the control agent) delivers the Notice of Exclusive Control on a continuing
    /// default: the pledgor's or the control agent's declaration, or a margin call still unmet past its deadline.
    /// From then on only they can instruct the vault. The amount due is fixed now as the enforceable exposure (the
    /// undisputed part of marks the pledgor could dispute, see `enforceableExposure`) plus the liquidation
    /// penalty, and can only go down afterwards.
    /// @param documentHash The hash of the signed legal notice document.
    function deliverNoticeOfExclusiveControl(bytes32 documentHash) external;
    /// @notice Under exclusive control, the secured party or the control agent instructs a transfer.
    /// @param asset The asset to move.
    /// @param amount Raw token units.
    /// @param to The receiver.
    function instructTransfer(address asset, uint256 amount, address to) external;
    /// @notice Under exclusive control, sells `amount` of `asset` to `buyer` through the DvP contract for
    /// `cashAmount` of the eligible `cashToken`, paid to the secured party: no worse than the oracle value less
    /// the maximum liquidation discount, and never beyond the amount due plus the penalty.
    /// @param asset The collateral sold.
    /// @param amount Raw units of `asset`.
    /// @param cashToken The eligible asset the buyer pays in.
    /// @param cashAmount Raw units of `cashToken`.
    /// @param buyer The buyer, who signed the two-leg settlement for the DvP contract.
    /// @param deadline The settlement's deadline.
    /// @param nonce The buyer's DvP nonce.
    /// @param buyerSignature The buyer's EIP-712 signature of the settlement.
    /// @return settlementId The DvP settlement id.
    function liquidate(
        address asset,
        uint256 amount,
        address cashToken,
        uint256 cashAmount,
        address buyer,
        uint256 deadline,
        uint256 nonce,
        bytes calldata buyerSignature
    ) external returns (bytes32 settlementId);
    /// @notice The agreement ends and every accounted asset returns to the pledgor. The secured party may release at
    /// any time after the pledge; under exclusive control anyone may too (the pledgor, or a keeper on its behalf)
    /// once what is still due is below the minimum transfer amount, or once the appropriation period has passed
    /// since the notice or the last appropriation, and at the latest two appropriation periods after the notice.
    /// Never paused.
    function release() external;

    // ---------------------------------------------------------------- views

    /// @notice The hash a pledge consent signs: the parties, the terms and the schedule version.
    function termsHash() external view returns (bytes32);
    /// @notice The hash of the delivered Notice of Exclusive Control (zero before one is delivered).
    function noticeHash() external view returns (bytes32);
}
