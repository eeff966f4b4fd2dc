//! The 4-ary sparse Merkle tree: reading roots, leaves and proofs from a [`NodeStore`], and
//! batch updates that return the node writes as a [`NodeDiff`].
//!
//! Invariants kept here:
//! - A node at height 0 is the leaf value itself (an empty leaf is 0); the node at height
//!   `k > 0`, index `j` is `H(c0, c1, c2, c3)` where `ci` is the node at height `k - 1`, index
//!   `4j + i`. A node absent from the store is the empty-subtree hash of its height.
//! - The tree never writes: [`SparseMerkleTree::update`] reads the store and returns every node
//!   it changed, leaves and root included, each key once, so that committing the diff yields
//!   exactly the tree the returned root describes.
//! - An update hashes each internal node on the touched paths exactly once, however many of
//!   its leaves change, and the result does not depend on how updates are split into batches.
//! - An index outside the tree is a [`TreeError`], never a panic.

use crate::hasher::{MAX_HEIGHT, NodeHasher, Poseidon, empty_hashes};
use crate::proof::{MerkleProof, index_in_range};
use crate::store::{NodeDiff, NodeKey, NodeStore, TreeKey};
use crate::{ACCOUNT_TREE_HEIGHT, ARITY, BALANCE_TREE_HEIGHT};
use causeway_primitives::Fr;
use rayon::prelude::*;
use std::marker::PhantomData;
use std::ops::Range;

/// Above this many distinct parents in one level, the level is hashed on the rayon pool; below
/// it, the cost of splitting the work outweighs the hashing.
const PARALLEL_PARENTS: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TreeError {
    #[error("leaf index {index} is outside a tree of height {height}")]
    IndexOutOfRange { index: u64, height: u8 },
}

/// One sparse Merkle tree of a fixed height, identified in the store by its [`TreeKey`].
///
/// A cheap handle: it holds no nodes, only where they are and how they hash.
pub struct SparseMerkleTree<H = Poseidon> {
    key: TreeKey,
    height: u8,
    empty: &'static [Fr],
    // `fn() -> H` keeps the handle `Send + Sync + Copy` whatever `H` is.
    hasher: PhantomData<fn() -> H>,
}

// Derives would demand `H: Clone` etc., which the handle does not need.
impl<H> Clone for SparseMerkleTree<H> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<H> Copy for SparseMerkleTree<H> {}

impl<H> std::fmt::Debug for SparseMerkleTree<H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SparseMerkleTree")
            .field("key", &self.key)
            .field("height", &self.height)
            .finish()
    }
}

impl<H: NodeHasher> SparseMerkleTree<H> {
    /// # Panics
    /// If `height` exceeds [`MAX_HEIGHT`]; heights are protocol constants, not inputs.
    pub fn new(key: TreeKey, height: u8) -> Self {
        assert!(
            height <= MAX_HEIGHT,
            "tree height {height} above {MAX_HEIGHT}"
        );
        SparseMerkleTree {
            key,
            height,
            empty: empty_hashes::<H>(),
            hasher: PhantomData,
        }
    }

    /// The account tree: height [`ACCOUNT_TREE_HEIGHT`].
    pub fn accounts() -> Self {
        Self::new(TreeKey::Accounts, ACCOUNT_TREE_HEIGHT)
    }

    /// The balance tree of account `account`: height [`BALANCE_TREE_HEIGHT`].
    pub fn balances(account: u32) -> Self {
        Self::new(TreeKey::Balances(account), BALANCE_TREE_HEIGHT)
    }

    pub fn key(&self) -> TreeKey {
        self.key
    }

    pub fn height(&self) -> u8 {
        self.height
    }

    /// The root of this tree with every leaf zero.
    pub fn empty_root(&self) -> Fr {
        self.empty[usize::from(self.height)]
    }

    pub fn root<S: NodeStore + ?Sized>(&self, store: &S) -> Fr {
        self.node(store, self.height, 0)
    }

    pub fn leaf<S: NodeStore + ?Sized>(&self, store: &S, index: u64) -> Result<Fr, TreeError> {
        self.check_index(index)?;
        Ok(self.node(store, 0, index))
    }

