// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {TestBase} from "./Vm.sol";
import {MockToken, OneProofVerifier} from "./Mocks.sol";
import {ZkRollup, IBatchVerifier} from "../src/ZkRollup.sol";
import {BatchChain} from "../src/BatchChain.sol";
import {StateTree} from "../src/StateTree.sol";

/// @notice A deployed ZkRollup with the unit-test verifier double, and helpers that commit,
///         prove and execute batches while computing every expected `StoredBatch`
///         independently (commitment, withdrawals chain, hash) and checking it against
///         `batchHashes`.
abstract contract RollupFixture is TestBase {
    address internal constant GOV = address(0x6000);
    address internal constant OP = address(0x0E00);
    address internal constant ALICE = address(0xA11CE);
    address internal constant BOB = address(0xB0B);
    address internal constant CAROL = address(0xCA201);
    address internal constant STRANGER = address(0x5742);

    uint64 internal constant PD = 3 days;
    uint256 internal constant CHUNKS = 30;
    /// @dev An arbitrary genesis root: unit tests never check state roots (exit proofs do,
    ///      with a Poseidon tree built in the test).
    bytes32 internal constant GENESIS_ROOT = keccak256("causeway test genesis");
    uint256 internal constant MAX_BALANCE = (1 << 112) - 1;
    uint256 internal constant MASK_253 = (1 << 253) - 1;

    ZkRollup internal rollup;
    StateTree internal stateTree;
    OneProofVerifier internal verifier;
    uint256 internal chunks;

    /// @dev chain[n]: batch n as the test expects the contract to store it.
    BatchChain.StoredBatch[] internal chain;

    function setUp() public virtual {
        stateTree = new StateTree();
        verifier = new OneProofVerifier();
        deploy(verifier, CHUNKS, GENESIS_ROOT);
    }

    function deploy(IBatchVerifier verifier_, uint256 chunks_, bytes32 genesisRoot) internal {
        rollup = new ZkRollup(verifier_, stateTree, chunks_, GOV, OP, PD, genesisRoot);
        chunks = chunks_;
        delete chain;
        chain.push(
            BatchChain.StoredBatch({
                number: 0,
                priorityOps: 0,
                accountCount: 0,
                timestamp: uint64(block.timestamp),
                root: genesisRoot,
                withdrawalsHash: bytes32(0),
                commitment: 0
            })
        );
    }

    // ---------------------------------------------------------------- values

    /// @dev The dummy proof the verifier double is configured with.
    function proof() internal pure returns (uint256[8] memory) {
        return [uint256(1), 2, 3, 4, 5, 6, 7, 8];
    }

    function tip() internal view returns (BatchChain.StoredBatch memory) {
        return chain[chain.length - 1];
    }

    function batch(uint256 number) internal view returns (BatchChain.StoredBatch memory) {
        return chain[number];
    }

    /// @dev The queue hash of a deposit, from the bytes docs/pubdata.md and Bridge describe:
    ///      tag 4 ‖ to ‖ token u16 ‖ amount u128, keccak, first 20 bytes.
    function depositHashOf(address to, uint16 token, uint128 amount) internal pure returns (bytes20) {
        bytes memory b = bytes.concat(bytes1(0x04), bytes20(to), bytes2(token), bytes16(amount));
        assertEq(b.length, 39, "deposit preimage length");
        return bytes20(keccak256(b));
    }

    function fullExitHashOf(uint32 account, uint16 token, address owner) internal pure returns (bytes20) {
        bytes memory b = bytes.concat(bytes1(0x05), bytes4(account), bytes2(token), bytes20(owner));
        assertEq(b.length, 27, "full exit preimage length");
        return bytes20(keccak256(b));
    }

    function withdrawal(address owner, uint16 token, uint128 amount)
        internal
        pure
        returns (BatchChain.Withdrawal memory)
    {
        return BatchChain.Withdrawal({owner: owner, tokenId: token, amount: amount});
    }

    function noWithdrawals() internal pure returns (BatchChain.Withdrawal[] memory) {
        return new BatchChain.Withdrawal[](0);
    }

    function withdrawals1(address owner, uint16 token, uint128 amount)
        internal
        pure
        returns (BatchChain.Withdrawal[] memory ws)
    {
        ws = new BatchChain.Withdrawal[](1);
        ws[0] = withdrawal(owner, token, amount);
    }

    /// @dev keccak(previous ‖ owner ‖ token ‖ amount), each ABI-encoded as a word, from zero.
    function withdrawalsChain(BatchChain.Withdrawal[] memory ws) internal pure returns (bytes32 h) {
        for (uint256 i = 0; i < ws.length; ++i) {
            h = keccak256(
                bytes.concat(
                    h,
                    bytes32(uint256(uint160(ws[i].owner))),
                    bytes32(uint256(ws[i].tokenId)),
                    bytes32(uint256(ws[i].amount))
                )
            );
        }
    }

    function info(bytes32 newRoot, uint32 newCount, uint32 feeAccount, bytes memory pubdata)
        internal
        pure
        returns (BatchChain.CommitInfo memory i)
    {
        i.newRoot = newRoot;
        i.newAccountCount = newCount;
        i.feeAccount = feeAccount;
        i.pubdata = pubdata;
        i.changePubkeySignatures = new bytes[](0);
    }

    function infos1(BatchChain.CommitInfo memory i) internal pure returns (BatchChain.CommitInfo[] memory a) {
        a = new BatchChain.CommitInfo[](1);
        a[0] = i;
    }

    function batches1(BatchChain.StoredBatch memory b) internal pure returns (BatchChain.StoredBatch[] memory a) {
        a = new BatchChain.StoredBatch[](1);
        a[0] = b;
    }

    function batches2(BatchChain.StoredBatch memory b0, BatchChain.StoredBatch memory b1)
        internal
        pure
        returns (BatchChain.StoredBatch[] memory a)
    {
        a = new BatchChain.StoredBatch[](2);
        a[0] = b0;
        a[1] = b1;
    }

    function proofs1(uint256[8] memory p) internal pure returns (uint256[8][] memory a) {
        a = new uint256[8][](1);
        a[0] = p;
    }

    function lists1(BatchChain.Withdrawal[] memory ws) internal pure returns (BatchChain.Withdrawal[][] memory a) {
        a = new BatchChain.Withdrawal[][](1);
        a[0] = ws;
    }

    /// @dev The proof's public input, built byte by byte from docs/circuit.md: sha256 of the
    ///      104-byte header, the pubdata and Noop padding to `chunks` chunks, low 253 bits.
    function commitmentOf(
        address rollupAddress,
        uint256 chunks_,
        bytes32 oldRoot,
        uint32 oldCount,
        BatchChain.CommitInfo memory i
    ) internal view returns (uint256) {
        bytes memory header = bytes.concat(oldRoot, i.newRoot, bytes8(uint64(block.chainid)), bytes20(rollupAddress));
        header = bytes.concat(header, bytes4(i.feeAccount), bytes4(oldCount), bytes4(i.newAccountCount));
        assertEq(header.length, 104, "header length");
        bytes memory padded = bytes.concat(header, i.pubdata, new bytes(chunks_ * 14 - i.pubdata.length));
        return uint256(sha256(padded)) % (1 << 253);
    }

    /// @dev What the contract must store for `i` committed on top of `previous` now.
    function expectedBatch(
        BatchChain.StoredBatch memory previous,
        BatchChain.CommitInfo memory i,
        uint64 priorityOps,
        BatchChain.Withdrawal[] memory ws
    ) internal view returns (BatchChain.StoredBatch memory) {
        return BatchChain.StoredBatch({
            number: previous.number + 1,
            priorityOps: priorityOps,
            accountCount: i.newAccountCount,
            timestamp: uint64(block.timestamp),
            root: i.newRoot,
            withdrawalsHash: withdrawalsChain(ws),
            commitment: commitmentOf(address(rollup), chunks, previous.root, previous.accountCount, i)
        });
    }

    // ---------------------------------------------------------------- actions

    /// @dev Commits `i` as the next batch, checks the stored hash against the independently
    ///      expected batch and returns it.
    function commit(BatchChain.CommitInfo memory i, uint64 priorityOps, BatchChain.Withdrawal[] memory ws)
        internal
        returns (BatchChain.StoredBatch memory b)
    {
        BatchChain.StoredBatch memory last = tip();
        b = expectedBatch(last, i, priorityOps, ws);
        BatchChain.CommitInfo[] memory list = infos1(i);
        vm.prank(OP);
        rollup.commitBatches(last, list);
        assertEq(rollup.batchHashes(b.number), keccak256(abi.encode(b)), "stored batch hash");
        assertEq(rollup.batchesCommitted(), b.number, "batchesCommitted");
        chain.push(b);
    }

    /// @dev Expects committing `i` on top of the tip to revert with `err`.
    function commitReverts(BatchChain.CommitInfo memory i, bytes memory err) internal {
        BatchChain.StoredBatch memory last = tip();
        BatchChain.CommitInfo[] memory l = infos1(i);
        vm.prank(OP);
        vm.expectRevert(err);
        rollup.commitBatches(last, l);
    }

    function commitEmpty() internal returns (BatchChain.StoredBatch memory) {
        BatchChain.StoredBatch memory last = tip();
        return commit(info(last.root, last.accountCount, 0, ""), 0, noWithdrawals());
    }

    /// @dev Proves batch `number` with the double configured for exactly its commitment.
    function prove(uint256 number) internal {
        BatchChain.StoredBatch memory b = chain[number];
        verifier.accept(proof(), b.commitment);
        BatchChain.StoredBatch[] memory list = batches1(b);
        uint256[8][] memory proofs = proofs1(proof());
        vm.prank(OP);
        rollup.proveBatches(list, proofs);
        assertEq(rollup.batchesProven(), number, "batchesProven");
    }

    function execute(uint256 number, BatchChain.Withdrawal[] memory ws) internal {
        BatchChain.StoredBatch[] memory list = batches1(chain[number]);
        BatchChain.Withdrawal[][] memory lists = lists1(ws);
        vm.prank(OP);
        rollup.executeBatches(list, lists);
        assertEq(rollup.batchesExecuted(), number, "batchesExecuted");
        assertEq(rollup.executedRoot(), chain[number].root, "executedRoot");
    }

    /// @dev Commit, prove and execute one batch.
    function settle(BatchChain.CommitInfo memory i, uint64 priorityOps, BatchChain.Withdrawal[] memory ws)
        internal
        returns (BatchChain.StoredBatch memory b)
    {
        b = commit(i, priorityOps, ws);
        prove(b.number);
        execute(b.number, ws);
    }

    function depositEth(address from, address to, uint256 amount) internal {
        vm.deal(from, from.balance + amount);
        vm.prank(from);
        rollup.depositETH{value: amount}(to);
    }

    function addToken(address token) internal returns (uint16 id) {
        vm.prank(GOV);
        id = rollup.listToken(token);
    }

    /// @dev A new listed MockToken with `supply` minted to ALICE, who lets the rollup take all.
    function addTokenFundedForAlice(uint256 supply) internal returns (MockToken t, uint16 id) {
        t = new MockToken();
        id = addToken(address(t));
        t.mint(ALICE, supply);
        vm.prank(ALICE);
        t.approve(address(rollup), type(uint256).max);
    }
}
