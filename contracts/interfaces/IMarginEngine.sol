// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title IMarginEngine
/// @notice What the pledgor owes and when: the secured party's marks and the pledgor's disputes, the requirement,
/// margin calls and their automatic top-ups, defaults, and under exclusive control the amount due and what was
/// taken against it. No party's own figure is enforceable against the other (see `enforceableExposure`).
interface IMarginEngine {
    // ---------------------------------------------------------------- events

    /// @notice The secured party set the exposure; `requirement` is the resulting collateral requirement.
    event ExposureSet(uint256 exposure, uint256 requirement);
    /// @notice The pledgor disputed the exposure set by the secured party; `undisputedExposure` stays callable.
    event ExposureDisputed(uint256 securedPartyExposure, uint256 pledgorExposure, uint256 undisputedExposure);
    /// @notice While a dispute is open, the pledgor (`by`) raised the figure it admits towards the secured party's mark
    /// (the secured party narrows a dispute by marking lower with `setExposure`).
    event DisputeFigureChanged(address indexed by, uint256 securedPartyExposure, uint256 pledgorExposure);
    /// @notice The dispute was resolved by `by` at `agreedExposure`.
    event DisputeResolved(address indexed by, uint256 agreedExposure);
    /// @notice A margin call for `amount` (the `shortfall` rounded up to the rounding amount) was opened by
    /// `keeper`; it must be met by `deadline`.
    event MarginCallIssued(
        address indexed keeper,
        uint256 amount,
        uint256 shortfall,
        uint256 deadline,
        uint256 collateralValue,
        uint256 requirement
    );
    /// @notice The open margin call was met: collateral value is back at or above the requirement.
    event MarginCallMet(uint256 collateralValue, uint256 requirement);
    /// @notice The pledgor pre-authorised `source` to be pulled for top-ups, cheapest first in `assets` order.
    event TopUpConfigured(address indexed source, address[] assets, uint256[] caps);
    /// @notice `amount` of `asset` was pulled from `source` to meet a margin call; `collateralValue` is its value
    /// after haircut; `capLeft` is what remains of the pledgor's cap for that asset.
    event TopUpPulled(
        address indexed asset,
        address indexed source,
        uint256 amount,
        uint256 collateralValue,
        uint256 capLeft
    );
    /// @notice A default was established by `by`; `reason` says how (see `DefaultReason`).
    event DefaultDeclared(address indexed by, uint8 reason);
    /// @notice The default of `reason` ended with its cause: the unmet margin call was cured.
    event DefaultCured(uint8 reason);

    // ---------------------------------------------------------------- errors

