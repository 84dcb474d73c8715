// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {ERC1155} from "@openzeppelin/contracts/token/ERC1155/ERC1155.sol";

/// @title MockERC721
/// @notice Open-mint ERC-721 for tests.
contract MockERC721 is ERC721 {
    constructor() ERC721("Mock NFT", "MNFT") {}

    /// @notice Mints token `id` to `to`; open to anyone, for tests.
    function mint(address to, uint256 id) external {
        _mint(to, id);
    }
}

/// @title MockERC1155
/// @notice Open-mint ERC-1155 for tests.
contract MockERC1155 is ERC1155 {
    constructor() ERC1155("") {}

    /// @notice Mints `amount` of token `id` to `to`; open to anyone, for tests.
    function mint(address to, uint256 id, uint256 amount) external {
        _mint(to, id, amount, "");
    }
}
