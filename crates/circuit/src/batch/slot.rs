//! One chunk slot of the batch circuit: decoding the op that starts at this chunk and
//! enforcing what the stf's effects do with it.
//!
//! Owns the in-circuit reading of docs/pubdata.md and the op rules. Each slot sees a window of
//! the five chunks from its own (the longest op's length); the tag selects the op kind, a
//! running count of chunks still owed by the previous op marks continuation slots, which do
//! nothing. Invariants, each matching the stf (effects.rs) or the codec (pubdata.rs):
//! - exactly one of {7 kinds, continuation} holds; unknown tags and ops running past the
//!   batch's last chunk are unsatisfiable; padding bits are zero, as the codec requires;
//! - transfers and withdrawals carry a valid signature by the key in the sender's leaf over
//!   `[domain, kind‖from‖token‖nonce, amount‖fee, recipient address]`, with the nonce read
//!   from the leaf, so a signature verifies for one nonce only;
//! - every debit leaves a balance in `[0, 2^112)`, every credit stays below 2^112, nonces
//!   cannot wrap, new accounts take the next id and a non-zero address in an empty slot;
//! - a deposit credits the account holding its address; a full exit pays out exactly the
//!   balance when the owner matches, and nothing otherwise; a ChangePubKey needs the
//!   account's address and current nonce and installs a canonical key of the prime-order
//!   subgroup, the key its packed form in pubdata denotes;
//! - each op's fee lands, whole, in fee slots of its own token.

use super::input::SlotInput;
use super::update::{LeafAfter, UpdateVar, enforce_bits};
use crate::babyjubjub::PointVar;
use crate::eddsa::{
    S_BITS, alloc_bits, canonical_bits, enforce_le_constant_when, is_zero, le_value,
    verify_eddsa_gadget_when,
};
use crate::poseidon::poseidon_gadget;
use crate::witness_only;
use ark_ff::{AdditiveGroup, BigInt, BigInteger, Field, PrimeField};
use ark_r1cs_std::R1CSVar;
use ark_r1cs_std::alloc::AllocVar;
use ark_r1cs_std::boolean::Boolean;
use ark_r1cs_std::eq::EqGadget;
use ark_r1cs_std::fields::FieldVar;
use ark_r1cs_std::fields::fp::FpVar;
use ark_relations::r1cs::{ConstraintSystemRef, SynthesisError};
use causeway_crypto::babyjubjub::{COEFF_A, COEFF_D};
use causeway_primitives::pubdata::chunks_of;
use causeway_primitives::{Fr, OpKind};

/// Bits a slot can see: the longest op (ChangePubKey) is 5 chunks of 112 bits.
pub(crate) const WINDOW_BITS: usize = 5 * 112;

/// Bit offsets inside an op, most significant bit first (docs/pubdata.md).
pub(crate) mod layout {
    use std::ops::Range;
    pub const TAG: Range<usize> = 0..4;
    pub const ACCOUNT: Range<usize> = 4..28;
    // Transfer and TransferToNew.
    pub const T_TO: Range<usize> = 28..52;
    pub const T_TOKEN: Range<usize> = 52..62;
    pub const T_AMOUNT: Range<usize> = 62..97;
    pub const T_FEE: Range<usize> = 97..112;
    pub const TTN_ADDRESS: Range<usize> = 112..272;
    pub const TTN_PAD: Range<usize> = 272..336;
    // Withdraw, Deposit and FullExit share token and amount.
    pub const TOKEN: Range<usize> = 28..38;
    pub const AMOUNT: Range<usize> = 38..150;
    pub const W_FEE: Range<usize> = 150..165;
    pub const W_TO: Range<usize> = 165..325;
    pub const W_PAD: Range<usize> = 325..336;
    pub const D_ADDRESS: Range<usize> = 150..310;
    pub const D_PAD: Range<usize> = 310..336;
    // ChangePubKey: the auth kind is 0 or 1, so its top three bits count as padding.
    pub const CPK_AUTH_HIGH: Range<usize> = 28..31;
    pub const CPK_PUBKEY: Range<usize> = 32..288;
    pub const CPK_NONCE: Range<usize> = 288..320;
    pub const CPK_FEE_TOKEN: Range<usize> = 320..330;
    pub const CPK_FEE: Range<usize> = 330..345;
    pub const CPK_ADDRESS: Range<usize> = 345..505;
    pub const CPK_PAD: Range<usize> = 505..560;
    pub const NOOP_PAD: Range<usize> = 4..112;
}
use layout::*;

