// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title UnreadableBalanceToken
/// @notice Hostile test token (an upgradeable token turned malicious): once `unreadable` is set, `balanceOf`
/// reverts for every account while transfers keep working, so a check that measures a delivery by balances
/// cannot read them. Open minting, for tests.
contract UnreadableBalanceToken is ERC20 {
    /// @notice `balanceOf` was asked while unreadable.
    error BalanceHidden(address account);

    bool public unreadable;

    constructor() ERC20("Unreadable Balance", "HIDE") {}

    /// @notice Mints `amount` to `to`; open to anyone, for tests.
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// @notice Makes `balanceOf` revert (`true`) or answer (`false`).
    function setUnreadable(bool unreadable_) external {
        unreadable = unreadable_;
    }

    /// @inheritdoc ERC20
    function balanceOf(address account) public view override returns (uint256) {
        if (unreadable) revert BalanceHidden(account);
        return super.balanceOf(account);
    }
}
