// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {AgreementTerms, EligibleAsset, VaultState} from "../types/AgreementTypes.sol";

/// @title VaultStorage
/// @notice Every storage variable of a vault, in one place so that its layout can be read (and kept) as a whole.
/// The logic lives in the contracts that inherit it, one concept each: `AgreementState` (parties, terms, lock
/// state), `EligibilitySchedule`, `CollateralLedger` (balances and valuation), `MarginEngine` (what is owed) and
/// `CollateralVault` (custody and exclusive control).
/// @dev The first slot is what nearly every call reads: the lock state, the flags and times of the margin engine and
/// the schedule's pending-change time that every eligibility check reads. A vault is a fresh ERC-1167 clone, never
/// upgraded, so the layout may change between releases.
// Every variable of the vault is declared here on purpose (see above).
// solhint-disable-next-line max-states-count
abstract contract VaultStorage {
    // ---------------------------------------------------------------- slot 0: the hot slot (32 of 32 bytes)

    VaultState internal _state;
    bool internal _pledgorConsented;
    bool internal _securedPartyConsented;
    /// @dev How the current default was established (zero: none), see `IMarginEngine.DEFAULT_BY_*`.
    uint8 internal _defaultReason;
    bool internal _disputed;
    /// @dev When the latest mark was set (zero once a figure was agreed): its dispute window runs from here.
    uint40 internal _exposureSetAt;
    uint40 internal _callDeadline;
    /// @dev Under exclusive control: when the notice was delivered, and when value was last taken.
    uint40 internal _noticedAt;
    uint40 internal _lastAppropriationAt;
    /// @dev The earliest effective time of any queued schedule change (zero when none): lets reads skip the pending
    /// mapping in the common case of a schedule with nothing queued.
    uint40 internal _earliestPendingAt;
    /// @dev The terms' maximum liquidation discount, copied here at initialisation (the terms never change): a sale
    /// under exclusive control then reads no terms word.
    uint16 internal _maxLiquidationDiscountBps;

    // ---------------------------------------------------------------- the agreement

    AgreementTerms internal _terms;
    /// @dev Bumped at every schedule change, so that a signed pledge consent names the exact schedule it accepted.
    uint32 internal _scheduleVersion;
    bytes32 internal _noticeHash;

    // ---------------------------------------------------------------- the eligibility schedule

    struct PendingEligibility {
        EligibleAsset entry;
        uint40 effectiveAt;
    }

    address[] internal _listed;
    mapping(address asset => EligibleAsset) internal _schedule;
    mapping(address asset => PendingEligibility) internal _pending;

    // ---------------------------------------------------------------- the ledger

    /// @dev One word per asset, all that a deposit reads of it: the accounted balance and whether the applied schedule
    /// line lists the asset.
    struct Position {
        /// @dev Written only by `CollateralLedger._setBalance`; never more than the vault holds of the asset.
        uint248 balance;
        /// @dev Written only by `EligibilitySchedule._setLine`, with the line: true while its feed is set.
        bool listed;
    }

    mapping(address asset => Position) internal _positions;

    // ---------------------------------------------------------------- the margin engine

    /// @dev Written only by `MarginEngine._markExposure`, which keeps `_requirement` equal to its requirement.
    uint256 internal _exposure;
    /// @dev What a withdrawal reads, in one slot: the requirement on `_exposure` (saturated at 2^128 - 1 WAD, where
    /// `requirement()` computes it exactly) and the terms' minimum transfer amount, copied at initialisation (the
    /// terms never change).
    uint128 internal _requirement;
    uint128 internal _minimumTransferAmount;
    /// @dev While disputed: the pledgor's figure, below the mark and never below what was enforceable when the
    /// dispute opened; it is what stays callable and enforceable.
    uint256 internal _pledgorExposure;
    /// @dev What was enforceable when the latest mark was set: it stays so until that mark's dispute window passes.
    uint256 internal _settledExposure;
    /// @dev One slot, written once per call: saturated at 2^128 - 1 WAD, beyond any real agreement.
    uint128 internal _callAmount;
    /// @dev The callable requirement the open call answered when it was issued.
    uint128 internal _callRequirement;
    /// @dev The value delivered against the open call, each delivery at its marginal value when it arrived.
    uint256 internal _callDelivered;
    address internal _topUpSource;
    address[] internal _topUpAssets;
    mapping(address asset => uint256) internal _topUpCapLeft;
    /// @dev Fixed when the notice is delivered: the enforceable exposure plus the liquidation penalty, saturated at
    /// 2^128 - 1 WAD (a bound on the secured party, so saturation only ever lowers it).
    uint128 internal _amountDue;
    /// @dev Value moved out under exclusive control so far, at oracle value when it moved; never above `_amountDue`.
    /// Packed with it, so the first appropriation writes a slot the notice already wrote, and each charge reads one.
    uint128 internal _appropriated;
}
