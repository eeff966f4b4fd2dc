//! The sparse tree checked against a dense reference that rehashes every node of a small tree
//! from the full leaf map, using a cheap stand-in hash (Poseidon is tested in `poseidon.rs`).

use causeway_primitives::Fr;
use causeway_tree::{
    ARITY, MemoryStore, MerkleProof, NodeDiff, NodeHasher, NodeKey, NodeStore, Overlay,
    SparseMerkleTree, TreeError, TreeKey, empty_hashes,
};
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A non-cryptographic but position-sensitive, non-linear mix: a tiny sponge absorbing one
/// child per round through x^5 (a permutation of the field, as in Poseidon), so that swapping
/// children, or changing any one, changes the output.
struct Mix;

impl NodeHasher for Mix {
    fn hash(children: &[Fr; ARITY]) -> Fr {
        let mut state = Fr::from(0x9e37_79b9u64);
        for (i, child) in children.iter().enumerate() {
            let x = state + child + Fr::from(i as u64 + 1);
            let x2 = x * x;
            state = x2 * x2 * x;
        }
        state
    }
}

type Tree = SparseMerkleTree<Mix>;

fn fr(v: u64) -> Fr {
    Fr::from(v)
}

fn leaves_in(height: u8) -> u64 {
    (ARITY as u64).pow(u32::from(height))
}

/// The reference: hash the whole dense tree up from every leaf, empty ones included.
fn dense_root(height: u8, leaves: &BTreeMap<u64, Fr>) -> Fr {
    let mut row: Vec<Fr> = (0..leaves_in(height))
        .map(|i| leaves.get(&i).copied().unwrap_or(fr(0)))
        .collect();
    while row.len() > 1 {
        row = row
            .chunks(ARITY)
            .map(|c| Mix::hash(c.try_into().expect("full chunk")))
            .collect();
    }
    row[0]
}

fn to_fr(updates: &[(u64, u64)]) -> Vec<(u64, Fr)> {
    updates.iter().map(|&(i, v)| (i, fr(v))).collect()
}

/// A leaf value: zero often (clearing a leaf), small values (repeats), or anything.
fn value() -> impl Strategy<Value = u64> {
    prop_oneof![Just(0u64), 1..4u64, any::<u64>()]
}

/// A height from 0 to 4 and batches of updates whose indices fit it, duplicates likely.
fn batches() -> impl Strategy<Value = (u8, Vec<Vec<(u64, u64)>>)> {
    (0u8..=4).prop_flat_map(|height| {
        let update = (0..leaves_in(height), value());
        (
            Just(height),
            prop::collection::vec(prop::collection::vec(update, 0..24), 1..5),
        )
    })
}

fn assert_keys_unique(diff: &NodeDiff) {
    let keys: BTreeSet<NodeKey> = diff.iter().map(|&(k, _)| k).collect();
    assert_eq!(keys.len(), diff.len(), "a diff writes each key once");
}

