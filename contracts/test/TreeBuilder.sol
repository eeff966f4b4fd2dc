// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {PoseidonT5} from "../src/PoseidonT5.sol";
import {ExitProof} from "../src/StateTree.sol";

/// @notice Builds small sparse 4-ary Poseidon trees in Solidity, the way causeway_tree does
///         (ARCHITECTURE.md, "The state"): an empty leaf is 0, an empty subtree of height
///         h + 1 hashes four empty subtrees of height h; an account leaf is
///         `Poseidon(address * 2^32 + nonce, pk_x, pk_y, balances_root)`. Nodes are computed
///         top-down from the few non-empty leaves, independently of StateTree's bottom-up
///         path walk.
library TreeBuilder {
    uint256 internal constant ACCOUNT_HEIGHT = 12;
    uint256 internal constant BALANCE_HEIGHT = 5;

    struct Leaf {
        uint256 index;
        uint256 value;
    }

    struct Account {
        uint32 id;
        address owner;
        uint32 nonce;
        uint256 pubkeyX;
        uint256 pubkeyY;
        Leaf[] balances;
    }

    /// @dev E[0..12]: E[0] = 0, E[h + 1] = Poseidon(E[h] x 4).
    function emptyHashes() internal pure returns (uint256[13] memory e) {
        for (uint256 h = 0; h < 12; ++h) {
            e[h + 1] = PoseidonT5.hash([e[h], e[h], e[h], e[h]]);
        }
    }

    /// @dev The node at `level` (0: leaves) and `index` of a tree whose only non-zero leaves
    ///      are `leaves`.
    function node(Leaf[] memory leaves, uint256[13] memory e, uint256 level, uint256 index)
        internal
        pure
        returns (uint256)
    {
        bool any = false;
        uint256 value = 0;
        for (uint256 k = 0; k < leaves.length; ++k) {
            if (leaves[k].index >> (2 * level) == index) {
                any = true;
                value = leaves[k].value;
            }
        }
        if (!any) return e[level];
        if (level == 0) return value;
        uint256[4] memory children;
        for (uint256 k = 0; k < 4; ++k) {
            children[k] = node(leaves, e, level - 1, index * 4 + k);
        }
        return PoseidonT5.hash(children);
    }

    function root(Leaf[] memory leaves, uint256[13] memory e, uint256 height) internal pure returns (uint256) {
        return node(leaves, e, height, 0);
    }

    /// @dev The three siblings at each level of the path to leaf `index`, in index order.
    function path(Leaf[] memory leaves, uint256[13] memory e, uint256 height, uint256 index)
        internal
        pure
        returns (uint256[3][] memory p)
    {
        p = new uint256[3][](height);
        for (uint256 level = 0; level < height; ++level) {
            uint256 position = index & 3;
            uint256 s = 0;
            for (uint256 k = 0; k < 4; ++k) {
                if (k != position) p[level][s++] = node(leaves, e, level, index - position + k);
            }
            index >>= 2;
        }
    }

    function balancesRoot(Account memory a, uint256[13] memory e) internal pure returns (uint256) {
        return root(a.balances, e, BALANCE_HEIGHT);
    }

    function accountLeaf(Account memory a, uint256[13] memory e) internal pure returns (uint256) {
        return PoseidonT5.hash([(uint256(uint160(a.owner)) << 32) | a.nonce, a.pubkeyX, a.pubkeyY, balancesRoot(a, e)]);
    }

    function accountLeaves(Account[] memory accounts, uint256[13] memory e) internal pure returns (Leaf[] memory l) {
        l = new Leaf[](accounts.length);
        for (uint256 k = 0; k < accounts.length; ++k) {
            l[k] = Leaf(accounts[k].id, accountLeaf(accounts[k], e));
        }
    }

    function stateRoot(Account[] memory accounts, uint256[13] memory e) internal pure returns (uint256) {
        return root(accountLeaves(accounts, e), e, ACCOUNT_HEIGHT);
    }

    /// @dev The exit proof of `accounts[which]`'s balance in `token` (0 if it holds none).
    function exitProof(Account[] memory accounts, uint256 which, uint16 token, uint256[13] memory e)
        internal
        pure
        returns (ExitProof memory p)
    {
        Account memory a = accounts[which];
        p.accountId = a.id;
        p.tokenId = token;
        for (uint256 k = 0; k < a.balances.length; ++k) {
            // forge-lint: disable-next-line(unsafe-typecast)
            if (a.balances[k].index == token) p.balance = uint128(a.balances[k].value);
        }
        p.owner = a.owner;
        p.nonce = a.nonce;
        p.pubkeyX = a.pubkeyX;
        p.pubkeyY = a.pubkeyY;
        uint256[3][] memory bp = path(a.balances, e, BALANCE_HEIGHT, token);
        for (uint256 level = 0; level < BALANCE_HEIGHT; ++level) {
            p.balancePath[level] = bp[level];
        }
        uint256[3][] memory ap = path(accountLeaves(accounts, e), e, ACCOUNT_HEIGHT, a.id);
        for (uint256 level = 0; level < ACCOUNT_HEIGHT; ++level) {
            p.accountPath[level] = ap[level];
        }
    }
}
