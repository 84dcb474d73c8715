// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";

import {TestBase} from "./utils/Vm.sol";
import {IDvPSettlement} from "../contracts/interfaces/IDvPSettlement.sol";
import {MockERC20} from "../contracts/mocks/doubles/MockERC20.sol";

/// @notice Builds and signs settlements for the Solidity tests.
abstract contract DvPTestHelpers is TestBase {
    function _sign(
        IDvPSettlement dvp,
        IDvPSettlement.Settlement memory s,
        uint256 key
    ) internal view returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 sig) = vm.sign(key, dvp.settlementDigest(s));
        return abi.encodePacked(r, sig, v);
    }

    function _erc20Leg(
        address token,
        uint256 amount,
        address from,
        address to
    ) internal pure returns (IDvPSettlement.Leg memory) {
        return IDvPSettlement.Leg(IDvPSettlement.TokenKind.ERC20, token, 0, amount, from, to);
    }
}

/// @notice Fuzzed atomicity: random ERC-20 leg sets, some unfundable; either every balance moved exactly as the legs
/// say, or none changed at all.
contract DvPSettlementFuzzTest is DvPTestHelpers {
    uint256 internal constant ACTORS = 4;
    uint256 internal constant TOKENS = 3;

    IDvPSettlement internal dvp;
    MockERC20[TOKENS] internal tokens;
    uint256[ACTORS] internal keys;
    address[ACTORS] internal actors;

    function setUp() public {
        dvp = IDvPSettlement(_deployArtifact("DvPSettlement.sol:DvPSettlement", ""));
        for (uint256 t; t < TOKENS; ++t) tokens[t] = new MockERC20("Token", "TKN", 18);
        for (uint256 a; a < ACTORS; ++a) {
            keys[a] = 0xA11CE + a;
            actors[a] = vm.addr(keys[a]);
        }
    }

    struct Plan {
        uint256[] legToken;
        uint256[] legFrom;
        uint256[] legTo;
        uint256[] legAmount;
        int256[ACTORS][TOKENS] net;
        uint256[ACTORS][TOKENS] outflow;
    }

    function testFuzz_P6_allLegsMoveOrNone(
        uint256 seed,
        uint256 legCountSeed,
        uint256 callerSeed,
        uint256 failModeSeed,
        uint256 failLegSeed
    ) public {
        uint256 n = bound(legCountSeed, 2, 6);
        uint256 failMode = failModeSeed % 3;
        Plan memory p = _plan(seed, n);
        IDvPSettlement.Settlement memory s = _settlement(p, n, seed);

        // Fund and approve exactly the total outflow of each (sender, token); failMode 1 shorts the balance and
        // failMode 2 shorts the allowance of one leg's sender by one unit (failMode 0: fully funded).
        uint256 failLeg = bound(failLegSeed, 0, n - 1);
        for (uint256 t; t < TOKENS; ++t) {
            for (uint256 a; a < ACTORS; ++a) {
                uint256 out = p.outflow[t][a];
                bool isFailing = p.legToken[failLeg] == t && p.legFrom[failLeg] == a;
                uint256 bal = out;
                uint256 allowance = out;
                if (isFailing && failMode == 1) bal -= 1;
                if (isFailing && failMode == 2) allowance -= 1;
                tokens[t].mint(actors[a], bal);
                vm.prank(actors[a]);
                tokens[t].approve(address(dvp), allowance);
            }
        }

        bool expectSuccess = _simulate(p, n, failMode, failLeg);
        // A short allowance can never be covered by incoming legs; a short balance sometimes is.
        if (failMode == 2) assertTrue(!expectSuccess, "short allowance must fail");
        if (failMode == 0) assertTrue(expectSuccess, "fully funded must settle");

        // The caller is one of the senders (authorised by the call) or, when callerSeed picks ACTORS, this contract.
        uint256 callerIdx = callerSeed % (ACTORS + 1);
        address caller = callerIdx == ACTORS ? address(this) : actors[callerIdx];
        IDvPSettlement.SenderSignature[] memory sigs = _signatures(p, n, s, caller);

        uint256[ACTORS][TOKENS] memory before;
        for (uint256 t; t < TOKENS; ++t) {
            for (uint256 a; a < ACTORS; ++a) before[t][a] = tokens[t].balanceOf(actors[a]);
        }

        vm.prank(caller);
        bool ok;
        try dvp.settle(s, sigs) {
            ok = true;
        } catch (bytes memory reason) {
            bytes4 sel = bytes4(reason);
            assertTrue(
                sel == IERC20Errors.ERC20InsufficientBalance.selector ||
                    sel == IERC20Errors.ERC20InsufficientAllowance.selector,
                "only an unfunded leg may fail"
            );
        }
        assertTrue(ok == expectSuccess, "outcome matches the simulation");

        for (uint256 t; t < TOKENS; ++t) {
            for (uint256 a; a < ACTORS; ++a) {
                uint256 expected = ok ? uint256(int256(before[t][a]) + p.net[t][a]) : before[t][a];
                assertEq(tokens[t].balanceOf(actors[a]), expected, "balance moved exactly, or not at all");
            }
            assertEq(tokens[t].balanceOf(address(dvp)), 0, "settlement holds nothing");
        }
        for (uint256 j; j < sigs.length; ++j) {
            assertTrue(dvp.isNonceUsed(sigs[j].signer, s.nonce) == ok, "nonce used iff settled");
        }
    }

    /// @notice Cancelling nonce `a` marks exactly that bit of exactly that owner.
    function testFuzz_cancelNonceMarksOnlyItsBit(uint256 a, uint256 b, address owner, address other) public {
        vm.assume(a != b && owner != other);
        vm.prank(owner);
        dvp.cancelNonce(a);
        assertTrue(dvp.isNonceUsed(owner, a), "cancelled nonce is used");
        assertTrue(!dvp.isNonceUsed(owner, b), "another nonce is untouched");
        assertTrue(!dvp.isNonceUsed(other, a), "another owner is untouched");
        assertEq(dvp.nonceBitmap(owner, a >> 8), 1 << (a & 0xff), "one bit in one word");
    }

    /// @notice `invalidateNonces(word, mask)` ORs `mask` into the word and never clears a bit.
    function testFuzz_invalidateNoncesOnlySetsBits(uint256 wordPos, uint256 mask1, uint256 mask2) public {
        vm.startPrank(actors[0]);
        dvp.invalidateNonces(wordPos, mask1);
        dvp.invalidateNonces(wordPos, mask2);
        vm.stopPrank();
        assertEq(dvp.nonceBitmap(actors[0], wordPos), mask1 | mask2, "bitmap is the union of masks");
        uint256 bitIdx = (mask1 ^ mask2) & 0xff;
        uint256 nonce = (wordPos << 8) | bitIdx;
        if (wordPos < (1 << 248)) {
            assertTrue(
                dvp.isNonceUsed(actors[0], nonce) == ((mask1 | mask2) & (1 << bitIdx) != 0),
                "isNonceUsed reads the same bit"
            );
        }
    }

    function _plan(uint256 seed, uint256 n) private pure returns (Plan memory p) {
        p.legToken = new uint256[](n);
        p.legFrom = new uint256[](n);
        p.legTo = new uint256[](n);
        p.legAmount = new uint256[](n);
        for (uint256 i; i < n; ++i) {
            uint256 r = uint256(keccak256(abi.encode(seed, i)));
            uint256 t = r % TOKENS;
            uint256 from = (r >> 8) % ACTORS;
            uint256 to = (from + 1 + ((r >> 16) % (ACTORS - 1))) % ACTORS;
            uint256 amount = 1 + ((r >> 32) % 1e24);
            p.legToken[i] = t;
            p.legFrom[i] = from;
            p.legTo[i] = to;
            p.legAmount[i] = amount;
            p.outflow[t][from] += amount;
            p.net[t][from] -= int256(amount);
            p.net[t][to] += int256(amount);
        }
    }

    function _settlement(
        Plan memory p,
        uint256 n,
        uint256 seed
    ) private view returns (IDvPSettlement.Settlement memory s) {
        s.legs = new IDvPSettlement.Leg[](n);
        for (uint256 i; i < n; ++i) {
            s.legs[i] = _erc20Leg(
                address(tokens[p.legToken[i]]),
                p.legAmount[i],
                actors[p.legFrom[i]],
                actors[p.legTo[i]]
            );
        }
        s.deadline = block.timestamp + 1 hours;
        s.nonce = uint256(keccak256(abi.encode("nonce", seed)));
    }

    /// @dev Replays the legs in order against the planned balances and allowances: does every leg fit?
    function _simulate(Plan memory p, uint256 n, uint256 failMode, uint256 failLeg) private pure returns (bool) {
        uint256[ACTORS][TOKENS] memory bal;
        uint256[ACTORS][TOKENS] memory allowance;
        for (uint256 t; t < TOKENS; ++t) {
            for (uint256 a; a < ACTORS; ++a) {
                bal[t][a] = p.outflow[t][a];
                allowance[t][a] = p.outflow[t][a];
            }
        }
        uint256 ft = p.legToken[failLeg];
        uint256 fa = p.legFrom[failLeg];
        if (failMode == 1) bal[ft][fa] -= 1;
        if (failMode == 2) allowance[ft][fa] -= 1;
        for (uint256 i; i < n; ++i) {
            (uint256 t, uint256 from, uint256 to, uint256 amt) = (
                p.legToken[i],
                p.legFrom[i],
                p.legTo[i],
                p.legAmount[i]
            );
            if (bal[t][from] < amt || allowance[t][from] < amt) return false;
            bal[t][from] -= amt;
            allowance[t][from] -= amt;
            bal[t][to] += amt;
        }
        return true;
    }

    function _signatures(
        Plan memory p,
        uint256 n,
        IDvPSettlement.Settlement memory s,
        address caller
    ) private view returns (IDvPSettlement.SenderSignature[] memory sigs) {
        bool[ACTORS] memory sends;
        uint256 count;
        for (uint256 i; i < n; ++i) {
            uint256 a = p.legFrom[i];
            if (!sends[a] && actors[a] != caller) {
                sends[a] = true;
                ++count;
            }
        }
        sigs = new IDvPSettlement.SenderSignature[](count);
        uint256 k;
        for (uint256 a; a < ACTORS; ++a) {
            if (sends[a]) sigs[k++] = IDvPSettlement.SenderSignature(actors[a], _sign(dvp, s, keys[a]));
        }
    }
}

