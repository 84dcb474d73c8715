// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IAgreementFactory} from "../interfaces/IAgreementFactory.sol";
import {IEligibilitySchedule} from "../interfaces/IEligibilitySchedule.sol";
import {EligibilityInput, EligibleAsset} from "../types/AgreementTypes.sol";
import {PriceSource} from "../libraries/PriceOracle.sol";
import {AgreementState} from "./AgreementState.sol";

/// @title EligibilitySchedule
/// @notice An agreement's eligible collateral schedule: per asset, the price feed, haircut, concentration cap,
/// maximum price age and kind. A tightening of a live schedule waits out the agreement's notice period; the
/// pending line and its effective time are readable and emitted. The deployment's listing rules (the factory's
/// `eligibilityEntry`) turn each proposed line into the stored one.
abstract contract EligibilitySchedule is AgreementState, IEligibilitySchedule {
    /// @inheritdoc IEligibilitySchedule
    uint256 public constant MAX_ASSETS = 16;

    /// @inheritdoc IEligibilitySchedule
    function eligibility(address asset) public view returns (EligibleAsset memory) {
        return _effective(asset);
    }

    /// @inheritdoc IEligibilitySchedule
    function pendingEligibility(address asset) external view returns (EligibleAsset memory entry, uint256 effectiveAt) {
        PendingEligibility storage pending = _pending[asset];
        return (pending.entry, pending.effectiveAt);
    }

    /// @inheritdoc IEligibilitySchedule
    function listedAssets() public view returns (address[] memory) {
        return _listed;
    }

    /// @dev The line in force now: a queued change counts from its effective time, before anyone applies it.
    function _effective(address asset) internal view returns (EligibleAsset memory entry) {
        return _effective(asset, _earliestPendingAt);
    }

    /// @dev `_effective` with the earliest pending time already read (a valuation reads it once for all assets).
    function _effective(address asset, uint256 earliest) internal view returns (EligibleAsset memory entry) {
        if (earliest != 0 && earliest <= block.timestamp) {
            PendingEligibility storage pending = _pending[asset];
            uint256 effectiveAt = pending.effectiveAt;
            if (effectiveAt != 0 && effectiveAt <= block.timestamp) return pending.entry;
        }
        return _schedule[asset];
    }

    /// @dev Whether `asset` is eligible now: the cheap check of a deposit, one slot of the line instead of two.
    function _isEligible(address asset) internal view returns (bool) {
        uint256 earliest = _earliestPendingAt;
        if (earliest != 0 && earliest <= block.timestamp) {
            PendingEligibility storage pending = _pending[asset];
            uint256 effectiveAt = pending.effectiveAt;
            if (effectiveAt != 0 && effectiveAt <= block.timestamp) return address(pending.entry.feed) != address(0);
        }
        return _positions[asset].listed;
    }

    /// @dev Sets a line. `live` (the vault is pledged or later) queues a tightening for `noticePeriod` seconds.
    function _setEligibility(EligibilityInput calldata input, bool live, uint256 noticePeriod) internal {
        _applyMatured(input.asset);
        EligibleAsset memory next = _toEntry(input);
        EligibleAsset memory current = _schedule[input.asset];
        bool listedBefore = address(current.feed) != address(0) || _isListed(input.asset);
        // The price source of a live line is agreed collateral terms: the secured party alone may not swap the feed
        // or the kind (nor delist and relist) to have the pledgor's collateral valued at a price of its choosing.
        if (
            live &&
            listedBefore &&
            (address(next.feed) != address(0)) &&
            (next.feed != current.feed || next.kind != current.kind)
        ) revert PriceSourceFixed(input.asset, address(current.feed), address(next.feed));
        if (!listedBefore) _list(input.asset);
        _scheduleVersion++;
        if (live && _tightens(current, next)) {
            uint40 effectiveAt = uint40(block.timestamp + noticePeriod);
            _pending[input.asset] = PendingEligibility(next, effectiveAt);
            uint40 earliest = _earliestPendingAt;
            if (earliest == 0 || effectiveAt < earliest) _earliestPendingAt = effectiveAt;
            emit EligibilityChangeQueued(input.asset, next, effectiveAt);
        } else {
            // A later loosening supersedes a queued tightening of the same asset.
            delete _pending[input.asset];
            _setLine(input.asset, next);
            emit EligibilityChanged(input.asset, next);
        }
    }

    /// @dev Moves a matured queued change of `asset` into the schedule, so a new change starts from it.
    function _applyMatured(address asset) private {
        PendingEligibility storage pending = _pending[asset];
        uint256 effectiveAt = pending.effectiveAt;
        if (effectiveAt != 0 && effectiveAt <= block.timestamp) {
            _setLine(asset, pending.entry);
            delete _pending[asset];
        }
    }

    /// @dev The one writer of applied schedule lines, which keeps the position's `listed` flag in step with the feed.
    function _setLine(address asset, EligibleAsset memory entry) private {
        _schedule[asset] = entry;
        bool listed = address(entry.feed) != address(0);
        if (_positions[asset].listed != listed) _positions[asset].listed = listed;
    }

    function _list(address asset) private {
        if (_listed.length >= MAX_ASSETS) revert TooManyAssets(_listed.length + 1, MAX_ASSETS);
        _listed.push(asset);
    }

    function _isListed(address asset) private view returns (bool) {
        address[] storage listed = _listed;
        for (uint256 i; i < listed.length; ++i) if (listed[i] == asset) return true;
        return false;
    }

    /// @dev The deployment's listing rules applied to `input`: the line as stored, decimals read from chain.
    function _toEntry(EligibilityInput calldata input) private view returns (EligibleAsset memory) {
        (, , , address factory) = parties();
        return IAgreementFactory(factory).eligibilityEntry(input);
    }

    /// @dev A change tightens unless it only lowers the haircut, raises the cap, or lists a new asset:
    /// anything else (delisting, a shorter price age, narrower bounds) waits out the notice. (A new feed or kind of a
    /// live line is refused before this is asked; the comparisons stay as the rule's statement.)
    function _tightens(EligibleAsset memory current, EligibleAsset memory next) private pure returns (bool) {
        if (address(current.feed) == address(0)) return false; // a listing
        if (address(next.feed) == address(0)) return true; // a delisting
        return
            next.feed != current.feed ||
            next.kind != current.kind ||
            next.haircutBps > current.haircutBps ||
            next.concentrationCapBps < current.concentrationCapBps ||
            next.maxPriceAge < current.maxPriceAge ||
            next.minAnswer > current.minAnswer ||
            next.maxAnswer < current.maxAnswer;
    }

    function _source(EligibleAsset memory entry) internal pure returns (PriceSource memory) {
        return
            PriceSource({
                feed: entry.feed,
                maxPriceAge: entry.maxPriceAge,
                kind: entry.kind,
                pricedDecimals: entry.pricedDecimals,
                feedDecimals: entry.feedDecimals,
                minAnswer: entry.minAnswer,
                maxAnswer: entry.maxAnswer
            });
    }
}
