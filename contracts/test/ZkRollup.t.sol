// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {RollupFixture} from "./RollupFixture.sol";
import {OneProofVerifier} from "./Mocks.sol";
import {TreeBuilder} from "./TreeBuilder.sol";
import {BatchChain} from "../src/BatchChain.sol";
import {ZkRollup, IBatchVerifier} from "../src/ZkRollup.sol";
import {BatchVerifier} from "../src/BatchVerifier.sol";
import {StateTree} from "../src/StateTree.sol";
import {PubdataEncoder as Enc} from "./PubdataEncoder.sol";

/// @notice The devnet's real Groth16 proof of the empty batch (copied from the generated
///         test/BatchVerifier.t.sol): chain 31337, contract 0xcc..cc, 6 chunks, the empty
///         state, fee account 0, no accounts.
abstract contract RealProof {
    address internal constant PROOF_CONTRACT = 0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC;
    uint256 internal constant PROOF_CHUNKS = 6;
    uint256 internal constant COMMITMENT = 0x0aa4f921d601ea6a7a2e51c58df5343244303973f64eb548765ec3c35e7d3bf2;
    uint256 internal constant Q = 0x30644e72e131a029b85045b68181585d97816a916871ca8d3c208c16d87cfd47;

    function realProof() internal pure returns (uint256[8] memory) {
        return [
            uint256(0x1f1e73c97c9f9691d510e9d81ddc5dcff3281c3f54d8889c345d37bd54f813cf),
            0x1b642ac17f51b8cf908d23024010242c1cacda1ab33946ee66110b32e16eacb1,
            0x16e51b44741c3ca68d7d0acf1b35a8441bdce598ce91df9ae1ce0f6f30407246,
            0x06383105678c000156b85f8ea9718ac7b8db733bf4e60f92ec39378c1e6602e6,
            0x236fca3be0e5141df4b076ec4b75acdc5de14c6c3acba551c9a249f044c43f98,
            0x15664088dc96859a907f23cff42781c68a9fc8d2c9b6861dde886291ce23bc73,
            0x1e28d6113c798dc6823fd055438cf2a7241ddc329f897a8554af8fa8a4e40a30,
            0x051b4ca5307db8080e98ec843ce86473721de3b80f123418c19917defd7e6dc7
        ];
    }
}

