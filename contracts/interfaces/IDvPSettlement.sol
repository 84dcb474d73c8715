// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title IDvPSettlement
/// @notice Atomic delivery-versus-payment: a settlement of two or more legs (ERC-20, ERC-721 or ERC-1155) moves
/// every leg from its sender straight to its receiver in one transaction, or moves nothing.
/// @dev Authorisation. Each distinct sender (`from`) of a leg authorises its outgoing legs either by being
/// `msg.sender` of `settle`, or by an EIP-712 signature over the whole settlement (all legs, the deadline and the
/// nonce). EOAs sign with ECDSA (low-s only); contract wallets (Safe and other ERC-1271 wallets) answer
/// `isValidSignature`. The EIP-712 domain (name "DvPSettlement", version "1", chain id, this contract) binds the
/// signature to one chain and one deployment.
///
/// Nonces. One nonce per settlement, consumed in the bitmap of *every signing sender* (not of the caller). Nonces are
/// unordered, as in Permit2: bit `nonce & 0xff` of word `nonce >> 8` of the owner's bitmap. Any unused nonce works,
/// so parallel orders never block each other; an SDK picks a random 256-bit nonce (or the lowest nonce unused by all
/// signers). A signed order therefore settles at most once, and each signer can cancel it alone by invalidating
/// the nonce in its own bitmap.
///
/// A settlement authorised by its caller alone (every sender is `msg.sender`) consumes no nonce: each such call is
/// its own authorisation. A failed settlement consumes nothing, so a corrected order can be resubmitted.
///
/// Delivery checks. ERC-20 legs are measured at the receiver (`balanceOf` before and after) and revert with
/// `LegDeliveredShort` on any shortfall (fee-on-transfer, rebasing down, lying tokens; receiving more is accepted).
/// ERC-20 calls go through SafeERC20 (tokens returning `false` or nothing). ERC-721 and ERC-1155 legs use
/// `safeTransferFrom`, so contract receivers must accept them; their delivery is left to the token standard.
///
/// Settlement id. `settlementId` is the EIP-712 digest (`\x19\x01 ‖ domainSeparator ‖ structHash`) of the
/// settlement: exactly the hash each signer signs, unique per chain and per deployment. A settlement with at least
/// one signature can run only once, so its id appears in one `Settled` event at most; a caller-only settlement
/// re-executed with identical legs, deadline and nonce repeats its id (each run is a separate instruction).
///
/// Typed data:
/// `Settlement(Leg[] legs,uint256 deadline,uint256 nonce)`
/// `Leg(uint8 kind,address token,uint256 id,uint256 amount,address from,address to)`
/// where `kind` is 0 = ERC20, 1 = ERC721, 2 = ERC1155.
///
/// The contract never holds tokens: senders approve this contract and every leg is a direct
/// `transferFrom` / `safeTransferFrom` from sender to receiver.
interface IDvPSettlement {
    /// @notice The token standard of a leg.
    enum TokenKind {
        ERC20,
        ERC721,
        ERC1155
    }

    /// @notice One delivery: `amount` of `token` (and token `id` for ERC-721 / ERC-1155) from `from` to `to`.
    /// @dev `id` must be 0 for ERC-20 legs; `amount` must be 1 for ERC-721 legs and non-zero for all legs.
    struct Leg {
        TokenKind kind;
        address token;
        uint256 id;
        uint256 amount;
        address from;
        address to;
    }

    /// @notice The settlement every signer signs: all legs, the last valid timestamp and the nonce.
    struct Settlement {
        Leg[] legs;
        uint256 deadline;
        uint256 nonce;
    }

    /// @notice A signature authorising the legs sent by `signer`: 65-byte `r ‖ s ‖ v` ECDSA for an EOA, or whatever
    /// the ERC-1271 wallet at `signer` accepts.
    struct SenderSignature {
        address signer;
        bytes signature;
    }

    /// @notice A settlement executed in full.
    /// @param settlementId The EIP-712 digest of the settlement.
    /// @param caller `msg.sender` of `settle`.
    /// @param legCount The number of legs moved (one `LegSettled` each).
    event Settled(bytes32 indexed settlementId, address indexed caller, uint256 legCount);

    /// @notice One leg moved from `from` to `to`.
    event LegSettled(
        bytes32 indexed settlementId,
        uint256 legIndex,
        TokenKind kind,
        address indexed token,
        uint256 id,
        uint256 amount,
        address from,
        address to
    );

    /// @notice `sender` authorised its legs of `settlementId` by signature, and `nonce` is now used in its bitmap.
    /// @dev Emitted once per signature. A leg whose `from` equals the `caller` of `Settled` was authorised by that
    /// call itself and gets no `SenderAuthorised` (saves ~2,000 gas per settlement; the caller is already in
    /// `Settled`). Every `LegSettled.from` is therefore either `Settled.caller` or has a `SenderAuthorised` here.
    event SenderAuthorised(bytes32 indexed settlementId, address indexed sender, uint256 nonce);