proptest! {
    #[test]
    fn batches_match_dense_reference((height, batches) in batches()) {
        let tree = Tree::new(TreeKey::Balances(7), height);
        let mut store = MemoryStore::new();
        let mut model = BTreeMap::new();
        for batch in &batches {
            let (root, diff) = tree.update(&store, &to_fr(batch)).unwrap();
            model.extend(batch.iter().map(|&(i, v)| (i, fr(v))));
            prop_assert_eq!(root, dense_root(height, &model));
            assert_keys_unique(&diff);
            store.apply(&diff);
            prop_assert_eq!(tree.root(&store), root);
            for &(i, _) in batch {
                prop_assert_eq!(tree.leaf(&store, i).unwrap(), model[&i]);
            }
        }
    }

    /// Several trees of different heights updated in one call (their nodes of a height hashed
    /// together, more than the parallel threshold of them) end exactly as each updated alone,
    /// and the call rejects an index outside any of them as a whole.
    #[test]
    fn trees_updated_together_match_each_alone(
        trees in prop::collection::vec(batches(), 0..80),
        bad in any::<prop::sample::Index>(),
    ) {
        let mut store = MemoryStore::new();
        let handles: Vec<Tree> = (0..trees.len() as u32)
            .map(|t| Tree::new(TreeKey::Balances(t), trees[t as usize].0))
            .collect();
        let seed: Vec<Vec<(u64, Fr)>> = trees.iter().map(|(_, b)| to_fr(&b[0])).collect();
        for (tree, updates) in handles.iter().zip(&seed) {
            store.apply(&tree.update(&store, updates).unwrap().1);
        }
        let last: Vec<Vec<(u64, Fr)>> =
            trees.iter().map(|(_, b)| to_fr(b.last().expect("a batch"))).collect();
        let calls: Vec<(Tree, &[(u64, Fr)])> =
            handles.iter().zip(&last).map(|(t, u)| (*t, u.as_slice())).collect();
        let together = Tree::update_trees(&store, &calls).unwrap();
        prop_assert_eq!(together.len(), handles.len());
        for ((tree, updates), (root, diff)) in calls.iter().zip(&together) {
            let (alone_root, alone_diff) = tree.update(&store, updates).unwrap();
            prop_assert_eq!(*root, alone_root);
            let sorted = |d: &NodeDiff| d.iter().copied().collect::<BTreeMap<_, _>>();
            prop_assert_eq!(sorted(diff), sorted(&alone_diff));
            assert_keys_unique(diff);
        }
        if !calls.is_empty() {
            let t = bad.index(calls.len());
            let outside = leaves_in(trees[t].0);
            let mut broken = calls.clone();
            let bad_updates = [(outside, fr(1))];
            broken[t].1 = &bad_updates;
            prop_assert!(Tree::update_trees(&store, &broken).is_err());
        }
    }

    #[test]
    fn proofs_verify_and_tampering_fails(
        (height, batches) in batches(),
        probes in prop::collection::vec((any::<u64>(), any::<u64>(), any::<u64>()), 1..6),
    ) {
        let tree = Tree::new(TreeKey::Accounts, height);
        let mut store = MemoryStore::new();
        let mut model = BTreeMap::new();
        for batch in &batches {
            store.apply(&tree.update(&store, &to_fr(batch)).unwrap().1);
            model.extend(batch.iter().map(|&(i, v)| (i, fr(v))));
        }
        let root = tree.root(&store);
        let width = leaves_in(height);

        for &(pick, new_value, tweak) in &probes {
            let index = pick % width;
            let proof = tree.proof(&store, index).unwrap();
            prop_assert_eq!(proof.leaf, model.get(&index).copied().unwrap_or(fr(0)));
            prop_assert!(proof.verify::<Mix>(height, root));

            // The root with one leaf replaced is what the dense model says.
            let mut changed = model.clone();
            changed.insert(index, fr(new_value));
            prop_assert_eq!(
                proof.root_with_leaf::<Mix>(fr(new_value)),
                dense_root(height, &changed)
            );

            let mut bad = proof.clone();
            bad.leaf += fr(1);
            prop_assert!(!bad.verify::<Mix>(height, root), "changed leaf");

            if height > 0 {
                let level = (tweak % u64::from(height)) as usize;
                let slot = (tweak / 64 % 3) as usize;
                let mut bad = proof.clone();
                bad.siblings[level][slot] += fr(1);
                prop_assert!(!bad.verify::<Mix>(height, root), "changed sibling");

                // The path from the leaf's parent hashes to the right root, but a parent
                // is not a leaf: a path shorter than the tree is refused.
                let parent = MerkleProof {
                    index: index / ARITY as u64,
                    leaf: store
                        .node(&NodeKey { tree: tree.key(), height: 1, index: index / 4 })
                        .unwrap_or(empty_hashes::<Mix>()[1]),
                    siblings: proof.siblings[1..].to_vec(),
                };
                prop_assert_eq!(parent.compute_root::<Mix>(), root);
                prop_assert!(!parent.verify::<Mix>(height, root), "path too short");
            }

            // An index beyond the tree selects the same path; verify must still refuse it.
            let mut beyond = proof.clone();
            beyond.index += width;
            prop_assert!(!beyond.verify::<Mix>(height, root), "index out of range");
        }
    }

    /// Moving a proof to another index must fail. Moving a proof of a value found only at its
    /// own index makes the claim false, so the leaf is first set to a value no other leaf has.
    #[test]
    fn proof_at_wrong_index_fails(
        (height, batches) in batches().prop_filter("needs two leaves", |(h, _)| *h > 0),
        pick in any::<u64>(),
        shift in 1u64..u64::MAX,
    ) {
        let tree = Tree::new(TreeKey::Accounts, height);
        let mut store = MemoryStore::new();
        for batch in &batches {
            store.apply(&tree.update(&store, &to_fr(batch)).unwrap().1);
        }
        let width = leaves_in(height);
        let index = pick % width;
        let unique = fr(u64::MAX) + fr(u64::MAX); // above any u64 value the batches wrote
        let (root, diff) = tree.update(&store, &[(index, unique)]).unwrap();
        store.apply(&diff);

        let mut moved = tree.proof(&store, index).unwrap();
        moved.index = (index + shift % (width - 1) + 1) % width;
        prop_assert_ne!(moved.index, index);
        prop_assert!(!moved.verify::<Mix>(height, root));
    }

    #[test]
    fn one_batch_equals_split_batches(
        (height, batches) in batches(),
        base in prop::collection::vec((0u64..64, value()), 0..16),
    ) {
        let tree = Tree::new(TreeKey::Balances(1), height);
        let width = leaves_in(height);
        let mut start = MemoryStore::new();
        let base: Vec<(u64, u64)> = base.into_iter().map(|(i, v)| (i % width, v)).collect();
        start.apply(&tree.update(&start, &to_fr(&base)).unwrap().1);

        let all: Vec<(u64, u64)> = batches.concat();
        let mut whole = start.clone();
        let (whole_root, whole_diff) = tree.update(&whole, &to_fr(&all)).unwrap();
        whole.apply(&whole_diff);

        let mut split = start.clone();
        let mut split_keys = BTreeSet::new();
        for batch in &batches {
            let (_, diff) = tree.update(&split, &to_fr(batch)).unwrap();
            split_keys.extend(diff.iter().map(|&(k, _)| k));
            split.apply(&diff);
        }

        prop_assert_eq!(tree.root(&split), whole_root);
        let whole_keys: BTreeSet<NodeKey> = whole_diff.iter().map(|&(k, _)| k).collect();
        prop_assert_eq!(&split_keys, &whole_keys);
        for key in &whole_keys {
            prop_assert_eq!(split.node(key), whole.node(key));
        }
    }

    /// Per-op witness generation: each update reads the ones before it through an overlay, each
    /// op's proof predicts its new root, and the combined diff is the one-batch diff.
    #[test]
    fn overlay_chains_updates_like_one_batch((height, batches) in batches()) {
        let tree = Tree::new(TreeKey::Balances(3), height);
        let mut base = MemoryStore::new();
        base.apply(&tree.update(&base, &to_fr(&batches[0])).unwrap().1);
        let ops: Vec<(u64, Fr)> = to_fr(&batches[1..].concat());

        let mut overlay = Overlay::new(&base);
        for &(index, value) in &ops {
            let proof: MerkleProof = tree.proof(&overlay, index).unwrap();
            prop_assert!(proof.verify::<Mix>(height, tree.root(&overlay)));
            let (root, diff) = tree.update(&overlay, &[(index, value)]).unwrap();
            prop_assert_eq!(proof.root_with_leaf::<Mix>(value), root);
            overlay.apply(&diff);
            prop_assert_eq!(tree.root(&overlay), root);
        }
        let chained = overlay.into_diff();

        let (_, mut batched) = tree.update(&base, &ops).unwrap();
        batched.sort_unstable_by_key(|&(k, _)| k);
        prop_assert_eq!(chained, batched);
    }
}

