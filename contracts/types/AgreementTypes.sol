// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {AggregatorV3Interface} from "@chainlink/contracts/src/v0.8/shared/interfaces/AggregatorV3Interface.sol";

import {AssetKind} from "../libraries/PriceOracle.sol";

/// @dev Rates are in basis points: 10,000 is 100%.
uint256 constant BPS = 10_000;

/// @notice Lock states of an agreement's vault. `MarginCall` and `Liquidating` are driven by the margin engine.
enum VaultState {
    Open,
    Pledged,
    MarginCall,
    ExclusiveControl,
    Liquidating,
    Released
}

/// @notice The Credit Support Annex terms of one agreement. Values are in the agreement's base currency with
/// 18 decimals (WAD); periods in seconds; rates in basis points.
struct AgreementTerms {
    uint128 threshold;
    uint128 independentAmount;
    uint128 minimumTransferAmount;
    uint128 roundingAmount;
    uint32 curePeriod;
    uint32 scheduleNoticePeriod;
    uint32 disputeWindow;
    uint16 liquidationPenaltyBps;
    uint16 maxLiquidationDiscountBps;
    /// @dev Under exclusive control, the time the secured party has after the notice, and after each appropriation,
    /// to take the next: once it passes with nothing taken, anyone may release the rest to the pledgor.
    uint32 appropriationPeriod;
}

/// @notice One line of an eligibility schedule as proposed by a party: the vault derives and caches the
/// token's and the feed's decimals itself.
struct EligibilityInput {
    address asset;
    AggregatorV3Interface feed;
    AssetKind kind;
    uint32 maxPriceAge;
    int96 minAnswer;
    int96 maxAnswer;
    uint16 haircutBps;
    uint16 concentrationCapBps;
}

/// @notice One line of an eligibility schedule as stored: two storage slots.
struct EligibleAsset {
    AggregatorV3Interface feed; // address(0): not eligible
    uint32 maxPriceAge;
    AssetKind kind;
    uint8 pricedDecimals;
    uint8 feedDecimals;
    uint16 haircutBps;
    uint16 concentrationCapBps;
    int96 minAnswer;
    int96 maxAnswer;
}

/// @notice One asset's line in an agreement's status.
struct AssetPosition {
    address asset;
    uint256 balance;
    uint256 marketValue;
    uint256 collateralValue;
    uint16 haircutBps;
    uint16 concentrationCapBps;
    bool eligible;
    bool priceValid;
}

/// @notice Everything a party, a keeper or an auditor needs to know about an agreement at one block.
struct AgreementStatus {
    address vault;
    VaultState state;
    uint256 exposure;
    uint256 requirement;
    uint256 marketValue;
    uint256 collateralValue;
    /// @dev collateralValue / requirement in basis points; type(uint256).max when nothing is required.
    uint256 coverageBps;
    /// @dev False when any held eligible asset has no valid price: the values above then count it as zero.
    bool pricesValid;
    /// @dev The open margin call's amount and cure deadline (zero when none is open).
    uint256 callAmount;
    uint256 callDeadline;
    /// @dev While the exposure is disputed, margin calls use `undisputedExposure`.
    bool disputed;
    uint256 undisputedExposure;
    /// @dev The requirement a margin call may enforce, and the minimum transfer amount.
    uint256 callableRequirement;
    uint256 minimumTransferAmount;
    /// @dev A keeper's `issueMarginCall` would open a call now (prices valid, shortfall at least the MTA).
    bool marginCallDue;
    /// @dev An open margin call is past its cure deadline and not cured: the pledgor is in default.
    bool cureDeadlinePassed;
    /// @dev What a notice delivered now would make due before the penalty (see `enforceableExposure`).
    uint256 enforceableExposure;
    /// @dev The open call's requirement when issued, and the value delivered against it so far.
    uint256 callRequirement;
    uint256 callDelivered;
    AssetPosition[] positions;
}
