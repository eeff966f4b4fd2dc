//! The batch circuit: one Groth16 statement for one sealed block.
//!
//! Statement, with one public input `c`: there are `old_root`, `new_root`, a domain, a fee
//! account, account counts and `chunks` chunks of pubdata such that
//! `c = sha256(header ‖ pubdata) mod 2^253` (header as in [`input::header`]), and applying the
//! pubdata's ops in order to the state `old_root` commits to, then crediting the fees,
//! gives the state `new_root` commits to, every op obeying the stf's rules ([`slot`]).
//!
//! Why this binding: the L1 contract recomputes `c` from the calldata it received and its own
//! stored roots for 60 + 12 gas per 32-byte word with the SHA-256 precompile, and pays for
//! one public input (one `ecMul` and one `ecAdd`, 6,150 gas). The circuit pays for SHA-256
//! instead (see the crate's README figures): a Poseidon commitment would cost the circuit
//! almost nothing, but the contract some 48k gas per 124 bytes of pubdata, more than the
//! whole proof's verification over a batch.
//!
//! Layout: `chunks` slots, each allowed to start an op ([`slot::op_slot`]), then `fee_slots`
//! credits of collected fees to the fee account. Ops take 1 to 5 chunks (a transfer between
//! existing accounts takes one), so a batch of `chunks` slots holds `chunks` such transfers.

pub mod input;
mod slot;
mod update;

pub use input::{BatchInput, COMMITMENT_BITS, FeeSlotInput, HEADER_BYTES, SlotInput, UpdateInput};

use crate::eddsa::canonical_bits;
use crate::sha256::sha256_gadget;
use ark_r1cs_std::alloc::AllocVar;
use ark_r1cs_std::boolean::Boolean;
use ark_r1cs_std::eq::EqGadget;
use ark_r1cs_std::fields::FieldVar;
use ark_r1cs_std::fields::fp::FpVar;
use ark_relations::r1cs::{ConstraintSynthesizer, ConstraintSystemRef, SynthesisError};
use causeway_primitives::Fr;
use causeway_primitives::pubdata::CHUNK_BYTES;
use serde::{Deserialize, Serialize};
use slot::{Marks, Running, WINDOW_BITS, be_value, op_slot};
use update::{UpdateVar, enforce_bits};

/// The size of a batch circuit; each shape has its own keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct BatchShape {
    /// Pubdata chunks, i.e. op slots.
    pub chunks: usize,
    /// Tokens the block's fees may be collected in.
    pub fee_slots: usize,
}

impl BatchShape {
    pub const fn new(chunks: usize, fee_slots: usize) -> Self {
        Self { chunks, fee_slots }
    }

    /// Bytes of pubdata a batch of this shape carries.
    pub const fn pubdata_bytes(&self) -> usize {
        self.chunks * CHUNK_BYTES
    }
}

impl std::fmt::Display for BatchShape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "c{}-f{}", self.chunks, self.fee_slots)
    }
}

/// Why a block cannot become a batch proof's input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    #[error("the block needs {used} pubdata chunks; the circuit has {capacity}")]
    TooManyChunks { used: usize, capacity: usize },
    #[error("the block collects fees in {used} tokens; the circuit has {capacity} fee slots")]
    TooManyFeeTokens { used: usize, capacity: usize },
    #[error("inconsistent witness: {0}")]
    Witness(&'static str),
}

/// The circuit for one batch, holding its values (for setup, any batch of the shape, e.g.
/// [`BatchInput::empty`]).
#[derive(Clone)]
pub struct BatchCircuit {
    pub input: BatchInput,
}

impl BatchCircuit {
    /// The circuit of `shape` holding an empty batch: what a setup or a constraint count
    /// synthesizes (the constraints depend on the shape only).
    pub fn of_shape(shape: BatchShape) -> Self {
        Self {
            input: BatchInput::empty(
                shape,
                causeway_primitives::Domain {
                    chain_id: 0,
                    contract: causeway_primitives::Address::ZERO,
                },
            ),
        }
    }
}

impl ConstraintSynthesizer<Fr> for BatchCircuit {
    fn generate_constraints(self, cs: ConstraintSystemRef<Fr>) -> Result<(), SynthesisError> {
        synthesize(&self.input, cs, &mut Marks::default())
    }
}

