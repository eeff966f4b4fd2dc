// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

import {Bridge} from "./Bridge.sol";
import {StateTree} from "./StateTree.sol";
import {BatchChain} from "./BatchChain.sol";

/// @notice The Groth16 verifier generated from the batch circuit's verifying key
///         (`BatchVerifier.sol`, written by causeway-l1-gen).
interface IBatchVerifier {
    function verifyProof(uint256[8] calldata proof, uint256[] calldata input) external view returns (bool);
    function verifyProofs(uint256[8][] calldata proofs, uint256[] calldata input) external view returns (bool);
}

/// @title Causeway in ZK-rollup mode: a batch is final once its validity proof is verified.
/// @notice The settlement half of the contract: `proveBatches` checks one Groth16 proof per
///         batch against the batch's commitment (the single public input), in order. Several
///         batches' proofs are checked together in one randomized pairing check
///         (`verifyProofs`: k + 3 pairings instead of 4k), which is what makes proving
///         several batches per call cheaper per batch.
///         Proven batches cannot be reverted; committed, unproven ones can.
///
///         Invariant: `batchesExecuted <= batchesProven <= batchesCommitted`.
contract ZkRollup is BatchChain {
    IBatchVerifier public immutable verifier;
    uint64 public batchesProven;

    event BatchesProven(uint64 fromNumber, uint64 toNumber);

    error InvalidProof(uint64 number);
    /// @notice At least one of the proofs of batches `fromNumber..=toNumber`, sent together,
    ///         does not verify.
    error InvalidProofs(uint64 fromNumber, uint64 toNumber);
    error ProofCount(uint256 batches, uint256 proofs);

    /// @param stateTree_ the exit-proof checker used in exodus.
    /// @param verifier_ the Groth16 verifier of the circuit with `batchChunks_` chunks.
    /// @param priorityDeadline_ seconds a priority op may wait before exodus can be triggered.
    /// @param genesisRoot the root of the empty state.
    constructor(
        IBatchVerifier verifier_,
        StateTree stateTree_,
        uint256 batchChunks_,
        address governance_,
        address operator,
        uint64 priorityDeadline_,
        bytes32 genesisRoot
    ) Bridge(stateTree_, governance_, operator, priorityDeadline_, genesisRoot) BatchChain(batchChunks_, genesisRoot) {
        verifier = verifier_;
    }

    /// @notice Verifies `proofs[i]` for `batches[i]`, which must be the next unproven batches,
    ///         in order. Reverts with WrongBatch for a batch out of order or not as committed,
    ///         with InvalidProof for the proof of a single batch and with InvalidProofs for
    ///         several proofs that do not all verify.
    function proveBatches(StoredBatch[] calldata batches, uint256[8][] calldata proofs)
        external
        onlyOperator
        notExodus
    {
        uint256 n = batches.length;
        if (n != proofs.length) revert ProofCount(n, proofs.length);
        if (n == 0) return;
        uint64 proven = batchesProven;
        uint256[] memory input = new uint256[](n);
        for (uint256 i = 0; i < n; ++i) {
            StoredBatch calldata batch = batches[i];
            if (
                batch.number != proven + 1 || batch.number > batchesCommitted
                    || hashBatch(batch) != batchHashes[batch.number]
            ) {
                revert WrongBatch(batch.number);
            }
            input[i] = batch.commitment;
            proven = batch.number;
        }
        if (n == 1) {
            if (!verifier.verifyProof(proofs[0], input)) revert InvalidProof(proven);
        } else if (!verifier.verifyProofs(proofs, input)) {
            // The joint check cannot say which proof failed; the operator checks its proofs
            // before sending them, and can send them one by one to find out.
            revert InvalidProofs(batches[0].number, proven);
        }
        batchesProven = proven;
        emit BatchesProven(batches[0].number, proven);
    }

    function _isFinal(StoredBatch calldata batch) internal view override returns (bool) {
        return batch.number <= batchesProven;
    }

    function _revertable(uint64 number) internal view override returns (bool) {
        return number > batchesProven;
    }

    function _afterRevert(uint64) internal override {}
}
