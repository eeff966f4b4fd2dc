//! Causeway's sparse Merkle trees.
//!
//! The state is two levels of 4-ary trees hashed with circomlib's Poseidon (width 5):
//! one account tree of height 12 (4^12 = 2^24 accounts) whose leaves are account hashes, and
//! under each account a balance tree of height 5 (4^5 = 2^10 tokens) whose leaves are the
//! balances themselves. Arity 4 halves the path length of a binary tree for a Poseidon width
//! that costs the circuit only 25% more per hash.

mod store;

pub use store::{MemoryStore, NodeDiff, NodeKey, NodeStore, TreeKey};

/// Height of the account tree: 4^12 = 2^24 leaves.
pub const ACCOUNT_TREE_HEIGHT: u8 = 12;
/// Height of each account's balance tree: 4^5 = 2^10 leaves.
pub const BALANCE_TREE_HEIGHT: u8 = 5;
pub const ARITY: usize = 4;
