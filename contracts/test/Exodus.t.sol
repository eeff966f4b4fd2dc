// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {RollupFixture} from "./RollupFixture.sol";
import {MockToken, OneProofVerifier} from "./Mocks.sol";
import {PubdataEncoder as Enc} from "./PubdataEncoder.sol";
import {TreeBuilder} from "./TreeBuilder.sol";
import {Bridge} from "../src/Bridge.sol";
import {BatchChain} from "../src/BatchChain.sol";
import {ExitProof, StateTree} from "../src/StateTree.sol";
import {PoseidonT5} from "../src/PoseidonT5.sol";

/// @notice activateExodus, what exodus stops, reclaimDeposit.
contract ExodusTest is RollupFixture {
    MockToken internal token;
    uint16 internal tokenId;

    function setUp() public override {
        super.setUp();
        (token, tokenId) = addTokenFundedForAlice(1e24);
    }

    function activate() internal {
        rollup.activateExodus();
        assertTrue(rollup.exodus(), "exodus");
    }

    function testRefusedWithEmptyQueue() public {
        vm.warp(block.timestamp + 365 days);
        vm.expectRevert(Bridge.NoExpiredPriorityOp.selector);
        rollup.activateExodus();
    }

    function testRefusedUntilTheDeadlineHasPassed() public {
        uint256 t0 = block.timestamp;
        depositEth(ALICE, ALICE, 1);
        vm.warp(t0 + PD); // the deadline itself
        vm.expectRevert(Bridge.NoExpiredPriorityOp.selector);
        rollup.activateExodus();
        vm.warp(t0 + PD + 1);
        vm.expectEmit(address(rollup));
        emit Bridge.ExodusActivated(0);
        vm.prank(STRANGER); // anyone
        rollup.activateExodus();
        assertTrue(rollup.exodus(), "on");
        vm.expectRevert(Bridge.ExodusActive.selector);
        rollup.activateExodus();
    }

    function testDeadlineOfTheOldestUnexecutedOp() public {
        uint256 t0 = block.timestamp;
        depositEth(ALICE, ALICE, 1);
        vm.warp(t0 + 1000);
        vm.prank(BOB);
        rollup.requestFullExit(0, 0);
        settle(info(bytes32(uint256(1)), 1, 0, Enc.deposit(0, 0, 1, ALICE)), 1, noWithdrawals());
        // Op 0 is executed: its deadline no longer counts; op 1's does.
        vm.warp(t0 + PD + 500);
        vm.expectRevert(Bridge.NoExpiredPriorityOp.selector);
        rollup.activateExodus();
        vm.warp(t0 + 1000 + PD + 1);
        vm.expectEmit(address(rollup));
        emit Bridge.ExodusActivated(1);
        rollup.activateExodus();
    }

    function testCommittedButUnexecutedOpStillCounts() public {
        depositEth(ALICE, ALICE, 1);
        commit(info(bytes32(uint256(1)), 1, 0, Enc.deposit(0, 0, 1, ALICE)), 1, noWithdrawals());
        prove(1);
        vm.warp(block.timestamp + PD + 1);
        activate();
    }

    function testNoExodusOnceEverythingIsExecuted() public {
        depositEth(ALICE, ALICE, 1);
        settle(info(bytes32(uint256(1)), 1, 0, Enc.deposit(0, 0, 1, ALICE)), 1, noWithdrawals());
        vm.warp(block.timestamp + 10 * PD);
        vm.expectRevert(Bridge.NoExpiredPriorityOp.selector);
        rollup.activateExodus();
    }

    function testExodusStopsTheRollup() public {
        depositEth(ALICE, ALICE, 10);
        depositEth(ALICE, BOB, 10);
        commit(info(bytes32(uint256(1)), 1, 0, Enc.deposit(0, 0, 10, ALICE)), 1, noWithdrawals());
        prove(1);
        commit(info(bytes32(uint256(2)), 2, 0, Enc.deposit(1, 0, 10, BOB)), 1, noWithdrawals());
        verifier.accept(proof(), batch(2).commitment);
        vm.warp(block.timestamp + PD + 1);
        activate();

        BatchChain.StoredBatch memory last = tip();
        BatchChain.CommitInfo[] memory l = infos1(info(bytes32(uint256(3)), 2, 0, ""));
        BatchChain.StoredBatch[] memory b1 = batches1(batch(1));
        BatchChain.StoredBatch[] memory b2 = batches1(batch(2));
        uint256[8][] memory ps = proofs1(proof());
        BatchChain.Withdrawal[][] memory lists = lists1(noWithdrawals());
        vm.deal(ALICE, 1 ether);
        vm.startPrank(OP);
        vm.expectRevert(Bridge.ExodusActive.selector);
        rollup.commitBatches(last, l);
        vm.expectRevert(Bridge.ExodusActive.selector);
        rollup.proveBatches(b2, ps);
        vm.expectRevert(Bridge.ExodusActive.selector);
        rollup.executeBatches(b1, lists);
        // Batch 2 is committed and unproven: revertable before exodus, frozen after.
        vm.expectRevert(Bridge.ExodusActive.selector);
        rollup.revertBatches(b2);
        vm.stopPrank();
        vm.startPrank(ALICE);
        vm.expectRevert(Bridge.ExodusActive.selector);
        rollup.depositETH{value: 1}(ALICE);
        vm.expectRevert(Bridge.ExodusActive.selector);
        rollup.depositERC20(address(token), 1, ALICE);
        vm.expectRevert(Bridge.ExodusActive.selector);
        rollup.requestFullExit(0, 0);
        vm.stopPrank();
        assertEq(rollup.batchesExecuted(), 0, "nothing executed");
        assertEq(rollup.priorityCount(), 2, "nothing queued");
    }

    function testWithdrawPendingStillWorksInExodus() public {
        depositEth(ALICE, ALICE, 10);
        settle(
            info(bytes32(uint256(1)), 1, 0, bytes.concat(Enc.deposit(0, 0, 10, ALICE), Enc.withdraw(0, 0, 4, 0, BOB))),
            1,
            withdrawals1(BOB, 0, 4)
        );
        depositEth(ALICE, ALICE, 1);
        vm.warp(block.timestamp + PD + 1);
        activate();
        rollup.withdrawPending(BOB, 0);
        assertEq(BOB.balance, 4, "paid");
    }

    function testReclaimDepositRefusedBeforeExodus() public {
        depositEth(ALICE, BOB, 10);
        vm.expectRevert(Bridge.ExodusNotActive.selector);
        rollup.reclaimDeposit(0, BOB, 0, 10);
    }

    /// Ops: 0 (deposit, executed), 1 (deposit, committed), 2 (token deposit, queued),
    /// 3 (full exit, queued).
    function reclaimScenario() internal {
        depositEth(ALICE, ALICE, 10);
        depositEth(ALICE, BOB, 20);
        vm.prank(ALICE);
        rollup.depositERC20(address(token), 30, CAROL);
        vm.prank(CAROL);
        rollup.requestFullExit(2, tokenId);
        settle(info(bytes32(uint256(1)), 1, 0, Enc.deposit(0, 0, 10, ALICE)), 1, noWithdrawals());
        commit(info(bytes32(uint256(2)), 2, 0, Enc.deposit(1, 0, 20, BOB)), 1, noWithdrawals());
        vm.warp(block.timestamp + PD + 1);
        activate();
    }

    function notReclaimable(uint64 opId) internal pure returns (bytes memory) {
        return abi.encodeWithSelector(Bridge.NotReclaimable.selector, opId);
    }

    function testReclaimDeposits() public {
        reclaimScenario();
        // Executed: its funds are in the executed state, not reclaimable.
        vm.expectRevert(notReclaimable(0));
        rollup.reclaimDeposit(0, ALICE, 0, 10);

        // Committed but not executed.
        vm.expectEmit(address(rollup));
        emit Bridge.DepositReclaimed(1, BOB, 0, 20);
        vm.expectEmit(address(rollup));
        emit Bridge.WithdrawalPending(BOB, 0, 20);
        vm.prank(STRANGER);
        rollup.reclaimDeposit(1, BOB, 0, 20);
        assertEq(rollup.pending(BOB, 0), 20, "Bob's back");
        assertEq(rollup.pooled(0), 10, "Alice's stays pooled");
        (bytes20 h,) = rollup.priorityOps(1);
        assertTrue(h == bytes20(0), "op deleted");

        // Queued.
        rollup.reclaimDeposit(2, CAROL, tokenId, 30);
        assertEq(rollup.pending(CAROL, tokenId), 30, "Carol's back");
        assertEq(rollup.pooled(tokenId), 0, "token pool empty");

        // Twice.
        vm.expectRevert(notReclaimable(1));
        rollup.reclaimDeposit(1, BOB, 0, 20);
        vm.expectRevert(notReclaimable(2));
        rollup.reclaimDeposit(2, CAROL, tokenId, 30);

        rollup.withdrawPending(BOB, 0);
        rollup.withdrawPending(CAROL, tokenId);
        assertEq(BOB.balance, 20, "Bob paid");
        assertEq(token.balanceOf(CAROL), 30, "Carol paid");
        assertEq(address(rollup).balance, 10, "Alice's 10 left for her exit proof");
    }

    function testReclaimDepositRefusesWrongFields() public {
        reclaimScenario();
        vm.expectRevert(notReclaimable(2));
        rollup.reclaimDeposit(2, BOB, tokenId, 30); // recipient
        vm.expectRevert(notReclaimable(2));
        rollup.reclaimDeposit(2, CAROL, 0, 30); // token
        vm.expectRevert(notReclaimable(2));
        rollup.reclaimDeposit(2, CAROL, tokenId, 31); // amount
        vm.expectRevert(notReclaimable(2));
        rollup.reclaimDeposit(2, CAROL, tokenId, 29);
        vm.expectRevert(notReclaimable(1));
        rollup.reclaimDeposit(1, CAROL, tokenId, 30); // another op's fields
        // A full exit is no deposit; and there is no op 4.
        vm.expectRevert(notReclaimable(3));
        rollup.reclaimDeposit(3, CAROL, tokenId, 0);
        vm.expectRevert(notReclaimable(4));
        rollup.reclaimDeposit(4, CAROL, tokenId, 30);
        vm.expectRevert(notReclaimable(type(uint64).max));
        rollup.reclaimDeposit(type(uint64).max, CAROL, tokenId, 30);
        assertEq(rollup.pooled(tokenId), 30, "nothing moved");
    }

    function testExodusWithdrawRefusedBeforeExodus() public {
        ExitProof memory p;
        p.balance = 1;
        vm.expectRevert(Bridge.ExodusNotActive.selector);
        rollup.exodusWithdraw(p);
    }
}