pub(crate) fn synthesize(
    input: &BatchInput,
    cs: ConstraintSystemRef<Fr>,
    marks: &mut Marks,
) -> Result<(), SynthesisError> {
    let shape = input.shape;
    if input.slots.len() != shape.chunks
        || input.fee_slots.len() != shape.fee_slots
        || input.pubdata.len() != shape.pubdata_bytes()
    {
        return Err(SynthesisError::Unsatisfiable);
    }
    let commitment = FpVar::new_input(cs.clone(), || Ok(input.commitment()))?;

    // Header fields.
    let old_root = FpVar::new_witness(cs.clone(), || Ok(input.old_root))?;
    let domain_bits = be_witness(cs.clone(), &domain_bytes(input))?;
    let domain = be_value(&domain_bits);
    let fee_account_bits = be_witness(cs.clone(), &input.fee_account.get().to_be_bytes())?;
    let old_count_bits = be_witness(cs.clone(), &input.old_account_count.to_be_bytes())?;
    let new_count_bits = be_witness(cs.clone(), &input.new_account_count.to_be_bytes())?;

    // Pubdata, and the fee slots' tokens the op slots assign fees to.
    let chunk_bits = be_witness(cs.clone(), &input.pubdata)?;
    let fees = input
        .fee_slots
        .iter()
        .map(|f| UpdateVar::new_witness(cs.clone(), &f.update))
        .collect::<Result<Vec<_>, _>>()?;
    let fee_tokens: Vec<FpVar<Fr>> = fees.iter().map(UpdateVar::token).collect();

    let mut run = Running {
        root: old_root.clone(),
        count: be_value(&old_count_bits),
        remaining: FpVar::zero(),
    };
    let mut collected = vec![FpVar::zero(); shape.fee_slots];
    let chunk = 8 * CHUNK_BYTES;
    for (j, slot_input) in input.slots.iter().enumerate() {
        let window: Vec<Boolean<Fr>> = (0..WINDOW_BITS)
            .map(|i| {
                chunk_bits
                    .get(j * chunk + i)
                    .cloned()
                    .unwrap_or(Boolean::FALSE)
            })
            .collect();
        let split = op_slot(
            cs.clone(),
            marks,
            &window,
            slot_input,
            &mut run,
            &domain,
            &fee_tokens,
        )?;
        for (total, part) in collected.iter_mut().zip(split) {
            *total += part;
        }
    }
    marks.mark(&cs, "batch end");
    // The last op ends inside the batch; the counts match the header's.
    run.remaining.enforce_equal(&FpVar::zero())?;
    run.count.enforce_equal(&be_value(&new_count_bits))?;

    marks.mark(&cs, "fee credit");
    // Fee credits: to the fee account, its balance staying below 2^112.
    let fee_account = be_value(&fee_account_bits);
    for ((fee, total), slot_input) in fees.iter().zip(&collected).zip(&input.fee_slots) {
        let active = Boolean::new_witness(cs.clone(), || Ok(slot_input.active))?;
        let active_fp = FpVar::from(active.clone());
        let zero = FpVar::zero();
        total.mul_equals(&FpVar::from(!&active), &zero)?;
        (fee.account() - &fee_account).mul_equals(&active_fp, &zero)?;
        // Fees can only go to an account that exists.
        total.mul_equals(&FpVar::from(!&fee.exists), &zero)?;
        let balance = &fee.balance + total;
        enforce_bits(&balance, 112)?;
        let (before, after) = fee.roots(&fee.with_balance(balance))?;
        (before - &run.root).mul_equals(&active_fp, &zero)?;
        run.root = &run.root + active_fp * (after - &run.root);
    }

    marks.mark(&cs, "commitment");
    // The commitment over header and pubdata.
    let mut message = Vec::with_capacity(8 * (HEADER_BYTES + input.pubdata.len()));
    for root in [&old_root, &run.root] {
        let mut bits = canonical_bits(cs.clone(), root)?;
        bits.extend([Boolean::FALSE, Boolean::FALSE]);
        message.extend(bits.into_iter().rev());
    }
    message.extend(domain_bits);
    message.extend(fee_account_bits);
    message.extend(old_count_bits);
    message.extend(new_count_bits);
    message.extend(chunk_bits);
    let digest = sha256_gadget(&message)?;
    be_value(&digest[256 - COMMITMENT_BITS..]).enforce_equal(&commitment)?;
    Ok(())
}

/// `chain_id ‖ contract`: the 224-bit domain integer `chain_id * 2^160 + contract`.
fn domain_bytes(input: &BatchInput) -> Vec<u8> {
    let mut out = input.domain.chain_id.to_be_bytes().to_vec();
    out.extend_from_slice(input.domain.contract.as_slice());
    out
}

/// `bytes` as witness booleans, most significant bit of each byte first (SHA-256's order).
fn be_witness(
    cs: ConstraintSystemRef<Fr>,
    bytes: &[u8],
) -> Result<Vec<Boolean<Fr>>, SynthesisError> {
    bytes
        .iter()
        .flat_map(|b| (0..8).rev().map(move |k| (b >> k) & 1 == 1))
        .map(|bit| Boolean::new_witness(cs.clone(), || Ok(bit)))
        .collect()
}

/// Whether `input` satisfies the circuit; if not, the rule the first unsatisfied constraint
/// belongs to (e.g. `"signature"`, `"balance range"`, `"commitment"`) and the slot it is in.
/// For tests, and for diagnosing a batch before spending minutes on a proof.
pub fn check(input: &BatchInput) -> Result<Option<Violation>, SynthesisError> {
    use ark_relations::r1cs::ConstraintSystem;
    let cs = ConstraintSystem::<Fr>::new_ref();
    let mut marks = Marks::default();
    synthesize(input, cs.clone(), &mut marks)?;
    let Some(index) = cs.which_is_unsatisfied()? else {
        return Ok(None);
    };
    let index: usize = index.parse().map_err(|_| SynthesisError::Unsatisfiable)?;
    let slot = marks
        .0
        .iter()
        .filter(|(start, rule)| *rule == "framing" && *start <= index)
        .count()
        .checked_sub(1);
    let rule = marks.rule_of(index);
    let per_slot = !matches!(rule, "header" | "batch end" | "fee credit" | "commitment");
    Ok(Some(Violation {
        rule,
        slot: slot.filter(|_| per_slot),
    }))
}

/// The first rule a batch breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub rule: &'static str,
    /// The chunk slot, for a rule checked per slot.
    pub slot: Option<usize>,
}

/// Constraints of a circuit of `shape` (synthesized without values checks).
pub fn constraint_count(shape: BatchShape) -> Result<usize, SynthesisError> {
    use ark_relations::r1cs::{ConstraintSystem, SynthesisMode};
    let cs = ConstraintSystem::<Fr>::new_ref();
    cs.set_mode(SynthesisMode::Setup);
    BatchCircuit::of_shape(shape).generate_constraints(cs.clone())?;
    Ok(cs.num_constraints())
}
