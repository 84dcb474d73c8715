// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {AggregatorV3Interface} from "@chainlink/contracts/src/v0.8/shared/interfaces/AggregatorV3Interface.sol";

import {AssetKind, SequencerCheck} from "../libraries/PriceOracle.sol";

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

/// @title ICollateralVault
/// @notice One agreement's segregated vault: it holds that agreement's tokenized collateral and nothing else,
/// runs the lock state machine (the on-chain form of a Notice of Exclusive Control) and values the collateral
/// against the agreement's eligibility schedule through Chainlink feeds.
interface ICollateralVault {
    // ---------------------------------------------------------------- events

    /// @notice The vault was initialised for an agreement.
    event AgreementInitialized(
        address indexed pledgor,
        address indexed securedParty,
        address indexed controlAgent,
        AgreementTerms terms
    );
    /// @notice `amount` of `asset` came in from `from`; `balance` is the vault's accounted balance after it.
    event Deposited(address indexed asset, address indexed from, uint256 amount, uint256 balance);
    /// @notice `amount` of `asset` left to `to` by the pledgor's withdrawal.
    event Withdrawn(address indexed asset, address indexed to, uint256 amount, uint256 balance);
    /// @notice The lock state moved from `previous` to `next`.
    event StateChanged(VaultState previous, VaultState next);
    /// @notice `party` consented to the pledge of the agreement's collateral under the terms `termsHash`.
    event PledgeConsented(address indexed party, bytes32 termsHash, bool bySignature);
    /// @notice The secured party set the exposure; `requirement` is the resulting collateral requirement.
    event ExposureSet(uint256 exposure, uint256 requirement);
    /// @notice A schedule change while `Open` voided the consents given so far: both parties consent again, to the
    /// new `termsHash`.
    event PledgeConsentsVoided(bytes32 termsHash);
    /// @notice The default of `reason` ended with its cause: the unmet margin call was cured.
    event DefaultCured(uint8 reason);
    /// @notice A default was established by `by`; `reason` says how (see `DefaultReason`).
    event DefaultDeclared(address indexed by, uint8 reason);
    /// @notice The Notice of Exclusive Control whose document hash is `noticeHash` was delivered by `by`.
    event NoticeOfExclusiveControlDelivered(address indexed by, bytes32 noticeHash);
    /// @notice Under exclusive control, `by` instructed `amount` of `asset` to `to`.
    event TransferInstructed(address indexed asset, address indexed to, address indexed by, uint256 amount);
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
    /// @notice The pledgor disputed the exposure set by the secured party; `undisputedExposure` stays callable.
    event ExposureDisputed(uint256 securedPartyExposure, uint256 pledgorExposure, uint256 undisputedExposure);
    /// @notice While a dispute is open, the pledgor (`by`) raised the figure it admits towards the secured party's mark
    /// (the secured party narrows a dispute by marking lower with `setExposure`).
    event DisputeFigureChanged(address indexed by, uint256 securedPartyExposure, uint256 pledgorExposure);
    /// @notice The dispute was resolved by `by` at `agreedExposure`.
    event DisputeResolved(address indexed by, uint256 agreedExposure);
    /// @notice The pledgor swapped `amountOut` of `assetOut` for `amountIn` of `assetIn` in one transaction.
    event Substituted(address indexed assetIn, uint256 amountIn, address indexed assetOut, uint256 amountOut);
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
    /// @notice On release, `amount` of `asset` went back to the pledgor.
    event CollateralReturned(address indexed asset, address indexed to, uint256 amount);
    /// @notice On release, the token refused to move `amount` of `asset`; it stays here for the pledgor to withdraw.
    event CollateralReturnFailed(address indexed asset, address indexed to, uint256 amount);
    /// @notice A schedule line took effect at once (a listing or a loosening, or any change before the pledge).
    event EligibilityChanged(address indexed asset, EligibleAsset entry);
    /// @notice The accounted balance of `asset` was set to what the vault holds (a rebase, a write-down, or a
    /// surplus the pledgor claimed).
    event Reconciled(address indexed asset, uint256 accountedBefore, uint256 held);
    /// @notice A tightening of the live schedule was queued; it takes effect at `effectiveAt`.
    event EligibilityChangeQueued(address indexed asset, EligibleAsset entry, uint256 effectiveAt);

    // ---------------------------------------------------------------- errors

