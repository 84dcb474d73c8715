// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title BlocklistToken
/// @notice Hostile test token in the style of USDC: transfers from or to a blocked address revert. Open minting
/// and blocking, for tests.
contract BlocklistToken is ERC20 {
    error Blocked(address account);

    mapping(address => bool) public blocked;

    constructor() ERC20("Blocklist USD", "BUSD") {}

    /// @notice Mints `amount` to `to`; open to anyone, for tests.
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// @notice Blocks (`true`) or unblocks `account`.
    function setBlocked(address account, bool isBlocked) external {
        blocked[account] = isBlocked;
    }

    function decimals() public pure override returns (uint8) {
        return 6;
    }

    function _update(address from, address to, uint256 value) internal override {
        if (blocked[from]) revert Blocked(from);
        if (blocked[to]) revert Blocked(to);
        super._update(from, to, value);
    }
}
