// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

import {BPS} from "../types/AgreementTypes.sol";

/// @title Valuation
/// @notice The two rules that turn market value into collateral value, shared by the vault (which enforces
/// them) and the lens (which reports them), so both always agree.
library Valuation {
    /// @dev Market value less the haircut, rounded down: collateral is never over-valued.
    function afterHaircut(uint256 marketValue, uint256 haircutBps) internal pure returns (uint256) {
        return Math.mulDiv(marketValue, BPS - haircutBps, BPS);
    }

    /// @dev An asset counts for at most its cap's share of the agreement's total collateral value before caps.
    function capped(uint256 value, uint256 uncappedTotal, uint256 capBps) internal pure returns (uint256) {
        if (capBps >= BPS) return value;
        return Math.min(value, Math.mulDiv(uncappedTotal, capBps, BPS));
    }
}
