// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title FalseReturningToken
/// @notice Hostile test token: once `refusing` is set, `transfer` and `transferFrom` return `false` and move
/// nothing, whatever the balance and allowance (a ZRX-style token whose compliance check refuses without
/// reverting). Balances and allowances still read as usual, so a pre-check cannot see the refusal coming.
/// Open minting, for tests.
contract FalseReturningToken is ERC20 {
    bool public refusing;

    constructor() ERC20("False Returning", "FALSE") {}

    /// @notice Mints `amount` to `to`; open to anyone, for tests.
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// @notice Makes every transfer return `false` (`true`) or behave (`false`).
    function setRefusing(bool refusing_) external {
        refusing = refusing_;
    }

    /// @inheritdoc ERC20
    function transfer(address to, uint256 value) public override returns (bool) {
        if (refusing) return false;
        return super.transfer(to, value);
    }

    /// @inheritdoc ERC20
    function transferFrom(address from, address to, uint256 value) public override returns (bool) {
        if (refusing) return false;
        return super.transferFrom(from, to, value);
    }
}