#[test]
fn empty_tree_root_is_the_empty_hash_of_its_height() {
    let empty = empty_hashes::<Mix>();
    assert_eq!(empty[0], fr(0));
    for height in 0..=4 {
        let tree = Tree::new(TreeKey::Accounts, height);
        let root = tree.root(&MemoryStore::new());
        assert_eq!(root, empty[usize::from(height)]);
        assert_eq!(root, tree.empty_root());
        assert_eq!(root, dense_root(height, &BTreeMap::new()));
    }
    for k in 0..empty.len() - 1 {
        assert_eq!(empty[k + 1], Mix::hash(&[empty[k]; ARITY]));
    }
}

#[test]
fn clearing_every_leaf_restores_the_empty_root() {
    let tree = Tree::new(TreeKey::Accounts, 4);
    let mut store = MemoryStore::new();
    let (root, diff) = tree.update(&store, &[(5, fr(9)), (200, fr(1))]).unwrap();
    assert_ne!(root, tree.empty_root());
    store.apply(&diff);
    let (root, diff) = tree.update(&store, &[(5, fr(0))]).unwrap();
    assert_ne!(root, tree.empty_root());
    store.apply(&diff);
    let (root, diff) = tree.update(&store, &[(200, fr(0))]).unwrap();
    assert_eq!(root, tree.empty_root());
    store.apply(&diff);
    assert_eq!(tree.root(&store), tree.empty_root());
}

