//! 4-ary Merkle paths in R1CS: the in-circuit twin of
//! [`MerkleProof::root_with_leaf`](causeway_tree::MerkleProof::root_with_leaf).
//!
//! Owns: placing the node on the path among its three siblings at each level, hashing the four
//! children with [`poseidon_gadget`], and proving a leaf change (old and new root over one
//! path).
//!
//! Invariants:
//! - A level's children are exactly the native ones for the position `p = low + 2 * high`:
//!   the node at slot `p`, the siblings in order in the other slots. Every position bit is a
//!   constrained [`Boolean`], so a prover cannot pick a "position" outside `0..4` or blend two
//!   arrangements; any other arrangement hashes to a different root.
//! - The position is carried as two bits per level, allocated once per path
//!   ([`PathVar::new_witness`], one booleanity constraint per bit) and shared by the old and
//!   new root of an update, so both roots are over the same leaf slot. Bits are the cheapest
//!   form: the leaf index is then a free linear combination ([`PathVar::index`]), and tying it
//!   to an index held elsewhere costs one equality constraint. Decomposing an index into bits
//!   would cost the same booleanity constraints plus that equality.
//!
//! Costs (asserted by the tests): 5 constraints to place the node plus 297 for the hash per
//! level; an update adds 3 per level for the new root's arrangement, reusing the old one.

use crate::poseidon::poseidon_gadget;
use ark_r1cs_std::alloc::AllocVar;
use ark_r1cs_std::boolean::Boolean;
use ark_r1cs_std::fields::fp::FpVar;
use ark_relations::r1cs::{ConstraintSystemRef, SynthesisError};
use causeway_primitives::Fr;
use causeway_tree::{ARITY, MerkleProof};

/// The slot `low + 2 * high` (in `0..4`) of the node on the path among its parent's children.
#[derive(Debug, Clone)]
pub struct PositionVar {
    pub low: Boolean<Fr>,
    pub high: Boolean<Fr>,
}

/// A path from a leaf slot to the root, bottom-up, without the leaf itself: per level the
/// node's position and its three siblings in index order (as in [`MerkleProof`]).
#[derive(Debug, Clone)]
pub struct PathVar {
    pub positions: Vec<PositionVar>,
    pub siblings: Vec<[FpVar<Fr>; ARITY - 1]>,
}

impl PathVar {
    /// Allocates the position bits and siblings of a height-`height` path as witnesses.
    ///
    /// `proof` is `None` only during setup, when no values exist; the circuit's shape depends
    /// on `height` alone. The proof's leaf is not allocated: the caller computes it in-circuit.
    ///
    /// # Errors
    /// [`SynthesisError::Unsatisfiable`] if the proof is not for a height-`height` tree (wrong
    /// sibling count, or an index with bits above `2 * height`), since its low index bits would
    /// silently address another slot.
    pub fn new_witness(
        cs: ConstraintSystemRef<Fr>,
        height: usize,
        proof: Option<&MerkleProof>,
    ) -> Result<Self, SynthesisError> {
        if let Some(proof) = proof {
            let fits = u32::try_from(2 * height)
                .ok()
                .and_then(|bits| proof.index.checked_shr(bits))
                .is_none_or(|high| high == 0);
            if proof.siblings.len() != height || !fits {
                return Err(SynthesisError::Unsatisfiable);
            }
        }
        let bit = |level: usize, which: u32| {
            let proof = proof.ok_or(SynthesisError::AssignmentMissing);
            Boolean::new_witness(cs.clone(), move || {
                Ok((proof?.index >> (2 * level as u32 + which)) & 1 == 1)
            })
        };
        let sibling = |level: usize, slot: usize| {
            FpVar::new_witness(cs.clone(), || {
                proof
                    .map(|p| p.siblings[level][slot])
                    .ok_or(SynthesisError::AssignmentMissing)
            })
        };
        let mut positions = Vec::with_capacity(height);
        let mut siblings = Vec::with_capacity(height);
        for level in 0..height {
            positions.push(PositionVar {
                low: bit(level, 0)?,
                high: bit(level, 1)?,
            });
            siblings.push([sibling(level, 0)?, sibling(level, 1)?, sibling(level, 2)?]);
        }
        Ok(Self {
            positions,
            siblings,
        })
    }

    /// The tree height this path spans.
    pub fn height(&self) -> usize {
        self.positions.len()
    }

