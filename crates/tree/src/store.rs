//! Where tree nodes live: the [`NodeStore`] trait, its key, and an in-memory implementation.
//!
//! A store holds only nodes that differ from the empty subtree at their position: a missing
//! key reads as the empty-subtree hash of its height. Stores are read-only to the tree
//! algorithms; updates come back as a [`NodeDiff`] that the caller commits (in one atomic step,
//! for durable stores).

use causeway_primitives::Fr;
use std::collections::HashMap;

/// Which tree a node belongs to: the account tree, or one account's balance tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TreeKey {
    Accounts,
    /// The balance tree of the account with this id.
    Balances(u32),
}

impl TreeKey {
    /// Dense numbering used by stores: accounts = 0, balances of account `i` = `i + 1`.
    pub fn to_u32(self) -> u32 {
        match self {
            TreeKey::Accounts => 0,
            TreeKey::Balances(id) => id + 1,
        }
    }

    pub fn from_u32(v: u32) -> Self {
        match v {
            0 => TreeKey::Accounts,
            id => TreeKey::Balances(id - 1),
        }
    }
}

/// A node's position: its tree, its height above the leaves (0 = leaf), its index in that row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeKey {
    pub tree: TreeKey,
    pub height: u8,
    pub index: u64,
}

impl NodeKey {
    /// 13-byte big-endian encoding (tree u32, height u8, index u64); byte order = key order.
    pub fn to_bytes(&self) -> [u8; 13] {
        let mut b = [0u8; 13];
        b[..4].copy_from_slice(&self.tree.to_u32().to_be_bytes());
        b[4] = self.height;
        b[5..].copy_from_slice(&self.index.to_be_bytes());
        b
    }

    pub fn from_bytes(b: &[u8; 13]) -> Self {
        NodeKey {
            tree: TreeKey::from_u32(u32::from_be_bytes(b[..4].try_into().expect("4 bytes"))),
            height: b[4],
            index: u64::from_be_bytes(b[5..].try_into().expect("8 bytes")),
        }
    }
}

/// Node writes produced by an update, in no particular order, each key at most once.
pub type NodeDiff = Vec<(NodeKey, Fr)>;

/// Read access to tree nodes. `None` means "the empty subtree hash for this height".
pub trait NodeStore {
    fn node(&self, key: &NodeKey) -> Option<Fr>;
}

/// The in-memory store: for tests, and as the write-back cache in front of a durable store.
#[derive(Debug, Default, Clone)]
pub struct MemoryStore {
    nodes: HashMap<NodeKey, Fr>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn apply(&mut self, diff: &[(NodeKey, Fr)]) {
        self.nodes.extend(diff.iter().copied());
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }
}

impl NodeStore for MemoryStore {
    fn node(&self, key: &NodeKey) -> Option<Fr> {
        self.nodes.get(key).copied()
    }
}

impl<S: NodeStore + ?Sized> NodeStore for &S {
    fn node(&self, key: &NodeKey) -> Option<Fr> {
        (**self).node(key)
    }
}