#[test]
fn later_update_of_an_index_wins() {
    let tree = Tree::new(TreeKey::Accounts, 3);
    let store = MemoryStore::new();
    let (root, diff) = tree
        .update(&store, &[(7, fr(1)), (3, fr(5)), (7, fr(2))])
        .unwrap();
    let (expected, _) = tree.update(&store, &[(3, fr(5)), (7, fr(2))]).unwrap();
    assert_eq!(root, expected);
    let leaf7 = NodeKey {
        tree: TreeKey::Accounts,
        height: 0,
        index: 7,
    };
    assert_eq!(
        diff.iter().filter(|(k, _)| *k == leaf7).collect::<Vec<_>>(),
        [&(leaf7, fr(2))]
    );
}

#[test]
fn empty_batch_writes_nothing() {
    let tree = Tree::new(TreeKey::Accounts, 3);
    let mut store = MemoryStore::new();
    store.apply(&tree.update(&store, &[(1, fr(4))]).unwrap().1);
    let (root, diff) = tree.update(&store, &[]).unwrap();
    assert_eq!(root, tree.root(&store));
    assert!(diff.is_empty());
}

#[test]
fn indices_outside_the_tree_are_errors() {
    let tree = Tree::new(TreeKey::Balances(0), 2);
    let store = MemoryStore::new();
    let err = TreeError::IndexOutOfRange {
        index: 16,
        height: 2,
    };
    assert_eq!(tree.leaf(&store, 16), Err(err));
    assert_eq!(tree.proof(&store, 16), Err(err));
    assert_eq!(tree.update(&store, &[(0, fr(1)), (16, fr(1))]), Err(err));
    assert!(tree.update(&store, &[(u64::MAX, fr(1))]).is_err());
    assert!(tree.leaf(&store, 15).is_ok());

    // The tallest tree's row spans 2^62 indices.
    let tall = Tree::new(TreeKey::Accounts, causeway_tree::MAX_HEIGHT);
    assert!(tall.leaf(&store, (1 << 62) - 1).is_ok());
    assert!(tall.leaf(&store, 1 << 62).is_err());
    let (root, _) = tall.update(&store, &[((1 << 62) - 1, fr(3))]).unwrap();
    let proof = tall.proof(&store, (1 << 62) - 1).unwrap();
    assert_eq!(proof.root_with_leaf::<Mix>(fr(3)), root);
}

/// Wide enough that the lower levels have more than 64 parents and are hashed in parallel.
#[test]
fn wide_batch_matches_dense_reference() {
    let height = 5;
    let tree = Tree::new(TreeKey::Balances(2), height);
    let mut store = MemoryStore::new();
    let mut model = BTreeMap::new();
    let mut x = 0x2545_f491_4f6c_dd1du64;
    for round in 0..3 {
        let batch: Vec<(u64, Fr)> = (0..900)
            .map(|_| {
                // xorshift: a fixed pseudo-random sequence, so failures reproduce.
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let value = if x.is_multiple_of(5) { 0 } else { x >> 20 };
                (x % leaves_in(height), fr(value + round))
            })
            .collect();
        let (root, diff) = tree.update(&store, &batch).unwrap();
        model.extend(batch.iter().copied());
        assert_eq!(root, dense_root(height, &model));
        store.apply(&diff);
    }
}

static COUNTED_HASHES: AtomicUsize = AtomicUsize::new(0);

/// [`Mix`], counting its calls. Only `each_touched_node_is_hashed_once` uses it, so the count
/// is not disturbed by tests running beside it.
struct Counting;

impl NodeHasher for Counting {
    fn hash(children: &[Fr; ARITY]) -> Fr {
        COUNTED_HASHES.fetch_add(1, Ordering::Relaxed);
        Mix::hash(children)
    }
}

#[test]
fn each_touched_node_is_hashed_once() {
    let height = 6;
    let tree = SparseMerkleTree::<Counting>::new(TreeKey::Accounts, height);
    let store = MemoryStore::new();
    let indices: Vec<u64> = (0..2000u64).map(|i| (i * 2_654_435_761) % 4096).collect();
    let updates: Vec<(u64, Fr)> = indices.iter().map(|&i| (i, fr(i + 1))).collect();

    // Internal nodes on the touched paths, counted level by level.
    let internal: usize = (1..=height)
        .map(|h| {
            let shift = 2 * u32::from(h);
            indices
                .iter()
                .map(|i| i >> shift)
                .collect::<BTreeSet<_>>()
                .len()
        })
        .sum();
    let leaves = indices.iter().collect::<BTreeSet<_>>().len();

    let before = COUNTED_HASHES.load(Ordering::Relaxed);
    let (_, diff) = tree.update(&store, &updates).unwrap();
    let hashed = COUNTED_HASHES.load(Ordering::Relaxed) - before;
    assert_eq!(hashed, internal);
    assert_eq!(diff.len(), internal + leaves);
}
