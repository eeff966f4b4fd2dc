// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {TestBase} from "./Vm.sol";
import {MockToken, NoReturnToken, FalseToken, RawReturnToken} from "./Mocks.sol";
import {SafeToken} from "../src/SafeToken.sol";

/// @notice Exposes SafeToken's helpers; holds the tokens it moves.
contract SafeTokenHarness {
    function safeTransfer(address token, address to, uint256 amount) external {
        SafeToken.safeTransfer(token, to, amount);
    }

    function safeTransferFrom(address token, address from, address to, uint256 amount) external {
        SafeToken.safeTransferFrom(token, from, to, amount);
    }

    function balanceOf(address token, address owner) external view returns (uint256) {
        return SafeToken.balanceOf(token, owner);
    }
}

/// @notice SafeToken's rules: no return data or `true` is success; `false`, a short or
///         other answer, a revert, or no code is failure.
contract SafeTokenTest is TestBase {
    SafeTokenHarness internal h;
    address internal constant ALICE = address(0xA11CE);

    function setUp() public {
        h = new SafeTokenHarness();
    }

    function failed(address token) internal pure returns (bytes memory) {
        return abi.encodeWithSelector(SafeToken.TokenCallFailed.selector, token);
    }

    function testStandardToken() public {
        MockToken t = new MockToken();
        t.mint(address(h), 100);
        h.safeTransfer(address(t), ALICE, 40);
        assertEq(t.balanceOf(ALICE), 40, "moved");
        assertEq(h.balanceOf(address(t), ALICE), 40, "balanceOf");
        vm.prank(ALICE);
        t.approve(address(h), 40);
        h.safeTransferFrom(address(t), ALICE, address(h), 40);
        assertEq(t.balanceOf(address(h)), 100, "pulled back");
    }

    function testTokenWithoutReturnValue() public {
        NoReturnToken t = new NoReturnToken();
        t.mint(address(h), 100);
        h.safeTransfer(address(t), ALICE, 40);
        assertEq(t.balanceOf(ALICE), 40, "moved");
        vm.prank(ALICE);
        t.approve(address(h), 40);
        h.safeTransferFrom(address(t), ALICE, address(h), 40);
        assertEq(t.balanceOf(address(h)), 100, "pulled back");
    }

    function testTokenReturningFalse() public {
        FalseToken t = new FalseToken();
        t.mint(address(h), 100);
        t.setFailures(true, true);
        vm.expectRevert(failed(address(t)));
        h.safeTransfer(address(t), ALICE, 40);
        vm.expectRevert(failed(address(t)));
        h.safeTransferFrom(address(t), address(h), ALICE, 40);
    }

    function testRevertingToken() public {
        MockToken t = new MockToken(); // h holds nothing: the transfer reverts
        vm.expectRevert(failed(address(t)));
        h.safeTransfer(address(t), ALICE, 1);
        vm.expectRevert(failed(address(t)));
        h.safeTransferFrom(address(t), ALICE, address(h), 1);
    }

    function testAddressWithoutCode() public {
        address eoa = address(0xE0A);
        vm.expectRevert(failed(eoa));
        h.safeTransfer(eoa, ALICE, 1);
        vm.expectRevert(failed(eoa));
        h.safeTransferFrom(eoa, ALICE, address(h), 1);
        vm.expectRevert(failed(eoa));
        h.balanceOf(eoa, ALICE);
    }

    /// Return data: empty or the word 1 succeeds; anything else fails.
    function testReturnDataRules() public {
        RawReturnToken t = new RawReturnToken();
        t.mint(address(h), 1000);
        bytes[4] memory good = [bytes(""), abi.encode(uint256(1)), abi.encode(uint256(1), uint256(7)), abi.encode(true)];
        for (uint256 k = 0; k < good.length; ++k) {
            t.setAnswer(good[k]);
            h.safeTransfer(address(t), ALICE, 1);
        }
        bytes[5] memory bad = [
            abi.encode(uint256(0)),
            abi.encode(uint256(2)),
            abi.encode(type(uint256).max),
            bytes(hex"01"),
            bytes(hex"0000000000000000000000000000000000000000000000000000000000000001ff")
        ];
        // The last one is 33 bytes whose first word is 1: accepted (only the first word counts).
        for (uint256 k = 0; k < 4; ++k) {
            t.setAnswer(bad[k]);
            vm.expectRevert(failed(address(t)));
            h.safeTransfer(address(t), ALICE, 1);
        }
        t.setAnswer(bad[4]);
        h.safeTransfer(address(t), ALICE, 1);
        assertEq(t.balanceOf(ALICE), 5, "the accepted transfers moved");
    }

    function testFuzzBalanceOf(address owner, uint256 amount) public {
        MockToken t = new MockToken();
        t.mint(owner, amount);
        assertEq(h.balanceOf(address(t), owner), amount, "balance");
    }

    /// A balanceOf answering with less than a word is refused.
    function testShortBalanceOfAnswer() public {
        ShortBalance t = new ShortBalance();
        vm.expectRevert(failed(address(t)));
        h.balanceOf(address(t), ALICE);
    }
}

contract ShortBalance {
    fallback() external {
        assembly ("memory-safe") {
            mstore(0, 0)
            return(0, 31)
        }
    }
}
