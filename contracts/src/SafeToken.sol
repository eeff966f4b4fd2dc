// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

/// @title ERC-20 calls that tolerate the tokens found in the wild.
/// @notice Some tokens return nothing from `transfer`/`transferFrom` (USDT), some return
///         false instead of reverting, some take a fee on transfer. These helpers treat
///         "no return data" as success, anything else but `true` as failure, and refuse
///         addresses without code (a call to them would succeed and move nothing). Callers
///         that need the amount received measure the balance before and after.
library SafeToken {
    /// @dev The token call failed, returned something other than `true`, or the token has no code.
    error TokenCallFailed(address token);

    function safeTransfer(address token, address to, uint256 amount) internal {
        call(token, abi.encodeWithSelector(0xa9059cbb, to, amount));
    }

    function safeTransferFrom(address token, address from, address to, uint256 amount) internal {
        call(token, abi.encodeWithSelector(0x23b872dd, from, to, amount));
    }

    /// @notice The token's `balanceOf(owner)`; reverts if the token does not answer with a word.
    function balanceOf(address token, address owner) internal view returns (uint256) {
        (bool ok, bytes memory ret) = token.staticcall(abi.encodeWithSelector(0x70a08231, owner));
        if (!ok || ret.length < 32) revert TokenCallFailed(token);
        return abi.decode(ret, (uint256));
    }

    function call(address token, bytes memory data) private {
        if (token.code.length == 0) revert TokenCallFailed(token);
        (bool ok, bytes memory ret) = token.call(data);
        if (!ok || (ret.length != 0 && (ret.length < 32 || abi.decode(ret, (uint256)) != 1))) {
            revert TokenCallFailed(token);
        }
    }
}
