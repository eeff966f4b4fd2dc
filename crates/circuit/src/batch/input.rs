//! The batch circuit's native inputs, built from the stf's [`BlockWitness`], and the public
//! input (the commitment) computed the way the L1 contract computes it.
//!
//! Owns the mapping from executed ops to circuit slots: one slot per pubdata chunk, the op's
//! work in the slot of its first chunk, two account updates per slot (`u1` the op's own
//! account, `u2` a transfer's receiver). A slot whose update has nothing to do gets a fixed
//! dummy that the circuit switches off. Invariant: for every block the stf sealed, with at
//! most `chunks` chunks of pubdata and `fee_slots` fee tokens, [`BatchInput::new`] succeeds
//! and the circuit is satisfied; the stf's witness is read, never recomputed.

use super::{BatchError, BatchShape};
use ark_ff::{AdditiveGroup, Field, PrimeField};
use causeway_crypto::babyjubjub::{BASE8, Point, Scalar};
use causeway_crypto::eddsa::Signature;
use causeway_primitives::pubdata::{CHUNK_BYTES, PubdataOp};
use causeway_primitives::{AccountId, Balance, Domain, Fr, fr_to_be_bytes};
use causeway_stf::{AccountState, AccountUpdate, BlockWitness};
use causeway_tree::{
    ACCOUNT_TREE_HEIGHT, ARITY, BALANCE_TREE_HEIGHT, MerkleProof, Poseidon, empty_hashes,
};
use sha2::{Digest, Sha256};

/// One account leaf as the circuit reads it before an update, with both paths.
#[derive(Debug, Clone, PartialEq)]
pub struct UpdateInput {
    /// Whether the slot holds an account (else the leaf is 0 and every field below is 0).
    pub exists: bool,
    /// `address * 2^32 + nonce`, the leaf's first field.
    pub address_nonce: Fr,
    pub pubkey: (Fr, Fr),
    /// The balance of the token this update touches (the balance path's index).
    pub balance: Balance,
    pub balance_proof: MerkleProof,
    pub account_proof: MerkleProof,
}

impl UpdateInput {
    /// An update the circuit switches off: an empty account 0 over an empty balance tree.
    /// Its values only have to satisfy the checks that stay on (range checks, empty-slot
    /// defaults); its roots are never used.
    pub fn dummy() -> Self {
        let empty = empty_hashes::<Poseidon>();
        let proof = |height: u8, siblings: &dyn Fn(usize) -> Fr| MerkleProof {
            index: 0,
            leaf: Fr::ZERO,
            siblings: (0..usize::from(height))
                .map(|l| [siblings(l); ARITY - 1])
                .collect(),
        };
        Self {
            exists: false,
            address_nonce: Fr::ZERO,
            pubkey: (Fr::ZERO, Fr::ZERO),
            balance: 0,
            balance_proof: proof(BALANCE_TREE_HEIGHT, &|l| empty[l]),
            account_proof: proof(ACCOUNT_TREE_HEIGHT, &|_| Fr::ZERO),
        }
    }

    fn from_stf(u: &AccountUpdate) -> Result<Self, BatchError> {
        let balance = u.balance.as_ref().ok_or(BatchError::Witness(
            "every update of a batch touches one balance",
        ))?;
        let (exists, address_nonce, pubkey) = match &u.before {
            Some(a) => (true, a.address_nonce_fr(), pubkey_of(a)),
            None => (false, Fr::ZERO, (Fr::ZERO, Fr::ZERO)),
        };
        Ok(Self {
            exists,
            address_nonce,
            pubkey,
            balance: balance.before,
            balance_proof: balance.proof.clone(),
            account_proof: u.account_proof.clone(),
        })
    }
}

fn pubkey_of(a: &AccountState) -> (Fr, Fr) {
    a.pubkey.map_or((Fr::ZERO, Fr::ZERO), |k| (k.x, k.y))
}

/// Everything one chunk slot needs besides its pubdata.
#[derive(Debug, Clone, PartialEq)]
pub struct SlotInput {
    pub u1: UpdateInput,
    pub u2: UpdateInput,
    /// The signer's key `A` and the signature; a fixed valid dummy in slots without one.
    pub signer: Point,
    pub signature: Signature,
    /// A ChangePubKey's new key and `Q` with `8Q` equal to it (its subgroup witness).
    pub new_key: Point,
    pub new_key_eighth: Point,
    /// The op's fee split over the fee slots (it all lands in a slot of its token).
    pub fee_split: Vec<Balance>,
}

impl SlotInput {
    fn idle(fee_slots: usize) -> Self {
        Self {
            u1: UpdateInput::dummy(),
            u2: UpdateInput::dummy(),
            signer: BASE8,
            signature: Signature {
                r8: BASE8,
                s: Scalar::ZERO,
            },
            new_key: Point::IDENTITY,
            new_key_eighth: Point::IDENTITY,
            fee_split: vec![0; fee_slots],
        }
    }
}

