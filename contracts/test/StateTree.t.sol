// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {TestBase} from "./Vm.sol";
import {TreeBuilder} from "./TreeBuilder.sol";
import {StateTree, ExitProof} from "../src/StateTree.sol";
import {PoseidonT5} from "../src/PoseidonT5.sol";

/// @notice StateTree.accountRoot against trees built top-down in the test.
contract StateTreeTest is TestBase {
    uint256 internal constant Q = 0x30644e72e131a029b85045b68181585d2833e84879b9709143e1f593f0000001;

    StateTree internal tree;
    uint256[13] internal e;

    function setUp() public {
        tree = new StateTree();
        uint256[13] memory empty = TreeBuilder.emptyHashes();
        e = empty;
    }

    function single(uint32 id, address owner, uint32 nonce, uint256 x, uint256 y, uint256 token, uint256 balance)
        internal
        pure
        returns (TreeBuilder.Account[] memory accounts)
    {
        accounts = new TreeBuilder.Account[](1);
        accounts[0].id = id;
        accounts[0].owner = owner;
        accounts[0].nonce = nonce;
        accounts[0].pubkeyX = x;
        accounts[0].pubkeyY = y;
        accounts[0].balances = new TreeBuilder.Leaf[](1);
        accounts[0].balances[0] = TreeBuilder.Leaf(token, balance);
    }

    function testEmptyHashes() public view {
        // circomlib's Poseidon(0, 0, 0, 0), as in PoseidonT5.t.sol.
        assertEq(e[1], 0x0532fd436e19c70e51209694d9c215250937921b8b79060488c1206db73e9946, "E[1]");
        for (uint256 k = 1; k < 12; ++k) {
            assertEq(e[k + 1], PoseidonT5.hash([e[k], e[k], e[k], e[k]]), "E[k+1]");
        }
    }

    function testSingleAccount() public view {
        TreeBuilder.Account[] memory accounts = single(0, address(0xA11CE), 0, 0, 0, 0, 1 ether);
        uint256 root = TreeBuilder.stateRoot(accounts, e);
        ExitProof memory p = TreeBuilder.exitProof(accounts, 0, 0, e);
        assertEq(tree.accountRoot(p), root, "root");
        // Hand-computed: the leaf, then one level per height with empty siblings.
        uint256 balances = 1 ether;
        for (uint256 level = 0; level < 5; ++level) {
            balances = PoseidonT5.hash([balances, e[level], e[level], e[level]]);
        }
        uint256 node = PoseidonT5.hash([uint256(uint160(address(0xA11CE))) << 32, 0, 0, balances]);
        for (uint256 level = 0; level < 12; ++level) {
            node = PoseidonT5.hash([node, e[level], e[level], e[level]]);
        }
        assertEq(node, root, "hand-computed root");
    }

    struct Case {
        uint32 id;
        uint16 token;
        uint128 balance;
        address owner;
        uint32 nonce;
        uint256 x;
        uint256 y;
    }

    /// forge-config: default.fuzz.runs = 48
    function testFuzzSingleAccount(Case memory c) public view {
        c.id = uint32(bound(c.id, 0, (1 << 24) - 1));
        c.token = uint16(bound(c.token, 0, 1023));
        c.x = bound(c.x, 0, Q - 1);
        c.y = bound(c.y, 0, Q - 1);
        TreeBuilder.Account[] memory accounts = single(c.id, c.owner, c.nonce, c.x, c.y, c.token, c.balance);
        ExitProof memory p = TreeBuilder.exitProof(accounts, 0, c.token, e);
        assertEq(p.balance, c.balance, "balance");
        assertEq(tree.accountRoot(p), TreeBuilder.stateRoot(accounts, e), "root");
        // Any other position gives another root.
        p.accountId = uint32((c.id + 1) % (1 << 24));
        assertTrue(tree.accountRoot(p) != TreeBuilder.stateRoot(accounts, e), "position bound");
    }

    /// Accounts at each of the four positions of one parent, and at the far end of the
    /// tree: each proves its balance against the same root, so sibling order is right.
    function testSiblingOrderAtEveryPosition() public view {
        uint32[6] memory ids = [uint32(0), 1, 2, 3, uint32(3 * 4 ** 11 + 2 * 4 ** 5), uint32((1 << 24) - 1)];
        TreeBuilder.Account[] memory accounts = new TreeBuilder.Account[](ids.length);
        for (uint256 k = 0; k < ids.length; ++k) {
            accounts[k].id = ids[k];
            // forge-lint: disable-next-line(unsafe-typecast)
            accounts[k].owner = address(uint160(0x1000 + k));
            // forge-lint: disable-next-line(unsafe-typecast)
            accounts[k].nonce = uint32(k);
            accounts[k].balances = new TreeBuilder.Leaf[](2);
            accounts[k].balances[0] = TreeBuilder.Leaf(k, 100 + k);
            accounts[k].balances[1] = TreeBuilder.Leaf(1023 - k, 200 + k);
        }
        uint256 root = TreeBuilder.stateRoot(accounts, e);
        for (uint256 k = 0; k < ids.length; ++k) {
            // forge-lint: disable-next-line(unsafe-typecast)
            ExitProof memory p = TreeBuilder.exitProof(accounts, k, uint16(k), e);
            assertEq(p.balance, 100 + k, "balance");
            assertEq(tree.accountRoot(p), root, "first token");
            // forge-lint: disable-next-line(unsafe-typecast)
            p = TreeBuilder.exitProof(accounts, k, uint16(1023 - k), e);
            assertEq(p.balance, 200 + k, "balance");
            assertEq(tree.accountRoot(p), root, "second token");
            // Swapping two distinct siblings at level 0 moves the neighbours: another root.
            (p.accountPath[0][0], p.accountPath[0][2]) = (p.accountPath[0][2], p.accountPath[0][0]);
            if (p.accountPath[0][0] != p.accountPath[0][2]) {
                assertTrue(tree.accountRoot(p) != root, "sibling order matters");
            }
        }
    }

    function testRefusesNonCanonicalValues() public {
        TreeBuilder.Account[] memory accounts = single(9, address(0xB0B), 1, 5, 6, 3, 77);
        ExitProof memory p = TreeBuilder.exitProof(accounts, 0, 3, e);
        p.pubkeyX = Q;
        vm.expectRevert(abi.encodeWithSelector(PoseidonT5.NotAFieldElement.selector, Q));
        tree.accountRoot(p);
        p = TreeBuilder.exitProof(accounts, 0, 3, e);
        p.pubkeyY = p.pubkeyY + Q;
        vm.expectRevert(abi.encodeWithSelector(PoseidonT5.NotAFieldElement.selector, p.pubkeyY));
        tree.accountRoot(p);
        p = TreeBuilder.exitProof(accounts, 0, 3, e);
        p.balancePath[4][2] = type(uint256).max;
        vm.expectRevert(abi.encodeWithSelector(PoseidonT5.NotAFieldElement.selector, type(uint256).max));
        tree.accountRoot(p);
        p = TreeBuilder.exitProof(accounts, 0, 3, e);
        p.accountPath[11][0] = Q + 1;
        vm.expectRevert(abi.encodeWithSelector(PoseidonT5.NotAFieldElement.selector, Q + 1));
        tree.accountRoot(p);
    }
}