    /// @notice No margin call is due: collateral value `collateralValue` against a requirement of `requirement` leaves
    /// a shortfall (if any) below the minimum transfer amount of `minimumTransferAmount`.
    /// @param collateralValue Collateral value after haircuts (WAD)
    /// @param requirement Exposure above the threshold plus the independent amount (WAD)
    /// @param minimumTransferAmount The agreement's minimum transfer amount (WAD)
    error NoMarginCallDue(uint256 collateralValue, uint256 requirement, uint256 minimumTransferAmount);
    /// @notice A margin call for `amount` is already open until `deadline`.
    /// @param amount The amount called (WAD)
    /// @param deadline End of its cure period (Unix time)
    error MarginCallAlreadyOpen(uint256 amount, uint256 deadline);
    /// @notice The margin call is still unmet: collateral worth `collateralValue` after haircuts (on valid prices)
    /// against a requirement of `requirement`.
    /// @param collateralValue Collateral value after haircuts (WAD)
    /// @param requirement Exposure above the threshold plus the independent amount (WAD)
    error MarginCallNotMet(uint256 collateralValue, uint256 requirement);
    /// @notice The margin call is cured, so it is no default (anyone may close it with `closeMarginCall`): the called
    /// amount was delivered, or the collateral value `collateralValue` meets the call's requirement of `requirement`.
    /// @param collateralValue Collateral value after haircuts (WAD)
    /// @param requirement The requirement the call was made against (WAD)
    error MarginCallCured(uint256 collateralValue, uint256 requirement);
    /// @notice The margin call's cure deadline `deadline` has not passed (now `nowTs`).
    /// @param deadline End of the cure period (Unix time)
    /// @param nowTs The block's time (Unix time)
    error CureDeadlineNotPassed(uint256 deadline, uint256 nowTs);
    /// @notice The exposure set at `setAt` can no longer be disputed: its window of `window` seconds has closed (now
    /// `nowTs`).
    /// @param setAt When the exposure was marked (Unix time)
    /// @param window The agreement's dispute window, in seconds
    /// @param nowTs The block's time (Unix time)
    error DisputeWindowClosed(uint256 setAt, uint256 window, uint256 nowTs);
    /// @notice The exposure is already in dispute.
    error DisputeAlreadyOpen();
    /// @notice No dispute is open.
    error NoDisputeOpen();
    /// @notice There is nothing to dispute: the pledgor's figure `pledgorExposure` (never below the exposure already
    /// enforceable) is not below the mark of `exposure`.
    /// @param pledgorExposure The pledgor's figure (WAD)
    /// @param exposure The secured party's mark (WAD)
    error NothingDisputed(uint256 pledgorExposure, uint256 exposure);
    /// @notice `by` may not resolve the dispute at `agreedExposure` (the pledgor can only accept the mark or raise its
    /// own figure, the secured party only accept the pledgor's figure or less; the control agent decides any figure).
    /// @param agreedExposure The figure proposed (WAD)
    error InvalidResolution(address by, uint256 agreedExposure);
    /// @notice Two lists that must have one entry each differ in length (`left` and `right`).
    error LengthMismatch(uint256 left, uint256 right);
    /// @notice No default has been established, so exclusive control cannot be taken.
    error NoDefault();
    /// @notice Under exclusive control, moving this would bring the value taken to `appropriated`, beyond the
    /// `amountDue` due (exposure plus penalty) at oracle value; an asset without a valid price cannot be appropriated.
    /// @param appropriated Oracle value taken, this move included (WAD)
    /// @param amountDue Exposure plus penalty, fixed at the notice (WAD)
    error AppropriationExceedsAmountDue(uint256 appropriated, uint256 amountDue);
    /// @notice `caller` may not release yet: `remainingDue` of the amount due is still owed (at least the minimum
    /// transfer amount) and the secured party's appropriation period runs until `releasableAt`.
    /// @param remainingDue Amount due less the value appropriated (WAD)
    /// @param releasableAt End of the appropriation period (Unix time)
    error ReleaseNotYetAllowed(address caller, uint256 remainingDue, uint256 releasableAt);

    // ---------------------------------------------------------------- exposure

    /// @notice The secured party marks the exposure, in base currency WAD. The mark is callable at once (a margin call
    /// may use it), but it becomes enforceable (part of an amount due) only once the pledgor could dispute it: when
    /// its dispute window has passed, or by agreement. A new mark never ends an open dispute: while one is open, only
    /// the pledgor's figure (at most the mark) is callable and enforceable, and a mark at or below that figure ends
    /// the dispute at the mark.
    /// @param exposure The secured party's mark-to-market exposure to the pledgor.
    function setExposure(uint256 exposure) external;
    /// @notice The pledgor disputes the latest mark within its dispute window, stating its own figure, which then
    /// stays callable and enforceable until the dispute ends. Only the part of the mark not yet enforceable can be
    /// disputed: a figure below the enforceable exposure counts as that exposure.
    /// @dev Reverts `NothingDisputed` when that leaves no part of the mark in dispute.
    /// @param pledgorExposure The pledgor's own calculation of the exposure.
    function disputeExposure(uint256 pledgorExposure) external;
    /// @notice Ends or narrows the dispute, by agreement only. The control agent decides at any figure. The pledgor
    /// accepts the mark with a figure at or above it, or raises the figure it admits. The secured party accepts the
    /// pledgor's figure (or less) with a figure at or below it; to narrow the dispute it marks lower with
    /// `setExposure`. When the two figures meet, the dispute ends there (a figure both sign). Under exclusive control
    /// a resolution can only lower the amount due.
    /// @dev Reverts `InvalidResolution` for anyone else, for the pledgor lowering its figure and for the secured
    /// party raising its mark.
    /// @param agreedExposure The figure the caller agrees to.
    function resolveDispute(uint256 agreedExposure) external;

    // ---------------------------------------------------------------- calls

