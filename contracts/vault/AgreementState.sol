// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {AggregatorV3Interface} from "@chainlink/contracts/src/v0.8/shared/interfaces/AggregatorV3Interface.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {IAgreementState} from "../interfaces/IAgreementState.sol";
import {AgreementTerms, VaultState} from "../types/AgreementTypes.sol";
import {SequencerCheck} from "../libraries/PriceOracle.sol";
import {VaultStorage} from "./VaultStorage.sol";

/// @title AgreementState
/// @notice The agreement a vault serves: the parties (the clone's immutable arguments, which no one can change),
/// the terms, and the lock state with the one function that moves it.
abstract contract AgreementState is VaultStorage, ReentrancyGuardTransient, IAgreementState {
    // The deployment's L2 sequencer check, in the implementation's code, so that every clone reads it without a
    // storage slot (every valuation needs it).
    AggregatorV3Interface private immutable _SEQUENCER_UPTIME_FEED;
    uint32 private immutable _SEQUENCER_GRACE_PERIOD;

    /// @dev Where an ERC-1167 clone's immutable arguments start in its code (after OpenZeppelin's 45-byte proxy), and
    /// the index of each party's word in them.
    uint256 private constant _CLONE_ARGS_OFFSET = 0x2d;
    uint256 internal constant _PLEDGOR = 0;
    uint256 internal constant _SECURED_PARTY = 1;
    uint256 internal constant _CONTROL_AGENT = 2;
    uint256 internal constant _FACTORY = 3;

    /// @param sequencer The deployment's L2 sequencer uptime check (a zero feed disables it, as on L1).
    constructor(SequencerCheck memory sequencer) {
        _SEQUENCER_UPTIME_FEED = sequencer.uptimeFeed;
        _SEQUENCER_GRACE_PERIOD = sequencer.gracePeriod;
    }

    /// @inheritdoc IAgreementState
    function sequencerCheck() public view returns (SequencerCheck memory) {
        return SequencerCheck({uptimeFeed: _SEQUENCER_UPTIME_FEED, gracePeriod: _SEQUENCER_GRACE_PERIOD});
    }

    /// @inheritdoc IAgreementState
    function parties()
        public
        view
        returns (address pledgor, address securedParty, address controlAgent, address factory)
    {
        return (_party(_PLEDGOR), _party(_SECURED_PARTY), _party(_CONTROL_AGENT), _party(_FACTORY));
    }

    /// @dev The word of one party in the clone's immutable arguments (`parties()` order), copied straight from the
    /// clone's code: the guards of every entry point read only the party they check.
    function _party(uint256 index) internal view returns (address party) {
        assembly ("memory-safe") {
            extcodecopy(address(), 0x00, add(_CLONE_ARGS_OFFSET, shl(5, index)), 0x20)
            party := and(mload(0x00), 0xffffffffffffffffffffffffffffffffffffffff)
        }
    }

    /// @inheritdoc IAgreementState
    function terms() external view returns (AgreementTerms memory) {
        return _terms;
    }

    /// @inheritdoc IAgreementState
    function state() external view returns (VaultState) {
        return _state;
    }

    /// @dev The only writer of the lock state.
    function _moveTo(VaultState next) internal {
        emit StateChanged(_state, next);
        _state = next;
    }

    function _requireState(VaultState expected) internal view {
        VaultState current = _state;
        if (current != expected) revert InvalidState(current);
    }

    /// @dev `Pledged` or `MarginCall`: the agreement is live and not yet under exclusive control.
    function _requireLive() internal view returns (VaultState current) {
        current = _state;
        if (current != VaultState.Pledged && current != VaultState.MarginCall) revert InvalidState(current);
    }

    function _requireUnderExclusiveControl() internal view {
        VaultState current = _state;
        if (current != VaultState.ExclusiveControl && current != VaultState.Liquidating) revert InvalidState(current);
    }

    function _requirePledgor() internal view returns (address pledgor) {
        pledgor = _party(_PLEDGOR);
        if (msg.sender != pledgor) revert Unauthorized(msg.sender, pledgor);
    }

    function _requireSecuredParty() internal view returns (address securedParty) {
        securedParty = _party(_SECURED_PARTY);
        if (msg.sender != securedParty) revert Unauthorized(msg.sender, securedParty);
    }

    function _requireSecuredPartyOrAgent() internal view {
        (address securedParty, address controlAgent) = (_party(_SECURED_PARTY), _party(_CONTROL_AGENT));
        if (msg.sender != securedParty && (msg.sender != controlAgent || controlAgent == address(0))) {
            revert Unauthorized(msg.sender, securedParty);
        }
    }
}