    /// The leaf index the position bits spell, `sum_k (low_k + 2 * high_k) * 4^k`: a linear
    /// combination, free until constrained.
    pub fn index(&self) -> FpVar<Fr> {
        let mut index = FpVar::Constant(Fr::from(0u64));
        let mut weight = Fr::from(1u64);
        for position in &self.positions {
            index += FpVar::from(position.low.clone()) * weight;
            weight += weight;
            index += FpVar::from(position.high.clone()) * weight;
            weight += weight;
        }
        index
    }

    /// The root with `leaf` in this path's slot.
    ///
    /// # Errors
    /// [`SynthesisError::Unsatisfiable`] if positions and siblings differ in length.
    pub fn root(&self, leaf: &FpVar<Fr>) -> Result<FpVar<Fr>, SynthesisError> {
        self.check_shape()?;
        let mut node = leaf.clone();
        for (position, siblings) in self.positions.iter().zip(&self.siblings) {
            node = level_parent(&node, position, siblings)?;
        }
        Ok(node)
    }

    /// `(old_root, new_root)`: the roots with `old_leaf`, then `new_leaf`, in this path's slot,
    /// every other leaf unchanged. Proving a leaf change is enforcing `old_root` equal to the
    /// current root and carrying `new_root` forward.
    ///
    /// # Errors
    /// [`SynthesisError::Unsatisfiable`] if positions and siblings differ in length.
    pub fn update(
        &self,
        old_leaf: &FpVar<Fr>,
        new_leaf: &FpVar<Fr>,
    ) -> Result<(FpVar<Fr>, FpVar<Fr>), SynthesisError> {
        self.check_shape()?;
        let mut old = old_leaf.clone();
        let mut new = new_leaf.clone();
        for (position, siblings) in self.positions.iter().zip(&self.siblings) {
            let old_children = place(&old, position, siblings)?;
            let new_children = replace(&old_children, &(&new - &old), position);
            old = poseidon_gadget(&old_children)?;
            new = poseidon_gadget(&new_children)?;
        }
        Ok((old, new))
    }

    fn check_shape(&self) -> Result<(), SynthesisError> {
        if self.positions.len() == self.siblings.len() {
            Ok(())
        } else {
            Err(SynthesisError::Unsatisfiable)
        }
    }
}

/// One level: the parent of `node` at `position` among `siblings`.
pub fn level_parent(
    node: &FpVar<Fr>,
    position: &PositionVar,
    siblings: &[FpVar<Fr>; ARITY - 1],
) -> Result<FpVar<Fr>, SynthesisError> {
    poseidon_gadget(&place(node, position, siblings)?)
}

/// The four children with `node` at slot `p = low + 2 * high` and the siblings, in order, in
/// the others, in 5 constraints (one per select).
///
/// With `[s0, s1, s2]` the siblings and `n` the node, the rows are
/// `p=0: [n, s0, s1, s2]`, `p=1: [s0, n, s1, s2]`, `p=2: [s0, s1, n, s2]`, `p=3: [s0, s1, s2, n]`.
/// `low` decides the order within the pair the node sits in (`n`/`s0` when `high = 0`,
/// `n`/`s2` when `high = 1`), `high` decides which half holds that pair. The last child is
/// the sum of all four minus the other three (every row is a permutation of the same four
/// values), which costs nothing.
fn place(
    node: &FpVar<Fr>,
    position: &PositionVar,
    [s0, s1, s2]: &[FpVar<Fr>; ARITY - 1],
) -> Result<[FpVar<Fr>; ARITY], SynthesisError> {
    let PositionVar { low, high } = position;
    // The pair holding the node when high = 0: (first, node + s0 - first).
    let low_first = low.select(s0, node)?;
    let low_second = node + s0 - &low_first;
    // Child 2 when high = 1: the node at p = 2, s2 at p = 3.
    let high_first = low.select(s2, node)?;

    let c0 = high.select(s0, &low_first)?;
    let c1 = high.select(s1, &low_second)?;
    let c2 = high.select(&high_first, s1)?;
    let c3 = node + s0 + s1 + s2 - &c0 - &c1 - &c2;
    Ok([c0, c1, c2, c3])
}

