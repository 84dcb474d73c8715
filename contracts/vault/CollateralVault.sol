// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Initializable} from "@openzeppelin/contracts/proxy/utils/Initializable.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

import {IAgreementFactory} from "../interfaces/IAgreementFactory.sol";
import {ICollateralVault} from "../interfaces/ICollateralVault.sol";
import {IEligibilitySchedule} from "../interfaces/IEligibilitySchedule.sol";
import {AgreementTerms, BPS, EligibilityInput, EligibleAsset, VaultState} from "../types/AgreementTypes.sol";
import {PriceOracle, SequencerCheck} from "../libraries/PriceOracle.sol";
import {AgreementState} from "./AgreementState.sol";
import {MarginEngine} from "./MarginEngine.sol";

/// @title CollateralVault
/// @notice One agreement's segregated vault, deployed by the factory as an ERC-1167 clone whose immutable
/// arguments are the parties. It holds that agreement's collateral only, and decides who may move what and when:
/// custody (deposit, withdraw, substitute) and the lock states (pledge, Notice of Exclusive Control, instructions,
/// liquidation, release). What is owed is the margin engine's (`MarginEngine`), what is held the ledger's
/// (`CollateralLedger`).
/// @dev Where each promise of docs/DESIGN.md is enforced:
/// 1. nothing lost: `CollateralLedger` credits only what arrived (`_receive`, `_tryReceive`) and every balance
///    change passes `_setBalance`; a debit never exceeds the accounted balance (`_debit`);
/// 2. segregation: each vault is its own clone holding one agreement's assets, and its parties are the clone's
///    immutable arguments (`AgreementState.parties`); the factory's keeper batch calls each vault on its own;
/// 3. exclusive control: `withdraw` and `substitute` refuse every state but `Open`/`Pledged` (and `Released`), and
///    only the secured party or the control agent instructs after `deliverNoticeOfExclusiveControl`;
/// 4. no under-collateralised withdrawal: the valuation after the debit in `withdraw` and `substitute`;
/// 5. bounded appropriation: `MarginEngine._chargeAppropriation`, from `instructTransfer` and `liquidate`, never
///    takes more value than the amount due fixed at the notice (`MarginEngine._fixAmountDue`);
/// 6. atomic settlement: `liquidate` delivers through the DvP contract, both legs or neither;
/// 7. pausing never traps: only new risk (`consentToPledge`, `pledgeWithSignature`) reads the pause;
///    `withdraw`, `release` and exclusive-control instructions never do.
contract CollateralVault is MarginEngine, Initializable, ICollateralVault {
    using SafeERC20 for IERC20;

    /// @param sequencer The deployment's L2 sequencer uptime check, shared by every clone (a zero feed on L1).
    constructor(SequencerCheck memory sequencer) AgreementState(sequencer) {
        _disableInitializers();
    }

    // ---------------------------------------------------------------- custody

    /// @inheritdoc ICollateralVault
    function initialize(AgreementTerms calldata terms_, EligibilityInput[] calldata schedule) external initializer {
        (address pledgor, address securedParty, address controlAgent, address factory) = parties();
        if (msg.sender != factory) revert Unauthorized(msg.sender, factory);
        _terms = terms_;
        _maxLiquidationDiscountBps = terms_.maxLiquidationDiscountBps;
        _startMarginEngine();
        for (uint256 i; i < schedule.length; ++i) _setEligibility(schedule[i], false, 0);
        emit AgreementInitialized(pledgor, securedParty, controlAgent, terms_);
    }

    /// @inheritdoc ICollateralVault
    function deposit(address asset, uint256 amount) external nonReentrant {
        _requirePledgor();
        if (amount == 0) revert ZeroAmount();
        VaultState current = _state;
        if (current > VaultState.MarginCall) revert InvalidState(current);
        if (!_isEligible(asset)) revert IneligibleAsset(asset);
        if (current == VaultState.MarginCall) _receiveTowardsCall(asset, msg.sender, amount);
        else _receive(asset, msg.sender, amount);
    }

    /// @inheritdoc ICollateralVault
    function withdraw(address asset, uint256 amount, address to) external nonReentrant {
        _requirePledgor();
        if (to == address(0)) revert ZeroAddress();
        if (amount == 0) revert ZeroAmount();
        VaultState current = _state;
        if (current != VaultState.Open && current != VaultState.Pledged && current != VaultState.Released) {
            revert InvalidState(current);
        }

        uint256 balance = _debit(asset, amount);
        if (current == VaultState.Pledged) {
            // Promise 4. One valuation serves both checks: the excess before (a return is due only once it reaches
            // the minimum transfer amount) and the coverage after; it stops once the assets valued cover both.
            uint256 required = requirement();
            uint256 mta = _minimumTransferAmount;
            (uint256 valueBefore, uint256 valueAfter) = _valuation(asset, amount, required + mta, required);
            uint256 excess = valueBefore > required ? valueBefore - required : 0;
            if (excess < mta) revert ExcessBelowMinimumTransfer(excess, mta);
            if (valueAfter < required) revert WithdrawalBreachesRequirement(valueAfter, required);
        }
        emit Withdrawn(asset, to, amount, balance);
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
        _requirePledgor();
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
        // Promise 4: coverage after the swap.
        uint256 value = collateralValue();
        uint256 required = requirement();
        if (value < required) revert WithdrawalBreachesRequirement(value, required);
        emit Substituted(assetIn, amountIn, assetOut, amountOut);
        emit Withdrawn(assetOut, to, amountOut, balanceOut);
        IERC20(assetOut).safeTransfer(to, amountOut);
    }

    // ---------------------------------------------------------------- pledge

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

    /// @inheritdoc IEligibilitySchedule
    function changeEligibility(EligibilityInput calldata input) external nonReentrant {
        _requireSecuredParty();
        VaultState current = _state;
        if (current == VaultState.Released) revert InvalidState(current);
        _setEligibility(input, current != VaultState.Open, _terms.scheduleNoticePeriod);
        if (current == VaultState.Open && (_pledgorConsented || _securedPartyConsented)) {
            _pledgorConsented = false;
            _securedPartyConsented = false;
            emit PledgeConsentsVoided(termsHash());
        }
    }

    // ---------------------------------------------------------------- exclusive control

    /// @inheritdoc ICollateralVault
    function deliverNoticeOfExclusiveControl(bytes32 documentHash) external nonReentrant {
        _requireSecuredPartyOrAgent();
        VaultState current = _requireLive();
        _requireContinuingDefault(current);
        if (documentHash == bytes32(0)) revert EmptyNotice();
        _noticeHash = documentHash;
        _fixAmountDue();
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
        _chargeAppropriation(PriceOracle.valueOf(asset, _source(entry), sequencerCheck(), amount));
        _debit(asset, amount);
        emit TransferInstructed(asset, to, msg.sender, amount);
        IERC20(asset).safeTransfer(to, amount);
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
        (address securedParty, address factory) = (_party(_SECURED_PARTY), _party(_FACTORY));

        uint256 assetValue = _marketValue(asset, _effective(asset), amount);
        uint256 cashValue = _marketValue(cashToken, _effective(cashToken), cashAmount);
        uint256 minimumCashValue = Math.mulDiv(assetValue, BPS - _maxLiquidationDiscountBps, BPS);
        if (cashValue < minimumCashValue) revert SalePriceTooLow(cashValue, minimumCashValue);
        // The cash paid to the secured party counts against the amount due.
        _chargeAppropriation(cashValue);
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
            _requireReleasable();
        }
        _moveTo(VaultState.Released);
        _clearCall();
        emit Released(msg.sender);
        _returnAll(pledgor);
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc ICollateralVault
    function termsHash() public view returns (bytes32) {
        (address pledgor, address securedParty, address controlAgent, ) = parties();
        return keccak256(abi.encode(address(this), pledgor, securedParty, controlAgent, _terms, _scheduleVersion));
    }

    /// @inheritdoc ICollateralVault
    function noticeHash() external view returns (bytes32) {
        return _noticeHash;
    }

    // ---------------------------------------------------------------- internals

    /// @dev Reverts with `reason`, the revert data of a call: the DvP contract's own error, as the caller sees it.
    function _bubble(bytes memory reason) private pure {
        assembly ("memory-safe") {
            revert(add(reason, 0x20), mload(reason))
        }
    }

    function _requireNotPaused() private view {
        (, , , address factory) = parties();
        if (IAgreementFactory(factory).paused()) revert NewRiskPaused();
    }
}
