// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {RollupFixture} from "./RollupFixture.sol";
import {MockToken} from "./Mocks.sol";
import {PubdataEncoder as Enc} from "./PubdataEncoder.sol";
import {Bridge} from "../src/Bridge.sol";
import {BatchChain} from "../src/BatchChain.sol";

/// @notice commitBatches: the `last` check, the pubdata walk, priority ops, account counts,
///         the stored batch and its commitment.
contract BatchCommitTest is RollupFixture {
    MockToken internal token;
    uint16 internal tokenId;

    function setUp() public override {
        super.setUp();
        (token, tokenId) = addTokenFundedForAlice(1e24);
    }

    function testCommitEmptyBatch() public {
        BatchChain.StoredBatch memory g = batch(0);
        BatchChain.CommitInfo memory i = info(bytes32(uint256(7)), 0, 0, "");
        BatchChain.StoredBatch memory expected = expectedBatch(g, i, 0, noWithdrawals());
        BatchChain.CommitInfo[] memory l = infos1(i);
        vm.expectEmit(address(rollup));
        emit BatchChain.BatchCommitted(1, expected, 0);
        vm.prank(OP);
        rollup.commitBatches(g, l);
        assertEq(rollup.batchHashes(1), keccak256(abi.encode(expected)), "hash");
        assertEq(rollup.hashBatch(expected), keccak256(abi.encode(expected)), "hashBatch");
        assertEq(rollup.batchesCommitted(), 1, "committed");
        assertEq(rollup.batchesProven(), 0, "proven");
        assertEq(rollup.executedRoot(), GENESIS_ROOT, "nothing executed");
    }

    function testCommitEventCarriesFeeAccount() public {
        BatchChain.StoredBatch memory g = batch(0);
        BatchChain.CommitInfo memory i = info(bytes32(uint256(7)), 3, 2, Enc.transfer(0, 1, 0, 5, 0));
        BatchChain.StoredBatch memory expected = expectedBatch(g, i, 0, noWithdrawals());
        BatchChain.CommitInfo[] memory l = infos1(i);
        vm.expectEmit(address(rollup));
        emit BatchChain.BatchCommitted(1, expected, 2);
        vm.prank(OP);
        rollup.commitBatches(g, l);
    }

    function testCommitRefusesWrongLastNumber() public {
        commitEmpty();
        BatchChain.StoredBatch memory g = batch(0);
        BatchChain.CommitInfo[] memory l = infos1(info(g.root, 0, 0, ""));
        vm.prank(OP);
        vm.expectRevert(abi.encodeWithSelector(BatchChain.WrongBatch.selector, uint64(0)));
        rollup.commitBatches(g, l);

        BatchChain.StoredBatch memory ahead = batch(1);
        ahead.number = 2;
        vm.prank(OP);
        vm.expectRevert(abi.encodeWithSelector(BatchChain.WrongBatch.selector, uint64(2)));
        rollup.commitBatches(ahead, l);
    }

    /// Every field of `last` is bound by the stored hash.
    function testCommitRefusesWrongLastContents() public {
        commitEmpty();
        BatchChain.CommitInfo[] memory l = infos1(info(tip().root, 0, 0, ""));
        for (uint256 field = 0; field < 6; ++field) {
            BatchChain.StoredBatch memory b = batch(1);
            if (field == 0) b.priorityOps += 1;
            if (field == 1) b.accountCount += 1;
            if (field == 2) b.timestamp += 1;
            if (field == 3) b.root = bytes32(uint256(b.root) ^ 1);
            if (field == 4) b.withdrawalsHash = bytes32(uint256(1));
            if (field == 5) b.commitment ^= 1;
            vm.prank(OP);
            vm.expectRevert(abi.encodeWithSelector(BatchChain.WrongBatch.selector, uint64(1)));
            rollup.commitBatches(b, l);
        }
        assertEq(rollup.batchesCommitted(), 1, "unchanged");
    }

    function testCommitPubdataLength() public {
        uint256[5] memory bad = [uint256(1), 13, 15, 41, CHUNKS * 14 + 14];
        for (uint256 k = 0; k < bad.length; ++k) {
            commitReverts(
                info(GENESIS_ROOT, 0, 0, new bytes(bad[k])),
                abi.encodeWithSelector(BatchChain.PubdataLength.selector, bad[k])
            );
        }
        // Exactly batchChunks Noop chunks fit.
        commit(info(GENESIS_ROOT, 0, 0, new bytes(CHUNKS * 14)), 0, noWithdrawals());
    }

    function testCommitRefusesUnknownTags() public {
        for (uint256 t = 7; t < 16; ++t) {
            bytes memory chunk = new bytes(14);
            // forge-lint: disable-next-line(unsafe-typecast)
            chunk[0] = bytes1(uint8(t << 4));
            bytes memory pubdata = bytes.concat(Enc.transfer(0, 1, 0, 5, 0), chunk);
            commitReverts(
                info(GENESIS_ROOT, 0, 0, pubdata), abi.encodeWithSelector(BatchChain.UnknownOp.selector, 14, t)
            );
        }
    }

    function testCommitRefusesOpPastEnd() public {
        bytes memory dep = Enc.deposit(0, 0, 1, ALICE);
        bytes memory cpk = Enc.changePubKey(0, 1, bytes32(uint256(5)), 0, 0, 0, ALICE);
        // The first chunk of a 3-chunk deposit after a transfer.
        commitReverts(
            info(GENESIS_ROOT, 0, 0, bytes.concat(Enc.transfer(0, 1, 0, 5, 0), slice(dep, 14))),
            abi.encodeWithSelector(BatchChain.OpPastEnd.selector, 14)
        );
        commitReverts(
            info(GENESIS_ROOT, 0, 0, slice(dep, 28)), abi.encodeWithSelector(BatchChain.OpPastEnd.selector, 0)
        );
        commitReverts(
            info(GENESIS_ROOT, 0, 0, slice(cpk, 56)), abi.encodeWithSelector(BatchChain.OpPastEnd.selector, 0)
        );
        // A withdraw cut short at the end of a full batch.
        bytes memory full = bytes.concat(new bytes((CHUNKS - 1) * 14), slice(Enc.withdraw(0, 0, 1, 0, ALICE), 14));
        commitReverts(
            info(GENESIS_ROOT, 0, 0, full), abi.encodeWithSelector(BatchChain.OpPastEnd.selector, (CHUNKS - 1) * 14)
        );
    }

    function slice(bytes memory b, uint256 n) internal pure returns (bytes memory out) {
        out = new bytes(n);
        for (uint256 k = 0; k < n; ++k) {
            out[k] = b[k];
        }
    }

    function testCommitConsumesDeposits() public {
        depositEth(ALICE, BOB, 1 ether);
        vm.prank(ALICE);
        rollup.depositERC20(address(token), 500, CAROL);
        bytes memory pubdata = bytes.concat(Enc.deposit(0, 0, 1 ether, BOB), Enc.deposit(1, tokenId, 500, CAROL));
        BatchChain.StoredBatch memory b = commit(info(bytes32(uint256(1)), 2, 0, pubdata), 2, noWithdrawals());
        assertEq(b.priorityOps, 2, "two ops");
        assertEq(rollup.priorityCommitted(), 2, "consumed");
        assertEq(rollup.priorityExecuted(), 0, "not retired yet");
        // Still queued until execution.
        (bytes20 h,) = rollup.priorityOps(0);
        assertEq(bytes32(h), bytes32(depositHashOf(BOB, 0, 1 ether)), "kept");
    }

    /// Ops between runs of Noops and Transfers (which the walk skips in bulk) are all seen:
    /// the deposits consumed in order, the withdrawal chained.
    function testCommitFindsOpsBetweenTransferRuns() public {
        depositEth(ALICE, BOB, 1 ether);
        depositEth(ALICE, CAROL, 2 ether);
        bytes memory t = Enc.transfer(0, 1, 0, 5, 0);
        bytes memory head = bytes.concat(Enc.noop(), t, Enc.deposit(0, 0, 1 ether, BOB));
        bytes memory middle = bytes.concat(t, t, Enc.noop(), Enc.deposit(1, 0, 2 ether, CAROL));
        bytes memory pubdata = bytes.concat(head, middle, Enc.withdraw(1, 0, 7, 0, ALICE), t);
        BatchChain.StoredBatch memory b =
            commit(info(bytes32(uint256(1)), 2, 0, pubdata), 2, withdrawals1(ALICE, 0, 7));
        assertEq(b.priorityOps, 2, "both deposits");
        assertEq(rollup.priorityCommitted(), 2, "consumed");
    }

    /// The account id of a deposit is the operator's to assign; the queue binds the rest.
    function testFuzzCommitDepositAnyAccountId(uint32 account) public {
        account = uint32(bound(account, 0, (1 << 24) - 1));
        depositEth(ALICE, BOB, 3);
        commit(info(bytes32(uint256(1)), account + 1, 0, Enc.deposit(account, 0, 3, BOB)), 1, noWithdrawals());
    }

    function testCommitRefusesSkippedPriorityOp() public {
        depositEth(ALICE, BOB, 1);
        depositEth(ALICE, CAROL, 2);
        commitReverts(
            info(GENESIS_ROOT, 2, 0, Enc.deposit(0, 0, 2, CAROL)),
            abi.encodeWithSelector(Bridge.PriorityOpMismatch.selector, uint64(0))
        );
    }

    function testCommitRefusesPriorityOpsOutOfOrder() public {
        depositEth(ALICE, BOB, 1);
        depositEth(ALICE, CAROL, 2);
        commitReverts(
            info(GENESIS_ROOT, 2, 0, bytes.concat(Enc.deposit(0, 0, 2, CAROL), Enc.deposit(1, 0, 1, BOB))),
            abi.encodeWithSelector(Bridge.PriorityOpMismatch.selector, uint64(0))
        );
        commit(
            info(GENESIS_ROOT, 2, 0, bytes.concat(Enc.deposit(0, 0, 1, BOB), Enc.deposit(1, 0, 2, CAROL))),
            2,
            noWithdrawals()
        );
    }

    function testCommitRefusesAlteredDeposit() public {
        vm.prank(ALICE);
        rollup.depositERC20(address(token), 500, BOB);
        bytes[5] memory altered = [
            Enc.deposit(0, tokenId, 501, BOB), // amount
            Enc.deposit(0, tokenId, 499, BOB),
            Enc.deposit(0, tokenId, 500, CAROL), // recipient
            Enc.deposit(0, 0, 500, BOB), // token
            Enc.fullExit(0, tokenId, 500, BOB) // kind
        ];
        for (uint256 k = 0; k < altered.length; ++k) {
            commitReverts(
                info(GENESIS_ROOT, 1, 0, altered[k]),
                abi.encodeWithSelector(Bridge.PriorityOpMismatch.selector, uint64(0))
            );
        }
        commit(info(GENESIS_ROOT, 1, 0, Enc.deposit(0, tokenId, 500, BOB)), 1, noWithdrawals());
    }

    function testFuzzCommitRefusesAnyOtherDeposit(address to, uint16 tok, uint128 amount) public {
        to = address(uint160(bound(uint160(to), 1, type(uint160).max)));
        tok = uint16(bound(tok, 0, 1023));
        amount = uint128(bound(amount, 1, MAX_BALANCE));
        vm.assume(to != BOB || tok != tokenId || amount != 500);
        vm.prank(ALICE);
        rollup.depositERC20(address(token), 500, BOB);
        commitReverts(
            info(GENESIS_ROOT, 1, 0, Enc.deposit(0, tok, amount, to)),
            abi.encodeWithSelector(Bridge.PriorityOpMismatch.selector, uint64(0))
        );
    }

    function testCommitRefusesMorePriorityOpsThanQueued() public {
        commitReverts(
            info(GENESIS_ROOT, 1, 0, Enc.deposit(0, 0, 1, BOB)),
            abi.encodeWithSelector(Bridge.PriorityOpMissing.selector, uint64(0))
        );
        depositEth(ALICE, BOB, 1);
        commitReverts(
            info(GENESIS_ROOT, 1, 0, bytes.concat(Enc.deposit(0, 0, 1, BOB), Enc.deposit(0, 0, 1, BOB))),
            abi.encodeWithSelector(Bridge.PriorityOpMissing.selector, uint64(1))
        );
        // Consumed by batch 1, the op is not there for batch 2.
        commit(info(GENESIS_ROOT, 1, 0, Enc.deposit(0, 0, 1, BOB)), 1, noWithdrawals());
        commitReverts(
            info(GENESIS_ROOT, 1, 0, Enc.deposit(0, 0, 1, BOB)),
            abi.encodeWithSelector(Bridge.PriorityOpMissing.selector, uint64(1))
        );
    }

    function testCommitPriorityOpsAcrossBatches() public {
        depositEth(ALICE, BOB, 1);
        depositEth(ALICE, CAROL, 2);
        commit(info(GENESIS_ROOT, 1, 0, Enc.deposit(0, 0, 1, BOB)), 1, noWithdrawals());
        commitReverts(
            info(GENESIS_ROOT, 2, 0, Enc.deposit(1, 0, 1, BOB)),
            abi.encodeWithSelector(Bridge.PriorityOpMismatch.selector, uint64(1))
        );
        commit(info(GENESIS_ROOT, 2, 0, Enc.deposit(1, 0, 2, CAROL)), 1, noWithdrawals());
        assertEq(rollup.priorityCommitted(), 2, "both consumed");
    }

    function testCommitFullExits() public {
        vm.prank(BOB);
        rollup.requestFullExit(3, tokenId);
        vm.prank(CAROL);
        rollup.requestFullExit(4, 0);
        // Bob's exit pays 70 (a withdrawal); Carol's pays nothing (no withdrawal).
        bytes memory pubdata = bytes.concat(Enc.fullExit(3, tokenId, 70, BOB), Enc.fullExit(4, 0, 0, CAROL));
        BatchChain.StoredBatch memory b = commit(info(GENESIS_ROOT, 5, 0, pubdata), 2, withdrawals1(BOB, tokenId, 70));
        assertTrue(b.withdrawalsHash != bytes32(0), "one withdrawal");
    }

    function testCommitRefusesAlteredFullExit() public {
        vm.prank(BOB);
        rollup.requestFullExit(3, tokenId);
        bytes[3] memory altered = [
            Enc.fullExit(4, tokenId, 0, BOB), // account
            Enc.fullExit(3, 0, 0, BOB), // token
            Enc.fullExit(3, tokenId, 0, CAROL) // owner
        ];
        for (uint256 k = 0; k < altered.length; ++k) {
            commitReverts(
                info(GENESIS_ROOT, 5, 0, altered[k]),
                abi.encodeWithSelector(Bridge.PriorityOpMismatch.selector, uint64(0))
            );
        }
    }

    function testCommitAccountCount() public {
        commit(info(GENESIS_ROOT, 5, 0, ""), 0, noWithdrawals());
        commitReverts(
            info(GENESIS_ROOT, 4, 0, ""),
            abi.encodeWithSelector(BatchChain.AccountCountDecreased.selector, uint32(5), uint32(4))
        );
        commitReverts(
            info(GENESIS_ROOT, 0, 0, ""),
            abi.encodeWithSelector(BatchChain.AccountCountDecreased.selector, uint32(5), uint32(0))
        );
        commitReverts(
            info(GENESIS_ROOT, uint32(1 << 24) + 1, 0, ""),
            abi.encodeWithSelector(BatchChain.AccountCountTooLarge.selector, uint32(1 << 24) + 1)
        );
        commit(info(GENESIS_ROOT, 5, 0, ""), 0, noWithdrawals());
        commit(info(GENESIS_ROOT, uint32(1 << 24), 0, ""), 0, noWithdrawals());
    }

    /// Withdrawals and paying full exits are chained in pubdata order; transfers, deposits and
    /// ChangePubKeys do not enter the chain, and neither do a withdrawal's `from` and fee.
    function testCommitWithdrawalsChain() public {
        depositEth(ALICE, ALICE, 100);
        vm.prank(CAROL);
        rollup.requestFullExit(2, 0);
        vm.prank(CAROL);
        rollup.authorizePubkey(0, bytes32(uint256(9)));
        bytes memory pubdata = bytes.concat(
            Enc.deposit(0, 0, 100, ALICE), Enc.withdraw(0, 0, 10, 3 << 5 | 1, BOB), Enc.transfer(0, 1, 0, 5, 0)
        );
        pubdata = bytes.concat(pubdata, Enc.changePubKey(2, 1, bytes32(uint256(9)), 0, 0, 0, CAROL));
        pubdata =
            bytes.concat(pubdata, Enc.withdraw(7, tokenId, 20, 0, ALICE), Enc.fullExit(2, 0, 33, CAROL), Enc.noop());
        BatchChain.Withdrawal[] memory ws = new BatchChain.Withdrawal[](3);
        ws[0] = withdrawal(BOB, 0, 10);
        ws[1] = withdrawal(ALICE, tokenId, 20);
        ws[2] = withdrawal(CAROL, 0, 33);
        commit(info(bytes32(uint256(2)), 3, 1, pubdata), 2, ws);
    }

    function testCommitSeveralBatchesInOneCall() public {
        depositEth(ALICE, ALICE, 100);
        BatchChain.CommitInfo[] memory l = new BatchChain.CommitInfo[](3);
        l[0] = info(bytes32(uint256(11)), 1, 0, Enc.deposit(0, 0, 100, ALICE));
        l[1] = info(bytes32(uint256(12)), 2, 0, Enc.transferToNew(0, 1, 0, 7, 0, BOB));
        l[2] = info(bytes32(uint256(13)), 2, 1, Enc.withdraw(1, 0, 7, 0, BOB));
        BatchChain.StoredBatch memory g = batch(0);
        BatchChain.StoredBatch memory b1 = expectedBatch(g, l[0], 1, noWithdrawals());
        BatchChain.StoredBatch memory b2 = expectedBatch(b1, l[1], 0, noWithdrawals());
        BatchChain.StoredBatch memory b3 = expectedBatch(b2, l[2], 0, withdrawals1(BOB, 0, 7));
        vm.expectEmit(address(rollup));
        emit BatchChain.BatchCommitted(1, b1, 0);
        vm.expectEmit(address(rollup));
        emit BatchChain.BatchCommitted(2, b2, 0);
        vm.expectEmit(address(rollup));
        emit BatchChain.BatchCommitted(3, b3, 1);
        vm.prank(OP);
        rollup.commitBatches(g, l);
        assertEq(rollup.batchesCommitted(), 3, "three");
        assertEq(rollup.batchHashes(1), keccak256(abi.encode(b1)), "b1");
        assertEq(rollup.batchHashes(2), keccak256(abi.encode(b2)), "b2");
        assertEq(rollup.batchHashes(3), keccak256(abi.encode(b3)), "b3");
        // Each commitment starts from the previous batch's root and account count.
        assertEq(b2.commitment, commitmentOf(address(rollup), CHUNKS, bytes32(uint256(11)), 1, l[1]), "chained");
        assertTrue(b2.commitment != commitmentOf(address(rollup), CHUNKS, GENESIS_ROOT, 0, l[1]), "binds old root");
    }

    function testCommitEmptyListIsNoop() public {
        BatchChain.StoredBatch memory g = batch(0);
        BatchChain.CommitInfo[] memory none = new BatchChain.CommitInfo[](0);
        vm.prank(OP);
        rollup.commitBatches(g, none);
        assertEq(rollup.batchesCommitted(), 0, "none");
    }

    function randomTransfer(uint256 r) internal pure returns (bytes memory) {
        // forge-lint: disable-next-line(unsafe-typecast)
        uint32 from = uint32(r % (1 << 24));
        uint32 to = uint32((r >> 24) % (1 << 24));
        uint16 tok = uint16((r >> 48) % 1024);
        uint64 amount = uint64((r >> 64) % (1 << 35));
        uint16 fee = uint16((r >> 128) % (1 << 15));
        return Enc.transfer(from, to, tok, amount, fee);
    }

    /// The commitment is the SHA-256 of header ‖ pubdata ‖ Noop padding, low 253 bits, built
    /// here byte by byte; and the public `commitment` view agrees.
    function testFuzzCommitment(bytes32 newRoot, uint32 newCount, uint32 fee, uint8 transfers, uint256 salt) public {
        newCount = uint32(bound(newCount, 0, 1 << 24));
        transfers = uint8(bound(transfers, 0, CHUNKS));
        bytes memory pubdata;
        for (uint256 k = 0; k < transfers; ++k) {
            uint256 r = uint256(keccak256(abi.encode(salt, k)));
            pubdata = bytes.concat(pubdata, randomTransfer(r));
        }
        BatchChain.CommitInfo memory i = info(newRoot, newCount, fee, pubdata);
        BatchChain.StoredBatch memory b = commit(i, 0, noWithdrawals());
        assertTrue(b.commitment < (1 << 253), "253 bits");
        assertEq(rollup.commitment(GENESIS_ROOT, 0, i), b.commitment, "public view");
        BatchChain.CommitInfo memory other = info(newRoot, newCount, fee ^ 1, pubdata);
        assertTrue(rollup.commitment(GENESIS_ROOT, 0, other) != b.commitment, "binds the fee account");
    }

    /// @dev header (fee account and counts 0) ‖ Noop pubdata of a whole batch.
    function zeroHeaderBatch(bytes32 oldRoot, bytes32 newRoot) internal view returns (bytes memory) {
        bytes memory head = bytes.concat(oldRoot, newRoot, bytes8(uint64(block.chainid)), bytes20(address(rollup)));
        return bytes.concat(head, bytes4(0), bytes4(0), bytes4(0), new bytes(CHUNKS * 14));
    }

    /// A fixed vector: sha256 of the zero header and Noop pubdata, reduced, must come out
    /// of the stored batch. The digest's top bits are set here, so the mask matters.
    function testCommitmentMasksTopBits() public {
        BatchChain.CommitInfo memory i = info(bytes32(uint256(3)), 0, 0, "");
        bytes32 digest = sha256(zeroHeaderBatch(GENESIS_ROOT, bytes32(uint256(3))));
        BatchChain.StoredBatch memory b = commit(i, 0, noWithdrawals());
        assertEq(b.commitment, uint256(digest) & MASK_253, "masked digest");
        // Try roots until the digest has one of its top 3 bits set: then the mask drops it.
        uint256 k = 4;
        do {
            i = info(bytes32(k), 0, 0, "");
            digest = sha256(zeroHeaderBatch(tip().root, bytes32(k)));
            ++k;
        } while (uint256(digest) >> 253 == 0);
        b = commit(i, 0, noWithdrawals());
        assertTrue(b.commitment != uint256(digest), "top bits dropped");
        assertEq(b.commitment, uint256(digest) - ((uint256(digest) >> 253) << 253), "low 253 bits");
    }
}