    /// @notice `caller` may not do this; `expected` is who may.
    error Unauthorized(address caller, address expected);
    /// @notice The vault is in `actual`, and this needs another state.
    error InvalidState(VaultState actual);
    /// @notice `asset` is not eligible collateral under the agreement's schedule.
    error IneligibleAsset(address asset);
    /// @notice An amount of zero was given.
    error ZeroAmount();
    /// @notice The token delivered `received` where `expected` was asked (fee on transfer or short delivery).
    error ShortDelivery(address asset, uint256 expected, uint256 received);
    /// @notice The pledgor asked for `requested` of `asset`, and the vault accounts for only `available`.
    error InsufficientCollateral(address asset, uint256 requested, uint256 available);
    /// @notice The withdrawal would leave `collateralValue` below the `requirement`.
    error WithdrawalBreachesRequirement(uint256 collateralValue, uint256 requirement);
    /// @notice The signed consent expired at `deadline`.
    error ConsentExpired(uint256 deadline, uint256 nowTs);
    /// @notice The consent signature is not `signer`'s.
    error InvalidConsentSignature(address signer);
    /// @notice No default has been established, so exclusive control cannot be taken.
    error NoDefault();
    /// @notice The notice's document hash is zero.
    error EmptyNotice();
    /// @notice A destination is the zero address.
    error ZeroAddress();
    /// @notice The schedule lists `count` assets, and `max` is the most an agreement may hold.
    error TooManyAssets(uint256 count, uint256 max);
    /// @notice A haircut or concentration cap is above 100%.
    error InvalidBps(uint256 haircutBps, uint256 concentrationCapBps);
    /// @notice The asset's or the feed's decimals are outside 0..36.
    error UnsupportedDecimals(address asset, uint256 decimals);
    /// @notice Under exclusive control, moving this would bring the value taken to `appropriated`, beyond the
    /// `amountDue` (exposure plus penalty) at oracle value; an asset without a valid price cannot be appropriated.
    error AppropriationExceedsAmountDue(uint256 appropriated, uint256 amountDue);
    /// @notice No margin call is due: the shortfall of `collateralValue` against `requirement` is below the
    /// minimum transfer amount `minimumTransferAmount` (or there is none).
    error NoMarginCallDue(uint256 collateralValue, uint256 requirement, uint256 minimumTransferAmount);
    /// @notice A margin call for `amount` is already open until `deadline`.
    error MarginCallAlreadyOpen(uint256 amount, uint256 deadline);
    /// @notice The margin call's cure deadline `deadline` has not passed yet.
    error CureDeadlineNotPassed(uint256 deadline, uint256 nowTs);
    /// @notice The open call is cured, so it is no default (anyone may close it with `closeMarginCall`): the called
    /// amount was delivered, or the collateral value `collateralValue` meets the call's `requirement`.
    error MarginCallCured(uint256 collateralValue, uint256 requirement);
    /// @notice The collateral's excess `excess` over the requirement is below the minimum transfer amount.
    error ExcessBelowMinimumTransfer(uint256 excess, uint256 minimumTransferAmount);
    /// @notice The exposure set at `setAt` can no longer be disputed: the window of `window` seconds has closed.
    error DisputeWindowClosed(uint256 setAt, uint256 window, uint256 nowTs);
    /// @notice The exposure is already in dispute.
    error DisputeAlreadyOpen();
    /// @notice No dispute is open.
    error NoDisputeOpen();
    /// @notice `by` may not resolve the dispute at `agreedExposure`.
    error InvalidResolution(address by, uint256 agreedExposure);
    /// @notice Two arrays that must have one entry each differ in length.
    error LengthMismatch(uint256 left, uint256 right);
    /// @notice The sale's cash is worth `cashValue`, below `minimumCashValue` (oracle value less the maximum
    /// liquidation discount).
    error SalePriceTooLow(uint256 cashValue, uint256 minimumCashValue);
    /// @notice New risk is paused by the guardian.
    error Paused();
    /// @notice The open margin call cannot be closed: the collateral (on valid prices) is still below the requirement.
    error MarginCallNotMet(uint256 collateralValue, uint256 requirement);
    /// @notice The assets returned by a substitution are worth (after haircut) more than the substitute delivered.
    error SubstitutionExceedsValue(uint256 valueOut, uint256 valueIn);
    /// @notice Too little gas is left to give a token transfer its full allowance; retry with a higher gas limit.
    error InsufficientGas(uint256 gasLeft, uint256 needed);
    /// @notice The pledgor's figure `pledgorExposure` is not below the secured party's mark `exposure` (nor above the
    /// part of it already enforceable): there is nothing to dispute.
    error NothingDisputed(uint256 pledgorExposure, uint256 exposure);
    /// @notice The consent names the terms `given`, and the agreement's terms are now `current` (the schedule changed).
    error TermsHashMismatch(bytes32 given, bytes32 current);
    /// @notice Only the secured party may release yet: `remainingDue` of the amount due is still owed (at least the
    /// minimum transfer amount) and the appropriation period runs until `releasableAt`.
    error ReleaseNotYetAllowed(address caller, uint256 remainingDue, uint256 releasableAt);
    /// @notice On a live agreement the price source of a listed asset is fixed: `asset` is priced by `feed` (zero once
    /// delisted) and may not be priced by `proposedFeed` (or another kind) on the secured party's word alone.
    error PriceSourceFixed(address asset, address feed, address proposedFeed);
    /// @notice `feed` does not answer `latestRoundData()` as a price feed (it is the asset itself, has no code, or
    /// returns something else).
    error FeedUnreadable(address asset, address feed);
    /// @notice A token or feed being listed did not answer `selector` (`decimals()`, or `asset()` of an ERC-4626
    /// share) with one word.
    error MetadataUnreadable(address target, bytes4 selector);

