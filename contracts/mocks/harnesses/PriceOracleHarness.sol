// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {PriceOracle, PriceSource, SequencerCheck} from "../../libraries/PriceOracle.sol";

/// @title PriceOracleHarness
/// @notice Exposes the internal `PriceOracle` library externally, for Solidity tests and the SDK's tests.
contract PriceOracleHarness {
    function checkSource(PriceSource calldata src) external pure {
        PriceOracle.checkSource(src);
    }

    function latestAnswer(PriceSource calldata src, SequencerCheck calldata seq) external view returns (uint256) {
        return PriceOracle.latestAnswer(src, seq);
    }

    function valueOf(
        address asset,
        PriceSource calldata src,
        SequencerCheck calldata seq,
        uint256 amount
    ) external view returns (uint256) {
        return PriceOracle.valueOf(asset, src, seq, amount);
    }

    function valueAt(
        address asset,
        PriceSource calldata src,
        uint256 answer,
        uint256 amount
    ) external view returns (uint256) {
        return PriceOracle.valueAt(asset, src, answer, amount);
    }

    function amountForValue(
        address asset,
        PriceSource calldata src,
        uint256 answer,
        uint256 valueWad
    ) external view returns (uint256) {
        return PriceOracle.amountForValue(asset, src, answer, valueWad);
    }
}
