//! Causeway's sparse Merkle trees.
//!
//! The state is two levels of 4-ary trees hashed with circomlib's Poseidon (width 5):
//! one account tree of height 12 (4^12 = 2^24 accounts) whose leaves are account hashes, and
//! under each account a balance tree of height 5 (4^5 = 2^10 tokens) whose leaves are the
//! balances themselves. Arity 4 halves the path length of a binary tree for a Poseidon width
//! that costs the circuit only 25% more per hash.
//!
//! The pieces: [`NodeStore`] is where nodes live (and [`Overlay`] stacks pending writes on one),
//! [`NodeHasher`] fixes the node hash and with it the empty-subtree hashes,
//! [`SparseMerkleTree`] reads and batch-updates one tree, returning a [`NodeDiff`] to commit,
//! and [`MerkleProof`] checks one leaf against a root.

mod hasher;
mod proof;
mod smt;
mod store;

pub use hasher::{MAX_HEIGHT, NodeHasher, Poseidon, empty_hashes};
pub use proof::MerkleProof;
pub use smt::{SparseMerkleTree, TreeError};
pub use store::{MemoryStore, NodeDiff, NodeKey, NodeStore, Overlay, TreeKey};

/// Height of the account tree: 4^12 = 2^24 leaves.
pub const ACCOUNT_TREE_HEIGHT: u8 = 12;
/// Height of each account's balance tree: 4^5 = 2^10 leaves.
pub const BALANCE_TREE_HEIGHT: u8 = 5;
/// Children per internal node.
pub const ARITY: usize = 4;
