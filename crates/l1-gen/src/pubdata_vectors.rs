//! `contracts/test/PubdataVectors.t.sol`: ops encoded by the Rust codec
//! (`causeway_primitives::pubdata::encode`), read back by the contract's `Pubdata` library.
//!
//! The L1 contract only reads some fields (priority ops, withdrawals, ChangePubKey), at bit
//! offsets it hard-codes; these vectors hold those offsets to the codec. Edge values (largest
//! ids, amounts and fees, all-ones addresses) catch an offset that is off by a bit, seeded
//! random values catch swapped fields, and one batch of every kind back to back checks that
//! the contract's walk finds each op where the codec put it.

use causeway_primitives::pubdata::{AuthKind, PubdataOp, encode};
use causeway_primitives::{AccountId, Address, PackedAmount, PackedFee, PackedPoint, TokenId};
use rand::{Rng, RngCore, SeedableRng, rngs::StdRng};
use std::fmt::Write;

fn address(a: &Address) -> String {
    // The checksummed form is what solc requires of an address literal.
    a.to_checksum(None)
}

/// Seeded random ops of every kind, with edge values first.
fn vectors() -> Vec<PubdataOp> {
    let mut rng = StdRng::seed_from_u64(0x5055_4244_4154_4131);
    let max_account = AccountId::new(AccountId::MAX).expect("max id");
    let max_token = TokenId::new(TokenId::MAX).expect("max token");
    let max_amount = (1u128 << 112) - 1;
    // The largest fee mantissa with the largest exponent that stays at most 2^112 - 1.
    let max_fee = PackedFee::pack(1023 * 10u128.pow(30)).expect("packable");
    let ones = Address::repeat_byte(0xff);
    let mut ops = vec![
        PubdataOp::Withdraw {
            from: max_account,
            token: max_token,
            amount: max_amount,
            fee: max_fee,
            to: ones,
        },
        PubdataOp::Deposit {
            account: max_account,
            token: max_token,
            amount: max_amount,
            address: ones,
        },
        PubdataOp::FullExit {
            account: max_account,
            token: max_token,
            amount: max_amount,
            owner: ones,
        },
        PubdataOp::ChangePubKey {
            account: max_account,
            auth: AuthKind::Onchain,
            pubkey: PackedPoint([0xff; 32]),
            nonce: u32::MAX,
            fee_token: max_token,
            fee: max_fee,
            address: ones,
        },
    ];
    for _ in 0..3 {
        let account = AccountId::new(rng.gen_range(0..=AccountId::MAX)).expect("in range");
        let token = TokenId::new(rng.gen_range(0..=TokenId::MAX)).expect("in range");
        let amount = rng.gen_range(0..=max_amount);
        let fee = PackedFee::round_down(rng.gen_range(0..=1_000_000_000u128));
        let mut addr = [0u8; 20];
        rng.fill_bytes(&mut addr);
        let addr = Address::from(addr);
        let mut key = [0u8; 32];
        rng.fill_bytes(&mut key);
        ops.push(PubdataOp::Withdraw {
            from: account,
            token,
            amount,
            fee,
            to: addr,
        });
        ops.push(PubdataOp::Deposit {
            account,
            token,
            amount,
            address: addr,
        });
        ops.push(PubdataOp::FullExit {
            account,
            token,
            amount,
            owner: addr,
        });
        ops.push(PubdataOp::ChangePubKey {
            account,
            auth: AuthKind::EthSignature,
            pubkey: PackedPoint(key),
            nonce: rng.r#gen(),
            fee_token: token,
            fee,
            address: addr,
        });
    }
    ops
}

/// One op of every kind, back to back: the walk must find each where the codec put it.
fn batch() -> Vec<PubdataOp> {
    let a = AccountId::new(7).expect("in range");
    let b = AccountId::new(9).expect("in range");
    let t = TokenId::new(3).expect("in range");
    let amount = PackedAmount::pack(1_500).expect("packable");
    let fee = PackedFee::pack(20).expect("packable");
    vec![
        PubdataOp::Noop,
        PubdataOp::Transfer {
            from: a,
            to: b,
            token: t,
            amount,
            fee,
        },
        PubdataOp::TransferToNew {
            from: a,
            to: b,
            token: t,
            amount,
            fee,
            to_address: Address::repeat_byte(0x42),
        },
        PubdataOp::Withdraw {
            from: a,
            token: t,
            amount: 99,
            fee,
            to: Address::repeat_byte(0x43),
        },
        PubdataOp::Deposit {
            account: b,
            token: t,
            amount: 1,
            address: Address::repeat_byte(0x44),
        },
        PubdataOp::FullExit {
            account: b,
            token: t,
            amount: 0,
            owner: Address::repeat_byte(0x45),
        },
        PubdataOp::ChangePubKey {
            account: a,
            auth: AuthKind::EthSignature,
            pubkey: PackedPoint([0x46; 32]),
            nonce: 5,
            fee_token: t,
            fee,
            address: Address::repeat_byte(0x47),
        },
    ]
}

