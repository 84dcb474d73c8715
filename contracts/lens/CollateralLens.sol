// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

import {ICollateralVault} from "../interfaces/ICollateralVault.sol";
import {AgreementStatus, AssetPosition, BPS, EligibleAsset, VaultState} from "../types/AgreementTypes.sol";
import {Valuation} from "../libraries/Valuation.sol";

/// @title CollateralLens
/// @notice Read-only views over agreements for parties, keepers, monitors and auditors: one call returns an
/// agreement's full status, another the status of many. Kept out of the vault so the vault stays small.
contract CollateralLens {
    /// @notice The agreement's status: state, exposure, requirement, values per asset, coverage and open call.
    /// @dev Never reverts on a bad price: the asset then counts as zero and `pricesValid` is false.
    /// @param vault The agreement's vault.
    function status(ICollateralVault vault) public view returns (AgreementStatus memory s) {
        address[] memory assets = vault.listedAssets();
        s.vault = address(vault);
        s.state = vault.state();
        (s.exposure, s.undisputedExposure, s.disputed, s.callAmount, s.callDeadline) = vault.marginState();
        s.requirement = vault.requirement();
        s.callableRequirement = vault.callableRequirement();
        s.minimumTransferAmount = vault.terms().minimumTransferAmount;
        s.pricesValid = true;
        s.positions = new AssetPosition[](assets.length);
        uint256 uncapped;
        for (uint256 i; i < assets.length; ++i) {
            AssetPosition memory p = s.positions[i];
            EligibleAsset memory entry = vault.eligibility(assets[i]);
            p.asset = assets[i];
            p.balance = vault.balanceOf(assets[i]);
            p.haircutBps = entry.haircutBps;
            p.concentrationCapBps = entry.concentrationCapBps;
            p.eligible = address(entry.feed) != address(0);
            p.priceValid = p.eligible;
            if (!p.eligible || p.balance == 0) continue;
            try vault.valueOfHolding(assets[i], p.balance) returns (uint256 marketValue) {
                p.marketValue = marketValue;
                p.collateralValue = Valuation.afterHaircut(marketValue, entry.haircutBps);
                uncapped += p.collateralValue;
                s.marketValue += marketValue;
            } catch {
                p.priceValid = false;
                s.pricesValid = false;
            }
        }
        for (uint256 i; i < assets.length; ++i) {
            AssetPosition memory p = s.positions[i];
            p.collateralValue = Valuation.capped(p.collateralValue, uncapped, p.concentrationCapBps);
            s.collateralValue += p.collateralValue;
        }
        s.coverageBps = s.requirement == 0 ? type(uint256).max : (s.collateralValue * BPS) / s.requirement;
        s.marginCallDue =
            s.state == VaultState.Pledged &&
            s.pricesValid &&
            s.callableRequirement > s.collateralValue &&
            s.callableRequirement - s.collateralValue >= s.minimumTransferAmount;
        s.enforceableExposure = vault.enforceableExposure();
        (, , s.callRequirement, s.callDelivered) = vault.marginCall();
        // As the vault's `_isCured`: the called amount delivered, or value at the lower of the call's own and today's
        // callable requirement.
        bool cured =
            s.callDelivered >= s.callAmount ||
                (s.pricesValid && s.collateralValue >= Math.min(s.callRequirement, s.callableRequirement));
        s.cureDeadlinePassed = s.state == VaultState.MarginCall && block.timestamp > s.callDeadline && !cured;
    }

    /// @notice The status of many agreements in one call, for monitors and dashboards.
    /// @param vaults The agreements' vaults.
    function statusOf(ICollateralVault[] calldata vaults) external view returns (AgreementStatus[] memory statuses) {
        statuses = new AgreementStatus[](vaults.length);
        for (uint256 i; i < vaults.length; ++i) statuses[i] = status(vaults[i]);
    }
}