/// @notice proveBatches, with the unit-test verifier double (OneProofVerifier).
contract ZkRollupProveTest is RollupFixture {
    function proveReverts(BatchChain.StoredBatch[] memory bs, uint256[8][] memory ps, bytes memory err) internal {
        vm.prank(OP);
        vm.expectRevert(err);
        rollup.proveBatches(bs, ps);
    }

    function testProveAdvancesAndEmits() public {
        BatchChain.StoredBatch memory b = commitEmpty();
        verifier.accept(proof(), b.commitment);
        BatchChain.StoredBatch[] memory bs = batches1(b);
        uint256[8][] memory ps = proofs1(proof());
        vm.expectEmit(address(rollup));
        emit ZkRollup.BatchesProven(1, 1);
        vm.prank(OP);
        rollup.proveBatches(bs, ps);
        assertEq(rollup.batchesProven(), 1, "proven");
        assertEq(rollup.batchesExecuted(), 0, "not executed");
    }

    function testProveProofCount() public {
        BatchChain.StoredBatch memory b = commitEmpty();
        verifier.accept(proof(), b.commitment);
        proveReverts(batches1(b), new uint256[8][](0), abi.encodeWithSelector(ZkRollup.ProofCount.selector, 1, 0));
        proveReverts(batches1(b), new uint256[8][](2), abi.encodeWithSelector(ZkRollup.ProofCount.selector, 1, 2));
    }

    function testProveWrongOrder() public {
        commitEmpty();
        BatchChain.StoredBatch memory b2 = commit(info(bytes32(uint256(2)), 0, 0, ""), 0, noWithdrawals());
        verifier.accept(proof(), b2.commitment);
        proveReverts(batches1(b2), proofs1(proof()), abi.encodeWithSelector(BatchChain.WrongBatch.selector, 2));
        prove(1);
        prove(2);
        // Twice.
        verifier.accept(proof(), batch(1).commitment);
        proveReverts(batches1(batch(1)), proofs1(proof()), abi.encodeWithSelector(BatchChain.WrongBatch.selector, 1));
    }

    function testProveRefusesUncommittedBatch() public {
        BatchChain.StoredBatch memory fake = batch(0);
        fake.number = 1;
        verifier.accept(proof(), fake.commitment);
        proveReverts(batches1(fake), proofs1(proof()), abi.encodeWithSelector(BatchChain.WrongBatch.selector, 1));
        commitEmpty();
        prove(1);
        fake = batch(1);
        fake.number = 2;
        proveReverts(batches1(fake), proofs1(proof()), abi.encodeWithSelector(BatchChain.WrongBatch.selector, 2));
    }

    function testProveRefusesAlteredBatch() public {
        commitEmpty();
        for (uint256 field = 0; field < 6; ++field) {
            BatchChain.StoredBatch memory b = batch(1);
            if (field == 0) b.priorityOps = 1;
            if (field == 1) b.accountCount = 1;
            if (field == 2) b.timestamp += 1;
            if (field == 3) b.root = bytes32(uint256(1));
            if (field == 4) b.withdrawalsHash = bytes32(uint256(1));
            if (field == 5) b.commitment = 12345;
            // The double would accept the altered commitment: only the hash check stops it.
            verifier.accept(proof(), b.commitment);
            proveReverts(batches1(b), proofs1(proof()), abi.encodeWithSelector(BatchChain.WrongBatch.selector, 1));
        }
    }

    function testProveRefusesInvalidProof() public {
        BatchChain.StoredBatch memory b = commitEmpty();
        bytes memory err = abi.encodeWithSelector(ZkRollup.InvalidProof.selector, uint64(1));
        // A proof of another commitment.
        verifier.accept(proof(), b.commitment + 1);
        proveReverts(batches1(b), proofs1(proof()), err);
        // Another proof of this commitment.
        verifier.accept(proof(), b.commitment);
        uint256[8] memory other = proof();
        other[7] += 1;
        proveReverts(batches1(b), proofs1(other), err);
        assertEq(rollup.batchesProven(), 0, "nothing proven");
    }

    /// Two empty batches over the same root have the same commitment, so the double's one
    /// pair proves both in one call.
    function testProveSeveralBatchesInOneCall() public {
        BatchChain.StoredBatch memory b1 = commitEmpty();
        BatchChain.StoredBatch memory b2 = commitEmpty();
        assertEq(b1.commitment, b2.commitment, "same statement");
        verifier.accept(proof(), b1.commitment);
        uint256[8][] memory ps = new uint256[8][](2);
        ps[0] = proof();
        ps[1] = proof();
        BatchChain.StoredBatch[] memory bs = batches2(b1, b2);
        vm.expectEmit(address(rollup));
        emit ZkRollup.BatchesProven(1, 2);
        vm.prank(OP);
        rollup.proveBatches(bs, ps);
        assertEq(rollup.batchesProven(), 2, "both");
    }

    function testProveRefusesSecondInvalidProof() public {
        BatchChain.StoredBatch memory b1 = commitEmpty();
        BatchChain.StoredBatch memory b2 = commitEmpty();
        verifier.accept(proof(), b1.commitment);
        uint256[8][] memory ps = new uint256[8][](2);
        ps[0] = proof();
        ps[1] = proof();
        ps[1][0] = 0;
        proveReverts(batches2(b1, b2), ps, abi.encodeWithSelector(ZkRollup.InvalidProofs.selector, uint64(1), uint64(2)));
        assertEq(rollup.batchesProven(), 0, "all or nothing");
    }

    function testProveEmptyCallIsNoop() public {
        commitEmpty();
        vm.recordLogs();
        vm.prank(OP);
        rollup.proveBatches(new BatchChain.StoredBatch[](0), new uint256[8][](0));
        assertEq(vm.getRecordedLogs().length, 0, "no event");
        assertEq(rollup.batchesProven(), 0, "nothing");
    }

    /// The double itself: one pair, nothing else.
    function testVerifierDoubleAcceptsOnlyItsPair() public {
        OneProofVerifier v = new OneProofVerifier();
        uint256[] memory input = new uint256[](1);
        input[0] = 77;
        assertTrue(!v.verifyProof(proof(), input), "unconfigured");
        v.accept(proof(), 77);
        assertTrue(v.verifyProof(proof(), input), "its pair");
        uint256[8] memory p = proof();
        for (uint256 k = 0; k < 8; ++k) {
            p = proof();
            p[k] ^= 1;
            assertTrue(!v.verifyProof(p, input), "another proof");
        }
        input[0] = 78;
        assertTrue(!v.verifyProof(proof(), input), "another input");
        uint256[] memory two = new uint256[](2);
        two[0] = 77;
        assertTrue(!v.verifyProof(proof(), two), "two inputs");
        assertTrue(!v.verifyProof(proof(), new uint256[](0)), "no input");
    }
}

