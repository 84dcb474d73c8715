// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title GasBurnerToken
/// @notice Hostile test token (an upgradeable token turned malicious): once `burning` is set, every transfer
/// consumes all the gas it is given. Open minting, for tests.
contract GasBurnerToken is ERC20 {
    bool public burning;

    constructor() ERC20("Gas Burner", "BURN") {}

    /// @notice Mints `amount` to `to`; open to anyone, for tests.
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// @notice Makes every transfer burn all its gas (`true`) or behave (`false`).
    function setBurning(bool burning_) external {
        burning = burning_;
    }

    function _update(address from, address to, uint256 value) internal override {
        if (burning) {
            // solhint-disable-next-line no-empty-blocks
            while (true) {}
        }
        super._update(from, to, value);
    }
}
