// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {AgreementTerms, VaultState} from "../types/AgreementTypes.sol";
import {SequencerCheck} from "../libraries/PriceOracle.sol";

/// @title IAgreementState
/// @notice The agreement a vault serves: its parties (the clone's immutable arguments), its terms and its lock state,
/// and the refusals every entry point shares.
interface IAgreementState {
    // ---------------------------------------------------------------- events

    /// @notice The lock state moved from `previous` to `next`.
    event StateChanged(VaultState previous, VaultState next);

    // ---------------------------------------------------------------- errors

    /// @notice `caller` may not do this; only `expected` may.
    error Unauthorized(address caller, address expected);
    /// @notice The vault is `actual`, and this needs another state.
    error InvalidState(VaultState actual);
    /// @notice The amount is zero.
    error ZeroAmount();
    /// @notice A destination is the zero address.
    error ZeroAddress();

    // ---------------------------------------------------------------- views

    /// @notice The parties and the factory, read from the clone's immutable arguments.
    function parties()
        external
        view
        returns (address pledgor, address securedParty, address controlAgent, address factory);
    /// @notice The agreement's terms.
    function terms() external view returns (AgreementTerms memory);
    /// @notice The current lock state.
    function state() external view returns (VaultState);

    /// @notice The deployment's L2 sequencer uptime check every valuation applies (a zero feed: none, as on L1),
    /// fixed in the vault implementation's code and so shared by every agreement of the deployment.
    function sequencerCheck() external view returns (SequencerCheck memory);
}
