//! The byte forms a prover exchanges: a [`Job`] (one batch to prove) and a [`ProofRecord`]
//! (the proof of one job, with its public input).
//!
//! Owns the wire format, version 1. Every integer is big-endian; every field element is 32
//! bytes big-endian and canonical (below its modulus), so an encoding is unique and decoding
//! re-encodes to the same bytes. Lengths are explicit and must agree with the batch's shape.
//!
//! ```text
//! job       = "CWJB" version:u16 id:u64 input
//! input     = chunks:u32 fee_slots:u32 old_root:Fr new_root:Fr chain_id:u64 contract:[20]
//!             fee_account:u32 old_count:u32 new_count:u32
//!             n:u32 pubdata:[n]           (n = chunks * CHUNK_BYTES)
//!             n:u32 slot*n                (n = chunks)
//!             n:u32 fee_slot*n            (n = fee_slots)
//! slot      = update(u1) update(u2) point(signer) point(r8) s:Scalar point(new_key)
//!             point(new_key_eighth) n:u32 fee:u128*n   (n = fee_slots)
//! fee_slot  = active:bool update
//! update    = exists:bool address_nonce:Fr pk_x:Fr pk_y:Fr balance:u128
//!             proof(balance tree) proof(account tree)
//! proof     = index:u64 leaf:Fr levels:u8 (Fr Fr Fr)*levels   (levels = the tree's height)
//! point     = x:Fr y:Fr
//! bool      = 0x00 | 0x01
//!
//! proof_rec = "CWPF" version:u16 id:u64 chunks:u32 fee_slots:u32 commitment:Fr
//!             groth16_proof:[128]          (arkworks compressed: A, B, C)
//! ```
//!
//! Invariant: [`decode_job`] never panics and never allocates more than a small multiple of
//! its input's length, whatever the bytes; it accepts exactly what [`encode_job`] produces.
//! It checks structure only (canonical numbers, lengths, path heights, account id range):
//! whether the batch is *valid* is the circuit's question.

use ark_ff::{BigInteger, PrimeField};
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize, Compress, Validate};
use causeway_circuit::batch::{BatchInput, BatchShape, FeeSlotInput, SlotInput, UpdateInput};
use causeway_circuit::groth16::Proof;
use causeway_crypto::babyjubjub::{Point, Scalar};
use causeway_crypto::eddsa::Signature;
use causeway_primitives::pubdata::CHUNK_BYTES;
use causeway_primitives::{AccountId, Address, Domain, Fr};
use causeway_tree::{ACCOUNT_TREE_HEIGHT, ARITY, BALANCE_TREE_HEIGHT, MerkleProof};

/// The format version this code writes and reads.
pub const FORMAT_VERSION: u16 = 1;
const JOB_MAGIC: &[u8; 4] = b"CWJB";
const PROOF_MAGIC: &[u8; 4] = b"CWPF";
/// Bytes of a compressed Groth16 proof over BN254 (A and C in G1, B in G2).
pub const PROOF_BYTES: usize = 128;

/// One batch to prove, as a producer hands it to the queue.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    /// Chosen by the producer; unique within a queue (e.g. the batch number).
    pub id: u64,
    pub input: BatchInput,
}

