// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title ReentrantToken
/// @notice Hostile test token (an ERC-777-style hook): once armed, its next transfer calls `callTarget` with
/// `callData` from inside the transfer. With `bubble` the reentry's revert fails the whole transfer; without it
/// the revert data is kept in `lastRevert` and the transfer completes. The hook fires once per arming.
contract ReentrantToken is ERC20 {
    address public callTarget;
    bytes public callData;
    bool public bubble;
    bool public armed;
    bool public reentered;
    bytes public lastRevert;

    constructor() ERC20("Reentrant", "REE") {}

    /// @notice Mints `amount` to `to`; open to anyone, for tests.
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// @notice Sets the call the next transfer makes, and whether its revert fails the transfer.
    function arm(address target, bytes calldata data, bool bubble_) external {
        callTarget = target;
        callData = data;
        bubble = bubble_;
        armed = true;
    }

    /// @notice Stops the hook (a bubbled reentry revert also rolls back the hook's own disarming).
    function disarm() external {
        armed = false;
    }

    /// @notice Lets this token approve `spender` for its own balance, so a reentrant `deposit` could pay.
    function approveFromSelf(address spender, uint256 amount) external {
        _approve(address(this), spender, amount);
    }

    function _update(address from, address to, uint256 value) internal override {
        super._update(from, to, value);
        if (!armed || from == address(0)) return;
        armed = false;
        // solhint-disable-next-line avoid-low-level-calls
        (bool ok, bytes memory result) = callTarget.call(callData);
        if (ok) {
            reentered = true;
            return;
        }
        if (bubble) {
            assembly ("memory-safe") {
                revert(add(result, 0x20), mload(result))
            }
        }
        lastRevert = result;
    }
}
