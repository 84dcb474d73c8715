// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {AggregatorV3Interface} from "@chainlink/contracts/src/v0.8/shared/interfaces/AggregatorV3Interface.sol";
import {IERC4626} from "@openzeppelin/contracts/interfaces/IERC4626.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

/// @notice How an eligible asset is priced: directly by its feed, or as an ERC-4626 share through its underlying.
enum AssetKind {
    ERC20,
    ERC4626
}

/// @notice One eligible asset's price source, as stored in an agreement's eligibility schedule.
struct PriceSource {
    /// @dev Prices one whole unit of the priced token (the underlying for ERC-4626) in the agreement's base currency.
    AggregatorV3Interface feed;
    /// @dev Seconds; an answer older than this is stale.
    uint32 maxPriceAge;
    AssetKind kind;
    /// @dev Decimals of the token the feed prices (the underlying's for ERC-4626), cached at listing.
    uint8 pricedDecimals;
    /// @dev The feed's decimals, cached at listing.
    uint8 feedDecimals;
    /// @dev Inclusive bounds in feed units; an answer outside is rejected.
    int96 minAnswer;
    int96 maxAnswer;
}

/// @notice Optional L2 sequencer check, set once per deployment (address(0) feed = no check).
struct SequencerCheck {
    AggregatorV3Interface uptimeFeed;
    uint32 gracePeriod;
}

