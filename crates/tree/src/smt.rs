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
//!   its leaves change, and the result does not depend on how updates are split into batches
//!   or grouped with other trees' ([`SparseMerkleTree::update_trees`]).
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

/// Parents hashed per task on the pool: several rounds of the hash's eight lanes.
const HASH_CHUNK: usize = 32;

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
        Ok(Self::update_trees(store, &[(*self, updates)])?
            .pop()
            .expect("one result per tree"))
    }

    /// [`Self::update`] of several trees at once: the trees' nodes of one height are hashed
    /// together ([`NodeHasher::hash_many`], on the rayon pool when there are many), so many
    /// small updates (a block's balance trees) fill the hash's lanes as one big one does.
    /// Returns each tree's root and node writes, in order; the trees should be distinct.
    ///
    /// Rejects the whole call, writing nothing, if any index is outside its tree.
    pub fn update_trees<S: NodeStore + Sync + ?Sized>(
        store: &S,
        trees: &[(Self, &[(u64, Fr)])],
    ) -> Result<Vec<(Fr, NodeDiff)>, TreeError> {
        for (tree, updates) in trees {
            for &(index, _) in *updates {
                tree.check_index(index)?;
            }
        }
        let mut levels: Vec<Vec<(u64, Fr)>> = trees
            .iter()
            .map(|(_, updates)| sorted_last_wins(updates))
            .collect();
        let mut diffs: Vec<NodeDiff> = trees
            .iter()
            .zip(&levels)
            .map(|((tree, _), level)| {
                let mut diff = NodeDiff::with_capacity(tree.touched_capacity(level.len()));
                diff.extend(level.iter().map(|&(i, v)| (tree.node_key(0, i), v)));
                diff
            })
            .collect();
        let tallest = trees.iter().map(|(tree, _)| tree.height).max().unwrap_or(0);
        for height in 1..=tallest {
            // Every sibling group of every tree still below its root, tree by tree.
            let groups: Vec<(usize, Range<usize>)> = levels
                .iter()
                .enumerate()
                .filter(|&(t, level)| trees[t].0.height >= height && !level.is_empty())
                .flat_map(|(t, level)| sibling_groups(level).into_iter().map(move |g| (t, g)))
                .collect();
            let hash_groups = |groups: &[(usize, Range<usize>)]| {
                let inputs: Vec<(u64, [Fr; ARITY])> = groups
                    .iter()
                    .map(|(t, g)| {
                        trees[*t]
                            .0
                            .parent_inputs(store, height, &levels[*t][g.clone()])
                    })
                    .collect();
                let children: Vec<[Fr; ARITY]> = inputs.iter().map(|(_, c)| *c).collect();
                inputs
                    .iter()
                    .map(|(parent, _)| *parent)
                    .zip(H::hash_many(&children))
                    .collect::<Vec<_>>()
            };
            let parents: Vec<(u64, Fr)> = if groups.len() > PARALLEL_PARENTS {
                groups
                    .par_chunks(HASH_CHUNK)
                    .flat_map_iter(hash_groups)
                    .collect()
            } else {
                hash_groups(&groups)
            };
            let mut counts = vec![0usize; trees.len()];
            for (t, _) in &groups {
                counts[*t] += 1;
            }
            let mut parents = parents.into_iter();
            for (t, level) in levels.iter_mut().enumerate() {
                if counts[t] == 0 {
                    continue;
                }
                let next: Vec<(u64, Fr)> = parents.by_ref().take(counts[t]).collect();
                diffs[t].extend(
                    next.iter()
                        .map(|&(i, v)| (trees[t].0.node_key(height, i), v)),
                );
                *level = next;
            }
        }
        Ok(trees
            .iter()
            .zip(levels)
            .zip(diffs)
            .map(|(((tree, _), level), diff)| match level.as_slice() {
                [] => (tree.root(store), diff),
                [(_, root)] => (*root, diff),
                _ => unreachable!("all paths meet at the root"),
            })
            .collect())
    }

    /// Nodes an update of `leaves` distinct leaves can touch: per level, at most one per leaf
    /// and at most the width of the row.
    fn touched_capacity(&self, leaves: usize) -> usize {
        (0..=self.height)
            .map(|height| {
                let width = 1u64
                    .checked_shl(2 * u32::from(self.height - height))
                    .unwrap_or(u64::MAX);
                leaves.min(usize::try_from(width).unwrap_or(usize::MAX))
            })
            .sum()
    }

    /// The index of the parent at `height` of `children` (the updated nodes of one sibling
    /// group at `height - 1`, sorted by index) and its four children, those not updated read
    /// from the store.
    fn parent_inputs<S: NodeStore + ?Sized>(
        &self,
        store: &S,
        height: u8,
        children: &[(u64, Fr)],
    ) -> (u64, [Fr; ARITY]) {
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
        (parent, inputs)
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

/// `updates` sorted by index, one per index: a stable sort keeps duplicates in call order, so
/// keeping the last of each run makes the later update win.
fn sorted_last_wins(updates: &[(u64, Fr)]) -> Vec<(u64, Fr)> {
    let mut level = updates.to_vec();
    level.sort_by_key(|&(index, _)| index);
    level.dedup_by(|later, earlier| {
        let same = later.0 == earlier.0;
        if same {
            earlier.1 = later.1;
        }
        same
    });
    level
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
