// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

/// @title OpenTreasury
/// @notice A pledgor's treasury contract used as an automatic top-up source in tests: it holds tokens and lets
/// anyone set its allowances, so that a token's transfer hook can make it revoke an allowance in the middle of a
/// margin call's pulls. Open to anyone, for tests only.
contract OpenTreasury {
    /// @notice Sets the treasury's allowance of `token` to `spender` to `amount`; open to anyone, for tests.
    function approve(IERC20 token, address spender, uint256 amount) external {
        token.approve(spender, amount);
    }
}
