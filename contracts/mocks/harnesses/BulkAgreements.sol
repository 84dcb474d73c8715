// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

import {IAgreementFactory} from "../../interfaces/IAgreementFactory.sol";
import {ICollateralVault} from "../../interfaces/ICollateralVault.sol";
import {AgreementTerms, EligibilityInput} from "../../types/AgreementTypes.sol";

/// @title BulkAgreements
/// @notice Test and benchmark helper: a pledgor contract that opens, funds and pledges many agreements in few
/// transactions, so monitors can be tested against thousands of agreements. The secured party's pledge
/// consents are EIP-712 signatures made off-chain.
contract BulkAgreements {
    IAgreementFactory public immutable factory;

    constructor(IAgreementFactory factory_) {
        factory = factory_;
    }

    /// @notice Opens `count` agreements with this contract as pledgor and posts `amount` of `asset` to each.
    /// @param securedParty The secured party of every agreement.
    /// @param terms The terms of every agreement.
    /// @param schedule The schedule of every agreement.
    /// @param asset The asset posted (this contract must hold `count * amount`).
    /// @param amount Raw units posted per agreement.
    /// @param count How many agreements to open.
    /// @param saltBase Distinguishes batches: salts are `saltBase + i`.
    function openMany(
        address securedParty,
        AgreementTerms calldata terms,
        EligibilityInput[] calldata schedule,
        address asset,
        uint256 amount,
        uint256 count,
        uint256 saltBase
    ) external returns (address[] memory vaults) {
        vaults = new address[](count);
        for (uint256 i; i < count; ++i) {
            address vault = factory.openAgreement(
                address(this),
                securedParty,
                address(0),
                terms,
                schedule,
                bytes32(saltBase + i)
            );
            IERC20(asset).approve(vault, amount);
            ICollateralVault(vault).deposit(asset, amount);
            vaults[i] = vault;
        }
    }

    /// @notice Pledges each vault with the secured party's signed consent.
    /// @param vaults The vaults.
    /// @param deadline The consents' deadline.
    /// @param signatures The secured party's consent signature per vault.
    function pledgeMany(address[] calldata vaults, uint256 deadline, bytes[] calldata signatures) external {
        for (uint256 i; i < vaults.length; ++i)
            ICollateralVault(vaults[i]).pledgeWithSignature(deadline, signatures[i]);
    }
}
