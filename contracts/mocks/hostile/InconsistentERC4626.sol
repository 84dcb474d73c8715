// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title InconsistentERC4626
/// @notice A misreporting ERC-4626 share for tests, only the three views the oracle and the listing rules read:
/// `asset()` answers a raw word the test sets (so it can be wider than an address), and the conversions disagree:
/// `convertToShares` is one share per asset but `convertToAssets` gives half an asset per share, so no share
/// count near `convertToShares(assets)` converts back to `assets`.
contract InconsistentERC4626 {
    /// @notice The raw word `asset()` answers.
    uint256 public assetWord;

    /// @param assetWord_ The raw word `asset()` answers.
    constructor(uint256 assetWord_) {
        assetWord = assetWord_;
    }

    /// @notice ERC-4626 `asset()`, answering `assetWord` as a full word (same selector as `asset() -> address`).
    function asset() external view returns (uint256) {
        return assetWord;
    }

    /// @notice One share per asset, rounded down like any ERC-4626.
    function convertToShares(uint256 assets) external pure returns (uint256) {
        return assets;
    }

    /// @notice Half an asset per share: inconsistent with `convertToShares`.
    function convertToAssets(uint256 shares) external pure returns (uint256) {
        return shares / 2;
    }
}