const KINDS: [OpKind; 7] = [
    OpKind::Noop,
    OpKind::Transfer,
    OpKind::TransferToNew,
    OpKind::Withdraw,
    OpKind::Deposit,
    OpKind::FullExit,
    OpKind::ChangePubKey,
];

/// Where each named rule's constraints start, to tell which rule an unsatisfied constraint
/// belongs to ([`super::check`]).
#[derive(Debug, Default)]
pub(crate) struct Marks(pub Vec<(usize, &'static str)>);

impl Marks {
    pub fn mark(&mut self, cs: &ConstraintSystemRef<Fr>, rule: &'static str) {
        self.0.push((cs.num_constraints(), rule));
    }

    /// The rule constraint `index` belongs to.
    pub fn rule_of(&self, index: usize) -> &'static str {
        self.0
            .iter()
            .rev()
            .find(|(start, _)| *start <= index)
            .map_or("header", |(_, rule)| rule)
    }
}

/// What flows from slot to slot.
pub(crate) struct Running {
    pub root: FpVar<Fr>,
    /// Accounts so far: the id the next created account must take.
    pub count: FpVar<Fr>,
    /// Chunks of the current op still to come after the previous slot.
    pub remaining: FpVar<Fr>,
}

/// Synthesizes one slot; returns the op's fee split over the fee slots.
pub(crate) fn op_slot(
    cs: ConstraintSystemRef<Fr>,
    marks: &mut Marks,
    window: &[Boolean<Fr>],
    input: &SlotInput,
    run: &mut Running,
    domain: &FpVar<Fr>,
    fee_tokens: &[FpVar<Fr>],
) -> Result<Vec<FpVar<Fr>>, SynthesisError> {
    debug_assert_eq!(window.len(), WINDOW_BITS);
    let zero = FpVar::<Fr>::zero();
    let one = FpVar::<Fr>::one();
    let field = |r: std::ops::Range<usize>| be_value(&window[r]);

    marks.mark(&cs, "framing");
    // Continuation or first chunk: continuation exactly when the previous op owes chunks.
    let owed = run.remaining.clone();
    let cont = Boolean::new_witness(cs.clone(), || Ok(owed.value()? != Fr::ZERO))?;
    owed.mul_equals(&FpVar::from(!&cont), &zero)?;
    let owed_inv = FpVar::new_witness(cs.clone(), || {
        Ok(owed.value()?.inverse().unwrap_or(Fr::ZERO))
    })?;
    owed.mul_equals(&owed_inv, &FpVar::from(cont.clone()))?;

    // One-hot kind selectors, tied to the tag in a first chunk.
    let tag = field(TAG);
    let sel = KINDS
        .iter()
        .map(|k| {
            Boolean::new_witness(cs.clone(), || {
                Ok(!cont.value()? && tag.value()? == Fr::from(*k as u64))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let is = |k: OpKind| FpVar::from(sel[k as usize].clone());
    let sum = sel.iter().fold(FpVar::from(cont.clone()), |acc, s| {
        acc + FpVar::from(s.clone())
    });
    sum.enforce_equal(&one)?;
    let named = KINDS
        .iter()
        .fold(zero.clone(), |acc, k| acc + is(*k) * Fr::from(*k as u64));
    (&tag - named).mul_equals(&FpVar::from(!&cont), &zero)?;
    let len_minus_one = KINDS.iter().fold(zero.clone(), |acc, k| {
        acc + is(*k) * Fr::from(chunks_of(*k) as u64 - 1)
    });
    let carried = FpVar::from(cont.clone()) * (&owed - Fr::ONE);
    run.remaining = len_minus_one + carried;

    marks.mark(&cs, "padding");
    // Padding and unused auth bits are zero (the codec refuses anything else).
    for (kind, ranges) in [
        (OpKind::Noop, vec![NOOP_PAD]),
        (OpKind::TransferToNew, vec![TTN_PAD]),
        (OpKind::Withdraw, vec![W_PAD]),
        (OpKind::Deposit, vec![D_PAD]),
        (OpKind::FullExit, vec![D_PAD]),
        (OpKind::ChangePubKey, vec![CPK_AUTH_HIGH, CPK_PAD]),
    ] {
        let ones = ranges
            .into_iter()
            .flat_map(|r| window[r].iter())
            .fold(zero.clone(), |acc, b| acc + FpVar::from(b.clone()));
        ones.mul_equals(&is(kind), &zero)?;
    }

    // Fields, chosen by kind.
    let transfer = is(OpKind::Transfer) + is(OpKind::TransferToNew);
    let moves = is(OpKind::Withdraw) + is(OpKind::Deposit) + is(OpKind::FullExit);
    let cpk = is(OpKind::ChangePubKey);
    let account = field(ACCOUNT);
    let token = &transfer * field(T_TOKEN) + &moves * field(TOKEN) + &cpk * field(CPK_FEE_TOKEN);
    let amount = &transfer * unpack(window, T_AMOUNT)? + &moves * field(AMOUNT);
    let fee = &transfer * unpack(window, T_FEE)?
        + is(OpKind::Withdraw) * unpack(window, W_FEE)?
        + &cpk * unpack(window, CPK_FEE)?;
    let address =
        (is(OpKind::Deposit) + is(OpKind::FullExit)) * field(D_ADDRESS) + &cpk * field(CPK_ADDRESS);

    let u1 = UpdateVar::new_witness(cs.clone(), &input.u1)?;
    let u2 = UpdateVar::new_witness(cs.clone(), &input.u2)?;
    let active1 = &one - is(OpKind::Noop) - FpVar::from(cont.clone());
    let signed = &transfer + is(OpKind::Withdraw);
    let bumps = &signed + &cpk;

    marks.mark(&cs, "leaf selection");
    // Which leaves: the op's account and token; a transfer's receiver.
    (u1.account() - &account).mul_equals(&active1, &zero)?;
    (u1.token() - &token).mul_equals(&active1, &zero)?;
    (u2.account() - field(T_TO)).mul_equals(&transfer, &zero)?;
    (u2.token() - &token).mul_equals(&transfer, &zero)?;

    marks.mark(&cs, "existence");
    // Existence: signers and key changers exist, a transfer's receiver exists, a
    // TransferToNew's does not yet.
    let absent1 = FpVar::from(!&u1.exists);
    absent1.mul_equals(&bumps, &zero)?;
    FpVar::from(!&u2.exists).mul_equals(&is(OpKind::Transfer), &zero)?;
    FpVar::from(u2.exists.clone()).mul_equals(&is(OpKind::TransferToNew), &zero)?;

    marks.mark(&cs, "account creation");
    // Deposits go to the address's account, created if the slot is empty.
    let deposit_existing = is(OpKind::Deposit) * FpVar::from(u1.exists.clone());
    let created1 = is(OpKind::Deposit) - &deposit_existing;
    (u1.address() - &address).mul_equals(&deposit_existing, &zero)?;
    let created2 = is(OpKind::TransferToNew);
    let new_address1 = &created1 * &address;
    let new_address2 = &created2 * field(TTN_ADDRESS);
    for (created, new_address, id) in [
        (&created1, &new_address1, &account),
        (&created2, &new_address2, &field(T_TO)),
    ] {
        (id - &run.count).mul_equals(created, &zero)?;
        let inv = FpVar::new_witness(cs.clone(), || {
            Ok(new_address.value()?.inverse().unwrap_or(Fr::ZERO))
        })?;
        new_address.mul_equals(&inv, created)?;
    }
    run.count = &run.count + &created1 + &created2;

    marks.mark(&cs, "full exit");
    // A full exit pays the whole balance to the account's owner, and nothing to anyone else.
    let same_owner = is_zero(&(u1.address() - &address))?;
    let valid_exit = &same_owner * FpVar::from(u1.exists.clone());
    let owed_exit = &valid_exit * &u1.balance;
    (&amount - owed_exit).mul_equals(&is(OpKind::FullExit), &zero)?;

    marks.mark(&cs, "change pubkey");
    // A ChangePubKey names the account's address and its current nonce.
    (u1.address() - &address).mul_equals(&cpk, &zero)?;
    (u1.nonce() - field(CPK_NONCE)).mul_equals(&cpk, &zero)?;

    marks.mark(&cs, "nonce exhausted");
    // Nonces never wrap.
    let nonce_ones = u1
        .nonce_bits()
        .iter()
        .fold(zero.clone(), |acc, b| acc + FpVar::from(b.clone()));
    let exhausted = is_zero(&(FpVar::constant(Fr::from(32u64)) - nonce_ones))?;
    exhausted.mul_equals(&bumps, &zero)?;

    marks.mark(&cs, "balance range");
    // Balances: debits cannot go below zero, credits cannot reach 2^112.
    let flow =
        (is(OpKind::Deposit) - &transfer - is(OpKind::Withdraw) - is(OpKind::FullExit)) * &amount;
    let balance1 = &u1.balance + flow - &fee;
    enforce_bits(&balance1, 112)?;
    let balance2 = &u2.balance + &transfer * &amount;
    enforce_bits(&balance2, 112)?;

    marks.mark(&cs, "new key");
    // The new key, if any.
    let new_key = new_key(
        cs.clone(),
        window,
        &sel[OpKind::ChangePubKey as usize],
        input,
    )?;
    let pubkey1 = (
        &u1.pubkey.0 + &cpk * (&new_key.0 - &u1.pubkey.0),
        &u1.pubkey.1 + &cpk * (&new_key.1 - &u1.pubkey.1),
    );

    marks.mark(&cs, "root chain");
    // The leaves after, and the roots around them.
    let shift = Fr::from(1u64 << 32);
    let after1 = LeafAfter {
        exists: FpVar::from(u1.exists.clone()) + &created1,
        address_nonce: u1.address_nonce() + new_address1 * shift + &bumps,
        pubkey: pubkey1,
        balance: balance1,
    };
    let after2 = LeafAfter {
        exists: FpVar::from(u2.exists.clone()) + &created2,
        address_nonce: u2.address_nonce() + new_address2 * shift,
        pubkey: u2.pubkey.clone(),
        balance: balance2,
    };
    for (update, after, active) in [(&u1, after1, &active1), (&u2, after2, &transfer)] {
        let (before, after) = update.roots(&after)?;
        (before - &run.root).mul_equals(active, &zero)?;
        run.root = &run.root + active * (after - &run.root);
    }

    marks.mark(&cs, "signature");
    // The signature of transfers and withdrawals.
    let kind = &transfer * Fr::from(OpKind::Transfer as u64)
        + is(OpKind::Withdraw) * Fr::from(OpKind::Withdraw as u64);
    let header = kind * pow2(80) + &account * pow2(48) + &token * pow2(32) + u1.nonce();
    let amounts = &amount * pow2(128) + &fee;
    let recipient = is(OpKind::Transfer) * u2.address()
        + is(OpKind::TransferToNew) * field(TTN_ADDRESS)
        + is(OpKind::Withdraw) * field(W_TO);
    let msg = poseidon_gadget(&[domain.clone(), header, amounts, recipient])?;
    let signer = PointVar::new_witness(cs.clone(), Some(input.signer))?;
    (&signer.x - &u1.pubkey.0).mul_equals(&signed, &zero)?;
    (&signer.y - &u1.pubkey.1).mul_equals(&signed, &zero)?;
    let must_sign = Boolean::new_witness(cs.clone(), || Ok(signed.value()? == Fr::ONE))?;
    FpVar::from(must_sign.clone()).enforce_equal(&signed)?;
    let r8 = PointVar::new_witness(cs.clone(), Some(input.signature.r8))?;
    let s_bits = alloc_bits(cs.clone(), Some(input.signature.s.into_bigint()), S_BITS)?;
    verify_eddsa_gadget_when(cs.clone(), &must_sign, &signer, &r8, &s_bits, &msg)?;

    marks.mark(&cs, "fee split");
    // The fee, whole, into fee slots of its token.
    let split = input
        .fee_split
        .iter()
        .map(|f| FpVar::new_witness(cs.clone(), || Ok(Fr::from(*f))))
        .collect::<Result<Vec<_>, _>>()?;
    split
        .iter()
        .fold(zero.clone(), |acc, s| acc + s)
        .enforce_equal(&fee)?;
    for (s, slot_token) in split.iter().zip(fee_tokens) {
        s.mul_equals(&(&token - slot_token), &zero)?;
    }
    Ok(split)
}

/// A ChangePubKey's key `(x, y)`: `y` and the sign of `x` from the packed form in pubdata,
/// `x` a witness. When `enabled`, the encoding must be canonical (`y < p`, no sign on
/// `x = 0`), the point on the curve and in the prime-order subgroup (it is `8Q` for a
/// witness `Q`), exactly what `Point::unpack` plus `is_in_subgroup` accept.
fn new_key(
    cs: ConstraintSystemRef<Fr>,
    window: &[Boolean<Fr>],
    enabled: &Boolean<Fr>,
    input: &SlotInput,
) -> Result<(FpVar<Fr>, FpVar<Fr>), SynthesisError> {
    // Packed: 32 bytes, y little-endian, the sign of x in the top bit of the last byte.
    let bytes = &window[CPK_PUBKEY];
    let bit = |byte: usize, k: usize| bytes[8 * byte + 7 - k].clone();
    let y_bits: Vec<Boolean<Fr>> = (0..255).map(|i| bit(i / 8, i % 8)).collect();
    let sign = bit(31, 7);
    let y = le_value(&y_bits);
    let mut p_minus_one = Fr::MODULUS;
    p_minus_one.sub_with_borrow(&BigInt::from(1u64));
    enforce_le_constant_when(enabled, &y_bits, &p_minus_one)?;

    let x = FpVar::new_witness(cs.clone(), || Ok(input.new_key.x))?;
    let x_bits = canonical_bits(cs.clone(), &x)?;
    let half = Fr::MODULUS_MINUS_ONE_DIV_TWO;
    enforce_le_constant_when(&(enabled & !&sign), &x_bits, &half)?;
    // x > (p-1)/2, as (2^254 - 1 - x) <= 2^254 - 1 - (p+1)/2 on the complemented bits.
    let complement: Vec<Boolean<Fr>> = x_bits.iter().map(|b| !b).collect();
    let mut bound = BigInt::<4>::from(0u64);
    for i in 0..254 {
        bound.0[i / 64] |= 1 << (i % 64);
    }
    let mut half_plus_one = half;
    half_plus_one.add_with_carry(&BigInt::from(1u64));
    bound.sub_with_borrow(&half_plus_one);
    enforce_le_constant_when(&(enabled & &sign), &complement, &bound)?;

    // On the curve, and 8Q for some point Q.
    let zero = FpVar::zero();
    let enabled_fp = FpVar::from(enabled.clone());
    let xx = x.square()?;
    let yy = y.square()?;
    let xxyy = &xx * &yy;
    (&xx * COEFF_A + &yy - Fr::ONE - xxyy * COEFF_D).mul_equals(&enabled_fp, &zero)?;
    let eighth = PointVar::new_witness(cs, Some(input.new_key_eighth))?;
    let eight = eighth.double()?.double()?.double()?;
    (&eight.x - &x).mul_equals(&enabled_fp, &zero)?;
    (&eight.y - &y).mul_equals(&enabled_fp, &zero)?;
    Ok((x, y))
}

/// A packed decimal float `mantissa * 10^exponent` (exponent in the low 5 bits): 5
/// constraints. The value needs no range check of its own: it is below 2^134, far from
/// wrapping, and every packed amount is debited from a balance that is range-checked after.
fn unpack(window: &[Boolean<Fr>], r: std::ops::Range<usize>) -> Result<FpVar<Fr>, SynthesisError> {
    const EXP_BITS: usize = 5;
    let mantissa = be_value(&window[r.start..r.end - EXP_BITS]);
    let mut power = FpVar::<Fr>::one();
    let mut ten = Fr::from(10u64);
    for i in 0..EXP_BITS {
        let b = FpVar::from(window[r.end - 1 - i].clone());
        let factor = b * (ten - Fr::ONE) + Fr::ONE;
        power = if i == 0 { factor } else { power * factor };
        ten.square_in_place();
    }
    Ok(mantissa * power)
}

/// Bits most significant first, as a free linear combination.
pub(crate) fn be_value(bits: &[Boolean<Fr>]) -> FpVar<Fr> {
    let mut powers: Vec<Fr> = std::iter::successors(Some(Fr::ONE), |p| Some(p.double()))
        .take(bits.len())
        .collect();
    powers.reverse();
    if let Some(value) = witness_only::weighted_bits(bits, powers) {
        return value;
    }
    let mut acc = FpVar::zero();
    let mut power = Fr::ONE;
    for b in bits.iter().rev() {
        acc += FpVar::from(b.clone()) * power;
        power.double_in_place();
    }
    acc
}

fn pow2(n: u32) -> Fr {
    Fr::from(2u64).pow([u64::from(n)])
}

#[cfg(test)]
mod tests {
    use super::layout::*;
    use causeway_primitives::pubdata::{AuthKind, PubdataOp};
    use causeway_primitives::{AccountId, Address, PackedAmount, PackedFee, PackedPoint, TokenId};

    fn bits_of(op: &PubdataOp) -> Vec<bool> {
        let mut bytes = Vec::new();
        op.encode_into(&mut bytes);
        bytes
            .iter()
            .flat_map(|b| (0..8).rev().map(move |k| (b >> k) & 1 == 1))
            .collect()
    }

    fn read(bits: &[bool], r: std::ops::Range<usize>) -> u128 {
        bits[r].iter().fold(0, |acc, b| (acc << 1) | u128::from(*b))
    }

    fn address(bits: &[bool], r: std::ops::Range<usize>) -> Address {
        let bytes: Vec<u8> = bits[r]
            .chunks(8)
            .map(|c| c.iter().fold(0u8, |acc, b| (acc << 1) | u8::from(*b)))
            .collect();
        Address::from_slice(&bytes)
    }

    /// The circuit's offsets agree with the codec, field by field.
    #[test]
    fn layout_matches_the_codec() {
        let id = |n| AccountId::new(n).unwrap();
        let token = TokenId::new(777).unwrap();
        let amount = PackedAmount::pack(123_456_789_000).unwrap();
        let fee = PackedFee::pack(4_560).unwrap();
        let a = Address::repeat_byte(0xab);
        let t = PubdataOp::TransferToNew {
            from: id(0x123456),
            to: id(0xfedcba),
            token,
            amount,
            fee,
            to_address: a,
        };
        let b = bits_of(&t);
        assert_eq!(read(&b, TAG), 2);
        assert_eq!(read(&b, ACCOUNT), 0x123456);
        assert_eq!(read(&b, T_TO), 0xfedcba);
        assert_eq!(read(&b, T_TOKEN), 777);
        assert_eq!(read(&b, T_AMOUNT), u128::from(amount.bits()));
        assert_eq!(read(&b, T_FEE), u128::from(fee.bits()));
        assert_eq!(address(&b, TTN_ADDRESS), a);
        assert_eq!(b.len(), TTN_PAD.end);

        let w = PubdataOp::Withdraw {
            from: id(5),
            token,
            amount: (1 << 111) + 3,
            fee,
            to: a,
        };
        let b = bits_of(&w);
        assert_eq!(read(&b, TOKEN), 777);
        assert_eq!(read(&b, AMOUNT), (1 << 111) + 3);
        assert_eq!(read(&b, W_FEE), u128::from(fee.bits()));
        assert_eq!(address(&b, W_TO), a);
        assert_eq!(b.len(), W_PAD.end);

        let d = PubdataOp::Deposit {
            account: id(9),
            token,
            amount: 42,
            address: a,
        };
        let b = bits_of(&d);
        assert_eq!(read(&b, AMOUNT), 42);
        assert_eq!(address(&b, D_ADDRESS), a);
        assert_eq!(b.len(), D_PAD.end);

        let mut key = [0x5au8; 32];
        key[31] = 0x81;
        let c = PubdataOp::ChangePubKey {
            account: id(7),
            auth: AuthKind::Onchain,
            pubkey: PackedPoint(key),
            nonce: 0xdead_beef,
            fee_token: token,
            fee,
            address: a,
        };
        let b = bits_of(&c);
        assert_eq!(read(&b, CPK_AUTH_HIGH.start..CPK_AUTH_HIGH.end + 1), 1);
        assert_eq!(read(&b, CPK_PUBKEY.start..CPK_PUBKEY.start + 8), 0x5a);
        assert_eq!(read(&b, CPK_PUBKEY.end - 8..CPK_PUBKEY.end), 0x81);
        assert_eq!(read(&b, CPK_NONCE), 0xdead_beef);
        assert_eq!(read(&b, CPK_FEE_TOKEN), 777);
        assert_eq!(read(&b, CPK_FEE), u128::from(fee.bits()));
        assert_eq!(address(&b, CPK_ADDRESS), a);
        assert_eq!(b.len(), CPK_PAD.end);
    }
}