    pub fn proof<S: NodeStore + ?Sized>(
        &self,
        store: &S,
        index: u64,
    ) -> Result<MerkleProof, TreeError> {
        self.check_index(index)?;
        let siblings = (0..self.height)
            .map(|height| {
                let on_path = index >> (2 * u32::from(height));
                let first = on_path - on_path % ARITY as u64;
                let mut siblings = [Fr::from(0u64); ARITY - 1];
                let others = (first..first + ARITY as u64).filter(|&i| i != on_path);
                for (slot, i) in siblings.iter_mut().zip(others) {
                    *slot = self.node(store, height, i);
                }
                siblings
            })
            .collect();
        Ok(MerkleProof {
            index,
            leaf: self.node(store, 0, index),
            siblings,
        })
    }

    /// Sets each `(index, value)` leaf, the later of two updates to one index winning, and
    /// returns the new root with every node write. The store is only read.
    ///
    /// Rejects the whole batch, writing nothing, if any index is outside the tree.
    pub fn update<S: NodeStore + Sync + ?Sized>(
        &self,
        store: &S,
        updates: &[(u64, Fr)],
    ) -> Result<(Fr, NodeDiff), TreeError> {
        for &(index, _) in updates {
            self.check_index(index)?;
        }
        if updates.is_empty() {
            return Ok((self.root(store), NodeDiff::new()));
        }

        // A stable sort keeps duplicates in call order, so keeping the last of each run makes
        // the later update win.
        let mut level: Vec<(u64, Fr)> = updates.to_vec();
        level.sort_by_key(|&(index, _)| index);
        level.dedup_by(|later, earlier| {
            let same = later.0 == earlier.0;
            if same {
                earlier.1 = later.1;
            }
            same
        });

        // Every touched node lies on a touched leaf's path: per level, at most one per leaf and
        // at most the width of the row.
        let capacity = (0..=self.height)
            .map(|height| {
                let width = 1u64
                    .checked_shl(2 * u32::from(self.height - height))
                    .unwrap_or(u64::MAX);
                level
                    .len()
                    .min(usize::try_from(width).unwrap_or(usize::MAX))
            })
            .sum();
        let mut diff = NodeDiff::with_capacity(capacity);
        diff.extend(level.iter().map(|&(i, v)| (self.node_key(0, i), v)));
        for height in 1..=self.height {
            let groups = sibling_groups(&level);
            let hash_parent = |group: Range<usize>| self.hash_parent(store, height, &level[group]);
            let parents: Vec<(u64, Fr)> = if groups.len() > PARALLEL_PARENTS {
                groups.into_par_iter().map(hash_parent).collect()
            } else {
                groups.into_iter().map(hash_parent).collect()
            };
            diff.extend(parents.iter().map(|&(i, v)| (self.node_key(height, i), v)));
            level = parents;
        }
        debug_assert_eq!(level.len(), 1, "all paths meet at the root");
        Ok((level[0].1, diff))
    }

    /// Hashes the parent at `height` of `children`: the updated nodes of one sibling group at
    /// `height - 1`, sorted by index. The children not updated are read from the store.
    fn hash_parent<S: NodeStore + ?Sized>(
        &self,
        store: &S,
        height: u8,
        children: &[(u64, Fr)],
    ) -> (u64, Fr) {
        let parent = children[0].0 / ARITY as u64;
        let mut updated = [None; ARITY];
        for &(index, value) in children {
            updated[(index % ARITY as u64) as usize] = Some(value);
        }
        let mut inputs = [Fr::from(0u64); ARITY];
        for (slot, (input, value)) in inputs.iter_mut().zip(updated).enumerate() {
            *input = value.unwrap_or_else(|| {
                self.node(store, height - 1, parent * ARITY as u64 + slot as u64)
            });
        }
        (parent, H::hash(&inputs))
    }

    fn node<S: NodeStore + ?Sized>(&self, store: &S, height: u8, index: u64) -> Fr {
        store
            .node(&self.node_key(height, index))
            .unwrap_or(self.empty[usize::from(height)])
    }

    fn node_key(&self, height: u8, index: u64) -> NodeKey {
        NodeKey {
            tree: self.key,
            height,
            index,
        }
    }

    fn check_index(&self, index: u64) -> Result<(), TreeError> {
        if index_in_range(index, self.height) {
            Ok(())
        } else {
            Err(TreeError::IndexOutOfRange {
                index,
                height: self.height,
            })
        }
    }
}

/// Splits a row of nodes sorted by index into runs that share a parent.
fn sibling_groups(row: &[(u64, Fr)]) -> Vec<Range<usize>> {
    let mut groups = Vec::new();
    let mut start = 0;
    for end in 1..=row.len() {
        if end == row.len() || row[end].0 / ARITY as u64 != row[start].0 / ARITY as u64 {
            groups.push(start..end);
            start = end;
        }
    }
    groups
}
