// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

/// @title DvPFloor
/// @notice Benchmark floor, NOT for production: the least a two-leg ERC-20 DvP must do, two `transferFrom`
/// calls and one nonce-bitmap write, with no authorisation, signature, deadline, receiver check or event.
contract DvPFloor {
    error FloorTransferFailed(uint256 legIndex);
    error FloorNonceUsed(address owner, uint256 nonce);

    mapping(address owner => mapping(uint256 wordPos => uint256 bitmap)) public nonceBitmap;

    /// @notice Moves `amountA` of `tokenA` from `fromA` to `toA` and `amountB` of `tokenB` from `fromB` to `toB`,
    /// consuming `nonce` in `fromB`'s bitmap.
    function settle(
        address tokenA,
        address fromA,
        address toA,
        uint256 amountA,
        address tokenB,
        address fromB,
        address toB,
        uint256 amountB,
        uint256 nonce
    ) external {
        uint256 bit = 1 << (nonce & 0xff);
        uint256 word = nonceBitmap[fromB][nonce >> 8];
        if (word & bit != 0) revert FloorNonceUsed(fromB, nonce);
        nonceBitmap[fromB][nonce >> 8] = word | bit;
        if (!IERC20(tokenA).transferFrom(fromA, toA, amountA)) revert FloorTransferFailed(0);
        if (!IERC20(tokenB).transferFrom(fromB, toB, amountB)) revert FloorTransferFailed(1);
    }
}
