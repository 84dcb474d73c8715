// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {IERC20} from "@openzeppelin/contracts/interfaces/IERC20.sol";
import {ERC4626} from "@openzeppelin/contracts/token/ERC20/extensions/ERC4626.sol";

/// @title MockERC4626
/// @notice A tokenized money-market fund share over an underlying ERC-20, for tests. Its share price moves
/// when underlying is donated to it, as a real fund's does when it accrues yield.
contract MockERC4626 is ERC4626 {
    constructor(
        IERC20 underlying,
        string memory name_,
        string memory symbol_
    ) ERC20(name_, symbol_) ERC4626(underlying) {}
}
