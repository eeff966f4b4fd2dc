// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {RollupFixture} from "./RollupFixture.sol";
import {MockToken} from "./Mocks.sol";
import {PubdataEncoder as Enc} from "./PubdataEncoder.sol";
import {BatchChain} from "../src/BatchChain.sol";

/// @notice Conservation of funds over random sequences of deposits (ETH, a plain token and a
///         fee-on-transfer token), settled batches with deposits and withdrawals, payouts and,
///         at the end, exodus with deposit reclaims. After every step, per token:
///         - held by the contract == pooled + sum of pending, and
///         - pooled == the L2 balances (a model kept by the test) + deposits not yet executed.
contract ConservationTest is RollupFixture {
    struct Deposit {
        uint8 user;
        uint16 token;
        uint128 amount;
    }

    MockToken[3] internal tokens; // index 0 unused (ETH)
    address[3] internal users;
    /// @dev L2 balance per user (account id = user index) and token.
    mapping(uint256 => mapping(uint16 => uint256)) internal l2;
    Deposit[] internal queue;
    uint256 internal executedHead;

    function setUp() public override {
        super.setUp();
        users = [ALICE, BOB, CAROL];
        for (uint256 k = 1; k < 3; ++k) {
            tokens[k] = new MockToken();
            assertEq(addToken(address(tokens[k])), k, "token id");
        }
        tokens[2].setFeeBps(37);
    }

    function held(uint16 token) internal view returns (uint256) {
        return token == 0 ? address(rollup).balance : tokens[token].balanceOf(address(rollup));
    }

    function checkInvariants() internal view {
        for (uint16 t = 0; t < 3; ++t) {
            uint256 pendingSum = 0;
            uint256 l2Sum = 0;
            for (uint256 u = 0; u < 3; ++u) {
                pendingSum += rollup.pending(users[u], t);
                l2Sum += l2[u][t];
            }
            uint256 waiting = 0;
            for (uint256 k = executedHead; k < queue.length; ++k) {
                if (queue[k].token == t) waiting += queue[k].amount;
            }
            assertEq(held(t), rollup.pooled(t) + pendingSum, "held == pooled + pending");
            assertEq(rollup.pooled(t), l2Sum + waiting, "pooled == L2 + unexecuted deposits");
        }
    }

    function deposit(uint256 r) internal {
        // forge-lint: disable-next-line(unsafe-typecast)
        uint8 u = uint8(r % 3);
        uint16 t = uint16((r >> 8) % 3);
        uint256 amount = bound(r >> 16, 1, 1e24);
        uint256 before = rollup.pooled(t);
        if (t == 0) {
            depositEth(users[(r >> 100) % 3], users[u], amount);
        } else {
            address from = users[(r >> 100) % 3];
            tokens[t].mint(from, amount);
            vm.startPrank(from);
            tokens[t].approve(address(rollup), amount);
            rollup.depositERC20(address(tokens[t]), amount, users[u]);
            vm.stopPrank();
        }
        // forge-lint: disable-next-line(unsafe-typecast)
        queue.push(Deposit(u, t, uint128(rollup.pooled(t) - before)));
    }

    /// @dev One batch: up to 6 queued deposits, then up to 4 withdrawals of random parts of
    ///      random L2 balances to random users.
    function settleBatch(uint256 r) internal {
        uint256 first = executedHead;
        uint256 n = queue.length - first;
        if (n > 6) n = 6;
        bytes memory pubdata;
        for (uint256 k = 0; k < n; ++k) {
            Deposit memory d = queue[first + k];
            pubdata = bytes.concat(pubdata, Enc.deposit(d.user, d.token, d.amount, users[d.user]));
            l2[d.user][d.token] += d.amount;
        }
        BatchChain.Withdrawal[] memory ws = new BatchChain.Withdrawal[](4);
        uint256 count = 0;
        for (uint256 k = 0; k < 4; ++k) {
            uint256 x = uint256(keccak256(abi.encode(r, k)));
            uint256 from = x % 3;
            uint16 t = uint16((x >> 8) % 3);
            if (l2[from][t] == 0 || (x >> 16) % 3 == 0) continue;
            uint128 amount = uint128(bound(x >> 32, 1, l2[from][t]));
            address to = users[(x >> 200) % 3];
            l2[from][t] -= amount;
            // forge-lint: disable-next-line(unsafe-typecast)
            pubdata = bytes.concat(pubdata, Enc.withdraw(uint32(from), t, amount, 0, to));
            ws[count++] = withdrawal(to, t, amount);
            ++settledWithdrawals;
        }
        assembly ("memory-safe") {
            mstore(ws, count)
        }
        // forge-lint: disable-next-line(unsafe-typecast)
        settle(info(bytes32(chain.length), 3, 0, pubdata), uint64(n), ws);
        executedHead = first + n;
    }

    function payOut(uint256 r) internal {
        address owner = users[r % 3];
        uint16 t = uint16((r >> 8) % 3);
        if (rollup.pending(owner, t) == 0) return;
        rollup.withdrawPending(owner, t);
        ++payouts;
    }

    uint256 internal settledWithdrawals;
    uint256 internal payouts;
    uint256 internal reclaims;

    function steps(uint256 seed) internal {
        for (uint256 step = 0; step < 14; ++step) {
            uint256 r = uint256(keccak256(abi.encode(seed, step)));
            uint256 action = r % 8;
            if (action < 3) deposit(r >> 8);
            else if (action < 5) settleBatch(r >> 8);
            else payOut(r >> 8);
            checkInvariants();
        }
    }

    function finish() internal {
        // Exodus if a deposit is still waiting: every unexecuted deposit comes back.
        if (executedHead < queue.length) {
            vm.warp(block.timestamp + PD + 1);
            rollup.activateExodus();
            for (uint256 k = executedHead; k < queue.length; ++k) {
                // forge-lint: disable-next-line(unsafe-typecast)
                rollup.reclaimDeposit(uint64(k), users[queue[k].user], queue[k].token, queue[k].amount);
                ++reclaims;
            }
            executedHead = queue.length;
            checkInvariants();
        }
        // Everyone takes what is pending: only the L2 balances stay behind.
        for (uint256 u = 0; u < 3; ++u) {
            for (uint16 t = 0; t < 3; ++t) {
                if (rollup.pending(users[u], t) != 0) rollup.withdrawPending(users[u], t);
            }
        }
        checkInvariants();
        for (uint16 t = 0; t < 3; ++t) {
            assertEq(held(t), rollup.pooled(t), "only L2 funds left");
        }
    }

    function testFuzzConservation(uint256 seed) public {
        steps(seed);
        finish();
    }

    /// The random sequences do reach withdrawals, payouts and reclaims.
    function testSequencesExerciseEveryPath() public {
        for (uint256 seed = 0; seed < 6; ++seed) {
            steps(seed);
        }
        depositEth(ALICE, BOB, 1); // at least one deposit left for exodus
        queue.push(Deposit(1, 0, 1));
        finish();
        assertTrue(settledWithdrawals > 3, "withdrawals settled");
        assertTrue(payouts > 3, "payouts");
        assertTrue(reclaims > 0, "reclaims");
    }
}
