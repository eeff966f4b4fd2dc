// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {RollupFixture} from "./RollupFixture.sol";
import {MockToken, NoReturnToken, FalseToken} from "./Mocks.sol";
import {Bridge} from "../src/Bridge.sol";
import {BatchChain} from "../src/BatchChain.sol";
import {ZkRollup} from "../src/ZkRollup.sol";
import {SafeToken} from "../src/SafeToken.sol";

/// @notice Roles and token listing.
contract BridgeGovernanceTest is RollupFixture {
    function testConstructorState() public view {
        assertEq(rollup.governance(), GOV, "governance");
        assertTrue(rollup.isOperator(OP), "operator");
        assertTrue(!rollup.isOperator(GOV), "governance is no operator");
        assertEq(rollup.tokenCount(), 1, "only ETH listed");
        assertEq(rollup.tokens(0), address(0), "token 0 is ETH");
        assertEq(rollup.tokenId(address(0)), 0, "ETH id");
        assertEq(rollup.priorityDeadline(), PD, "deadline");
        assertEq(rollup.executedRoot(), GENESIS_ROOT, "executed root");
        assertEq(rollup.batchChunks(), CHUNKS, "chunks");
        assertEq(address(rollup.verifier()), address(verifier), "verifier");
        assertEq(address(rollup.stateTree()), address(stateTree), "state tree");
        assertEq(rollup.batchHashes(0), keccak256(abi.encode(batch(0))), "genesis hash");
        assertEq(rollup.batchesCommitted(), 0, "committed");
        assertEq(rollup.batchesProven(), 0, "proven");
        assertEq(rollup.batchesExecuted(), 0, "executed");
        assertTrue(!rollup.exodus(), "exodus");
    }

    function testConstructorEmitsRolesAndGenesis() public {
        BatchChain.StoredBatch memory g = batch(0);
        g.timestamp = uint64(block.timestamp);
        vm.expectEmit();
        emit Bridge.GovernanceTransferred(GOV);
        vm.expectEmit();
        emit Bridge.OperatorSet(OP, true);
        vm.expectEmit();
        emit Bridge.TokenListed(0, address(0));
        vm.expectEmit();
        emit BatchChain.BatchCommitted(0, g, 0);
        new ZkRollup(verifier, stateTree, CHUNKS, GOV, OP, PD, GENESIS_ROOT);
    }

    function testConstructorRefusesZeroRoles() public {
        vm.expectRevert(Bridge.ZeroAddress.selector);
        new ZkRollup(verifier, stateTree, CHUNKS, address(0), OP, PD, GENESIS_ROOT);
        vm.expectRevert(Bridge.ZeroAddress.selector);
        new ZkRollup(verifier, stateTree, CHUNKS, GOV, address(0), PD, GENESIS_ROOT);
    }

    function checkGovernanceRefuses(address caller) internal {
        vm.prank(caller);
        vm.expectRevert(Bridge.NotGovernance.selector);
        rollup.transferGovernance(caller);
        vm.prank(caller);
        vm.expectRevert(Bridge.NotGovernance.selector);
        rollup.setOperator(caller, true);
        vm.prank(caller);
        vm.expectRevert(Bridge.NotGovernance.selector);
        rollup.listToken(address(0x7070));
    }

    function testGovernanceFunctionsRefuseOthers() public {
        checkGovernanceRefuses(OP);
        checkGovernanceRefuses(ALICE);
        checkGovernanceRefuses(address(this));
        assertEq(rollup.governance(), GOV, "governance unchanged");
    }

    function testFuzzGovernanceFunctionsRefuse(address caller) public {
        vm.assume(caller != GOV);
        checkGovernanceRefuses(caller);
    }

    function checkOperatorRefuses(address caller) internal {
        BatchChain.StoredBatch memory g = batch(0);
        BatchChain.CommitInfo[] memory none = new BatchChain.CommitInfo[](0);
        BatchChain.StoredBatch[] memory batches = batches1(g);
        uint256[8][] memory proofs = proofs1(proof());
        BatchChain.Withdrawal[][] memory lists = lists1(noWithdrawals());
        vm.prank(caller);
        vm.expectRevert(Bridge.NotOperator.selector);
        rollup.commitBatches(g, none);
        vm.prank(caller);
        vm.expectRevert(Bridge.NotOperator.selector);
        rollup.proveBatches(batches, proofs);
        vm.prank(caller);
        vm.expectRevert(Bridge.NotOperator.selector);
        rollup.executeBatches(batches, lists);
        vm.prank(caller);
        vm.expectRevert(Bridge.NotOperator.selector);
        rollup.revertBatches(batches);
    }

    function testOperatorFunctionsRefuseOthers() public {
        checkOperatorRefuses(GOV);
        checkOperatorRefuses(ALICE);
        checkOperatorRefuses(address(this));
    }

    function testFuzzOperatorFunctionsRefuse(address caller) public {
        vm.assume(caller != OP);
        checkOperatorRefuses(caller);
    }

    function testTransferGovernance() public {
        vm.expectEmit(address(rollup));
        emit Bridge.GovernanceTransferred(ALICE);
        vm.prank(GOV);
        rollup.transferGovernance(ALICE);
        assertEq(rollup.governance(), ALICE, "new governance");
        checkGovernanceRefuses(GOV);
        vm.prank(ALICE);
        rollup.setOperator(BOB, true);
        assertTrue(rollup.isOperator(BOB), "new governance acts");
    }

    function testTransferGovernanceRefusesZero() public {
        vm.prank(GOV);
        vm.expectRevert(Bridge.ZeroAddress.selector);
        rollup.transferGovernance(address(0));
    }

    function testSetOperator() public {
        vm.expectEmit(address(rollup));
        emit Bridge.OperatorSet(ALICE, true);
        vm.prank(GOV);
        rollup.setOperator(ALICE, true);
        assertTrue(rollup.isOperator(ALICE), "added");

        // The new operator can commit; the old one still can until removed.
        BatchChain.StoredBatch memory g = batch(0);
        BatchChain.CommitInfo[] memory one = infos1(info(g.root, 0, 0, ""));
        vm.prank(ALICE);
        rollup.commitBatches(g, one);
        assertEq(rollup.batchesCommitted(), 1, "committed by the new operator");

        vm.expectEmit(address(rollup));
        emit Bridge.OperatorSet(OP, false);
        vm.prank(GOV);
        rollup.setOperator(OP, false);
        assertTrue(!rollup.isOperator(OP), "removed");
        BatchChain.CommitInfo[] memory none = new BatchChain.CommitInfo[](0);
        vm.prank(OP);
        vm.expectRevert(Bridge.NotOperator.selector);
        rollup.commitBatches(g, none);
    }

    function testSetOperatorRefusesZero() public {
        vm.prank(GOV);
        vm.expectRevert(Bridge.ZeroAddress.selector);
        rollup.setOperator(address(0), true);
    }

    function testListToken() public {
        MockToken a = new MockToken();
        MockToken b = new MockToken();
        vm.expectEmit(address(rollup));
        emit Bridge.TokenListed(1, address(a));
        assertEq(addToken(address(a)), 1, "first id");
        vm.expectEmit(address(rollup));
        emit Bridge.TokenListed(2, address(b));
        assertEq(addToken(address(b)), 2, "second id");
        assertEq(rollup.tokenCount(), 3, "count");
        assertEq(rollup.tokens(1), address(a), "tokens[1]");
        assertEq(rollup.tokens(2), address(b), "tokens[2]");
        assertEq(rollup.tokenId(address(a)), 1, "id of a");
        assertEq(rollup.tokenId(address(b)), 2, "id of b");
    }

    function testListTokenRefusesDuplicateAndZero() public {
        MockToken a = new MockToken();
        addToken(address(a));
        vm.prank(GOV);
        vm.expectRevert(abi.encodeWithSelector(Bridge.TokenAlreadyListed.selector, address(a)));
        rollup.listToken(address(a));
        vm.prank(GOV);
        vm.expectRevert(Bridge.ZeroAddress.selector);
        rollup.listToken(address(0));
        assertEq(rollup.tokenCount(), 2, "nothing more listed");
    }

    /// Ids are 10 bits: ETH and 1023 tokens fit, the 1025th token does not.
    function testListTokenLimit() public {
        vm.startPrank(GOV);
        for (uint256 i = 1; i < 1024; ++i) {
            // forge-lint: disable-next-line(unsafe-typecast)
            assertEq(rollup.listToken(address(uint160(0x100000 + i))), i, "sequential id");
        }
        assertEq(rollup.tokenCount(), 1024, "full");
        assertEq(rollup.tokenId(address(uint160(0x100000 + 1023))), 1023, "last id");
        vm.expectRevert(Bridge.TooManyTokens.selector);
        rollup.listToken(address(uint160(0x200000)));
        vm.stopPrank();
    }

    function testTokenIdOfUnknownToken() public {
        vm.expectRevert(abi.encodeWithSelector(Bridge.UnknownToken.selector, address(0x7070)));
        rollup.tokenId(address(0x7070));
    }
}

