// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title NonStandardERC20
/// @notice Hostile test token in the style of old mainnet tokens. `returnsNothing`: `transfer`/`transferFrom`
/// return no value (USDT-style). Otherwise they return `false` instead of reverting when the balance or
/// allowance is short (ZRX-style). Open minting, for tests.
contract NonStandardERC20 {
    error ShortTransfer();

    bool public immutable returnsNothing;
    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;
    uint256 public totalSupply;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    constructor(bool returnsNothing_) {
        returnsNothing = returnsNothing_;
    }

    /// @notice Mints `amount` to `to`; open to anyone, for tests.
    function mint(address to, uint256 amount) external {
        balanceOf[to] += amount;
        totalSupply += amount;
        emit Transfer(address(0), to, amount);
    }

    /// @notice Sets `spender`'s allowance; returns nothing in `returnsNothing` mode.
    function approve(address spender, uint256 amount) external {
        allowance[msg.sender][spender] = amount;
        emit Approval(msg.sender, spender, amount);
        _return(true);
    }

    /// @notice Moves `amount` from the caller to `to`; short balance: returns false (reverts if returning nothing).
    function transfer(address to, uint256 amount) external {
        _return(_move(msg.sender, to, amount));
    }

    /// @notice Moves `amount` from `from` to `to` against the caller's allowance.
    function transferFrom(address from, address to, uint256 amount) external {
        uint256 allowed = allowance[from][msg.sender];
        if (allowed < amount) return _return(false);
        if (allowed != type(uint256).max) allowance[from][msg.sender] = allowed - amount;
        _return(_move(from, to, amount));
    }

    function _move(address from, address to, uint256 amount) private returns (bool) {
        if (balanceOf[from] < amount) return false;
        balanceOf[from] -= amount;
        balanceOf[to] += amount;
        emit Transfer(from, to, amount);
        return true;
    }

    function _return(bool ok) private view {
        if (returnsNothing) {
            if (!ok) revert ShortTransfer();
            assembly ("memory-safe") {
                return(0, 0)
            }
        }
        assembly ("memory-safe") {
            mstore(0, ok)
            return(0, 0x20)
        }
    }
}