    // ---------------------------------------------------------------- lifecycle

    /// @notice Called once by the factory right after cloning.
    /// @param terms The agreement's Credit Support Annex terms.
    /// @param schedule The initial eligibility schedule.
    /// @param sequencer The deployment's L2 sequencer check (a zero feed disables it).
    function initialize(
        AgreementTerms calldata terms,
        EligibilityInput[] calldata schedule,
        SequencerCheck calldata sequencer
    ) external;

    /// @notice The pledgor posts `amount` of `asset` as collateral. Only the pledgor: an outsider's dust of a
    /// listed asset whose feed is down would otherwise block every valuation of the agreement.
    /// @dev Reverts `Unauthorized` for any other caller, `IneligibleAsset` for an asset outside the effective
    /// schedule, `ShortDelivery` when the token delivers less than `amount`, and `InvalidState` under exclusive
    /// control, liquidation or after release.
    /// @param asset The ERC-20 or ERC-4626 share to post; the caller approves this vault first.
    /// @param amount Raw token units.
    function deposit(address asset, uint256 amount) external;

    /// @notice Sets the accounted balance of `asset` to what the vault holds, for tokens whose balances change
    /// without a transfer (rebasing, write-downs). A shortfall is written down by anyone, so the agreement is
    /// never valued on tokens it no longer has; a surplus is credited only at the pledgor's call, and only for an
    /// eligible asset.
    /// @param asset The token to reconcile.
    /// @return balance The accounted balance after (equal to what the vault holds).
    function reconcile(address asset) external returns (uint256 balance);

    /// @notice The pledgor takes back `amount` of `asset` to `to`: freely while `Open` or after `Released`, only
    /// the excess above the requirement while `Pledged` (valued on valid prices), never otherwise.
    /// @param asset The asset to withdraw.
    /// @param amount Raw token units.
    /// @param to The receiver.
    function withdraw(address asset, uint256 amount, address to) external;

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

    /// @notice The secured party marks the exposure, in base currency WAD. The mark is callable at once (a margin call
    /// may use it), but it becomes enforceable (part of an amount due) only once the pledgor could dispute it: when
    /// its dispute window has passed, or by agreement. A new mark never ends an open dispute: while one is open, only
    /// the pledgor's figure (at most the mark) is callable and enforceable, and a mark at or below that figure ends
    /// the dispute at the mark.
    /// @param exposure The secured party's mark-to-market exposure to the pledgor.
    function setExposure(uint256 exposure) external;

    /// @notice Establishes a default: the pledgor acknowledging one, the control agent (as neutral party)
    /// declaring an event of default, or anyone once a margin call is unmet past its cure deadline. A default on an
    /// unmet call lasts only while the call does: curing it, even late, ends the default (`DefaultCured`).
    function declareDefault() external;

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

    /// @notice The pledgor swaps `amountOut` of `assetOut` for `amountIn` of `assetIn` in one transaction, the
    /// new asset eligible, what comes out worth no more than what goes in (after haircuts, as under the CSA; an
    /// ineligible asset counts for nothing), and coverage never below the requirement.
    /// @param assetIn The eligible asset delivered in (the caller approves this vault).
    /// @param amountIn Raw units of `assetIn`.
    /// @param assetOut The asset taken back.
    /// @param amountOut Raw units of `assetOut`.
    /// @param to The receiver of `assetOut`.
    function substitute(address assetIn, uint256 amountIn, address assetOut, uint256 amountOut, address to) external;