/// @title PriceOracle
/// @notice Reads Chainlink-style feeds, rejects bad answers and turns token amounts into base-currency values
/// with 18 decimals (WAD). Internal functions only: the library is inlined into its callers.
/// @dev Value of `amount` raw units = amount * answer * 1e18 / (10^pricedDecimals * 10^feedDecimals), computed
/// with a single division (or none) and a 512-bit intermediate, rounded down; `amountForValue` is its exact
/// inverse rounded up. A result that does not fit in 256 bits reverts (arithmetic panic) instead of wrapping.
library PriceOracle {
    /// @notice Values are in base-currency units with 18 decimals.
    uint256 internal constant WAD = 1e18;
    /// @notice Largest supported decimals, for the priced token and for the feed.
    uint8 internal constant MAX_DECIMALS = 36;
    /// @notice Gas forwarded to a feed's `latestRoundData`; a feed that needs more counts as failed.
    uint256 internal constant FEED_CALL_GAS = 200_000;
    /// @dev ABI size of `latestRoundData`'s five return words.
    uint256 private constant _ROUND_DATA_SIZE = 0xa0;

    /// @notice `feed` answered `answer`, zero or negative: no price.
    error NonPositivePrice(address feed, int256 answer);
    /// @notice `feed`'s latest round has no update time (updatedAt is zero): the round is incomplete.
    error PriceTimestampZero(address feed);
    /// @notice `feed` reports an update at `updatedAt`, in the future (now `nowTs`).
    /// @param updatedAt The round's update time (Unix time)
    /// @param nowTs The block's time (Unix time)
    error PriceTimestampInFuture(address feed, uint256 updatedAt, uint256 nowTs);
    /// @notice `feed` was last updated at `updatedAt`, older than its maximum age of `maxAge` seconds (now `nowTs`).
    /// @param updatedAt The round's update time (Unix time)
    /// @param maxAge The schedule line's maximum price age, in seconds
    /// @param nowTs The block's time (Unix time)
    error StalePrice(address feed, uint256 updatedAt, uint256 maxAge, uint256 nowTs);
    /// @notice `feed` answered `answer`, outside its listed bounds [`minAnswer`, `maxAnswer`].
    error PriceOutOfBounds(address feed, int256 answer, int256 minAnswer, int256 maxAnswer);
    /// @notice `feed`'s round `roundId` was answered in the earlier round `answeredInRound`.
    error IncompleteRound(address feed, uint80 roundId, uint80 answeredInRound);
    /// @notice `uptimeFeed` reports the L2 sequencer down (an answer other than 0), or its round is invalid (startedAt
    /// is zero).
    error SequencerDown(address uptimeFeed);
    /// @notice The L2 sequencer is up since `upSince`, and its grace period of `gracePeriod` seconds is not over
    /// (uptime feed `uptimeFeed`, now `nowTs`).
    /// @param upSince When the sequencer came back (Unix time)
    /// @param gracePeriod The grace period, in seconds
    /// @param nowTs The block's time (Unix time)
    error SequencerGracePeriodNotOver(address uptimeFeed, uint256 upSince, uint256 gracePeriod, uint256 nowTs);
    /// @notice `feed` reverted, ran out of its gas allowance, has no code or returned malformed data.
    error FeedCallFailed(address feed);
    /// @notice The priced token's decimals `pricedDecimals` or the feed's decimals `feedDecimals` exceed 36.
    error UnsupportedDecimals(uint8 pricedDecimals, uint8 feedDecimals);
    /// @notice A schedule line names no price feed.
    error ZeroFeed();
    /// @notice A schedule line's maximum price age is zero.
    error ZeroMaxPriceAge();
    /// @notice The price bounds [`minAnswer`, `maxAnswer`] are empty or not positive.
    error InvalidBounds(int256 minAnswer, int256 maxAnswer);
    /// @notice The ERC-4626 share `vault` converts inconsistently: `convertToAssets` does not reach `assets` one share
    /// above `convertToShares` (`shares`).
    error InconsistentVaultConversion(address vault, uint256 assets, uint256 shares);

    /// @notice Checks a price source before it enters an eligibility schedule.
    function checkSource(PriceSource memory src) internal pure {
        if (address(src.feed) == address(0)) revert ZeroFeed();
        if (src.maxPriceAge == 0) revert ZeroMaxPriceAge();
        if (src.minAnswer <= 0 || src.minAnswer > src.maxAnswer) revert InvalidBounds(src.minAnswer, src.maxAnswer);
        _checkDecimals(src);
    }

    /// @notice Validated answer of `src.feed` (checks the sequencer first, if configured).
    function latestAnswer(PriceSource memory src, SequencerCheck memory seq) internal view returns (uint256 answer) {
        if (address(seq.uptimeFeed) != address(0)) _checkSequencer(seq);

        address feed = address(src.feed);
        (uint80 roundId, int256 rawAnswer, , uint256 updatedAt, uint80 answeredInRound) = _latestRoundData(feed);

        if (rawAnswer <= 0) revert NonPositivePrice(feed, rawAnswer);
        if (updatedAt == 0) revert PriceTimestampZero(feed);
        if (updatedAt > block.timestamp) revert PriceTimestampInFuture(feed, updatedAt, block.timestamp);
        if (answeredInRound < roundId) revert IncompleteRound(feed, roundId, answeredInRound);
        if (block.timestamp - updatedAt > src.maxPriceAge) {
            revert StalePrice(feed, updatedAt, src.maxPriceAge, block.timestamp);
        }
        if (rawAnswer < src.minAnswer || rawAnswer > src.maxAnswer) {
            revert PriceOutOfBounds(feed, rawAnswer, src.minAnswer, src.maxAnswer);
        }
        answer = uint256(rawAnswer);
    }

    /// @notice Value in WAD of `amount` raw units of `asset`, at the feed's validated latest answer.
    /// @dev For an ERC-4626 asset the shares are converted with `convertToAssets` and the underlying is priced.
    function valueOf(
        address asset,
        PriceSource memory src,
        SequencerCheck memory seq,
        uint256 amount
    ) internal view returns (uint256 valueWad) {
        return valueAt(asset, src, latestAnswer(src, seq), amount);
    }

    /// @notice Value in WAD of `amount` raw units of `asset` at an already validated `answer`, rounded down.
    function valueAt(
        address asset,
        PriceSource memory src,
        uint256 answer,
        uint256 amount
    ) internal view returns (uint256 valueWad) {
        _checkDecimals(src);
        uint256 pricedAmount = src.kind == AssetKind.ERC4626 ? IERC4626(asset).convertToAssets(amount) : amount;
        return _value(pricedAmount, answer, uint256(src.pricedDecimals) + src.feedDecimals);
    }

    /// @notice Smallest raw amount of `asset` whose value at `answer` is at least `valueWad` (rounded up).
    /// @dev Consistent with `valueAt`: `valueAt(amountForValue(v)) >= v`, and for ERC-20 one unit less is worth
    /// less than `v`. For ERC-4626 the result is the fewest shares whose `convertToAssets` covers the needed assets
    /// (exact for any vault converting at a single rate, such as OpenZeppelin's).
    function amountForValue(
        address asset,
        PriceSource memory src,
        uint256 answer,
        uint256 valueWad
    ) internal view returns (uint256 amount) {
        _checkDecimals(src);
        if (answer == 0) revert NonPositivePrice(address(src.feed), 0);
        uint256 assets = _amount(valueWad, answer, uint256(src.pricedDecimals) + src.feedDecimals);
        if (src.kind == AssetKind.ERC20) return assets;

        IERC4626 vault = IERC4626(asset);
        amount = vault.convertToShares(assets); // rounds down
        if (vault.convertToAssets(amount) < assets) {
            amount += 1;
            if (vault.convertToAssets(amount) < assets) revert InconsistentVaultConversion(asset, assets, amount);
        }
    }

    /// @dev floor(amount * answer * 10^18 / 10^scale), exact: one division at most, 512-bit intermediate.
    function _value(uint256 amount, uint256 answer, uint256 scale) private pure returns (uint256) {
        if (scale >= 18) return Math.mulDiv(amount, answer, 10 ** (scale - 18));
        // No division: checked products revert only when the exact result exceeds 256 bits.
        return amount * answer * 10 ** (18 - scale);
    }

    /// @dev Smallest `amount` with `_value(amount, answer, scale) >= valueWad`, i.e.
    /// ceil(valueWad * 10^scale / (answer * 10^18)); `answer` is non-zero.
    function _amount(uint256 valueWad, uint256 answer, uint256 scale) private pure returns (uint256) {
        if (scale >= 18) return Math.mulDiv(valueWad, 10 ** (scale - 18), answer, Math.Rounding.Ceil);
        // ceil(ceil(v / a) / b) == ceil(v / (a * b)) for positive integers; avoids overflowing a * b.
        return Math.ceilDiv(Math.ceilDiv(valueWad, 10 ** (18 - scale)), answer);
    }

    function _checkDecimals(PriceSource memory src) private pure {
        if (src.pricedDecimals > MAX_DECIMALS || src.feedDecimals > MAX_DECIMALS) {
            revert UnsupportedDecimals(src.pricedDecimals, src.feedDecimals);
        }
    }

    /// @dev Chainlink L2 sequencer uptime feed: answer 0 = up, 1 = down; `startedAt` = when the status last changed.
    function _checkSequencer(SequencerCheck memory seq) private view {
        address uptimeFeed = address(seq.uptimeFeed);
        (, int256 status, uint256 startedAt, , ) = _latestRoundData(uptimeFeed);
        // Fail closed: any status but "up", or an uninitialised round, counts as down.
        if (status != 0 || startedAt == 0) revert SequencerDown(uptimeFeed);
        if (startedAt > block.timestamp || block.timestamp - startedAt < seq.gracePeriod) {
            revert SequencerGracePeriodNotOver(uptimeFeed, startedAt, seq.gracePeriod, block.timestamp);
        }
    }

    /// @dev `latestRoundData` through a staticcall capped at `FEED_CALL_GAS`, copying at most five words back
    /// (no return-data bomb), so a reverting, gas-burning or malformed feed costs the caller a bounded amount
    /// of gas and surfaces as `FeedCallFailed`.
    function _latestRoundData(
        address feed
    )
        private
        view
        returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound)
    {
        bytes4 selector = AggregatorV3Interface.latestRoundData.selector;
        bool ok;
        uint256 rawRoundId;
        uint256 rawAnsweredInRound;
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, selector)
            ok := staticcall(FEED_CALL_GAS, feed, ptr, 4, ptr, _ROUND_DATA_SIZE)
            ok := and(ok, iszero(lt(returndatasize(), _ROUND_DATA_SIZE)))
            rawRoundId := mload(ptr)
            answer := mload(add(ptr, 0x20))
            startedAt := mload(add(ptr, 0x40))
            updatedAt := mload(add(ptr, 0x60))
            rawAnsweredInRound := mload(add(ptr, 0x80))
        }
        if (!ok || rawRoundId > type(uint80).max || rawAnsweredInRound > type(uint80).max) revert FeedCallFailed(feed);
        roundId = uint80(rawRoundId);
        answeredInRound = uint80(rawAnsweredInRound);
    }
}
