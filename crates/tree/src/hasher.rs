//! The node hash: the [`NodeHasher`] trait, its Poseidon implementation, and the empty-subtree
//! hashes each hasher implies.
//!
//! Invariant: for every hasher `H`, `empty_hashes::<H>()[k]` is the root of a height-`k` subtree
//! whose leaves are all zero: `E[0] = 0` and `E[k + 1] = H(E[k], E[k], E[k], E[k])`, for every
//! `k` up to [`MAX_HEIGHT`]. The table is computed once per hasher type and then shared.

use crate::ARITY;
use causeway_primitives::Fr;
use std::any::TypeId;
use std::collections::HashMap;
use std::sync::{OnceLock, PoisonError, RwLock};

/// The tallest tree supported: row indices must fit a `u64`, and 4^31 = 2^62 is the last power
/// of four that does.
pub const MAX_HEIGHT: u8 = 31;

/// The hash of an internal node from its four children, ordered by index.
///
/// The algorithms are generic over it so they can be tested with a cheap hash and so the
/// hash can change without touching them.
pub trait NodeHasher: Send + Sync + 'static {
    fn hash(children: &[Fr; ARITY]) -> Fr;

    /// The hash of each node, in order; a hasher that can hash several at once for less
    /// overrides it.
    fn hash_many(nodes: &[[Fr; ARITY]]) -> Vec<Fr> {
        nodes.iter().map(Self::hash).collect()
    }
}

/// circomlib's Poseidon with 4 inputs (width 5): the hash the circuit and the L1 contract use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Poseidon;

impl NodeHasher for Poseidon {
    fn hash(children: &[Fr; ARITY]) -> Fr {
        causeway_crypto::poseidon::hash4(children)
    }

    /// Eight nodes at a time on AVX-512 IFMA lanes where the CPU has them.
    fn hash_many(nodes: &[[Fr; ARITY]]) -> Vec<Fr> {
        causeway_crypto::poseidon::hash_many(nodes)
    }
}

/// `E[0..=MAX_HEIGHT]` for hasher `H` (see the module docs).
pub fn empty_hashes<H: NodeHasher>() -> &'static [Fr] {
    // A `static` inside a generic function is shared by all instantiations, so the tables are
    // keyed by hasher type. Each table is leaked once per type: a bounded, tiny allocation.
    static TABLES: OnceLock<RwLock<HashMap<TypeId, &'static [Fr]>>> = OnceLock::new();
    let tables = TABLES.get_or_init(Default::default);
    let id = TypeId::of::<H>();
    // No panic can happen while a lock is held (hashing runs outside it), so a poisoned lock
    // still guards consistent data.
    if let Some(table) = tables
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .get(&id)
    {
        return table;
    }
    let mut table = Vec::with_capacity(usize::from(MAX_HEIGHT) + 1);
    table.push(Fr::from(0u64));
    for k in 0..usize::from(MAX_HEIGHT) {
        let below = table[k];
        table.push(H::hash(&[below; ARITY]));
    }
    // Two threads may both compute the table; the first one stored wins and both agree anyway.
    let mut tables = tables.write().unwrap_or_else(PoisonError::into_inner);
    let stored: &'static [Fr] = tables
        .entry(id)
        .or_insert_with(|| Box::leak(table.into_boxed_slice()));
    stored
}