    // ---------------------------------------------------------------- margin

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

    /// @notice One asset of an automatic top-up, pulled from `source`: worth after haircut what `needed` asks and no
    /// more than the last raw unit beyond it, within the asset's cap and what the source holds and allows. Only the
    /// vault itself calls it, from `issueMarginCall`, so that anything the asset does wrong (a bad price, a failing
    /// balance read, conversion or transfer, gas burnt) undoes that asset's pull alone.
    /// @param asset The top-up asset.
    /// @param source The pledgor's pre-authorised source.
    /// @param needed The value (base currency WAD, after haircut) the call still needs.
    /// @return value The value after haircut credited.
    function pullTopUpAsset(address asset, address source, uint256 needed) external returns (uint256 value);

    /// @notice The pledgor pre-authorises `source` (which approves this vault) for automatic top-ups: the
    /// engine pulls `assets` in the given order, cheapest to the pledgor first, each up to its cap in total.
    /// @param source The address pulled from; zero disables the top-up.
    /// @param assets Eligible assets in the pledgor's cost order.
    /// @param caps The most of each asset that may ever be pulled, in raw units.
    function configureTopUp(address source, address[] calldata assets, uint256[] calldata caps) external;

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

    // ---------------------------------------------------------------- schedule

    /// @notice The secured party lists, changes or delists (`feed` zero) an asset. Before the pledge, and for
    /// listings and loosenings, the change takes effect at once; a tightening of the live schedule takes effect
    /// after the agreement's notice period. On a live agreement the price source (feed and kind) of an asset listed
    /// before cannot change, nor can a delisted asset be listed again (`PriceSourceFixed`): the secured party could
    /// otherwise value the pledgor's collateral, and what it appropriates, at a price of its own choosing.
    /// @param input The new schedule line.
    function changeEligibility(EligibilityInput calldata input) external;

    // ---------------------------------------------------------------- views

    /// @notice The exposure, the part of it not in dispute, and the open margin call (zero amount when none).
    function marginState()
        external
        view
        returns (uint256 exposure, uint256 undisputedExposure, bool disputed, uint256 callAmount, uint256 callDeadline);

    /// @notice The requirement a margin call may enforce: on the undisputed exposure while a dispute is open.
    function callableRequirement() external view returns (uint256);

    /// @notice The exposure a notice delivered now would make due (before the penalty): the pledgor's figure while a
    /// dispute is open, the latest mark once its dispute window has passed, and before that the lower of the mark
    /// and the figure that was enforceable when it was set.
    function enforceableExposure() external view returns (uint256);

    /// @notice The open margin call: its amount, deadline, the requirement it answered when issued, and the value
    /// delivered against it so far (zero when no call is open). One call's amount and requirement are at most
    /// 2^128 - 1 WAD; a larger shortfall is called in instalments.
    function marginCall()
        external
        view
        returns (uint256 amount, uint256 deadline, uint256 requirementAtIssue, uint256 delivered);

    /// @notice The collateral value after haircuts and concentration caps, on valid prices only.
    function collateralValue() external view returns (uint256);

    /// @notice The market value (before haircut) of `amount` of `asset` on a valid price; reverts on a bad one.
    function valueOfHolding(address asset, uint256 amount) external view returns (uint256);

    /// @notice The effective schedule line of `asset` (a pending change counts once its time has come).
    function eligibility(address asset) external view returns (EligibleAsset memory);

    /// @notice The queued change of `asset` and when it takes effect (zero when none is queued).
    function pendingEligibility(address asset) external view returns (EligibleAsset memory entry, uint256 effectiveAt);

    /// @notice Every asset the schedule has ever listed, in listing order.
    function listedAssets() external view returns (address[] memory);

    /// @notice The accounted balance of `asset`.
    function balanceOf(address asset) external view returns (uint256);

    /// @notice The requirement: max(0, exposure - threshold) + independent amount.
    function requirement() external view returns (uint256);

    /// @notice The hash a pledge consent signs: the parties, the terms and the schedule version.
    function termsHash() external view returns (bytes32);

    /// @notice The parties and the factory, read from the clone's immutable arguments.
    function parties()
        external
        view
        returns (address pledgor, address securedParty, address controlAgent, address factory);

    /// @notice The agreement's terms.
    function terms() external view returns (AgreementTerms memory);

    /// @notice The current lock state.
    function state() external view returns (VaultState);
}
