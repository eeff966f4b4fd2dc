// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {TestBase} from "./Vm.sol";
import {PubdataEncoder as Enc} from "./PubdataEncoder.sol";
import {Pubdata} from "../src/Pubdata.sol";

/// @notice Exposes the Pubdata library's readers on calldata.
contract PubdataHarness {
    function tag(bytes calldata d, uint256 start) external pure returns (uint256) {
        return Pubdata.tag(d, start);
    }

    function size(uint256 t) external pure returns (uint256) {
        return Pubdata.size(t);
    }

    function bits(bytes calldata d, uint256 start, uint256 offset, uint256 width) external pure returns (uint256) {
        return Pubdata.bits(d, start, offset, width);
    }

    function withdraw(bytes calldata d, uint256 start) external pure returns (uint16, uint128, address) {
        return Pubdata.withdraw(d, start);
    }

    function priorityOp(bytes calldata d, uint256 start) external pure returns (uint32, uint16, uint128, address) {
        return Pubdata.priorityOp(d, start);
    }

    function changePubKey(bytes calldata d, uint256 start) external pure returns (Pubdata.ChangePubKey memory) {
        return Pubdata.changePubKey(d, start);
    }

    function unpackFee(uint256 packed) external pure returns (uint128) {
        return Pubdata.unpackFee(packed);
    }
}

