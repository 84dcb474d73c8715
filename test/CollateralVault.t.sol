// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

import {IAgreementFactory} from "../contracts/interfaces/IAgreementFactory.sol";
import {IMarginEngine} from "../contracts/interfaces/IMarginEngine.sol";
import {ICollateralLedger} from "../contracts/interfaces/ICollateralLedger.sol";
import {IAgreementState} from "../contracts/interfaces/IAgreementState.sol";
import {ICollateralVault} from "../contracts/interfaces/ICollateralVault.sol";
import {AgreementTerms, EligibilityInput, EligibleAsset, VaultState} from "../contracts/types/AgreementTypes.sol";
import {AssetKind} from "../contracts/libraries/PriceOracle.sol";
import {FeeOnTransferToken} from "../contracts/mocks/hostile/FeeOnTransferToken.sol";
import {MockERC20} from "../contracts/mocks/doubles/MockERC20.sol";
import {MockERC4626} from "../contracts/mocks/doubles/MockERC4626.sol";
import {MockPriceFeed} from "../contracts/mocks/doubles/MockPriceFeed.sol";

import {TestBase} from "./utils/Vm.sol";
import {VaultFixture} from "./utils/VaultFixture.sol";

/// @notice Fuzz tests of the collateral vault's promises, one test per promise, each named for what it tries to
/// break.
contract CollateralVaultFuzzTest is VaultFixture {
    function setUp() public {
        _deployFixture();
    }

    // ------------------------------------------------------------ nothing lost

    /// @notice Random deposits, withdrawals and donations of the four assets, in an Open or a Pledged vault (no
    /// requirement): after every step the accounted balance equals the holdings minus what was donated.
    function testFuzz_P1_nothingLostOnDepositAndWithdraw(uint256 seed, bool pledged) public {
        ICollateralVault v = _openDefault(1);
        if (pledged) _pledge(v);
        uint256[4] memory donated;
        for (uint256 step; step < 12; ++step) {
            uint256 r = uint256(keccak256(abi.encode(seed, step)));
            uint256 k = r % 4;
            uint256 op = (r >> 8) % 5;
            uint256 amount = bound(r >> 16, 1, 10 ** (6 + ((r >> 12) % 24)));
            if (op < 2) {
                _deposit(v, k, amount);
            } else if (op < 4) {
                uint256 balance = v.balanceOf(assets[k]);
                if (balance == 0) continue;
                amount = bound(amount, 1, balance);
                address to = (r >> 200) % 2 == 0 ? PLEDGOR : RECEIVER;
                uint256 before = IERC20(assets[k]).balanceOf(to);
                vm.prank(PLEDGOR);
                v.withdraw(assets[k], amount, to);
                assertEq(IERC20(assets[k]).balanceOf(to), before + amount, "receiver got the amount");
            } else {
                _mintAsset(k, address(v), amount);
                donated[k] += amount;
            }
            for (uint256 i; i < 4; ++i) {
                assertEq(
                    v.balanceOf(assets[i]),
                    IERC20(assets[i]).balanceOf(address(v)) - donated[i],
                    "accounted == held - donated"
                );
            }
        }
    }

    // ------------------------------------------------------------ segregation

    /// @notice Everything agreement A goes through (deposits, withdrawals, a pledge, exposure, a pledged
    /// withdrawal, default, exclusive control with instructed transfers, release) leaves agreement B's state,
    /// accounted balances, holdings, requirement and value untouched.
    function testFuzz_P2_segregation(uint256 seed, uint256 exposureA, bool releaseA) public {
        ICollateralVault a = _openDefault(1);
        ICollateralVault b = _openDefault(2);
        for (uint256 i; i < 4; ++i) {
            _deposit(a, i, bound(uint256(keccak256(abi.encode(seed, "a", i))), 1, 1e24));
            _deposit(b, i, bound(uint256(keccak256(abi.encode(seed, "b", i))), 1, 1e24));
        }
        _pledge(b);
        _setExposure(b, b.collateralValue() / 2);

        uint256[4] memory bBalances = _balances(b);
        uint256[4] memory bHeld = _held(address(b));
        uint256 bRequirement = b.requirement();
        uint256 bValue = b.collateralValue();
        bytes32 bTerms = b.termsHash();

        // Open: random deposits and withdrawals.
        for (uint256 step; step < 4; ++step) {
            uint256 r = uint256(keccak256(abi.encode(seed, step)));
            uint256 k = r % 4;
            if ((r >> 8) % 2 == 0) {
                _deposit(a, k, bound(r >> 16, 1, 1e24));
            } else if (a.balanceOf(assets[k]) != 0) {
                uint256 amount = bound(r >> 16, 1, a.balanceOf(assets[k]));
                vm.prank(PLEDGOR);
                a.withdraw(assets[k], amount, RECEIVER);
            }
            _assertUnchanged(b, bBalances, bHeld, bRequirement, bValue, bTerms);
        }
        // Pledged: exposure and a withdrawal that may or may not be allowed.
        _pledge(a);
        _setExposure(a, bound(exposureA, 0, a.collateralValue()));
        _assertUnchanged(b, bBalances, bHeld, bRequirement, bValue, bTerms);
        {
            uint256 k = seed % 4;
            uint256 balance = a.balanceOf(assets[k]);
            vm.prank(PLEDGOR);
            try a.withdraw(assets[k], bound(seed >> 8, 1, Math.max(1, balance)), RECEIVER) {} catch {}
            _assertUnchanged(b, bBalances, bHeld, bRequirement, bValue, bTerms);
        }
        // Exclusive control: instructed transfers within the amount due.
        _takeExclusiveControl(a);
        for (uint256 step; step < 4; ++step) {
            uint256 r = uint256(keccak256(abi.encode(seed, "x", step)));
            uint256 k = r % 4;
            uint256 balance = a.balanceOf(assets[k]);
            if (balance == 0) continue;
            vm.prank(step % 2 == 0 ? SECURED : AGENT);
            try a.instructTransfer(assets[k], bound(r >> 8, 1, balance), SECURED) {} catch {}
            _assertUnchanged(b, bBalances, bHeld, bRequirement, bValue, bTerms);
        }
        if (releaseA) {
            vm.prank(SECURED);
            a.release();
            _assertUnchanged(b, bBalances, bHeld, bRequirement, bValue, bTerms);
        }
        assertTrue(b.state() == VaultState.Pledged, "B still pledged");
    }

    function _assertUnchanged(
        ICollateralVault b,
        uint256[4] memory balances,
        uint256[4] memory held,
        uint256 requirement,
        uint256 value,
        bytes32 termsHash
    ) internal view {
        for (uint256 i; i < 4; ++i) {
            assertEq(b.balanceOf(assets[i]), balances[i], "B accounted balance");
            assertEq(IERC20(assets[i]).balanceOf(address(b)), held[i], "B holdings");
        }
        assertEq(b.requirement(), requirement, "B requirement");
        assertEq(b.collateralValue(), value, "B collateral value");
        assertTrue(b.termsHash() == termsHash, "B terms hash");
        assertTrue(b.state() == VaultState.Pledged, "B state");
    }

    // ------------------------------------------------------------ exclusive control

    /// @notice Once the pledgor acknowledged a default and the notice was delivered, no pledgor call moves
    /// anything: withdrawals of any asset, any amount, to anyone, at any later time revert, and so do the calls
    /// reserved to the secured party; a release waits until the amount due is met or the appropriation period passes.
    function testFuzz_P3_exclusiveControlPledgorMovesNothing(
        uint256 assetSeed,
        uint256 amount,
        address to,
        uint256 exposure,
        uint256 elapsed
    ) public {
        ICollateralVault v = _openDefault(1);
        for (uint256 i; i < 4; ++i) _deposit(v, i, 10 ** (6 + i * 3));
        _pledge(v);
        exposure = bound(exposure, 1, v.collateralValue() * 2);
        _setExposure(v, exposure);
        // Past the mark's dispute window, so the notice makes it due.
        uint256 noticeAt = START + 1 days + 1;
        vm.warp(noticeAt);
        _refreshFeeds();
        _takeExclusiveControl(v);
        uint256 releasableAt = noticeAt + _terms().appropriationPeriod;
        vm.warp(noticeAt + bound(elapsed, 0, releasableAt - noticeAt - 1));
        (uint256 amountDue, ) = v.appropriation();
        assertEq(amountDue, exposure + Math.mulDiv(exposure, PENALTY_BPS, BPS), "due: the enforceable mark + penalty");

        address asset = assetSeed % 5 == 4 ? address(uint160(assetSeed >> 8)) : assets[assetSeed % 5];
        uint256[4] memory balances = _balances(v);
        uint256[4] memory held = _held(address(v));

        if (to == address(0)) {
            vm.expectRevert(abi.encodeWithSelector(IAgreementState.ZeroAddress.selector));
        } else if (amount == 0) {
            vm.expectRevert(abi.encodeWithSelector(IAgreementState.ZeroAmount.selector));
        } else {
            vm.expectRevert(abi.encodeWithSelector(IAgreementState.InvalidState.selector, VaultState.ExclusiveControl));
        }
        vm.prank(PLEDGOR);
        v.withdraw(asset, amount, to);

        // The bounded, likely-to-succeed form of the same attempt.
        uint256 k = assetSeed % 4;
        vm.expectRevert(abi.encodeWithSelector(IAgreementState.InvalidState.selector, VaultState.ExclusiveControl));
        vm.prank(PLEDGOR);
        v.withdraw(assets[k], bound(amount, 1, balances[k]), PLEDGOR);

        vm.expectRevert(abi.encodeWithSelector(IAgreementState.Unauthorized.selector, PLEDGOR, SECURED));
        vm.prank(PLEDGOR);
        v.instructTransfer(assets[k], bound(amount, 1, balances[k]), PLEDGOR);

        vm.expectRevert(
            abi.encodeWithSelector(IMarginEngine.ReleaseNotYetAllowed.selector, PLEDGOR, amountDue, releasableAt)
        );
        vm.prank(PLEDGOR);
        v.release();

        EligibilityInput memory delist = _line(k, 0, uint16(BPS));
        delist.feed = MockPriceFeed(address(0));
        vm.expectRevert(abi.encodeWithSelector(IAgreementState.Unauthorized.selector, PLEDGOR, SECURED));
        vm.prank(PLEDGOR);
        v.changeEligibility(delist);

        vm.expectRevert(abi.encodeWithSelector(IAgreementState.Unauthorized.selector, PLEDGOR, SECURED));
        vm.prank(PLEDGOR);
        v.setExposure(0);

        bytes32 terms = v.termsHash();
        vm.expectRevert(abi.encodeWithSelector(IAgreementState.InvalidState.selector, VaultState.ExclusiveControl));
        vm.prank(PLEDGOR);
        v.consentToPledge(terms);

        vm.expectRevert(abi.encodeWithSelector(IAgreementState.InvalidState.selector, VaultState.ExclusiveControl));
        vm.prank(PLEDGOR);
        v.declareDefault();

        for (uint256 i; i < 4; ++i) {
            assertEq(v.balanceOf(assets[i]), balances[i], "accounted unchanged");
            assertEq(IERC20(assets[i]).balanceOf(address(v)), held[i], "held unchanged");
        }
        assertTrue(v.state() == VaultState.ExclusiveControl, "still under exclusive control");
    }

    // ------------------------------------------------------------ no under-collateralised withdrawal

    /// @notice Random terms, haircuts, caps, holdings, prices and exposure: a pledged withdrawal succeeds exactly
    /// when the collateral value left (by the documented definition) covers the requirement, and then the
    /// vault's own `collateralValue()` covers it too. Once the prices are stale, every withdrawal that leaves
    /// anything to value reverts.
    function testFuzz_P4_noUndercollateralisedWithdrawal(
        uint256 seed,
        uint256 exposure,
        uint256 which,
        uint256 amount,
        uint256 staleBy
    ) public {
        ICollateralVault v;
        {
            AgreementTerms memory t = _terms();
            t.threshold = uint128(bound(seed >> 1, 0, 1e24) * ((seed >> 100) % 2));
            t.independentAmount = uint128(bound(seed >> 2, 0, 1e24) * ((seed >> 101) % 2));
            uint16[4] memory haircuts;
            uint16[4] memory caps;
            for (uint256 i; i < 4; ++i) {
                uint256 r = uint256(keccak256(abi.encode(seed, "line", i)));
                haircuts[i] = uint16(bound(r, 0, 9_900));
                caps[i] = (r >> 64) % 2 == 0 ? uint16(BPS) : uint16(bound(r >> 16, 2_500, BPS));
            }
            v = _open(bytes32(0), t, _schedule(haircuts, caps));
        }
        for (uint256 i; i < 4; ++i) {
            uint256 r = uint256(keccak256(abi.encode(seed, "amount", i)));
            // usd6 is always held, so there is something left to value after most withdrawals.
            uint256 amt = bound(r, i == 0 ? 1 : 0, 10 ** (6 + ((r >> 128) % 20)));
            if (amt != 0) _deposit(v, i, amt);
        }
        _pledge(v);
        for (uint256 i; i < 4; ++i) {
            uint256 r = uint256(keccak256(abi.encode(seed, "price", i)));
            feeds[i].setAnswer(int256(bound(r, 1e4, 1e14)));
        }
        _setExposure(v, bound(exposure, 0, 2 * (v.collateralValue() + v.terms().threshold) + 1));

        uint256 k = which % 4;
        uint256[4] memory balances = _balances(v);
        if (balances[k] == 0) k = 0;
        amount = bound(amount, 1, balances[k]);
        balances[k] -= amount;
        uint256 required = v.requirement();
        uint256 valueAfter = _refCollateralValue(v, balances);
        if (valueAfter < required) {
            vm.expectRevert(
                abi.encodeWithSelector(ICollateralVault.WithdrawalBreachesRequirement.selector, valueAfter, required)
            );
        }
        vm.prank(PLEDGOR);
        v.withdraw(assets[k], amount, RECEIVER);
        if (valueAfter >= required) {
            assertGe(v.collateralValue(), v.requirement(), "covered after a pledged withdrawal");
            assertEq(v.balanceOf(assets[k]), balances[k], "debited");
        }

        // Stale prices: every feed is past its maximum age.
        vm.warp(block.timestamp + MAX_AGE + 1 + bound(staleBy, 0, 30 days));
        balances = _balances(v);
        k = (which >> 8) % 4;
        if (balances[k] == 0) k = 0;
        if (balances[k] == 0) return; // nothing of usd6 left after the first withdrawal
        amount = bound(amount, 1, balances[k]);
        balances[k] -= amount;
        bool anythingLeft;
        for (uint256 i; i < 4; ++i) if (balances[i] != 0) anythingLeft = true;
        if (anythingLeft) {
            // What is left cannot be valued: the oracle's stale-price error (its exact form is the oracle's).
            vm.expectRevert();
        } else if (v.requirement() != 0) {
            vm.expectRevert(
                abi.encodeWithSelector(ICollateralVault.WithdrawalBreachesRequirement.selector, 0, v.requirement())
            );
        }
        // else: withdrawing the very last unit when nothing is required needs no price, and is allowed.
        vm.prank(PLEDGOR);
        v.withdraw(assets[k], amount, RECEIVER);
    }

    // ------------------------------------------------------------ bounded appropriation

    /// @notice Under exclusive control the secured party and the agent move random amounts of random assets
    /// while prices move: the value moved out (at the oracle price when it moved) never exceeds exposure plus
    /// the penalty, and a transfer is refused exactly when it would go beyond.
    function testFuzz_P5_boundedAppropriation(uint256 seed, uint256 exposure, uint256 penaltyBps) public {
        ICollateralVault v;
        {
            AgreementTerms memory t = _terms();
            t.liquidationPenaltyBps = uint16(bound(penaltyBps, 0, 5_000));
            penaltyBps = t.liquidationPenaltyBps;
            v = _open(bytes32(0), t, _defaultSchedule());
        }
        for (uint256 i; i < 4; ++i) {
            uint256 r = uint256(keccak256(abi.encode(seed, "amount", i)));
            _deposit(v, i, bound(r, 1, 10 ** (6 + ((r >> 128) % 20))));
        }
        _pledge(v);
        exposure = bound(exposure, 0, v.collateralValue() * 2);
        _setExposure(v, exposure);
        _takeExclusiveControl(v);

        uint256 maxDue = Math.mulDiv(exposure, BPS + penaltyBps, BPS);
        (uint256 amountDue, ) = v.appropriation();
        assertLe(amountDue, maxDue, "amount due within exposure plus penalty");

        uint256 moved;
        for (uint256 step; step < 16; ++step) {
            uint256 r = uint256(keccak256(abi.encode(seed, "step", step)));
            uint256 k = r % 4;
            if ((r >> 8) % 4 == 0) {
                // Prices move, and stay fresh.
                feeds[k].setAnswer(int256(bound(r >> 16, 1e4, 1e14)));
                continue;
            }
            uint256 balance = v.balanceOf(assets[k]);
            if (balance == 0) continue;
            uint256 amount = bound(r >> 16, 1, Math.max(1, balance >> ((r >> 240) % 40)));
            uint256 value = v.valueOfHolding(assets[k], amount);
            if (moved + value > amountDue) {
                vm.expectRevert(
                    abi.encodeWithSelector(
                        IMarginEngine.AppropriationExceedsAmountDue.selector,
                        moved + value,
                        amountDue
                    )
                );
            } else {
                moved += value;
            }
            vm.prank((r >> 10) % 2 == 0 ? SECURED : AGENT);
            v.instructTransfer(assets[k], amount, SECURED);

            (, uint256 appropriated) = v.appropriation();
            assertEq(appropriated, moved, "appropriated == value moved");
            assertLe(moved, maxDue, "never beyond exposure plus penalty");
        }
    }

    // ------------------------------------------------------------ pausing never traps

    /// @notice With the factory paused, a pledged vault's excess still comes out, an Open vault still returns
    /// everything, and release returns the rest; only new risk (pledges, new agreements) is refused.
    function testFuzz_P7_pausingNeverTraps(
        uint256 usdAmount,
        uint256 ethAmount,
        uint256 exposure,
        uint256 withdrawAmount
    ) public {
        ICollateralVault v = _openDefault(1);
        ICollateralVault other = _openDefault(2);
        usdAmount = bound(usdAmount, 1e6, 1e18);
        ethAmount = bound(ethAmount, 1, 1e27);
        _deposit(v, 0, usdAmount);
        _deposit(v, 2, ethAmount);
        _deposit(other, 2, ethAmount);
        _pledge(v);
        // The usd6 alone covers the requirement, so all the eth18 is excess.
        uint256 usdCover = Math.mulDiv(v.valueOfHolding(address(usd6), usdAmount), BPS - defaultHaircuts[0], BPS);
        _setExposure(v, bound(exposure, 0, usdCover));

        // The test contract is the AccessManager's admin, which may call any restricted function.
        factory.pause();
        assertTrue(factory.paused(), "paused");

        withdrawAmount = bound(withdrawAmount, 1, ethAmount);
        vm.prank(PLEDGOR);
        v.withdraw(address(eth18), withdrawAmount, PLEDGOR);
        assertEq(eth18.balanceOf(PLEDGOR), withdrawAmount, "excess withdrawn while paused");

        vm.prank(PLEDGOR);
        other.withdraw(address(eth18), ethAmount, PLEDGOR);
        assertEq(eth18.balanceOf(PLEDGOR), withdrawAmount + ethAmount, "open vault withdrawn while paused");

        bytes32 otherTerms = other.termsHash();
        vm.expectRevert(abi.encodeWithSelector(ICollateralVault.NewRiskPaused.selector));
        vm.prank(PLEDGOR);
        other.consentToPledge(otherTerms);
        vm.expectRevert(abi.encodeWithSelector(ICollateralVault.NewRiskPaused.selector));
        vm.prank(SECURED);
        other.consentToPledge(otherTerms);
        vm.expectRevert(abi.encodeWithSelector(ICollateralVault.NewRiskPaused.selector));
        vm.prank(SECURED);
        other.pledgeWithSignature(block.timestamp, "");
        vm.expectRevert(abi.encodeWithSelector(IAgreementFactory.FactoryPaused.selector));
        vm.prank(PLEDGOR);
        factory.openAgreement(PLEDGOR, SECURED, AGENT, _terms(), _defaultSchedule(), bytes32(uint256(3)));

        vm.prank(SECURED);
        v.release();
        assertTrue(v.state() == VaultState.Released, "released while paused");
        assertEq(usd6.balanceOf(PLEDGOR), usdAmount, "usd returned");
        assertEq(eth18.balanceOf(PLEDGOR), 2 * ethAmount, "eth returned");
        assertEq(v.balanceOf(address(usd6)), 0, "nothing accounted after release");
        assertEq(v.balanceOf(address(eth18)), 0, "nothing accounted after release");
    }

    // ------------------------------------------------------------ short delivery

    /// @notice A fee-on-transfer token listed in the schedule: the deposit reverts with the amount asked and the
    /// amount received, and nothing is accounted or held.
    function testFuzz_shortDeliveryRejected(uint256 feeBps, uint256 amount, bool pledged) public {
        feeBps = bound(feeBps, 1, BPS);
        FeeOnTransferToken fot = new FeeOnTransferToken(feeBps);
        // At least one unit of fee.
        amount = bound(amount, Math.ceilDiv(BPS, feeBps), 1e30);
        ICollateralVault v = _open(bytes32(0), _terms(), _fotSchedule(fot));
        if (pledged) _pledge(v);

        fot.mint(PLEDGOR, amount);
        vm.prank(PLEDGOR);
        fot.approve(address(v), amount);
        uint256 received = amount - (amount * feeBps) / BPS;
        vm.expectRevert(
            abi.encodeWithSelector(ICollateralLedger.ShortDelivery.selector, address(fot), received, amount)
        );
        vm.prank(PLEDGOR);
        v.deposit(address(fot), amount);

        assertEq(v.balanceOf(address(fot)), 0, "nothing accounted");
        assertEq(fot.balanceOf(address(v)), 0, "nothing held");
        assertEq(fot.balanceOf(PLEDGOR), amount, "nothing left the pledgor");
    }

    // REGRESSION (contract bug, fails today; kept commented out so the suite stays green until it is fixed).
    // ICollateralVault.deposit promises `ShortDelivery` "when the token delivers less than `amount`", but
    /// @notice Regression: a donation already held must not hide a short delivery. The vault once compared
    /// holdings after the transfer with everything accounted, so 990 donated units absorbed a 1% fee on a
    /// 10,000 deposit, which was credited in full; it now compares the balance before and after.
    function test_regression_shortDeliveryMaskedByDonation() public {
        FeeOnTransferToken fot = new FeeOnTransferToken(100); // 1%
        ICollateralVault v = _open(bytes32(0), _terms(), _fotSchedule(fot));
        // Anyone sends 1,000 units straight to the vault (it receives 990): a donation, not accounted.
        fot.mint(RECEIVER, 1_000);
        vm.prank(RECEIVER);
        fot.transfer(address(v), 1_000);
        // The pledgor deposits 10,000 and the token delivers 9,900.
        fot.mint(PLEDGOR, 10_000);
        vm.prank(PLEDGOR);
        fot.approve(address(v), 10_000);
        vm.expectRevert(abi.encodeWithSelector(ICollateralLedger.ShortDelivery.selector, address(fot), 9_900, 10_000));
        vm.prank(PLEDGOR);
        v.deposit(address(fot), 10_000);
    }

    function _fotSchedule(FeeOnTransferToken fot) internal view returns (EligibilityInput[] memory s) {
        s = new EligibilityInput[](2);
        s[0] = _line(0, 200, uint16(BPS));
        s[1] = EligibilityInput({
            asset: address(fot),
            feed: feeds[0],
            kind: AssetKind.ERC20,
            maxPriceAge: MAX_AGE,
            minAnswer: 1,
            maxAnswer: type(int96).max,
            haircutBps: 500,
            concentrationCapBps: uint16(BPS)
        });
    }

    // ------------------------------------------------------------ schedule notice

    /// @notice On a pledged vault a haircut increase shows in `eligibility` only once the notice period has
    /// passed; a haircut decrease applies at once; on an Open vault a tightening applies at once.
    function testFuzz_scheduleTighteningWaitsNotice(uint256 newHaircut, uint256 elapsed, uint256 looser) public {
        ICollateralVault v = _openDefault(1);
        ICollateralVault open = _openDefault(2);
        _deposit(v, 2, 1e18);
        _pledge(v);
        uint16 oldHaircut = defaultHaircuts[2];
        newHaircut = bound(newHaircut, oldHaircut + 1, BPS);
        uint256 t0 = block.timestamp;

        vm.prank(SECURED);
        v.changeEligibility(_line(2, uint16(newHaircut), uint16(BPS)));
        (EligibleAsset memory pending, uint256 effectiveAt) = v.pendingEligibility(address(eth18));
        assertEq(effectiveAt, t0 + NOTICE, "queued for the notice period");
        assertEq(pending.haircutBps, newHaircut, "queued line");
        assertEq(v.eligibility(address(eth18)).haircutBps, oldHaircut, "not yet at once");

        // A loosening of another asset applies at once.
        uint16 btcHaircut = defaultHaircuts[1];
        looser = bound(looser, 0, btcHaircut - 1);
        vm.prank(SECURED);
        v.changeEligibility(_line(1, uint16(looser), uint16(BPS)));
        assertEq(v.eligibility(address(btc8)).haircutBps, looser, "loosening at once");

        // On an Open vault a tightening applies at once.
        vm.prank(SECURED);
        open.changeEligibility(_line(2, uint16(newHaircut), uint16(BPS)));
        assertEq(open.eligibility(address(eth18)).haircutBps, newHaircut, "open vault: at once");

        vm.warp(t0 + bound(elapsed, 0, NOTICE - 1));
        assertEq(v.eligibility(address(eth18)).haircutBps, oldHaircut, "not before the notice period");
        vm.warp(t0 + NOTICE);
        assertEq(v.eligibility(address(eth18)).haircutBps, newHaircut, "in force after the notice period");
        vm.warp(t0 + NOTICE + bound(elapsed, 0, 365 days));
        assertEq(v.eligibility(address(eth18)).haircutBps, newHaircut, "and stays in force");
        assertEq(v.eligibility(address(btc8)).haircutBps, looser, "the loosening stays");
    }
}

