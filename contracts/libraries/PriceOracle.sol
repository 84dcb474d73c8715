// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;
// TEMPORARY stand-in with the agreed API; replaced by the oracle branch.
import {AggregatorV3Interface} from "@chainlink/contracts/src/v0.8/shared/interfaces/AggregatorV3Interface.sol";
import {IERC4626} from "@openzeppelin/contracts/interfaces/IERC4626.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

enum AssetKind {
    ERC20,
    ERC4626
}

struct PriceSource {
    AggregatorV3Interface feed;
    uint32 maxPriceAge;
    AssetKind kind;
    uint8 pricedDecimals;
    uint8 feedDecimals;
    int96 minAnswer;
    int96 maxAnswer;
}

struct SequencerCheck {
    AggregatorV3Interface uptimeFeed;
    uint32 gracePeriod;
}

library PriceOracle {
    uint256 internal constant WAD = 1e18;
    error StalePrice(address feed, uint256 updatedAt, uint256 maxAge, uint256 nowTs);

    function latestAnswer(PriceSource memory src, SequencerCheck memory) internal view returns (uint256) {
        (, int256 a, , uint256 u, ) = src.feed.latestRoundData();
        if (block.timestamp - u > src.maxPriceAge)
            revert StalePrice(address(src.feed), u, src.maxPriceAge, block.timestamp);
        return uint256(a);
    }

    function valueOf(
        address asset,
        PriceSource memory src,
        SequencerCheck memory seq,
        uint256 amount
    ) internal view returns (uint256) {
        return valueAt(asset, src, latestAnswer(src, seq), amount);
    }

    function valueAt(
        address asset,
        PriceSource memory src,
        uint256 answer,
        uint256 amount
    ) internal view returns (uint256) {
        if (src.kind == AssetKind.ERC4626) amount = IERC4626(asset).convertToAssets(amount);
        return Math.mulDiv(amount * answer, WAD, 10 ** (uint256(src.pricedDecimals) + src.feedDecimals));
    }

    function amountForValue(
        address,
        PriceSource memory src,
        uint256 answer,
        uint256 valueWad
    ) internal pure returns (uint256) {
        return
            Math.mulDiv(
                valueWad,
                10 ** (uint256(src.pricedDecimals) + src.feedDecimals),
                answer * WAD,
                Math.Rounding.Ceil
            );
    }

    function checkSource(PriceSource memory src) internal pure {}
}