/// The Solidity statement that checks one op read back at offset 0 of its own encoding.
fn check(op: &PubdataOp, i: usize) -> String {
    let data = hex::encode(encode(std::slice::from_ref(op)));
    match op {
        PubdataOp::Withdraw {
            token, amount, to, ..
        } => format!(
            "        {{\n            (uint16 token, uint128 amount, address to) = this.readWithdraw(hex\"{data}\");\n            require(token == {} && amount == {amount} && to == {}, \"vector {i}: withdraw\");\n        }}\n",
            token.get(),
            address(to)
        ),
        PubdataOp::Deposit {
            account,
            token,
            amount,
            address: owner,
        }
        | PubdataOp::FullExit {
            account,
            token,
            amount,
            owner,
        } => format!(
            "        {{\n            (uint256 tag, uint32 account, uint16 token, uint128 amount, address owner) = this.readPriorityOp(hex\"{data}\");\n            require(tag == {} && account == {} && token == {} && amount == {amount} && owner == {}, \"vector {i}: priority op\");\n        }}\n",
            op.kind() as u8,
            account.get(),
            token.get(),
            address(owner)
        ),
        PubdataOp::ChangePubKey {
            account,
            auth,
            pubkey,
            nonce,
            fee_token,
            fee,
            address: owner,
        } => format!(
            "        {{\n            Pubdata.ChangePubKey memory c = this.readChangePubKey(hex\"{data}\");\n            require(c.account == {} && c.auth == {} && c.pubkey == 0x{} && c.nonce == {nonce}, \"vector {i}: change pubkey\");\n            require(c.feeToken == {} && c.fee == {} && c.owner == {}, \"vector {i}: change pubkey fee\");\n        }}\n",
            account.get(),
            *auth as u8,
            hex::encode(pubkey.0),
            fee_token.get(),
            fee.value(),
            address(owner)
        ),
        other => unreachable!("no vector for {other:?}"),
    }
}

/// `contracts/test/PubdataVectors.t.sol`.
pub fn pubdata_vectors_test_sol() -> String {
    let mut out = format!(
        "// SPDX-License-Identifier: MIT OR Apache-2.0
// Generated by `{}` from causeway_primitives::pubdata::encode.
// Do not edit by hand.
pragma solidity ^0.8.24;

import {{Pubdata}} from \"../src/Pubdata.sol\";

/// The contract's pubdata readers against ops encoded by the Rust codec.
contract PubdataVectorsTest {{
    function readWithdraw(bytes calldata data) external pure returns (uint16, uint128, address) {{
        require(Pubdata.tag(data, 0) == Pubdata.WITHDRAW && Pubdata.size(Pubdata.WITHDRAW) == data.length, \"withdraw framing\");
        return Pubdata.withdraw(data, 0);
    }}

    function readPriorityOp(bytes calldata data) external pure returns (uint256, uint32, uint16, uint128, address) {{
        uint256 tag = Pubdata.tag(data, 0);
        require(Pubdata.size(tag) == data.length, \"priority op framing\");
        (uint32 account, uint16 token, uint128 amount, address owner) = Pubdata.priorityOp(data, 0);
        return (tag, account, token, amount, owner);
    }}

    function readChangePubKey(bytes calldata data) external pure returns (Pubdata.ChangePubKey memory) {{
        require(Pubdata.tag(data, 0) == Pubdata.CHANGE_PUBKEY && Pubdata.size(Pubdata.CHANGE_PUBKEY) == data.length, \"change pubkey framing\");
        return Pubdata.changePubKey(data, 0);
    }}

    /// The (offset, tag) of every op, walking as BatchChain does.
    function walk(bytes calldata data) external pure returns (uint256[] memory offsets, uint256[] memory tags) {{
        offsets = new uint256[](data.length / Pubdata.CHUNK_BYTES);
        tags = new uint256[](offsets.length);
        uint256 n = 0;
        for (uint256 offset = 0; offset < data.length; n++) {{
            offsets[n] = offset;
            tags[n] = Pubdata.tag(data, offset);
            offset += Pubdata.size(tags[n]);
        }}
        assembly {{
            mstore(offsets, n)
            mstore(tags, n)
        }}
    }}

    function testFieldsMatchTheCodec() public view {{
",
        crate::REGENERATE
    );
    for (i, op) in vectors().iter().enumerate() {
        out.push_str(&check(op, i));
    }
    out.push_str("    }\n\n    function testWalkFindsEveryOp() public view {\n");
    let ops = batch();
    let data = hex::encode(encode(&ops));
    writeln!(
        out,
        "        (uint256[] memory offsets, uint256[] memory tags) = this.walk(hex\"{data}\");\n        require(offsets.length == {}, \"op count\");",
        ops.len()
    )
    .expect("writing to a String cannot fail");
    let mut offset = 0;
    for (i, op) in ops.iter().enumerate() {
        writeln!(
            out,
            "        require(offsets[{i}] == {offset} && tags[{i}] == {}, \"op {i}\");",
            op.kind() as u8
        )
        .expect("writing to a String cannot fail");
        offset += op.chunks() * causeway_primitives::pubdata::CHUNK_BYTES;
    }
    out.push_str("    }\n}\n");
    out
}