/// @notice exodusWithdraw against a real Poseidon state: the rollup's genesis root is the
///         root of a two-account state built in the test, so `executedRoot` is that state.
contract ExodusWithdrawTest is RollupFixture {
    uint256 internal constant Q = 0x30644e72e131a029b85045b68181585d2833e84879b9709143e1f593f0000001;

    MockToken internal token;
    uint16 internal tokenId;
    uint256[13] internal e;
    TreeBuilder.Account[] internal accounts;

    function setUp() public override {
        stateTree = new StateTree();
        verifier = new OneProofVerifier();
        uint256[13] memory empty = TreeBuilder.emptyHashes();
        e = empty;
        // Account 5: Alice, nonce 3, a key, 1000 wei and 777 of token 1.
        TreeBuilder.Account storage a = accounts.push();
        a.id = 5;
        a.owner = ALICE;
        a.nonce = 3;
        a.pubkeyX = 0x0bb77a6ad63e739b4eacb2e09d6277c12ab8d8010534e0b62893f3f6bb957051;
        a.pubkeyY = 0x25797203f7a0b24925572e1cd16bf9edfce0051fb9e133774b3c257a872d7d8b;
        a.balances.push(TreeBuilder.Leaf(0, 1000));
        a.balances.push(TreeBuilder.Leaf(1, 777));
        // Account 4^11 * 3 + 2: Bob, no key, 50 wei.
        TreeBuilder.Account storage b = accounts.push();
        b.id = uint32(3 * 4 ** 11 + 2);
        b.owner = BOB;
        b.balances.push(TreeBuilder.Leaf(0, 50));
        // Account 6 (a sibling of 5's leaf): Carol, 1 wei.
        TreeBuilder.Account storage c = accounts.push();
        c.id = 6;
        c.owner = CAROL;
        c.nonce = 1;
        c.balances.push(TreeBuilder.Leaf(0, 1));

        deploy(verifier, CHUNKS, bytes32(TreeBuilder.stateRoot(accounts, empty)));
        token = new MockToken();
        tokenId = addToken(address(token));
        assertEq(tokenId, 1, "token 1");
        addToken(address(new MockToken())); // token 2: listed, held by nobody
        // The pools must cover the genesis balances (a synthetic genesis has no deposits):
        // these deposits pool the funds and, never executed, make exodus possible.
        depositEth(CAROL, CAROL, 2000);
        token.mint(CAROL, 1000);
        vm.startPrank(CAROL);
        token.approve(address(rollup), 1000);
        rollup.depositERC20(address(token), 1000, CAROL);
        vm.stopPrank();
        vm.warp(block.timestamp + PD + 1);
        rollup.activateExodus();
    }

    function proofOf(uint256 which, uint16 token_) internal view returns (ExitProof memory) {
        return TreeBuilder.exitProof(accounts, which, token_, e);
    }

    function testTheGenesisIsTheExecutedState() public view {
        assertEq(rollup.executedRoot(), bytes32(TreeBuilder.stateRoot(accounts, e)), "root");
        assertEq(uint256(rollup.executedRoot()), stateTree.accountRoot(proofOf(0, 0)), "proof of account 5");
    }

    function testExodusWithdraw() public {
        ExitProof memory p = proofOf(0, 0);
        assertEq(p.balance, 1000, "balance");
        vm.expectEmit(address(rollup));
        emit Bridge.ExodusWithdrawn(5, 0, ALICE, 1000);
        vm.expectEmit(address(rollup));
        emit Bridge.WithdrawalPending(ALICE, 0, 1000);
        vm.prank(STRANGER); // anyone may submit it; the owner gets the funds
        rollup.exodusWithdraw(p);
        assertEq(rollup.pending(ALICE, 0), 1000, "pending");
        assertEq(rollup.pooled(0), 1000, "pool");
        assertTrue(rollup.exited(5, 0), "exited");
        assertTrue(!rollup.exited(5, 1), "other token");

        vm.expectRevert(abi.encodeWithSelector(Bridge.AlreadyExited.selector, uint32(5), uint16(0)));
        rollup.exodusWithdraw(p);

        rollup.exodusWithdraw(proofOf(0, 1));
        assertEq(rollup.pending(ALICE, 1), 777, "token pending");
        rollup.exodusWithdraw(proofOf(1, 0));
        assertEq(rollup.pending(BOB, 0), 50, "Bob's");
        rollup.exodusWithdraw(proofOf(2, 0));
        assertEq(rollup.pending(CAROL, 0), 1, "Carol's");

        rollup.withdrawPending(ALICE, 0);
        rollup.withdrawPending(ALICE, 1);
        assertEq(ALICE.balance, 1000, "paid");
        assertEq(token.balanceOf(ALICE), 777, "paid tokens");
        vm.expectRevert(abi.encodeWithSelector(Bridge.AlreadyExited.selector, uint32(5), uint16(1)));
        rollup.exodusWithdraw(proofOf(0, 1));
    }

    function testGasExodusWithdraw() public {
        ExitProof memory p = proofOf(0, 1);
        uint256 before = gasleft();
        rollup.exodusWithdraw(p);
        emit log_named_uint("exodusWithdraw (18 Poseidon hashes)", before - gasleft());
        assertEq(rollup.pending(ALICE, 1), 777, "credited");
    }

    function wrong(ExitProof memory p) internal {
        vm.expectRevert(Bridge.WrongExitProof.selector);
        rollup.exodusWithdraw(p);
    }

    function copyOf(ExitProof memory p) internal pure returns (ExitProof memory) {
        return abi.decode(abi.encode(p), (ExitProof));
    }

    function testRefusesWrongProofs() public {
        ExitProof memory base = proofOf(0, 0);
        ExitProof memory p = copyOf(base);
        p.balance += 1;
        wrong(p);
        p = copyOf(base);
        p.balance -= 1;
        wrong(p);
        p = copyOf(base);
        p.owner = BOB;
        wrong(p);
        p = copyOf(base);
        p.nonce = 2;
        wrong(p);
        p = copyOf(base);
        p.pubkeyX = 0;
        wrong(p);
        p = copyOf(base);
        p.pubkeyY += 1;
        wrong(p);
        p = copyOf(base);
        p.accountId = 4; // another position under the same parent
        wrong(p);
        p = copyOf(base);
        p.accountId = 5 + 4 ** 6;
        wrong(p);
        p = copyOf(base);
        p.tokenId = 2; // a listed token Alice holds none of, with token 0's path
        wrong(p);
        // Every sibling matters.
        for (uint256 level = 0; level < 5; ++level) {
            for (uint256 s = 0; s < 3; ++s) {
                p = copyOf(base);
                p.balancePath[level][s] += 1;
                wrong(p);
            }
        }
        for (uint256 level = 0; level < 12; ++level) {
            p = copyOf(base);
            p.accountPath[level][level % 3] += 1;
            wrong(p);
        }
        // Siblings in another order (Carol's leaf moved to another position).
        p = copyOf(base);
        (p.accountPath[0][0], p.accountPath[0][1]) = (p.accountPath[0][1], p.accountPath[0][0]);
        wrong(p);
        // Bob's proof for Alice's account.
        p = proofOf(1, 0);
        p.accountId = 5;
        wrong(p);
        assertTrue(!rollup.exited(5, 0), "nothing exited");
        assertEq(rollup.pending(ALICE, 0), 0, "nothing pending");
    }

    function testRefusesOutOfRangeAndZero() public {
        ExitProof memory base = proofOf(0, 0);
        ExitProof memory p = copyOf(base);
        p.accountId = 1 << 24;
        vm.expectRevert(abi.encodeWithSelector(Bridge.AccountOutOfRange.selector, uint32(1 << 24)));
        rollup.exodusWithdraw(p);
        p = copyOf(base);
        p.tokenId = 3;
        vm.expectRevert(abi.encodeWithSelector(Bridge.TokenNotListed.selector, uint16(3)));
        rollup.exodusWithdraw(p);
        // A valid proof of a zero balance (Alice holds none of token 2).
        p = proofOf(0, 2);
        assertEq(p.balance, 0, "zero");
        assertEq(stateTree.accountRoot(p), uint256(rollup.executedRoot()), "valid proof of 0");
        vm.expectRevert(Bridge.ZeroAmount.selector);
        rollup.exodusWithdraw(p);
        // A sibling that is not a field element.
        p = copyOf(base);
        p.accountPath[3][1] = Q;
        vm.expectRevert(abi.encodeWithSelector(PoseidonT5.NotAFieldElement.selector, Q));
        rollup.exodusWithdraw(p);
        // A sibling + Q: the same value mod Q, refused rather than accepted as the same node.
        p = copyOf(base);
        p.balancePath[0][0] += Q;
        vm.expectRevert(abi.encodeWithSelector(PoseidonT5.NotAFieldElement.selector, p.balancePath[0][0]));
        rollup.exodusWithdraw(p);
    }
}