/// @notice ChangePubKey authorization: ECDSA over the EIP-191 digest, or a key registered
///         on L1 beforehand.
contract ChangePubKeyTest is RollupFixture {
    uint256 internal constant ALICE_KEY = 0xA11CE5;
    uint256 internal constant BOB_KEY = 0xB0B5;
    bytes32 internal constant PUBKEY = 0x1d5ac1f31407f4c0ed1b9e5e1f1fd2c4a7f3f3cbd2e88a0b8e0a5d4f3e2c1b0a;
    uint16 internal constant FEE = (123 << 5) | 2; // 12300

    address internal alice;
    address internal bob;

    function setUp() public override {
        super.setUp();
        alice = vm.addr(ALICE_KEY);
        bob = vm.addr(BOB_KEY);
    }

    /// @dev The EIP-191 digest of the ChangePubKey message (docs/pubdata.md), built from bytes.
    function digestOf(
        uint256 chainId,
        address rollupAddress,
        uint32 account,
        bytes32 pubkey,
        uint32 nonce,
        uint16 feeToken,
        uint128 fee
    ) internal pure returns (bytes32) {
        // forge-lint: disable-next-line(unsafe-typecast)
        bytes memory m = bytes.concat(bytes("causeway:change-pubkey:v1"), bytes8(uint64(chainId)));
        m = bytes.concat(m, bytes20(rollupAddress), bytes4(account));
        m = bytes.concat(m, pubkey, bytes4(nonce));
        m = bytes.concat(m, bytes2(feeToken), bytes16(fee));
        assertEq(m.length, 25 + 8 + 20 + 4 + 32 + 4 + 2 + 16, "message length");
        return keccak256(bytes.concat("\x19Ethereum Signed Message:\n32", keccak256(m)));
    }

    function sig(uint256 key, bytes32 digest) internal pure returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, digest);
        return abi.encodePacked(r, s, v);
    }

    function sigFor(uint256 key, uint32 account, uint32 nonce) internal view returns (bytes memory) {
        return sig(key, digestOf(block.chainid, address(rollup), account, PUBKEY, nonce, 0, Enc.feeValue(FEE)));
    }

    function cpk(uint32 account, uint8 auth, uint32 nonce, address owner) internal pure returns (bytes memory) {
        return Enc.changePubKey(account, auth, PUBKEY, nonce, 0, FEE, owner);
    }

    function withSigs(BatchChain.CommitInfo memory i, bytes memory s0)
        internal
        pure
        returns (BatchChain.CommitInfo memory)
    {
        i.changePubkeySignatures = new bytes[](1);
        i.changePubkeySignatures[0] = s0;
        return i;
    }

    function withSigs(BatchChain.CommitInfo memory i, bytes memory s0, bytes memory s1)
        internal
        pure
        returns (BatchChain.CommitInfo memory)
    {
        i.changePubkeySignatures = new bytes[](2);
        i.changePubkeySignatures[0] = s0;
        i.changePubkeySignatures[1] = s1;
        return i;
    }

    function bad(uint256 offset) internal pure returns (bytes memory) {
        return abi.encodeWithSelector(BatchChain.BadChangePubkeyAuth.selector, offset);
    }

    function testEcdsaSignature() public {
        bytes memory s = sigFor(ALICE_KEY, 4, 0);
        uint8 v = uint8(s[64]);
        assertTrue(v == 27 || v == 28, "vm.sign gives 27/28");
        commit(withSigs(info(GENESIS_ROOT, 5, 0, cpk(4, 0, 0, alice)), s), 0, noWithdrawals());
    }

    function testEcdsaSignatureWithV0or1() public {
        bytes memory s = sigFor(ALICE_KEY, 4, 0);
        s[64] = bytes1(uint8(s[64]) - 27);
        commit(withSigs(info(GENESIS_ROOT, 5, 0, cpk(4, 0, 0, alice)), s), 0, noWithdrawals());
    }

    /// Documented: v >= 35 is read as EIP-155 style, its parity giving the recovery id.
    function testEcdsaSignatureWithEip155StyleV() public {
        bytes memory s = sigFor(ALICE_KEY, 4, 0);
        s[64] = bytes1(uint8(s[64]) - 27 + 37);
        commit(withSigs(info(GENESIS_ROOT, 5, 0, cpk(4, 0, 0, alice)), s), 0, noWithdrawals());
    }

    function testEcdsaRefusesOtherV() public {
        uint8[4] memory vs = [2, 26, 29, 34];
        for (uint256 k = 0; k < vs.length; ++k) {
            bytes memory s = sigFor(ALICE_KEY, 4, 0);
            s[64] = bytes1(vs[k]);
            commitReverts(withSigs(info(GENESIS_ROOT, 5, 0, cpk(4, 0, 0, alice)), s), bad(0));
        }
    }

    function testEcdsaRefusesWrongSigner() public {
        bytes memory s = sigFor(BOB_KEY, 4, 0);
        commitReverts(withSigs(info(GENESIS_ROOT, 5, 0, cpk(4, 0, 0, alice)), s), bad(0));
    }

    /// The signature binds every field of the message: a signature of any other message fails.
    function testEcdsaRefusesSignatureOfAnotherMessage() public {
        uint128 fee = Enc.feeValue(FEE);
        bytes32[7] memory digests = [
            digestOf(block.chainid + 1, address(rollup), 4, PUBKEY, 0, 0, fee),
            digestOf(block.chainid, address(0xcc), 4, PUBKEY, 0, 0, fee),
            digestOf(block.chainid, address(rollup), 5, PUBKEY, 0, 0, fee),
            digestOf(block.chainid, address(rollup), 4, bytes32(uint256(PUBKEY) ^ 1), 0, 0, fee),
            digestOf(block.chainid, address(rollup), 4, PUBKEY, 1, 0, fee),
            digestOf(block.chainid, address(rollup), 4, PUBKEY, 0, 1, fee),
            digestOf(block.chainid, address(rollup), 4, PUBKEY, 0, 0, fee + 1)
        ];
        for (uint256 k = 0; k < digests.length; ++k) {
            bytes memory s = sig(ALICE_KEY, digests[k]);
            commitReverts(withSigs(info(GENESIS_ROOT, 5, 0, cpk(4, 0, 0, alice)), s), bad(0));
        }
        // Not the EIP-191 digest but the raw message hash.
        bytes memory m = bytes.concat(
            bytes("causeway:change-pubkey:v1"),
            bytes8(uint64(block.chainid)),
            bytes20(address(rollup)),
            bytes4(uint32(4))
        );
        m = bytes.concat(m, PUBKEY, bytes4(0), bytes2(0), bytes16(fee));
        commitReverts(withSigs(info(GENESIS_ROOT, 5, 0, cpk(4, 0, 0, alice)), sig(ALICE_KEY, keccak256(m))), bad(0));
    }

    function testEcdsaRefusesWrongLength() public {
        bytes memory s = sigFor(ALICE_KEY, 4, 0);
        bytes memory short = new bytes(64);
        for (uint256 k = 0; k < 64; ++k) {
            short[k] = s[k];
        }
        commitReverts(withSigs(info(GENESIS_ROOT, 5, 0, cpk(4, 0, 0, alice)), short), bad(0));
        commitReverts(withSigs(info(GENESIS_ROOT, 5, 0, cpk(4, 0, 0, alice)), bytes.concat(s, bytes1(0))), bad(0));
        commitReverts(withSigs(info(GENESIS_ROOT, 5, 0, cpk(4, 0, 0, alice)), ""), bad(0));
    }

    /// ecrecover returns 0 for an invalid signature; that must not match an owner of 0.
    function testEcdsaRefusesZeroOwnerWithInvalidSignature() public {
        bytes memory s = abi.encodePacked(bytes32(0), bytes32(0), uint8(27));
        commitReverts(withSigs(info(GENESIS_ROOT, 5, 0, cpk(4, 0, 0, address(0))), s), bad(0));
    }

    function testSignatureCount() public {
        bytes memory s = sigFor(ALICE_KEY, 4, 0);
        // Missing.
        commitReverts(
            info(GENESIS_ROOT, 5, 0, cpk(4, 0, 0, alice)),
            abi.encodeWithSelector(BatchChain.ChangePubkeySignatureCount.selector, 1, 0)
        );
        // Extra, with one ChangePubKey.
        commitReverts(
            withSigs(info(GENESIS_ROOT, 5, 0, cpk(4, 0, 0, alice)), s, s),
            abi.encodeWithSelector(BatchChain.ChangePubkeySignatureCount.selector, 1, 2)
        );
        // Extra, with none.
        commitReverts(
            withSigs(info(GENESIS_ROOT, 5, 0, Enc.transfer(0, 1, 0, 1, 0)), s),
            abi.encodeWithSelector(BatchChain.ChangePubkeySignatureCount.selector, 0, 1)
        );
        // Missing the second of two.
        bytes memory two = bytes.concat(cpk(4, 0, 0, alice), cpk(5, 0, 0, bob));
        commitReverts(
            withSigs(info(GENESIS_ROOT, 6, 0, two), s),
            abi.encodeWithSelector(BatchChain.ChangePubkeySignatureCount.selector, 2, 1)
        );
    }

    function testSignaturesInPubdataOrder() public {
        bytes memory pubdata = bytes.concat(Enc.transfer(0, 1, 0, 1, 0), cpk(4, 0, 0, alice), cpk(5, 0, 7, bob));
        bytes memory a = sigFor(ALICE_KEY, 4, 0);
        bytes memory b = sigFor(BOB_KEY, 5, 7);
        commitReverts(withSigs(info(GENESIS_ROOT, 6, 0, pubdata), b, a), bad(14));
        commit(withSigs(info(GENESIS_ROOT, 6, 0, pubdata), a, b), 0, noWithdrawals());
    }

    function testOnchainAuthorization() public {
        vm.prank(alice);
        rollup.authorizePubkey(3, PUBKEY);
        commit(info(GENESIS_ROOT, 5, 0, cpk(4, 1, 3, alice)), 0, noWithdrawals());
        // It takes no signature.
        commitReverts(
            withSigs(info(GENESIS_ROOT, 5, 0, cpk(4, 1, 3, alice)), sigFor(ALICE_KEY, 4, 3)),
            abi.encodeWithSelector(BatchChain.ChangePubkeySignatureCount.selector, 0, 1)
        );
    }

    function testOnchainAuthorizationRefusals() public {
        // Absent.
        commitReverts(info(GENESIS_ROOT, 5, 0, cpk(4, 1, 3, alice)), bad(0));
        vm.prank(alice);
        rollup.authorizePubkey(3, PUBKEY);
        // Another nonce.
        commitReverts(info(GENESIS_ROOT, 5, 0, cpk(4, 1, 4, alice)), bad(0));
        // Another key.
        commitReverts(
            info(GENESIS_ROOT, 5, 0, Enc.changePubKey(4, 1, bytes32(uint256(PUBKEY) ^ 1), 3, 0, FEE, alice)), bad(0)
        );
        // Another owner (Alice's registration does not authorize Bob's key change).
        commitReverts(info(GENESIS_ROOT, 5, 0, cpk(4, 1, 3, bob)), bad(0));
        // After Alice replaced it.
        vm.prank(alice);
        rollup.authorizePubkey(3, bytes32(uint256(1)));
        commitReverts(info(GENESIS_ROOT, 5, 0, cpk(4, 1, 3, alice)), bad(0));
    }

    /// An unregistered key reads as 0: a ChangePubKey to key 0 must not pass as authorized.
    function testOnchainAuthorizationRefusesZeroKey() public {
        commitReverts(info(GENESIS_ROOT, 5, 0, Enc.changePubKey(4, 1, bytes32(0), 0, 0, 0, alice)), bad(0));
        vm.prank(alice);
        rollup.authorizePubkey(0, bytes32(0));
        commitReverts(info(GENESIS_ROOT, 5, 0, Enc.changePubKey(4, 1, bytes32(0), 0, 0, 0, alice)), bad(0));
    }

    function testUnknownAuthKinds() public {
        vm.prank(alice);
        rollup.authorizePubkey(0, PUBKEY);
        for (uint8 auth = 2; auth < 16; ++auth) {
            commitReverts(
                withSigs(
                    info(GENESIS_ROOT, 5, 0, bytes.concat(Enc.noop(), cpk(4, auth, 0, alice))), sigFor(ALICE_KEY, 4, 0)
                ),
                bad(14)
            );
        }
    }

    function testMixedAuthorizations() public {
        vm.prank(bob);
        rollup.authorizePubkey(1, PUBKEY);
        bytes memory pubdata = bytes.concat(cpk(4, 0, 0, alice), cpk(5, 1, 1, bob), cpk(6, 0, 9, alice));
        commit(
            withSigs(info(GENESIS_ROOT, 7, 0, pubdata), sigFor(ALICE_KEY, 4, 0), sigFor(ALICE_KEY, 6, 9)),
            0,
            noWithdrawals()
        );
    }
}