/// One credit of collected fees to the fee account.
#[derive(Debug, Clone, PartialEq)]
pub struct FeeSlotInput {
    pub active: bool,
    pub update: UpdateInput,
}

/// All values of one batch proof.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchInput {
    pub shape: BatchShape,
    pub old_root: Fr,
    pub new_root: Fr,
    pub domain: Domain,
    pub fee_account: AccountId,
    pub old_account_count: u32,
    pub new_account_count: u32,
    /// Exactly `shape.chunks` chunks: the block's pubdata, then zero (Noop) chunks.
    pub pubdata: Vec<u8>,
    pub slots: Vec<SlotInput>,
    pub fee_slots: Vec<FeeSlotInput>,
}

impl BatchInput {
    /// The inputs for proving the block `witness` describes.
    ///
    /// # Errors
    /// [`BatchError`] when the block does not fit the shape (too many chunks or fee tokens)
    /// or the witness is inconsistent (an op without its signature, a missing update).
    pub fn new(
        shape: BatchShape,
        domain: Domain,
        fee_account: AccountId,
        witness: &BlockWitness,
    ) -> Result<Self, BatchError> {
        let used: usize = witness.ops.iter().map(|o| o.op.chunks()).sum();
        if used > shape.chunks {
            return Err(BatchError::TooManyChunks {
                used,
                capacity: shape.chunks,
            });
        }
        if witness.fee_updates.len() > shape.fee_slots {
            return Err(BatchError::TooManyFeeTokens {
                used: witness.fee_updates.len(),
                capacity: shape.fee_slots,
            });
        }
        let fee_tokens: Vec<u16> = witness
            .fee_updates
            .iter()
            .map(|u| u.balance.as_ref().map_or(0, |b| b.token.get()))
            .collect();

        let mut pubdata = Vec::with_capacity(shape.chunks * CHUNK_BYTES);
        let mut slots = Vec::with_capacity(shape.chunks);
        for ow in &witness.ops {
            ow.op.encode_into(&mut pubdata);
            let mut slot = SlotInput::idle(shape.fee_slots);
            fill_slot(&mut slot, ow, &fee_tokens)?;
            slots.push(slot);
            for _ in 1..ow.op.chunks() {
                slots.push(SlotInput::idle(shape.fee_slots));
            }
        }
        pubdata.resize(shape.chunks * CHUNK_BYTES, 0);
        slots.resize_with(shape.chunks, || SlotInput::idle(shape.fee_slots));

        let mut fee_slots: Vec<FeeSlotInput> = witness
            .fee_updates
            .iter()
            .map(|u| {
                Ok(FeeSlotInput {
                    active: true,
                    update: UpdateInput::from_stf(u)?,
                })
            })
            .collect::<Result<_, BatchError>>()?;
        fee_slots.resize_with(shape.fee_slots, || FeeSlotInput {
            active: false,
            update: UpdateInput::dummy(),
        });

        Ok(Self {
            shape,
            old_root: witness.old_root,
            new_root: witness.new_root,
            domain,
            fee_account,
            old_account_count: witness.old_account_count,
            new_account_count: witness.new_account_count,
            pubdata,
            slots,
            fee_slots,
        })
    }

    /// A batch of Noops over the empty state: the values a setup synthesizes with (setup
    /// reads only the circuit's shape), and a satisfiable batch in its own right.
    pub fn empty(shape: BatchShape, domain: Domain) -> Self {
        let root = empty_hashes::<Poseidon>()[usize::from(ACCOUNT_TREE_HEIGHT)];
        Self {
            shape,
            old_root: root,
            new_root: root,
            domain,
            fee_account: AccountId::new(0).expect("0 is an account id"),
            old_account_count: 0,
            new_account_count: 0,
            pubdata: vec![0; shape.chunks * CHUNK_BYTES],
            slots: vec![SlotInput::idle(shape.fee_slots); shape.chunks],
            fee_slots: vec![
                FeeSlotInput {
                    active: false,
                    update: UpdateInput::dummy(),
                };
                shape.fee_slots
            ],
        }
    }

    /// The bytes the commitment hashes before the pubdata (see [`commitment`]).
    pub fn header(&self) -> Vec<u8> {
        header(
            &self.old_root,
            &self.new_root,
            &self.domain,
            self.fee_account,
            self.old_account_count,
            self.new_account_count,
        )
    }

    /// The proof's single public input.
    pub fn commitment(&self) -> Fr {
        commitment(&self.header(), &self.pubdata)
    }
}

/// Length of [`header`]: two roots, the domain (chain id, contract), the fee account and the
/// account counts before and after.
pub const HEADER_BYTES: usize = 32 + 32 + 8 + 20 + 4 + 4 + 4;