/// Why bytes are not a job or a proof record. Always the input's fault, never the disk's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("not a {expected} (wrong magic bytes)")]
    BadMagic { expected: &'static str },
    #[error("format version {0} is not supported (this build reads version {FORMAT_VERSION})")]
    UnsupportedVersion(u16),
    #[error("truncated: {what} needs {needed} bytes at offset {offset}, {available} left")]
    Truncated {
        what: &'static str,
        offset: usize,
        needed: usize,
        available: usize,
    },
    #[error("{what} at offset {offset} is not a canonical field element")]
    NonCanonical { what: &'static str, offset: usize },
    #[error("{what} at offset {offset} is {value}, not a boolean (0 or 1)")]
    NotABool {
        what: &'static str,
        offset: usize,
        value: u8,
    },
    #[error("fee account {0} is out of range")]
    AccountId(u32),
    #[error("{what}: expected {expected} for the batch's shape, got {got}")]
    Length {
        what: &'static str,
        expected: u64,
        got: u64,
    },
    #[error("{what}: index {index} is outside a tree of height {levels}")]
    PathIndex {
        what: &'static str,
        index: u64,
        levels: u8,
    },
    #[error("the Groth16 proof does not decode: {0}")]
    Proof(String),
    #[error("{0} trailing bytes after the end")]
    Trailing(usize),
}

/// A job's bytes.
pub fn encode_job(job: &Job) -> Vec<u8> {
    let mut w = Writer::default();
    w.bytes(JOB_MAGIC);
    w.u16(FORMAT_VERSION);
    w.u64(job.id);
    w.input(&job.input);
    w.0
}

/// The job `bytes` encode.
///
/// # Errors
/// [`DecodeError`] for anything [`encode_job`] would not have written.
pub fn decode_job(bytes: &[u8]) -> Result<Job, DecodeError> {
    let mut r = Reader::new(bytes);
    r.header(JOB_MAGIC, "causeway job")?;
    let id = r.u64("job id")?;
    let input = r.input()?;
    r.finish()?;
    Ok(Job { id, input })
}

/// A proven job: what a worker leaves for the submitter, which sends `proof` to L1 with
/// `commitment` as its public input.
#[derive(Debug, Clone, PartialEq)]
pub struct ProofRecord {
    pub id: u64,
    pub shape: BatchShape,
    pub commitment: Fr,
    pub proof: Proof,
}

impl ProofRecord {
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.bytes(PROOF_MAGIC);
        w.u16(FORMAT_VERSION);
        w.u64(self.id);
        w.u32(shape_u32(self.shape.chunks));
        w.u32(shape_u32(self.shape.fee_slots));
        w.fr(&self.commitment);
        let mut proof = Vec::with_capacity(PROOF_BYTES);
        self.proof
            .serialize_compressed(&mut proof)
            .expect("writing to a Vec cannot fail");
        debug_assert_eq!(proof.len(), PROOF_BYTES);
        w.bytes(&proof);
        w.0
    }

    /// Decodes a record, checking that the proof's points are on the curve and in the right
    /// subgroups (the proof may come from another machine).
    ///
    /// # Errors
    /// [`DecodeError`] for anything [`ProofRecord::encode`] would not have written.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        r.header(PROOF_MAGIC, "causeway proof")?;
        let id = r.u64("job id")?;
        let shape = BatchShape::new(r.u32("chunks")? as usize, r.u32("fee slots")? as usize);
        let commitment = r.fr("commitment")?;
        let raw = r.take(PROOF_BYTES, "Groth16 proof")?;
        let proof = Proof::deserialize_with_mode(raw, Compress::Yes, Validate::Yes)
            .map_err(|e| DecodeError::Proof(e.to_string()))?;
        r.finish()?;
        Ok(Self {
            id,
            shape,
            commitment,
            proof,
        })
    }
}

/// Shapes are `usize` in memory and `u32` on the wire; no circuit comes near 2^32 chunks.
fn shape_u32(n: usize) -> u32 {
    u32::try_from(n).expect("a batch shape fits in u32")
}

#[derive(Default)]
struct Writer(Vec<u8>);

