//! Merkle proofs of one leaf: recomputing a root from a leaf and its path, with or without
//! replacing the leaf.
//!
//! A proof carries no hasher and no store; checking one needs only the hasher and the root. A
//! proof is only meaningful for a tree of height `siblings.len()`: [`MerkleProof::verify`]
//! takes the expected height so that a shorter path (one claiming an internal node is a leaf)
//! or an index beyond the tree is refused.

use crate::ARITY;
use crate::hasher::NodeHasher;
use causeway_primitives::Fr;

/// The path from leaf `index` to the root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MerkleProof {
    pub index: u64,
    pub leaf: Fr,
    /// One entry per level, bottom-up: the three siblings of the node on the path, in index
    /// order, leaving out the node on the path itself.
    pub siblings: Vec<[Fr; ARITY - 1]>,
}

impl MerkleProof {
    /// The root this proof commits to.
    pub fn compute_root<H: NodeHasher>(&self) -> Fr {
        self.root_with_leaf::<H>(self.leaf)
    }

    /// The root after replacing the leaf with `new_leaf`, every other leaf unchanged.
    ///
    /// Only the low `2 * siblings.len()` bits of `index` pick the path; [`Self::verify`] is
    /// what checks that no higher bits are set.
    pub fn root_with_leaf<H: NodeHasher>(&self, new_leaf: Fr) -> Fr {
        let mut node = new_leaf;
        let mut index = self.index;
        for siblings in &self.siblings {
            let position = (index % ARITY as u64) as usize;
            let mut children = [Fr::from(0u64); ARITY];
            children[..position].copy_from_slice(&siblings[..position]);
            children[position] = node;
            children[position + 1..].copy_from_slice(&siblings[position..]);
            node = H::hash(&children);
            index /= ARITY as u64;
        }
        node
    }

    /// Whether this proves `leaf` at `index` in the height-`height` tree with root `root`.
    pub fn verify<H: NodeHasher>(&self, height: u8, root: Fr) -> bool {
        self.siblings.len() == usize::from(height)
            && index_in_range(self.index, height)
            && self.compute_root::<H>() == root
    }
}

/// Whether `index` addresses a leaf of a height-`height` tree (4^height leaves).
pub(crate) fn index_in_range(index: u64, height: u8) -> bool {
    // A shift by 64 or more means the row is wider than any u64, so every index fits.
    index
        .checked_shr(2 * u32::from(height))
        .is_none_or(|high| high == 0)
}

#[cfg(test)]
mod tests {
    use super::index_in_range;

    #[test]
    fn index_range_is_four_to_the_height() {
        assert!(index_in_range(0, 0));
        assert!(!index_in_range(1, 0));
        assert!(index_in_range(1023, 5));
        assert!(!index_in_range(1024, 5));
        assert!(index_in_range((1 << 24) - 1, 12));
        assert!(!index_in_range(1 << 24, 12));
        assert!(index_in_range((1 << 62) - 1, 31));
        assert!(!index_in_range(1 << 62, 31));
        // Rows at height 32 and above would be wider than u64; every index fits.
        assert!(index_in_range(u64::MAX, 32));
    }
}