// ---------------------------------------------------------------- invariant handler

/// @notice Drives several agreements' vaults through deposits, withdrawals, pledges, exposure changes, price
/// moves, fund yield and donations, keeping its own ghost record of what each vault should hold.
/// @dev Inputs are bounded so that most calls do something; every price move publishes a fresh round, and time
/// only moves together with a refresh of every feed, so valuations run on valid prices.
contract VaultHandler is TestBase {
    address public immutable pledgor;
    address public immutable securedParty;
    address internal constant RECEIVER = address(0xD00D);

    ICollateralVault[] internal _vaults;
    address[] internal _assets;
    MockPriceFeed[] internal _feeds;
    MockERC20 internal immutable _underlying;
    MockERC4626 internal immutable _share;

    /// @notice What each vault should account for each asset, by this handler's own bookkeeping.
    mapping(address vault => mapping(address asset => uint256)) public ghostBalance;
    /// @notice What was sent to each vault without a deposit.
    mapping(address vault => mapping(address asset => uint256)) public donated;
    /// @notice Per asset, the total deposited into and withdrawn from all vaults.
    mapping(address asset => uint256) public posted;
    mapping(address asset => uint256) public withdrawn;
    /// @notice Pledged withdrawals that succeeded and left the vault's collateral value below its requirement.
    uint256 public uncoveredWithdrawals;
    /// @notice Successful calls per action, to check the campaign did something.
    mapping(bytes32 action => uint256) public done;

    constructor(
        address pledgor_,
        address securedParty_,
        ICollateralVault[] memory vaults_,
        address[] memory assets_,
        MockPriceFeed[] memory feeds_,
        MockERC4626 share_
    ) {
        pledgor = pledgor_;
        securedParty = securedParty_;
        _vaults = vaults_;
        _assets = assets_;
        _feeds = feeds_;
        _share = share_;
        _underlying = MockERC20(share_.asset());
    }

    // ------------------------------------------------------------ actions

    function deposit(uint256 vaultSeed, uint256 assetSeed, uint256 amount) external {
        ICollateralVault v = _vault(vaultSeed);
        address asset = _asset(assetSeed);
        if (v.state() > VaultState.MarginCall) return;
        amount = _boundAmount(asset, amount);
        _mint(asset, pledgor, amount);
        vm.prank(pledgor);
        IERC20(asset).approve(address(v), amount);
        vm.prank(pledgor);
        v.deposit(asset, amount);
        ghostBalance[address(v)][asset] += amount;
        posted[asset] += amount;
        done["deposit"]++;
    }

    function withdraw(uint256 vaultSeed, uint256 assetSeed, uint256 amount, bool toReceiver) external {
        ICollateralVault v = _vault(vaultSeed);
        address asset = _asset(assetSeed);
        uint256 balance = v.balanceOf(asset);
        if (balance == 0) return;
        // Half the time everything, so a pledged vault is often asked for more than its excess.
        amount = amount % 2 == 0 ? balance : bound(amount, 1, balance);
        VaultState stateBefore = v.state();
        address to = toReceiver ? RECEIVER : pledgor;
        vm.prank(pledgor);
        try v.withdraw(asset, amount, to) {
            ghostBalance[address(v)][asset] -= amount;
            withdrawn[asset] += amount;
            done["withdraw"]++;
            if (stateBefore == VaultState.Pledged) {
                done["pledgedWithdraw"]++;
                if (v.collateralValue() < v.requirement()) uncoveredWithdrawals++;
            }
        } catch {
            done["withdrawRefused"]++;
        }
    }

    function pledge(uint256 vaultSeed) external {
        ICollateralVault v = _vault(vaultSeed);
        if (v.state() != VaultState.Open) return;
        bytes32 terms = v.termsHash();
        vm.prank(pledgor);
        v.consentToPledge(terms);
        vm.prank(securedParty);
        v.consentToPledge(terms);
        done["pledge"]++;
    }

    /// @dev Exposure up to one and a half times the current collateral value (plus the threshold).
    function setExposure(uint256 vaultSeed, uint256 exposure) external {
        ICollateralVault v = _vault(vaultSeed);
        uint256 value = v.collateralValue() + v.terms().threshold;
        // Mostly near the collateral value, so pledged withdrawals are often close to the line.
        exposure =
            exposure % 4 == 0 ? bound(exposure, 0, value) : bound(exposure, (value * 3) / 4, (value * 3) / 2 + 1);
        vm.prank(securedParty);
        v.setExposure(exposure);
        done["setExposure"]++;
    }

    /// @dev Moves one feed by -50%..+50%, within sane bounds, as a fresh round.
    function movePrice(uint256 assetSeed, uint256 changeBps) external {
        MockPriceFeed feed = _feeds[assetSeed % _feeds.length];
        uint256 price = (uint256(feed.answer()) * bound(changeBps, 5_000, 15_000)) / 10_000;
        feed.setAnswer(int256(bound(price, 1e4, 1e14)));
        done["movePrice"]++;
    }

    /// @dev Sends tokens straight to a vault, outside `deposit`.
    function donate(uint256 vaultSeed, uint256 assetSeed, uint256 amount) external {
        ICollateralVault v = _vault(vaultSeed);
        address asset = _asset(assetSeed);
        amount = _boundAmount(asset, amount);
        _mint(asset, address(v), amount);
        donated[address(v)][asset] += amount;
        done["donate"]++;
    }

    /// @dev The fund earns yield: its share price rises.
    function accrueYield(uint256 amount) external {
        if (_share.totalSupply() == 0) return;
        amount = bound(amount, 1, _share.totalAssets() / 10 + 1);
        _underlying.mint(address(_share), amount);
        done["accrueYield"]++;
    }

    /// @dev Time passes (up to a day) and every feed publishes a fresh round at its current answer.
    function warp(uint256 seconds_) external {
        vm.warp(block.timestamp + bound(seconds_, 1, 1 days));
        for (uint256 i; i < _feeds.length; ++i) _feeds[i].setAnswer(_feeds[i].answer());
        done["warp"]++;
    }

    // ------------------------------------------------------------ views for the invariants

    function vaults() external view returns (ICollateralVault[] memory) {
        return _vaults;
    }

    function assets() external view returns (address[] memory) {
        return _assets;
    }

    /// @notice The action selectors the invariant campaign targets.
    function actions() external pure returns (bytes4[] memory s) {
        s = new bytes4[](8);
        s[0] = this.deposit.selector;
        s[1] = this.withdraw.selector;
        s[2] = this.pledge.selector;
        s[3] = this.setExposure.selector;
        s[4] = this.movePrice.selector;
        s[5] = this.donate.selector;
        s[6] = this.accrueYield.selector;
        s[7] = this.warp.selector;
    }

    // ------------------------------------------------------------ internals

    function _vault(uint256 seed) internal view returns (ICollateralVault) {
        return _vaults[seed % _vaults.length];
    }

    function _asset(uint256 seed) internal view returns (address) {
        return _assets[seed % _assets.length];
    }

    /// @dev One raw unit up to a million whole tokens.
    function _boundAmount(address asset, uint256 amount) internal view returns (uint256) {
        return bound(amount, 1, 10 ** (IERC20Metadata(asset).decimals() + 6));
    }

    function _mint(address asset, address to, uint256 amount) internal {
        if (asset == address(_share)) {
            uint256 underlying = _share.previewMint(amount);
            _underlying.mint(address(this), underlying);
            _underlying.approve(address(_share), underlying);
            _share.mint(amount, to);
        } else {
            MockERC20(asset).mint(to, amount);
        }
    }
}