impl Writer {
    fn bytes(&mut self, b: &[u8]) {
        self.0.extend_from_slice(b);
    }
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u16(&mut self, v: u16) {
        self.bytes(&v.to_be_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.bytes(&v.to_be_bytes());
    }
    fn len(&mut self, n: usize) {
        self.u32(u32::try_from(n).expect("a batch's vectors fit in u32"));
    }
    fn u64(&mut self, v: u64) {
        self.bytes(&v.to_be_bytes());
    }
    fn u128(&mut self, v: u128) {
        self.bytes(&v.to_be_bytes());
    }
    fn bool(&mut self, v: bool) {
        self.u8(u8::from(v));
    }
    fn field<F: PrimeField>(&mut self, f: &F) {
        let be = f.into_bigint().to_bytes_be();
        debug_assert_eq!(be.len(), 32);
        self.bytes(&be);
    }
    fn fr(&mut self, f: &Fr) {
        self.field(f);
    }
    fn point(&mut self, p: &Point) {
        self.fr(&p.x);
        self.fr(&p.y);
    }
    fn proof(&mut self, p: &MerkleProof) {
        self.u64(p.index);
        self.fr(&p.leaf);
        self.u8(u8::try_from(p.siblings.len()).expect("tree heights fit in u8"));
        for level in &p.siblings {
            for s in level {
                self.fr(s);
            }
        }
    }
    fn update(&mut self, u: &UpdateInput) {
        self.bool(u.exists);
        self.fr(&u.address_nonce);
        self.fr(&u.pubkey.0);
        self.fr(&u.pubkey.1);
        self.u128(u.balance);
        self.proof(&u.balance_proof);
        self.proof(&u.account_proof);
    }
    fn slot(&mut self, s: &SlotInput) {
        self.update(&s.u1);
        self.update(&s.u2);
        self.point(&s.signer);
        self.point(&s.signature.r8);
        self.field(&s.signature.s);
        self.point(&s.new_key);
        self.point(&s.new_key_eighth);
        self.len(s.fee_split.len());
        for f in &s.fee_split {
            self.u128(*f);
        }
    }
    fn input(&mut self, i: &BatchInput) {
        self.u32(shape_u32(i.shape.chunks));
        self.u32(shape_u32(i.shape.fee_slots));
        self.fr(&i.old_root);
        self.fr(&i.new_root);
        self.u64(i.domain.chain_id);
        self.bytes(i.domain.contract.as_slice());
        self.u32(i.fee_account.get());
        self.u32(i.old_account_count);
        self.u32(i.new_account_count);
        self.len(i.pubdata.len());
        self.bytes(&i.pubdata);
        self.len(i.slots.len());
        for s in &i.slots {
            self.slot(s);
        }
        self.len(i.fee_slots.len());
        for f in &i.fee_slots {
            self.bool(f.active);
            self.update(&f.update);
        }
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    offset: usize,
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, offset: 0 }
    }

