// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Address} from "@openzeppelin/contracts/utils/Address.sol";

/// @title BatchingPledgor
/// @notice A contract-wallet party for tests: its owner runs any list of calls in one transaction, all or none.
/// Lets a test play a pledgor that moves a price and acts on it atomically (a donation then a withdrawal).
contract BatchingPledgor {
    /// @notice The only account that may run calls.
    address public immutable owner;

    /// @notice The caller is not the owner.
    error NotOwner(address caller);

    constructor() {
        owner = msg.sender;
    }

    /// @notice Runs `data[i]` on `targets[i]` in order; any revert reverts the whole batch with its reason.
    /// @param targets The contracts to call.
    /// @param data The calldata of each call.
    function run(address[] calldata targets, bytes[] calldata data) external {
        if (msg.sender != owner) revert NotOwner(msg.sender);
        for (uint256 i; i < targets.length; ++i) Address.functionCall(targets[i], data[i]);
    }
}
