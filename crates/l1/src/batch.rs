//! A sealed block as the L1 contract's batch calls take it.
//!
//! Invariants, each mirroring `contracts/src/BatchChain.sol`:
//! - [`commit_info`] carries the pubdata unpadded (the contract pads with Noop chunks to the
//!   circuit's size) and one ECDSA signature per ChangePubKey authorized by signature, in
//!   pubdata order;
//! - [`withdrawals`] lists, in pubdata order, every Withdraw and every FullExit that paid
//!   something: exactly what the contract hashed at commit and checks at execution.

use alloy::primitives::{B256, Bytes, U256};
use causeway_bindings::BatchChain::{CommitInfo, Withdrawal};
use causeway_primitives::pubdata::{CodecError, PubdataOp, decode};
use causeway_primitives::{AccountId, ChangePubKeyAuth, Fr, Op, fr_to_be_bytes};
use causeway_stf::Sealed;

/// A state root as the contract stores it: the field element, big-endian.
pub fn root_word(root: &Fr) -> B256 {
    B256::from(fr_to_be_bytes(root))
}

/// A field element as a `uint256` argument (a commitment, an exit proof's siblings and key).
pub fn field_word(f: &Fr) -> U256 {
    U256::from_be_bytes(fr_to_be_bytes(f))
}

/// The `CommitInfo` of block `sealed`, which executed `ops` (the block's input, in order) and
/// credits its fees to `fee_account`.
pub fn commit_info(sealed: &Sealed, ops: &[Op], fee_account: AccountId) -> CommitInfo {
    let change_pubkey_signatures = ops
        .iter()
        .filter_map(|op| match op {
            Op::ChangePubKey(c) => match &c.auth {
                ChangePubKeyAuth::EthSignature(sig) => Some(Bytes::copy_from_slice(sig)),
                ChangePubKeyAuth::Onchain => None,
            },
            _ => None,
        })
        .collect();
    CommitInfo {
        newRoot: root_word(&sealed.diff.new_root),
        newAccountCount: sealed.diff.account_count,
        feeAccount: fee_account.get(),
        pubdata: sealed.pubdata().into(),
        changePubkeySignatures: change_pubkey_signatures,
    }
}

/// The withdrawals a batch with `pubdata` credits when executed, in the contract's order.
pub fn withdrawals(pubdata: &[u8]) -> Result<Vec<Withdrawal>, CodecError> {
    Ok(decode(pubdata)?
        .into_iter()
        .filter_map(|op| match op {
            PubdataOp::Withdraw {
                token, amount, to, ..
            } => Some(Withdrawal {
                owner: to,
                tokenId: token.get(),
                amount,
            }),
            PubdataOp::FullExit {
                token,
                amount,
                owner,
                ..
            } if amount != 0 => Some(Withdrawal {
                owner,
                tokenId: token.get(),
                amount,
            }),
            _ => None,
        })
        .collect())
}

/// A Groth16 proof as `proveBatches` takes it: `[A.x, A.y, B.x.c1, B.x.c0, B.y.c1, B.y.c0,
/// C.x, C.y]`, from `causeway_circuit::export::proof_to_evm`'s 32-byte big-endian words.
pub fn proof_words(words: &[[u8; 32]; 8]) -> [U256; 8] {
    std::array::from_fn(|i| U256::from_be_bytes(words[i]))
}
