//! A small world for stf tests: users with L1 and L2 keys, a state, and block application.

#![allow(dead_code)]

use alloy_primitives::{Address, keccak256};
use causeway_crypto::eddsa::PrivateKey;
use causeway_primitives::{
    AccountId, Balance, ChangePubKey, ChangePubKeyAuth, Deposit, Domain, Op, TokenId, Transfer,
    TxSignature, Withdraw, change_pubkey_eth_message, eth_signed_message_hash,
};
use causeway_stf::{BlockContext, MemoryState, Sealed, StateView, WitnessMode, apply_block};

pub const DOMAIN: Domain = Domain {
    chain_id: 31337,
    contract: Address::repeat_byte(0xcc),
};
pub const ETH: TokenId = TokenId::ETH;

pub fn token(id: u16) -> TokenId {
    TokenId::new(id).unwrap()
}

pub fn ctx(fee_account: u32) -> BlockContext {
    BlockContext {
        domain: DOMAIN,
        fee_account: AccountId::new(fee_account).unwrap(),
        token_count: 4,
        onchain_auths: Default::default(),
        max_fee_tokens: 4,
    }
}

/// A user: an Ethereum key (secp256k1) and an L2 key.
#[derive(Clone)]
pub struct User {
    pub eth_secret: k256::ecdsa::SigningKey,
    pub address: Address,
    pub l2: PrivateKey,
}

impl User {
    pub fn new(seed: u64) -> Self {
        let secret = keccak256(seed.to_be_bytes());
        let eth_secret = k256::ecdsa::SigningKey::from_slice(secret.as_slice()).unwrap();
        let address = Address::from_public_key(eth_secret.verifying_key());
        let l2 = PrivateKey::from_bytes(keccak256(secret).0);
        User {
            eth_secret,
            address,
            l2,
        }
    }

    pub fn sign_eth(&self, message: &alloy_primitives::B256) -> [u8; 65] {
        let hash = eth_signed_message_hash(message);
        let (sig, recid) = self
            .eth_secret
            .sign_prehash_recoverable(hash.as_slice())
            .unwrap();
        let mut out = [0u8; 65];
        out[..64].copy_from_slice(&sig.to_bytes());
        out[64] = 27 + recid.to_byte();
        out
    }

    pub fn change_pubkey(&self, account: u32, nonce: u32, fee: Balance) -> Op {
        let mut cpk = ChangePubKey {
            account: AccountId::new(account).unwrap(),
            new_pubkey: self.l2.public_key().to_packed(),
            fee_token: ETH,
            fee,
            nonce,
            auth: ChangePubKeyAuth::Onchain,
        };
        cpk.auth = ChangePubKeyAuth::EthSignature(
            self.sign_eth(&change_pubkey_eth_message(&DOMAIN, &cpk)),
        );
        Op::ChangePubKey(cpk)
    }

    pub fn transfer(
        &self,
        from: u32,
        to: Address,
        tok: TokenId,
        amount: Balance,
        fee: Balance,
        nonce: u32,
    ) -> Transfer {
        let mut t = Transfer {
            from: AccountId::new(from).unwrap(),
            to,
            token: tok,
            amount,
            fee,
            nonce,
            signature: blank_signature(),
        };
        t.signature = self.sign(t.signing_fields(&DOMAIN));
        t
    }

    pub fn withdraw(
        &self,
        from: u32,
        to: Address,
        tok: TokenId,
        amount: Balance,
        fee: Balance,
        nonce: u32,
    ) -> Withdraw {
        let mut w = Withdraw {
            from: AccountId::new(from).unwrap(),
            to,
            token: tok,
            amount,
            fee,
            nonce,
            signature: blank_signature(),
        };
        w.signature = self.sign(w.signing_fields(&DOMAIN));
        w
    }

    pub fn sign(&self, fields: [causeway_primitives::Fr; 4]) -> TxSignature {
        let msg = causeway_crypto::poseidon::hash4(&fields);
        self.l2.sign(msg).to_tx_signature(&self.l2.public_key())
    }
}

pub fn blank_signature() -> TxSignature {
    use causeway_primitives::PackedPoint;
    TxSignature {
        pubkey: PackedPoint([0; 32]),
        r8_x: [0; 32],
        r8_y: [0; 32],
        s: [0; 32],
    }
}

pub fn deposit(priority_id: u64, to: Address, tok: TokenId, amount: Balance) -> Op {
    Op::Deposit(Deposit {
        priority_id,
        from: to,
        to,
        token: tok,
        amount,
    })
}

/// Applies a block all-or-nothing and commits it; returns the sealed block.
pub fn commit(state: &mut MemoryState, ctx: &BlockContext, ops: &[Op]) -> Sealed {
    let sealed = apply_block(state, ctx, ops, WitnessMode::Skip).expect("block applies");
    state.apply(&sealed.diff);
    sealed
}

/// Sum of all balances of `tok` in the state.
pub fn total(state: &MemoryState, tok: TokenId) -> Balance {
    state
        .balances()
        .filter(|((_, t), _)| *t == tok)
        .map(|(_, b)| b)
        .sum()
}

pub fn balance(state: &MemoryState, account: u32, tok: TokenId) -> Balance {
    state.balance(AccountId::new(account).unwrap(), tok)
}

/// Operator (account 0, the fee account) and `n` users with accounts 1..=n, each funded with
/// `funds` of ETH and token 1, and with their L2 keys registered.
pub fn world(n: u64, funds: Balance) -> (MemoryState, Vec<User>) {
    let (state, users, _) = world_with_pubdata(n, funds);
    (state, users)
}

/// As [`world`], also returning the pubdata of the blocks that built it.
pub fn world_with_pubdata(n: u64, funds: Balance) -> (MemoryState, Vec<User>, Vec<Vec<u8>>) {
    let mut state = MemoryState::new();
    let users: Vec<User> = (0..=n).map(User::new).collect();
    let mut ops = Vec::new();
    for (i, u) in users.iter().enumerate() {
        ops.push(deposit(2 * i as u64, u.address, ETH, funds));
        ops.push(deposit(2 * i as u64 + 1, u.address, token(1), funds));
    }
    let genesis = commit(&mut state, &ctx(0), &ops).pubdata();
    let cpks: Vec<Op> = users
        .iter()
        .enumerate()
        .map(|(i, u)| u.change_pubkey(i as u32, 0, 0))
        .collect();
    let keys = commit(&mut state, &ctx(0), &cpks).pubdata();
    (state, users, vec![genesis, keys])
}
