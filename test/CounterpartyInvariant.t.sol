// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

import {IMarginEngine} from "../contracts/interfaces/IMarginEngine.sol";
import {ICollateralVault} from "../contracts/interfaces/ICollateralVault.sol";
import {AgreementTerms, VaultState} from "../contracts/types/AgreementTypes.sol";
import {MockERC20} from "../contracts/mocks/doubles/MockERC20.sol";
import {MockERC4626} from "../contracts/mocks/doubles/MockERC4626.sol";
import {MockPriceFeed} from "../contracts/mocks/doubles/MockPriceFeed.sol";

import {TestBase} from "./utils/Vm.sol";
import {VaultFixture} from "./utils/VaultFixture.sol";

/// @notice What the handler recorded about one agreement, by its own bookkeeping.
struct VaultGhost {
    // ---- the notice
    bool noticed;
    uint256 noticedAt;
    /// @dev `enforceableExposure()` read just before the notice, in the same block.
    uint256 enforceableAtNotice;
    /// @dev Whether a dispute was open at the notice, and the pledgor's figure then (`marginState`).
    bool disputedAtNotice;
    uint256 pledgorFigureAtNotice;
    /// @dev The handler's own model: the highest figure the pledgor ever let pass or agreed to (or the control agent
    /// decided), independent of `enforceableExposure`.
    uint256 concededAtNotice;
    uint256 amountDueAtNotice;
    uint256 lastSeenDue;
    bool dueIncreased;
    // ---- appropriation
    /// @dev Oracle value of what the secured party took by instructed transfers.
    uint256 received;
    /// @dev The notice, or the last successful appropriation.
    uint256 lastAppropriationAt;
    /// @dev An instructed transfer of an asset without a valid price succeeded.
    bool unpricedTaken;
    /// @dev An instructed transfer succeeded while the amount due was already below what had been taken.
    bool takenAfterDueLowered;
    // ---- release
    bool released;
    bool releasedAfterNotice;
    /// @dev Someone other than the secured party released while the rules did not allow it yet.
    bool badRelease;
    /// @dev A release the rules allowed was refused.
    bool releaseWronglyRefused;
    // ---- defaults
    /// @dev A margin call was open past its deadline without the pledgor having delivered its amount.
    bool missedDeadline;
    bool consentedDefault;
    bool agentDefault;
    /// @dev Anyone's default on an unmet call succeeded although no call was ever missed.
    bool keeperDefaultWithoutMiss;
    /// @dev The pledgor or the control agent declared a default, and a later notice found no default.
    bool declaredDefaultLost;
    /// @dev Collateral value (after haircuts and caps) the pledgor added while the current call was open.
    uint256 paid;
    // ---- the handler's model of the figures
    uint256 lastMark;
    uint256 pendingMark;
    uint256 pendingAt;
    bool pendingLive;
    uint256 stated;
    uint256 conceded;
}