/// @notice executeBatches: finality, order, the withdrawals list, credits, retiring.
contract BatchExecuteTest is RollupFixture {
    MockToken internal token;
    uint16 internal tokenId;

    function setUp() public override {
        super.setUp();
        (token, tokenId) = addTokenFundedForAlice(1e24);
    }

    function executeReverts(
        BatchChain.StoredBatch[] memory batches,
        BatchChain.Withdrawal[][] memory lists,
        bytes memory err
    ) internal {
        vm.prank(OP);
        vm.expectRevert(err);
        rollup.executeBatches(batches, lists);
    }

    function testExecuteRefusesUnproven() public {
        BatchChain.StoredBatch memory b = commitEmpty();
        executeReverts(
            batches1(b), lists1(noWithdrawals()), abi.encodeWithSelector(BatchChain.NotFinal.selector, uint64(1))
        );
        prove(1);
        execute(1, noWithdrawals());
    }

    function testExecuteOrder() public {
        commitEmpty();
        commitEmpty();
        prove(1);
        prove(2);
        executeReverts(
            batches1(batch(2)), lists1(noWithdrawals()), abi.encodeWithSelector(BatchChain.WrongBatch.selector, 2)
        );
        BatchChain.Withdrawal[][] memory two = new BatchChain.Withdrawal[][](2);
        executeReverts(batches2(batch(1), batch(1)), two, abi.encodeWithSelector(BatchChain.WrongBatch.selector, 1));
        execute(1, noWithdrawals());
        // Twice.
        executeReverts(
            batches1(batch(1)), lists1(noWithdrawals()), abi.encodeWithSelector(BatchChain.WrongBatch.selector, 1)
        );
        execute(2, noWithdrawals());
    }

    function testExecuteRefusesAlteredOrUncommittedBatch() public {
        BatchChain.StoredBatch memory fake = batch(0);
        fake.number = 1;
        executeReverts(
            batches1(fake), lists1(noWithdrawals()), abi.encodeWithSelector(BatchChain.WrongBatch.selector, 1)
        );
        commitEmpty();
        prove(1);
        BatchChain.StoredBatch memory b = batch(1);
        b.root = bytes32(uint256(666));
        executeReverts(batches1(b), lists1(noWithdrawals()), abi.encodeWithSelector(BatchChain.WrongBatch.selector, 1));
        b = batch(1);
        b.priorityOps = 1;
        executeReverts(batches1(b), lists1(noWithdrawals()), abi.encodeWithSelector(BatchChain.WrongBatch.selector, 1));
    }

    /// Batch 1 takes Alice's deposits; batch 2 withdraws to Bob and Carol.
    function fundAndWithdraw() internal returns (BatchChain.Withdrawal[] memory ws) {
        depositEth(ALICE, ALICE, 100);
        vm.prank(ALICE);
        rollup.depositERC20(address(token), 1000, ALICE);
        settle(
            info(
                bytes32(uint256(1)),
                1,
                0,
                bytes.concat(Enc.deposit(0, 0, 100, ALICE), Enc.deposit(0, tokenId, 1000, ALICE))
            ),
            2,
            noWithdrawals()
        );
        ws = new BatchChain.Withdrawal[](2);
        ws[0] = withdrawal(BOB, 0, 30);
        ws[1] = withdrawal(CAROL, tokenId, 400);
        commit(
            info(
                bytes32(uint256(2)),
                1,
                0,
                bytes.concat(Enc.withdraw(0, 0, 30, 0, BOB), Enc.withdraw(0, tokenId, 400, 0, CAROL))
            ),
            0,
            ws
        );
        prove(2);
    }

    function testExecuteRefusesWrongWithdrawals() public {
        BatchChain.Withdrawal[] memory ws = fundAndWithdraw();
        BatchChain.StoredBatch[] memory b = batches1(batch(2));
        bytes memory err = abi.encodeWithSelector(BatchChain.WrongWithdrawals.selector, uint64(2));

        // One list per batch.
        executeReverts(
            b, new BatchChain.Withdrawal[][](0), abi.encodeWithSelector(BatchChain.WithdrawalListCount.selector, 1, 0)
        );
        executeReverts(
            b, new BatchChain.Withdrawal[][](2), abi.encodeWithSelector(BatchChain.WithdrawalListCount.selector, 1, 2)
        );
        // Altered amount, owner, token.
        for (uint256 field = 0; field < 4; ++field) {
            BatchChain.Withdrawal[] memory w = new BatchChain.Withdrawal[](2);
            w[0] = withdrawal(ws[0].owner, ws[0].tokenId, ws[0].amount);
            w[1] = withdrawal(ws[1].owner, ws[1].tokenId, ws[1].amount);
            if (field == 0) w[1].amount += 1;
            if (field == 1) w[1].amount -= 1;
            if (field == 2) w[0].owner = ALICE;
            if (field == 3) w[0].tokenId = tokenId;
            executeReverts(b, lists1(w), err);
        }
        // Missing, extra, swapped.
        executeReverts(b, lists1(withdrawals1(BOB, 0, 30)), err);
        executeReverts(b, lists1(noWithdrawals()), err);
        BatchChain.Withdrawal[] memory extra = new BatchChain.Withdrawal[](3);
        extra[0] = ws[0];
        extra[1] = ws[1];
        extra[2] = withdrawal(BOB, 0, 0);
        executeReverts(b, lists1(extra), err);
        BatchChain.Withdrawal[] memory swapped = new BatchChain.Withdrawal[](2);
        swapped[0] = ws[1];
        swapped[1] = ws[0];
        executeReverts(b, lists1(swapped), err);

        execute(2, ws);
    }

    function testExecuteCreditsWithdrawals() public {
        BatchChain.Withdrawal[] memory ws = fundAndWithdraw();
        BatchChain.StoredBatch[] memory b = batches1(batch(2));
        BatchChain.Withdrawal[][] memory lists = lists1(ws);
        vm.expectEmit(address(rollup));
        emit Bridge.WithdrawalPending(BOB, 0, 30);
        vm.expectEmit(address(rollup));
        emit Bridge.WithdrawalPending(CAROL, tokenId, 400);
        vm.expectEmit(address(rollup));
        emit BatchChain.BatchExecuted(2, bytes32(uint256(2)));
        vm.prank(OP);
        rollup.executeBatches(b, lists);
        assertEq(rollup.pending(BOB, 0), 30, "Bob's ETH");
        assertEq(rollup.pending(CAROL, tokenId), 400, "Carol's tokens");
        assertEq(rollup.pending(BOB, tokenId), 0, "nothing else");
        assertEq(rollup.pooled(0), 70, "ETH pool");
        assertEq(rollup.pooled(tokenId), 600, "token pool");
        assertEq(rollup.executedRoot(), bytes32(uint256(2)), "root");
        assertEq(rollup.batchesExecuted(), 2, "executed");
        // Funds stay in the contract until withdrawn.
        assertEq(address(rollup).balance, 100, "ETH held");
    }

    function testExecuteRetiresPriorityOps() public {
        depositEth(ALICE, ALICE, 100);
        vm.prank(BOB);
        rollup.requestFullExit(0, 0);
        depositEth(ALICE, CAROL, 5);
        commit(
            info(bytes32(uint256(1)), 1, 0, bytes.concat(Enc.deposit(0, 0, 100, ALICE), Enc.fullExit(0, 0, 0, BOB))),
            2,
            noWithdrawals()
        );
        commit(info(bytes32(uint256(2)), 2, 0, Enc.deposit(1, 0, 5, CAROL)), 1, noWithdrawals());
        prove(1);
        prove(2);
        execute(1, noWithdrawals());
        assertEq(rollup.priorityExecuted(), 2, "two retired");
        (bytes20 h0, uint64 d0) = rollup.priorityOps(0);
        (bytes20 h1,) = rollup.priorityOps(1);
        (bytes20 h2,) = rollup.priorityOps(2);
        assertTrue(h0 == bytes20(0) && d0 == 0 && h1 == bytes20(0), "deleted");
        assertEq(bytes32(h2), bytes32(depositHashOf(CAROL, 0, 5)), "third still queued");
        execute(2, noWithdrawals());
        assertEq(rollup.priorityExecuted(), 3, "all retired");
        (h2,) = rollup.priorityOps(2);
        assertTrue(h2 == bytes20(0), "third deleted");
    }

    function testExecuteFullExitPays() public {
        depositEth(ALICE, ALICE, 100);
        settle(info(bytes32(uint256(1)), 1, 0, Enc.deposit(0, 0, 100, ALICE)), 1, noWithdrawals());
        vm.prank(ALICE);
        rollup.requestFullExit(0, 0);
        settle(info(bytes32(uint256(2)), 1, 0, Enc.fullExit(0, 0, 100, ALICE)), 1, withdrawals1(ALICE, 0, 100));
        assertEq(rollup.pending(ALICE, 0), 100, "credited");
        assertEq(rollup.pooled(0), 0, "pool empty");
    }

    function testExecuteSeveralBatchesInOneCall() public {
        depositEth(ALICE, ALICE, 100);
        commit(info(bytes32(uint256(1)), 1, 0, Enc.deposit(0, 0, 100, ALICE)), 1, noWithdrawals());
        commit(info(bytes32(uint256(2)), 1, 0, Enc.withdraw(0, 0, 60, 0, BOB)), 0, withdrawals1(BOB, 0, 60));
        commit(info(bytes32(uint256(3)), 1, 0, Enc.withdraw(0, 0, 40, 0, BOB)), 0, withdrawals1(BOB, 0, 40));
        prove(1);
        prove(2);
        prove(3);
        BatchChain.StoredBatch[] memory bs = new BatchChain.StoredBatch[](3);
        BatchChain.Withdrawal[][] memory lists = new BatchChain.Withdrawal[][](3);
        for (uint256 k = 0; k < 3; ++k) {
            bs[k] = batch(k + 1);
        }
        lists[0] = noWithdrawals();
        lists[1] = withdrawals1(BOB, 0, 60);
        lists[2] = withdrawals1(BOB, 0, 40);
        vm.prank(OP);
        rollup.executeBatches(bs, lists);
        assertEq(rollup.batchesExecuted(), 3, "all");
        assertEq(rollup.executedRoot(), bytes32(uint256(3)), "last root");
        assertEq(rollup.pending(BOB, 0), 100, "both credited");
        assertEq(rollup.priorityExecuted(), 1, "deposit retired");
    }

    function testExecuteEmptyCallIsNoop() public {
        commitEmpty();
        prove(1);
        vm.prank(OP);
        rollup.executeBatches(new BatchChain.StoredBatch[](0), new BatchChain.Withdrawal[][](0));
        assertEq(rollup.batchesExecuted(), 0, "nothing");
        assertEq(rollup.executedRoot(), GENESIS_ROOT, "root unchanged");
    }
}