/// @notice Drives random settlements, replays, cancellations and deliveries to the settlement contract itself,
/// and keeps ghost records of every (signer, nonce) that ever settled.
contract DvPHandler is DvPTestHelpers {
    uint256 internal constant ACTORS = 3;

    IDvPSettlement public immutable dvp;
    MockERC20 public immutable asset;
    MockERC20 public immutable cash;
    uint256[ACTORS] internal keys;
    address[ACTORS] internal actors;

    mapping(address => mapping(uint256 => bool)) public settledNonce;
    mapping(address => mapping(uint256 => bool)) public cancelledNonce;
    uint256 public doubleSettles;
    uint256 public cancelledButSettled;
    uint256 public settlements;
    uint256 public replaysAttempted;

    IDvPSettlement.Settlement internal lastSettlement;
    IDvPSettlement.SenderSignature[] internal lastSignatures;
    address internal lastCaller;

    constructor(IDvPSettlement dvp_, MockERC20 asset_, MockERC20 cash_) {
        dvp = dvp_;
        asset = asset_;
        cash = cash_;
        for (uint256 a; a < ACTORS; ++a) {
            keys[a] = 0xB0B + a;
            actors[a] = vm.addr(keys[a]);
            asset.mint(actors[a], 1e30);
            cash.mint(actors[a], 1e30);
            vm.startPrank(actors[a]);
            asset.approve(address(dvp), type(uint256).max);
            cash.approve(address(dvp), type(uint256).max);
            vm.stopPrank();
        }
    }

    /// @notice A two-leg asset-for-cash trade; nonces come from a small pool so collisions are frequent.
    function settlePair(
        uint256 sellerSeed,
        uint256 buyerSeed,
        uint256 amountSeed,
        uint8 nonceSeed,
        bool relay
    ) external {
        uint256 si = sellerSeed % ACTORS;
        uint256 bi = (si + 1 + (buyerSeed % (ACTORS - 1))) % ACTORS;
        address buyerTo = actors[bi];
        // One time in eight, try to deliver the asset to the settlement contract itself.
        if (amountSeed % 8 == 0) buyerTo = address(dvp);
        IDvPSettlement.Settlement memory s;
        s.legs = new IDvPSettlement.Leg[](2);
        s.legs[0] = _erc20Leg(address(asset), bound(amountSeed, 1, 1e24), actors[si], buyerTo);
        s.legs[1] = _erc20Leg(address(cash), bound(amountSeed >> 80, 1, 1e24), actors[bi], actors[si]);
        s.deadline = block.timestamp + 1 days;
        s.nonce = nonceSeed % 16;

        IDvPSettlement.SenderSignature[] memory sigs;
        address caller;
        if (relay) {
            caller = address(this);
            sigs = new IDvPSettlement.SenderSignature[](2);
            sigs[0] = IDvPSettlement.SenderSignature(actors[si], _sign(dvp, s, keys[si]));
            sigs[1] = IDvPSettlement.SenderSignature(actors[bi], _sign(dvp, s, keys[bi]));
        } else {
            caller = actors[si];
            sigs = new IDvPSettlement.SenderSignature[](1);
            sigs[0] = IDvPSettlement.SenderSignature(actors[bi], _sign(dvp, s, keys[bi]));
        }
        _trySettle(caller, s, sigs);
    }

    /// @notice Resubmits the last settlement that succeeded, exactly as it was.
    function replayLast() external {
        if (lastSignatures.length == 0) return;
        ++replaysAttempted;
        _trySettle(lastCaller, lastSettlement, lastSignatures);
    }

    /// @notice An actor cancels one nonce of the pool.
    function cancel(uint256 actorSeed, uint8 nonceSeed) external {
        address actor = actors[actorSeed % ACTORS];
        uint256 nonce = nonceSeed % 16;
        vm.prank(actor);
        dvp.cancelNonce(nonce);
        cancelledNonce[actor][nonce] = true;
    }

    function _trySettle(
        address caller,
        IDvPSettlement.Settlement memory s,
        IDvPSettlement.SenderSignature[] memory sigs
    ) private {
        vm.prank(caller);
        try dvp.settle(s, sigs) {
            ++settlements;
            for (uint256 j; j < sigs.length; ++j) {
                address signer = sigs[j].signer;
                if (settledNonce[signer][s.nonce]) ++doubleSettles;
                if (cancelledNonce[signer][s.nonce]) ++cancelledButSettled;
                settledNonce[signer][s.nonce] = true;
            }
            delete lastSettlement;
            lastSettlement.deadline = s.deadline;
            lastSettlement.nonce = s.nonce;
            for (uint256 i; i < s.legs.length; ++i) lastSettlement.legs.push(s.legs[i]);
            delete lastSignatures;
            for (uint256 j; j < sigs.length; ++j) lastSignatures.push(sigs[j]);
            lastCaller = caller;
        } catch {}
    }
}

