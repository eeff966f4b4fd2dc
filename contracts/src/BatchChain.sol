// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

import {Bridge} from "./Bridge.sol";
import {Pubdata} from "./Pubdata.sol";

/// @title The chain of batches: commit, execute, revert.
/// @notice A batch is committed with its pubdata (the contract walks it: priority ops are
///         checked against the queue in order, ChangePubKey authorizations are checked,
///         withdrawals are hashed for execution), becomes final in a way the settlement
///         decides (`_isFinal`: a validity proof, or later an unchallenged window), and is then
///         executed: its withdrawals become claimable and its root becomes `executedRoot`.
///
///         Invariants:
///         - `batchHashes[n]` is the keccak of batch n's `StoredBatch` for
///           `n <= batchesCommitted`; batch 0 is genesis. Later calls take the `StoredBatch` in
///           calldata and check it against the hash, so a batch costs one storage slot.
///         - Batch `n + 1` starts from batch `n`'s root and account count; the commitment
///           binds both, the chain id, this contract, the fee account and the pubdata, so a
///           proof only finalizes the data this contract saw.
///         - `batchesExecuted <= batchesCommitted`; batches execute in order, once.
abstract contract BatchChain is Bridge {
    /// @notice What the chain keeps of a committed batch (hashed into `batchHashes`).
    struct StoredBatch {
        uint64 number;
        /// @dev Priority ops the batch consumed, in queue order.
        uint64 priorityOps;
        /// @dev Accounts in the state after the batch.
        uint32 accountCount;
        /// @dev When it was committed (an optimistic window would start here).
        uint64 timestamp;
        /// @dev The state root after the batch.
        bytes32 root;
        /// @dev keccak chain over the batch's withdrawals (see `withdrawalsHash`).
        bytes32 withdrawalsHash;
        /// @dev `sha256(header ‖ pubdata) mod 2^253`: the validity proof's public input.
        uint256 commitment;
    }

    /// @notice A batch as the operator commits it.
    struct CommitInfo {
        bytes32 newRoot;
        uint32 newAccountCount;
        /// @dev The account the block's fees are credited to.
        uint32 feeAccount;
        /// @dev The executed ops, without padding (the contract pads with Noop chunks).
        bytes pubdata;
        /// @dev One 65-byte signature (r ‖ s ‖ v) per ChangePubKey with ECDSA authorization,
        ///      in pubdata order.
        bytes[] changePubkeySignatures;
    }

    /// @notice A withdrawal of an executed batch, as the operator passes it to `executeBatches`.
    struct Withdrawal {
        address owner;
        uint16 tokenId;
        uint128 amount;
    }

    bytes internal constant CHANGE_PUBKEY_TAG = "causeway:change-pubkey:v1";
    /// @dev 2^253 - 1: the commitment keeps the low 253 bits of the SHA-256 digest.
    uint256 internal constant COMMITMENT_MASK = (1 << 253) - 1;

    /// @notice Pubdata chunks per batch: what the proving circuit takes; shorter pubdata is
    ///         padded with Noop chunks.
    uint256 public immutable batchChunks;

    mapping(uint256 => bytes32) public batchHashes;
    uint64 public batchesCommitted;
    uint64 public batchesExecuted;

    event BatchCommitted(uint64 indexed number, StoredBatch batch, uint32 feeAccount);
    event BatchExecuted(uint64 indexed number, bytes32 root);
    event BatchesReverted(uint64 fromNumber, uint64 toNumber);

    error WrongBatch(uint64 number);
    error PubdataLength(uint256 length);
    error UnknownOp(uint256 offset, uint256 tag);
    error OpPastEnd(uint256 offset);
    error AccountCountDecreased(uint32 before, uint32 proposed);
    error AccountCountTooLarge(uint32 proposed);
    error WithdrawalListCount(uint256 batches, uint256 lists);
    error BadChangePubkeyAuth(uint256 offset);
    error ChangePubkeySignatureCount(uint256 used, uint256 given);
    error NotFinal(uint64 number);
    error WrongWithdrawals(uint64 number);
    error CannotRevert(uint64 number);

    constructor(uint256 batchChunks_, bytes32 genesisRoot) {
        batchChunks = batchChunks_;
        StoredBatch memory genesis = StoredBatch({
            number: 0,
            priorityOps: 0,
            accountCount: 0,
            timestamp: uint64(block.timestamp),
            root: genesisRoot,
            withdrawalsHash: bytes32(0),
            commitment: 0
        });
        batchHashes[0] = hashBatch(genesis);
        emit BatchCommitted(0, genesis, 0);
    }

    function hashBatch(StoredBatch memory batch) public pure returns (bytes32) {
        return keccak256(abi.encode(batch));
    }

    // ---------------------------------------------------------------- commit

    /// @notice Commits batches `last.number + 1, ...` on top of `last`, the last committed one.
    function commitBatches(StoredBatch calldata last, CommitInfo[] calldata batches) external onlyOperator notExodus {
        if (last.number != batchesCommitted || hashBatch(last) != batchHashes[last.number]) {
            revert WrongBatch(last.number);
        }
        StoredBatch memory previous = last;
        for (uint256 i = 0; i < batches.length; ++i) {
            previous = _commit(previous, batches[i]);
        }
        batchesCommitted = previous.number;
    }

    function _commit(StoredBatch memory previous, CommitInfo calldata info) private returns (StoredBatch memory batch) {
        bytes calldata pubdata = info.pubdata;
        uint256 length = pubdata.length;
        if (length % Pubdata.CHUNK_BYTES != 0 || length > batchChunks * Pubdata.CHUNK_BYTES) {
            revert PubdataLength(length);
        }
        if (info.newAccountCount < previous.accountCount) {
            revert AccountCountDecreased(previous.accountCount, info.newAccountCount);
        }
        if (info.newAccountCount > MAX_ACCOUNTS) revert AccountCountTooLarge(info.newAccountCount);
        (uint64 priorityOps, bytes32 withdrawals) = _walk(pubdata, info.changePubkeySignatures);
        batch = StoredBatch({
            number: previous.number + 1,
            priorityOps: priorityOps,
            accountCount: info.newAccountCount,
            timestamp: uint64(block.timestamp),
            root: info.newRoot,
            withdrawalsHash: withdrawals,
            commitment: commitment(previous.root, previous.accountCount, info)
        });
        batchHashes[batch.number] = hashBatch(batch);
        emit BatchCommitted(batch.number, batch, info.feeAccount);
    }

    /// @notice The proof's public input for `info` on top of a batch with `oldRoot` and
    ///         `oldAccountCount`: `sha256(header ‖ pubdata ‖ padding) mod 2^253` with
    ///         `header = old_root ‖ new_root ‖ chain_id u64 ‖ this ‖ fee_account u32 ‖
    ///         old_account_count u32 ‖ new_account_count u32` (docs/circuit.md).
    function commitment(bytes32 oldRoot, uint32 oldAccountCount, CommitInfo calldata info)
        public
        view
        returns (uint256)
    {
        bytes memory padding = new bytes(batchChunks * Pubdata.CHUNK_BYTES - info.pubdata.length);
        bytes32 digest = sha256(
            abi.encodePacked(
                oldRoot,
                info.newRoot,
                uint64(block.chainid),
                address(this),
                info.feeAccount,
                oldAccountCount,
                info.newAccountCount,
                info.pubdata,
                padding
            )
        );
        return uint256(digest) & COMMITMENT_MASK;
    }

    /// @dev Walks the ops: consumes priority ops, checks ChangePubKey authorizations, chains
    ///      withdrawals. Returns the number of priority ops and the withdrawals hash.
    function _walk(bytes calldata pubdata, bytes[] calldata signatures)
        private
        returns (uint64 priorityOps, bytes32 withdrawals)
    {
        uint256 signaturesUsed = 0;
        uint256 length = pubdata.length;
        uint256 offset = 0;
        while (offset < length) {
            // Noops and Transfers, the bulk of a batch, carry nothing L1 acts on: skip runs of
            // them a chunk at a time, without the dispatch below (about 30 gas a chunk instead
            // of about 290). Each is one chunk and `length` is a whole number of chunks, so
            // no op can run past the end here. (14 is Pubdata.CHUNK_BYTES and tags 0 and 1 are
            // NOOP and TRANSFER: inline assembly cannot read a library's constants.)
            assembly ("memory-safe") {
                let base := pubdata.offset
                for {} lt(offset, length) { offset := add(offset, 14) } {
                    if gt(shr(252, calldataload(add(base, offset))), 1) { break }
                }
            }
            if (offset == length) break;
            uint256 t = Pubdata.tag(pubdata, offset);
            uint256 size = Pubdata.size(t);
            if (size == 0) revert UnknownOp(offset, t);
            if (offset + size > length) revert OpPastEnd(offset);
            if (t == Pubdata.WITHDRAW) {
                (uint16 token, uint128 amount, address to) = Pubdata.withdraw(pubdata, offset);
                withdrawals = withdrawalsHash(withdrawals, to, token, amount);
            } else if (t == Pubdata.DEPOSIT) {
                (, uint16 token, uint128 amount, address to) = Pubdata.priorityOp(pubdata, offset);
                _consumePriorityOp(depositHash(to, token, amount));
                ++priorityOps;
            } else if (t == Pubdata.FULL_EXIT) {
                (uint32 account, uint16 token, uint128 amount, address owner) = Pubdata.priorityOp(pubdata, offset);
                _consumePriorityOp(fullExitHash(account, token, owner));
                ++priorityOps;
                if (amount != 0) withdrawals = withdrawalsHash(withdrawals, owner, token, amount);
            } else if (t == Pubdata.CHANGE_PUBKEY) {
                Pubdata.ChangePubKey memory c = Pubdata.changePubKey(pubdata, offset);
                if (c.auth == Pubdata.AUTH_ETH_SIGNATURE) {
                    if (signaturesUsed >= signatures.length) {
                        revert ChangePubkeySignatureCount(signaturesUsed + 1, signatures.length);
                    }
                    if (!_ethAuthorized(c, signatures[signaturesUsed++])) revert BadChangePubkeyAuth(offset);
                } else if (
                    c.auth != Pubdata.AUTH_ONCHAIN || c.pubkey == bytes32(0)
                        || authorizedPubkeys[c.owner][c.nonce] != c.pubkey
                ) {
                    revert BadChangePubkeyAuth(offset);
                }
            }
            offset += size;
        }
        if (signaturesUsed != signatures.length) revert ChangePubkeySignatureCount(signaturesUsed, signatures.length);
    }

    /// @notice One link of a batch's withdrawals chain.
    function withdrawalsHash(bytes32 previous, address owner, uint16 tokenId_, uint128 amount)
        public
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(previous, owner, tokenId_, amount));
    }

    /// @dev Whether `signature` is `c.owner`'s EIP-191 signature of the ChangePubKey message
    ///      `keccak256(tag ‖ chain_id u64 ‖ this ‖ account u32 ‖ pubkey ‖ nonce u32 ‖
    ///      fee_token u16 ‖ fee u128)`. `v` may be 27/28, 0/1 or EIP-155 style, and `s` is not
    ///      required to be low, as the stf's check (alloy's recovery) accepts; malleability
    ///      is harmless since the nonce, not the signature, stops replays.
    function _ethAuthorized(Pubdata.ChangePubKey memory c, bytes calldata signature) private view returns (bool) {
        if (signature.length != 65) return false;
        bytes32 message = keccak256(
            abi.encodePacked(
                CHANGE_PUBKEY_TAG, uint64(block.chainid), address(this), c.account, c.pubkey, c.nonce, c.feeToken, c.fee
            )
        );
        bytes32 digest = keccak256(abi.encodePacked("\x19Ethereum Signed Message:\n32", message));
        bytes32 r = bytes32(signature[0:32]);
        bytes32 s = bytes32(signature[32:64]);
        uint256 v = uint8(signature[64]);
        if (v < 27) v += 27;
        else if (v >= 35) v = 27 + ((v - 35) & 1);
        if (v != 27 && v != 28) return false;
        // v is 27 or 28 here.
        // forge-lint: disable-next-line(unsafe-typecast)
        address signer = ecrecover(digest, uint8(v), r, s);
        return signer != address(0) && signer == c.owner;
    }

    // ---------------------------------------------------------------- execute

    /// @notice Executes the next batches in order: each must be final; its withdrawals (as
    ///         committed) become claimable, its priority ops are retired, its root becomes
    ///         `executedRoot`.
    function executeBatches(StoredBatch[] calldata batches, Withdrawal[][] calldata withdrawals)
        external
        onlyOperator
        notExodus
    {
        if (withdrawals.length != batches.length) {
            revert WithdrawalListCount(batches.length, withdrawals.length);
        }
        uint64 executed = batchesExecuted;
        for (uint256 i = 0; i < batches.length; ++i) {
            StoredBatch calldata batch = batches[i];
            if (batch.number != executed + 1 || hashBatch(batch) != batchHashes[batch.number]) {
                revert WrongBatch(batch.number);
            }
            if (!_isFinal(batch)) revert NotFinal(batch.number);
            Withdrawal[] calldata list = withdrawals[i];
            bytes32 chain = bytes32(0);
            for (uint256 j = 0; j < list.length; ++j) {
                chain = withdrawalsHash(chain, list[j].owner, list[j].tokenId, list[j].amount);
            }
            if (chain != batch.withdrawalsHash) revert WrongWithdrawals(batch.number);
            for (uint256 j = 0; j < list.length; ++j) {
                _creditWithdrawal(list[j].owner, list[j].tokenId, list[j].amount);
            }
            _executePriorityOps(batch.priorityOps);
            executed = batch.number;
            emit BatchExecuted(batch.number, batch.root);
        }
        batchesExecuted = executed;
        if (batches.length != 0) executedRoot = batches[batches.length - 1].root;
    }

    // ---------------------------------------------------------------- revert

    /// @notice Drops the committed batches `batches[0].number ..= batchesCommitted` (passed in
    ///         order, ending with the last committed one); their priority ops go back to the
    ///         queue. Only batches the settlement still allows (`_revertable`) can go.
    function revertBatches(StoredBatch[] calldata batches) external onlyOperator notExodus {
        uint64 committed = batchesCommitted;
        if (batches.length == 0 || batches[batches.length - 1].number != committed) {
            revert WrongBatch(batches.length == 0 ? 0 : batches[batches.length - 1].number);
        }
        uint64 first = batches[0].number;
        if (first <= batchesExecuted || !_revertable(first)) revert CannotRevert(first);
        uint64 returned = 0;
        for (uint256 i = 0; i < batches.length; ++i) {
            StoredBatch calldata batch = batches[i];
            // forge-lint: disable-next-line(unsafe-typecast)
            if (batch.number != first + uint64(i) || hashBatch(batch) != batchHashes[batch.number]) {
                revert WrongBatch(batch.number);
            }
            delete batchHashes[batch.number];
            returned += batch.priorityOps;
        }
        _unconsumePriorityOps(returned);
        batchesCommitted = first - 1;
        _afterRevert(first - 1);
        emit BatchesReverted(first, committed);
    }

    // ---------------------------------------------------------------- settlement

    /// @dev Whether a committed batch may be executed.
    function _isFinal(StoredBatch calldata batch) internal view virtual returns (bool);

    /// @dev Whether batches from `number` on may still be reverted by the operator.
    function _revertable(uint64 number) internal view virtual returns (bool);

    /// @dev The chain now ends at batch `number`.
    function _afterRevert(uint64 number) internal virtual;
}
