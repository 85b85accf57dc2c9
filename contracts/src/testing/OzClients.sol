// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ERC20Crosschain} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Crosschain.sol";
import {CrosschainLinked} from "@openzeppelin/contracts/crosschain/CrosschainLinked.sol";
import {BridgeERC20} from "@openzeppelin/contracts/crosschain/bridges/BridgeERC20.sol";
import {CrosschainRemoteExecutor} from "@openzeppelin/contracts/crosschain/CrosschainRemoteExecutor.sol";

/// @notice Test helper: OpenZeppelin's ERC20Crosschain, unmodified (constructor only).
contract OzCrosschainToken is ERC20Crosschain {
    constructor(CrosschainLinked.Link[] memory links, address holder, uint256 supply)
        ERC20("Oz Crosschain", "OZX")
        CrosschainLinked(links)
    {
        if (supply != 0) _mint(holder, supply);
    }
}

/// @notice Test helper: a plain ERC20 to lock in BridgeERC20.
contract OzPlainToken is ERC20 {
    constructor(address holder, uint256 supply) ERC20("Plain", "PLN") {
        _mint(holder, supply);
    }
}

/// @notice Test helper: OpenZeppelin's BridgeERC20 (lock / release), unmodified (constructor only).
contract OzTokenBridge is BridgeERC20 {
    constructor(CrosschainLinked.Link[] memory links, IERC20 token_) BridgeERC20(token_) CrosschainLinked(links) {}
}

/// @notice Test helper: OpenZeppelin's CrosschainRemoteExecutor, unmodified (constructor only).
contract OzRemoteExecutor is CrosschainRemoteExecutor {
    constructor(address gateway_, bytes memory controller_) CrosschainRemoteExecutor(gateway_, controller_) {}
}
