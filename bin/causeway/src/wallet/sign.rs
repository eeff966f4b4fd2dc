//! The wallet's keys and signatures, with no IO: deriving the L2 key from the L1 key, and
//! building and signing the three L2 ops a user makes.
//!
//! The L2 key is never stored: it is re-derived from a `personal_sign` signature of
//! [`L2_KEY_MESSAGE`] by the L1 key each time it is needed. ECDSA signatures are deterministic
//! (RFC 6979), so every device holding the L1 key derives the same L2 key, and a browser wallet
//! signing the same message gets it too.

use super::WalletError;
use alloy::primitives::Address;
use alloy::signers::SignerSync;
use alloy::signers::local::PrivateKeySigner;
use causeway_crypto::eddsa::PrivateKey;
use causeway_crypto::l2key::{L2_KEY_MESSAGE, derive_from_eth_signature};
use causeway_crypto::message_hash;
use causeway_primitives::{
    AccountId, Balance, ChangePubKey, ChangePubKeyAuth, Domain, Fr, Nonce, PackedFee, PackedPoint,
    TokenId, Transfer, TxSignature, Withdraw, change_pubkey_eth_message, eth_signed_message_hash,
};

/// The L2 key of the wallet whose L1 key is `l1`: what `causeway util key --eth-signature`
/// derives from the same key's signature of [`L2_KEY_MESSAGE`].
pub fn derive_l2_key(l1: &PrivateKeySigner) -> Result<PrivateKey, WalletError> {
    // `sign_message` is EIP-191 `personal_sign`, exactly what a browser wallet signs.
    let signature = l1
        .sign_message_sync(L2_KEY_MESSAGE.as_bytes())
        .map_err(|e| WalletError::Signing(e.to_string()))?;
    Ok(derive_from_eth_signature(&signature.as_bytes()))
}

/// What a transfer or a withdrawal moves, before it is signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Payment {
    pub from: AccountId,
    /// The L2 recipient of a transfer, the L1 recipient of a withdrawal.
    pub to: Address,
    pub token: TokenId,
    pub amount: Balance,
    pub fee: Balance,
    pub nonce: Nonce,
}

/// A signature to be replaced: ops are signed over fields that do not include the signature.
const UNSIGNED: TxSignature = TxSignature {
    pubkey: PackedPoint([0; 32]),
    r8_x: [0; 32],
    r8_y: [0; 32],
    s: [0; 32],
};

fn sign_fields(key: &PrivateKey, fields: &[Fr; 4]) -> TxSignature {
    key.sign(message_hash(fields))
        .to_tx_signature(&key.public_key())
}

/// The transfer `p`, signed by `key` for `domain`.
pub fn sign_transfer(key: &PrivateKey, domain: &Domain, p: &Payment) -> Transfer {
    let mut op = Transfer {
        from: p.from,
        to: p.to,
        token: p.token,
        amount: p.amount,
        fee: p.fee,
        nonce: p.nonce,
        signature: UNSIGNED,
    };
    op.signature = sign_fields(key, &op.signing_fields(domain));
    op
}

/// The withdrawal `p`, signed by `key` for `domain`.
pub fn sign_withdraw(key: &PrivateKey, domain: &Domain, p: &Payment) -> Withdraw {
    let mut op = Withdraw {
        from: p.from,
        to: p.to,
        token: p.token,
        amount: p.amount,
        fee: p.fee,
        nonce: p.nonce,
        signature: UNSIGNED,
    };
    op.signature = sign_fields(key, &op.signing_fields(domain));
    op
}

/// A ChangePubKey before its authorization.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyChange {
    pub account: AccountId,
    pub new_pubkey: PackedPoint,
    pub fee_token: TokenId,
    pub fee: Balance,
    pub nonce: Nonce,
}

/// The ChangePubKey `c`, authorized by the account owner's L1 key: an ECDSA signature over
/// the EIP-191 hash of [`change_pubkey_eth_message`], which the stf and the L1 contract
/// `ecrecover` to the account's address.
pub fn sign_change_pubkey(
    l1: &PrivateKeySigner,
    domain: &Domain,
    c: &KeyChange,
) -> Result<ChangePubKey, WalletError> {
    let mut op = ChangePubKey {
        account: c.account,
        new_pubkey: c.new_pubkey,
        fee_token: c.fee_token,
        fee: c.fee,
        nonce: c.nonce,
        auth: ChangePubKeyAuth::Onchain,
    };
    let digest = eth_signed_message_hash(&change_pubkey_eth_message(domain, &op));
    let signature = l1
        .sign_hash_sync(&digest)
        .map_err(|e| WalletError::Signing(e.to_string()))?;
    op.auth = ChangePubKeyAuth::EthSignature(signature.as_bytes());
    Ok(op)
}

/// The fee to offer for a quoted `fee`: the quote itself when it has a packed form (fees
/// travel in 15 bits), else the least value above it with three significant digits, which
/// always packs (mantissa at most 999 < 2^10) and overpays by under 1%.
pub fn round_fee_up(fee: Balance) -> Balance {
    if PackedFee::is_packable(fee) {
        return fee;
    }
    let mut unit: Balance = 1;
    while fee / unit >= 1000 {
        unit *= 10;
    }
    fee.div_ceil(unit) * unit
}
