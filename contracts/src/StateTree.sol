// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {PoseidonT5} from "./PoseidonT5.sol";

/// @dev Heights of the 4-ary Poseidon trees (ARCHITECTURE.md, "The state").
uint256 constant ACCOUNT_TREE_HEIGHT = 12;
uint256 constant BALANCE_TREE_HEIGHT = 5;

/// @notice What an exodus withdrawal proves: account `accountId`, whose leaf is
///         `Poseidon(owner * 2^32 + nonce, pubkeyX, pubkeyY, balancesRoot)`, holds `balance`
///         of `tokenId`. Paths are bottom-up; each level lists the three siblings in index
///         order, leaving out the node on the path (as `causeway_tree::MerkleProof` does).
struct ExitProof {
    uint32 accountId;
    uint16 tokenId;
    uint128 balance;
    address owner;
    uint32 nonce;
    uint256 pubkeyX;
    uint256 pubkeyY;
    uint256[3][BALANCE_TREE_HEIGHT] balancePath;
    uint256[3][ACCOUNT_TREE_HEIGHT] accountPath;
}

/// @title The state tree, recomputed in Solidity for exodus withdrawals.
/// @notice Two levels of 4-ary Poseidon trees: the account tree (height 12) whose leaves hash
///         an account's address, nonce, L2 key and balance-tree root, and each account's
///         balance tree (height 5) whose leaves are the balances. A separate contract so the
///         Poseidon code (about 9 KB) does not count against the rollup's code size.
contract StateTree {
    /// @notice The account-tree root that `p` proves its balance under. Reverts with
    ///         `PoseidonT5.NotAFieldElement` for a non-canonical sibling or key.
    function accountRoot(ExitProof calldata p) external pure returns (uint256) {
        uint256 balancesRoot = pathRoot(p.balance, p.tokenId, p.balancePath);
        uint256 leaf =
            PoseidonT5.hash([(uint256(uint160(p.owner)) << 32) | p.nonce, p.pubkeyX, p.pubkeyY, balancesRoot]);
        return pathRoot(leaf, p.accountId, p.accountPath);
    }

    function pathRoot(uint256 node, uint256 index, uint256[3][BALANCE_TREE_HEIGHT] calldata path)
        private
        pure
        returns (uint256)
    {
        for (uint256 level = 0; level < BALANCE_TREE_HEIGHT; ++level) {
            node = parent(node, index & 3, path[level]);
            index >>= 2;
        }
        return node;
    }

    function pathRoot(uint256 node, uint256 index, uint256[3][ACCOUNT_TREE_HEIGHT] calldata path)
        private
        pure
        returns (uint256)
    {
        for (uint256 level = 0; level < ACCOUNT_TREE_HEIGHT; ++level) {
            node = parent(node, index & 3, path[level]);
            index >>= 2;
        }
        return node;
    }

    /// @dev The parent of `node` at child `position` with `siblings` around it.
    function parent(uint256 node, uint256 position, uint256[3] calldata siblings) private pure returns (uint256) {
        uint256[4] memory children;
        uint256 s = 0;
        for (uint256 i = 0; i < 4; ++i) {
            children[i] = i == position ? node : siblings[s++];
        }
        return PoseidonT5.hash(children);
    }
}
