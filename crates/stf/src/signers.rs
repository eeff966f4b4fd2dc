//! Checking the EdDSA signatures of many L2 ops at once.
//!
//! Owns [`verify_signatures`] (one block of ops, in parallel, with the state at hand) and
//! [`SignerTables`], which checks a stream of ops without the state and keeps precomputed
//! multiples of the keys that sign often from one call to the next. A check is a fixed-base
//! multiplication by the generator plus a variable-base one by the signer's key; with the
//! key's table the second becomes a fixed-base one too, which halves the check (about 125 µs
//! to 58 µs on the 2.6 GHz EPYC host). A table costs about three variable-base
//! multiplications to build and 48 KiB to keep (109 KiB with its lane form, where the CPU has
//! IFMA: then the checks of a chunk of ops with tables run eight at a time, 20 µs instead of
//! 72 µs each), so only keys that keep signing get one.
//!
//! Invariants:
//! - the result never depends on the tables: a prepared key verifies exactly what
//!   [`PublicKey::verify`](causeway_crypto::eddsa::PublicKey::verify) verifies, so tables only
//!   change how fast an answer comes;
//! - a signature is checked against the key it carries, never against the state: which key
//!   must have signed is decided by the executor against the state at that op (a state view,
//!   where given, only saves decoding a registered key);
//! - the tables stay within their capacity (least recently used out first), and the use
//!   counts within a bound, whatever keys the callers see; only valid signatures count
//!   towards a table, so forging costs the node no tables.

use crate::error::OpError;
use crate::state::StateView;
use causeway_crypto::eddsa::{
    PreparedKey, PublicKey, SignatureError, Signer, verify_tx_signatures,
};
use causeway_crypto::poseidon;
use causeway_primitives::{AccountId, Domain, Fr, Op, PackedPoint, TxSignature};
use rayon::prelude::*;
use std::collections::HashMap;
use std::sync::Arc;

/// The sender and signature of an op signed with an L2 key.
pub(crate) fn signed(op: &Op) -> Option<(AccountId, &TxSignature)> {
    match op {
        Op::Transfer(t) => Some((t.from, &t.signature)),
        Op::Withdraw(w) => Some((w.from, &w.signature)),
        _ => None,
    }
}

/// A key gets a table once it has signed this many ops (of one block in
/// [`verify_signatures`], or validly over the calls [`SignerTables`] remembers): building one
/// costs about three variable-base multiplications and saves one per signature.
const PREPARE_THRESHOLD: u32 = 4;

/// Keys whose signatures are counted, per table kept: past it the counts start over, so a
/// stream of one-off signers cannot grow the counts without bound.
const COUNTED_PER_TABLE: usize = 16;

/// Fewest keys counted, for small capacities.
const MIN_COUNTED: usize = 4096;

/// Precomputed tables of the keys that sign most, kept across calls of [`Self::check`].
#[derive(Debug)]
pub struct SignerTables {
    capacity: usize,
    /// Valid signatures seen per key without a table since the counts last started over.
    uses: HashMap<PackedPoint, u32>,
    /// The tables, and the call that last used each.
    tables: HashMap<PackedPoint, (Arc<PreparedKey>, u64)>,
    calls: u64,
}

impl SignerTables {
    /// Tables for at most `capacity` keys (48 KiB each, 109 KiB with the lane form) kept
    /// between calls; 0 keeps none.
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            uses: HashMap::new(),
            tables: HashMap::new(),
            calls: 0,
        }
    }

    /// Keys with a table kept.
    pub fn len(&self) -> usize {
        self.tables.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tables.is_empty()
    }

    /// Whether `key` has a table kept.
    pub fn has(&self, key: &PackedPoint) -> bool {
        self.tables.contains_key(key)
    }

    /// Keeps `table`, evicting the least recently used one when full.
    fn keep(&mut self, packed: PackedPoint, table: Arc<PreparedKey>) {
        if self.capacity == 0 {
            return;
        }
        if self.tables.len() >= self.capacity {
            // Rare (a new hot key while full), so a scan beats keeping an order.
            if let Some(oldest) = self
                .tables
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(k, _)| *k)
            {
                self.tables.remove(&oldest);
            }
        }
        self.tables.insert(packed, (table, self.calls));
    }

    fn count(&mut self, packed: PackedPoint, n: u32) -> u32 {
        let limit = (self.capacity * COUNTED_PER_TABLE).max(MIN_COUNTED);
        if self.uses.len() >= limit && !self.uses.contains_key(&packed) {
            self.uses.clear();
        }
        let seen = self.uses.entry(packed).or_default();
        *seen = seen.saturating_add(n);
        *seen
    }
}

