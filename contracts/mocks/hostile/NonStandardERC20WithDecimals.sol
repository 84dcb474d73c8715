// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {NonStandardERC20} from "./NonStandardERC20.sol";

/// @title NonStandardERC20WithDecimals
/// @notice `NonStandardERC20` (returns nothing, or false) with `decimals()` (6), so a schedule can list it.
contract NonStandardERC20WithDecimals is NonStandardERC20 {
    constructor(bool returnsNothing_) NonStandardERC20(returnsNothing_) {}

    function decimals() external pure returns (uint8) {
        return 6;
    }
}
