// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {AggregatorV3Interface} from "@chainlink/contracts/src/v0.8/shared/interfaces/AggregatorV3Interface.sol";

/// @title PackedPriceFeed
/// @notice The bench's price feed: the latest round in one storage word, as Chainlink's OCR aggregators keep their
/// latest transmission (answer and timestamp packed), so that reading a price costs one cold slot, as reading
/// Morpho Blue's `OracleMock.price()` does. The test double `MockPriceFeed` reads five, which would make a gas ratio
/// against Morpho measure the mock instead of the vault.
contract PackedPriceFeed is AggregatorV3Interface {
    error AnswerOutOfRange(int256 answer);

    struct Round {
        uint64 roundId;
        int128 answer;
        uint64 updatedAt;
    }

    uint8 public immutable override decimals;
    uint256 public constant override version = 4;
    Round private _latest;

    constructor(uint8 decimals_, int256 initialAnswer) {
        decimals = decimals_;
        setAnswer(initialAnswer);
    }

    /// @notice Publishes a fresh round with `newAnswer`, timestamped now.
    function setAnswer(int256 newAnswer) public {
        if (newAnswer < type(int128).min || newAnswer > type(int128).max) revert AnswerOutOfRange(newAnswer);
        _latest = Round(_latest.roundId + 1, int128(newAnswer), uint64(block.timestamp));
    }

    /// @notice The latest answer.
    function answer() external view returns (int256) {
        return _latest.answer;
    }

    /// @inheritdoc AggregatorV3Interface
    function description() external pure override returns (string memory) {
        return "packed bench feed";
    }

    /// @inheritdoc AggregatorV3Interface
    function getRoundData(uint80) external view override returns (uint80, int256, uint256, uint256, uint80) {
        return latestRoundData();
    }

    /// @inheritdoc AggregatorV3Interface
    function latestRoundData() public view override returns (uint80, int256, uint256, uint256, uint80) {
        Round memory latest = _latest;
        return (latest.roundId, latest.answer, latest.updatedAt, latest.updatedAt, latest.roundId);
    }
}