    /// @notice Anyone (a keeper) opens a margin call when the callable requirement exceeds the collateral value by
    /// at least the minimum transfer amount; the call is the shortfall rounded up to the rounding amount, due by
    /// now plus the cure period. Amount, deadline and the requirement it answers are fixed now: a later mark does
    /// not move them (a later increase is a new call once this one is cured). A configured top-up source is pulled
    /// at once, asset after asset in the pledgor's order until the call is met after caps, and a call so met closes
    /// in the same transaction.
    /// @return met Whether the call was met by the automatic top-up.
    function issueMarginCall() external returns (bool met);
    /// @notice Anyone closes the open margin call once it is cured: the value delivered since it was issued (each
    /// delivery at its value after haircuts and caps when it arrived) reaches the called amount, or the collateral
    /// value is back at the lower of the call's requirement and today's callable requirement (a price recovery, a
    /// lower mark, a dispute). Deposits close it by themselves.
    function closeMarginCall() external;
    /// @notice The pledgor pre-authorises `source` (which approves this vault) for automatic top-ups: the
    /// engine pulls `assets` in the given order, cheapest to the pledgor first, each up to its cap in total.
    /// @param source The address pulled from; zero disables the top-up.
    /// @param assets Eligible assets in the pledgor's cost order.
    /// @param caps The most of each asset that may ever be pulled, in raw units.
    function configureTopUp(address source, address[] calldata assets, uint256[] calldata caps) external;
    /// @notice One asset of an automatic top-up, pulled from `source`: worth after haircut what `needed` asks and no
    /// more than the last raw unit beyond it, within the asset's cap and what the source holds and allows. Only the
    /// vault itself calls it, from `issueMarginCall`, so that anything the asset does wrong (a bad price, a failing
    /// balance read, conversion or transfer, gas burnt) undoes that asset's pull alone.
    /// @param asset The top-up asset.
    /// @param source The pledgor's pre-authorised source.
    /// @param needed The value (base currency WAD, after haircut) the call still needs.
    /// @return value The value after haircut credited.
    function pullTopUpAsset(address asset, address source, uint256 needed) external returns (uint256 value);

    // ---------------------------------------------------------------- default

    /// @notice Establishes a default: the pledgor acknowledging one, the control agent (as neutral party)
    /// declaring an event of default, or anyone once a margin call is unmet past its cure deadline. A default on an
    /// unmet call lasts only while the call does: curing it, even late, ends the default (`DefaultCured`).
    function declareDefault() external;

    // ---------------------------------------------------------------- views

    /// @notice The requirement: max(0, exposure - threshold) + independent amount.
    function requirement() external view returns (uint256);
    /// @notice The requirement a margin call may enforce: on the undisputed exposure while a dispute is open.
    function callableRequirement() external view returns (uint256);
    /// @notice The exposure a notice delivered now would make due (before the penalty): the pledgor's figure while a
    /// dispute is open, the latest mark once its dispute window has passed, and before that the lower of the mark
    /// and the figure that was enforceable when it was set.
    function enforceableExposure() external view returns (uint256);
    /// @notice The exposure, the part of it not in dispute, and the open margin call (zero amount when none).
    function marginState()
        external
        view
        returns (uint256 exposure, uint256 undisputedExposure, bool disputed, uint256 callAmount, uint256 callDeadline);
    /// @notice The open margin call: its amount, deadline, the requirement it answered when issued, and the value
    /// delivered against it so far (zero when no call is open). One call's amount and requirement are at most
    /// 2^128 - 1 WAD; a larger shortfall is called in instalments.
    function marginCall()
        external
        view
        returns (uint256 amount, uint256 deadline, uint256 requirementAtIssue, uint256 delivered);
    /// @notice The pledgor's automatic top-up: the source, the assets in cost order and each one's cap left.
    function topUpConfiguration()
        external
        view
        returns (address source, address[] memory assets, uint256[] memory capsLeft);

    /// @notice Under exclusive control: the amount due plus penalty, and the value moved out against it so far.
    function appropriation() external view returns (uint256 amountDue, uint256 appropriated);

    /// @notice How a default was established (`DefaultDeclared.reason`): the pledgor acknowledged it.
    function DEFAULT_BY_PLEDGOR_CONSENT() external view returns (uint8);
    /// @notice The control agent declared an event of default.
    function DEFAULT_BY_CONTROL_AGENT() external view returns (uint8);
    /// @notice A margin call was unmet past its cure deadline (a cure ends this default).
    function DEFAULT_BY_UNMET_MARGIN_CALL() external view returns (uint8);

    /// @notice Gas each asset of an automatic top-up may use (price read, balance reads, conversion, capped transfer):
    /// ample for sound tokens, and sixteen of them fit a transaction even when every one burns its allowance.
    function TOP_UP_ASSET_GAS() external view returns (uint256);
}