/// Checks the EdDSA signatures of a block's L2 ops in parallel. Entry `i` is `Ok` for ops
/// with a valid signature and for ops that carry none (priority ops, ChangePubKey). Keys
/// that sign several of these ops are prepared for them, and forgotten afterwards.
///
/// `view` is only a shortcut: when the signature names the key the sender has registered in
/// `view`, the decoded registered key is used instead of unpacking the wire key. Which key is
/// the right signer is still decided by the executor, against the state at that op.
pub fn verify_signatures<V: StateView>(
    ops: &[Op],
    domain: &Domain,
    view: &V,
) -> Vec<Result<(), OpError>> {
    // The sender's registered key, where the signature names it.
    let registered: Vec<Option<PublicKey>> = ops
        .par_iter()
        .map(|op| {
            let (from, sig) = signed(op)?;
            let key = view.account(from)?.pubkey?;
            (key.packed() == sig.pubkey).then(|| key.to_public_key())
        })
        .collect();
    let mut uses: HashMap<PackedPoint, (u32, PublicKey)> = HashMap::new();
    for (op, key) in ops.iter().zip(&registered) {
        if let (Some((_, sig)), Some(key)) = (signed(op), key) {
            uses.entry(sig.pubkey).or_insert((0, *key)).0 += 1;
        }
    }
    let prepared: HashMap<PackedPoint, PreparedKey> = uses
        .into_par_iter()
        .filter(|(_, (n, _))| *n >= PREPARE_THRESHOLD)
        .filter_map(|(packed, (_, key))| Some((packed, key.prepare()?)))
        .collect();

    check_in_chunks(ops, domain, |i, sig| {
        match (&registered[i], prepared.get(&sig.pubkey)) {
            (Some(_), Some(table)) => Signer::Prepared(table),
            (Some(key), None) => Signer::Known(key),
            (None, _) => Signer::Carried,
        }
    })
    .into_iter()
    .map(|answer| match answer {
        None => Ok(()),
        Some(answer) => answer.map(|_| ()).map_err(OpError::from),
    })
    .collect()
}

/// Ops checked per task on the pool: two rounds of the hash's eight lanes, and small enough
/// that a group of a few dozen ops still spreads over the pool's threads.
const CHUNK: usize = 16;

/// Checks the signature of each signed op (`None` for the others) against the signer that
/// `signer_of(index, signature)` names, a chunk of ops per task on the rayon pool: each chunk's
/// messages, then its challenges, are hashed together ([`verify_tx_signatures`]).
fn check_in_chunks<'a>(
    ops: &'a [Op],
    domain: &Domain,
    signer_of: impl Fn(usize, &'a TxSignature) -> Signer<'a> + Sync,
) -> Vec<Option<Result<PublicKey, SignatureError>>> {
    ops.par_chunks(CHUNK)
        .enumerate()
        .flat_map_iter(|(c, chunk)| {
            let signed_ops: Vec<Option<(&TxSignature, [Fr; 4])>> =
                chunk.iter().map(|op| signed_fields(op, domain)).collect();
            let fields: Vec<[Fr; 4]> = signed_ops.iter().flatten().map(|(_, f)| *f).collect();
            let items: Vec<(&TxSignature, Fr, Signer<'a>)> = signed_ops
                .iter()
                .enumerate()
                .filter_map(|(i, signed)| signed.map(|(sig, _)| (c * CHUNK + i, sig)))
                .zip(poseidon::hash_many(&fields))
                .map(|((i, sig), msg)| (sig, msg, signer_of(i, sig)))
                .collect();
            let mut answers = verify_tx_signatures(&items).into_iter();
            signed_ops
                .iter()
                .map(|signed| signed.map(|_| answers.next().expect("one answer per signed op")))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The signature of an op signed with an L2 key and the four fields it signs.
fn signed_fields<'a>(op: &'a Op, domain: &Domain) -> Option<(&'a TxSignature, [Fr; 4])> {
    match op {
        Op::Transfer(t) => Some((&t.signature, t.signing_fields(domain))),
        Op::Withdraw(w) => Some((&w.signature, w.signing_fields(domain))),
        _ => None,
    }
}

impl SignerTables {
    /// Checks the signatures of `ops` in parallel, as [`verify_signatures`] does but without
    /// the state: each signature against the key it carries, with the kept table of that key
    /// where there is one. Keys whose valid signatures reach the threshold over the calls get
    /// a table for the calls after this one.
    pub fn check(&mut self, ops: &[Op], domain: &Domain) -> Vec<Result<(), OpError>> {
        self.calls += 1;
        let calls = self.calls;
        let mut kept: HashMap<PackedPoint, Arc<PreparedKey>> = HashMap::new();
        for (_, sig) in ops.iter().filter_map(signed) {
            if let Some((table, used)) = self.tables.get_mut(&sig.pubkey) {
                *used = calls;
                kept.insert(sig.pubkey, table.clone());
            }
        }
        // Each answer, with the wire and decoded key of a valid signature that had no table.
        let signer_of = |_, sig: &TxSignature| match kept.get(&sig.pubkey) {
            Some(table) => Signer::Prepared(table),
            None => Signer::Carried,
        };
        let answers: Vec<_> = check_in_chunks(ops, domain, signer_of)
            .into_iter()
            .zip(ops)
            .map(|(answer, op)| match (answer, signed(op)) {
                (Some(Ok(key)), Some((_, sig))) if !kept.contains_key(&sig.pubkey) => {
                    (Ok(()), Some((sig.pubkey, key)))
                }
                (Some(Err(e)), _) => (Err(OpError::from(e)), None),
                _ => (Ok(()), None),
            })
            .collect();

        let mut ready: HashMap<PackedPoint, PublicKey> = HashMap::new();
        if self.capacity > 0 {
            for (packed, key) in answers.iter().filter_map(|(_, key)| key.as_ref()) {
                if self.count(*packed, 1) >= PREPARE_THRESHOLD {
                    ready.insert(*packed, *key);
                }
            }
        }
        let built: Vec<(PackedPoint, PreparedKey)> = ready
            .into_par_iter()
            .filter_map(|(packed, key)| Some((packed, key.prepare()?)))
            .collect();
        for (packed, table) in built {
            self.uses.remove(&packed);
            self.keep(packed, Arc::new(table));
        }
        answers.into_iter().map(|(answer, _)| answer).collect()
    }
}
