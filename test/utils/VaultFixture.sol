// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {AccessManager} from "@openzeppelin/contracts/access/manager/AccessManager.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

import {IAgreementFactory, ListingRules} from "../../contracts/interfaces/IAgreementFactory.sol";
import {ICollateralVault} from "../../contracts/interfaces/ICollateralVault.sol";
import {AgreementTerms, EligibilityInput} from "../../contracts/types/AgreementTypes.sol";
import {AssetKind, SequencerCheck} from "../../contracts/libraries/PriceOracle.sol";
import {MockERC20} from "../../contracts/mocks/doubles/MockERC20.sol";
import {MockERC4626} from "../../contracts/mocks/doubles/MockERC4626.sol";
import {MockPriceFeed} from "../../contracts/mocks/doubles/MockPriceFeed.sol";

import {TestBase} from "./Vm.sol";

/// @notice Deploys a factory behind an AccessManager, four assets (6-, 8- and 18-decimal tokens and an ERC-4626
/// share over the 6-decimal one), one fresh 8-decimal feed per asset, and opens agreements between fixed parties.
abstract contract VaultFixture is TestBase {
    address internal constant PLEDGOR = address(0xA11CE);
    address internal constant SECURED = address(0xB0B);
    address internal constant AGENT = address(0xA6E27);
    address internal constant RECEIVER = address(0xD00D);

    uint256 internal constant BPS = 10_000;
    uint32 internal constant MAX_AGE = 1 hours;
    uint32 internal constant NOTICE = 2 days;
    uint16 internal constant PENALTY_BPS = 500;
    uint256 internal constant START = 1_750_000_000;

    AccessManager internal manager;
    IAgreementFactory internal factory;
    MockERC20 internal usd6;
    MockERC20 internal btc8;
    MockERC20 internal eth18;
    MockERC4626 internal mmf;
    /// @dev assets[i] is priced by feeds[i]; the share (index 3) by a feed of its underlying.
    address[] internal assets;
    MockPriceFeed[] internal feeds;
    uint16[4] internal defaultHaircuts = [200, 1500, 1000, 500];
    int256[4] internal defaultPrices = [int256(1e8), 60_000e8, 3_000e8, 1e8];

    function _deployFixture() internal {
        vm.warp(START);
        manager = new AccessManager(address(this));
        // The shipped artifacts, not a second compile of their sources: the tests run the bytecode that deploys.
        factory = IAgreementFactory(
            _deployArtifact(
                "AgreementFactory.sol:AgreementFactory",
                abi.encode(
                    address(manager),
                    _deployArtifact(
                        "CollateralVault.sol:CollateralVault",
                        abi.encode(SequencerCheck({uptimeFeed: MockPriceFeed(address(0)), gracePeriod: 0}))
                    ),
                    _deployArtifact("DvPSettlement.sol:DvPSettlement", "")
                )
            )
        );
        // The widest listing rules a deployment may set, so that the fuzz tests reach every bound the vault enforces.
        factory.setListingRules(ListingRules(5_000, 5_000, 1, 1, 1, 1, 365 days));
        usd6 = new MockERC20("USD Coin", "USDC", 6);
        btc8 = new MockERC20("Wrapped BTC", "WBTC", 8);
        eth18 = new MockERC20("Wrapped Ether", "WETH", 18);
        mmf = new MockERC4626(usd6, "Money Market Fund", "MMF");
        assets.push(address(usd6));
        assets.push(address(btc8));
        assets.push(address(eth18));
        assets.push(address(mmf));
        for (uint256 i; i < 4; ++i) feeds.push(new MockPriceFeed(8, defaultPrices[i]));
    }

    function _terms() internal pure returns (AgreementTerms memory t) {
        t.curePeriod = 1 days;
        t.scheduleNoticePeriod = NOTICE;
        t.disputeWindow = 1 days;
        t.liquidationPenaltyBps = PENALTY_BPS;
        t.maxLiquidationDiscountBps = 1_000;
        t.appropriationPeriod = 7 days;
    }

    function _line(uint256 i, uint16 haircutBps, uint16 capBps) internal view returns (EligibilityInput memory) {
        return
            EligibilityInput({
                asset: assets[i],
                feed: feeds[i],
                kind: i == 3 ? AssetKind.ERC4626 : AssetKind.ERC20,
                maxPriceAge: MAX_AGE,
                minAnswer: 1,
                maxAnswer: type(int96).max,
                haircutBps: haircutBps,
                concentrationCapBps: capBps
            });
    }

    function _schedule(
        uint16[4] memory haircuts,
        uint16[4] memory caps
    ) internal view returns (EligibilityInput[] memory s) {
        s = new EligibilityInput[](4);
        for (uint256 i; i < 4; ++i) s[i] = _line(i, haircuts[i], caps[i]);
    }

    function _defaultSchedule() internal view returns (EligibilityInput[] memory) {
        return _schedule(defaultHaircuts, [uint16(BPS), uint16(BPS), uint16(BPS), uint16(BPS)]);
    }

    function _open(
        bytes32 salt,
        AgreementTerms memory t,
        EligibilityInput[] memory s
    ) internal returns (ICollateralVault v) {
        vm.prank(PLEDGOR);
        v = ICollateralVault(factory.openAgreement(PLEDGOR, SECURED, AGENT, t, s, salt));
    }

    function _openDefault(uint256 salt) internal returns (ICollateralVault) {
        return _open(bytes32(salt), _terms(), _defaultSchedule());
    }

    /// @dev Mints `amount` raw units of asset `i` to `to` (for the share: mints the underlying and buys shares).
    function _mintAsset(uint256 i, address to, uint256 amount) internal {
        if (i == 3) {
            uint256 underlying = mmf.previewMint(amount);
            usd6.mint(address(this), underlying);
            usd6.approve(address(mmf), underlying);
            mmf.mint(amount, to);
        } else {
            MockERC20(assets[i]).mint(to, amount);
        }
    }

    function _deposit(ICollateralVault v, uint256 i, uint256 amount) internal {
        _mintAsset(i, PLEDGOR, amount);
        vm.startPrank(PLEDGOR);
        IERC20(assets[i]).approve(address(v), amount);
        v.deposit(assets[i], amount);
        vm.stopPrank();
    }

    function _pledge(ICollateralVault v) internal {
        bytes32 terms = v.termsHash();
        vm.prank(PLEDGOR);
        v.consentToPledge(terms);
        vm.prank(SECURED);
        v.consentToPledge(terms);
    }

    function _setExposure(ICollateralVault v, uint256 exposure) internal {
        vm.prank(SECURED);
        v.setExposure(exposure);
    }

    function _takeExclusiveControl(ICollateralVault v) internal {
        vm.prank(PLEDGOR);
        v.declareDefault();
        vm.prank(SECURED);
        v.deliverNoticeOfExclusiveControl(keccak256("Notice of Exclusive Control"));
    }

    /// @dev Refreshes every feed at its current answer (after a warp).
    function _refreshFeeds() internal {
        for (uint256 i; i < 4; ++i) feeds[i].setAnswer(feeds[i].answer());
    }

    /// @dev The collateral value by the vault's documented definition, from its public per-asset market value:
    /// each held eligible asset after its haircut, then capped at its share of the uncapped total.
    function _refCollateralValue(ICollateralVault v, uint256[4] memory balances) internal view returns (uint256 value) {
        uint256[4] memory afterHaircut;
        uint256 uncapped;
        for (uint256 i; i < 4; ++i) {
            if (balances[i] == 0) continue;
            uint256 mv = v.valueOfHolding(assets[i], balances[i]);
            afterHaircut[i] = Math.mulDiv(mv, BPS - v.eligibility(assets[i]).haircutBps, BPS);
            uncapped += afterHaircut[i];
        }
        for (uint256 i; i < 4; ++i) {
            uint256 capBps = v.eligibility(assets[i]).concentrationCapBps;
            uint256 cap = capBps >= BPS ? type(uint256).max : Math.mulDiv(uncapped, capBps, BPS);
            value += afterHaircut[i] < cap ? afterHaircut[i] : cap;
        }
    }

    function _balances(ICollateralVault v) internal view returns (uint256[4] memory b) {
        for (uint256 i; i < 4; ++i) b[i] = v.balanceOf(assets[i]);
    }

    function _held(address holder) internal view returns (uint256[4] memory h) {
        for (uint256 i; i < 4; ++i) h[i] = IERC20(assets[i]).balanceOf(holder);
    }
}