/// @notice The Pubdata readers against fixed vectors (packed by an independent Python bit
///         packer following docs/pubdata.md) and, fuzzed, against the test encoder, with
///         garbage around the op and in its padding.
contract PubdataTest is TestBase {
    PubdataHarness internal h;

    address internal constant A1 = 0xDeaDbEeFCaFeBABE0123456789aBcdEF01234567;
    address internal constant A2 = 0x00000000000000000000000000000000000000ff;
    address internal constant A3 = 0xfeEDfaCeFeEdFaceFEedFACefEEDFaCEfEeDfAce;

    bytes internal constant DEPOSIT =
        hex"4abcdefa94048d159e26af37bc048d159e26af7ab6fbbf2bfaeaf8048d159e26af37bc048d159c000000";
    bytes internal constant FULL_EXIT =
        hex"5ffffffffffffffffffffffffffffffffffffc00000000000000000000000000000000000003fc000000";
    bytes internal constant WITHDRAW =
        hex"300f00f004000000000000000000001d6f3457e71ff76fd677f76fd677f76fd677f76fd677f76fd67000";
    bytes internal constant CHANGE_PUBKEY =
        hex"600000710102030405060708091011121314151617181920212223242526272829303132deadbeefffffffef56df77e57f5d5f0091a2b3c4d5e6f78091a2b380000000000000";
    bytes internal constant TRANSFER = hex"100000100000200fffffffffffff";
    bytes internal constant TRANSFER_TO_NEW =
        hex"21234566543215540000181c804dfeedfacefeedfacefeedfacefeedfacefeedface0000000000000000";
    bytes32 internal constant PUBKEY = 0x0102030405060708091011121314151617181920212223242526272829303132;

    function setUp() public {
        h = new PubdataHarness();
    }

    function testEncoderMatchesVectors() public pure {
        assertEq(Enc.deposit(0xABCDEF, 0x2A5, 0x0123456789ABCDEF0123456789AB, A1), DEPOSIT, "deposit");
        assertEq(Enc.fullExit(0xFFFFFF, 0x3FF, uint128((1 << 112) - 1), A2), FULL_EXIT, "full exit");
        assertEq(Enc.withdraw(0x00F00F, 1, 123456789, (999 << 5) | 3, A3), WITHDRAW, "withdraw");
        assertEq(Enc.changePubKey(7, 1, PUBKEY, 0xDEADBEEF, 1023, (1023 << 5) | 31, A1), CHANGE_PUBKEY, "change pubkey");
        assertEq(Enc.transfer(1, 2, 3, (1 << 35) - 1, 0x7FFF), TRANSFER, "transfer");
        assertEq(Enc.transferToNew(0x123456, 0x654321, 0x155, 12345, 77, A3), TRANSFER_TO_NEW, "transfer to new");
    }

    function testReadsVectors() public view {
        (uint32 account, uint16 token, uint128 amount, address who) = h.priorityOp(DEPOSIT, 0);
        assertEq(account, 0xABCDEF, "deposit account");
        assertEq(token, 0x2A5, "deposit token");
        assertEq(amount, 0x0123456789ABCDEF0123456789AB, "deposit amount");
        assertEq(who, A1, "deposit address");

        (account, token, amount, who) = h.priorityOp(FULL_EXIT, 0);
        assertEq(account, 0xFFFFFF, "exit account");
        assertEq(token, 0x3FF, "exit token");
        assertEq(amount, (1 << 112) - 1, "exit amount");
        assertEq(who, A2, "exit owner");

        (token, amount, who) = h.withdraw(WITHDRAW, 0);
        assertEq(token, 1, "withdraw token");
        assertEq(amount, 123456789, "withdraw amount");
        assertEq(who, A3, "withdraw to");

        Pubdata.ChangePubKey memory c = h.changePubKey(CHANGE_PUBKEY, 0);
        assertEq(c.account, 7, "cpk account");
        assertEq(c.auth, 1, "cpk auth");
        assertEq(c.pubkey, PUBKEY, "cpk key");
        assertEq(c.nonce, 0xDEADBEEF, "cpk nonce");
        assertEq(c.feeToken, 1023, "cpk fee token");
        assertEq(c.fee, 1023 * 10 ** 31, "cpk fee");
        assertEq(c.owner, A1, "cpk owner");

        uint256[7] memory sizes = [uint256(14), 14, 42, 42, 42, 42, 70];
        bytes[6] memory ops = [TRANSFER, TRANSFER_TO_NEW, WITHDRAW, DEPOSIT, FULL_EXIT, CHANGE_PUBKEY];
        for (uint256 k = 0; k < ops.length; ++k) {
            assertEq(h.tag(ops[k], 0), k + 1, "tag");
            assertEq(h.size(k + 1), ops[k].length, "size of the vector");
        }
        for (uint256 t = 0; t < 16; ++t) {
            assertEq(h.size(t), t < 7 ? sizes[t] : 0, "size");
        }
    }

    /// @dev `prefix` random whole chunks, the op with random bits OR-ed into `padFrom..` of
    ///      its last chunk(s), and random trailing bytes.
    function frame(bytes memory op, uint256 usedBits, uint256 seed, uint256 prefixChunks, uint256 suffixBytes)
        internal
        pure
        returns (bytes memory data, uint256 start)
    {
        bytes memory prefix = randomBytes(seed, prefixChunks * 14);
        bytes memory suffix = randomBytes(seed ^ 1, suffixBytes);
        bytes memory noise = randomBytes(seed ^ 2, op.length);
        for (uint256 bit = usedBits; bit < op.length * 8; ++bit) {
            // forge-lint: disable-next-line(incorrect-shift)
            if (uint8(noise[bit / 8]) & (0x80 >> (bit % 8)) != 0) {
                // forge-lint: disable-next-line(incorrect-shift)
                op[bit / 8] |= bytes1(uint8(0x80 >> (bit % 8)));
            }
        }
        return (bytes.concat(prefix, op, suffix), prefix.length);
    }

    function randomBytes(uint256 seed, uint256 n) internal pure returns (bytes memory b) {
        b = new bytes(n);
        for (uint256 k = 0; k < n; k += 32) {
            bytes32 word = keccak256(abi.encode(seed, k));
            for (uint256 j = 0; j < 32 && k + j < n; ++j) {
                b[k + j] = word[j];
            }
        }
    }

    /// @dev Fuzzed op fields (a struct keeps the stack shallow).
    struct Fields {
        uint32 account;
        uint16 token;
        uint128 amount;
        uint16 fee;
        address who;
        uint8 auth;
        bytes32 pubkey;
        uint32 nonce;
    }

    /// @dev Random framing: chunks before the op, bytes after it, the noise seed.
    struct Framing {
        uint256 seed;
        uint8 prefix;
        uint8 suffix;
    }

    function bounded(Fields memory f) internal pure returns (Fields memory) {
        f.account = uint32(bound(f.account, 0, (1 << 24) - 1));
        f.token = uint16(bound(f.token, 0, 1023));
        f.amount = uint128(bound(f.amount, 0, (1 << 112) - 1));
        f.fee = uint16(bound(f.fee, 0, (1 << 15) - 1));
        f.auth = uint8(bound(f.auth, 0, 15));
        return f;
    }

    function testFuzzPriorityOp(Fields memory f, bool fullExit, Framing memory fr) public view {
        f = bounded(f);
        bytes memory op = fullExit
            ? Enc.fullExit(f.account, f.token, f.amount, f.who)
            : Enc.deposit(f.account, f.token, f.amount, f.who);
        (bytes memory data, uint256 start) = frame(op, 310, fr.seed, fr.prefix % 8, fr.suffix);
        (uint32 a, uint16 t, uint128 m, address w) = h.priorityOp(data, start);
        assertEq(a, f.account, "account");
        assertEq(t, f.token, "token");
        assertEq(m, f.amount, "amount");
        assertEq(w, f.who, "address");
        assertEq(h.tag(data, start), fullExit ? 5 : 4, "tag");
    }

    function testFuzzWithdraw(Fields memory f, Framing memory fr) public view {
        f = bounded(f);
        bytes memory op = Enc.withdraw(f.account, f.token, f.amount, f.fee, f.who);
        (bytes memory data, uint256 start) = frame(op, 325, fr.seed, fr.prefix % 8, fr.suffix);
        (uint16 t, uint128 m, address w) = h.withdraw(data, start);
        assertEq(t, f.token, "token");
        assertEq(m, f.amount, "amount");
        assertEq(w, f.who, "to");
        assertEq(h.tag(data, start), 3, "tag");
        // The fields the contract does not read sit where the layout says.
        assertEq(h.bits(data, start, 4, 24), f.account, "from");
        assertEq(h.bits(data, start, 150, 15), f.fee, "fee");
    }

    function testFuzzChangePubKey(Fields memory f, Framing memory fr) public view {
        f = bounded(f);
        bytes memory op = Enc.changePubKey(f.account, f.auth, f.pubkey, f.nonce, f.token, f.fee, f.who);
        (bytes memory data, uint256 start) = frame(op, 505, fr.seed, fr.prefix % 8, fr.suffix);
        Pubdata.ChangePubKey memory c = h.changePubKey(data, start);
        assertEq(c.account, f.account, "account");
        assertEq(c.auth, f.auth, "auth");
        assertEq(c.pubkey, f.pubkey, "pubkey");
        assertEq(c.nonce, f.nonce, "nonce");
        assertEq(c.feeToken, f.token, "fee token");
        assertEq(c.fee, Enc.feeValue(f.fee), "fee");
        assertEq(c.owner, f.who, "owner");
        assertEq(h.tag(data, start), 6, "tag");
    }

    function testFuzzUnpackFee(uint16 packed) public view {
        packed = uint16(bound(packed, 0, (1 << 15) - 1));
        uint256 mantissa = packed >> 5;
        uint256 exponent = packed & 31;
        assertEq(h.unpackFee(packed), mantissa * 10 ** exponent, "mantissa * 10^exponent");
        assertTrue(h.unpackFee(packed) <= 1023 * 10 ** 31, "bounded");
    }

    /// `bits` against a bit-by-bit reader, for any offset and width it is used with.
    function testFuzzBits(uint256 seed, uint16 offset, uint8 width) public view {
        bytes memory data = randomBytes(seed, 160);
        uint256 start = (seed % 5) * 14;
        offset = uint16(bound(offset, 0, 505));
        width = uint8(bound(width, 1, 249 - (offset % 8)));
        uint256 expected = 0;
        for (uint256 bit = 0; bit < width; ++bit) {
            uint256 pos = start * 8 + offset + bit;
            expected = (expected << 1) | ((uint8(data[pos / 8]) >> (7 - pos % 8)) & 1);
        }
        assertEq(h.bits(data, start, offset, width), expected, "bits");
    }

    function testTagIgnoresTheRestOfTheByte() public view {
        for (uint256 b = 0; b < 256; ++b) {
            bytes memory d = new bytes(14);
            // forge-lint: disable-next-line(unsafe-typecast)
            d[0] = bytes1(uint8(b));
            assertEq(h.tag(d, 0), b >> 4, "high nibble");
        }
    }
}