    fn remaining(&self) -> usize {
        self.bytes.len() - self.offset
    }

    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        if n > self.remaining() {
            return Err(DecodeError::Truncated {
                what,
                offset: self.offset,
                needed: n,
                available: self.remaining(),
            });
        }
        let out = &self.bytes[self.offset..self.offset + n];
        self.offset += n;
        Ok(out)
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, what)?);
        Ok(out)
    }

    fn header(&mut self, magic: &[u8; 4], expected: &'static str) -> Result<(), DecodeError> {
        if self.bytes.get(..4) != Some(magic.as_slice()) {
            return Err(DecodeError::BadMagic { expected });
        }
        self.offset = 4;
        let version = u16::from_be_bytes(self.array("version")?);
        if version != FORMAT_VERSION {
            return Err(DecodeError::UnsupportedVersion(version));
        }
        Ok(())
    }

    fn finish(&self) -> Result<(), DecodeError> {
        match self.remaining() {
            0 => Ok(()),
            n => Err(DecodeError::Trailing(n)),
        }
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        Ok(self.array::<1>(what)?[0])
    }
    fn u32(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array(what)?))
    }
    fn u64(&mut self, what: &'static str) -> Result<u64, DecodeError> {
        Ok(u64::from_be_bytes(self.array(what)?))
    }
    fn u128(&mut self, what: &'static str) -> Result<u128, DecodeError> {
        Ok(u128::from_be_bytes(self.array(what)?))
    }

    fn bool(&mut self, what: &'static str) -> Result<bool, DecodeError> {
        let offset = self.offset;
        match self.u8(what)? {
            0 => Ok(false),
            1 => Ok(true),
            value => Err(DecodeError::NotABool {
                what,
                offset,
                value,
            }),
        }
    }

    /// A length that must equal `expected`.
    fn len(&mut self, what: &'static str, expected: usize) -> Result<usize, DecodeError> {
        let got = self.u32(what)?;
        if u64::from(got) != expected as u64 {
            return Err(DecodeError::Length {
                what,
                expected: expected as u64,
                got: u64::from(got),
            });
        }
        Ok(expected)
    }

    fn field<F: PrimeField>(&mut self, what: &'static str) -> Result<F, DecodeError> {
        let offset = self.offset;
        let be: [u8; 32] = self.array(what)?;
        let f = F::from_be_bytes_mod_order(&be);
        if f.into_bigint().to_bytes_be() != be {
            return Err(DecodeError::NonCanonical { what, offset });
        }
        Ok(f)
    }
    fn fr(&mut self, what: &'static str) -> Result<Fr, DecodeError> {
        self.field(what)
    }
    fn point(&mut self, what: &'static str) -> Result<Point, DecodeError> {
        Ok(Point {
            x: self.fr(what)?,
            y: self.fr(what)?,
        })
    }

    fn proof(&mut self, what: &'static str, height: u8) -> Result<MerkleProof, DecodeError> {
        let index = self.u64(what)?;
        let leaf = self.fr(what)?;
        let levels = self.u8(what)?;
        if levels != height {
            return Err(DecodeError::Length {
                what,
                expected: u64::from(height),
                got: u64::from(levels),
            });
        }
        // 4^levels leaves: index < 2^(2 * levels).
        if u32::from(levels) * 2 < 64 && index >> (2 * u32::from(levels)) != 0 {
            return Err(DecodeError::PathIndex {
                what,
                index,
                levels,
            });
        }
        let mut siblings = Vec::with_capacity(usize::from(levels));
        for _ in 0..levels {
            let mut level = [Fr::from(0u64); ARITY - 1];
            for s in &mut level {
                *s = self.fr(what)?;
            }
            siblings.push(level);
        }
        Ok(MerkleProof {
            index,
            leaf,
            siblings,
        })
    }

    fn update(&mut self) -> Result<UpdateInput, DecodeError> {
        Ok(UpdateInput {
            exists: self.bool("update exists flag")?,
            address_nonce: self.fr("address and nonce")?,
            pubkey: (self.fr("public key x")?, self.fr("public key y")?),
            balance: self.u128("balance")?,
            balance_proof: self.proof("balance path", BALANCE_TREE_HEIGHT)?,
            account_proof: self.proof("account path", ACCOUNT_TREE_HEIGHT)?,
        })
    }

    fn slot(&mut self, fee_slots: usize) -> Result<SlotInput, DecodeError> {
        let u1 = self.update()?;
        let u2 = self.update()?;
        let signer = self.point("signer key")?;
        let r8 = self.point("signature R8")?;
        let s: Scalar = self.field("signature S")?;
        let new_key = self.point("new key")?;
        let new_key_eighth = self.point("new key eighth")?;
        let n = self.len("fee split entries", fee_slots)?;
        let fee_split = (0..n)
            .map(|_| self.u128("fee split"))
            .collect::<Result<_, _>>()?;
        Ok(SlotInput {
            u1,
            u2,
            signer,
            signature: Signature { r8, s },
            new_key,
            new_key_eighth,
            fee_split,
        })
    }

    fn input(&mut self) -> Result<BatchInput, DecodeError> {
        let chunks = self.u32("chunks")? as usize;
        let fee_slots = self.u32("fee slots")? as usize;
        let shape = BatchShape::new(chunks, fee_slots);
        let old_root = self.fr("old root")?;
        let new_root = self.fr("new root")?;
        let domain = Domain {
            chain_id: self.u64("chain id")?,
            contract: Address::from(self.array::<20>("contract")?),
        };
        let raw_fee_account = self.u32("fee account")?;
        let fee_account =
            AccountId::new(raw_fee_account).map_err(|_| DecodeError::AccountId(raw_fee_account))?;
        let old_account_count = self.u32("old account count")?;
        let new_account_count = self.u32("new account count")?;
        let pubdata_len = chunks.checked_mul(CHUNK_BYTES).ok_or(DecodeError::Length {
            what: "chunks",
            expected: u64::from(u32::MAX) / CHUNK_BYTES as u64,
            got: chunks as u64,
        })?;
        let n = self.len("pubdata bytes", pubdata_len)?;
        let pubdata = self.take(n, "pubdata")?.to_vec();
        // Vectors grow as their items decode, so a forged count cannot reserve memory the
        // input does not back.
        let n = self.len("slots", chunks)?;
        let mut slots = Vec::new();
        for _ in 0..n {
            slots.push(self.slot(fee_slots)?);
        }
        let n = self.len("fee slots", fee_slots)?;
        let mut fees = Vec::new();
        for _ in 0..n {
            fees.push(FeeSlotInput {
                active: self.bool("fee slot active flag")?,
                update: self.update()?,
            });
        }
        Ok(BatchInput {
            shape,
            old_root,
            new_root,
            domain,
            fee_account,
            old_account_count,
            new_account_count,
            pubdata,
            slots,
            fee_slots: fees,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_ff::{AdditiveGroup, Field};

    fn domain() -> Domain {
        Domain {
            chain_id: 31337,
            contract: Address::repeat_byte(0xcc),
        }
    }

    /// An input with every field away from its default, so a field the codec drops or
    /// swaps shows up in the round trip.
    fn varied_input() -> BatchInput {
        let shape = BatchShape::new(3, 2);
        let mut input = BatchInput::empty(shape, domain());
        input.new_root = Fr::from(7u64);
        input.fee_account = AccountId::new(AccountId::MAX).unwrap();
        input.old_account_count = 5;
        input.new_account_count = 9;
        for (i, b) in input.pubdata.iter_mut().enumerate() {
            *b = i as u8;
        }
        let s = &mut input.slots[1];
        s.u1.exists = true;
        s.u1.address_nonce = -Fr::ONE;
        s.u1.pubkey = (Fr::from(3u64), Fr::from(4u64));
        s.u1.balance = u128::MAX;
        s.u1.account_proof.index = (1 << 24) - 1;
        s.u1.account_proof.leaf = Fr::from(11u64);
        s.u2.balance_proof.siblings[4][2] = Fr::from(12u64);
        s.signature.s = -Scalar::ONE;
        s.signature.r8.x = Fr::from(13u64);
        s.new_key.y = Fr::from(14u64);
        s.new_key_eighth.x = Fr::from(15u64);
        s.signer.y = Fr::ZERO;
        s.fee_split = vec![17, 18];
        input.fee_slots[1].active = true;
        input.fee_slots[1].update.balance = 19;
        input
    }

    #[test]
    fn jobs_round_trip_exactly() {
        for input in [
            BatchInput::empty(BatchShape::new(1, 1), domain()),
            varied_input(),
        ] {
            let job = Job {
                id: 0xdead_beef_0123,
                input,
            };
            let bytes = encode_job(&job);
            let back = decode_job(&bytes).expect("decodes");
            assert_eq!(back, job);
            assert_eq!(encode_job(&back), bytes);
        }
    }

    #[test]
    fn every_truncation_is_a_typed_error() {
        let bytes = encode_job(&Job {
            id: 1,
            input: varied_input(),
        });
        for n in 0..bytes.len() {
            assert!(decode_job(&bytes[..n]).is_err(), "prefix of {n} bytes");
        }
        let mut long = bytes.clone();
        long.push(0);
        assert_eq!(decode_job(&long), Err(DecodeError::Trailing(1)));
    }

    #[test]
    fn garbage_is_refused_without_panicking() {
        let bytes = encode_job(&Job {
            id: 1,
            input: varied_input(),
        });
        // Flip each byte in turn: every result is Ok or a typed error, never a panic.
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0xff;
            let _ = decode_job(&b);
        }
        // Deterministic pseudo-random garbage behind a valid header.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for len in [0usize, 1, 5, 6, 14, 100, 10_000] {
            let mut b = b"CWJB\0\x01".to_vec();
            for _ in 0..len {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                b.push(x as u8);
            }
            assert!(decode_job(&b).is_err());
        }
        assert_eq!(
            decode_job(b"nope"),
            Err(DecodeError::BadMagic {
                expected: "causeway job"
            })
        );
        assert_eq!(
            decode_job(b"CWJB\0\x02"),
            Err(DecodeError::UnsupportedVersion(2))
        );
    }

    #[test]
    fn forged_counts_cannot_reserve_memory() {
        // A shape of 2^32 - 1 chunks with a matching pubdata length field, backed by nothing.
        let mut b = b"CWJB\0\x01".to_vec();
        b.extend_from_slice(&1u64.to_be_bytes());
        b.extend_from_slice(&u32::MAX.to_be_bytes());
        b.extend_from_slice(&u32::MAX.to_be_bytes());
        b.extend_from_slice(&[0; 32 + 32 + 8 + 20 + 4 + 4 + 4]);
        b.extend_from_slice(&u32::MAX.to_be_bytes());
        assert!(matches!(decode_job(&b), Err(DecodeError::Length { .. })));
    }

    #[test]
    fn non_canonical_fields_and_bad_flags_are_refused() {
        let bytes = encode_job(&Job {
            id: 1,
            input: BatchInput::empty(BatchShape::new(1, 1), domain()),
        });
        // The old root starts after magic, version, id, chunks and fee slots.
        let old_root = 4 + 2 + 8 + 4 + 4;
        let mut b = bytes.clone();
        b[old_root..old_root + 32].fill(0xff);
        assert_eq!(
            decode_job(&b),
            Err(DecodeError::NonCanonical {
                what: "old root",
                offset: old_root
            })
        );
        // The modulus itself is not canonical either.
        let mut b = bytes.clone();
        b[old_root..old_root + 32].copy_from_slice(&Fr::MODULUS.to_bytes_be());
        assert!(matches!(
            decode_job(&b),
            Err(DecodeError::NonCanonical { .. })
        ));
        // The first slot's u1 `exists` flag follows the header and the pubdata.
        let exists = old_root + 32 + 32 + 8 + 20 + 4 + 4 + 4 + 4 + CHUNK_BYTES + 4;
        let mut b = bytes.clone();
        b[exists] = 2;
        assert!(matches!(decode_job(&b), Err(DecodeError::NotABool { .. })));
        // A fee account beyond 2^24 - 1.
        let fee_account = old_root + 32 + 32 + 8 + 20;
        let mut b = bytes;
        b[fee_account] = 0x01;
        assert!(matches!(decode_job(&b), Err(DecodeError::AccountId(_))));
    }

    #[test]
    fn proof_records_round_trip_and_refuse_garbage() {
        use ark_ec::AffineRepr;
        let proof = Proof {
            a: ark_bn254::G1Affine::generator(),
            b: ark_bn254::G2Affine::generator(),
            c: ark_bn254::G1Affine::generator(),
        };
        let rec = ProofRecord {
            id: 42,
            shape: BatchShape::new(4, 2),
            commitment: Fr::from(99u64),
            proof,
        };
        let bytes = rec.encode();
        assert_eq!(ProofRecord::decode(&bytes), Ok(rec));
        for n in 0..bytes.len() {
            assert!(ProofRecord::decode(&bytes[..n]).is_err());
        }
        // A's bytes all ones: the flag bits say both "infinity" and "negative y".
        let mut b = bytes;
        let a = b.len() - PROOF_BYTES;
        b[a..a + 32].fill(0xff);
        assert!(matches!(
            ProofRecord::decode(&b),
            Err(DecodeError::Proof(_))
        ));
    }
}
