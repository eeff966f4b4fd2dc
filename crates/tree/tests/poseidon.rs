//! The trees with their real hash, circomlib Poseidon, at protocol heights; and the batch
//! update benchmark (`cargo test --release -p causeway-tree -- --ignored --nocapture`).

use causeway_primitives::Fr;
use causeway_tree::{ARITY, MemoryStore, NodeHasher, Poseidon, SparseMerkleTree, empty_hashes};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::time::Instant;

/// `count` random `(index, value)` updates from a seeded generator, so runs are comparable.
fn random_updates(rng: &mut StdRng, count: usize, leaves: u64) -> Vec<(u64, Fr)> {
    (0..count)
        .map(|_| (rng.gen_range(0..leaves), Fr::from(rng.r#gen::<u64>())))
        .collect()
}

#[test]
fn empty_hashes_follow_poseidon() {
    let empty = empty_hashes::<Poseidon>();
    assert_eq!(empty[0], Fr::from(0u64));
    assert_eq!(empty[1], Poseidon::hash(&[Fr::from(0u64); ARITY]));
    assert_eq!(empty[2], Poseidon::hash(&[empty[1]; ARITY]));
    let accounts: SparseMerkleTree = SparseMerkleTree::accounts();
    assert_eq!(accounts.root(&MemoryStore::new()), empty[12]);
}

#[test]
fn account_tree_update_and_proofs() {
    let tree: SparseMerkleTree<Poseidon> = SparseMerkleTree::accounts();
    let mut store = MemoryStore::new();
    let mut rng = StdRng::seed_from_u64(1);
    let updates = random_updates(&mut rng, 300, 1 << 24);
    let (root, diff) = tree.update(&store, &updates).unwrap();
    store.apply(&diff);
    assert_eq!(tree.root(&store), root);

    for &(index, value) in updates.iter().rev().take(10) {
        let proof = tree.proof(&store, index).unwrap();
        assert_eq!(proof.leaf, value);
        assert!(proof.verify::<Poseidon>(12, root));
        let (next_root, _) = tree.update(&store, &[(index, Fr::from(42u64))]).unwrap();
        assert_eq!(proof.root_with_leaf::<Poseidon>(Fr::from(42u64)), next_root);
    }

    // Clearing every leaf gives back the empty tree.
    let clear: Vec<(u64, Fr)> = updates.iter().map(|&(i, _)| (i, Fr::from(0u64))).collect();
    let (root, _) = tree.update(&store, &clear).unwrap();
    assert_eq!(root, tree.empty_root());
}

#[test]
fn balance_tree_proof_of_the_last_token() {
    let tree: SparseMerkleTree<Poseidon> = SparseMerkleTree::balances(5);
    let mut store = MemoryStore::new();
    let (root, diff) = tree.update(&store, &[(1023, Fr::from(10u64))]).unwrap();
    store.apply(&diff);
    let proof = tree.proof(&store, 1023).unwrap();
    assert!(proof.verify::<Poseidon>(5, root));
    assert!(!proof.verify::<Poseidon>(5, tree.empty_root()));
}

/// 100k random leaves into an empty height-12 account tree, then 10k random updates.
#[test]
#[ignore = "benchmark: run with --release -- --ignored --nocapture"]
fn bench_account_tree_batches() {
    let tree: SparseMerkleTree<Poseidon> = SparseMerkleTree::accounts();
    let _ = tree.empty_root(); // the empty-hash table is built once, outside the timings
    let mut store = MemoryStore::new();
    let mut rng = StdRng::seed_from_u64(7);
    let leaves = 1u64 << 24;
    let threads = rayon::current_num_threads();

    // The bare hash rate on one thread, to tell the tree's overhead from the hash's cost.
    let mut node = Fr::from(1u64);
    let started = Instant::now();
    for _ in 0..5_000 {
        node = Poseidon::hash(&[std::hint::black_box(node); ARITY]);
    }
    let elapsed = started.elapsed();
    println!(
        "poseidon hash4 alone: {:.0} hashes/s on 1 thread",
        5_000.0 / elapsed.as_secs_f64()
    );

    for (label, count) in [("insert", 100_000), ("update", 10_000)] {
        let updates = random_updates(&mut rng, count, leaves);
        let started = Instant::now();
        let (_, diff) = tree.update(&store, &updates).unwrap();
        let elapsed = started.elapsed();
        // Every diff entry above height 0 is one hash.
        let hashes = diff.iter().filter(|(k, _)| k.height > 0).count();
        println!(
            "{label}: {count} leaves, {hashes} hashes in {:.3} s = {:.0} hashes/s ({threads} threads)",
            elapsed.as_secs_f64(),
            hashes as f64 / elapsed.as_secs_f64(),
        );
        store.apply(&diff);
    }
}