/// @notice Invariants: the settlement contract never holds a token, and no (signer, nonce) ever settles twice or
/// after its cancellation.
contract DvPSettlementInvariantTest is TestBase {
    IDvPSettlement internal dvp;
    MockERC20 internal asset;
    MockERC20 internal cash;
    DvPHandler internal handler;

    function setUp() public {
        dvp = IDvPSettlement(_deployArtifact("DvPSettlement.sol:DvPSettlement", ""));
        asset = new MockERC20("Asset", "AST", 18);
        cash = new MockERC20("Cash", "CSH", 6);
        handler = new DvPHandler(dvp, asset, cash);
    }

    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    function invariant_P6_settlementHoldsNoTokens() public view {
        assertEq(asset.balanceOf(address(dvp)), 0, "asset held by DvP");
        assertEq(cash.balanceOf(address(dvp)), 0, "cash held by DvP");
    }

    function invariant_signedOrderSettlesAtMostOnce() public view {
        assertEq(handler.doubleSettles(), 0, "a (signer, nonce) settled twice");
        assertEq(handler.cancelledButSettled(), 0, "a cancelled nonce settled");
    }

    function invariant_P6_tokensConserved() public view {
        assertEq(asset.totalSupply(), 3e30, "asset supply");
        assertEq(cash.totalSupply(), 3e30, "cash supply");
    }
}
