// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {AggregatorV3Interface} from "@chainlink/contracts/src/v0.8/shared/interfaces/AggregatorV3Interface.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {IERC20} from "@openzeppelin/contracts/interfaces/IERC20.sol";

import {TestBase} from "./utils/Vm.sol";
import {AssetKind, PriceOracle, PriceSource, SequencerCheck} from "../contracts/libraries/PriceOracle.sol";
import {PriceOracleHarness} from "../contracts/mocks/harnesses/PriceOracleHarness.sol";
import {MockPriceFeed} from "../contracts/mocks/doubles/MockPriceFeed.sol";
import {MockERC20} from "../contracts/mocks/doubles/MockERC20.sol";
import {MockERC4626} from "../contracts/mocks/doubles/MockERC4626.sol";

/// @notice Unit and fuzz tests of the PriceOracle library, through its harness.
contract PriceOracleTest is TestBase {
    uint256 internal constant NOW = 1_700_000_000;
    uint32 internal constant MAX_AGE = 1 hours;
    uint32 internal constant GRACE = 1 hours;
    int96 internal constant MIN_ANSWER = 0.5e8;
    int96 internal constant MAX_ANSWER = 2e8;

    PriceOracleHarness internal oracle;
    MockPriceFeed internal feed;
    MockPriceFeed internal uptime;
    MockERC20 internal usdc;
    MockERC4626 internal fund;
    PriceSource internal src;
    SequencerCheck internal noSeq;
    SequencerCheck internal seq;

    function setUp() public {
        vm.warp(NOW);
        oracle = new PriceOracleHarness();
        feed = new MockPriceFeed(8, 1e8);
        uptime = new MockPriceFeed(0, 0);
        uptime.setRound(1, 0, NOW - 2 * GRACE, NOW - 2 * GRACE, 1);
        usdc = new MockERC20("USD Coin", "USDC", 6);
        fund = new MockERC4626(IERC20(address(usdc)), "Money Market Fund", "MMF");
        src = PriceSource({
            feed: AggregatorV3Interface(address(feed)),
            maxPriceAge: MAX_AGE,
            kind: AssetKind.ERC20,
            pricedDecimals: 6,
            feedDecimals: 8,
            minAnswer: MIN_ANSWER,
            maxAnswer: MAX_ANSWER
        });
        seq = SequencerCheck({uptimeFeed: AggregatorV3Interface(address(uptime)), gracePeriod: GRACE});
    }

    // ---------------------------------------------------------------- latestAnswer: happy paths

    function test_latestAnswerReturnsValidAnswer() public view {
        assertEq(oracle.latestAnswer(src, noSeq), 1e8, "answer");
        assertEq(oracle.latestAnswer(src, seq), 1e8, "answer with sequencer up");
    }

    function test_answerAtBoundsAndMaxAgeAccepted() public {
        feed.setRound(7, MIN_ANSWER, NOW - MAX_AGE, NOW - MAX_AGE, 7);
        assertEq(oracle.latestAnswer(src, noSeq), uint256(int256(MIN_ANSWER)), "min bound, max age");
        feed.setRound(8, MAX_ANSWER, NOW, NOW, 8);
        assertEq(oracle.latestAnswer(src, noSeq), uint256(int256(MAX_ANSWER)), "max bound");
        feed.setRound(9, 1e8, NOW, NOW, 10);
        assertEq(oracle.latestAnswer(src, noSeq), 1e8, "answeredInRound above roundId");
    }

    // ---------------------------------------------------------------- latestAnswer: each fault

    function test_zeroAnswerReverts() public {
        feed.setAnswer(0);
        vm.expectRevert(abi.encodeWithSelector(PriceOracle.NonPositivePrice.selector, address(feed), int256(0)));
        oracle.latestAnswer(src, noSeq);
    }

    function test_negativeAnswerReverts() public {
        feed.setAnswer(-1);
        vm.expectRevert(abi.encodeWithSelector(PriceOracle.NonPositivePrice.selector, address(feed), int256(-1)));
        oracle.latestAnswer(src, noSeq);
    }

    function test_zeroTimestampReverts() public {
        feed.setRound(3, 1e8, 0, 0, 3);
        vm.expectRevert(abi.encodeWithSelector(PriceOracle.PriceTimestampZero.selector, address(feed)));
        oracle.latestAnswer(src, noSeq);
    }

    function test_futureTimestampReverts() public {
        feed.setRound(3, 1e8, NOW, NOW + 1, 3);
        vm.expectRevert(
            abi.encodeWithSelector(PriceOracle.PriceTimestampInFuture.selector, address(feed), NOW + 1, NOW)
        );
        oracle.latestAnswer(src, noSeq);
    }

    function test_incompleteRoundReverts() public {
        feed.setRound(5, 1e8, NOW, NOW, 4);
        vm.expectRevert(
            abi.encodeWithSelector(PriceOracle.IncompleteRound.selector, address(feed), uint80(5), uint80(4))
        );
        oracle.latestAnswer(src, noSeq);
    }

    function test_stalePriceReverts() public {
        uint256 updatedAt = NOW;
        vm.warp(NOW + MAX_AGE + 1);
        vm.expectRevert(
            abi.encodeWithSelector(
                PriceOracle.StalePrice.selector,
                address(feed),
                updatedAt,
                uint256(MAX_AGE),
                NOW + MAX_AGE + 1
            )
        );
        oracle.latestAnswer(src, noSeq);
    }

    function test_answerBelowMinReverts() public {
        feed.setAnswer(MIN_ANSWER - 1);
        vm.expectRevert(
            abi.encodeWithSelector(
                PriceOracle.PriceOutOfBounds.selector,
                address(feed),
                int256(MIN_ANSWER - 1),
                int256(MIN_ANSWER),
                int256(MAX_ANSWER)
            )
        );
        oracle.latestAnswer(src, noSeq);
    }

    function test_answerAboveMaxReverts() public {
        feed.setAnswer(MAX_ANSWER + 1);
        vm.expectRevert(
            abi.encodeWithSelector(
                PriceOracle.PriceOutOfBounds.selector,
                address(feed),
                int256(MAX_ANSWER + 1),
                int256(MIN_ANSWER),
                int256(MAX_ANSWER)
            )
        );
        oracle.latestAnswer(src, noSeq);
    }

    /// @dev A round that breaks every rule reports the first check in the documented order.
    function test_validationOrder() public {
        feed.setRound(5, -3, 0, 0, 4);
        vm.expectRevert(abi.encodeWithSelector(PriceOracle.NonPositivePrice.selector, address(feed), int256(-3)));
        oracle.latestAnswer(src, noSeq);

        feed.setRound(5, 1e18, 0, 0, 4);
        vm.expectRevert(abi.encodeWithSelector(PriceOracle.PriceTimestampZero.selector, address(feed)));
        oracle.latestAnswer(src, noSeq);

        feed.setRound(5, 1e18, NOW, NOW + 5, 4);
        vm.expectRevert(
            abi.encodeWithSelector(PriceOracle.PriceTimestampInFuture.selector, address(feed), NOW + 5, NOW)
        );
        oracle.latestAnswer(src, noSeq);

        feed.setRound(5, 1e18, 1, 1, 4);
        vm.expectRevert(
            abi.encodeWithSelector(PriceOracle.IncompleteRound.selector, address(feed), uint80(5), uint80(4))
        );
        oracle.latestAnswer(src, noSeq);

        feed.setRound(5, 1e18, 1, 1, 5);
        vm.expectRevert(
            abi.encodeWithSelector(PriceOracle.StalePrice.selector, address(feed), 1, uint256(MAX_AGE), NOW)
        );
        oracle.latestAnswer(src, noSeq);
    }

    // ---------------------------------------------------------------- sequencer

    function test_sequencerDownReverts() public {
        uptime.setRound(2, 1, NOW - 2 * GRACE, NOW - 2 * GRACE, 2);
        vm.expectRevert(abi.encodeWithSelector(PriceOracle.SequencerDown.selector, address(uptime)));
        oracle.latestAnswer(src, seq);
    }

    function test_sequencerUnknownStatusOrUninitialisedRoundCountsAsDown() public {
        uptime.setRound(2, 2, NOW - 2 * GRACE, NOW - 2 * GRACE, 2);
        vm.expectRevert(abi.encodeWithSelector(PriceOracle.SequencerDown.selector, address(uptime)));
        oracle.latestAnswer(src, seq);

        uptime.setRound(0, 0, 0, 0, 0);
        vm.expectRevert(abi.encodeWithSelector(PriceOracle.SequencerDown.selector, address(uptime)));
        oracle.latestAnswer(src, seq);
    }

    function test_sequencerInGracePeriodReverts() public {
        uint256 upSince = NOW - GRACE + 1;
        uptime.setRound(2, 0, upSince, upSince, 2);
        vm.expectRevert(
            abi.encodeWithSelector(
                PriceOracle.SequencerGracePeriodNotOver.selector,
                address(uptime),
                upSince,
                uint256(GRACE),
                NOW
            )
        );
        oracle.latestAnswer(src, seq);
    }

    function test_sequencerUpSinceInFutureReverts() public {
        uptime.setRound(2, 0, NOW + 10, NOW + 10, 2);
        vm.expectRevert(
            abi.encodeWithSelector(
                PriceOracle.SequencerGracePeriodNotOver.selector,
                address(uptime),
                NOW + 10,
                uint256(GRACE),
                NOW
            )
        );
        oracle.latestAnswer(src, seq);
    }

    function test_sequencerAfterGracePeriodOk() public {
        uptime.setRound(2, 0, NOW - GRACE, NOW - GRACE, 2);
        feed.setAnswer(1.5e8);
        assertEq(oracle.latestAnswer(src, seq), 1.5e8, "exactly at end of grace");
    }

    function test_sequencerCheckedBeforeFeed() public {
        uptime.setRound(2, 1, NOW, NOW, 2);
        feed.setReverts(true);
        vm.expectRevert(abi.encodeWithSelector(PriceOracle.SequencerDown.selector, address(uptime)));
        oracle.latestAnswer(src, seq);
    }

    function test_sequencerFeedFailureReverts() public {
        uptime.setReverts(true);
        vm.expectRevert(abi.encodeWithSelector(PriceOracle.FeedCallFailed.selector, address(uptime)));
        oracle.latestAnswer(src, seq);
    }

    // ---------------------------------------------------------------- feed call failures

    function test_revertingFeedReverts() public {
        feed.setReverts(true);
        vm.expectRevert(abi.encodeWithSelector(PriceOracle.FeedCallFailed.selector, address(feed)));
        oracle.latestAnswer(src, noSeq);
    }

    function test_gasBurningFeedRevertsCleanlyWithBoundedGas() public {
        feed.setBurnsAllGas(true);
        uint256 gasBefore = gasleft();
        try oracle.latestAnswer{gas: 1_000_000}(src, noSeq) returns (uint256) {
            assertTrue(false, "gas-burning feed accepted");
        } catch (bytes memory reason) {
            uint256 spent = gasBefore - gasleft();
            assertTrue(
                keccak256(reason) ==
                    keccak256(abi.encodeWithSelector(PriceOracle.FeedCallFailed.selector, address(feed))),
                "FeedCallFailed expected"
            );
            // The feed may burn its 200k stipend, not the 1M the caller forwarded.
            assertLe(spent, PriceOracle.FEED_CALL_GAS + 60_000, "gas spent");
        }
    }

    function test_feedWithoutCodeReverts() public {
        address eoa = address(0xBEEF);
        src.feed = AggregatorV3Interface(eoa);
        vm.expectRevert(abi.encodeWithSelector(PriceOracle.FeedCallFailed.selector, eoa));
        oracle.latestAnswer(src, noSeq);
    }

    function test_feedReturningShortDataReverts() public {
        vm.mockCall(
            address(feed),
            abi.encodeWithSelector(AggregatorV3Interface.latestRoundData.selector),
            abi.encode(uint256(1), int256(1e8))
        );
        vm.expectRevert(abi.encodeWithSelector(PriceOracle.FeedCallFailed.selector, address(feed)));
        oracle.latestAnswer(src, noSeq);
    }

    function test_feedReturningOversizedRoundIdReverts() public {
        vm.mockCall(
            address(feed),
            abi.encodeWithSelector(AggregatorV3Interface.latestRoundData.selector),
            abi.encode(uint256(type(uint80).max) + 1, int256(1e8), NOW, NOW, uint256(1))
        );
        vm.expectRevert(abi.encodeWithSelector(PriceOracle.FeedCallFailed.selector, address(feed)));
        oracle.latestAnswer(src, noSeq);
    }

    // ---------------------------------------------------------------- checkSource and decimals

    function test_checkSourceAcceptsValidSource() public view {
        oracle.checkSource(src);
    }

    function test_checkSourceRejectsZeroFeed() public {
        src.feed = AggregatorV3Interface(address(0));
        vm.expectRevert(abi.encodeWithSelector(PriceOracle.ZeroFeed.selector));
        oracle.checkSource(src);
    }

    function test_checkSourceRejectsZeroMaxAge() public {
        src.maxPriceAge = 0;
        vm.expectRevert(abi.encodeWithSelector(PriceOracle.ZeroMaxPriceAge.selector));
        oracle.checkSource(src);
    }

    function test_checkSourceRejectsBadBounds() public {
        src.minAnswer = 0;
        vm.expectRevert(abi.encodeWithSelector(PriceOracle.InvalidBounds.selector, int256(0), int256(MAX_ANSWER)));
        oracle.checkSource(src);

        src.minAnswer = MAX_ANSWER + 1;
        vm.expectRevert(
            abi.encodeWithSelector(PriceOracle.InvalidBounds.selector, int256(MAX_ANSWER + 1), int256(MAX_ANSWER))
        );
        oracle.checkSource(src);

        src.minAnswer = MAX_ANSWER; // a single admissible answer is allowed
        oracle.checkSource(src);
    }

    function test_unsupportedDecimalsRejected() public {
        src.pricedDecimals = 37;
        vm.expectRevert(abi.encodeWithSelector(PriceOracle.UnsupportedDecimals.selector, uint8(37), uint8(8)));
        oracle.checkSource(src);
        vm.expectRevert(abi.encodeWithSelector(PriceOracle.UnsupportedDecimals.selector, uint8(37), uint8(8)));
        oracle.valueAt(address(usdc), src, 1e8, 1);

        src.pricedDecimals = 36;
        src.feedDecimals = 37;
        vm.expectRevert(abi.encodeWithSelector(PriceOracle.UnsupportedDecimals.selector, uint8(36), uint8(37)));
        oracle.amountForValue(address(usdc), src, 1e8, 1);

        src.feedDecimals = 36;
        oracle.checkSource(src);
    }

    // ---------------------------------------------------------------- valuation

    function test_valueOfStablecoin() public {
        // 1,234.567890 USDC at 0.99950000 = 1,233.950606055 in WAD.
        feed.setAnswer(0.9995e8);
        assertEq(oracle.valueOf(address(usdc), src, seq, 1_234_567_890), 1_233_950_606_055_000_000_000, "value");
    }

    function test_valueOfFailsOnBadPrice() public {
        vm.warp(NOW + MAX_AGE + 1);
        vm.expectRevert(
            abi.encodeWithSelector(
                PriceOracle.StalePrice.selector,
                address(feed),
                NOW,
                uint256(MAX_AGE),
                NOW + MAX_AGE + 1
            )
        );
        oracle.valueOf(address(usdc), src, noSeq, 1e6);
    }

    function test_valueRoundsDown() public view {
        // 1 raw unit of an 18-decimal token at 1e-8 (8-decimal feed): exact value 1e-8 wei, rounds to 0.
        PriceSource memory s = src;
        s.pricedDecimals = 18;
        assertEq(oracle.valueAt(address(usdc), s, 1, 1), 0, "sub-wei rounds down");
        // 3e7 units at answer 7, 26 decimals overall: 3e7 * 7 * 1e18 / 1e26 = 2.1 -> 2.
        assertEq(oracle.valueAt(address(usdc), s, 7, 3e7), 2, "2.1 -> 2");
        assertEq(oracle.amountForValue(address(usdc), s, 7, 2), 28_571_429, "ceil(2e8 / 7)");
    }

    function test_amountForValueStablecoin() public view {
        // 100 in WAD at 0.5 per USDC needs 200 USDC; one raw unit less is not enough.
        uint256 amount = oracle.amountForValue(address(usdc), src, 0.5e8, 100e18);
        assertEq(amount, 200e6, "amount");
        assertTrue(oracle.valueAt(address(usdc), src, 0.5e8, amount - 1) < 100e18, "minimal");
        // An odd price rounds the amount up.
        assertEq(oracle.amountForValue(address(usdc), src, 3e8, 1e18), 333_334, "ceil(1e6 / 3)");
        assertEq(oracle.amountForValue(address(usdc), src, 3e8, 0), 0, "zero value needs nothing");
    }

    function test_amountForValueZeroAnswerReverts() public {
        vm.expectRevert(abi.encodeWithSelector(PriceOracle.NonPositivePrice.selector, address(feed), int256(0)));
        oracle.amountForValue(address(usdc), src, 0, 1e18);
    }

    function test_valueAtOverflowRevertsInsteadOfWrapping() public {
        PriceSource memory s = src;
        s.pricedDecimals = 0;
        s.feedDecimals = 0;
        // 2^128 * 2^95 * 1e18 > 2^256: the exact value is unrepresentable, so the call must revert.
        vm.expectRevert();
        oracle.valueAt(address(usdc), s, uint256(1) << 95, uint256(1) << 128);
    }

    // ---------------------------------------------------------------- ERC-4626

    function _fundSource() internal view returns (PriceSource memory s) {
        s = src;
        s.kind = AssetKind.ERC4626;
    }

    function _seedFund(uint256 deposit) internal returns (uint256 shares) {
        usdc.mint(address(this), deposit);
        usdc.approve(address(fund), deposit);
        shares = fund.deposit(deposit, address(this));
    }

    function test_fundSharePricedThroughUnderlying() public {
        PriceSource memory s = _fundSource();
        uint256 shares = _seedFund(1_000e6);
        assertEq(oracle.valueOf(address(fund), s, seq, shares), 1_000e18, "1:1 share price");

        // Yield accrues: 10% of the assets donated to the fund. Value follows convertToAssets.
        usdc.mint(address(fund), 100e6);
        uint256 assets = fund.convertToAssets(shares);
        assertTrue(assets > 1_099e6 && assets <= 1_100e6, "share price moved");
        uint256 value = oracle.valueOf(address(fund), s, seq, shares);
        assertEq(value, assets * 1e12, "value of the underlying");
        assertEq(value, oracle.valueAt(address(usdc), src, 1e8, assets), "same as pricing the underlying");

        // And the underlying's price moves it too.
        feed.setAnswer(1.1e8);
        assertEq(oracle.valueOf(address(fund), s, seq, shares), (assets * 1.1e8 * 1e18) / 1e14, "price moved");
    }

    function test_fundAmountForValueCoversValue() public {
        PriceSource memory s = _fundSource();
        _seedFund(1_000e6);
        usdc.mint(address(fund), 333e6);
        uint256 shares = oracle.amountForValue(address(fund), s, 1e8, 500e18);
        assertGe(oracle.valueAt(address(fund), s, 1e8, shares), 500e18, "covers");
        assertTrue(oracle.valueAt(address(fund), s, 1e8, shares - 1) < 500e18, "minimal");
    }

    // ---------------------------------------------------------------- fuzz

    /// (1) valueAt is the exact floor of amount * answer * 1e18 / 10^(pd + fd) over the whole decimal range,
    /// and reverts only when that exact value does not fit in 256 bits.
    function testFuzz_valueAtIsExactFloor(uint8 pd, uint8 fd, uint256 amount, uint256 answer) public view {
        PriceSource memory s = _decimals(pd, fd);
        amount = bound(amount, 0, 1 << 128);
        answer = bound(answer, 0, 1 << 95);
        uint256 denom = 10 ** (uint256(s.pricedDecimals) + s.feedDecimals);
        (uint256 hi, uint256 lo) = _mul512(amount * answer, 1e18);
        bool fits = hi < denom; // floor(x / denom) < 2^256
        try oracle.valueAt(address(usdc), s, answer, amount) returns (uint256 value) {
            assertTrue(fits, "returned a value that cannot fit");
            assertEq(value, Math.mulDiv(amount * answer, 1e18, denom), "mulDiv formula");
            // Independent check of the floor: value * denom <= x < (value + 1) * denom.
            (uint256 vHi, uint256 vLo) = _mul512(value, denom);
            assertTrue(!_lt512(hi, lo, vHi, vLo), "over-valued");
            (uint256 nHi, uint256 nLo) = _add512(vHi, vLo, denom);
            assertTrue(_lt512(hi, lo, nHi, nLo), "under-valued by a whole wei");
        } catch {
            assertTrue(!fits, "reverted on a representable value");
        }
    }

    /// (1b) In the realistic envelope (value below 2^256 / 1e18 ... i.e. pd + fd >= 9) valueAt never reverts.
    function testFuzz_valueAtNeverRevertsInEnvelope(uint8 pd, uint8 fd, uint256 amount, uint256 answer) public view {
        pd = uint8(bound(pd, 0, 36));
        fd = uint8(bound(fd, pd >= 9 ? 0 : 9 - pd, 36));
        PriceSource memory s = _decimals(pd, fd);
        amount = bound(amount, 0, 1 << 128);
        answer = bound(answer, 0, 1 << 95);
        uint256 value = oracle.valueAt(address(usdc), s, answer, amount);
        assertEq(value, Math.mulDiv(amount * answer, 1e18, 10 ** (uint256(pd) + fd)), "mulDiv formula");
    }

    /// (2) Value is monotonic (non-decreasing) in the amount.
    function testFuzz_valueMonotonicInAmount(
        uint8 pd,
        uint8 fd,
        uint256 amount,
        uint256 extra,
        uint256 answer
    ) public view {
        PriceSource memory s = _decimals(pd, fd);
        amount = bound(amount, 0, 1 << 128);
        extra = bound(extra, 0, (1 << 128) - amount);
        answer = bound(answer, 0, 1 << 95);
        if (!_fits(amount + extra, answer, s)) return;
        uint256 small = oracle.valueAt(address(usdc), s, answer, amount);
        uint256 large = oracle.valueAt(address(usdc), s, answer, amount + extra);
        assertLe(small, large, "monotonic");
        if (extra > 0) assertLe(small, oracle.valueAt(address(usdc), s, answer, amount + 1), "next unit");
    }

    /// (3a) amountForValue is the smallest ERC-20 amount whose value reaches the target.
    function testFuzz_amountForValueRoundTripErc20(uint8 pd, uint8 fd, uint256 valueWad, uint256 answer) public view {
        PriceSource memory s = _decimals(pd, fd);
        valueWad = bound(valueWad, 0, 1 << 160);
        answer = bound(answer, 1, 1 << 95);
        uint256 amount;
        try oracle.amountForValue(address(usdc), s, answer, valueWad) returns (uint256 a) {
            amount = a;
        } catch {
            // Only when the amount needed does not fit in 256 bits.
            uint256 scale = uint256(s.pricedDecimals) + s.feedDecimals;
            assertTrue(scale > 18, "amountForValue reverted with a representable answer");
            (uint256 hi, ) = _mul512(valueWad, 10 ** (scale - 18));
            assertGe(hi, answer, "amountForValue reverted with a representable answer");
            return;
        }
        assertGe(oracle.valueAt(address(usdc), s, answer, amount), valueWad, "covers the value");
        if (amount > 0) {
            assertTrue(oracle.valueAt(address(usdc), s, answer, amount - 1) < valueWad, "one unit less falls short");
        } else {
            assertEq(valueWad, 0, "zero amount only for zero value");
        }
    }

    /// (3b) Same through an ERC-4626 fund whose share price has moved.
    function testFuzz_amountForValueRoundTripErc4626(
        uint256 deposit,
        uint256 donation,
        uint256 valueWad,
        uint256 answer
    ) public {
        _seedFund(bound(deposit, 1, 1e30));
        usdc.mint(address(fund), bound(donation, 0, 1e30));
        PriceSource memory s = _fundSource();
        valueWad = bound(valueWad, 0, 1e40);
        answer = bound(answer, 1, 1 << 95);
        uint256 shares = oracle.amountForValue(address(fund), s, answer, valueWad);
        assertGe(oracle.valueAt(address(fund), s, answer, shares), valueWad, "covers the value");
        // OpenZeppelin's vault converts at one rate, so the result is minimal as well.
        if (shares > 0) {
            assertTrue(oracle.valueAt(address(fund), s, answer, shares - 1) < valueWad, "one share less falls short");
        }
    }

    /// (4) No silent rounding to zero: a true value of at least 1 wei of WAD is never reported as 0.
    function testFuzz_noSilentZero(uint8 pd, uint8 fd, uint256 amount, uint256 answer) public view {
        PriceSource memory s = _decimals(pd, fd);
        amount = bound(amount, 1, 1 << 128);
        answer = bound(answer, 1, 1 << 95);
        if (!_fits(amount, answer, s)) return;
        uint256 denom = 10 ** (uint256(s.pricedDecimals) + s.feedDecimals);
        (uint256 hi, uint256 lo) = _mul512(amount * answer, 1e18);
        bool atLeastOneWei = hi > 0 || lo >= denom;
        uint256 value = oracle.valueAt(address(usdc), s, answer, amount);
        if (atLeastOneWei) assertTrue(value > 0, "silently rounded to zero");
        else assertEq(value, 0, "below one wei");
    }

    /// Any round is accepted exactly when it passes every rule, and otherwise fails with the first rule it breaks.
    function testFuzz_latestAnswerMatchesRules(
        uint80 roundId,
        int256 answer,
        uint256 updatedAt,
        uint80 answeredInRound
    ) public {
        answer = int256(bound(uint256(answer), 0, 4e8)) - 1e8; // [-1e8, 3e8] straddles every bound
        // Mostly recent rounds either side of the maximum age, some in the future, some with no timestamp.
        uint256 age = bound(updatedAt, 0, 2 * MAX_AGE + 20);
        if (age < 10) updatedAt = NOW + 1 + age;
        else if (age < 20) updatedAt = 0;
        else updatedAt = NOW - (age - 20);
        if (answeredInRound % 2 == 0) answeredInRound = roundId; // half the rounds complete
        feed.setRound(roundId, answer, updatedAt, updatedAt, answeredInRound);

        bytes memory expected;
        if (answer <= 0) {
            expected = abi.encodeWithSelector(PriceOracle.NonPositivePrice.selector, address(feed), answer);
        } else if (updatedAt == 0) {
            expected = abi.encodeWithSelector(PriceOracle.PriceTimestampZero.selector, address(feed));
        } else if (updatedAt > NOW) {
            expected = abi.encodeWithSelector(
                PriceOracle.PriceTimestampInFuture.selector,
                address(feed),
                updatedAt,
                NOW
            );
        } else if (answeredInRound < roundId) {
            expected = abi.encodeWithSelector(
                PriceOracle.IncompleteRound.selector,
                address(feed),
                roundId,
                answeredInRound
            );
        } else if (NOW - updatedAt > MAX_AGE) {
            expected = abi.encodeWithSelector(
                PriceOracle.StalePrice.selector,
                address(feed),
                updatedAt,
                uint256(MAX_AGE),
                NOW
            );
        } else if (answer < MIN_ANSWER || answer > MAX_ANSWER) {
            expected = abi.encodeWithSelector(
                PriceOracle.PriceOutOfBounds.selector,
                address(feed),
                answer,
                int256(MIN_ANSWER),
                int256(MAX_ANSWER)
            );
        }

        try oracle.latestAnswer(src, noSeq) returns (uint256 got) {
            assertEq(expected.length, 0, "accepted a bad round");
            assertEq(got, uint256(answer), "answer");
        } catch (bytes memory reason) {
            assertTrue(expected.length > 0, "rejected a good round");
            assertTrue(keccak256(reason) == keccak256(expected), "wrong error or values");
        }
    }

    /// Tiny-value edge of (4): exactly one wei of WAD at the largest scale.
    function test_oneWeiAtLargestScale() public view {
        PriceSource memory s = _decimals(36, 36);
        // amount * answer * 1e18 == 1e72 exactly.
        assertEq(oracle.valueAt(address(usdc), s, 1e27, 1e27), 1, "one wei");
        assertEq(oracle.valueAt(address(usdc), s, 1e27, 1e27 - 1), 0, "just below one wei");
        assertEq(oracle.amountForValue(address(usdc), s, 1e27, 1), 1e27, "inverse");
    }

    // ---------------------------------------------------------------- helpers

    function _decimals(uint8 pd, uint8 fd) internal view returns (PriceSource memory s) {
        s = src;
        s.pricedDecimals = uint8(bound(pd, 0, 36));
        s.feedDecimals = uint8(bound(fd, 0, 36));
    }

    /// @dev Whether floor(amount * answer * 1e18 / 10^(pd + fd)) fits in 256 bits (amount * answer < 2^256).
    function _fits(uint256 amount, uint256 answer, PriceSource memory s) internal pure returns (bool) {
        (uint256 hi, ) = _mul512(amount * answer, 1e18);
        return hi < 10 ** (uint256(s.pricedDecimals) + s.feedDecimals);
    }

    function _mul512(uint256 a, uint256 b) internal pure returns (uint256 hi, uint256 lo) {
        assembly ("memory-safe") {
            let mm := mulmod(a, b, not(0))
            lo := mul(a, b)
            hi := sub(sub(mm, lo), lt(mm, lo))
        }
    }

    function _add512(uint256 hi, uint256 lo, uint256 b) internal pure returns (uint256, uint256) {
        unchecked {
            uint256 newLo = lo + b;
            return (hi + (newLo < lo ? 1 : 0), newLo);
        }
    }

    function _lt512(uint256 aHi, uint256 aLo, uint256 bHi, uint256 bLo) internal pure returns (bool) {
        return aHi < bHi || (aHi == bHi && aLo < bLo);
    }
}
