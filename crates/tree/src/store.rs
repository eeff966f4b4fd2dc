//! Where tree nodes live: the [`NodeStore`] trait, its key, and an in-memory implementation.
//!
//! A store holds only nodes that differ from the empty subtree at their position: a missing
//! key reads as the empty-subtree hash of its height. Stores are read-only to the tree
//! algorithms; updates come back as a [`NodeDiff`] that the caller commits (in one atomic step,
//! for durable stores). An [`Overlay`] stacks pending diffs over a store, so that several
//! updates can be applied in sequence and committed as one diff.

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

/// A store that reads pending writes first and the base store below them.
///
/// Lets a caller chain updates (each one reading the nodes the previous ones wrote) without
/// touching the base, then commit everything at once. The combined diff holds each key once,
/// with its latest value.
#[derive(Debug)]
pub struct Overlay<'a, S: ?Sized> {
    base: &'a S,
    pending: HashMap<NodeKey, Fr>,
}

impl<'a, S: NodeStore + ?Sized> Overlay<'a, S> {
    pub fn new(base: &'a S) -> Self {
        Overlay {
            base,
            pending: HashMap::new(),
        }
    }

    pub fn base(&self) -> &'a S {
        self.base
    }

    /// Layers `diff` over everything applied so far; later writes to a key replace earlier ones.
    pub fn apply(&mut self, diff: &[(NodeKey, Fr)]) {
        self.pending.extend(diff.iter().copied());
    }

    /// Number of distinct pending node writes.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// The pending writes, sorted by key so that the same updates always give the same diff.
    pub fn into_diff(self) -> NodeDiff {
        let mut diff: NodeDiff = self.pending.into_iter().collect();
        diff.sort_unstable_by_key(|&(key, _)| key);
        diff
    }
}

impl<S: NodeStore + ?Sized> NodeStore for Overlay<'_, S> {
    fn node(&self, key: &NodeKey) -> Option<Fr> {
        self.pending
            .get(key)
            .copied()
            .or_else(|| self.base.node(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(tree: TreeKey, height: u8, index: u64) -> NodeKey {
        NodeKey {
            tree,
            height,
            index,
        }
    }

    #[test]
    fn node_key_bytes_round_trip_and_sort_like_keys() {
        let keys = [
            key(TreeKey::Accounts, 0, 5),
            key(TreeKey::Accounts, 1, 0),
            key(TreeKey::Balances(0), 0, 0),
            key(TreeKey::Balances(0), 0, u64::MAX),
            key(TreeKey::Balances(u32::MAX - 1), 12, 1),
        ];
        for k in &keys {
            assert_eq!(NodeKey::from_bytes(&k.to_bytes()), *k);
        }
        for pair in keys.windows(2) {
            assert!(pair[0] < pair[1]);
            assert!(pair[0].to_bytes() < pair[1].to_bytes());
        }
    }

    #[test]
    fn overlay_reads_pending_writes_over_the_base() {
        let (a, b, c) = (
            key(TreeKey::Accounts, 0, 1),
            key(TreeKey::Accounts, 0, 2),
            key(TreeKey::Accounts, 1, 0),
        );
        let mut base = MemoryStore::new();
        base.apply(&[(a, Fr::from(1u64)), (b, Fr::from(2u64))]);

        let mut overlay = Overlay::new(&base);
        overlay.apply(&[(c, Fr::from(30u64)), (a, Fr::from(10u64))]);
        overlay.apply(&[(c, Fr::from(31u64))]);
        assert_eq!(overlay.node(&a), Some(Fr::from(10u64)));
        assert_eq!(overlay.node(&b), Some(Fr::from(2u64)));
        assert_eq!(overlay.node(&c), Some(Fr::from(31u64)));
        assert_eq!(overlay.node(&key(TreeKey::Accounts, 0, 3)), None);
        assert_eq!(base.node(&a), Some(Fr::from(1u64)), "the base is untouched");

        assert_eq!(overlay.len(), 2);
        assert_eq!(
            overlay.into_diff(),
            vec![(a, Fr::from(10u64)), (c, Fr::from(31u64))]
        );
    }
}
