// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {IERC721} from "@openzeppelin/contracts/token/ERC721/IERC721.sol";
import {IERC1155} from "@openzeppelin/contracts/token/ERC1155/IERC1155.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {IDvPSettlement} from "../interfaces/IDvPSettlement.sol";

/// @title DvPSettlement
/// @notice Atomic multi-leg delivery-versus-payment authorised by callers and EIP-712 / ERC-1271 signatures.
/// @dev Holds no tokens and no privileged role; its only state is the per-owner nonce bitmaps.
contract DvPSettlement is IDvPSettlement, EIP712, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @notice EIP-712 type hash of `Leg`.
    bytes32 public constant LEG_TYPEHASH = keccak256(
        "Leg(uint8 kind,address token,uint256 id,uint256 amount,address from,address to)"
    );

    /// @notice EIP-712 type hash of `Settlement` (with the referenced `Leg` type appended, as EIP-712 requires).
    bytes32 public constant SETTLEMENT_TYPEHASH = keccak256(
        "Settlement(Leg[] legs,uint256 deadline,uint256 nonce)"
        "Leg(uint8 kind,address token,uint256 id,uint256 amount,address from,address to)"
    );

    /// @dev owner => word position => bitmap of used nonces (bit `nonce & 0xff` of word `nonce >> 8`).
    mapping(address owner => mapping(uint256 wordPos => uint256 bitmap)) private _nonceBitmap;

    constructor() EIP712("DvPSettlement", "1") {}

    /// @inheritdoc IDvPSettlement
    function settle(
        Settlement calldata settlement,
        SenderSignature[] calldata signatures
    ) external nonReentrant returns (bytes32 settlementId) {
        Leg[] calldata legs = settlement.legs;
        uint256 legCount = legs.length;
        if (legCount < 2) revert TooFewLegs(legCount);
        uint256 deadline = settlement.deadline;
        if (block.timestamp > deadline) revert SettlementExpired(deadline, block.timestamp);

        settlementId = _hashTypedDataV4(_hashSettlement(settlement));

        // 1. Signatures: verify each, consume the settlement nonce in each signer's bitmap.
        uint256 nonce = settlement.nonce;
        uint256 sigCount = signatures.length;
        for (uint256 j; j < sigCount; ++j) {
            SenderSignature calldata sig = signatures[j];
            address signer = sig.signer;
            if (signer == msg.sender) revert SignerNotSender(j, signer);
            _verifySignature(signer, settlementId, sig.signature);
            _useNonce(signer, nonce);
            emit SenderAuthorised(settlementId, signer, nonce);
        }

        // 2. Legs: every sender is the caller or a signer; move each leg straight from sender to receiver.
        uint256 usedSignatures; // bit j set once signature j has authorised a leg (first 256 signatures)
        for (uint256 i; i < legCount; ++i) {
            Leg calldata leg = legs[i];
            address from = leg.from;
            if (from != msg.sender) {
                uint256 j;
                while (true) {
                    if (j == sigCount) revert SenderNotAuthorised(i, from);
                    if (signatures[j].signer == from) break;
                    ++j;
                }
                if (j < 256) usedSignatures |= 1 << j;
            }
            _move(settlementId, i, leg, from);
        }

        // 3. A signature from an address that sends nothing is a malformed order, not a harmless extra.
        uint256 checked = sigCount < 256 ? sigCount : 256;
        for (uint256 j; j < checked; ++j) {
            if (usedSignatures & (1 << j) == 0) revert SignerNotSender(j, signatures[j].signer);
        }

        emit Settled(settlementId, msg.sender, legCount);
    }

    /// @inheritdoc IDvPSettlement
    function cancelNonce(uint256 nonce) external {
        uint256 wordPos = nonce >> 8;
        uint256 mask = 1 << (nonce & 0xff);
        _nonceBitmap[msg.sender][wordPos] |= mask;
        emit NoncesInvalidated(msg.sender, wordPos, mask);
    }

    /// @inheritdoc IDvPSettlement
    function invalidateNonces(uint256 wordPos, uint256 mask) external {
        _nonceBitmap[msg.sender][wordPos] |= mask;
        emit NoncesInvalidated(msg.sender, wordPos, mask);
    }

    /// @inheritdoc IDvPSettlement
    function isNonceUsed(address owner, uint256 nonce) external view returns (bool) {
        return _nonceBitmap[owner][nonce >> 8] & (1 << (nonce & 0xff)) != 0;
    }

    /// @inheritdoc IDvPSettlement
    function nonceBitmap(address owner, uint256 wordPos) external view returns (uint256) {
        return _nonceBitmap[owner][wordPos];
    }

    /// @inheritdoc IDvPSettlement
    function hashSettlement(Settlement calldata settlement) external pure returns (bytes32) {
        return _hashSettlement(settlement);
    }

    /// @inheritdoc IDvPSettlement
    function settlementDigest(Settlement calldata settlement) external view returns (bytes32) {
        return _hashTypedDataV4(_hashSettlement(settlement));
    }

    /// @inheritdoc IDvPSettlement
    // solhint-disable-next-line func-name-mixedcase
    function DOMAIN_SEPARATOR() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    /// @dev Marks `nonce` of `owner` used, reverting if it already was. One SLOAD and one SSTORE.
    function _useNonce(address owner, uint256 nonce) private {
        mapping(uint256 => uint256) storage bitmap = _nonceBitmap[owner];
        uint256 wordPos = nonce >> 8;
        uint256 bit = 1 << (nonce & 0xff);
        uint256 word = bitmap[wordPos];
        if (word & bit != 0) revert NonceAlreadyUsed(owner, nonce);
        bitmap[wordPos] = word | bit;
    }

    /// @dev A 65-byte signature that ECDSA-recovers (low-s only) to `signer` is accepted at once, without reading
    /// `signer`'s code (saves a cold EXTCODESIZE on the common EOA path; no contract can produce such a signature for
    /// its own address). Otherwise a signer with code is asked through OpenZeppelin's SignatureChecker (ERC-1271),
    /// and a signer without code gets the error that names the ECDSA failure.
    function _verifySignature(address signer, bytes32 digest, bytes calldata signature) private view {
        address recovered;
        ECDSA.RecoverError err = ECDSA.RecoverError.InvalidSignatureLength;
        bytes32 s;
        if (signature.length == 65) {
            bytes32 r = bytes32(signature[0:32]);
            s = bytes32(signature[32:64]);
            (recovered, err, ) = ECDSA.tryRecover(digest, uint8(signature[64]), r, s);
            if (err == ECDSA.RecoverError.NoError && recovered == signer) return;
        }
        if (signer.code.length != 0) {
            if (!SignatureChecker.isValidERC1271SignatureNow(signer, digest, signature)) {
                revert InvalidContractSignature(signer);
            }
            return;
        }
        if (err == ECDSA.RecoverError.InvalidSignatureS) revert MalleableSignature(signer, s);
        if (err != ECDSA.RecoverError.NoError) revert MalformedSignature(signer, signature.length);
        revert InvalidSigner(signer, recovered);
    }

    /// @dev Moves one leg from `from` to `leg.to` and emits `LegSettled`. ERC-20 legs are measured at the receiver.
    function _move(bytes32 settlementId, uint256 legIndex, Leg calldata leg, address from) private {
        uint256 rawKind;
        assembly ("memory-safe") {
            rawKind := calldataload(leg) // `kind` is the leg's first word; read raw to name a bad value
        }
        if (rawKind > uint256(type(TokenKind).max)) revert UnknownTokenKind(legIndex, rawKind);
        TokenKind kind = TokenKind(rawKind);
        address token = leg.token;
        uint256 id = leg.id;
        uint256 amount = leg.amount;
        address to = leg.to;
        if (amount == 0) revert LegAmountZero(legIndex);
        if (to == address(this)) revert ReceiverIsSettlement(legIndex);
        if (kind == TokenKind.ERC20) {
            if (id != 0) revert UnexpectedTokenId(legIndex, id);
            uint256 balanceBefore = _balanceOf(legIndex, token, to);
            IERC20(token).safeTransferFrom(from, to, amount);
            uint256 balanceAfter = _balanceOf(legIndex, token, to);
            uint256 received = balanceAfter > balanceBefore ? balanceAfter - balanceBefore : 0;
            if (received < amount) revert LegDeliveredShort(legIndex, received, amount);
        } else if (kind == TokenKind.ERC721) {
            if (amount != 1) revert InvalidERC721Amount(legIndex, amount);
            IERC721(token).safeTransferFrom(from, to, id);
        } else {
            IERC1155(token).safeTransferFrom(from, to, id, amount, "");
        }
        emit LegSettled(settlementId, legIndex, kind, token, id, amount, from, to);
    }

    /// @dev `token.balanceOf(account)` in scratch space, without allocating memory.
    function _balanceOf(uint256 legIndex, address token, address account) private view returns (uint256 amount) {
        bool ok;
        assembly ("memory-safe") {
            mstore(0x00, 0x70a08231) // balanceOf(address)
            mstore(0x20, account)
            ok := and(gt(returndatasize(), 0x1f), staticcall(gas(), token, 0x1c, 0x24, 0x00, 0x20))
            amount := mload(0x00)
        }
        if (!ok) revert BalanceUnreadable(legIndex, token);
    }

    /// @dev EIP-712 struct hash: each `Leg` is six static words in calldata, hashed straight from a copy of them.
    function _hashSettlement(Settlement calldata settlement) private pure returns (bytes32 structHash) {
        Leg[] calldata legs = settlement.legs;
        uint256 deadline = settlement.deadline;
        uint256 nonce = settlement.nonce;
        bytes32 legTypehash = LEG_TYPEHASH;
        bytes32 settlementTypehash = SETTLEMENT_TYPEHASH;
        assembly ("memory-safe") {
            let n := legs.length
            let ptr := mload(0x40)
            let hashes := add(ptr, 0xe0)
            mstore(ptr, legTypehash)
            for {
                let i := 0
            } lt(i, n) {
                i := add(i, 1)
            } {
                calldatacopy(add(ptr, 0x20), add(legs.offset, mul(i, 0xc0)), 0xc0)
                mstore(add(hashes, shl(5, i)), keccak256(ptr, 0xe0))
            }
            let legsHash := keccak256(hashes, shl(5, n))
            mstore(ptr, settlementTypehash)
            mstore(add(ptr, 0x20), legsHash)
            mstore(add(ptr, 0x40), deadline)
            mstore(add(ptr, 0x60), nonce)
            structHash := keccak256(ptr, 0x80)
        }
    }
}
