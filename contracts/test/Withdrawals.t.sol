// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {RollupFixture} from "./RollupFixture.sol";
import {TokenLedger, MockToken, NoReturnToken, FalseToken, ReentrantToken, EthReceiver} from "./Mocks.sol";
import {PubdataEncoder as Enc} from "./PubdataEncoder.sol";
import {Bridge} from "../src/Bridge.sol";
import {SafeToken} from "../src/SafeToken.sol";

/// @notice withdrawPending: ETH and ERC-20 payouts, once, to the owner, re-entrancy.
contract WithdrawPendingTest is RollupFixture {
    /// @dev Makes `amount` of token `id` pending for `owner`: Alice deposits it, a batch
    ///      credits it to her L2 account and withdraws it to `owner`.
    function credit(uint16 id, address owner, uint128 amount) internal {
        if (id == 0) {
            depositEth(ALICE, ALICE, amount);
        } else {
            TokenLedger t = TokenLedger(rollup.tokens(id));
            t.mint(ALICE, amount);
            vm.startPrank(ALICE);
            t.approve(address(rollup), amount);
            rollup.depositERC20(address(t), amount, ALICE);
            vm.stopPrank();
        }
        bytes memory pubdata = bytes.concat(Enc.deposit(0, id, amount, ALICE), Enc.withdraw(0, id, amount, 0, owner));
        settle(info(bytes32(chain.length), 1, 0, pubdata), 1, withdrawals1(owner, id, amount));
        assertEq(rollup.pending(owner, id), amount, "credited");
    }

    function testWithdrawEth() public {
        credit(0, BOB, 1 ether);
        uint256 before = BOB.balance;
        vm.expectEmit(address(rollup));
        emit Bridge.Withdrawn(BOB, 0, 1 ether);
        vm.prank(BOB);
        rollup.withdrawPending(BOB, 0);
        assertEq(BOB.balance - before, 1 ether, "paid");
        assertEq(rollup.pending(BOB, 0), 0, "settled");
        assertEq(address(rollup).balance, 0, "nothing left");
        vm.prank(BOB);
        vm.expectRevert(abi.encodeWithSelector(Bridge.NothingPending.selector, BOB, uint16(0)));
        rollup.withdrawPending(BOB, 0);
    }

    function testWithdrawErc20() public {
        MockToken t = new MockToken();
        uint16 id = addToken(address(t));
        credit(id, BOB, 500);
        vm.expectEmit(address(rollup));
        emit Bridge.Withdrawn(BOB, id, 500);
        vm.prank(BOB);
        rollup.withdrawPending(BOB, id);
        assertEq(t.balanceOf(BOB), 500, "paid");
        assertEq(t.balanceOf(address(rollup)), 0, "nothing left");
        vm.expectRevert(abi.encodeWithSelector(Bridge.NothingPending.selector, BOB, id));
        rollup.withdrawPending(BOB, id);
    }

    function testWithdrawTokenWithoutReturnValue() public {
        NoReturnToken t = new NoReturnToken();
        uint16 id = addToken(address(t));
        credit(id, BOB, 500);
        rollup.withdrawPending(BOB, id);
        assertEq(t.balanceOf(BOB), 500, "paid");
    }

    function testNothingPending() public {
        vm.expectRevert(abi.encodeWithSelector(Bridge.NothingPending.selector, BOB, uint16(0)));
        rollup.withdrawPending(BOB, 0);
        // Pending for Bob is not pending for Carol, nor in another token.
        credit(0, BOB, 5);
        vm.expectRevert(abi.encodeWithSelector(Bridge.NothingPending.selector, CAROL, uint16(0)));
        rollup.withdrawPending(CAROL, 0);
        vm.expectRevert(abi.encodeWithSelector(Bridge.NothingPending.selector, BOB, uint16(7)));
        rollup.withdrawPending(BOB, 7);
    }

    function testAnyoneMayWithdrawForTheOwner() public {
        credit(0, BOB, 3 ether);
        uint256 strangerBefore = STRANGER.balance;
        vm.prank(STRANGER);
        rollup.withdrawPending(BOB, 0);
        assertEq(BOB.balance, 3 ether, "the owner is paid");
        assertEq(STRANGER.balance, strangerBefore, "the caller is not");
    }

    function testFeeOnTransferWithdrawal() public {
        MockToken t = new MockToken();
        uint16 id = addToken(address(t));
        credit(id, BOB, 10_000);
        t.setFeeBps(250);
        rollup.withdrawPending(BOB, id);
        assertEq(t.balanceOf(BOB), 9750, "the token's fee comes off");
        assertEq(t.balanceOf(address(rollup)), 0, "the debt is settled in full");
        assertEq(rollup.pending(BOB, id), 0, "nothing pending");
    }

    function testTokenReturningFalseKeepsThePending() public {
        FalseToken t = new FalseToken();
        uint16 id = addToken(address(t));
        credit(id, BOB, 500);
        t.setFailures(true, false);
        vm.expectRevert(abi.encodeWithSelector(SafeToken.TokenCallFailed.selector, address(t)));
        rollup.withdrawPending(BOB, id);
        assertEq(rollup.pending(BOB, id), 500, "still pending");
        t.setFailures(false, false);
        rollup.withdrawPending(BOB, id);
        assertEq(t.balanceOf(BOB), 500, "paid later");
    }

    function testRejectingReceiverKeepsThePending() public {
        EthReceiver r = new EthReceiver();
        r.configure(EthReceiver.Mode.Reject, address(0), "");
        credit(0, address(r), 1 ether);
        vm.expectRevert(abi.encodeWithSelector(Bridge.EthTransferFailed.selector, address(r)));
        rollup.withdrawPending(address(r), 0);
        assertEq(rollup.pending(address(r), 0), 1 ether, "still pending");
        r.configure(EthReceiver.Mode.Accept, address(0), "");
        rollup.withdrawPending(address(r), 0);
        assertEq(address(r).balance, 1 ether, "paid later");
    }

    function testReentrantReceiverCannotWithdrawTwice() public {
        EthReceiver r = new EthReceiver();
        credit(0, address(r), 1 ether);
        credit(0, CAROL, 1 ether);
        bytes[3] memory payloads = [
            abi.encodeCall(Bridge.withdrawPending, (address(r), 0)),
            abi.encodeCall(Bridge.withdrawPending, (CAROL, 0)),
            abi.encodeCall(Bridge.depositETH, (address(r)))
        ];
        for (uint256 k = 0; k < payloads.length; ++k) {
            if (k > 0) credit(0, address(r), 1 ether);
            r.configure(EthReceiver.Mode.Reenter, address(rollup), payloads[k]);
            uint256 before = address(r).balance;
            rollup.withdrawPending(address(r), 0);
            assertTrue(!r.reentryOk(), "re-entry refused");
            assertEq(r.reentryData(), abi.encodeWithSelector(Bridge.Reentrancy.selector), "with Reentrancy");
            assertEq(address(r).balance - before, 1 ether, "paid once");
            assertEq(rollup.pending(address(r), 0), 0, "settled");
        }
        assertEq(rollup.pending(CAROL, 0), 1 ether, "Carol's untouched");
        assertEq(address(rollup).balance, 1 ether, "only Carol's left");
        assertEq(rollup.priorityCount(), 4, "no deposit slipped in");
    }

    function testReentrantReceiverBubblingFailsWholly() public {
        EthReceiver r = new EthReceiver();
        credit(0, address(r), 1 ether);
        r.configure(
            EthReceiver.Mode.ReenterAndBubble, address(rollup), abi.encodeCall(Bridge.withdrawPending, (address(r), 0))
        );
        vm.expectRevert(abi.encodeWithSelector(Bridge.EthTransferFailed.selector, address(r)));
        rollup.withdrawPending(address(r), 0);
        assertEq(rollup.pending(address(r), 0), 1 ether, "still pending");
        assertEq(address(rollup).balance, 1 ether, "still held");
    }

    function testReentrantTokenOnWithdrawal() public {
        ReentrantToken t = new ReentrantToken();
        uint16 id = addToken(address(t));
        credit(id, BOB, 500);
        credit(0, BOB, 7);
        bytes[2] memory payloads =
            [abi.encodeCall(Bridge.withdrawPending, (BOB, id)), abi.encodeCall(Bridge.withdrawPending, (BOB, 0))];
        for (uint256 k = 0; k < payloads.length; ++k) {
            if (k > 0) credit(id, BOB, 500);
            t.arm(address(rollup), payloads[k]);
            rollup.withdrawPending(BOB, id);
            assertTrue(t.reentered() && !t.reentryOk(), "re-entry refused");
            assertEq(t.reentryData(), abi.encodeWithSelector(Bridge.Reentrancy.selector), "with Reentrancy");
        }
        assertEq(t.balanceOf(BOB), 1000, "paid once per credit");
        assertEq(rollup.pending(BOB, 0), 7, "ETH untouched");
        assertEq(t.balanceOf(address(rollup)), 0, "nothing left");
    }

    function testReentrantTokenOnDeposit() public {
        ReentrantToken t = new ReentrantToken();
        uint16 id = addToken(address(t));
        t.mint(ALICE, 1000);
        vm.prank(ALICE);
        t.approve(address(rollup), 1000);
        // The token re-enters as itself: depositERC20 from the token's own balance.
        t.mint(address(t), 100);
        vm.prank(address(t));
        t.approve(address(rollup), 100);
        t.arm(address(rollup), abi.encodeCall(Bridge.depositERC20, (address(t), 100, BOB)));
        vm.prank(ALICE);
        rollup.depositERC20(address(t), 1000, ALICE);
        assertTrue(t.reentered() && !t.reentryOk(), "re-entry refused");
        assertEq(t.reentryData(), abi.encodeWithSelector(Bridge.Reentrancy.selector), "with Reentrancy");
        assertEq(rollup.priorityCount(), 1, "one deposit");
        assertEq(rollup.pooled(id), 1000, "pooled what arrived");
        assertEq(t.balanceOf(address(rollup)), 1000, "held");
    }

    /// @dev The storage slot of `pending[owner][token]`, found by probing rather than
    ///      hard-coding the layout: the base slot k for which the mapping entry reads back.
    function pendingSlot(address owner, uint16 token) internal returns (bytes32) {
        for (uint256 k = 0; k < 64; ++k) {
            bytes32 slot = keccak256(abi.encode(uint256(token), keccak256(abi.encode(owner, k))));
            bytes32 old = vm.load(address(rollup), slot);
            vm.store(address(rollup), slot, bytes32(uint256(0x5eed)));
            bool hit = rollup.pending(owner, token) == 0x5eed;
            vm.store(address(rollup), slot, old);
            if (hit) return slot;
        }
        revert("pending slot not found");
    }

    /// Nothing bounds what accumulates in `pending` (each withdrawal adds up to 2^112 - 1 and
    /// owners need not collect): a credit must not overflow, or the proven batch carrying it
    /// could neither execute nor be reverted. Regression test: `pending` was uint128.
    function testPendingAccumulatesPast2To128() public {
        depositEth(ALICE, ALICE, 10);
        settle(info(bytes32(uint256(1)), 1, 0, Enc.deposit(0, 0, 10, ALICE)), 1, noWithdrawals());
        commit(info(bytes32(uint256(2)), 1, 0, Enc.withdraw(0, 0, 1, 0, BOB)), 0, withdrawals1(BOB, 0, 1));
        prove(2);
        // Bob's uncollected history, as 2^16 maximal withdrawals would leave it.
        vm.store(address(rollup), pendingSlot(BOB, 0), bytes32(uint256(type(uint128).max)));
        execute(2, withdrawals1(BOB, 0, 1));
        assertEq(rollup.pending(BOB, 0), uint256(1) << 128, "credited past 2^128");
    }
}
