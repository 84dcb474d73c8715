// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

import {IMarginEngine} from "../interfaces/IMarginEngine.sol";
import {BPS, EligibleAsset, VaultState} from "../types/AgreementTypes.sol";
import {PriceOracle, PriceSource} from "../libraries/PriceOracle.sol";
import {Valuation} from "../libraries/Valuation.sol";
import {CollateralLedger} from "./CollateralLedger.sol";

/// @title MarginEngine
/// @notice What the pledgor owes and when, under the agreement's Credit Support Annex terms: the secured party's
/// marks and the pledgor's disputes (no party's own figure is enforceable against the other), the requirement,
/// margin calls with their automatic top-ups and cure, defaults, and under exclusive control the amount due and
/// the value taken against it.
/// @dev Where its rules are enforced:
/// - the exposure rules: `setExposure`, `disputeExposure`, `resolveDispute`, `enforceableExposure`;
/// - a call's terms fixed at issue and its cure: `issueMarginCall`, `_isCured`, `_closeCall`;
/// - a default on an unmet call lasts only while the call does: `_requireUnmetCallPastDeadline`, `_closeCall`;
/// - bounded appropriation (promise 5): `_chargeAppropriation`, against the amount due fixed by `_fixAmountDue`.
abstract contract MarginEngine is CollateralLedger, IMarginEngine {
    /// @inheritdoc IMarginEngine
    uint8 public constant DEFAULT_BY_PLEDGOR_CONSENT = 1;
    /// @inheritdoc IMarginEngine
    uint8 public constant DEFAULT_BY_CONTROL_AGENT = 2;
    /// @inheritdoc IMarginEngine
    uint8 public constant DEFAULT_BY_UNMET_MARGIN_CALL = 3;

    /// @inheritdoc IMarginEngine
    uint256 public constant TOP_UP_ASSET_GAS = 700_000;

    // ---------------------------------------------------------------- exposure

    /// @inheritdoc IMarginEngine
    function setExposure(uint256 exposure) external nonReentrant {
        _requireSecuredParty();
        VaultState current = _state;
        if (current >= VaultState.ExclusiveControl) revert InvalidState(current);
        if (_disputed) {
            // A new mark never erases the dispute: the pledgor's figure stays what is callable, unless the secured
            // party now marks at or below it, which ends the dispute at the mark.
            if (exposure <= _pledgorExposure) {
                _resolve(exposure);
                return;
            }
        } else {
            _settledExposure = enforceableExposure();
            _exposureSetAt = uint40(block.timestamp);
        }
        uint256 required = _markExposure(exposure);
        emit ExposureSet(exposure, required);
    }

    /// @inheritdoc IMarginEngine
    function disputeExposure(uint256 pledgorExposure) external nonReentrant {
        _requirePledgor();
        _requireLive();
        if (_disputed) revert DisputeAlreadyOpen();
        uint256 setAt = _exposureSetAt;
        uint256 window = _terms.disputeWindow;
        if (block.timestamp > setAt + window) revert DisputeWindowClosed(setAt, window, block.timestamp);
        uint256 exposure = _exposure;
        // Within the window the enforceable part is the lower of the mark and the figure settled before it: only
        // what lies above it is in dispute.
        uint256 undisputed = Math.max(pledgorExposure, Math.min(exposure, _settledExposure));
        if (undisputed >= exposure) revert NothingDisputed(undisputed, exposure);
        _disputed = true;
        _pledgorExposure = undisputed;
        emit ExposureDisputed(exposure, pledgorExposure, undisputed);
    }

    /// @inheritdoc IMarginEngine
    function resolveDispute(uint256 agreedExposure) external nonReentrant {
        if (!_disputed) revert NoDisputeOpen();
        (address pledgor, address securedParty, address controlAgent, ) = parties();
        uint256 exposure = _exposure;
        uint256 pledgorFigure = _pledgorExposure;
        if (msg.sender == controlAgent && controlAgent != address(0)) {
            _resolve(agreedExposure);
        } else if (msg.sender == pledgor && agreedExposure >= exposure) {
            _resolve(exposure);
        } else if (msg.sender == pledgor && agreedExposure > pledgorFigure) {
            // An admission can be raised, never withdrawn.
            _pledgorExposure = agreedExposure;
            emit DisputeFigureChanged(msg.sender, exposure, agreedExposure);
        } else if (msg.sender == securedParty && agreedExposure <= pledgorFigure) {
            _resolve(agreedExposure);
        } else {
            revert InvalidResolution(msg.sender, agreedExposure);
        }
    }

    // ---------------------------------------------------------------- calls

    /// @inheritdoc IMarginEngine
    function issueMarginCall() external nonReentrant returns (bool met) {
        VaultState current = _state;
        if (current == VaultState.MarginCall) revert MarginCallAlreadyOpen(_callAmount, _callDeadline);
        if (current != VaultState.Pledged) revert InvalidState(current);
        uint256 value = collateralValue();
        uint256 required = callableRequirement();
        uint256 mta = _terms.minimumTransferAmount;
        if (value >= required || required - value < mta) revert NoMarginCallDue(value, required, mta);

        uint256 shortfall = required - value;
        uint256 amount = _roundUp(shortfall, _terms.roundingAmount);
        uint256 deadline = block.timestamp + _terms.curePeriod;
        _callAmount = _toUint128(amount);
        _callRequirement = _toUint128(required);
        _callDeadline = uint40(deadline);
        _moveTo(VaultState.MarginCall);
        emit MarginCallIssued(msg.sender, amount, shortfall, deadline, value, required);

        if (_topUpSource != address(0)) {
            uint256 valueAfter = _pullTopUps(value, value + amount);
            if (valueAfter >= required) {
                _closeCall(valueAfter);
                met = true;
            } else if (valueAfter > value) {
                _callDelivered = valueAfter - value;
            }
        }
    }

    /// @inheritdoc IMarginEngine
    function closeMarginCall() external nonReentrant {
        _requireState(VaultState.MarginCall);
        uint256 value = collateralValue();
        if (!_isCured(value)) revert MarginCallNotMet(value, _cureRequirement());
        _closeCall(value);
    }

    /// @inheritdoc IMarginEngine
    function configureTopUp(address source, address[] calldata assets, uint256[] calldata caps) external nonReentrant {
        _requirePledgor();
        if (assets.length != caps.length) revert LengthMismatch(assets.length, caps.length);
        if (assets.length > MAX_ASSETS) revert TooManyAssets(assets.length, MAX_ASSETS);
        address[] storage previous = _topUpAssets;
        for (uint256 i; i < previous.length; ++i) delete _topUpCapLeft[previous[i]];
        for (uint256 i; i < assets.length; ++i) {
            if (!_isEligible(assets[i])) revert IneligibleAsset(assets[i]);
            _topUpCapLeft[assets[i]] = caps[i];
        }
        _topUpSource = source;
        _topUpAssets = assets;
        emit TopUpConfigured(source, assets, caps);
    }

    /// @inheritdoc IMarginEngine
    function pullTopUpAsset(address asset, address source, uint256 needed) external returns (uint256 value) {
        if (msg.sender != address(this)) revert Unauthorized(msg.sender, address(this));
        EligibleAsset memory entry = _effective(asset);
        PriceSource memory priceSource = _source(entry);
        uint256 answer = PriceOracle.latestAnswer(priceSource, sequencerCheck());
        // The smallest amount that covers what remains of the call: rounding down instead would leave a call equal
        // to its shortfall a few wei unmet however much the source holds.
        uint256 amount = PriceOracle.amountForValue(
            asset,
            priceSource,
            answer,
            Math.mulDiv(needed, BPS, BPS - entry.haircutBps, Math.Rounding.Ceil)
        );
        uint256 capLeft = _topUpCapLeft[asset];
        amount = Math.min(amount, Math.min(capLeft, _available(asset, source)));
        if (amount == 0) return 0;

        (bool transferred, uint256 received) = _tryReceive(asset, source, amount);
        if (!transferred) return 0;
        capLeft -= amount;
        _topUpCapLeft[asset] = capLeft;
        value = Valuation.afterHaircut(PriceOracle.valueAt(asset, priceSource, answer, received), entry.haircutBps);
        emit TopUpPulled(asset, source, received, value, capLeft);
    }

    // ---------------------------------------------------------------- default

    /// @inheritdoc IMarginEngine
    function declareDefault() external nonReentrant {
        VaultState current = _requireLive();
        (address pledgor, , address controlAgent, ) = parties();
        uint8 reason;
        if (msg.sender == pledgor) reason = DEFAULT_BY_PLEDGOR_CONSENT;
        else if (msg.sender == controlAgent && controlAgent != address(0)) reason = DEFAULT_BY_CONTROL_AGENT;
        else if (current == VaultState.MarginCall) {
            _requireUnmetCallPastDeadline();
            reason = DEFAULT_BY_UNMET_MARGIN_CALL;
        } else revert Unauthorized(msg.sender, controlAgent);
        // A declared default (the pledgor's or the control agent's) is never recast as one on the unmet call, which
        // a cure would end.
        if (reason != DEFAULT_BY_UNMET_MARGIN_CALL || _defaultReason == 0) _defaultReason = reason;
        emit DefaultDeclared(msg.sender, reason);
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc IMarginEngine
    function requirement() public view returns (uint256) {
        uint256 cached = _requirement;
        return cached == type(uint128).max ? _requirementAt(_exposure) : cached;
    }

    /// @inheritdoc IMarginEngine
    function callableRequirement() public view returns (uint256) {
        return _disputed ? _requirementAt(_pledgorExposure) : requirement();
    }

    /// @inheritdoc IMarginEngine
    function enforceableExposure() public view returns (uint256) {
        uint256 exposure = _exposure;
        if (_disputed) return _pledgorExposure;
        if (block.timestamp > uint256(_exposureSetAt) + _terms.disputeWindow) return exposure;
        return Math.min(exposure, _settledExposure);
    }

    /// @inheritdoc IMarginEngine
    function marginState()
        external
        view
        returns (uint256 exposure, uint256 undisputedExposure, bool disputed, uint256 callAmount, uint256 callDeadline)
    {
        exposure = _exposure;
        disputed = _disputed;
        undisputedExposure = disputed ? _pledgorExposure : exposure;
        return (exposure, undisputedExposure, disputed, _callAmount, _callDeadline);
    }

    /// @inheritdoc IMarginEngine
    function marginCall()
        external
        view
        returns (uint256 amount, uint256 deadline, uint256 requirementAtIssue, uint256 delivered)
    {
        return (_callAmount, _callDeadline, _callRequirement, _callDelivered);
    }

    /// @inheritdoc IMarginEngine
    function topUpConfiguration()
        external
        view
        returns (address source, address[] memory assets, uint256[] memory capsLeft)
    {
        assets = _topUpAssets;
        capsLeft = new uint256[](assets.length);
        for (uint256 i; i < assets.length; ++i) capsLeft[i] = _topUpCapLeft[assets[i]];
        return (_topUpSource, assets, capsLeft);
    }

    /// @inheritdoc IMarginEngine
    function appropriation() external view returns (uint256 amountDue, uint256 appropriated) {
        return (_amountDue, _appropriated);
    }

    // ---------------------------------------------------------------- internals

    /// @dev Pulls eligible assets from the top-up source, in the pledgor's cost order, until the call's `needed` value
    /// is covered. Each asset is pulled in a call of its own with a gas cap (`pullTopUpAsset`), so that whatever
    /// one asset does wrong (a bad price, a failing balance read, conversion or transfer, or gas burnt) undoes that
    /// asset's pull alone and the top-up goes on with the next.
    /// Progress is measured on the collateral value after caps, re-valued after each pull: an asset whose cap binds
    /// adds less than its own value, and the pull goes on with the next.
    /// @return value The collateral value after the pulls.
    function _pullTopUps(uint256 value, uint256 target) private returns (uint256) {
        address source = _topUpSource;
        address[] memory assets = _topUpAssets;
        for (uint256 i; i < assets.length && value < target; ++i) {
            address asset = assets[i];
            EligibleAsset memory entry = _effective(asset);
            if (_topUpCapLeft[asset] == 0 || address(entry.feed) == address(0) || entry.haircutBps >= BPS) continue;
            // The full allowance at hand, so that no asset is skipped for want of the caller's gas.
            _requireGas(TOP_UP_ASSET_GAS + 10_000);
            try this.pullTopUpAsset{gas: TOP_UP_ASSET_GAS}(asset, source, target - value) returns (uint256 pulled) {
                // Valued directly: every price was just validated, so a failure here can only be the caller's gas
                // running out, which must revert rather than leave a met call open.
                if (pulled != 0) value = collateralValue();
            } catch {}
        }
        return value;
    }

    /// @dev What the source can actually deliver: the lower of its balance and its allowance to this vault.
    function _available(address asset, address source) private view returns (uint256) {
        return Math.min(IERC20(asset).balanceOf(source), IERC20(asset).allowance(source, address(this)));
    }

    /// @dev Whether the open call is cured at collateral value `value`: by the called amount delivered, or by the value
    /// reaching the call's own requirement (or today's callable one, when lower), whatever was marked since.
    function _isCured(uint256 value) private view returns (bool) {
        return _callDelivered >= _callAmount || value >= _cureRequirement();
    }

    /// @dev The value that cures the open call: its requirement at issue, or today's callable requirement if lower.
    function _cureRequirement() private view returns (uint256) {
        return Math.min(_callRequirement, callableRequirement());
    }

    /// @dev Closes the cured call; a default it caused ends with it.
    function _closeCall(uint256 value) private {
        emit MarginCallMet(value, _cureRequirement());
        _clearCall();
        if (_defaultReason == DEFAULT_BY_UNMET_MARGIN_CALL) {
            _defaultReason = 0;
            emit DefaultCured(DEFAULT_BY_UNMET_MARGIN_CALL);
        }
        _moveTo(VaultState.Pledged);
    }

    function _clearCall() internal {
        _callAmount = 0;
        _callRequirement = 0;
        _callDeadline = 0;
        _callDelivered = 0;
    }

    /// @dev Ends the dispute at `agreed` (enforceable at once); under exclusive control it can only lower the amount
    /// due. Clearing the mark's time closes its dispute window: an agreed figure is not disputed again.
    function _resolve(uint256 agreed) private {
        _disputed = false;
        uint256 required = _markExposure(agreed);
        _settledExposure = agreed;
        _exposureSetAt = 0;
        if (_state >= VaultState.ExclusiveControl) _amountDue = _toUint128(Math.min(_amountDue, _dueAt(agreed)));
        emit DisputeResolved(msg.sender, agreed);
        emit ExposureSet(agreed, required);
    }

    /// @dev The one writer of the exposure, which refreshes the requirement cached with it (withdrawals read one slot
    /// instead of the exposure and the threshold's terms word).
    function _markExposure(uint256 exposure) internal returns (uint256 required) {
        _exposure = exposure;
        required = _requirementAt(exposure);
        _requirement = _toUint128(required);
    }

    /// @dev At initialisation: no exposure yet, and the minimum transfer amount cached beside the requirement.
    function _startMarginEngine() internal {
        _minimumTransferAmount = _terms.minimumTransferAmount;
        _markExposure(0);
    }

    /// @dev A deposit while a call is open: what it adds (after haircuts and caps, at today's prices) counts towards
    /// the call. A bad price of an asset already held leaves the delivery uncounted rather than blocking it: the call
    /// can still be cured by value once prices are back. An asset delivered without a valid price of its own is
    /// refused by name.
    function _receiveTowardsCall(address asset, address from, uint256 amount) internal {
        (bool priced, uint256 valueBefore) = _tryCollateralValue();
        _receive(asset, from, amount);
        if (!priced) return;
        uint256 valueAfter = collateralValue();
        if (valueAfter > valueBefore) _callDelivered += valueAfter - valueBefore;
        if (_isCured(valueAfter)) _closeCall(valueAfter);
    }

    /// @dev The default a notice rests on must be continuing: the pledgor's or the control agent's declaration, or a
    /// margin call open, past its deadline and not cured (recorded as the default now if no one declared it).
    function _requireContinuingDefault(VaultState current) internal {
        uint8 reason = _defaultReason;
        if (reason != 0 && reason != DEFAULT_BY_UNMET_MARGIN_CALL) return;
        if (current != VaultState.MarginCall) revert NoDefault();
        _requireUnmetCallPastDeadline();
        if (reason == 0) {
            _defaultReason = DEFAULT_BY_UNMET_MARGIN_CALL;
            emit DefaultDeclared(msg.sender, DEFAULT_BY_UNMET_MARGIN_CALL);
        }
    }

    /// @dev At the notice: the open call ends and the amount due is fixed as the enforceable exposure plus penalty.
    function _fixAmountDue() internal {
        _clearCall();
        _amountDue = _toUint128(_dueAt(enforceableExposure()));
        _noticedAt = uint40(block.timestamp);
        _lastAppropriationAt = uint40(block.timestamp);
    }

    /// @dev Promise 5: value taken under exclusive control counts against the amount due, never beyond it. The one
    /// charge of `instructTransfer` and `liquidate`.
    function _chargeAppropriation(uint256 value) internal {
        (uint256 due, uint256 appropriated) = (_amountDue, _appropriated + value);
        if (appropriated > due) revert AppropriationExceedsAmountDue(appropriated, due);
        _appropriated = uint128(appropriated); // at most `due`, itself a uint128
        _lastAppropriationAt = uint40(block.timestamp);
    }

    /// @dev Under exclusive control anyone may release the surplus, which never stays locked: once what is due is met
    /// (a remainder below the minimum transfer amount needs no transfer, as under the CSA) or the secured party lets
    /// the appropriation period pass. A resolution after the notice may have lowered the amount due below what was
    /// already taken. Each appropriation restarts the period, but dust taken now and then cannot hold the surplus for
    /// ever: it is releasable two periods after the notice at the latest.
    function _requireReleasable() internal view {
        (uint256 due, uint256 taken) = (_amountDue, _appropriated);
        uint256 remaining = due > taken ? due - taken : 0;
        uint256 period = _terms.appropriationPeriod;
        uint256 releasableAt = Math.min(uint256(_lastAppropriationAt) + period, uint256(_noticedAt) + 2 * period);
        if (remaining != 0 && remaining >= _minimumTransferAmount && block.timestamp < releasableAt) {
            revert ReleaseNotYetAllowed(msg.sender, remaining, releasableAt);
        }
    }

    /// @dev The amount due on `exposure`: the exposure plus the agreed liquidation penalty.
    function _dueAt(uint256 exposure) private view returns (uint256) {
        return exposure + Math.mulDiv(exposure, _terms.liquidationPenaltyBps, BPS);
    }

    /// @dev A called amount, an amount due or a cached requirement is at most 2^128 - 1 WAD (3.4e20 units of base
    /// currency, beyond any real agreement): a larger shortfall is called in instalments, the next once this one is
    /// cured; a larger amount due only bounds the secured party more tightly; a saturated requirement is computed
    /// exactly when read.
    function _toUint128(uint256 value) private pure returns (uint128) {
        return uint128(Math.min(value, type(uint128).max));
    }

    function _requirementAt(uint256 exposure) private view returns (uint256) {
        uint256 threshold = _terms.threshold;
        return (exposure > threshold ? exposure - threshold : 0) + _terms.independentAmount;
    }

    function _roundUp(uint256 value, uint256 rounding) private pure returns (uint256) {
        if (rounding == 0) return value;
        return Math.mulDiv(value, 1, rounding, Math.Rounding.Ceil) * rounding;
    }

    /// @dev An open call is a default only once its cure deadline has passed and it is still not cured (valued on
    /// valid prices): a call cured by a delivery or a price recovery but not yet closed is no default.
    function _requireUnmetCallPastDeadline() private view {
        uint256 deadline = _callDeadline;
        if (block.timestamp <= deadline) revert CureDeadlineNotPassed(deadline, block.timestamp);
        uint256 value = collateralValue();
        if (_isCured(value)) revert MarginCallCured(value, _cureRequirement());
    }
}