/// @notice Both parties adversarial over three agreements: the secured party marks anything (huge figures too, in
/// the same block as a call or a notice), delivers notices whenever it can and tries to over-take; the pledgor
/// disputes, resolves, deposits, withdraws and substitutes; a keeper calls margin, declares defaults and releases;
/// the control agent declares, resolves and delivers notices; prices move and time passes, feeds going stale now
/// and then.
/// @dev Vault 0 has a control agent and a negligent pledgor; vault 1 has a control agent and a diligent pledgor, who
/// delivers every called amount before its deadline and never declares a default; vault 2 has no control agent and
/// a negligent pledgor. Time lives in `currentTime` (via-IR may cache `block.timestamp` within a call after
/// `vm.warp`); every action warps to it first. The handler never donates tokens to a vault.
contract CounterpartyHandler is TestBase {
    address internal constant PLEDGOR = address(0xA11CE);
    address internal constant SECURED = address(0xB0B);
    address internal constant AGENT = address(0xA6E27);
    address internal constant KEEPER = address(0x4EE9E2);
    uint256 internal constant BPS = 10_000;
    uint256 public constant DILIGENT = 1;

    ICollateralVault[] internal _vaults;
    bool[] internal _hasAgent;
    address[] internal _assets;
    MockPriceFeed[] internal _feeds;
    int256[] internal _basePrices;
    MockERC20 internal immutable _underlying;
    MockERC4626 internal immutable _share;

    uint256 public currentTime;
    mapping(uint256 vaultIndex => VaultGhost) internal _ghosts;
    /// @notice Successful calls per action, to check the campaign reaches every state.
    mapping(bytes32 action => uint256) public done;

    constructor(
        ICollateralVault[] memory vaults_,
        bool[] memory hasAgent_,
        address[] memory assets_,
        MockPriceFeed[] memory feeds_,
        MockERC4626 share_,
        uint256 markedAt,
        uint256 start
    ) {
        _vaults = vaults_;
        _hasAgent = hasAgent_;
        _assets = assets_;
        _feeds = feeds_;
        _share = share_;
        _underlying = MockERC20(share_.asset());
        currentTime = start;
        for (uint256 i; i < feeds_.length; ++i) _basePrices.push(feeds_[i].answer());
        for (uint256 j; j < vaults_.length; ++j) {
            // The fixture marked each vault once, at `markedAt`.
            (uint256 exposure, , , , ) = vaults_[j].marginState();
            VaultGhost storage g = _ghosts[j];
            g.lastMark = exposure;
            g.pendingMark = exposure;
            g.pendingAt = markedAt;
            g.pendingLive = true;
        }
    }

    modifier step() {
        vm.warp(currentTime);
        _;
        _observe();
    }

    // ------------------------------------------------------------ the secured party

    /// @notice The secured party marks: near the collateral value, low, huge, extreme, or at the pledgor's figure;
    /// half the time a keeper calls margin in the same block, and half the time the pledgor disputes the mark at once.
    function mark(uint256 vaultSeed, uint256 figure, uint256 mode) external step {
        uint256 j = vaultSeed % _vaults.length;
        _mark(j, _figure(j, figure, mode & 0xff));
        if ((mode >> 24) & 1 == 0) _dispute(j, figure >> 128, mode >> 32);
        if ((mode >> 8) & 1 == 0) _issueCall(j, (mode >> 16) & 1 == 0);
    }

    /// @notice The secured party (or the control agent) marks a huge figure and delivers the notice in the same block.
    function markAndNotice(uint256 vaultSeed, uint256 figure, uint256 mode) external step {
        uint256 j = vaultSeed % _vaults.length;
        _mark(j, _figure(j, figure, 2 + (mode % 2)));
        _notice(j, (mode >> 8) % 2 == 0);
    }

    function notice(uint256 vaultSeed, bool byAgent) external step {
        _notice(vaultSeed % _vaults.length, byAgent);
    }

    /// @notice The secured party or the control agent instructs a transfer of a random amount: everything held, what
    /// fits the rest due, one unit more than that, or a random part.
    function instructTransfer(uint256 vaultSeed, uint256 assetSeed, uint256 amount, uint256 mode) external step {
        uint256 j = _prefer(vaultSeed, VaultState.ExclusiveControl, VaultState.Liquidating);
        ICollateralVault v = _vaults[j];
        VaultState s = v.state();
        if (s != VaultState.ExclusiveControl && s != VaultState.Liquidating) return;
        address asset = _assets[assetSeed % _assets.length];
        uint256 balance = v.balanceOf(asset);
        if (balance == 0) return;
        (uint256 due, uint256 appropriated) = v.appropriation();
        uint256 rest = due > appropriated ? due - appropriated : 0;
        uint256 m = mode % 4;
        if (m == 0) {
            amount = balance;
        } else if (m == 3) {
            amount = bound(amount, 1, balance);
        } else {
            (bool ok, uint256 unitValue) = _tryValueOf(v, asset, 10 ** _decimals(asset));
            if (!ok || unitValue == 0) return;
            amount = Math.mulDiv(rest, 10 ** _decimals(asset), unitValue) + (m == 2 ? 1 : 0);
            if (amount == 0) amount = 1;
            if (amount > balance) amount = balance;
        }
        (bool priced, uint256 value) = _tryValueOf(v, asset, amount);
        address by = (mode >> 8) % 2 == 0 && _hasAgent[j] ? AGENT : SECURED;
        vm.prank(by);
        try v.instructTransfer(asset, amount, SECURED) {
            if (!priced) _ghosts[j].unpricedTaken = true;
            if (appropriated > due) _ghosts[j].takenAfterDueLowered = true;
            _ghosts[j].received += value;
            _ghosts[j].lastAppropriationAt = currentTime;
            done["instructTransfer"]++;
        } catch {
            done["instructTransferRefused"]++;
        }
    }

    // ------------------------------------------------------------ the pledgor

    /// @notice The pledgor disputes the latest mark with its own figure (below the mark, at zero, or anything).
    function dispute(uint256 vaultSeed, uint256 figure, uint256 mode) external step {
        _dispute(vaultSeed % _vaults.length, figure, mode);
    }

    function _dispute(uint256 j, uint256 figure, uint256 mode) internal {
        ICollateralVault v = _vaults[j];
        VaultGhost storage g = _ghosts[j];
        uint256 m = mode % 4;
        uint256 p =
            m == 0
                ? bound(figure, 0, g.lastMark)
                : m == 1
                    ? 0
                    : m == 2
                        ? g.lastMark / 2
                        : figure;
        vm.prank(PLEDGOR);
        try v.disputeExposure(p) {
            // The dispute covers the latest mark: it is no longer enforceable by time alone.
            g.pendingLive = false;
            g.stated = p;
            g.conceded = Math.max(g.conceded, p);
            done["dispute"]++;
        } catch {}
    }

    /// @notice A resolution by the pledgor (accepting the mark, raising its figure, or lowering it), the secured party
    /// (accepting the pledgor's figure or less, or more) or the control agent (any figure).
    function resolve(uint256 vaultSeed, uint256 who, uint256 figure, uint256 mode) external step {
        uint256 j = _preferDisputed(vaultSeed);
        ICollateralVault v = _vaults[j];
        VaultGhost storage g = _ghosts[j];
        (uint256 exposure, uint256 pledgorFigure, bool disputed, , ) = v.marginState();
        if (!disputed) return;
        uint256 w = who % 3;
        uint256 m = mode % 3;
        address by;
        uint256 x;
        if (w == 0) {
            by = PLEDGOR;
            x =
                m == 0
                    ? exposure + (figure % 2)
                    : m == 1
                        ? bound(figure, pledgorFigure, exposure)
                        : bound(figure, 0, 1e36);
        } else if (w == 1) {
            by = SECURED;
            x =
                m == 0
                    ? pledgorFigure
                    : m == 1
                        ? bound(figure, 0, pledgorFigure)
                        : bound(figure, 0, 1e36);
        } else {
            by = _hasAgent[j] ? AGENT : KEEPER;
            x =
                m == 0
                    ? bound(figure, pledgorFigure, exposure)
                    : m == 1
                        ? bound(figure, 0, pledgorFigure)
                        : figure % 1e40;
        }
        vm.prank(by);
        try v.resolveDispute(x) {
            if (by == AGENT) {
                g.conceded = Math.max(g.conceded, x);
                g.stated = 0;
                g.lastMark = x;
                done["resolveByAgent"]++;
            } else if (by == PLEDGOR && x >= g.lastMark) {
                g.conceded = Math.max(g.conceded, g.lastMark);
                g.stated = 0;
                done["resolveByPledgor"]++;
            } else if (by == PLEDGOR) {
                g.stated = Math.max(g.stated, x);
                g.conceded = Math.max(g.conceded, x);
                done["raiseByPledgor"]++;
            } else {
                // The secured party can only accept the pledgor's figure or less.
                g.conceded = Math.max(g.conceded, Math.min(x, Math.max(g.stated, g.conceded)));
                g.stated = 0;
                g.lastMark = x;
                done["resolveBySecured"]++;
            }
        } catch {}
    }

    /// @notice The pledgor deposits a random part of what it holds (it is counted as paid against an open call).
    function deposit(uint256 vaultSeed, uint256 assetSeed, uint256 fraction) external step {
        uint256 j = vaultSeed % _vaults.length;
        ICollateralVault v = _vaults[j];
        if (v.state() > VaultState.MarginCall) return;
        address asset = _assets[assetSeed % _assets.length];
        uint256 held = IERC20(asset).balanceOf(PLEDGOR);
        if (held == 0) return;
        _deliver(j, asset, bound(fraction, 1, held));
    }

    /// @notice The pledgor withdraws everything of an asset, or a random part.
    function withdraw(uint256 vaultSeed, uint256 assetSeed, uint256 amount) external step {
        ICollateralVault v = _vaults[vaultSeed % _vaults.length];
        address asset = _assets[assetSeed % _assets.length];
        uint256 balance = v.balanceOf(asset);
        if (balance == 0) return;
        amount = amount % 2 == 0 ? balance : bound(amount, 1, balance);
        vm.prank(PLEDGOR);
        try v.withdraw(asset, amount, PLEDGOR) {
            done["withdraw"]++;
        } catch {}
    }

    /// @notice The pledgor substitutes a random part of what it holds of one asset for a random part of another.
    function substitute(
        uint256 vaultSeed,
        uint256 inSeed,
        uint256 outSeed,
        uint256 amountIn,
        uint256 amountOut
    ) external step {
        ICollateralVault v = _vaults[vaultSeed % _vaults.length];
        address assetIn = _assets[inSeed % _assets.length];
        address assetOut = _assets[outSeed % _assets.length];
        uint256 held = IERC20(assetIn).balanceOf(PLEDGOR);
        uint256 balance = v.balanceOf(assetOut);
        if (held == 0 || balance == 0) return;
        amountIn = bound(amountIn, 1, held);
        amountOut = bound(amountOut, 1, balance);
        vm.prank(PLEDGOR);
        IERC20(assetIn).approve(address(v), amountIn);
        vm.prank(PLEDGOR);
        try v.substitute(assetIn, amountIn, assetOut, amountOut, PLEDGOR) {
            done["substitute"]++;
        } catch {}
    }

    /// @notice The diligent pledgor delivers what its open call still asks (a dedicated action that runs often).
    function diligentDelivers() external step {
        _diligentDeliver();
    }

    // ------------------------------------------------------------ keepers, the control agent, anyone

    function issueMarginCall(uint256 vaultSeed, bool respondAtOnce) external step {
        _issueCall(vaultSeed % _vaults.length, respondAtOnce);
    }

    function closeMarginCall(uint256 vaultSeed) external step {
        ICollateralVault v = _vaults[_prefer(vaultSeed, VaultState.MarginCall, VaultState.MarginCall)];
        vm.prank(KEEPER);
        try v.closeMarginCall() {
            done["closeCall"]++;
        } catch {}
    }

    /// @notice A default declared by the pledgor, the control agent or a keeper. On the diligent pledgor's vault the
    /// pledgor never declares one, and the control agent only one time in eight.
    function declareDefault(uint256 vaultSeed, uint256 who) external step {
        uint256 w = who % 3;
        uint256 j =
            w == 2 ? _prefer(vaultSeed, VaultState.MarginCall, VaultState.MarginCall) : vaultSeed % _vaults.length;
        ICollateralVault v = _vaults[j];
        if (j == DILIGENT && (w == 0 || (w == 1 && (who >> 8) % 8 != 0))) w = 2;
        address by =
            w == 0
                ? PLEDGOR
                : w == 1
                    ? AGENT
                    : KEEPER;
        VaultGhost storage g = _ghosts[j];
        vm.prank(by);
        try v.declareDefault() {
            if (by == PLEDGOR) {
                g.consentedDefault = true;
                done["defaultByPledgor"]++;
                // Half the time the secured party (or the control agent) delivers the notice at once.
                if ((who >> 16) & 1 == 0) _notice(j, (who >> 17) & 1 == 0);
            } else if (by == AGENT && _hasAgent[j]) {
                g.agentDefault = true;
                done["defaultByAgent"]++;
                if ((who >> 16) & 1 == 0) _notice(j, (who >> 17) & 1 == 0);
            } else {
                if (!g.missedDeadline) g.keeperDefaultWithoutMiss = true;
                done["defaultOnUnmetCall"]++;
            }
        } catch {}
    }

    /// @notice A release by the secured party, the pledgor or a keeper, checked against the release rules.
    function release(uint256 vaultSeed, uint256 who) external step {
        uint256 j = _prefer(vaultSeed, VaultState.ExclusiveControl, VaultState.Liquidating);
        ICollateralVault v = _vaults[j];
        VaultGhost storage g = _ghosts[j];
        VaultState s = v.state();
        // The secured party one time in eight: its release ends the agreement at once.
        uint256 w = who % 8;
        address by =
            w == 0
                ? SECURED
                : w < 5
                    ? PLEDGOR
                    : KEEPER;
        // What the rules allow, and forbid, by the handler's own record (the boundary second is left to the vault).
        (uint256 due, uint256 appropriated) = v.appropriation();
        uint256 rest = due > appropriated ? due - appropriated : 0;
        bool underControl = s == VaultState.ExclusiveControl || s == VaultState.Liquidating;
        uint256 period = v.terms().appropriationPeriod;
        bool restMet = rest == 0 || rest < v.terms().minimumTransferAmount;
        // The period restarts with each appropriation, but ends two periods after the notice at the latest.
        uint256 releasableAt = Math.min(g.lastAppropriationAt + period, g.noticedAt + 2 * period);
        bool allowed =
            s != VaultState.Open &&
                s != VaultState.Released &&
                (by == SECURED || (underControl && (restMet || currentTime > releasableAt)));
        bool forbidden = by != SECURED && (!underControl || (!restMet && currentTime < releasableAt));
        vm.prank(by);
        try v.release() {
            g.released = true;
            if (g.noticed) g.releasedAfterNotice = true;
            if (forbidden) g.badRelease = true;
            done[by == SECURED ? bytes32("releaseBySecured") : bytes32("releaseByOther")]++;
        } catch {
            if (allowed) g.releaseWronglyRefused = true;
        }
    }

    /// @notice One feed moves by -50%..+50%, within a hundredth and a hundred times its starting price.
    function movePrice(uint256 assetSeed, uint256 changeBps) external step {
        uint256 i = assetSeed % _feeds.length;
        MockPriceFeed feed = _feeds[i];
        uint256 base = uint256(_basePrices[i]);
        uint256 price = (uint256(feed.answer()) * bound(changeBps, 5_000, 15_000)) / BPS;
        feed.setAnswer(int256(bound(price, base / 100, base * 100)));
        done["movePrice"]++;
    }

    /// @notice Time passes: a little; to the last second of the latest mark's dispute window or the first after it; to
    /// a call's deadline or just past it; up to two days; to around the end of an appropriation period; or up to ten
    /// days. The feeds publish again, except one time in eight (prices go stale after an hour). The diligent pledgor
    /// never lets its call's deadline pass undelivered.
    function warp(uint256 seconds_, uint256 mode) external step {
        uint256 m = mode % 8;
        uint256 j =
            m == 4
                ? _prefer(mode >> 16, VaultState.MarginCall, VaultState.MarginCall)
                : m == 6
                    ? _prefer(mode >> 16, VaultState.ExclusiveControl, VaultState.Liquidating)
                    : (mode >> 16) % _vaults.length;
        ICollateralVault target = _vaults[j];
        VaultGhost storage g = _ghosts[j];
        AgreementTerms memory t = target.terms();
        uint256 next;
        if (m < 3) {
            next = currentTime + bound(seconds_, 1, 1 hours);
        } else if (m == 3) {
            next = g.pendingAt + t.disputeWindow + (seconds_ % 2);
        } else if (m == 4) {
            (, uint256 callDeadline, , ) = target.marginCall();
            next = callDeadline == 0 ? currentTime + t.curePeriod + 1 : callDeadline + (seconds_ % 2);
        } else if (m == 5) {
            next = currentTime + bound(seconds_, 1 hours, 2 days + 1);
        } else if (m == 6) {
            next = g.noticed ? g.lastAppropriationAt + t.appropriationPeriod - 1 + (seconds_ % 3) : 0;
        } else {
            next = currentTime + bound(seconds_, 2 days, 10 days);
        }
        if (next <= currentTime) next = currentTime + bound(seconds_, 1, 1 days);
        ICollateralVault v = _vaults[DILIGENT];
        if (v.state() == VaultState.MarginCall) {
            (, uint256 deadline, , ) = v.marginCall();
            if (next > deadline) _diligentDeliver();
        }
        currentTime = next;
        vm.warp(next);
        if ((mode >> 8) % 8 != 7) {
            for (uint256 i; i < _feeds.length; ++i) _feeds[i].setAnswer(_feeds[i].answer());
        } else {
            done["staleWarp"]++;
        }
        done["warp"]++;
    }

    // ------------------------------------------------------------ views for the invariants

    function vaults() external view returns (ICollateralVault[] memory) {
        return _vaults;
    }

    function ghost(uint256 j) external view returns (VaultGhost memory) {
        return _ghosts[j];
    }

    function hasAgent(uint256 j) external view returns (bool) {
        return _hasAgent[j];
    }

    /// @notice The action selectors the invariant campaign targets (the diligent pledgor's twice, so it acts often).
    function actions() external pure returns (bytes4[] memory s) {
        s = new bytes4[](21);
        s[0] = this.mark.selector;
        s[1] = this.mark.selector;
        s[2] = this.markAndNotice.selector;
        s[3] = this.notice.selector;
        s[4] = this.instructTransfer.selector;
        s[5] = this.instructTransfer.selector;
        s[6] = this.dispute.selector;
        s[7] = this.resolve.selector;
        s[8] = this.deposit.selector;
        s[9] = this.withdraw.selector;
        s[10] = this.substitute.selector;
        s[11] = this.diligentDelivers.selector;
        s[12] = this.diligentDelivers.selector;
        s[13] = this.issueMarginCall.selector;
        s[14] = this.closeMarginCall.selector;
        s[15] = this.declareDefault.selector;
        s[16] = this.release.selector;
        s[17] = this.movePrice.selector;
        s[18] = this.warp.selector;
        s[19] = this.warp.selector;
        s[20] = this.instructTransfer.selector;
    }

    // ------------------------------------------------------------ internals

    function _figure(uint256 j, uint256 figure, uint256 mode) internal view returns (uint256) {
        ICollateralVault v = _vaults[j];
        (bool ok, uint256 value) = _tryValue(v);
        if (!ok) value = _ghosts[j].lastMark;
        uint256 m = mode % 6;
        if (m == 0) return bound(figure, value / 2, (value * 3) / 2 + 1);
        if (m == 1) return bound(figure, 0, value / 2);
        if (m == 2) return bound(figure, 1e24, 1e36);
        if (m == 3) return figure % 2 == 0 ? type(uint128).max : 1e45;
        if (m == 4) return _ghosts[j].lastMark + (figure % 2);
        (, uint256 undisputed, , , ) = v.marginState();
        uint256 d = figure % 3;
        return
            d == 0
                ? undisputed
                : d == 1
                    ? undisputed + 1
                    : undisputed > 0
                        ? undisputed - 1
                        : 0;
    }

    /// @dev The secured party marks; the handler's model of what the pledgor let pass follows.
    function _mark(uint256 j, uint256 x) internal {
        ICollateralVault v = _vaults[j];
        VaultGhost storage g = _ghosts[j];
        bool disputedBefore = _isDisputed(v);
        vm.prank(SECURED);
        try v.setExposure(x) {
            g.lastMark = x;
            if (!disputedBefore) {
                _concedePending(j);
                g.pendingMark = x;
                g.pendingAt = currentTime;
                g.pendingLive = true;
            } else if (!_isDisputed(v)) {
                // A mark at or below the pledgor's figure ended the dispute there.
                g.conceded = Math.max(g.conceded, Math.min(x, Math.max(g.stated, g.conceded)));
                g.stated = 0;
                g.pendingLive = false;
                done["resolveByMark"]++;
            }
            done["mark"]++;
        } catch {}
    }

    /// @dev A mark the pledgor did not dispute within its window is one it let pass.
    function _concedePending(uint256 j) internal {
        VaultGhost storage g = _ghosts[j];
        if (g.pendingLive && currentTime > g.pendingAt + _vaults[j].terms().disputeWindow) {
            g.conceded = Math.max(g.conceded, g.pendingMark);
            g.pendingLive = false;
        }
    }

    function _notice(uint256 j, bool byAgent) internal {
        ICollateralVault v = _vaults[j];
        VaultGhost storage g = _ghosts[j];
        address by = byAgent && _hasAgent[j] ? AGENT : SECURED;
        VaultState s = v.state();
        uint256 enforceable = v.enforceableExposure();
        (, uint256 pledgorFigure, bool disputed, , ) = v.marginState();
        _concedePending(j);
        vm.prank(by);
        try v.deliverNoticeOfExclusiveControl(keccak256(abi.encode("notice", j, currentTime))) {
            (uint256 due, ) = v.appropriation();
            g.noticed = true;
            g.noticedAt = currentTime;
            g.enforceableAtNotice = enforceable;
            g.disputedAtNotice = disputed;
            g.pledgorFigureAtNotice = pledgorFigure;
            g.concededAtNotice = g.conceded;
            g.amountDueAtNotice = due;
            g.lastSeenDue = due;
            g.lastAppropriationAt = currentTime;
            done["notice"]++;
            if (disputed) done["noticeInDispute"]++;
            if (due == 0) done["noticeNothingDue"]++;
            if (!g.consentedDefault && !g.agentDefault) done["noticeOnUnmetCall"]++;
        } catch (bytes memory reason) {
            bytes4 selector = bytes4(reason);
            bool declared = g.consentedDefault || g.agentDefault;
            bool live = s == VaultState.Pledged || s == VaultState.MarginCall;
            if (
                declared &&
                live &&
                (selector == IMarginEngine.NoDefault.selector ||
                    selector == IMarginEngine.CureDeadlineNotPassed.selector ||
                    selector == IMarginEngine.MarginCallCured.selector)
            ) g.declaredDefaultLost = true;
        }
    }

    function _issueCall(uint256 j, bool respondAtOnce) internal {
        ICollateralVault v = _vaults[j];
        vm.prank(KEEPER);
        try v.issueMarginCall() {
            _ghosts[j].paid = 0;
            (uint256 amount, , , ) = v.marginCall();
            if (amount == type(uint128).max) done["cappedCall"]++;
            done["call"]++;
            if (j == DILIGENT && respondAtOnce) _diligentDeliver();
        } catch {}
    }

    /// @dev The diligent pledgor delivers what its open call still asks, in its 0-haircut asset, on valid prices only
    /// (a delivery on a bad price is not counted, so it waits for the next round).
    function _diligentDeliver() internal {
        ICollateralVault v = _vaults[DILIGENT];
        if (v.state() != VaultState.MarginCall) return;
        (uint256 amount, , , uint256 delivered) = v.marginCall();
        if (delivered >= amount) return;
        address usd = _assets[0];
        (bool ok, uint256 unitValue) = _tryValueOf(v, usd, 1e6);
        (bool priced, ) = _tryValue(v);
        if (!ok || !priced || unitValue == 0) {
            done["diligentWaitsForPrices"]++;
            return;
        }
        uint256 raw = Math.mulDiv(amount - delivered, 1e6, unitValue, Math.Rounding.Ceil) + 1;
        MockERC20(usd).mint(PLEDGOR, raw);
        _deliver(DILIGENT, usd, raw);
        done["diligentDelivery"]++;
    }

    /// @dev The pledgor deposits `amount` of `asset`; what it adds to the collateral value counts against an open call.
    function _deliver(uint256 j, address asset, uint256 amount) internal {
        ICollateralVault v = _vaults[j];
        bool inCall = v.state() == VaultState.MarginCall;
        (bool pricedBefore, uint256 before) = _tryValue(v);
        vm.prank(PLEDGOR);
        IERC20(asset).approve(address(v), amount);
        vm.prank(PLEDGOR);
        try v.deposit(asset, amount) {
            (bool pricedAfter, uint256 afterValue) = _tryValue(v);
            if (inCall && pricedBefore && pricedAfter && afterValue > before) _ghosts[j].paid += afterValue - before;
            done["deposit"]++;
        } catch {}
    }

    /// @dev After every action: a call open past its deadline without its amount paid is a missed deadline; the
    /// amount due is watched for any increase.
    function _observe() internal {
        for (uint256 j; j < _vaults.length; ++j) {
            ICollateralVault v = _vaults[j];
            VaultGhost storage g = _ghosts[j];
            if (v.state() == VaultState.MarginCall) {
                (uint256 amount, uint256 deadline, , ) = v.marginCall();
                if (currentTime > deadline && g.paid < amount) g.missedDeadline = true;
            }
            if (g.noticed) {
                (uint256 due, ) = v.appropriation();
                if (due > g.lastSeenDue) g.dueIncreased = true;
                g.lastSeenDue = due;
            }
        }
    }

    /// @dev The first vault from `seed` on in state `a` or `b`, else the seed's own.
    function _prefer(uint256 seed, VaultState a, VaultState b) internal view returns (uint256) {
        uint256 n = _vaults.length;
        for (uint256 k; k < n; ++k) {
            VaultState s = _vaults[(seed + k) % n].state();
            if (s == a || s == b) return (seed + k) % n;
        }
        return seed % n;
    }

    function _preferDisputed(uint256 seed) internal view returns (uint256) {
        uint256 n = _vaults.length;
        for (uint256 k; k < n; ++k) {
            if (_isDisputed(_vaults[(seed + k) % n])) return (seed + k) % n;
        }
        return seed % n;
    }

    function _isDisputed(ICollateralVault v) internal view returns (bool disputed) {
        (, , disputed, , ) = v.marginState();
    }

    function _tryValue(ICollateralVault v) internal view returns (bool, uint256) {
        try v.collateralValue() returns (uint256 value) {
            return (true, value);
        } catch {
            return (false, 0);
        }
    }

    function _tryValueOf(ICollateralVault v, address asset, uint256 amount) internal view returns (bool, uint256) {
        try v.valueOfHolding(asset, amount) returns (uint256 value) {
            return (true, value);
        } catch {
            return (false, 0);
        }
    }

    function _decimals(address asset) internal view returns (uint256) {
        return MockERC20(asset).decimals();
    }
}