    /// @notice `owner` invalidated the nonces set in `mask` of bitmap word `wordPos`.
    event NoncesInvalidated(address indexed owner, uint256 indexed wordPos, uint256 mask);

    /// @notice A settlement needs at least two legs; it has `legCount`.
    error TooFewLegs(uint256 legCount);
    /// @notice The settlement expired at `deadline` (now `currentTime`).
    /// @param deadline The settlement's deadline (Unix time)
    /// @param currentTime The block's time (Unix time)
    error SettlementExpired(uint256 deadline, uint256 currentTime);
    /// @notice Leg `legIndex` has the token kind `kind`, which is not one of `TokenKind`'s.
    error UnknownTokenKind(uint256 legIndex, uint256 kind);
    /// @notice Leg `legIndex` has a zero amount.
    error LegAmountZero(uint256 legIndex);
    /// @notice Leg `legIndex` delivers to the settlement contract itself, which must never hold tokens.
    error ReceiverIsSettlement(uint256 legIndex);
    /// @notice Leg `legIndex` moves an ERC-721 with amount `amount`; it must be 1.
    error InvalidERC721Amount(uint256 legIndex, uint256 amount);
    /// @notice ERC-20 leg `legIndex` carries the token id `id`; it must be 0.
    error UnexpectedTokenId(uint256 legIndex, uint256 id);
    /// @notice Leg `legIndex` is sent by `sender`, which neither called `settle` nor signed.
    error SenderNotAuthorised(uint256 legIndex, address sender);
    /// @notice Signature `signatureIndex` is from `signer`, which sends none of the legs (or is the caller).
    error SignerNotSender(uint256 signatureIndex, address signer);
    /// @notice Nonce `nonce` of `owner` was already used by a settlement or cancelled by its owner.
    error NonceAlreadyUsed(address owner, uint256 nonce);
    /// @notice The signature recovers to `recovered`, not to `signer` (another chain, contract, order or key).
    error InvalidSigner(address signer, address recovered);
    /// @notice The signature of `signer` has its s value `s` in the upper half of the curve order (a malleable twin).
    error MalleableSignature(address signer, bytes32 s);
    /// @notice The signature of `signer` is malformed: `length` bytes where 65 are needed, or its v and r cannot be
    /// recovered.
    error MalformedSignature(address signer, uint256 length);
    /// @notice The ERC-1271 wallet at `signer` did not accept the signature.
    error InvalidContractSignature(address signer);
    /// @notice `balanceOf` of the ERC-20 `token` of leg `legIndex` reverted or returned no value.
    error BalanceUnreadable(uint256 legIndex, address token);
    /// @notice The receiver of ERC-20 leg `legIndex` got `received` instead of `expected` (a fee on transfer or a short
    /// delivery).
    /// @param received What the receiver's balance grew by, in the token's units
    /// @param expected The leg's amount, in the token's units
    error LegDeliveredShort(uint256 legIndex, uint256 received, uint256 expected);

    /// @notice Executes `settlement`: every leg moves, or the call reverts and nothing moves.
    /// @param settlement The legs, deadline and nonce.
    /// @param signatures One signature per signing sender; senders equal to `msg.sender` need none.
    /// @return settlementId The EIP-712 digest of `settlement`.
    function settle(
        Settlement calldata settlement,
        SenderSignature[] calldata signatures
    ) external returns (bytes32 settlementId);

    /// @notice Marks `nonce` of `msg.sender` used, so no settlement signed with it can execute.
    function cancelNonce(uint256 nonce) external;

    /// @notice Marks used every nonce of `msg.sender` whose bit is set in `mask`, in bitmap word `wordPos`.
    function invalidateNonces(uint256 wordPos, uint256 mask) external;

    /// @notice Whether `nonce` of `owner` is used (settled or cancelled).
    function isNonceUsed(address owner, uint256 nonce) external view returns (bool);

    /// @notice The raw bitmap word `wordPos` of `owner`'s nonces (bit `n & 0xff` of word `n >> 8` is nonce `n`).
    function nonceBitmap(address owner, uint256 wordPos) external view returns (uint256);

    /// @notice The EIP-712 struct hash of `settlement`.
    function hashSettlement(Settlement calldata settlement) external pure returns (bytes32);

    /// @notice The EIP-712 digest of `settlement` on this chain and contract: what signers sign, and the settlement id.
    function settlementDigest(Settlement calldata settlement) external view returns (bytes32);

    /// @notice The EIP-712 domain separator of this deployment.
    // solhint-disable-next-line func-name-mixedcase
    function DOMAIN_SEPARATOR() external view returns (bytes32);
}
