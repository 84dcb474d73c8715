// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Clones} from "@openzeppelin/contracts/proxy/Clones.sol";
import {Initializable} from "@openzeppelin/contracts/proxy/utils/Initializable.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

import {
    AgreementTerms,
    EligibilityInput,
    EligibleAsset,
    ICollateralVault,
    VaultState
} from "../interfaces/ICollateralVault.sol";
import {IAgreementFactory} from "../interfaces/IAgreementFactory.sol";
import {PriceOracle, PriceSource, SequencerCheck} from "../libraries/PriceOracle.sol";
import {Valuation} from "../libraries/Valuation.sol";
import {EligibilitySchedule} from "./EligibilitySchedule.sol";

/// @title CollateralVault
/// @notice One agreement's segregated vault, deployed by the factory as an ERC-1167 clone whose immutable
/// arguments are the parties. It holds that agreement's collateral only.
/// @dev Where each promise of DESIGN.md is enforced:
/// - nothing lost: deposits check what arrived (`_receive`), every debit passes `_debit`;
/// - segregation: the vault holds one agreement's assets; the factory's keeper batch calls each vault on its own;
/// - exclusive control: `withdraw` and `substitute` refuse every state but `Open`/`Pledged` (and `Released`);
/// - no under-collateralised withdrawal: `_valuation` with strict prices in `withdraw`, `_requireCovered` in
///   `substitute`;
/// - bounded appropriation: `_appropriate` (from `instructTransfer` and `liquidate`) never moves more value than
///   the amount due, which is fixed from the enforceable exposure (`enforceableExposure`) plus the penalty;
/// - atomic settlement: `liquidate` delivers through the DvP contract, both legs or neither;
/// - pausing never traps: only new risk (`consentToPledge`, `pledgeWithSignature`) reads the pause;
///   `withdraw`, `release` and exclusive-control instructions never do.
/// The exposure rules (no party's own figure is enforceable against the other) live in `setExposure`,
/// `disputeExposure`, `resolveDispute`, `enforceableExposure` and the margin call's cure test (`_isCured`).
contract CollateralVault is EligibilitySchedule, Initializable, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @notice How a default was established.
    uint8 public constant DEFAULT_BY_PLEDGOR_CONSENT = 1;
    uint8 public constant DEFAULT_BY_CONTROL_AGENT = 2;
    uint8 public constant DEFAULT_BY_UNMET_MARGIN_CALL = 3;

    /// @notice Gas each token transfer of `release` and of an automatic top-up may use: ample for any ERC-20,
    /// bounded for a hostile one, so one token burning its gas cannot starve the transfers after it.
    uint256 public constant TOKEN_TRANSFER_GAS = 300_000;

    /// @notice Gas each asset of an automatic top-up may use (price read, balance reads, conversion, capped transfer):
    /// ample for sound tokens, and sixteen of them fit a transaction even when every one burns its allowance.
    uint256 public constant TOP_UP_ASSET_GAS = 700_000;

    // One slot: what nearly every call reads.
    VaultState private _state;
    bool private _pledgorConsented;
    bool private _securedPartyConsented;
    uint8 private _defaultReason;
    bool private _disputed;
    uint40 private _exposureSetAt;
    uint40 private _callDeadline;
    /// @dev Under exclusive control: when the notice was delivered, and when value was last taken.
    uint40 private _noticedAt;
    uint40 private _lastAppropriationAt;

    uint256 private _exposure;
    /// @dev While disputed: the pledgor's figure, below the mark and never below what was enforceable when the
    /// dispute opened; it is what stays callable and enforceable.
    uint256 private _pledgorExposure;
    /// @dev What was enforceable when the latest mark was set: it stays so until that mark's dispute window passes.
    uint256 private _settledExposure;
    // One slot, written once per call: saturated at 2^128 - 1 WAD, beyond any real agreement.
    uint128 private _callAmount;
    /// @dev The callable requirement the open call answered when it was issued.
    uint128 private _callRequirement;
    /// @dev The value delivered against the open call, each delivery at its marginal value when it arrived.
    uint256 private _callDelivered;
    address private _topUpSource;
    address[] private _topUpAssets;
    mapping(address asset => uint256) private _topUpCapLeft;
    AgreementTerms private _terms;
    SequencerCheck private _sequencer;
    bytes32 private _noticeHash;
    /// @dev Fixed when the notice is delivered: exposure plus the liquidation penalty.
    uint256 private _amountDue;
    /// @dev Value moved out under exclusive control so far, at oracle value when it moved.
    uint256 private _appropriated;
    mapping(address asset => uint256) private _balances;

    constructor() {
        _disableInitializers();
    }

    // ---------------------------------------------------------------- lifecycle

    /// @inheritdoc ICollateralVault
    function initialize(
        AgreementTerms calldata terms_,
        EligibilityInput[] calldata schedule,
        SequencerCheck calldata sequencer
    ) external initializer {
        (address pledgor, address securedParty, address controlAgent, address factory) = parties();
        if (msg.sender != factory) revert Unauthorized(msg.sender, factory);
        _terms = terms_;
        _sequencer = sequencer;
        for (uint256 i; i < schedule.length; ++i) _setEligibility(schedule[i], false, 0);
        emit AgreementInitialized(pledgor, securedParty, controlAgent, terms_);
    }

    /// @inheritdoc ICollateralVault
    function deposit(address asset, uint256 amount) external nonReentrant {
        (address pledgor, , , ) = parties();
        if (msg.sender != pledgor) revert Unauthorized(msg.sender, pledgor);
        if (amount == 0) revert ZeroAmount();
        VaultState current = _state;
        if (current > VaultState.MarginCall) revert InvalidState(current);
        if (!_isEligible(asset)) revert IneligibleAsset(asset);

        if (current != VaultState.MarginCall) {
            _receive(asset, msg.sender, amount);
            return;
        }
        // What the deposit adds (after haircuts and caps, at today's prices) counts towards the open call. A bad price
        // of an asset already held leaves the delivery uncounted rather than blocking it: the call can still be cured
        // by value once prices are back. An asset delivered without a valid price of its own is refused by name.
        (bool priced, uint256 valueBefore) = _tryCollateralValue();
        _receive(asset, msg.sender, amount);
        if (!priced) return;
        uint256 valueAfter = collateralValue();
        if (valueAfter > valueBefore) _callDelivered += valueAfter - valueBefore;
        if (_isCured(valueAfter)) _closeCall(valueAfter);
    }

    /// @inheritdoc ICollateralVault
    function reconcile(address asset) external nonReentrant returns (uint256 held) {
        uint256 accounted = _balances[asset];
        held = IERC20(asset).balanceOf(address(this));
        if (held > accounted) {
            (address pledgor, , , ) = parties();
            if (msg.sender != pledgor) revert Unauthorized(msg.sender, pledgor);
            if (!_isEligible(asset)) revert IneligibleAsset(asset);
        }
        _balances[asset] = held;
        emit Reconciled(asset, accounted, held);
    }

    /// @inheritdoc ICollateralVault
    function withdraw(address asset, uint256 amount, address to) external nonReentrant {
        (address pledgor, , , ) = parties();
        if (msg.sender != pledgor) revert Unauthorized(msg.sender, pledgor);
        if (to == address(0)) revert ZeroAddress();
        if (amount == 0) revert ZeroAmount();
        VaultState current = _state;
        if (current != VaultState.Open && current != VaultState.Pledged && current != VaultState.Released) {
            revert InvalidState(current);
        }

        uint256 balance = _debit(asset, amount);
        if (current == VaultState.Pledged) {
            // One valuation serves both checks: the excess before (a return is due only once it reaches the
            // minimum transfer amount) and the coverage after (promise 4).
            (uint256 valueBefore, uint256 valueAfter) = _valuation(asset, amount);
            uint256 required = requirement();
            uint256 excess = valueBefore > required ? valueBefore - required : 0;
            uint256 mta = _terms.minimumTransferAmount;
            if (excess < mta) revert ExcessBelowMinimumTransfer(excess, mta);
            if (valueAfter < required) revert WithdrawalBreachesRequirement(valueAfter, required);
        }
        emit Withdrawn(asset, to, amount, balance);
        IERC20(asset).safeTransfer(to, amount);
    }

    /// @inheritdoc ICollateralVault
    function consentToPledge(bytes32 expectedTermsHash) external nonReentrant {
        _requireState(VaultState.Open);
        _requireNotPaused();
        bytes32 hash = termsHash();
        if (expectedTermsHash != hash) revert TermsHashMismatch(expectedTermsHash, hash);
        (address pledgor, address securedParty, , ) = parties();
        if (msg.sender == pledgor) _pledgorConsented = true;
        else if (msg.sender == securedParty) _securedPartyConsented = true;
        else revert Unauthorized(msg.sender, pledgor);
        emit PledgeConsented(msg.sender, hash, false);
        if (_pledgorConsented && _securedPartyConsented) _moveTo(VaultState.Pledged);
    }

    /// @inheritdoc ICollateralVault
    function pledgeWithSignature(uint256 deadline, bytes calldata signature) external nonReentrant {
        _requireState(VaultState.Open);
        _requireNotPaused();
        if (block.timestamp > deadline) revert ConsentExpired(deadline, block.timestamp);
        (address pledgor, address securedParty, , address factory) = parties();
        address signer;
        if (msg.sender == pledgor) signer = securedParty;
        else if (msg.sender == securedParty) signer = pledgor;
        else revert Unauthorized(msg.sender, pledgor);

        // The consent is signed in the factory's EIP-712 domain; the terms hash commits to this vault's address.
        bytes32 hash = termsHash();
        if (!IAgreementFactory(factory).isValidPledgeConsent(signer, hash, deadline, signature)) {
            revert InvalidConsentSignature(signer);
        }

        _pledgorConsented = true;
        _securedPartyConsented = true;
        emit PledgeConsented(msg.sender, hash, false);
        emit PledgeConsented(signer, hash, true);
        _moveTo(VaultState.Pledged);
    }

    /// @inheritdoc ICollateralVault
    function setExposure(uint256 exposure) external nonReentrant {
        (, address securedParty, , ) = parties();
        if (msg.sender != securedParty) revert Unauthorized(msg.sender, securedParty);
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
        _exposure = exposure;
        emit ExposureSet(exposure, requirement());
    }

    /// @inheritdoc ICollateralVault
    function declareDefault() external nonReentrant {
        VaultState current = _state;
        if (current != VaultState.Pledged && current != VaultState.MarginCall) revert InvalidState(current);
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

    /// @inheritdoc ICollateralVault
    function deliverNoticeOfExclusiveControl(bytes32 documentHash) external nonReentrant {
        _requireSecuredPartyOrAgent();
        VaultState current = _state;
        if (current != VaultState.Pledged && current != VaultState.MarginCall) revert InvalidState(current);
        uint8 reason = _defaultReason;
        // A default on an unmet call must still be continuing: the call open, past its deadline and not cured.
        if (reason == 0 || reason == DEFAULT_BY_UNMET_MARGIN_CALL) {
            if (current != VaultState.MarginCall) revert NoDefault();
            _requireUnmetCallPastDeadline();
            if (reason == 0) {
                _defaultReason = DEFAULT_BY_UNMET_MARGIN_CALL;
                emit DefaultDeclared(msg.sender, DEFAULT_BY_UNMET_MARGIN_CALL);
            }
        }
        if (documentHash == bytes32(0)) revert EmptyNotice();
        _clearCall();
        _noticeHash = documentHash;
        _amountDue = _dueAt(enforceableExposure());
        _noticedAt = uint40(block.timestamp);
        _lastAppropriationAt = uint40(block.timestamp);
        emit NoticeOfExclusiveControlDelivered(msg.sender, documentHash);
        _moveTo(VaultState.ExclusiveControl);
    }

    /// @inheritdoc ICollateralVault
    function instructTransfer(address asset, uint256 amount, address to) external nonReentrant {
        _requireSecuredPartyOrAgent();
        _requireUnderExclusiveControl();
        if (to == address(0)) revert ZeroAddress();
        if (amount == 0) revert ZeroAmount();

        // An asset without a price (delisted or never listed) cannot be appropriated: it would count for nothing.
        EligibleAsset memory entry = _effective(asset);
        if (address(entry.feed) == address(0)) revert AppropriationExceedsAmountDue(type(uint256).max, _amountDue);
        _appropriate(PriceOracle.valueOf(asset, _source(entry), _sequencer, amount));
        _debit(asset, amount);
        emit TransferInstructed(asset, to, msg.sender, amount);
        IERC20(asset).safeTransfer(to, amount);
    }

    /// @inheritdoc ICollateralVault
    function substitute(
        address assetIn,
        uint256 amountIn,
        address assetOut,
        uint256 amountOut,
        address to
    ) external nonReentrant {
        (address pledgor, , , ) = parties();
        if (msg.sender != pledgor) revert Unauthorized(msg.sender, pledgor);
        _requireState(VaultState.Pledged);
        if (to == address(0)) revert ZeroAddress();
        if (amountIn == 0 || amountOut == 0) revert ZeroAmount();
        if (!_isEligible(assetIn)) revert IneligibleAsset(assetIn);

        // As under the CSA, what is returned is worth no more than its substitute (after haircuts): a substitution
        // is never a way round the minimum transfer amount of a withdrawal.
        uint256 valueIn = _collateralValueOf(assetIn, amountIn);
        uint256 valueOut = _collateralValueOf(assetOut, amountOut);
        if (valueOut > valueIn) revert SubstitutionExceedsValue(valueOut, valueIn);
        _receive(assetIn, msg.sender, amountIn);
        uint256 balanceOut = _debit(assetOut, amountOut);
        _requireCovered();
        emit Substituted(assetIn, amountIn, assetOut, amountOut);
        emit Withdrawn(assetOut, to, amountOut, balanceOut);
        IERC20(assetOut).safeTransfer(to, amountOut);
    }

    // ---------------------------------------------------------------- margin

    /// @inheritdoc ICollateralVault
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

    /// @inheritdoc ICollateralVault
    function closeMarginCall() external nonReentrant {
        _requireState(VaultState.MarginCall);
        uint256 value = collateralValue();
        if (!_isCured(value)) revert MarginCallNotMet(value, _cureRequirement());
        _closeCall(value);
    }

    /// @inheritdoc ICollateralVault
    function configureTopUp(address source, address[] calldata assets, uint256[] calldata caps) external nonReentrant {
        (address pledgor, , , ) = parties();
        if (msg.sender != pledgor) revert Unauthorized(msg.sender, pledgor);
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

    /// @inheritdoc ICollateralVault
    function pullTopUpAsset(address asset, address source, uint256 needed) external returns (uint256 value) {
        if (msg.sender != address(this)) revert Unauthorized(msg.sender, address(this));
        EligibleAsset memory entry = _effective(asset);
        PriceSource memory priceSource = _source(entry);
        uint256 answer = PriceOracle.latestAnswer(priceSource, _sequencer);
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

        uint256 heldBefore = IERC20(asset).balanceOf(address(this));
        if (!_tryTransfer(asset, abi.encodeCall(IERC20.transferFrom, (source, address(this), amount)))) return 0;
        // Credit what arrived (never more than asked), so accounted never exceeds held.
        uint256 heldAfter = IERC20(asset).balanceOf(address(this));
        uint256 received = heldAfter > heldBefore ? Math.min(heldAfter - heldBefore, amount) : 0;
        uint256 balance = _balances[asset] + received;
        _balances[asset] = balance;
        capLeft -= amount;
        _topUpCapLeft[asset] = capLeft;
        value = Valuation.afterHaircut(PriceOracle.valueAt(asset, priceSource, answer, received), entry.haircutBps);
        emit Deposited(asset, source, received, balance);
        emit TopUpPulled(asset, source, received, value, capLeft);
    }

    /// @inheritdoc ICollateralVault
    function disputeExposure(uint256 pledgorExposure) external nonReentrant {
        (address pledgor, , , ) = parties();
        if (msg.sender != pledgor) revert Unauthorized(msg.sender, pledgor);
        VaultState current = _state;
        if (current != VaultState.Pledged && current != VaultState.MarginCall) revert InvalidState(current);
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

    /// @inheritdoc ICollateralVault
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

    /// @inheritdoc ICollateralVault
    function liquidate(
        address asset,
        uint256 amount,
        address cashToken,
        uint256 cashAmount,
        address buyer,
        uint256 deadline,
        uint256 nonce,
        bytes calldata buyerSignature
    ) external nonReentrant returns (bytes32 settlementId) {
        _requireSecuredPartyOrAgent();
        _requireUnderExclusiveControl();
        if (amount == 0 || cashAmount == 0) revert ZeroAmount();
        (, address securedParty, , address factory) = parties();

        uint256 assetValue = _marketValue(asset, _effective(asset), amount);
        uint256 cashValue = _marketValue(cashToken, _effective(cashToken), cashAmount);
        uint256 minimumCashValue = Math.mulDiv(assetValue, BPS - _terms.maxLiquidationDiscountBps, BPS);
        if (cashValue < minimumCashValue) revert SalePriceTooLow(cashValue, minimumCashValue);
        // The cash paid to the secured party counts against the amount due.
        _appropriate(cashValue);
        _debit(asset, amount);
        if (_state != VaultState.Liquidating) _moveTo(VaultState.Liquidating);

        // The factory encodes the two-leg settlement (the vault's asset to the buyer, the buyer's cash to the secured
        // party), which keeps the vault under the code-size limit; the DvP contract settles both legs or neither.
        (address dvp, bytes memory settleCall) = IAgreementFactory(factory).saleSettlement(
            asset,
            amount,
            cashToken,
            cashAmount,
            buyer,
            securedParty,
            deadline,
            nonce,
            buyerSignature
        );
        IERC20(asset).forceApprove(dvp, amount);
        (bool settled, bytes memory result) = dvp.call(settleCall);
        if (!settled) _bubble(result);
        settlementId = abi.decode(result, (bytes32));
        emit Liquidated(asset, amount, cashToken, cashAmount, buyer, settlementId, assetValue, cashValue);
    }

    /// @inheritdoc ICollateralVault
    function release() external nonReentrant {
        (address pledgor, address securedParty, , ) = parties();
        VaultState current = _state;
        if (current == VaultState.Open || current == VaultState.Released) revert InvalidState(current);
        if (msg.sender != securedParty) {
            if (current < VaultState.ExclusiveControl) revert Unauthorized(msg.sender, securedParty);
            // The surplus never stays locked: once what is due is met (a remainder below the minimum transfer
            // amount needs no transfer, as under the CSA) or the secured party lets the appropriation period pass.
            // A resolution after the notice may have lowered the amount due below what was already taken.
            (uint256 due, uint256 taken) = (_amountDue, _appropriated);
            uint256 remaining = due > taken ? due - taken : 0;
            // Each appropriation restarts the period, but dust taken now and then cannot hold the surplus for ever: it
            // is releasable two periods after the notice at the latest.
            uint256 period = _terms.appropriationPeriod;
            uint256 releasableAt = Math.min(uint256(_lastAppropriationAt) + period, uint256(_noticedAt) + 2 * period);
            if (remaining != 0 && remaining >= _terms.minimumTransferAmount && block.timestamp < releasableAt) {
                revert ReleaseNotYetAllowed(msg.sender, remaining, releasableAt);
            }
        }
        _moveTo(VaultState.Released);
        _clearCall();
        emit Released(msg.sender);

        address[] memory assets = listedAssets();
        for (uint256 i; i < assets.length; ++i) {
            address asset = assets[i];
            uint256 amount = _balances[asset];
            if (amount == 0) continue;
            _balances[asset] = 0;
            // One token refusing (a blocklist, a pause, a gas sink) must not hold back the others: what fails
            // stays accounted here, and the pledgor withdraws it later.
            if (_tryTransfer(asset, abi.encodeCall(IERC20.transfer, (pledgor, amount)))) {
                emit CollateralReturned(asset, pledgor, amount);
            } else {
                _balances[asset] = amount;
                emit CollateralReturnFailed(asset, pledgor, amount);
            }
        }
    }

    /// @inheritdoc ICollateralVault
    function changeEligibility(EligibilityInput calldata input) external nonReentrant {
        (, address securedParty, , ) = parties();
        if (msg.sender != securedParty) revert Unauthorized(msg.sender, securedParty);
        VaultState current = _state;
        if (current == VaultState.Released) revert InvalidState(current);
        _setEligibility(input, current != VaultState.Open, _terms.scheduleNoticePeriod);
        if (current == VaultState.Open && (_pledgorConsented || _securedPartyConsented)) {
            _pledgorConsented = false;
            _securedPartyConsented = false;
            emit PledgeConsentsVoided(termsHash());
        }
    }

    // ---------------------------------------------------------------- views

    /// @notice The market value (before haircut) of `amount` of `asset` on a valid price; reverts on a bad one.
    /// @param asset A listed, eligible asset.
    /// @param amount Raw token units.
    /// @return marketValue Base currency, 18 decimals.
    function valueOfHolding(address asset, uint256 amount) external view returns (uint256 marketValue) {
        return _marketValue(asset, _effective(asset), amount);
    }

    /// @notice The collateral value after haircuts and concentration caps, on valid prices only; reverts on a
    /// bad price of any held eligible asset.
    function collateralValue() public view returns (uint256 value) {
        (value, ) = _valuation(address(0), 0);
    }

    /// @inheritdoc ICollateralVault
    function balanceOf(address asset) external view returns (uint256) {
        return _balances[asset];
    }

    /// @inheritdoc ICollateralVault
    function requirement() public view returns (uint256) {
        return _requirementAt(_exposure);
    }

    /// @inheritdoc ICollateralVault
    function callableRequirement() public view returns (uint256) {
        return _requirementAt(_disputed ? _pledgorExposure : _exposure);
    }

    /// @inheritdoc ICollateralVault
    function enforceableExposure() public view returns (uint256) {
        uint256 exposure = _exposure;
        if (_disputed) return _pledgorExposure;
        if (block.timestamp > uint256(_exposureSetAt) + _terms.disputeWindow) return exposure;
        return Math.min(exposure, _settledExposure);
    }

    /// @inheritdoc ICollateralVault
    function marginCall()
        external
        view
        returns (uint256 amount, uint256 deadline, uint256 requirementAtIssue, uint256 delivered)
    {
        return (_callAmount, _callDeadline, _callRequirement, _callDelivered);
    }

    /// @notice The pledgor's automatic top-up: the source, the assets in cost order and each one's cap left.
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

    /// @inheritdoc ICollateralVault
    function termsHash() public view returns (bytes32) {
        (address pledgor, address securedParty, address controlAgent, ) = parties();
        return keccak256(abi.encode(address(this), pledgor, securedParty, controlAgent, _terms, _scheduleVersion));
    }

    /// @inheritdoc ICollateralVault
    function parties()
        public
        view
        returns (address pledgor, address securedParty, address controlAgent, address factory)
    {
        return abi.decode(Clones.fetchCloneArgs(address(this)), (address, address, address, address));
    }

    /// @inheritdoc ICollateralVault
    function terms() external view returns (AgreementTerms memory) {
        return _terms;
    }

    /// @inheritdoc ICollateralVault
    function state() external view returns (VaultState) {
        return _state;
    }

    /// @inheritdoc ICollateralVault
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

    /// @notice The hash of the delivered Notice of Exclusive Control (zero before one is delivered).
    function noticeHash() external view returns (bytes32) {
        return _noticeHash;
    }

    /// @notice Under exclusive control: the amount due plus penalty, and the value moved out against it so far.
    function appropriation() external view returns (uint256 amountDue, uint256 appropriated) {
        return (_amountDue, _appropriated);
    }

    // ---------------------------------------------------------------- internals

    /// @dev The factory holds the listing rules (see `AgreementFactory.eligibilityEntry`).
    function _toEntry(EligibilityInput calldata input) internal view override returns (EligibleAsset memory) {
        (, , , address factory) = parties();
        return IAgreementFactory(factory).eligibilityEntry(input);
    }

    /// @dev The collateral value after haircuts and caps, on valid prices only, in one pass over the listed assets
    /// (one feed read each): `before` on the accounted balances and `afterOut` as if `amountOut` of `assetOut`
    /// had left (the balances already debited by the caller are the "after" ones, so `before` adds it back).
    function _valuation(address assetOut, uint256 amountOut) private view returns (uint256 before, uint256 afterOut) {
        address[] memory assets = listedAssets();
        uint256[] memory valuesBefore = new uint256[](assets.length);
        uint256[] memory valuesAfter = new uint256[](assets.length);
        uint16[] memory caps = new uint16[](assets.length);
        (uint256 uncappedBefore, uint256 uncappedAfter) = (0, 0);
        for (uint256 i; i < assets.length; ++i) {
            address asset = assets[i];
            uint256 balanceAfter = _balances[asset];
            uint256 balanceBefore = asset == assetOut ? balanceAfter + amountOut : balanceAfter;
            if (balanceBefore == 0) continue;
            EligibleAsset memory entry = _effective(asset);
            if (address(entry.feed) == address(0)) continue;
            PriceSource memory source = _source(entry);
            uint256 answer = PriceOracle.latestAnswer(source, _sequencer);
            valuesBefore[i] = Valuation.afterHaircut(
                PriceOracle.valueAt(asset, source, answer, balanceBefore),
                entry.haircutBps
            );
            valuesAfter[i] =
                balanceAfter == balanceBefore
                    ? valuesBefore[i]
                    : Valuation.afterHaircut(
                        PriceOracle.valueAt(asset, source, answer, balanceAfter),
                        entry.haircutBps
                    );
            caps[i] = entry.concentrationCapBps;
            uncappedBefore += valuesBefore[i];
            uncappedAfter += valuesAfter[i];
        }
        for (uint256 i; i < assets.length; ++i) {
            before += Valuation.capped(valuesBefore[i], uncappedBefore, caps[i]);
            afterOut += Valuation.capped(valuesAfter[i], uncappedAfter, caps[i]);
        }
    }

    /// @dev Market value of `amount` of an eligible `asset` on a validated price; the one place the vault prices.
    function _marketValue(address asset, EligibleAsset memory entry, uint256 amount) private view returns (uint256) {
        if (address(entry.feed) == address(0)) revert IneligibleAsset(asset);
        return PriceOracle.valueOf(asset, _source(entry), _sequencer, amount);
    }

    /// @dev Value after haircut of `amount` of `asset` on a validated price; an ineligible asset counts for nothing.
    function _collateralValueOf(address asset, uint256 amount) private view returns (uint256) {
        EligibleAsset memory entry = _effective(asset);
        if (address(entry.feed) == address(0)) return 0;
        return Valuation.afterHaircut(_marketValue(asset, entry, amount), entry.haircutBps);
    }

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

    /// @dev The collateral value, or false when a price is bad (a deposit must never be blocked by one).
    function _tryCollateralValue() private view returns (bool priced, uint256 value) {
        try this.collateralValue() returns (uint256 v) {
            return (true, v);
        } catch {
            return (false, 0);
        }
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

    function _clearCall() private {
        _callAmount = 0;
        _callRequirement = 0;
        _callDeadline = 0;
        _callDelivered = 0;
    }

    /// @dev Ends the dispute at `agreed` (enforceable at once); under exclusive control it can only lower the amount
    /// due. Clearing the mark's time closes its dispute window: an agreed figure is not disputed again.
    function _resolve(uint256 agreed) private {
        _disputed = false;
        _exposure = agreed;
        _settledExposure = agreed;
        _exposureSetAt = 0;
        if (_state >= VaultState.ExclusiveControl) _amountDue = Math.min(_amountDue, _dueAt(agreed));
        emit DisputeResolved(msg.sender, agreed);
        emit ExposureSet(agreed, requirement());
    }

    /// @dev Promise 5: value taken under exclusive control counts against the amount due, never beyond it.
    function _appropriate(uint256 value) private {
        uint256 appropriated = _appropriated + value;
        if (appropriated > _amountDue) revert AppropriationExceedsAmountDue(appropriated, _amountDue);
        _appropriated = appropriated;
        _lastAppropriationAt = uint40(block.timestamp);
    }

    /// @dev The amount due on `exposure`: the exposure plus the agreed liquidation penalty.
    function _dueAt(uint256 exposure) private view returns (uint256) {
        return exposure + Math.mulDiv(exposure, _terms.liquidationPenaltyBps, BPS);
    }

    /// @dev One call is for at most 2^128 - 1 WAD (3.4e20 units of base currency, beyond any real agreement): a larger
    /// shortfall is called in instalments, the next once this one is cured.
    function _toUint128(uint256 value) private pure returns (uint128) {
        return uint128(Math.min(value, type(uint128).max));
    }

    /// @dev Pulls `amount` of `asset` from `from` and credits it, refusing a token that delivers short. The
    /// holdings are read before and after (the first read warms the slot the transfer then writes, so it costs
    /// little): a donation already held can never hide a short delivery.
    function _receive(address asset, address from, uint256 amount) private {
        uint256 heldBefore = IERC20(asset).balanceOf(address(this));
        IERC20(asset).safeTransferFrom(from, address(this), amount);
        uint256 heldAfter = IERC20(asset).balanceOf(address(this));
        uint256 received = heldAfter > heldBefore ? heldAfter - heldBefore : 0;
        if (received != amount) revert ShortDelivery(asset, amount, received);
        uint256 balance = _balances[asset] + amount;
        _balances[asset] = balance;
        emit Deposited(asset, from, amount, balance);
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

    /// @dev A token transfer (`callData` encodes `transfer` or `transferFrom`) for `release` and top-ups, with a gas
    /// cap, so that a token burning all the gas it is given cannot starve the transfers after it, and at most one word
    /// of return data copied (no return-data bomb). Refuses to start without the full cap at hand: a caller tuning its
    /// gas limit must not make a sound token's transfer fail. Success as SafeERC20 reads it: no revert, and either no
    /// return data from a contract or `true`.
    function _tryTransfer(address token, bytes memory callData) private returns (bool) {
        _requireGas(TOKEN_TRANSFER_GAS + 5_000);
        bool ok;
        uint256 size;
        uint256 word;
        assembly ("memory-safe") {
            mstore(0x00, 0)
            ok := call(TOKEN_TRANSFER_GAS, token, 0, add(callData, 0x20), mload(callData), 0x00, 0x20)
            size := returndatasize()
            word := mload(0x00)
        }
        return ok && (size == 0 ? token.code.length != 0 : size >= 32 && word == 1);
    }

    /// @dev Reverts with `reason`, the revert data of a call: the DvP contract's own error, as the caller sees it.
    function _bubble(bytes memory reason) private pure {
        assembly ("memory-safe") {
            revert(add(reason, 0x20), mload(reason))
        }
    }

    /// @dev At least `gas` to hand to a call after the 1/64 that EIP-150 keeps back.
    function _requireGas(uint256 gas) private view {
        uint256 needed = gas + gas / 63;
        if (gasleft() < needed) revert InsufficientGas(gasleft(), needed);
    }

    function _requireUnderExclusiveControl() private view {
        VaultState current = _state;
        if (current != VaultState.ExclusiveControl && current != VaultState.Liquidating) revert InvalidState(current);
    }

    function _debit(address asset, uint256 amount) private returns (uint256 balance) {
        uint256 available = _balances[asset];
        if (amount > available) revert InsufficientCollateral(asset, amount, available);
        balance = available - amount;
        _balances[asset] = balance;
    }

    function _requireCovered() private view {
        uint256 value = collateralValue();
        uint256 required = requirement();
        if (value < required) revert WithdrawalBreachesRequirement(value, required);
    }

    function _moveTo(VaultState next) private {
        emit StateChanged(_state, next);
        _state = next;
    }

    function _requireState(VaultState expected) private view {
        VaultState current = _state;
        if (current != expected) revert InvalidState(current);
    }

    function _requireSecuredPartyOrAgent() private view {
        (, address securedParty, address controlAgent, ) = parties();
        if (msg.sender != securedParty && (msg.sender != controlAgent || controlAgent == address(0))) {
            revert Unauthorized(msg.sender, securedParty);
        }
    }

    function _requireNotPaused() private view {
        (, , , address factory) = parties();
        if (IAgreementFactory(factory).paused()) revert Paused();
    }
}
