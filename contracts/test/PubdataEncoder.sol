// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

/// @notice A test-side pubdata encoder (docs/pubdata.md), written bit by bit like
///         `causeway_primitives::pubdata::BitWriter` and independently of `Pubdata.bits`:
///         each op fills whole 14-byte chunks, fields most-significant bit first after the
///         4-bit tag, the rest of the last chunk zero.
library PubdataEncoder {
    uint256 internal constant CHUNK = 14;

    struct Writer {
        bytes buf;
        uint256 pos;
    }

    function writer(uint256 chunks) internal pure returns (Writer memory w) {
        w.buf = new bytes(chunks * CHUNK);
    }

    /// @dev Appends the low `width` bits of `value`, most significant first; refuses a value
    ///      wider than its field or running past the op.
    function put(Writer memory w, uint256 value, uint256 width) internal pure {
        require(width == 256 || value >> width == 0, "encoder: value wider than its field");
        require(w.pos + width <= w.buf.length * 8, "encoder: op overflows its chunks");
        for (uint256 i = width; i > 0; --i) {
            if ((value >> (i - 1)) & 1 == 1) {
                // forge-lint: disable-next-line(incorrect-shift)
                w.buf[w.pos / 8] |= bytes1(uint8(0x80 >> (w.pos % 8)));
            }
            ++w.pos;
        }
    }

    function noop() internal pure returns (bytes memory) {
        return new bytes(CHUNK);
    }

    /// @dev `amount` and `fee` are already packed (35 and 15 bits).
    function transfer(uint32 from, uint32 to, uint16 token, uint64 amountPacked, uint16 feePacked)
        internal
        pure
        returns (bytes memory)
    {
        Writer memory w = writer(1);
        put(w, 1, 4);
        put(w, from, 24);
        put(w, to, 24);
        put(w, token, 10);
        put(w, amountPacked, 35);
        put(w, feePacked, 15);
        return w.buf;
    }

    function transferToNew(
        uint32 from,
        uint32 to,
        uint16 token,
        uint64 amountPacked,
        uint16 feePacked,
        address toAddress
    ) internal pure returns (bytes memory) {
        Writer memory w = writer(3);
        put(w, 2, 4);
        put(w, from, 24);
        put(w, to, 24);
        put(w, token, 10);
        put(w, amountPacked, 35);
        put(w, feePacked, 15);
        put(w, uint160(toAddress), 160);
        return w.buf;
    }

    function withdraw(uint32 from, uint16 token, uint128 amount, uint16 feePacked, address to)
        internal
        pure
        returns (bytes memory)
    {
        Writer memory w = writer(3);
        put(w, 3, 4);
        put(w, from, 24);
        put(w, token, 10);
        put(w, amount, 112);
        put(w, feePacked, 15);
        put(w, uint160(to), 160);
        return w.buf;
    }

    function deposit(uint32 account, uint16 token, uint128 amount, address to) internal pure returns (bytes memory) {
        return priorityOp(4, account, token, amount, to);
    }

    function fullExit(uint32 account, uint16 token, uint128 amount, address owner)
        internal
        pure
        returns (bytes memory)
    {
        return priorityOp(5, account, token, amount, owner);
    }

    function priorityOp(uint256 tag, uint32 account, uint16 token, uint128 amount, address who)
        private
        pure
        returns (bytes memory)
    {
        Writer memory w = writer(3);
        put(w, tag, 4);
        put(w, account, 24);
        put(w, token, 10);
        put(w, amount, 112);
        put(w, uint160(who), 160);
        return w.buf;
    }

    function changePubKey(
        uint32 account,
        uint8 auth,
        bytes32 pubkey,
        uint32 nonce,
        uint16 feeToken,
        uint16 feePacked,
        address owner
    ) internal pure returns (bytes memory) {
        Writer memory w = writer(5);
        put(w, 6, 4);
        put(w, account, 24);
        put(w, auth, 4);
        put(w, uint256(pubkey), 256);
        put(w, nonce, 32);
        put(w, feeToken, 10);
        put(w, feePacked, 15);
        put(w, uint160(owner), 160);
        return w.buf;
    }

    /// @dev `mantissa * 10^exponent`, the value of a packed fee.
    function feeValue(uint16 feePacked) internal pure returns (uint128) {
        return uint128(uint256(feePacked >> 5) * 10 ** uint256(feePacked & 31));
    }
}