/// @notice Invariant campaign: a handler drives three agreements over four assets (6-, 8- and 18-decimal tokens and
/// an ERC-4626 share over the 6-decimal one) with deposits, withdrawals, pledges, exposure changes, price moves,
/// fund yield, donations and time.
contract CollateralVaultInvariantTest is VaultFixture {
    struct FuzzSelector {
        address addr;
        bytes4[] selectors;
    }

    VaultHandler internal handler;

    function setUp() public {
        _deployFixture();
        ICollateralVault[] memory vs = new ICollateralVault[](3);
        vs[0] = _openDefault(1);
        AgreementTerms memory t = _terms();
        t.threshold = 1_000e18;
        vs[1] = _open(
            bytes32(uint256(2)),
            t,
            _schedule([uint16(0), 2_000, 1_500, 300], [uint16(5_000), 4_000, 10_000, 6_000])
        );
        t.threshold = 0;
        t.independentAmount = 100e18;
        vs[2] = _open(
            bytes32(uint256(3)),
            t,
            _schedule([uint16(500), 3_000, 2_500, 1_000], [uint16(10_000), 10_000, 5_000, 10_000])
        );
        MockPriceFeed[] memory fs = feeds;
        handler = new VaultHandler(PLEDGOR, SECURED, vs, assets, fs, mmf);
    }

    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    function targetSelectors() public view returns (FuzzSelector[] memory targets) {
        targets = new FuzzSelector[](1);
        targets[0] = FuzzSelector({addr: address(handler), selectors: handler.actions()});
    }

    /// @notice Per vault and asset: accounted == held - donations, and accounted == the handler's ghost balance.
    function invariant_P1_nothingLost() public view {
        ICollateralVault[] memory vs = handler.vaults();
        for (uint256 j; j < vs.length; ++j) {
            for (uint256 i; i < assets.length; ++i) {
                uint256 accounted = vs[j].balanceOf(assets[i]);
                uint256 held = IERC20(assets[i]).balanceOf(address(vs[j]));
                assertEq(accounted, held - handler.donated(address(vs[j]), assets[i]), "accounted == held - donated");
                assertEq(accounted, handler.ghostBalance(address(vs[j]), assets[i]), "accounted == ghost");
            }
        }
    }

    /// @notice Per asset: the sum over vaults of what is accounted is what was posted minus what was withdrawn.
    function invariant_P2_segregation() public view {
        ICollateralVault[] memory vs = handler.vaults();
        for (uint256 i; i < assets.length; ++i) {
            uint256 sum;
            for (uint256 j; j < vs.length; ++j) sum += vs[j].balanceOf(assets[i]);
            assertEq(
                sum,
                handler.posted(assets[i]) - handler.withdrawn(assets[i]),
                "sum accounted == posted - withdrawn"
            );
        }
    }

    /// @notice No pledged withdrawal ever succeeded and left its vault's collateral value below the requirement.
    function invariant_P4_pledgedVaultsCoveredOrNoWithdrawalSucceeded() public view {
        assertEq(handler.uncoveredWithdrawals(), 0, "uncovered pledged withdrawals");
    }
}