/// @notice proveBatches against the real generated BatchVerifier.
contract ZkRollupRealVerifierTest is RollupFixture, RealProof {
    BatchVerifier internal real;

    function setUp() public override {
        stateTree = new StateTree();
        real = new BatchVerifier();
        deploy(IBatchVerifier(address(real)), PROOF_CHUNKS, GENESIS_ROOT);
    }

    function proveReverts(BatchChain.StoredBatch memory b, uint256[8] memory p) internal {
        BatchChain.StoredBatch[] memory bs = batches1(b);
        uint256[8][] memory ps = proofs1(p);
        vm.prank(OP);
        vm.expectRevert(abi.encodeWithSelector(ZkRollup.InvalidProof.selector, b.number));
        rollup.proveBatches(bs, ps);
    }

    function testUsesTheGeneratedVerifier() public view {
        assertEq(address(rollup.verifier()), address(real), "verifier");
        assertEq(real.VK_HASH(), 0x6896c217e7b4ad8e71d07cafcfaa64e6e3b34af65ba29761b61869f5783caa98, "dev key");
    }

    /// A valid proof, of another batch (another contract address, another root): refused.
    function testRefusesAValidProofOfAnotherBatch() public {
        BatchChain.StoredBatch memory b = commitEmpty();
        assertTrue(b.commitment != COMMITMENT, "another statement");
        proveReverts(b, realProof());
        assertEq(rollup.batchesProven(), 0, "nothing proven");
    }

    function testRefusesGarbageProofs() public {
        BatchChain.StoredBatch memory b = commitEmpty();
        uint256[8] memory p;
        proveReverts(b, p); // all zero
        for (uint256 k = 0; k < 8; ++k) {
            p[k] = k + 1;
        }
        proveReverts(b, p); // small words, off the curves
        p = realProof();
        p[0] = Q; // not canonical
        proveReverts(b, p);
        p = realProof();
        p[3] = type(uint256).max;
        proveReverts(b, p);
        for (uint256 k = 0; k < 8; ++k) {
            p[k] = uint256(keccak256(abi.encode("garbage", k))) % Q;
        }
        proveReverts(b, p);
        // G1 generator for A and C, the real B: on the curves, still wrong.
        p = realProof();
        (p[0], p[1], p[6], p[7]) = (1, 2, 1, 2);
        proveReverts(b, p);
    }
}

