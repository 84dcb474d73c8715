// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC721Receiver} from "@openzeppelin/contracts/token/ERC721/IERC721Receiver.sol";

/// @title ReentrantReceiver
/// @notice Hostile ERC-721 receiver for tests: on receipt it calls `target` with the stored `data` (for example
/// a nested `settle`) and bubbles up any revert, so reentrancy guards can be exercised.
contract ReentrantReceiver is IERC721Receiver {
    address public callTarget;
    bytes public callData;

    /// @notice Sets the call made on every ERC-721 receipt.
    function arm(address target_, bytes calldata data_) external {
        callTarget = target_;
        callData = data_;
    }

    /// @inheritdoc IERC721Receiver
    function onERC721Received(address, address, uint256, bytes calldata) external returns (bytes4) {
        // solhint-disable-next-line avoid-low-level-calls
        (bool ok, bytes memory result) = callTarget.call(callData);
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(result, 0x20), mload(result))
            }
        }
        return IERC721Receiver.onERC721Received.selector;
    }
}
