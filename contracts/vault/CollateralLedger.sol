// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {ICollateralLedger} from "../interfaces/ICollateralLedger.sol";
import {BPS, EligibleAsset} from "../types/AgreementTypes.sol";
import {PriceOracle, PriceSource, SequencerCheck} from "../libraries/PriceOracle.sol";
import {Valuation} from "../libraries/Valuation.sol";
import {EligibilitySchedule} from "./EligibilitySchedule.sol";

/// @title CollateralLedger
/// @notice What the vault holds for its agreement and what it is worth. Every credit and debit of an accounted
/// balance passes through `_setBalance`; credits count only what actually arrived (promise 1, nothing lost), so the
/// accounted balance never exceeds what the vault holds. Values are after haircuts and concentration caps, on
/// validated prices only.
abstract contract CollateralLedger is EligibilitySchedule, ICollateralLedger {
    using SafeERC20 for IERC20;

    /// @inheritdoc ICollateralLedger
    uint256 public constant TOKEN_TRANSFER_GAS = 300_000;

    /// @inheritdoc ICollateralLedger
    function reconcile(address asset) external nonReentrant returns (uint256 held) {
        uint256 accounted = _positions[asset].balance;
        held = IERC20(asset).balanceOf(address(this));
        if (held > accounted) {
            _requirePledgor();
            if (!_isEligible(asset)) revert IneligibleAsset(asset);
        }
        _setBalance(asset, held);
        emit Reconciled(asset, accounted, held);
    }

    /// @inheritdoc ICollateralLedger
    function balanceOf(address asset) external view returns (uint256) {
        return _positions[asset].balance;
    }

    /// @inheritdoc ICollateralLedger
    function collateralValue() public view returns (uint256 value) {
        (value, ) = _valuation(address(0), 0, type(uint256).max, type(uint256).max);
    }

    /// @inheritdoc ICollateralLedger
    function valueOfHolding(address asset, uint256 amount) external view returns (uint256 marketValue) {
        return _marketValue(asset, _effective(asset), amount);
    }

    // ---------------------------------------------------------------- balances

    /// @dev The one writer of accounted balances.
    function _setBalance(address asset, uint256 balance) private {
        _positions[asset].balance = SafeCast.toUint248(balance);
    }

    function _credit(address asset, address from, uint256 amount) internal returns (uint256 balance) {
        balance = _positions[asset].balance + amount;
        _setBalance(asset, balance);
        emit Deposited(asset, from, amount, balance);
    }

    function _debit(address asset, uint256 amount) internal returns (uint256 balance) {
        uint256 available = _positions[asset].balance;
        if (amount > available) revert InsufficientCollateral(asset, available, amount);
        balance = available - amount;
        _setBalance(asset, balance);
    }

    /// @dev Pulls `amount` of `asset` from `from` and credits it, refusing a token that delivers short. The
    /// holdings are read before and after (the first read warms the slot the transfer then writes, so it costs
    /// little): a donation already held can never hide a short delivery.
    function _receive(address asset, address from, uint256 amount) internal {
        uint256 heldBefore = _held(asset);
        IERC20(asset).safeTransferFrom(from, address(this), amount);
        uint256 heldAfter = _held(asset);
        uint256 received = heldAfter > heldBefore ? heldAfter - heldBefore : 0;
        if (received != amount) revert ShortDelivery(asset, received, amount);
        _credit(asset, from, amount);
    }

    /// @dev Pulls `amount` of `asset` from `from` for a top-up, without reverting on the token's account (see
    /// `_tryTransfer`), and credits what arrived, never more than asked.
    function _tryReceive(
        address asset,
        address from,
        uint256 amount
    ) internal returns (bool transferred, uint256 received) {
        uint256 heldBefore = _held(asset);
        if (!_tryTransfer(asset, abi.encodeCall(IERC20.transferFrom, (from, address(this), amount)))) return (false, 0);
        uint256 heldAfter = _held(asset);
        received = heldAfter > heldBefore ? Math.min(heldAfter - heldBefore, amount) : 0;
        _credit(asset, from, received);
        return (true, received);
    }

    /// @dev Returns every accounted asset to `to`. One token refusing (a blocklist, a pause, a gas sink) must not hold
    /// back the others: what fails stays accounted here, for the pledgor to withdraw later.
    function _returnAll(address to) internal {
        address[] memory assets = _listed;
        for (uint256 i; i < assets.length; ++i) {
            address asset = assets[i];
            uint256 amount = _positions[asset].balance;
            if (amount == 0) continue;
            _setBalance(asset, 0);
            if (_tryTransfer(asset, abi.encodeCall(IERC20.transfer, (to, amount)))) {
                emit CollateralReturned(asset, to, amount);
            } else {
                _setBalance(asset, amount);
                emit CollateralReturnFailed(asset, to, amount);
            }
        }
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

    /// @dev What the vault holds of `asset` for the delivery checks, which read it twice per deposit: a bare
    /// `balanceOf` call (397 gas cheaper per deposit than the ABI-decoding one). A token that reverts has its revert
    /// bubbled; one that answers less than a word reads as holding nothing, so its delivery fails `ShortDelivery`.
    function _held(address asset) private view returns (uint256 amount) {
        assembly ("memory-safe") {
            mstore(0x00, 0x70a08231) // balanceOf(address)
            mstore(0x20, address())
            if iszero(staticcall(gas(), asset, 0x1c, 0x24, 0x00, 0x20)) {
                let ptr := mload(0x40)
                returndatacopy(ptr, 0, returndatasize())
                revert(ptr, returndatasize())
            }
            amount := mul(mload(0x00), gt(returndatasize(), 0x1f))
        }
    }

    /// @dev At least `gas` to hand to a call after the 1/64 that EIP-150 keeps back.
    function _requireGas(uint256 gas) internal view {
        uint256 needed = gas + gas / 63;
        if (gasleft() < needed) revert InsufficientGas(gasleft(), needed);
    }

    // ---------------------------------------------------------------- valuation

    /// @dev The collateral value after haircuts and caps, on valid prices only, in one pass over the listed assets
    /// (one feed read each): `before` on the accounted balances and `afterOut` as if `amountOut` of `assetOut`
    /// had left (the balances already debited by the caller are the "after" ones, so `before` adds it back).
    /// The pass stops early, returning lower bounds, once the assets valued so far already cover `needBefore` and
    /// `needAfter`: a concentration cap only loosens as the total grows, so the capped sum of a prefix of the assets
    /// never exceeds the full one. Otherwise (and always with needs of `type(uint256).max`) the values are exact.
    function _valuation(
        address assetOut,
        uint256 amountOut,
        uint256 needBefore,
        uint256 needAfter
    ) internal view returns (uint256 before, uint256 afterOut) {
        address[] memory assets = _listed;
        uint256[] memory valuesBefore = new uint256[](assets.length);
        uint256[] memory valuesAfter = new uint256[](assets.length);
        uint16[] memory caps = new uint16[](assets.length);
        (uint256 uncappedBefore, uint256 uncappedAfter) = (0, 0);
        bool capBinds;
        SequencerCheck memory sequencer = sequencerCheck();
        uint256 earliestPending = _earliestPendingAt;
        for (uint256 i; i < assets.length; ++i) {
            address asset = assets[i];
            uint256 balanceAfter = _positions[asset].balance;
            uint256 balanceBefore = asset == assetOut ? balanceAfter + amountOut : balanceAfter;
            if (balanceBefore == 0) continue;
            EligibleAsset memory entry = _effective(asset, earliestPending);
            if (address(entry.feed) == address(0)) continue;
            PriceSource memory source = _source(entry);
            uint256 answer = PriceOracle.latestAnswer(source, sequencer);
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
            if (caps[i] < BPS) capBinds = true;
            uncappedBefore += valuesBefore[i];
            uncappedAfter += valuesAfter[i];
            if (uncappedBefore >= needBefore && uncappedAfter >= needAfter) {
                if (!capBinds) return (uncappedBefore, uncappedAfter);
                (before, afterOut) = _cappedSums(valuesBefore, valuesAfter, caps, uncappedBefore, uncappedAfter, i + 1);
                if (before >= needBefore && afterOut >= needAfter) return (before, afterOut);
            }
        }
        return _cappedSums(valuesBefore, valuesAfter, caps, uncappedBefore, uncappedAfter, assets.length);
    }

    /// @dev The capped sums of the first `count` values, each cap taken against the uncapped total of those values.
    function _cappedSums(
        uint256[] memory valuesBefore,
        uint256[] memory valuesAfter,
        uint16[] memory caps,
        uint256 uncappedBefore,
        uint256 uncappedAfter,
        uint256 count
    ) private pure returns (uint256 before, uint256 afterOut) {
        for (uint256 i; i < count; ++i) {
            before += Valuation.capped(valuesBefore[i], uncappedBefore, caps[i]);
            afterOut += Valuation.capped(valuesAfter[i], uncappedAfter, caps[i]);
        }
    }

    /// @dev The collateral value, or false when a price is bad (a deposit must never be blocked by one).
    function _tryCollateralValue() internal view returns (bool priced, uint256 value) {
        try this.collateralValue() returns (uint256 v) {
            return (true, v);
        } catch {
            return (false, 0);
        }
    }

    /// @dev Market value of `amount` of an eligible `asset` on a validated price; the one place the vault prices.
    function _marketValue(address asset, EligibleAsset memory entry, uint256 amount) internal view returns (uint256) {
        if (address(entry.feed) == address(0)) revert IneligibleAsset(asset);
        return PriceOracle.valueOf(asset, _source(entry), sequencerCheck(), amount);
    }

    /// @dev Value after haircut of `amount` of `asset` on a validated price; an ineligible asset counts for nothing.
    function _collateralValueOf(address asset, uint256 amount) internal view returns (uint256) {
        EligibleAsset memory entry = _effective(asset);
        if (address(entry.feed) == address(0)) return 0;
        return Valuation.afterHaircut(_marketValue(asset, entry, amount), entry.haircutBps);
    }
}
