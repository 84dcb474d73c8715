// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {AggregatorV3Interface} from "@chainlink/contracts/src/v0.8/shared/interfaces/AggregatorV3Interface.sol";
import {AccessManaged} from "@openzeppelin/contracts/access/manager/AccessManaged.sol";
import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";
import {IERC4626} from "@openzeppelin/contracts/interfaces/IERC4626.sol";
import {Clones} from "@openzeppelin/contracts/proxy/Clones.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

import {IAgreementFactory, ListingRules, Term} from "../interfaces/IAgreementFactory.sol";
import {IAgreementState} from "../interfaces/IAgreementState.sol";
import {ICollateralLedger} from "../interfaces/ICollateralLedger.sol";
import {ICollateralVault} from "../interfaces/ICollateralVault.sol";
import {IDvPSettlement} from "../interfaces/IDvPSettlement.sol";
import {IEligibilitySchedule} from "../interfaces/IEligibilitySchedule.sol";
import {AgreementTerms, BPS, EligibilityInput, EligibleAsset} from "../types/AgreementTypes.sol";
import {AssetKind, PriceOracle, PriceSource, SequencerCheck} from "../libraries/PriceOracle.sol";

/// @title AgreementFactory
/// @notice Opens agreements: each gets its own vault, an ERC-1167 clone of one immutable implementation whose
/// immutable arguments are the parties, at a deterministic address. Roles come from an OpenZeppelin
/// AccessManager: the guardian's `pause` and `unpause` and the risk manager's `setListingRules` are `restricted`.
/// It also serves its vaults two pieces of
/// shared logic that keep them under the code-size limit: the listing rules (`eligibilityEntry`) and the EIP-712
/// domain in which the parties sign their pledge consents (`isValidPledgeConsent`).
contract AgreementFactory is IAgreementFactory, AccessManaged, Pausable, EIP712 {
    /// @notice EIP-712 type hash of a party's consent to pledge under an agreement's terms.
    bytes32 public constant PLEDGE_CONSENT_TYPEHASH = keccak256("PledgeConsent(bytes32 termsHash,uint256 deadline)");

    /// @dev Bounds no deployment's listing rules may pass.
    uint256 private constant RULE_MAX_BPS = 5_000;
    uint256 private constant RULE_MAX_APPROPRIATION_PERIOD = 365 days;

    /// @inheritdoc IAgreementFactory
    address public immutable vaultImplementation;
    /// @inheritdoc IAgreementFactory
    address public immutable settlement;

    ListingRules private _rules;
    address[] private _agreements;
    mapping(address vault => bool) private _isVault;

    /// @param authority The AccessManager that grants the guardian role.
    /// @param implementation The CollateralVault implementation (which carries the deployment's sequencer check).
    /// @param dvp The DvP settlement contract used for liquidation sales.
    constructor(
        address authority,
        address implementation,
        address dvp
    ) AccessManaged(authority) EIP712("AgreementFactory", "1") {
        vaultImplementation = implementation;
        settlement = dvp;
        // Until the risk manager says otherwise: penalties and sale discounts of at most 20%, at least an hour to
        // cure, dispute or see a schedule change coming, and between one and ninety days to appropriate.
        _setListingRules(ListingRules(2_000, 2_000, 1 hours, 1 hours, 1 hours, 1 days, 90 days));
    }

    /// @inheritdoc IAgreementFactory
    function openAgreement(
        address pledgor,
        address securedParty,
        address controlAgent,
        AgreementTerms calldata terms,
        EligibilityInput[] calldata schedule,
        bytes32 salt
    ) external returns (address vault) {
        if (paused()) revert FactoryPaused();
        if (pledgor == address(0) || securedParty == address(0) || pledgor == securedParty) {
            revert InvalidParties(pledgor, securedParty);
        }
        if (msg.sender != pledgor && msg.sender != securedParty) revert CreatorNotAParty(msg.sender);
        checkTerms(terms);

        vault = Clones.cloneDeterministicWithImmutableArgs(
            vaultImplementation,
            _args(pledgor, securedParty, controlAgent),
            _salt(msg.sender, salt)
        );
        _isVault[vault] = true;
        _agreements.push(vault);
        emit AgreementOpened(vault, pledgor, securedParty, controlAgent, msg.sender, salt, terms);
        ICollateralVault(vault).initialize(terms, schedule);
    }

    /// @inheritdoc IAgreementFactory
    function checkTerms(AgreementTerms calldata terms) public view {
        ListingRules memory rules = _rules;
        _requireInRange(Term.LiquidationPenaltyBps, terms.liquidationPenaltyBps, 0, rules.maxLiquidationPenaltyBps);
        _requireInRange(
            Term.MaxLiquidationDiscountBps,
            terms.maxLiquidationDiscountBps,
            0,
            rules.maxLiquidationDiscountBps
        );
        _requireInRange(Term.CurePeriod, terms.curePeriod, rules.minCurePeriod, type(uint32).max);
        _requireInRange(Term.DisputeWindow, terms.disputeWindow, rules.minDisputeWindow, terms.curePeriod);
        _requireInRange(
            Term.ScheduleNoticePeriod,
            terms.scheduleNoticePeriod,
            rules.minScheduleNoticePeriod,
            type(uint32).max
        );
        _requireInRange(
            Term.AppropriationPeriod,
            terms.appropriationPeriod,
            rules.minAppropriationPeriod,
            rules.maxAppropriationPeriod
        );
    }

    /// @inheritdoc IAgreementFactory
    function saleSettlement(
        address asset,
        uint256 amount,
        address cashToken,
        uint256 cashAmount,
        address buyer,
        address payee,
        uint256 deadline,
        uint256 nonce,
        bytes calldata buyerSignature
    ) external view returns (address dvp, bytes memory settleCall) {
        IDvPSettlement.Leg[] memory legs = new IDvPSettlement.Leg[](2);
        legs[0] = IDvPSettlement.Leg(IDvPSettlement.TokenKind.ERC20, asset, 0, amount, msg.sender, buyer);
        legs[1] = IDvPSettlement.Leg(IDvPSettlement.TokenKind.ERC20, cashToken, 0, cashAmount, buyer, payee);
        IDvPSettlement.SenderSignature[] memory signatures = new IDvPSettlement.SenderSignature[](1);
        signatures[0] = IDvPSettlement.SenderSignature(buyer, buyerSignature);
        settleCall = abi.encodeCall(
            IDvPSettlement.settle,
            (IDvPSettlement.Settlement(legs, deadline, nonce), signatures)
        );
        return (settlement, settleCall);
    }

    /// @inheritdoc IAgreementFactory
    function listingRules() external view returns (ListingRules memory) {
        return _rules;
    }

    /// @inheritdoc IAgreementFactory
    function setListingRules(ListingRules calldata rules) external restricted {
        _setListingRules(rules);
    }

    /// @inheritdoc IAgreementFactory
    function predictVault(
        address creator,
        address pledgor,
        address securedParty,
        address controlAgent,
        bytes32 salt
    ) external view returns (address) {
        return
            Clones.predictDeterministicAddressWithImmutableArgs(
                vaultImplementation,
                _args(pledgor, securedParty, controlAgent),
                _salt(creator, salt)
            );
    }

    /// @inheritdoc IAgreementFactory
    function issueMarginCalls(address[] calldata vaults) external returns (MarginCallOutcome[] memory outcomes) {
        outcomes = new MarginCallOutcome[](vaults.length);
        for (uint256 i; i < vaults.length; ++i) {
            if (!_isVault[vaults[i]]) continue;
            uint256 gasBefore = gasleft();
            try ICollateralVault(vaults[i]).issueMarginCall() returns (bool met) {
                outcomes[i] = met ? MarginCallOutcome.CallIssuedAndMet : MarginCallOutcome.CallIssued;
            } catch (bytes memory reason) {
                // Not due, already called, or unpriceable: the keeper's batch goes on with the others. But a call
                // that failed for want of gas is the keeper's limit, not the agreement's state: the whole batch
                // reverts, so that gas estimation finds a limit that serves every agreement in it.
                if (bytes4(reason) == ICollateralLedger.InsufficientGas.selector) _bubble(reason);
                // Out of gas inside the implementation leaves 1/64 there and 1/64 in the clone's frame: under 2/64.
                if (reason.length == 0 && gasleft() <= gasBefore / 32) {
                    revert ICollateralLedger.InsufficientGas(gasleft(), gasBefore);
                }
            }
        }
    }

    /// @inheritdoc IAgreementFactory
    function isValidPledgeConsent(
        address signer,
        bytes32 termsHash,
        uint256 deadline,
        bytes calldata signature
    ) external view returns (bool) {
        bytes32 digest = _hashTypedDataV4(keccak256(abi.encode(PLEDGE_CONSENT_TYPEHASH, termsHash, deadline)));
        return SignatureChecker.isValidSignatureNow(signer, digest, signature);
    }

    /// @inheritdoc IAgreementFactory
    function eligibilityEntry(EligibilityInput calldata input) external view returns (EligibleAsset memory entry) {
        if (input.asset == address(0)) revert IAgreementState.ZeroAddress();
        if (address(input.feed) == address(0)) return entry; // a delisting
        if (input.haircutBps > BPS || input.concentrationCapBps > BPS || input.concentrationCapBps == 0) {
            revert IEligibilitySchedule.InvalidBps(input.haircutBps, input.concentrationCapBps);
        }
        // The feed must answer as a price feed: a token given as its own feed would fail every valuation later.
        (bool answered, bytes memory roundData) = address(input.feed).staticcall(
            abi.encodeCall(AggregatorV3Interface.latestRoundData, ())
        );
        if (address(input.feed) == input.asset || !answered || roundData.length < 160) {
            revert IEligibilitySchedule.FeedUnreadable(input.asset, address(input.feed));
        }
        address priced =
            input.kind == AssetKind.ERC4626
                ? address(uint160(_readWord(input.asset, IERC4626.asset.selector, type(uint160).max)))
                : input.asset;
        PriceSource memory source = PriceSource({
            feed: input.feed,
            maxPriceAge: input.maxPriceAge,
            kind: input.kind,
            pricedDecimals: _decimals(priced),
            feedDecimals: _decimals(address(input.feed)),
            minAnswer: input.minAnswer,
            maxAnswer: input.maxAnswer
        });
        PriceOracle.checkSource(source);
        return
            EligibleAsset({
                feed: source.feed,
                maxPriceAge: source.maxPriceAge,
                kind: source.kind,
                pricedDecimals: source.pricedDecimals,
                feedDecimals: source.feedDecimals,
                haircutBps: input.haircutBps,
                concentrationCapBps: input.concentrationCapBps,
                minAnswer: source.minAnswer,
                maxAnswer: source.maxAnswer
            });
    }

    /// @inheritdoc IAgreementFactory
    function pause() external restricted {
        _pause();
    }

    /// @inheritdoc IAgreementFactory
    function unpause() external restricted {
        _unpause();
    }

    /// @inheritdoc IAgreementFactory
    function paused() public view override(IAgreementFactory, Pausable) returns (bool) {
        return super.paused();
    }

    /// @inheritdoc IAgreementFactory
    function isVault(address vault) external view returns (bool) {
        return _isVault[vault];
    }

    /// @inheritdoc IAgreementFactory
    function agreementCount() external view returns (uint256) {
        return _agreements.length;
    }

    /// @inheritdoc IAgreementFactory
    function agreementAt(uint256 index) external view returns (address) {
        return _agreements[index];
    }

    /// @inheritdoc IAgreementFactory
    function agreementsFrom(uint256 start, uint256 count) external view returns (address[] memory vaults) {
        uint256 total = _agreements.length;
        uint256 end = start >= total ? start : Math.min(total, start + count);
        vaults = new address[](end - start);
        for (uint256 i = start; i < end; ++i) vaults[i - start] = _agreements[i];
    }

    /// @inheritdoc IAgreementFactory
    function sequencerCheck() external view returns (SequencerCheck memory) {
        return IAgreementState(vaultImplementation).sequencerCheck();
    }

    /// @dev `decimals()` of a token or feed, at most the oracle's 36.
    function _decimals(address target) private view returns (uint8) {
        uint256 decimals = _readWord(target, IERC20Metadata.decimals.selector, type(uint256).max);
        if (decimals > PriceOracle.MAX_DECIMALS) revert IEligibilitySchedule.DecimalsUnsupported(target, decimals);
        return uint8(decimals);
    }

    /// @dev One word returned by a parameterless view, at most `max`: a target without the function, or one
    /// answering something else, gets a named error instead of an empty revert from the ABI decoder.
    function _readWord(address target, bytes4 selector, uint256 max) private view returns (uint256 word) {
        (bool ok, bytes memory data) = target.staticcall(abi.encodeWithSelector(selector));
        if (!ok || data.length < 32) revert IEligibilitySchedule.MetadataUnreadable(target, selector);
        word = abi.decode(data, (uint256));
        if (word > max) revert IEligibilitySchedule.MetadataUnreadable(target, selector);
    }

    function _setListingRules(ListingRules memory rules) private {
        _requireInRange(Term.LiquidationPenaltyBps, rules.maxLiquidationPenaltyBps, 0, RULE_MAX_BPS);
        _requireInRange(Term.MaxLiquidationDiscountBps, rules.maxLiquidationDiscountBps, 0, RULE_MAX_BPS);
        _requireInRange(Term.CurePeriod, rules.minCurePeriod, 1, type(uint32).max);
        _requireInRange(Term.DisputeWindow, rules.minDisputeWindow, 1, type(uint32).max);
        _requireInRange(Term.ScheduleNoticePeriod, rules.minScheduleNoticePeriod, 1, type(uint32).max);
        _requireInRange(Term.AppropriationPeriod, rules.minAppropriationPeriod, 1, rules.maxAppropriationPeriod);
        _requireInRange(
            Term.AppropriationPeriod,
            rules.maxAppropriationPeriod,
            rules.minAppropriationPeriod,
            RULE_MAX_APPROPRIATION_PERIOD
        );
        _rules = rules;
        emit ListingRulesSet(rules);
    }

    function _requireInRange(Term term, uint256 value, uint256 min, uint256 max) private pure {
        if (value < min || value > max) revert TermOutOfRange(term, value, min, max);
    }

    /// @dev Reverts with `reason`, the revert data of a vault call.
    function _bubble(bytes memory reason) private pure {
        assembly ("memory-safe") {
            revert(add(reason, 0x20), mload(reason))
        }
    }

    function _args(address pledgor, address securedParty, address controlAgent) private view returns (bytes memory) {
        return abi.encode(pledgor, securedParty, controlAgent, address(this));
    }

    /// @dev Binding the creator into the salt stops anyone from squatting an address a party has announced.
    function _salt(address creator, bytes32 salt) private pure returns (bytes32) {
        return keccak256(abi.encode(creator, salt));
    }
}
