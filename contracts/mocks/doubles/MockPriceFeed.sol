// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {AggregatorV3Interface} from "@chainlink/contracts/src/v0.8/shared/interfaces/AggregatorV3Interface.sol";

/// @title MockPriceFeed
/// @notice A Chainlink-style feed whose every round field is set by the test, including broken rounds,
/// plus modes that revert or burn all gas, so oracle faults can be reproduced one by one.
contract MockPriceFeed is AggregatorV3Interface {
    error FeedDown();

    uint8 public immutable override decimals;
    string public override description;
    uint256 public constant override version = 4;

    uint80 public roundId;
    int256 public answer;
    uint256 public startedAt;
    uint256 public updatedAt;
    uint80 public answeredInRound;
    bool public reverts;
    bool public burnsAllGas;

    constructor(uint8 decimals_, int256 initialAnswer) {
        decimals = decimals_;
        description = "mock";
        setAnswer(initialAnswer);
    }

    /// @notice Publishes a fresh, well-formed round with `newAnswer`, timestamped now.
    function setAnswer(int256 newAnswer) public {
        roundId++;
        answer = newAnswer;
        startedAt = block.timestamp;
        updatedAt = block.timestamp;
        answeredInRound = roundId;
    }

    /// @notice Sets every field of the latest round, to reproduce malformed or stale rounds.
    function setRound(
        uint80 roundId_,
        int256 answer_,
        uint256 startedAt_,
        uint256 updatedAt_,
        uint80 answeredInRound_
    ) external {
        roundId = roundId_;
        answer = answer_;
        startedAt = startedAt_;
        updatedAt = updatedAt_;
        answeredInRound = answeredInRound_;
    }

    /// @notice Makes `latestRoundData` revert (`true`) or answer again (`false`).
    function setReverts(bool reverts_) external {
        reverts = reverts_;
    }

    /// @notice Makes `latestRoundData` consume all the gas it is given.
    function setBurnsAllGas(bool burns) external {
        burnsAllGas = burns;
    }

    /// @inheritdoc AggregatorV3Interface
    function getRoundData(uint80) external view override returns (uint80, int256, uint256, uint256, uint80) {
        return latestRoundData();
    }

    /// @inheritdoc AggregatorV3Interface
    function latestRoundData() public view override returns (uint80, int256, uint256, uint256, uint80) {
        if (reverts) revert FeedDown();
        if (burnsAllGas) {
            // solhint-disable-next-line no-empty-blocks
            while (true) {}
        }
        return (roundId, answer, startedAt, updatedAt, answeredInRound);
    }
}