/// @notice Invariant campaign over two parties who both act against each other: no figure of one party alone is
/// enforceable against the other, a diligent pledgor is never put under control, and a release leaves nothing
/// of the pledgor's behind.
contract CounterpartyInvariantTest is VaultFixture {
    struct FuzzSelector {
        address addr;
        bytes4[] selectors;
    }

    CounterpartyHandler internal handler;

    function setUp() public {
        _deployFixture();
        ICollateralVault[] memory vs = new ICollateralVault[](3);
        bool[] memory withAgent = new bool[](3);
        // 0: the fixture's terms, a control agent, a negligent pledgor.
        vs[0] = _openDefault(1);
        withAgent[0] = true;
        // 1: a control agent and the diligent pledgor, whose cash (asset 0) has no haircut.
        AgreementTerms memory t = _terms();
        t.disputeWindow = 12 hours;
        t.appropriationPeriod = 3 days;
        t.liquidationPenaltyBps = 1_000;
        t.minimumTransferAmount = 100e18;
        t.roundingAmount = 10e18;
        vs[1] = _open(
            bytes32(uint256(2)),
            t,
            _schedule([uint16(0), 1_500, 1_000, 500], [uint16(BPS), uint16(BPS), uint16(BPS), uint16(BPS)])
        );
        withAgent[1] = true;
        // 2: no control agent, a negligent pledgor, a large minimum transfer amount and a short dispute window.
        t = _terms();
        t.curePeriod = 2 days;
        t.disputeWindow = 6 hours;
        t.appropriationPeriod = 2 days;
        t.liquidationPenaltyBps = 2_000;
        t.minimumTransferAmount = 1_000e18;
        vm.prank(PLEDGOR);
        vs[2] = ICollateralVault(
            factory.openAgreement(PLEDGOR, SECURED, address(0), t, _defaultSchedule(), bytes32(uint256(3)))
        );
        for (uint256 j; j < 3; ++j) {
            _deposit(vs[j], 0, 100_000e6);
            _deposit(vs[j], 2, 30e18);
            _pledge(vs[j]);
            _setExposure(vs[j], vs[j].collateralValue());
        }
        // The fixture's marks have passed their dispute windows (the longest is a day): they are enforceable.
        uint256 start = START + 1 days + 1;
        vm.warp(start);
        _refreshFeeds();
        // What the pledgor holds besides.
        _mintAsset(0, PLEDGOR, 1_000_000e6);
        _mintAsset(1, PLEDGOR, 10e8);
        _mintAsset(2, PLEDGOR, 300e18);
        _mintAsset(3, PLEDGOR, 500_000e6);
        MockPriceFeed[] memory fs = feeds;
        handler = new CounterpartyHandler(vs, withAgent, assets, fs, mmf, START, start);
    }

    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    function targetSelectors() public view returns (FuzzSelector[] memory targets) {
        targets = new FuzzSelector[](1);
        targets[0] = FuzzSelector({addr: address(handler), selectors: handler.actions()});
    }

    // ------------------------------------------------------------ invariants

    /// @notice Under exclusive control (or released after it): appropriated <= amount due <= the exposure that was
    /// enforceable just before the notice plus the penalty, and no more than the pledgor's figure plus the penalty if a
    /// dispute was open, nor than the highest figure the pledgor let pass or agreed to; the amount due never rose
    /// after the notice; what was appropriated is what the secured party received at oracle value.
    function invariant_P5_appropriationBoundedByEnforceableAtNotice() public view {
        ICollateralVault[] memory vs = handler.vaults();
        for (uint256 j; j < vs.length; ++j) {
            VaultGhost memory g = handler.ghost(j);
            (uint256 due, uint256 appropriated) = vs[j].appropriation();
            if (!g.noticed) continue;
            // Promise 5 at the notice: nothing is taken beyond the amount fixed then. A resolution afterwards may lower
            // the amount due below what was already taken (the excess is the secured party's to return off chain,
            // docs/margin-rules.md); from then on nothing more is taken, which `g.received` tracks.
            assertLe(appropriated, g.amountDueAtNotice, "appropriated <= the amount due at the notice");
            if (appropriated > due) assertTrue(!g.takenAfterDueLowered, "taken after the amount due fell below it");
            assertEq(appropriated, g.received, "appropriated == received at oracle value");
            assertTrue(!g.unpricedTaken, "an asset without a price was appropriated");
            _checkAmountDue(vs[j], g, due);
        }
    }

    /// @notice The amount due alone (so that a failure of the appropriation bound does not hide it): fixed at the
    /// notice from the enforceable exposure, and only ever lower afterwards; nothing is due nor taken before a notice.
    function invariant_amountDueFixedAtNoticeOnlyGoesDown() public view {
        ICollateralVault[] memory vs = handler.vaults();
        for (uint256 j; j < vs.length; ++j) {
            VaultGhost memory g = handler.ghost(j);
            (uint256 due, uint256 appropriated) = vs[j].appropriation();
            VaultState s = vs[j].state();
            if (!g.noticed) {
                assertEq(due, 0, "nothing due before a notice");
                assertEq(appropriated, 0, "nothing taken before a notice");
                assertTrue(s != VaultState.ExclusiveControl && s != VaultState.Liquidating, "control without notice");
                continue;
            }
            _checkAmountDue(vs[j], g, due);
        }
    }

    /// @notice A pledgor that never consented to a default, against which the control agent declared none, and that
    /// delivered every called amount before its deadline, is never put under exclusive control; and no default on
    /// an unmet call is ever declared unless a call was missed.
    function invariant_diligentPledgorNeverUnderControl() public view {
        ICollateralVault[] memory vs = handler.vaults();
        for (uint256 j; j < vs.length; ++j) {
            VaultGhost memory g = handler.ghost(j);
            assertTrue(!g.keeperDefaultWithoutMiss, "default on an unmet call without a missed deadline");
            if (g.missedDeadline || g.consentedDefault || g.agentDefault) continue;
            VaultState s = vs[j].state();
            assertTrue(!g.noticed, "notice against a diligent pledgor");
            assertTrue(s != VaultState.ExclusiveControl && s != VaultState.Liquidating, "diligent pledgor controlled");
        }
    }

    /// @notice After a release nothing stays in the vault: every listed asset's accounted balance and every token it
    /// ever held are zero (plain tokens never refuse, and the campaign donates nothing).
    function invariant_nothingOfThePledgorsStaysAfterRelease() public view {
        ICollateralVault[] memory vs = handler.vaults();
        for (uint256 j; j < vs.length; ++j) {
            if (vs[j].state() != VaultState.Released) continue;
            assertTrue(handler.ghost(j).released, "released without a recorded release");
            address[] memory listed = vs[j].listedAssets();
            for (uint256 i; i < listed.length; ++i) assertEq(vs[j].balanceOf(listed[i]), 0, "accounted after release");
            for (uint256 i; i < assets.length; ++i) {
                assertEq(IERC20(assets[i]).balanceOf(address(vs[j])), 0, "held after release");
            }
        }
    }

    /// @notice Per vault and asset: accounted == held.
    /// @dev The requirement each vault caches with its exposure is, after any marks, disputes and resolutions, the
    /// requirement of the exposure it reports under its terms (a cache left stale would let a withdrawal through).
    function invariant_requirementFollowsExposure() public view {
        ICollateralVault[] memory vs = handler.vaults();
        for (uint256 j; j < vs.length; ++j) {
            (uint256 exposure, , , , ) = vs[j].marginState();
            AgreementTerms memory t = vs[j].terms();
            uint256 expected = (exposure > t.threshold ? exposure - t.threshold : 0) + t.independentAmount;
            assertEq(vs[j].requirement(), expected, "requirement == requirement of the exposure");
        }
    }

    function invariant_P1_nothingLost() public view {
        ICollateralVault[] memory vs = handler.vaults();
        for (uint256 j; j < vs.length; ++j) {
            for (uint256 i; i < assets.length; ++i) {
                assertEq(vs[j].balanceOf(assets[i]), IERC20(assets[i]).balanceOf(address(vs[j])), "accounted == held");
            }
        }
    }

    /// @notice Release follows its rules: by anyone but the secured party only under exclusive control once what is
    /// due is below the minimum transfer amount or the appropriation period has passed; such a release, and the
    /// secured party's at any time after the pledge, is never refused.
    function invariant_releaseOnlyAsTheRulesAllow() public view {
        ICollateralVault[] memory vs = handler.vaults();
        for (uint256 j; j < vs.length; ++j) {
            VaultGhost memory g = handler.ghost(j);
            assertTrue(!g.badRelease, "released before the rules allow");
            assertTrue(!g.releaseWronglyRefused, "a release the rules allow was refused");
        }
    }

    /// @notice A default the pledgor acknowledged or the control agent declared lasts: a notice on it never finds no
    /// default (only a default on an unmet call ends with the call).
    function invariant_declaredDefaultsPersist() public view {
        ICollateralVault[] memory vs = handler.vaults();
        for (uint256 j; j < vs.length; ++j) {
            assertTrue(!handler.ghost(j).declaredDefaultLost, "a declared default was lost");
        }
    }

    /// @notice After each run: the handler's record matches what happened (every control followed a notice it
    /// recorded, every release one it recorded), so the invariants above judge the campaign's real history.
    function afterInvariant() public view {
        ICollateralVault[] memory vs = handler.vaults();
        for (uint256 j; j < vs.length; ++j) {
            VaultGhost memory g = handler.ghost(j);
            VaultState s = vs[j].state();
            if (s == VaultState.ExclusiveControl || s == VaultState.Liquidating) {
                assertTrue(g.noticed, "control without a recorded notice");
            }
            if (s == VaultState.Released) assertTrue(g.released, "release not recorded");
            if (g.noticed) assertGe(handler.done("notice"), 1, "notice counted");
        }
    }

    // ------------------------------------------------------------ scripted runs through the handler

    /// @notice The ghosts record notices, releases and calls: a fixed sequence through the handler reaches a notice
    /// (a huge mark in the same block makes nothing more due), a bounded transfer, an over-take refused, a keeper's
    /// release after the appropriation period, and a diligent pledgor's call cured before its deadline.
    function test_handlerRecordsNoticesAndReleases() public {
        ICollateralVault[] memory vs = handler.vaults();
        ICollateralVault v = vs[0];
        // Past the dispute window of the fixture's mark, which is then enforceable.
        handler.warp(2 days - 1 hours, 5); // two days
        uint256 before = v.enforceableExposure();
        assertEq(before, handler.ghost(0).lastMark, "the fixture's mark let pass");
        // A huge mark and a notice in the same block, without a default: refused.
        handler.markAndNotice(0, 0, 0);
        assertTrue(!handler.ghost(0).noticed, "no notice without a default");
        // The pledgor acknowledges a default; a huge mark and a notice in the same block: due is the earlier figure.
        handler.declareDefault(0, 3 << 16); // the pledgor, no notice at once
        assertTrue(handler.ghost(0).consentedDefault, "consent recorded");
        handler.markAndNotice(0, 0, 0);
        VaultGhost memory g = handler.ghost(0);
        assertTrue(g.noticed, "notice recorded");
        assertEq(g.enforceableAtNotice, before, "the huge mark was not enforceable");
        (uint256 due, ) = v.appropriation();
        assertEq(due, before + (before * PENALTY_BPS) / BPS, "due = enforceable + penalty");
        // All the cash fits the amount due; then all the ether is more than the rest due: refused; what fits: taken.
        handler.instructTransfer(0, 0, 0, 1);
        assertEq(handler.done("instructTransfer"), 1, "transfer within the amount due");
        handler.instructTransfer(0, 2, 0, 0);
        assertEq(handler.done("instructTransfer"), 1, "over-take refused");
        assertEq(handler.done("instructTransferRefused"), 1, "over-take counted as refused");
        handler.instructTransfer(0, 2, 0, 1);
        assertEq(handler.done("instructTransfer"), 2, "the rest due taken");
        (uint256 dueAfter, uint256 taken) = v.appropriation();
        assertLe(taken, dueAfter, "never beyond the amount due");
        assertTrue(dueAfter - taken > 0, "a remainder below one unit's value is left");
        // The pledgor cannot release yet; after the appropriation period a keeper can.
        handler.release(0, 1);
        assertTrue(!handler.ghost(0).released, "no early release");
        handler.warp(6 days, 7); // eight days
        handler.release(0, 2);
        g = handler.ghost(0);
        assertTrue(g.released && g.releasedAfterNotice, "release recorded");
        assertEq(handler.done("releaseByOther"), 1, "keeper's release counted");

        // The diligent pledgor: a huge mark and a call in the same block, delivered at once; no control follows.
        handler.mark(1, 0, (1 << 24) | 2);
        assertGe(handler.done("call"), 1, "call issued");
        assertTrue(vs[1].state() == VaultState.Pledged, "the diligent pledgor cured the call at once");
        handler.warp(2 days - 1 hours, 5); // two days
        handler.declareDefault(1, 2);
        handler.notice(1, false);
        assertTrue(!handler.ghost(1).noticed, "no notice against the diligent pledgor");
        // A huge mark and a call left to the dedicated action, then a warp past its deadline: delivered first.
        handler.mark(1, 1e30, (1 << 24) | (1 << 16) | 2);
        assertTrue(vs[1].state() == VaultState.MarginCall, "a second call open");
        handler.warp(2 days - 1 hours, 5); // two days
        assertTrue(vs[1].state() == VaultState.Pledged, "delivered before the deadline");
        assertTrue(!handler.ghost(1).missedDeadline, "no deadline missed");

        invariant_P5_appropriationBoundedByEnforceableAtNotice();
        invariant_amountDueFixedAtNoticeOnlyGoesDown();
        invariant_diligentPledgorNeverUnderControl();
        invariant_nothingOfThePledgorsStaysAfterRelease();
        invariant_P1_nothingLost();
        invariant_releaseOnlyAsTheRulesAllow();
        invariant_declaredDefaultsPersist();
    }

    // ------------------------------------------------------------ regressions (contract behaviour against the rules)

    /// @notice A default the control agent declared lasts: anyone re-declaring it past the unmet call's deadline does
    /// not recast it as a default on the call, which the pledgor's late cure would end. (The vault once overwrote
    /// the reason, and the notice then failed `NoDefault()`.)
    function test_agentDefaultSurvivesACure() public {
        ICollateralVault v = handler.vaults()[0];
        uint256 t0 = handler.currentTime();
        _setExposure(v, 300_000e18);
        vm.prank(RECEIVER);
        v.issueMarginCall();
        vm.warp(t0 + 1 days + 1);
        _refreshFeeds();
        vm.prank(AGENT);
        v.declareDefault();
        // Anyone (here the pledgor's friend) declares the same default again, as one on the unmet call.
        vm.prank(RECEIVER);
        v.declareDefault();
        // The pledgor cures late: the default on the unmet call would end, the control agent's must not.
        _deposit(v, 0, 200_000e6);
        assertTrue(v.state() == VaultState.Pledged, "cured late");
        vm.prank(SECURED);
        v.deliverNoticeOfExclusiveControl(keccak256("notice on the control agent's default"));
        assertTrue(v.state() == VaultState.ExclusiveControl, "the control agent's default still stands");
    }

    /// @notice Under exclusive control with a dispute open, the secured party takes 100,000 of the 210,000 due and the
    /// control agent then decides 50,000 (due 52,500): nothing more is due, so the pledgor releases the surplus at once.
    function test_resolutionBelowWhatWasTakenLeavesTheSurplusReleasable() public {
        ICollateralVault v = _controlWithDisputeAndTake();
        vm.prank(PLEDGOR);
        v.release();
        assertTrue(v.state() == VaultState.Released, "the pledgor released the surplus");
        assertEq(v.balanceOf(address(eth18)), 0, "nothing left");
        assertEq(eth18.balanceOf(PLEDGOR), 300e18 + 30e18, "the ether came back");
    }

    /// @notice A diligent pledgor delivers what `marginCall()` states: a mark so large that the call is capped at
    /// 2^128 - 1 WAD is cured by that delivery, so no default follows. (The vault once ignored deliveries against a
    /// capped call, and such a pledgor was put under control at the deadline.)
    function test_cappedCallCuredByItsStatedAmount() public {
        ICollateralVault v = handler.vaults()[1];
        uint256 t0 = handler.currentTime();
        _setExposure(v, 1e45);
        vm.prank(RECEIVER);
        v.issueMarginCall();
        (uint256 amount, , , ) = v.marginCall();
        assertEq(amount, type(uint128).max, "capped");
        _deposit(v, 0, Math.ceilDiv(amount, 1e12) + 1);
        vm.warp(t0 + 1 days + 1);
        _refreshFeeds();
        vm.prank(SECURED);
        try
            v.deliverNoticeOfExclusiveControl(keccak256("notice on a call whose stated amount was delivered"))
        {} catch {}
        assertTrue(v.state() != VaultState.ExclusiveControl, "a pledgor that delivered the called amount controlled");
    }

    /// @dev Vault 0 (due 210,000 on the pledgor's figure of 200,000) under exclusive control, 100,000 taken, then the
    /// control agent decides 50,000.
    function _controlWithDisputeAndTake() internal returns (ICollateralVault v) {
        v = handler.vaults()[0];
        _setExposure(v, 300_000e18);
        vm.prank(PLEDGOR);
        v.disputeExposure(200_000e18);
        vm.prank(PLEDGOR);
        v.declareDefault();
        vm.prank(SECURED);
        v.deliverNoticeOfExclusiveControl(keccak256("notice"));
        (uint256 due, ) = v.appropriation();
        assertEq(due, 210_000e18, "due = the pledgor's figure + 5%");
        vm.prank(SECURED);
        v.instructTransfer(address(usd6), 100_000e6, SECURED);
        vm.prank(AGENT);
        v.resolveDispute(50_000e18);
        (due, ) = v.appropriation();
        assertEq(due, 52_500e18, "the decision lowered the amount due");
    }

    // ------------------------------------------------------------ internals

    function _checkAmountDue(ICollateralVault v, VaultGhost memory g, uint256 due) internal view {
        uint16 penaltyBps = v.terms().liquidationPenaltyBps;
        assertLe(due, _dueAt(g.enforceableAtNotice, penaltyBps), "due <= enforceable at notice + penalty");
        assertLe(due, _dueAt(g.concededAtNotice, penaltyBps), "due <= what the pledgor let pass + penalty");
        if (g.disputedAtNotice) {
            assertLe(due, _dueAt(g.pledgorFigureAtNotice, penaltyBps), "due <= pledgor's figure + penalty");
        }
        assertLe(due, g.amountDueAtNotice, "due never above the notice's");
        assertTrue(!g.dueIncreased, "amount due rose after the notice");
    }

    function _dueAt(uint256 exposure, uint16 penaltyBps) internal pure returns (uint256) {
        return exposure + Math.mulDiv(exposure, penaltyBps, BPS);
    }
}
