// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {RollupFixture} from "./RollupFixture.sol";
import {MockToken} from "./Mocks.sol";
import {PubdataEncoder as Enc} from "./PubdataEncoder.sol";
import {BatchChain} from "../src/BatchChain.sol";
import {Bridge} from "../src/Bridge.sol";

/// @notice Gas of the user and operator entry points, printed with
///         `forge test --isolate -vv --match-test Gas`. With --isolate every call from the
///         test runs as its own transaction (cold accounts and slots), and "[measured]" is the
///         whole transaction's gas, the 21000 base and the calldata included; "[base+calldata]"
///         is that intrinsic part (4 gas per zero byte, 16 per other byte), so execution gas is
///         the difference. Without --isolate, "[measured]" is execution gas only and later
///         calls in a test see slots warmed by earlier ones.
contract GasTest is RollupFixture {
    MockToken internal token;
    uint16 internal tokenId;

    function setUp() public override {
        super.setUp();
        (token, tokenId) = addTokenFundedForAlice(1e24);
        vm.deal(ALICE, 100 ether);
    }

    function calldataGas(bytes memory data) internal pure returns (uint256 g) {
        g = 21000;
        for (uint256 k = 0; k < data.length; ++k) {
            g += data[k] == 0 ? 4 : 16;
        }
    }

    /// @dev Calls the rollup from `from` with `data`, logs the gas, bubbles a revert.
    function measure(string memory name, address from, bytes memory data, uint256 value)
        internal
        returns (uint256 used)
    {
        vm.prank(from);
        uint256 before = gasleft();
        (bool ok, bytes memory ret) = address(rollup).call{value: value}(data);
        used = before - gasleft();
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(ret, 0x20), mload(ret))
            }
        }
        emit log_named_uint(string.concat(name, " [measured]"), used);
        emit log_named_uint(string.concat(name, " [base+calldata]"), calldataGas(data));
    }

    function testGasDepositEth() public {
        measure("depositETH, first", ALICE, abi.encodeCall(Bridge.depositETH, (BOB)), 1 ether);
        measure("depositETH, second", ALICE, abi.encodeCall(Bridge.depositETH, (BOB)), 1 ether);
        assertEq(rollup.priorityCount(), 2, "queued");
    }

    function testGasDepositErc20() public {
        measure("depositERC20, first", ALICE, abi.encodeCall(Bridge.depositERC20, (address(token), 1000, BOB)), 0);
        measure("depositERC20, second", ALICE, abi.encodeCall(Bridge.depositERC20, (address(token), 1000, BOB)), 0);
        assertEq(rollup.pooled(tokenId), 2000, "pooled");
    }

    function testGasRequestFullExit() public {
        measure("requestFullExit", BOB, abi.encodeCall(Bridge.requestFullExit, (3, tokenId)), 0);
        assertEq(rollup.priorityCount(), 1, "queued");
    }

    function measureCommit(string memory what, bytes memory pubdata, uint64 priorityOps) internal {
        BatchChain.StoredBatch memory last = tip();
        BatchChain.CommitInfo memory i = info(bytes32(uint256(1)), 10, 0, pubdata);
        measure(what, OP, abi.encodeCall(BatchChain.commitBatches, (last, infos1(i))), 0);
        chain.push(expectedBatch(last, i, priorityOps, noWithdrawals()));
        assertEq(rollup.batchHashes(1), keccak256(abi.encode(tip())), "committed");
    }

    function testGasCommitOneTransfer() public {
        measureCommit("commitBatches, 1 transfer", Enc.transfer(1, 2, 0, 100, 1), 0);
    }

    function testGasCommitSixTransfers() public {
        bytes memory pubdata;
        for (uint256 k = 0; k < 6; ++k) {
            // forge-lint: disable-next-line(unsafe-typecast)
            pubdata = bytes.concat(pubdata, Enc.transfer(uint32(k + 1), uint32(k + 2), 0, 100, 1));
        }
        measureCommit("commitBatches, 6 transfers", pubdata, 0);
    }

    function testGasCommitThirtyTransfers() public {
        bytes memory pubdata;
        for (uint256 k = 0; k < CHUNKS; ++k) {
            // forge-lint: disable-next-line(unsafe-typecast)
            pubdata = bytes.concat(pubdata, Enc.transfer(uint32(k + 1), uint32(k + 2), 0, 100, 1));
        }
        measureCommit("commitBatches, 30 transfers", pubdata, 0);
    }

    function testGasCommitTwoDeposits() public {
        vm.prank(ALICE);
        rollup.depositETH{value: 1 ether}(BOB);
        vm.prank(ALICE);
        rollup.depositERC20(address(token), 1000, CAROL);
        measureCommit(
            "commitBatches, 2 deposits",
            bytes.concat(Enc.deposit(0, 0, 1 ether, BOB), Enc.deposit(1, tokenId, 1000, CAROL)),
            2
        );
    }

    function testGasExecute() public {
        // Batch 1: a deposit; batch 2: a withdrawal.
        vm.prank(ALICE);
        rollup.depositETH{value: 1 ether}(BOB);
        commit(info(bytes32(uint256(1)), 1, 0, Enc.deposit(0, 0, 1 ether, BOB)), 1, noWithdrawals());
        commit(
            info(bytes32(uint256(2)), 1, 0, Enc.withdraw(0, 0, 0.5 ether, 0, BOB)), 0, withdrawals1(BOB, 0, 0.5 ether)
        );
        prove(1);
        prove(2);
        BatchChain.StoredBatch[] memory b1 = batches1(batch(1));
        BatchChain.StoredBatch[] memory b2 = batches1(batch(2));
        BatchChain.Withdrawal[][] memory none = lists1(noWithdrawals());
        BatchChain.Withdrawal[][] memory one = lists1(withdrawals1(BOB, 0, 0.5 ether));
        measure(
            "executeBatches, 1 batch retiring 1 deposit", OP, abi.encodeCall(BatchChain.executeBatches, (b1, none)), 0
        );
        measure(
            "executeBatches, 1 batch with 1 withdrawal", OP, abi.encodeCall(BatchChain.executeBatches, (b2, one)), 0
        );
        assertEq(rollup.pending(BOB, 0), 0.5 ether, "credited");
    }

    function testGasWithdrawPending() public {
        vm.prank(ALICE);
        rollup.depositETH{value: 1 ether}(BOB);
        vm.prank(ALICE);
        rollup.depositERC20(address(token), 1000, BOB);
        bytes memory pubdata = bytes.concat(
            Enc.deposit(0, 0, 1 ether, BOB),
            Enc.deposit(0, tokenId, 1000, BOB),
            Enc.withdraw(0, 0, 1 ether, 0, BOB),
            Enc.withdraw(0, tokenId, 1000, 0, BOB)
        );
        BatchChain.Withdrawal[] memory ws = new BatchChain.Withdrawal[](2);
        ws[0] = withdrawal(BOB, 0, 1 ether);
        ws[1] = withdrawal(BOB, tokenId, 1000);
        settle(info(bytes32(uint256(1)), 1, 0, pubdata), 2, ws);
        measure("withdrawPending ETH", STRANGER, abi.encodeCall(Bridge.withdrawPending, (BOB, 0)), 0);
        measure("withdrawPending ERC-20", STRANGER, abi.encodeCall(Bridge.withdrawPending, (BOB, tokenId)), 0);
        assertEq(token.balanceOf(BOB), 1000, "paid");
    }
}
