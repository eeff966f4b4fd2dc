// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

/// @title The pubdata format (docs/pubdata.md), as the L1 contract reads it.
/// @notice Pubdata is a sequence of 14-byte chunks; an op takes a whole number of them, and its
///         fields are packed most-significant bit first after a 4-bit tag. This library knows
///         the tags, the op sizes and the bit offsets of the fields the contract needs: the
///         priority ops' fields (checked against the L1 queue), the withdrawals' fields
///         (made claimable at execution) and the ChangePubKey fields (whose authorization L1
///         checks). It must agree with `causeway_primitives::pubdata`; the forge tests decode
///         vectors written by that codec.
/// @dev Readers take an op's start offset and never read past `start + size`; callers check
///      that the op lies inside the pubdata before reading it.
library Pubdata {
    uint256 internal constant CHUNK_BYTES = 14;

    uint256 internal constant NOOP = 0;
    uint256 internal constant TRANSFER = 1;
    uint256 internal constant TRANSFER_TO_NEW = 2;
    uint256 internal constant WITHDRAW = 3;
    uint256 internal constant DEPOSIT = 4;
    uint256 internal constant FULL_EXIT = 5;
    uint256 internal constant CHANGE_PUBKEY = 6;

    /// @dev Sizes in bytes: 1, 1, 3, 3, 3, 3 and 5 chunks.
    uint256 internal constant SMALL_OP_BYTES = 14;
    uint256 internal constant MEDIUM_OP_BYTES = 42;
    uint256 internal constant CHANGE_PUBKEY_BYTES = 70;

    /// @dev ChangePubKey authorizations.
    uint256 internal constant AUTH_ETH_SIGNATURE = 0;
    uint256 internal constant AUTH_ONCHAIN = 1;

    /// @notice The op's tag, from the first 4 bits at `start`.
    function tag(bytes calldata data, uint256 start) internal pure returns (uint256 t) {
        assembly ("memory-safe") {
            t := shr(252, calldataload(add(data.offset, start)))
        }
    }

    /// @notice The op's size in bytes, or 0 for an unknown tag.
    function size(uint256 t) internal pure returns (uint256) {
        if (t <= TRANSFER) return SMALL_OP_BYTES;
        if (t <= FULL_EXIT) return MEDIUM_OP_BYTES;
        if (t == CHANGE_PUBKEY) return CHANGE_PUBKEY_BYTES;
        return 0;
    }

    /// @notice `width` bits (at most 249) at bit `offset` of the op starting at byte `start`.
    function bits(bytes calldata data, uint256 start, uint256 offset, uint256 width) internal pure returns (uint256 v) {
        assembly ("memory-safe") {
            let word := calldataload(add(add(data.offset, start), shr(3, offset)))
            v := shr(sub(256, width), shl(and(offset, 7), word))
        }
    }

    /// @notice Withdraw: `from 24 | token 10 | amount 112 | fee 15 | to 160` after the tag.
    function withdraw(bytes calldata data, uint256 start)
        internal
        pure
        returns (uint16 token, uint128 amount, address to)
    {
        token = uint16(bits(data, start, 28, 10));
        amount = uint128(bits(data, start, 38, 112));
        to = address(uint160(bits(data, start, 165, 160)));
    }

    /// @notice Deposit and FullExit share one layout:
    ///         `account 24 | token 10 | amount 112 | address 160` after the tag.
    function priorityOp(bytes calldata data, uint256 start)
        internal
        pure
        returns (uint32 account, uint16 token, uint128 amount, address owner)
    {
        account = uint32(bits(data, start, 4, 24));
        token = uint16(bits(data, start, 28, 10));
        amount = uint128(bits(data, start, 38, 112));
        owner = address(uint160(bits(data, start, 150, 160)));
    }

    /// @notice ChangePubKey: `account 24 | auth 4 | pubkey 256 | nonce 32 | fee_token 10 |
    ///         fee 15 (packed) | address 160` after the tag.
    struct ChangePubKey {
        uint32 account;
        uint256 auth;
        bytes32 pubkey;
        uint32 nonce;
        uint16 feeToken;
        uint128 fee;
        address owner;
    }

    function changePubKey(bytes calldata data, uint256 start) internal pure returns (ChangePubKey memory c) {
        c.account = uint32(bits(data, start, 4, 24));
        c.auth = bits(data, start, 28, 4);
        bytes32 pubkey;
        assembly ("memory-safe") {
            pubkey := calldataload(add(add(data.offset, start), 4))
        }
        c.pubkey = pubkey;
        c.nonce = uint32(bits(data, start, 288, 32));
        c.feeToken = uint16(bits(data, start, 320, 10));
        c.fee = unpackFee(bits(data, start, 330, 15));
        c.owner = address(uint160(bits(data, start, 345, 160)));
    }

    /// @notice A packed fee `mantissa (10 bits) << 5 | exponent (5 bits)` is
    ///         `mantissa * 10^exponent`; at most 1023 * 10^31, below 2^128.
    function unpackFee(uint256 packed) internal pure returns (uint128) {
        return uint128((packed >> 5) * 10 ** (packed & 31));
    }
}
