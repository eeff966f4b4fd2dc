// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {TestBase} from "./Vm.sol";
import {DevToken} from "../src/DevToken.sol";
import {RollupFixture} from "./RollupFixture.sol";

/// @notice DevToken behaves as EIP-20 says, and the rollup takes it like any listed token.
contract DevTokenTest is TestBase {
    DevToken internal t;
    address internal constant ALICE = address(0xA11CE);
    address internal constant BOB = address(0xB0B);

    function setUp() public {
        t = new DevToken("Causeway Dev Token", "CDT", 1000);
    }

    function testMetadataAndSupply() public view {
        assertEq(bytes(t.name()), bytes("Causeway Dev Token"), "name");
        assertEq(bytes(t.symbol()), bytes("CDT"), "symbol");
        assertEq(t.decimals(), 18, "decimals");
        assertEq(t.totalSupply(), 1000, "supply");
        assertEq(t.balanceOf(address(this)), 1000, "deployer holds the supply");
    }

    function testTransfer() public {
        assertTrue(t.transfer(ALICE, 300), "returns true");
        assertEq(t.balanceOf(ALICE), 300, "credited");
        assertEq(t.balanceOf(address(this)), 700, "debited");
        assertTrue(t.transfer(ALICE, 0), "zero transfers succeed");
    }

    function testTransferBeyondBalanceReverts() public {
        vm.expectRevert(abi.encodeWithSelector(DevToken.InsufficientBalance.selector, address(this), 1000, 1001));
        // forge-lint: disable-next-line(erc20-unchecked-transfer)
        t.transfer(ALICE, 1001);
    }

    function testTransferToZeroReverts() public {
        vm.expectRevert(DevToken.ZeroAddress.selector);
        // forge-lint: disable-next-line(erc20-unchecked-transfer)
        t.transfer(address(0), 1);
    }

    function testTransferFromSpendsTheAllowance() public {
        t.approve(ALICE, 500);
        vm.prank(ALICE);
        assertTrue(t.transferFrom(address(this), BOB, 200), "returns true");
        assertEq(t.allowance(address(this), ALICE), 300, "allowance spent");
        assertEq(t.balanceOf(BOB), 200, "credited");
        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(DevToken.InsufficientAllowance.selector, address(this), ALICE, 300, 301));
        // forge-lint: disable-next-line(erc20-unchecked-transfer)
        t.transferFrom(address(this), BOB, 301);
    }

    function testInfiniteAllowanceIsNotSpent() public {
        t.approve(ALICE, type(uint256).max);
        vm.prank(ALICE);
        assertTrue(t.transferFrom(address(this), BOB, 10), "moved");
        assertEq(t.allowance(address(this), ALICE), type(uint256).max, "unchanged");
    }

    function testFuzzTransfersConserveSupply(uint256 a, uint256 b) public {
        a = bound(a, 0, 1000);
        b = bound(b, 0, a);
        assertTrue(t.transfer(ALICE, a), "moved");
        vm.prank(ALICE);
        assertTrue(t.transfer(BOB, b), "moved");
        assertEq(t.balanceOf(address(this)) + t.balanceOf(ALICE) + t.balanceOf(BOB), 1000, "supply conserved");
        assertEq(t.balanceOf(BOB), b, "bob");
        assertEq(t.balanceOf(ALICE), a - b, "alice");
    }
}

/// @notice The rollup lists DevToken and takes its deposits like any standard ERC-20.
contract DevTokenDepositTest is RollupFixture {
    function testListedAndDeposited() public {
        DevToken t = new DevToken("Causeway Dev Token", "CDT", 1000);
        vm.prank(GOV);
        uint16 id = rollup.listToken(address(t));
        assertTrue(t.transfer(ALICE, 400), "moved");
        vm.startPrank(ALICE);
        t.approve(address(rollup), 250);
        rollup.depositERC20(address(t), 250, BOB);
        vm.stopPrank();
        assertEq(rollup.pooled(id), 250, "pooled");
        assertEq(t.balanceOf(address(rollup)), 250, "held");
        assertEq(t.balanceOf(ALICE), 150, "debited");
    }
}