/// @notice The real proof end to end: a rollup deployed at the proof's contract address
///         (0xcc..cc) with the empty state as genesis commits the empty batch, whose
///         commitment must equal the one the Rust circuit code computed, and the real proof
///         finalizes it. This cross-checks the header layout with the circuit.
contract ZkRollupRealProofTest is RollupFixture, RealProof {
    BatchVerifier internal real;
    bytes32 internal emptyRoot;

    function setUp() public override {
        stateTree = new StateTree();
        real = new BatchVerifier();
        emptyRoot = bytes32(TreeBuilder.emptyHashes()[12]);
        // Run the constructor at PROOF_CONTRACT: its init code is etched there and called,
        // and the runtime code it returns replaces it (forge-std's deployCodeTo).
        bytes memory init = bytes.concat(
            type(ZkRollup).creationCode, abi.encode(real, stateTree, PROOF_CHUNKS, GOV, OP, PD, emptyRoot)
        );
        vm.etch(PROOF_CONTRACT, init);
        (bool ok, bytes memory runtime) = PROOF_CONTRACT.call("");
        require(ok, "constructor at 0xcc..cc failed");
        vm.etch(PROOF_CONTRACT, runtime);
        rollup = ZkRollup(PROOF_CONTRACT);
        chunks = PROOF_CHUNKS;
        delete chain;
        chain.push(
            BatchChain.StoredBatch({
                number: 0,
                priorityOps: 0,
                accountCount: 0,
                timestamp: uint64(block.timestamp),
                root: emptyRoot,
                withdrawalsHash: bytes32(0),
                commitment: 0
            })
        );
        require(block.chainid == 31337, "the proof is for chain 31337");
    }

    function testDeployedAtTheProofsAddress() public view {
        assertEq(rollup.governance(), GOV, "storage written by the constructor");
        assertEq(rollup.batchHashes(0), keccak256(abi.encode(batch(0))), "genesis");
        assertEq(address(rollup.verifier()), address(real), "immutable");
        assertEq(rollup.batchChunks(), PROOF_CHUNKS, "chunks");
    }

    function testCommitmentOfTheEmptyBatchMatchesTheCircuit() public {
        BatchChain.StoredBatch memory b = commit(info(emptyRoot, 0, 0, ""), 0, noWithdrawals());
        assertEq(b.commitment, COMMITMENT, "commitment as causeway_circuit computes it");
    }

    function testRealProofFinalizesTwoBatches() public {
        // Two empty batches over the empty state: the same statement, the same proof.
        BatchChain.CommitInfo[] memory l = new BatchChain.CommitInfo[](2);
        l[0] = info(emptyRoot, 0, 0, "");
        l[1] = info(emptyRoot, 0, 0, new bytes(PROOF_CHUNKS * 14));
        BatchChain.StoredBatch memory g = batch(0);
        vm.prank(OP);
        rollup.commitBatches(g, l);
        BatchChain.StoredBatch memory b1 = expectedBatch(g, l[0], 0, noWithdrawals());
        BatchChain.StoredBatch memory b2 = expectedBatch(b1, l[1], 0, noWithdrawals());
        assertEq(rollup.batchHashes(2), keccak256(abi.encode(b2)), "stored");
        assertEq(b2.commitment, COMMITMENT, "explicit Noop padding is the same statement");

        uint256[8][] memory ps = new uint256[8][](2);
        ps[0] = realProof();
        ps[1] = realProof();
        BatchChain.StoredBatch[] memory bs = batches2(b1, b2);
        vm.prank(OP);
        rollup.proveBatches(bs, ps);
        assertEq(rollup.batchesProven(), 2, "proven by the real verifier");

        BatchChain.Withdrawal[][] memory lists = new BatchChain.Withdrawal[][](2);
        vm.prank(OP);
        rollup.executeBatches(bs, lists);
        assertEq(rollup.batchesExecuted(), 2, "executed");
        assertEq(rollup.executedRoot(), emptyRoot, "root");
    }

    function proveReverts(BatchChain.StoredBatch memory b, uint256[8] memory p) internal {
        BatchChain.StoredBatch[] memory bs = batches1(b);
        uint256[8][] memory ps = proofs1(p);
        vm.prank(OP);
        vm.expectRevert(abi.encodeWithSelector(ZkRollup.InvalidProof.selector, b.number));
        rollup.proveBatches(bs, ps);
    }

    function testGasProveWithTheRealVerifier() public {
        BatchChain.StoredBatch memory b = commit(info(emptyRoot, 0, 0, ""), 0, noWithdrawals());
        BatchChain.StoredBatch[] memory bs = batches1(b);
        uint256[8][] memory ps = proofs1(realProof());
        vm.prank(OP);
        uint256 before = gasleft();
        rollup.proveBatches(bs, ps);
        emit log_named_uint("proveBatches, 1 batch, real Groth16 verifier", before - gasleft());
        assertEq(rollup.batchesProven(), 1, "proven");
    }

    /// The proof covers exactly its header: another fee account or account count is another
    /// statement.
    function testRealProofRefusedForAnotherHeader() public {
        BatchChain.StoredBatch memory b = commit(info(emptyRoot, 0, 1, ""), 0, noWithdrawals());
        proveReverts(b, realProof());
        BatchChain.StoredBatch[] memory bs = batches1(b);
        vm.prank(OP);
        rollup.revertBatches(bs);
        chain.pop();
        b = commit(info(emptyRoot, 1, 0, ""), 0, noWithdrawals());
        proveReverts(b, realProof());
        vm.prank(OP);
        rollup.revertBatches(batches1(b));
        chain.pop();
        // And a transfer in the pubdata.
        b = commit(info(emptyRoot, 0, 0, Enc.transfer(0, 0, 0, 0, 0)), 0, noWithdrawals());
        proveReverts(b, realProof());
    }

    function testTamperedRealProofRefused() public {
        BatchChain.StoredBatch memory b = commit(info(emptyRoot, 0, 0, ""), 0, noWithdrawals());
        uint256[8] memory p = realProof();
        // -A: a valid point, the wrong one (as in BatchVerifier.t.sol).
        p[1] = 0x150023b161dfe75a27c322b4417134317ad49076b538839ed60f80e3f70e5096;
        proveReverts(b, p);
        p = realProof();
        (p[2], p[3]) = (p[3], p[2]); // B's coordinates swapped
        proveReverts(b, p);
        p = realProof();
        p[0] = p[0] + Q; // A.x + q: the same point mod q, refused as non-canonical
        proveReverts(b, p);
    }
}