/// `old_root ‖ new_root ‖ chain_id ‖ contract ‖ fee_account ‖ old_count ‖ new_count`, every
/// integer big-endian (roots 32 bytes, chain id 8, contract 20, the rest 4): what the L1
/// contract packs with `abi.encodePacked` from its stored state and the commit call.
pub fn header(
    old_root: &Fr,
    new_root: &Fr,
    domain: &Domain,
    fee_account: AccountId,
    old_count: u32,
    new_count: u32,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_BYTES);
    out.extend_from_slice(&fr_to_be_bytes(old_root));
    out.extend_from_slice(&fr_to_be_bytes(new_root));
    out.extend_from_slice(&domain.chain_id.to_be_bytes());
    out.extend_from_slice(domain.contract.as_slice());
    out.extend_from_slice(&fee_account.get().to_be_bytes());
    out.extend_from_slice(&old_count.to_be_bytes());
    out.extend_from_slice(&new_count.to_be_bytes());
    out
}

/// Bits of the SHA-256 digest kept in the public input: the low 253, so that the value is
/// below the field modulus without a reduction in the circuit or on L1.
pub const COMMITMENT_BITS: usize = 253;

/// `sha256(header ‖ pubdata) mod 2^253`, the proof's public input.
pub fn commitment(header: &[u8], pubdata: &[u8]) -> Fr {
    let mut digest: [u8; 32] = Sha256::new()
        .chain_update(header)
        .chain_update(pubdata)
        .finalize()
        .into();
    digest[0] &= 0x1f;
    Fr::from_be_bytes_mod_order(&digest)
}

/// Fills the slot of an op's first chunk from the stf's record of it.
fn fill_slot(
    slot: &mut SlotInput,
    ow: &causeway_stf::OpWitness,
    fee_tokens: &[u16],
) -> Result<(), BatchError> {
    let first = |i: usize| {
        ow.updates
            .get(i)
            .ok_or(BatchError::Witness("an op is missing an account update"))
    };
    match &ow.op {
        PubdataOp::Noop => {}
        PubdataOp::Transfer { from, to, .. } | PubdataOp::TransferToNew { from, to, .. } => {
            slot.u1 = UpdateInput::from_stf(first(0)?)?;
            slot.u2 = if from == to {
                // The stf records a self-transfer as one update; the circuit debits, then
                // credits the same leaf, over the same paths.
                let u = first(0)?;
                let debited = self_transfer_debit(&ow.op, u)?;
                let mut second = slot.u1.clone();
                second.address_nonce += Fr::ONE;
                second.balance = debited;
                second
            } else {
                UpdateInput::from_stf(first(1)?)?
            };
        }
        PubdataOp::Withdraw { .. }
        | PubdataOp::Deposit { .. }
        | PubdataOp::FullExit { .. }
        | PubdataOp::ChangePubKey { .. } => {
            slot.u1 = UpdateInput::from_stf(first(0)?)?;
        }
    }
    if matches!(
        ow.op,
        PubdataOp::Transfer { .. } | PubdataOp::TransferToNew { .. } | PubdataOp::Withdraw { .. }
    ) {
        let sig = ow
            .signature
            .as_ref()
            .ok_or(BatchError::Witness("a signed op has no signature"))?;
        let (_, signature) = Signature::from_tx_signature(sig)
            .map_err(|_| BatchError::Witness("a signature does not decode"))?;
        slot.signer = Point {
            x: slot.u1.pubkey.0,
            y: slot.u1.pubkey.1,
        };
        slot.signature = signature;
    }
    if let PubdataOp::ChangePubKey { pubkey, .. } = &ow.op {
        let key = Point::unpack(pubkey).ok_or(BatchError::Witness("a new key does not decode"))?;
        slot.new_key = key;
        slot.new_key_eighth = key.mul_scalar(&eighth());
    }
    if let Some((token, fee)) = ow.op.fee().filter(|(_, fee)| *fee > 0) {
        let f = fee_tokens
            .iter()
            .position(|t| *t == token.get())
            .ok_or(BatchError::Witness("a fee's token has no fee credit"))?;
        slot.fee_split[f] = fee;
    }
    Ok(())
}

/// The balance between the debit and the credit of a self-transfer.
fn self_transfer_debit(op: &PubdataOp, u: &AccountUpdate) -> Result<Balance, BatchError> {
    let PubdataOp::Transfer { amount, fee, .. } = op else {
        return Err(BatchError::Witness("only a transfer can be to its sender"));
    };
    let before = u.balance.as_ref().map_or(0, |b| b.before);
    before
        .checked_sub(amount.value() + fee.value())
        .ok_or(BatchError::Witness("a self-transfer overdraws"))
}

/// `8^-1 mod l`: multiplying a subgroup point by it gives the `Q` with `8Q` the point.
fn eighth() -> Scalar {
    Scalar::from(8u64).inverse().expect("8 is invertible mod l")
}
