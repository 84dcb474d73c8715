// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {EligibilityInput, EligibleAsset} from "../types/AgreementTypes.sol";

/// @title IEligibilitySchedule
/// @notice An agreement's eligible collateral: per asset the price source, haircut, concentration cap and price age.
/// A tightening of a live schedule waits out the agreement's notice period; listings and loosenings apply at once.
interface IEligibilitySchedule {
    // ---------------------------------------------------------------- events

    /// @notice A schedule line took effect at once (a listing or a loosening, or any change before the pledge).
    event EligibilityChanged(address indexed asset, EligibleAsset entry);
    /// @notice A tightening of the live schedule was queued; it takes effect at `effectiveAt`.
    event EligibilityChangeQueued(address indexed asset, EligibleAsset entry, uint256 effectiveAt);

    // ---------------------------------------------------------------- errors

    /// @notice `asset` is not eligible collateral under the agreement's schedule.
    error IneligibleAsset(address asset);
    /// @notice The schedule lists `count` assets, and `max` is the most an agreement may hold.
    error TooManyAssets(uint256 count, uint256 max);
    /// @notice The haircut `haircutBps` bps or the concentration cap `concentrationCapBps` bps is outside 0..10,000 (a
    /// cap must be above 0).
    error InvalidBps(uint256 haircutBps, uint256 concentrationCapBps);
    /// @notice `target` has `decimals` decimals; at most 36 are supported.
    error DecimalsUnsupported(address target, uint256 decimals);
    /// @notice On a live agreement the price source of a listed asset is fixed: `asset` is priced by `feed` (zero once
    /// delisted) and may not be priced by `proposedFeed`, nor as another kind, on the secured party's word alone.
    error PriceSourceFixed(address asset, address feed, address proposedFeed);
    /// @notice `feed` does not answer `latestRoundData()` as a price feed, so it cannot price `asset` (it is the asset
    /// itself, has no code, or returns something else).
    error FeedUnreadable(address asset, address feed);
    /// @notice `target`, a token or feed being listed, did not answer `selector` with one word (`decimals()` is
    /// 0x313ce567, an ERC-4626 share's `asset()` 0x38d52e0f).
    error MetadataUnreadable(address target, bytes4 selector);

    // ---------------------------------------------------------------- schedule

    /// @notice The secured party lists, changes or delists (`feed` zero) an asset. Before the pledge, and for
    /// listings and loosenings, the change takes effect at once; a tightening of the live schedule takes effect
    /// after the agreement's notice period. On a live agreement the price source (feed and kind) of an asset listed
    /// before cannot change, nor can a delisted asset be listed again (`PriceSourceFixed`): the secured party could
    /// otherwise value the pledgor's collateral, and what it appropriates, at a price of its own choosing.
    /// @param input The new schedule line.
    function changeEligibility(EligibilityInput calldata input) external;

    // ---------------------------------------------------------------- views

    /// @notice The effective schedule line of `asset` (a pending change counts once its time has come).
    function eligibility(address asset) external view returns (EligibleAsset memory);
    /// @notice The queued change of `asset` and when it takes effect (zero when none is queued).
    function pendingEligibility(address asset) external view returns (EligibleAsset memory entry, uint256 effectiveAt);
    /// @notice Every asset the schedule has ever listed, in listing order.
    function listedAssets() external view returns (address[] memory);
    /// @notice The most assets one agreement's schedule may list, so that valuation stays bounded in gas.
    function MAX_ASSETS() external view returns (uint256);
}
