//! One account leaf update in the batch circuit: the leaf before, the rules' choice of the
//! leaf after, and the account-tree roots around the change.
//!
//! Owns: allocating an account's leaf fields and both of its paths (the account tree and the
//! account's balance tree, sharing siblings between before and after), and recomputing
//! `(root_before, root_after)`. Invariants:
//! - `address * 2^32 + nonce` is decomposed into 192 booleans, so the nonce and the address
//!   read from the leaf are the only ones the leaf admits (with an unchecked split, a prover
//!   could claim an old nonce and replay a signature);
//! - an empty slot (leaf 0) reads as address 0, nonce 0, no key and the empty balance tree, so
//!   an account created in it starts from exactly those values;
//! - the balance path's index is the token, the account path's index is the account id;
//!   callers tie both to the op's fields.
//!
//! Cost: 3,020 for the balance path, 2 x 298 for the leaves, 7,248 for the account path, 192
//! + 35 for booleans and 4 for the empty-slot defaults.

use super::input::UpdateInput;
use crate::eddsa::le_value;
use crate::merkle::PathVar;
use crate::poseidon::poseidon_gadget;
use ark_ff::{BigInteger, PrimeField};
use ark_r1cs_std::R1CSVar;
use ark_r1cs_std::alloc::AllocVar;
use ark_r1cs_std::boolean::Boolean;
use ark_r1cs_std::eq::EqGadget;
use ark_r1cs_std::fields::FieldVar;
use ark_r1cs_std::fields::fp::FpVar;
use ark_relations::r1cs::{ConstraintSystemRef, SynthesisError};
use causeway_primitives::Fr;
use causeway_tree::{ACCOUNT_TREE_HEIGHT, BALANCE_TREE_HEIGHT, Poseidon, empty_hashes};

const NONCE_BITS: usize = 32;
const ADDRESS_NONCE_BITS: usize = 192;

/// An account leaf before an update, as witnesses.
pub(crate) struct UpdateVar {
    pub path: PathVar,
    pub balance_path: PathVar,
    pub exists: Boolean<Fr>,
    /// `address * 2^32 + nonce`, little-endian.
    an_bits: Vec<Boolean<Fr>>,
    pub pubkey: (FpVar<Fr>, FpVar<Fr>),
    pub balance: FpVar<Fr>,
}

/// The leaf after an update, as the op's rules compute it.
pub(crate) struct LeafAfter {
    pub exists: FpVar<Fr>,
    pub address_nonce: FpVar<Fr>,
    pub pubkey: (FpVar<Fr>, FpVar<Fr>),
    pub balance: FpVar<Fr>,
}

impl UpdateVar {
    pub fn new_witness(
        cs: ConstraintSystemRef<Fr>,
        input: &UpdateInput,
    ) -> Result<Self, SynthesisError> {
        let path = PathVar::new_witness(
            cs.clone(),
            usize::from(ACCOUNT_TREE_HEIGHT),
            Some(&input.account_proof),
        )?;
        let balance_path = PathVar::new_witness(
            cs.clone(),
            usize::from(BALANCE_TREE_HEIGHT),
            Some(&input.balance_proof),
        )?;
        let exists = Boolean::new_witness(cs.clone(), || Ok(input.exists))?;
        let an = input.address_nonce.into_bigint().to_bits_le();
        let an_bits = (0..ADDRESS_NONCE_BITS)
            .map(|i| Boolean::new_witness(cs.clone(), || Ok(an[i])))
            .collect::<Result<Vec<_>, _>>()?;
        let pubkey = (
            FpVar::new_witness(cs.clone(), || Ok(input.pubkey.0))?,
            FpVar::new_witness(cs.clone(), || Ok(input.pubkey.1))?,
        );
        let balance = FpVar::new_witness(cs, || Ok(Fr::from(input.balance)))?;
        Ok(Self {
            path,
            balance_path,
            exists,
            an_bits,
            pubkey,
            balance,
        })
    }

    pub fn nonce_bits(&self) -> &[Boolean<Fr>] {
        &self.an_bits[..NONCE_BITS]
    }

    pub fn nonce(&self) -> FpVar<Fr> {
        le_value(self.nonce_bits())
    }

    pub fn address(&self) -> FpVar<Fr> {
        le_value(&self.an_bits[NONCE_BITS..])
    }

    pub fn address_nonce(&self) -> FpVar<Fr> {
        le_value(&self.an_bits)
    }

    pub fn account(&self) -> FpVar<Fr> {
        self.path.index()
    }

    pub fn token(&self) -> FpVar<Fr> {
        self.balance_path.index()
    }

    /// The leaf unchanged except for its balance.
    pub fn with_balance(&self, balance: FpVar<Fr>) -> LeafAfter {
        LeafAfter {
            exists: FpVar::from(self.exists.clone()),
            address_nonce: self.address_nonce(),
            pubkey: self.pubkey.clone(),
            balance,
        }
    }

    /// `(root_before, root_after)` of the account tree around this update.
    pub fn roots(&self, after: &LeafAfter) -> Result<(FpVar<Fr>, FpVar<Fr>), SynthesisError> {
        let empty_balances = empty_hashes::<Poseidon>()[usize::from(BALANCE_TREE_HEIGHT)];
        let (balances_before, balances_after) =
            self.balance_path.update(&self.balance, &after.balance)?;

        // An empty slot holds nothing: its fields read as zero and its balances as empty.
        let vacant = FpVar::from(!&self.exists);
        let zero = FpVar::zero();
        self.address_nonce().mul_equals(&vacant, &zero)?;
        self.pubkey.0.mul_equals(&vacant, &zero)?;
        self.pubkey.1.mul_equals(&vacant, &zero)?;
        (&balances_before - empty_balances).mul_equals(&vacant, &zero)?;

        let leaf_before = poseidon_gadget(&[
            self.address_nonce(),
            self.pubkey.0.clone(),
            self.pubkey.1.clone(),
            balances_before,
        ])? * FpVar::from(self.exists.clone());
        let leaf_after = poseidon_gadget(&[
            after.address_nonce.clone(),
            after.pubkey.0.clone(),
            after.pubkey.1.clone(),
            balances_after,
        ])? * &after.exists;
        self.path.update(&leaf_before, &leaf_after)
    }
}

/// Enforces `v < 2^n` by decomposing it into `n` booleans (`n + 1` constraints). A value out
/// of range gets its low bits as witnesses, so the system is unsatisfied rather than the
/// synthesis aborted: the prover learns which check failed from `which_is_unsatisfied`.
pub(crate) fn enforce_bits(v: &FpVar<Fr>, n: usize) -> Result<Vec<Boolean<Fr>>, SynthesisError> {
    let cs = v.cs();
    let value = v.value().ok().map(|x| x.into_bigint().to_bits_le());
    let bits = (0..n)
        .map(|i| {
            Boolean::new_witness(cs.clone(), || {
                value
                    .as_ref()
                    .map(|b| b[i])
                    .ok_or(SynthesisError::AssignmentMissing)
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    le_value(&bits).enforce_equal(v)?;
    Ok(bits)
}
