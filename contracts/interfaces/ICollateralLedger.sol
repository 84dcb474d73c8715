// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title ICollateralLedger
/// @notice What a vault holds for its agreement, as accounted (never more than it actually holds), and its value
/// after haircuts and concentration caps on validated prices.
interface ICollateralLedger {
    // ---------------------------------------------------------------- events

    /// @notice `amount` of `asset` came in from `from`; `balance` is the vault's accounted balance after it.
    event Deposited(address indexed asset, address indexed from, uint256 amount, uint256 balance);
    /// @notice The accounted balance of `asset` was set to what the vault holds (a rebase, a write-down, or a
    /// surplus the pledgor claimed).
    event Reconciled(address indexed asset, uint256 accountedBefore, uint256 held);
    /// @notice On release, `amount` of `asset` went back to the pledgor.
    event CollateralReturned(address indexed asset, address indexed to, uint256 amount);
    /// @notice On release, the token refused to move `amount` of `asset`; it stays here for the pledgor to withdraw.
    event CollateralReturnFailed(address indexed asset, address indexed to, uint256 amount);

    // ---------------------------------------------------------------- errors

    /// @notice `asset` delivered `received` where `expected` was asked (a fee on transfer or a short delivery).
    /// @param received What arrived, in the token's units
    /// @param expected What was asked, in the token's units
    error ShortDelivery(address asset, uint256 received, uint256 expected);
    /// @notice The vault accounts for only `available` of `asset`, and `requested` was asked.
    /// @param available What the vault accounts for, in the token's units
    /// @param requested What was asked, in the token's units
    error InsufficientCollateral(address asset, uint256 available, uint256 requested);
    /// @notice Only `gasLeft` gas was left where a token transfer needs `needed`; send the transaction again with a
    /// higher gas limit.
    error InsufficientGas(uint256 gasLeft, uint256 needed);

    // ---------------------------------------------------------------- custody

    /// @notice Sets the accounted balance of `asset` to what the vault holds, for tokens whose balances change
    /// without a transfer (rebasing, write-downs). A shortfall is written down by anyone, so the agreement is
    /// never valued on tokens it no longer has; a surplus is credited only at the pledgor's call, and only for an
    /// eligible asset.
    /// @param asset The token to reconcile.
    /// @return balance The accounted balance after (equal to what the vault holds).
    function reconcile(address asset) external returns (uint256 balance);

    // ---------------------------------------------------------------- views

    /// @notice The accounted balance of `asset`.
    function balanceOf(address asset) external view returns (uint256);
    /// @notice The collateral value after haircuts and concentration caps, on valid prices only.
    function collateralValue() external view returns (uint256);
    /// @notice The market value (before haircut) of `amount` of `asset` on a valid price; reverts on a bad one.
    function valueOfHolding(address asset, uint256 amount) external view returns (uint256);
    /// @notice Gas each token transfer of `release` and of an automatic top-up may use: ample for any ERC-20,
    /// bounded for a hostile one, so one token burning its gas cannot starve the transfers after it.
    function TOKEN_TRANSFER_GAS() external view returns (uint256);
}