/// @notice revertBatches: only unproven batches, as a suffix; their priority ops return.
contract BatchRevertTest is RollupFixture {
    function setUp() public override {
        super.setUp();
        depositEth(ALICE, ALICE, 10);
        depositEth(ALICE, BOB, 20);
    }

    function twoBatches() internal {
        commit(info(bytes32(uint256(1)), 1, 0, Enc.deposit(0, 0, 10, ALICE)), 1, noWithdrawals());
        commit(info(bytes32(uint256(2)), 2, 0, Enc.deposit(1, 0, 20, BOB)), 1, noWithdrawals());
    }

    function revertReverts(BatchChain.StoredBatch[] memory bs, bytes memory err) internal {
        vm.prank(OP);
        vm.expectRevert(err);
        rollup.revertBatches(bs);
    }

    function testRevertUnprovenBatches() public {
        twoBatches();
        BatchChain.StoredBatch[] memory bs = batches2(batch(1), batch(2));
        vm.expectEmit(address(rollup));
        emit BatchChain.BatchesReverted(1, 2);
        vm.prank(OP);
        rollup.revertBatches(bs);
        assertEq(rollup.batchesCommitted(), 0, "back to genesis");
        assertEq(rollup.batchHashes(1), bytes32(0), "hash 1 deleted");
        assertEq(rollup.batchHashes(2), bytes32(0), "hash 2 deleted");
        assertEq(rollup.priorityCommitted(), 0, "ops returned");
        assertEq(rollup.priorityCount(), 2, "still queued");
        chain.pop();
        chain.pop();
        // The ops can be committed again, in one batch this time, and go through.
        BatchChain.StoredBatch memory b = commit(
            info(bytes32(uint256(3)), 2, 0, bytes.concat(Enc.deposit(0, 0, 10, ALICE), Enc.deposit(1, 0, 20, BOB))),
            2,
            noWithdrawals()
        );
        prove(b.number);
        execute(b.number, noWithdrawals());
        assertEq(rollup.priorityExecuted(), 2, "retired");
    }

    function testRevertSuffix() public {
        twoBatches();
        vm.prank(OP);
        rollup.revertBatches(batches1(batch(2)));
        assertEq(rollup.batchesCommitted(), 1, "batch 1 stays");
        assertEq(rollup.priorityCommitted(), 1, "one op returned");
        assertEq(rollup.batchHashes(1), keccak256(abi.encode(batch(1))), "batch 1 kept");
        chain.pop();
        // A new batch 2 with the same op goes in.
        commit(info(bytes32(uint256(4)), 2, 0, Enc.deposit(1, 0, 20, BOB)), 1, noWithdrawals());
    }

    function testRevertRefusesWrongRange() public {
        twoBatches();
        // Not ending with the last committed batch.
        revertReverts(batches1(batch(1)), abi.encodeWithSelector(BatchChain.WrongBatch.selector, 1));
        revertReverts(new BatchChain.StoredBatch[](0), abi.encodeWithSelector(BatchChain.WrongBatch.selector, 0));
        // Not contiguous.
        revertReverts(batches2(batch(2), batch(2)), abi.encodeWithSelector(BatchChain.WrongBatch.selector, 2));
        BatchChain.StoredBatch[] memory gap = new BatchChain.StoredBatch[](3);
        gap[0] = batch(1);
        gap[1] = batch(1);
        gap[2] = batch(2);
        revertReverts(gap, abi.encodeWithSelector(BatchChain.WrongBatch.selector, 1));
        // Altered contents.
        BatchChain.StoredBatch memory b2 = batch(2);
        b2.priorityOps = 0;
        revertReverts(batches2(batch(1), b2), abi.encodeWithSelector(BatchChain.WrongBatch.selector, 2));
        // Genesis cannot go.
        BatchChain.StoredBatch[] memory all = new BatchChain.StoredBatch[](3);
        all[0] = batch(0);
        all[1] = batch(1);
        all[2] = batch(2);
        revertReverts(all, abi.encodeWithSelector(BatchChain.CannotRevert.selector, uint64(0)));
        assertEq(rollup.batchesCommitted(), 2, "nothing reverted");
    }

    function testRevertRefusesGenesis() public {
        revertReverts(batches1(batch(0)), abi.encodeWithSelector(BatchChain.CannotRevert.selector, uint64(0)));
    }

    function testCannotRevertProven() public {
        twoBatches();
        prove(1);
        revertReverts(batches2(batch(1), batch(2)), abi.encodeWithSelector(BatchChain.CannotRevert.selector, 1));
        vm.prank(OP);
        rollup.revertBatches(batches1(batch(2)));
        assertEq(rollup.batchesCommitted(), 1, "unproven one reverted");
        assertEq(rollup.priorityCommitted(), 1, "its op returned");
    }

    function testCannotRevertExecuted() public {
        twoBatches();
        prove(1);
        execute(1, noWithdrawals());
        revertReverts(batches2(batch(1), batch(2)), abi.encodeWithSelector(BatchChain.CannotRevert.selector, 1));
        prove(2);
        revertReverts(batches1(batch(2)), abi.encodeWithSelector(BatchChain.CannotRevert.selector, 2));
    }

    function testRevertedBatchCannotBeProvenOrExecuted() public {
        twoBatches();
        BatchChain.StoredBatch memory b2 = batch(2);
        vm.prank(OP);
        rollup.revertBatches(batches1(b2));
        prove(1);
        verifier.accept(proof(), b2.commitment);
        vm.prank(OP);
        vm.expectRevert(abi.encodeWithSelector(BatchChain.WrongBatch.selector, 2));
        rollup.proveBatches(batches1(b2), proofs1(proof()));
    }
}