/// @notice The coherent path: genesis is the empty state; a batch deposits to Alice and
///         moves the root to the state holding her balance; after exodus she proves it, and
///         the other user reclaims a deposit that was never executed. Every wei leaves once.
contract ExodusEndToEndTest is RollupFixture {
    uint256[13] internal e;
    TreeBuilder.Account[] internal accounts;

    function setUp() public override {
        stateTree = new StateTree();
        verifier = new OneProofVerifier();
        uint256[13] memory empty = TreeBuilder.emptyHashes();
        e = empty;
        deploy(verifier, CHUNKS, bytes32(empty[12]));
    }

    function testExitAfterExecutedBatch() public {
        depositEth(ALICE, ALICE, 1000);
        TreeBuilder.Account storage a = accounts.push();
        a.id = 0;
        a.owner = ALICE;
        a.balances.push(TreeBuilder.Leaf(0, 1000));
        bytes32 root = bytes32(TreeBuilder.stateRoot(accounts, e));
        settle(info(root, 1, 0, Enc.deposit(0, 0, 1000, ALICE)), 1, noWithdrawals());
        assertEq(rollup.executedRoot(), root, "executed");

        depositEth(BOB, BOB, 5);
        vm.warp(block.timestamp + PD + 1);
        rollup.activateExodus();

        // Alice's deposit was executed: it comes back through the exit proof only.
        vm.expectRevert(abi.encodeWithSelector(Bridge.NotReclaimable.selector, uint64(0)));
        rollup.reclaimDeposit(0, ALICE, 0, 1000);
        rollup.exodusWithdraw(TreeBuilder.exitProof(accounts, 0, 0, e));
        rollup.reclaimDeposit(1, BOB, 0, 5);
        assertEq(rollup.pooled(0), 0, "pool drained");
        rollup.withdrawPending(ALICE, 0);
        rollup.withdrawPending(BOB, 0);
        assertEq(ALICE.balance, 1000, "Alice");
        assertEq(BOB.balance, 5, "Bob");
        assertEq(address(rollup).balance, 0, "empty");
    }
}
