// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title PausableToken
/// @notice Hostile test token: while paused every transfer reverts. Open minting and pausing, for tests.
contract PausableToken is ERC20 {
    error TokenPaused();

    bool public paused;

    constructor() ERC20("Pausable", "PAU") {}

    /// @notice Mints `amount` to `to`; open to anyone, for tests.
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// @notice Pauses (`true`) or unpauses every transfer.
    function setPaused(bool paused_) external {
        paused = paused_;
    }

    function _update(address from, address to, uint256 value) internal override {
        if (paused) revert TokenPaused();
        super._update(from, to, value);
    }
}
