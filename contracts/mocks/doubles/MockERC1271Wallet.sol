// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

/// @title MockERC1271Wallet
/// @notice A one-owner contract wallet for tests, like a 1-of-1 Safe: it accepts a digest when the signature
/// recovers to its owner, and lets the owner approve tokens and call other contracts.
contract MockERC1271Wallet is IERC1271 {
    error NotOwner(address caller);

    address public immutable owner;

    constructor(address owner_) {
        owner = owner_;
    }

    /// @inheritdoc IERC1271
    function isValidSignature(bytes32 hash, bytes calldata signature) external view returns (bytes4) {
        (address recovered, ECDSA.RecoverError err, ) = ECDSA.tryRecover(hash, signature);
        if (err == ECDSA.RecoverError.NoError && recovered == owner) return IERC1271.isValidSignature.selector;
        return 0xffffffff;
    }

    /// @notice Approves `spender` for `amount` of `token`; owner only.
    function approve(IERC20 token, address spender, uint256 amount) external {
        if (msg.sender != owner) revert NotOwner(msg.sender);
        token.approve(spender, amount);
    }

    /// @notice Calls `target` with `data`, bubbling up any revert; owner only (lets the wallet be `msg.sender`).
    function execute(address target, bytes calldata data) external returns (bytes memory result) {
        if (msg.sender != owner) revert NotOwner(msg.sender);
        bool ok;
        // solhint-disable-next-line avoid-low-level-calls
        (ok, result) = target.call(data);
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(result, 0x20), mload(result))
            }
        }
    }
}