/// @notice Deposits, full exit requests, on-chain key authorization.
contract BridgeDepositTest is RollupFixture {
    MockToken internal token;
    uint16 internal tokenId;

    function setUp() public override {
        super.setUp();
        (token, tokenId) = addTokenFundedForAlice(1e30);
    }

    function checkQueued(uint64 opId, bytes20 hash, uint64 deadline) internal view {
        (bytes20 h, uint64 d) = rollup.priorityOps(opId);
        assertEq(bytes32(h), bytes32(hash), "queued hash");
        assertEq(d, deadline, "queued deadline");
    }

    function testDepositEth() public {
        vm.deal(ALICE, 5 ether);
        uint64 deadline = uint64(block.timestamp) + PD;
        vm.expectEmit(address(rollup));
        emit Bridge.DepositQueued(0, BOB, 0, 2 ether, deadline);
        vm.prank(ALICE);
        rollup.depositETH{value: 2 ether}(BOB);
        assertEq(address(rollup).balance, 2 ether, "held");
        assertEq(ALICE.balance, 3 ether, "paid");
        assertEq(rollup.pooled(0), 2 ether, "pooled");
        assertEq(rollup.priorityCount(), 1, "count");
        assertEq(rollup.priorityCommitted(), 0, "committed");
        checkQueued(0, depositHashOf(BOB, 0, 2 ether), deadline);
        assertEq(bytes32(rollup.depositHash(BOB, 0, 2 ether)), bytes32(depositHashOf(BOB, 0, 2 ether)), "hash");
    }

    function testQueueNumbersAndDeadlines() public {
        depositEth(ALICE, ALICE, 1);
        vm.warp(block.timestamp + 100);
        vm.prank(BOB);
        rollup.requestFullExit(7, 0);
        vm.warp(block.timestamp + 50);
        vm.prank(ALICE);
        rollup.depositERC20(address(token), 3, CAROL);
        assertEq(rollup.priorityCount(), 3, "three ops");
        checkQueued(0, depositHashOf(ALICE, 0, 1), 1 + PD);
        checkQueued(1, fullExitHashOf(7, 0, BOB), 101 + PD);
        checkQueued(2, depositHashOf(CAROL, tokenId, 3), 151 + PD);
        assertEq(rollup.pooled(0), 1, "ETH pooled");
        assertEq(rollup.pooled(tokenId), 3, "token pooled");
    }

    function testDepositEthRefusesZeroAmountAndRecipient() public {
        vm.prank(ALICE);
        vm.expectRevert(Bridge.ZeroAmount.selector);
        rollup.depositETH{value: 0}(BOB);
        vm.deal(ALICE, 1 ether);
        vm.prank(ALICE);
        vm.expectRevert(Bridge.ZeroAddress.selector);
        rollup.depositETH{value: 1 ether}(address(0));
        assertEq(rollup.priorityCount(), 0, "nothing queued");
    }

    function testDepositEthPoolCap() public {
        depositEth(ALICE, ALICE, MAX_BALANCE);
        assertEq(rollup.pooled(0), MAX_BALANCE, "full pool");
        vm.deal(BOB, 1);
        vm.prank(BOB);
        vm.expectRevert(abi.encodeWithSelector(Bridge.PoolFull.selector, uint16(0), MAX_BALANCE, uint256(1)));
        rollup.depositETH{value: 1}(BOB);
    }

    function testDepositEthAboveCapAtOnce() public {
        vm.deal(ALICE, MAX_BALANCE + 1);
        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(Bridge.PoolFull.selector, uint16(0), uint256(0), MAX_BALANCE + 1));
        rollup.depositETH{value: MAX_BALANCE + 1}(ALICE);
    }

    function testFuzzDepositEth(address from, address to, uint256 amount) public {
        vm.assume(to != address(0) && from != address(rollup));
        amount = bound(amount, 1, MAX_BALANCE);
        depositEth(from, to, amount);
        assertEq(rollup.pooled(0), amount, "pooled");
        assertEq(address(rollup).balance, amount, "held");
        // forge-lint: disable-next-line(unsafe-typecast)
        checkQueued(0, depositHashOf(to, 0, uint128(amount)), uint64(block.timestamp) + PD);
    }

    function testDepositErc20() public {
        uint64 deadline = uint64(block.timestamp) + PD;
        vm.expectEmit(address(rollup));
        emit Bridge.DepositQueued(0, BOB, tokenId, 1000, deadline);
        vm.prank(ALICE);
        rollup.depositERC20(address(token), 1000, BOB);
        assertEq(token.balanceOf(address(rollup)), 1000, "held");
        assertEq(rollup.pooled(tokenId), 1000, "pooled");
        assertEq(rollup.pooled(0), 0, "ETH untouched");
        checkQueued(0, depositHashOf(BOB, tokenId, 1000), deadline);
    }

    function testDepositErc20Refusals() public {
        MockToken other = new MockToken();
        vm.startPrank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(Bridge.UnknownToken.selector, address(other)));
        rollup.depositERC20(address(other), 1, BOB);
        // ETH is not an ERC-20.
        vm.expectRevert(abi.encodeWithSelector(Bridge.UnknownToken.selector, address(0)));
        rollup.depositERC20(address(0), 1, BOB);
        vm.expectRevert(Bridge.ZeroAmount.selector);
        rollup.depositERC20(address(token), 0, BOB);
        vm.expectRevert(Bridge.ZeroAddress.selector);
        rollup.depositERC20(address(token), 1, address(0));
        vm.stopPrank();
        // Without allowance the token reverts, which SafeToken reports.
        token.mint(BOB, 10);
        vm.prank(BOB);
        vm.expectRevert(abi.encodeWithSelector(SafeToken.TokenCallFailed.selector, address(token)));
        rollup.depositERC20(address(token), 10, BOB);
        assertEq(rollup.priorityCount(), 0, "nothing queued");
    }

    function testDepositErc20PoolCap() public {
        token.mint(ALICE, MAX_BALANCE);
        vm.startPrank(ALICE);
        rollup.depositERC20(address(token), MAX_BALANCE - 5, ALICE);
        rollup.depositERC20(address(token), 5, ALICE);
        vm.expectRevert(abi.encodeWithSelector(Bridge.PoolFull.selector, tokenId, MAX_BALANCE, uint256(1)));
        rollup.depositERC20(address(token), 1, ALICE);
        vm.stopPrank();
        assertEq(rollup.pooled(tokenId), MAX_BALANCE, "full");
        assertEq(token.balanceOf(address(rollup)), MAX_BALANCE, "held");
    }

    function testDepositErc20FeeOnTransferCreditsNetAmount() public {
        MockToken fee = new MockToken();
        uint16 id = addToken(address(fee));
        fee.setFeeBps(100); // 1 %
        fee.mint(ALICE, 10_000);
        vm.startPrank(ALICE);
        fee.approve(address(rollup), 10_000);
        vm.expectEmit(address(rollup));
        emit Bridge.DepositQueued(0, BOB, id, 9900, uint64(block.timestamp) + PD);
        rollup.depositERC20(address(fee), 10_000, BOB);
        vm.stopPrank();
        assertEq(fee.balanceOf(address(rollup)), 9900, "received");
        assertEq(rollup.pooled(id), 9900, "pooled net");
        checkQueued(0, depositHashOf(BOB, id, 9900), uint64(block.timestamp) + PD);
    }

    function testDepositErc20EntireFeeIsZeroAmount() public {
        MockToken fee = new MockToken();
        addToken(address(fee));
        fee.setFeeBps(10_000);
        fee.mint(ALICE, 100);
        vm.startPrank(ALICE);
        fee.approve(address(rollup), 100);
        vm.expectRevert(Bridge.ZeroAmount.selector);
        rollup.depositERC20(address(fee), 100, BOB);
        vm.stopPrank();
    }

    function testDepositErc20TokenWithoutReturnValue() public {
        NoReturnToken usdt = new NoReturnToken();
        uint16 id = addToken(address(usdt));
        usdt.mint(ALICE, 500);
        vm.startPrank(ALICE);
        usdt.approve(address(rollup), 500);
        rollup.depositERC20(address(usdt), 500, BOB);
        vm.stopPrank();
        assertEq(usdt.balanceOf(address(rollup)), 500, "held");
        assertEq(rollup.pooled(id), 500, "pooled");
        checkQueued(0, depositHashOf(BOB, id, 500), uint64(block.timestamp) + PD);
    }

    function testDepositErc20TokenReturningFalse() public {
        FalseToken f = new FalseToken();
        addToken(address(f));
        f.setFailures(false, true);
        f.mint(ALICE, 500);
        vm.startPrank(ALICE);
        f.approve(address(rollup), 500);
        vm.expectRevert(abi.encodeWithSelector(SafeToken.TokenCallFailed.selector, address(f)));
        rollup.depositERC20(address(f), 500, BOB);
        vm.stopPrank();
        assertEq(rollup.priorityCount(), 0, "nothing queued");
    }

    function testDepositErc20AddressWithoutCode() public {
        address eoa = address(0xE0A);
        addToken(eoa);
        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(SafeToken.TokenCallFailed.selector, eoa));
        rollup.depositERC20(eoa, 500, BOB);
    }

    function testRequestFullExit() public {
        uint64 deadline = uint64(block.timestamp) + PD;
        vm.expectEmit(address(rollup));
        emit Bridge.FullExitQueued(0, 42, tokenId, BOB, deadline);
        vm.prank(BOB);
        rollup.requestFullExit(42, tokenId);
        checkQueued(0, fullExitHashOf(42, tokenId, BOB), deadline);
        assertEq(
            bytes32(rollup.fullExitHash(42, tokenId, BOB)), bytes32(fullExitHashOf(42, tokenId, BOB)), "public hash"
        );
        assertEq(rollup.priorityCount(), 1, "queued");
        assertEq(rollup.pooled(tokenId), 0, "no funds move");
    }

    function testRequestFullExitAccountRange() public {
        vm.prank(BOB);
        rollup.requestFullExit(uint32((1 << 24) - 1), 0);
        vm.prank(BOB);
        vm.expectRevert(abi.encodeWithSelector(Bridge.AccountOutOfRange.selector, uint32(1 << 24)));
        rollup.requestFullExit(uint32(1 << 24), 0);
        vm.prank(BOB);
        vm.expectRevert(abi.encodeWithSelector(Bridge.AccountOutOfRange.selector, type(uint32).max));
        rollup.requestFullExit(type(uint32).max, 0);
        assertEq(rollup.priorityCount(), 1, "only the valid one");
    }

    function testFuzzRequestFullExit(uint32 account, uint16 token_) public {
        vm.prank(CAROL);
        if (account >= (1 << 24)) {
            vm.expectRevert(abi.encodeWithSelector(Bridge.AccountOutOfRange.selector, account));
        } else if (token_ > tokenId) {
            vm.expectRevert(abi.encodeWithSelector(Bridge.TokenNotListed.selector, token_));
        }
        rollup.requestFullExit(account, token_);
        if (account < (1 << 24) && token_ <= tokenId) {
            checkQueued(0, fullExitHashOf(account, token_, CAROL), uint64(block.timestamp) + PD);
        } else {
            assertEq(rollup.priorityCount(), 0, "refused");
        }
    }

    function testRequestFullExitUnlistedToken() public {
        vm.prank(BOB);
        vm.expectRevert(abi.encodeWithSelector(Bridge.TokenNotListed.selector, uint16(2)));
        rollup.requestFullExit(1, 2);
        addToken(address(new MockToken()));
        vm.prank(BOB);
        rollup.requestFullExit(1, 2);
        assertEq(rollup.priorityCount(), 1, "listed now");
    }

    function testAuthorizePubkey() public {
        vm.expectEmit(address(rollup));
        emit Bridge.PubkeyAuthorized(ALICE, 3, bytes32(uint256(0xbeef)));
        vm.prank(ALICE);
        rollup.authorizePubkey(3, bytes32(uint256(0xbeef)));
        assertEq(rollup.authorizedPubkeys(ALICE, 3), bytes32(uint256(0xbeef)), "stored");
        assertEq(rollup.authorizedPubkeys(ALICE, 4), bytes32(0), "other nonce");
        assertEq(rollup.authorizedPubkeys(BOB, 3), bytes32(0), "other owner");
    }
}
