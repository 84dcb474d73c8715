// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {AccessManaged} from "@openzeppelin/contracts/access/manager/AccessManaged.sol";
import {Clones} from "@openzeppelin/contracts/proxy/Clones.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

import {IAgreementFactory} from "./interfaces/IAgreementFactory.sol";
import {AgreementTerms, EligibilityInput, ICollateralVault} from "./interfaces/ICollateralVault.sol";
import {SequencerCheck} from "./libraries/PriceOracle.sol";

/// @title AgreementFactory
/// @notice Opens agreements: each gets its own vault, an ERC-1167 clone of one immutable implementation whose
/// immutable arguments are the parties, at a deterministic address. Roles come from an OpenZeppelin
/// AccessManager: the guardian's `pause` and `unpause` are `restricted`.
contract AgreementFactory is IAgreementFactory, AccessManaged, Pausable {
    /// @inheritdoc IAgreementFactory
    address public immutable vaultImplementation;
    /// @inheritdoc IAgreementFactory
    address public immutable settlement;

    SequencerCheck private _sequencer;
    address[] private _agreements;
    mapping(address vault => bool) private _isVault;

    /// @param authority The AccessManager that grants the guardian role.
    /// @param implementation The CollateralVault implementation.
    /// @param dvp The DvP settlement contract used for liquidation sales.
    /// @param sequencer The L2 sequencer uptime check (zero feed on L1).
    constructor(
        address authority,
        address implementation,
        address dvp,
        SequencerCheck memory sequencer
    ) AccessManaged(authority) {
        vaultImplementation = implementation;
        settlement = dvp;
        _sequencer = sequencer;
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

        vault = Clones.cloneDeterministicWithImmutableArgs(
            vaultImplementation,
            _args(pledgor, securedParty, controlAgent),
            _salt(msg.sender, salt)
        );
        _isVault[vault] = true;
        _agreements.push(vault);
        emit AgreementOpened(vault, pledgor, securedParty, controlAgent, msg.sender, salt, terms);
        ICollateralVault(vault).initialize(terms, schedule, _sequencer);
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
            try ICollateralVault(vaults[i]).issueMarginCall() returns (bool met) {
                outcomes[i] = met ? MarginCallOutcome.CallIssuedAndMet : MarginCallOutcome.CallIssued;
            } catch {
                // Not due, already called, or unpriceable: the keeper's batch goes on with the others.
            }
        }
    }

    /// @notice The guardian stops new risk: new agreements and pledges.
    function pause() external restricted {
        _pause();
    }

    /// @notice The guardian lets new risk in again.
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
        return _sequencer;
    }

    function _args(address pledgor, address securedParty, address controlAgent) private view returns (bytes memory) {
        return abi.encode(pledgor, securedParty, controlAgent, address(this));
    }

    /// @dev Binding the creator into the salt stops anyone from squatting an address a party has announced.
    function _salt(address creator, bytes32 salt) private pure returns (bytes32) {
        return keccak256(abi.encode(creator, salt));
    }
}