/// `children` with the node at `position` increased by `delta`, in 3 constraints.
///
/// The new arrangement differs from the old only in the node's slot, so instead of placing the
/// new node from scratch (5 constraints) it adds `e_p * delta` to each child, where `e_p` is
/// the one-hot indicator of the slot: with `h = high * delta` and `b = low * h`,
/// `e_3 delta = b`, `e_2 delta = h - b`, `e_1 delta = low * delta - b`, and `e_0 delta` is
/// the rest of `delta`.
fn replace(
    children: &[FpVar<Fr>; ARITY],
    delta: &FpVar<Fr>,
    position: &PositionVar,
) -> [FpVar<Fr>; ARITY] {
    let low = FpVar::from(position.low.clone());
    let high = FpVar::from(position.high.clone());
    let high_delta = &high * delta;
    let low_delta = &low * delta;
    let both_delta = &low * &high_delta;
    let d3 = both_delta.clone();
    let d2 = &high_delta - &both_delta;
    let d1 = &low_delta - &both_delta;
    let d0 = delta - &d1 - &d2 - &d3;
    let [c0, c1, c2, c3] = children;
    [c0 + d0, c1 + d1, c2 + d2, c3 + d3]
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_ff::UniformRand;
    use ark_r1cs_std::R1CSVar;
    use ark_r1cs_std::eq::EqGadget;
    use ark_relations::r1cs::ConstraintSystem;
    use causeway_crypto::poseidon::hash4;
    use causeway_tree::{ACCOUNT_TREE_HEIGHT, MemoryStore, Poseidon, SparseMerkleTree, TreeKey};
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    /// A tree of `height` with `count` random leaves at random slots, and its store.
    fn random_tree(
        rng: &mut StdRng,
        height: u8,
        count: usize,
    ) -> (SparseMerkleTree<Poseidon>, MemoryStore, Vec<u64>) {
        let tree = SparseMerkleTree::<Poseidon>::new(TreeKey::Accounts, height);
        let mut store = MemoryStore::new();
        let slots = 1u64 << (2 * height);
        let updates: Vec<(u64, Fr)> = (0..count)
            .map(|_| (rng.gen_range(0..slots), Fr::rand(rng)))
            .collect();
        let (_, diff) = tree.update(&store, &updates).unwrap();
        store.apply(&diff);
        (tree, store, updates.iter().map(|u| u.0).collect())
    }

    fn witness(cs: &ConstraintSystemRef<Fr>, value: Fr) -> FpVar<Fr> {
        FpVar::new_witness(cs.clone(), || Ok(value)).unwrap()
    }

    fn path(cs: &ConstraintSystemRef<Fr>, proof: &MerkleProof) -> PathVar {
        PathVar::new_witness(cs.clone(), proof.siblings.len(), Some(proof)).unwrap()
    }

    #[test]
    fn placement_matches_native_for_every_position() {
        let mut rng = StdRng::seed_from_u64(2);
        let node = Fr::rand(&mut rng);
        let siblings = [(); 3].map(|_| Fr::rand(&mut rng));
        for p in 0..4u64 {
            let cs = ConstraintSystem::<Fr>::new_ref();
            let proof = MerkleProof {
                index: p,
                leaf: node,
                siblings: vec![siblings],
            };
            let path = path(&cs, &proof);
            let root = path.root(&witness(&cs, node)).unwrap();
            assert_eq!(
                root.value().unwrap(),
                proof.compute_root::<Poseidon>(),
                "p={p}"
            );
            let mut native = siblings.to_vec();
            native.insert(p as usize, node);
            assert_eq!(
                root.value().unwrap(),
                hash4(&native.try_into().unwrap()),
                "p={p}"
            );
            assert_eq!(path.index().value().unwrap(), Fr::from(p));
            assert!(cs.is_satisfied().unwrap());
        }
    }

    #[test]
    fn roots_match_the_native_tree() {
        let mut rng = StdRng::seed_from_u64(3);
        let (tree, store, indices) = random_tree(&mut rng, 3, 20);
        let expected = tree.root(&store);
        // Filled slots and (most likely) empty ones.
        let probes = indices
            .iter()
            .copied()
            .chain((0..8).map(|_| rng.gen_range(0..64)));
        for index in probes {
            let proof = tree.proof(&store, index).unwrap();
            let cs = ConstraintSystem::<Fr>::new_ref();
            let path = path(&cs, &proof);
            let root = path.root(&witness(&cs, proof.leaf)).unwrap();
            assert_eq!(root.value().unwrap(), expected, "index {index}");
            assert_eq!(path.index().value().unwrap(), Fr::from(index));
            assert!(cs.is_satisfied().unwrap());
        }
    }

    #[test]
    fn update_matches_the_native_tree() {
        let mut rng = StdRng::seed_from_u64(4);
        let (tree, store, _) = random_tree(&mut rng, 3, 20);
        // Every slot of the height-3 tree: every position at every level.
        for index in 0..64 {
            let proof = tree.proof(&store, index).unwrap();
            let new_leaf = Fr::rand(&mut rng);
            let (native_new, _) = tree.update(&store, &[(index, new_leaf)]).unwrap();
            let cs = ConstraintSystem::<Fr>::new_ref();
            let (old, new) = path(&cs, &proof)
                .update(&witness(&cs, proof.leaf), &witness(&cs, new_leaf))
                .unwrap();
            assert_eq!(old.value().unwrap(), tree.root(&store));
            assert_eq!(new.value().unwrap(), native_new);
            assert!(cs.is_satisfied().unwrap());
        }
    }

    #[test]
    fn height_12_path_and_update() {
        let mut rng = StdRng::seed_from_u64(5);
        let (tree, store, indices) = random_tree(&mut rng, ACCOUNT_TREE_HEIGHT, 30);
        let proof = tree.proof(&store, indices[7]).unwrap();
        let height = usize::from(ACCOUNT_TREE_HEIGHT);

        let cs = ConstraintSystem::<Fr>::new_ref();
        let path = path(&cs, &proof);
        let bits = cs.num_constraints();
        let root = path.root(&witness(&cs, proof.leaf)).unwrap();
        let hashing = cs.num_constraints() - bits;
        root.enforce_equal(&FpVar::Constant(tree.root(&store)))
            .unwrap();
        assert!(cs.is_satisfied().unwrap());
        println!("height-12 path: {bits} bit constraints + {hashing} for the levels");
        assert_eq!(bits, 2 * height);
        assert_eq!(hashing, height * (5 + 297));

        let new_leaf = Fr::rand(&mut rng);
        let (native_new, _) = tree.update(&store, &[(proof.index, new_leaf)]).unwrap();
        let cs = ConstraintSystem::<Fr>::new_ref();
        let path = PathVar::new_witness(cs.clone(), height, Some(&proof)).unwrap();
        let (old, new) = path
            .update(&witness(&cs, proof.leaf), &witness(&cs, new_leaf))
            .unwrap();
        let total = cs.num_constraints();
        assert_eq!(old.value().unwrap(), tree.root(&store));
        assert_eq!(new.value().unwrap(), native_new);
        assert!(cs.is_satisfied().unwrap());
        println!("height-12 update: {total} constraints (bits included)");
        assert_eq!(total, 2 * height + height * (5 + 3 + 2 * 297));
    }

    #[test]
    fn one_level_constraint_count() {
        let cs = ConstraintSystem::<Fr>::new_ref();
        let proof = MerkleProof {
            index: 2,
            leaf: Fr::from(1u64),
            siblings: vec![[Fr::from(2u64), Fr::from(3u64), Fr::from(4u64)]],
        };
        let path = path(&cs, &proof);
        let before = cs.num_constraints();
        let _root = path.root(&witness(&cs, proof.leaf)).unwrap();
        let level = cs.num_constraints() - before;
        println!("one 4-ary level: {level} constraints (+2 for its position bits)");
        assert_eq!(level, 302);
    }

    /// Builds the height-3 circuit for `proof` with its leaf replaced by `leaf` and the root
    /// enforced equal to the tree's true root.
    fn satisfied_against_true_root(proof: &MerkleProof, leaf: Fr, true_root: Fr) -> bool {
        let cs = ConstraintSystem::<Fr>::new_ref();
        let root = path(&cs, proof).root(&witness(&cs, leaf)).unwrap();
        root.enforce_equal(&FpVar::new_input(cs.clone(), || Ok(true_root)).unwrap())
            .unwrap();
        cs.is_satisfied().unwrap()
    }

    #[test]
    fn tampering_is_unsatisfiable() {
        let mut rng = StdRng::seed_from_u64(6);
        let (tree, store, indices) = random_tree(&mut rng, 3, 40);
        let root = tree.root(&store);
        let proof = tree.proof(&store, indices[0]).unwrap();
        assert!(satisfied_against_true_root(&proof, proof.leaf, root));

        for level in 0..3 {
            for slot in 0..3 {
                let mut bad = proof.clone();
                bad.siblings[level][slot] += Fr::from(1u64);
                assert!(
                    !satisfied_against_true_root(&bad, bad.leaf, root),
                    "sibling {level}/{slot}"
                );
            }
        }
        for index in (0..64).filter(|&i| i != proof.index) {
            let bad = MerkleProof {
                index,
                ..proof.clone()
            };
            assert!(
                !satisfied_against_true_root(&bad, bad.leaf, root),
                "index {index}"
            );
        }
        assert!(!satisfied_against_true_root(
            &proof,
            proof.leaf + Fr::from(1u64),
            root
        ));
    }

    #[test]
    fn update_with_a_wrong_position_is_unsatisfiable() {
        let mut rng = StdRng::seed_from_u64(7);
        let (tree, store, indices) = random_tree(&mut rng, 3, 40);
        let proof = tree.proof(&store, indices[1]).unwrap();
        for index in [proof.index ^ 1, proof.index ^ 2, proof.index ^ 16] {
            let cs = ConstraintSystem::<Fr>::new_ref();
            let bad = MerkleProof {
                index,
                ..proof.clone()
            };
            let (old, _) = path(&cs, &bad)
                .update(&witness(&cs, proof.leaf), &witness(&cs, Fr::from(9u64)))
                .unwrap();
            old.enforce_equal(&FpVar::Constant(tree.root(&store)))
                .unwrap();
            assert!(!cs.is_satisfied().unwrap(), "index {index}");
        }
    }

    #[test]
    fn a_non_boolean_position_is_unsatisfiable() {
        // A prover who writes 2 into a "bit" would get a blend of arrangements; booleanity
        // must catch it. Overwrite the first bit's assignment after synthesis.
        let cs = ConstraintSystem::<Fr>::new_ref();
        let proof = MerkleProof {
            index: 0,
            leaf: Fr::from(1u64),
            siblings: vec![[Fr::from(2u64), Fr::from(3u64), Fr::from(4u64)]],
        };
        let _root = path(&cs, &proof).root(&witness(&cs, proof.leaf)).unwrap();
        assert!(cs.is_satisfied().unwrap());
        cs.borrow_mut().unwrap().witness_assignment[0] = Fr::from(2u64);
        assert!(!cs.is_satisfied().unwrap());
    }

    #[test]
    fn index_binding_costs_one_constraint_and_holds() {
        let mut rng = StdRng::seed_from_u64(8);
        let (tree, store, indices) = random_tree(&mut rng, 3, 10);
        let proof = tree.proof(&store, indices[0]).unwrap();
        for (claimed, expected) in [(proof.index, true), (proof.index ^ 4, false)] {
            let cs = ConstraintSystem::<Fr>::new_ref();
            let path = path(&cs, &proof);
            let before = cs.num_constraints();
            let claimed = FpVar::new_input(cs.clone(), || Ok(Fr::from(claimed))).unwrap();
            path.index().enforce_equal(&claimed).unwrap();
            assert_eq!(cs.num_constraints() - before, 1);
            assert_eq!(cs.is_satisfied().unwrap(), expected);
        }
    }

    #[test]
    fn malformed_proofs_are_refused() {
        let cs = ConstraintSystem::<Fr>::new_ref();
        let proof = MerkleProof {
            index: 4,
            leaf: Fr::from(1u64),
            siblings: vec![[Fr::from(0u64); 3]],
        };
        assert!(PathVar::new_witness(cs.clone(), 1, Some(&proof)).is_err());
        assert!(PathVar::new_witness(cs.clone(), 2, Some(&proof)).is_err());
    }

    #[test]
    fn setup_mode_has_the_same_shape() {
        use ark_relations::r1cs::SynthesisMode;
        let cs = ConstraintSystem::<Fr>::new_ref();
        cs.set_mode(SynthesisMode::Setup);
        let path = PathVar::new_witness(cs.clone(), 2, None).unwrap();
        let leaf = FpVar::new_witness(cs.clone(), || {
            Err::<Fr, _>(SynthesisError::AssignmentMissing)
        })
        .unwrap();
        let _roots = path.update(&leaf, &leaf).unwrap();
        assert_eq!(cs.num_constraints(), 2 * 2 + 2 * (5 + 3 + 2 * 297));
    }
}
