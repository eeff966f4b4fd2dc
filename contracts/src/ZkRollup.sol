// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

import {Bridge} from "./Bridge.sol";
import {StateTree} from "./StateTree.sol";
import {BatchChain} from "./BatchChain.sol";

/// @notice The Groth16 verifier generated from the batch circuit's verifying key
///         (`BatchVerifier.sol`, written by causeway-l1-gen).
interface IBatchVerifier {
    function verifyProof(uint256[8] calldata proof, uint256[] calldata input) external view returns (bool);
}

/// @title Causeway in ZK-rollup mode: a batch is final once its validity proof is verified.
/// @notice The settlement half of the contract: `proveBatches` checks one Groth16 proof per
///         batch against the batch's commitment (the single public input), in order.
///         Proven batches cannot be reverted; committed, unproven ones can.
///
///         Invariant: `batchesExecuted <= batchesProven <= batchesCommitted`.
contract ZkRollup is BatchChain {
    IBatchVerifier public immutable verifier;
    uint64 public batchesProven;

    event BatchesProven(uint64 fromNumber, uint64 toNumber);

    error InvalidProof(uint64 number);
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

    /// @notice Verifies `proofs[i]` for `batches[i]`, which must be the next unproven batches.
    function proveBatches(StoredBatch[] calldata batches, uint256[8][] calldata proofs)
        external
        onlyOperator
        notExodus
    {
        if (batches.length != proofs.length) revert ProofCount(batches.length, proofs.length);
        uint64 proven = batchesProven;
        uint256[] memory input = new uint256[](1);
        for (uint256 i = 0; i < batches.length; ++i) {
            StoredBatch calldata batch = batches[i];
            if (
                batch.number != proven + 1 || batch.number > batchesCommitted
                    || hashBatch(batch) != batchHashes[batch.number]
            ) {
                revert WrongBatch(batch.number);
            }
            input[0] = batch.commitment;
            if (!verifier.verifyProof(proofs[i], input)) revert InvalidProof(batch.number);
            proven = batch.number;
        }
        if (batches.length != 0) {
            batchesProven = proven;
            emit BatchesProven(batches[0].number, proven);
        }
    }

    function _isFinal(StoredBatch calldata batch) internal view override returns (bool) {
        return batch.number <= batchesProven;
    }

    function _revertable(uint64 number) internal view override returns (bool) {
        return number > batchesProven;
    }

    function _afterRevert(uint64) internal override {}
}
