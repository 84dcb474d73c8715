// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title RebasingToken
/// @notice Hostile test token in the style of stETH/AMPL: holders own shares and every balance is shares times a
/// multiplier (WAD) the test changes, so a rebase moves every balance at once without a transfer. Open minting.
contract RebasingToken {
    uint256 private constant WAD = 1e18;

    error InsufficientBalance(address from, uint256 balance, uint256 needed);
    error InsufficientAllowance(address spender, uint256 allowance, uint256 needed);

    uint256 public multiplier = WAD;
    mapping(address => uint256) public sharesOf;
    mapping(address => mapping(address => uint256)) public allowance;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    function name() external pure returns (string memory) {
        return "Rebasing";
    }

    function symbol() external pure returns (string memory) {
        return "REB";
    }

    function decimals() external pure returns (uint8) {
        return 18;
    }

    /// @notice Rebases every balance to `shares * newMultiplier / 1e18`.
    function rebase(uint256 newMultiplier) external {
        multiplier = newMultiplier;
    }

    /// @notice Mints `amount` (at the current multiplier) to `to`; open to anyone, for tests.
    function mint(address to, uint256 amount) external {
        sharesOf[to] += (amount * WAD) / multiplier;
        emit Transfer(address(0), to, amount);
    }

    function balanceOf(address account) public view returns (uint256) {
        return (sharesOf[account] * multiplier) / WAD;
    }

    function approve(address spender, uint256 amount) external returns (bool) {
        allowance[msg.sender][spender] = amount;
        emit Approval(msg.sender, spender, amount);
        return true;
    }

    function transfer(address to, uint256 amount) external returns (bool) {
        _move(msg.sender, to, amount);
        return true;
    }

    function transferFrom(address from, address to, uint256 amount) external returns (bool) {
        uint256 allowed = allowance[from][msg.sender];
        if (allowed < amount) revert InsufficientAllowance(msg.sender, allowed, amount);
        allowance[from][msg.sender] = allowed - amount;
        _move(from, to, amount);
        return true;
    }

    function _move(address from, address to, uint256 amount) private {
        uint256 balance = balanceOf(from);
        if (balance < amount) revert InsufficientBalance(from, balance, amount);
        uint256 shares = (amount * WAD) / multiplier;
        sharesOf[from] -= shares;
        sharesOf[to] += shares;
        emit Transfer(from, to, amount);
    }
}
