//! The users, keys and signed ops the node's integration tests share.
//!
//! User `n` owns the address `0xnn..nn` and the L2 key `[n; 32]`; the tests give it account `n`
//! (the fee account is account 0). Ops are signed for [`DOMAIN`], the one the sequencer's
//! [`config`] runs under, so a signature made here is one the sequencer accepts.

#![allow(dead_code)] // each test binary uses a different part

use causeway_circuit::batch::BatchShape;
use causeway_crypto::eddsa::PrivateKey;
use causeway_crypto::poseidon::hash4;
use causeway_node::config::{FeeSchedule, SequencerConfig};
use causeway_primitives::{
    AccountId, Address, Balance, ChangePubKey, ChangePubKeyAuth, Deposit, Domain, Nonce, Op,
    PackedPoint, TokenId, Transfer, TxSignature,
};
use std::time::Duration;

pub const DOMAIN: Domain = Domain {
    chain_id: 31337,
    contract: Address::repeat_byte(0xcc),
};
/// The transfer and withdrawal fee floor (and the fee every test transfer pays unless it says
/// otherwise).
pub const FEE: Balance = 10;
/// The fee account's owner.
pub const OPERATOR: Address = Address::repeat_byte(0xfe);

pub fn id(n: u32) -> AccountId {
    AccountId::new(n).expect("a valid account id")
}

pub fn key(n: u8) -> PrivateKey {
    PrivateKey::from_bytes([n; 32])
}

pub fn addr(n: u8) -> Address {
    Address::repeat_byte(n)
}

/// The sequencer's configuration: users `1..=users` have their keys authorized on L1, ETH is
/// the only token, fees are [`FEE`] (ChangePubKey is free).
pub fn config(shape: BatchShape, block_time: Duration, users: u8) -> SequencerConfig {
    SequencerConfig {
        shape,
        block_time,
        fee_account: id(0),
        domain: DOMAIN,
        token_count: 1,
        auths: (1..=users)
            .map(|n| (addr(n), key(n).public_key().to_packed(), 0))
            .collect(),
        fees: FeeSchedule {
            transfer: FEE,
            withdraw: FEE,
            change_pubkey: 0,
        },
        max_parked_per_sender: 4,
        max_group: 256,
        background: causeway_node::priority::Background::new(0),
    }
}

pub fn deposit(priority_id: u64, to: Address, token: TokenId, amount: Balance) -> Op {
    Op::Deposit(Deposit {
        priority_id,
        from: to,
        to,
        token,
        amount,
    })
}

/// A ChangePubKey registering user `n`'s key on account `n`, authorized on L1.
pub fn register(n: u8) -> Op {
    Op::ChangePubKey(ChangePubKey {
        account: id(n.into()),
        new_pubkey: key(n).public_key().to_packed(),
        fee_token: TokenId::ETH,
        fee: 0,
        nonce: 0,
        auth: ChangePubKeyAuth::Onchain,
    })
}

/// An ETH transfer from account `from`, signed with key `signer`.
pub fn signed_transfer(
    signer: u8,
    from: AccountId,
    to: Address,
    amount: Balance,
    fee: Balance,
    nonce: Nonce,
) -> Transfer {
    let mut t = Transfer {
        from,
        to,
        token: TokenId::ETH,
        amount,
        fee,
        nonce,
        signature: TxSignature {
            pubkey: PackedPoint([0; 32]),
            r8_x: [0; 32],
            r8_y: [0; 32],
            s: [0; 32],
        },
    };
    let k = key(signer);
    t.signature = k
        .sign(hash4(&t.signing_fields(&DOMAIN)))
        .to_tx_signature(&k.public_key());
    t
}

/// User `from` (account `from`) pays `amount` ETH to `to` with fee [`FEE`].
pub fn transfer(from: u8, to: Address, amount: Balance, nonce: Nonce) -> Op {
    Op::Transfer(signed_transfer(
        from,
        id(from.into()),
        to,
        amount,
        FEE,
        nonce,
    ))
}
