use super::*;
use crate::vectors;
use std::str::FromStr;

fn fr(s: &str) -> Fr {
    Fr::from_str(s).expect("decimal field element")
}

fn fr_hex(s: &str) -> Fr {
    use ark_ff::PrimeField;
    let bytes = hex::decode(s.trim_start_matches("0x")).expect("hex");
    Fr::from_be_bytes_mod_order(&bytes)
}

/// The permutation written as the reference does it, round by round, for cross-checking
/// the optimized form.
fn reference_hash(inputs: &[Fr]) -> Fr {
    reference_hash_traced(inputs, |_, _, _| {})
}

/// [`reference_hash`], telling `sbox` each S-box's powers as [`try_hash_traced`] does.
fn reference_hash_traced(inputs: &[Fr], mut sbox: impl FnMut(usize, usize, [Fr; 3])) -> Fr {
    let t = inputs.len() + 1;
    let p = grain::generate(t, FULL_ROUNDS, PARTIAL_ROUNDS[t - 2]);
    let mut state = vec![Fr::zero()];
    state.extend_from_slice(inputs);
    let rounds = p.full_rounds + p.partial_rounds;
    for r in 0..rounds {
        for (s, c) in state.iter_mut().zip(&p.round_constants[r * t..]) {
            *s += c;
        }
        let full = r < p.full_rounds / 2 || r >= p.full_rounds / 2 + p.partial_rounds;
        for (lane, s) in state.iter_mut().take(if full { t } else { 1 }).enumerate() {
            let x2 = s.square();
            let x4 = x2.square();
            *s *= x4;
            sbox(r, lane, [x2, x4, *s]);
        }
        state = p
            .mds
            .iter()
            .map(|row| row.iter().zip(&state).map(|(a, b)| *a * b).sum())
            .collect();
    }
    state[0]
}

#[test]
fn circomlib_known_answers() {
    assert_eq!(
        hash(&[Fr::from(1u64), Fr::from(2u64)]),
        fr_hex("0x115cc0f5e7d690413df64c6b9662e9cf2a3617f2743245519e19607a4417189a")
    );
    let four = [1u64, 2, 3, 4].map(Fr::from);
    let expected = fr_hex("0x299c867db6c1fdd79dcefa40e4510b9837e60ebb1ce0663dbaa525df65250465");
    assert_eq!(hash(&four), expected);
    assert_eq!(hash4(&four), expected);
}

#[test]
fn matches_circomlibjs_for_every_width() {
    let v = vectors::load();
    let mut widths_seen = [false; MAX_INPUTS];
    for case in v["poseidon"].as_array().expect("poseidon vectors") {
        let inputs: Vec<Fr> = case["inputs"]
            .as_array()
            .expect("inputs")
            .iter()
            .map(|x| fr(x.as_str().expect("string")))
            .collect();
        let expected = fr(case["output"].as_str().expect("output"));
        assert_eq!(hash(&inputs), expected, "{} inputs", inputs.len());
        widths_seen[inputs.len() - 1] = true;
        match inputs.len() {
            2 => assert_eq!(hash2(&inputs.clone().try_into().unwrap()), expected),
            4 => assert_eq!(hash4(&inputs.clone().try_into().unwrap()), expected),
            5 => assert_eq!(hash5(&inputs.clone().try_into().unwrap()), expected),
            _ => {}
        }
    }
    assert!(
        widths_seen.iter().all(|&seen| seen),
        "a width has no vector"
    );
}

#[test]
fn optimized_matches_reference() {
    for n in 1..=MAX_INPUTS {
        let inputs: Vec<Fr> = (0..n)
            .map(|i| Fr::from(0x9e37_79b9_7f4a_7c15u64).pow([i as u64 + 3]) - Fr::from(n as u64))
            .collect();
        assert_eq!(hash(&inputs), reference_hash(&inputs), "{n} inputs");
    }
}

#[test]
fn traced_sboxes_are_the_reference_rounds() {
    for n in 1..=MAX_INPUTS {
        let inputs: Vec<Fr> = (0..n)
            .map(|i| Fr::from(0x51_7cc1_b727_220au64).pow([i as u64 + 5]) + Fr::from(n as u64))
            .collect();
        let mut traced = Vec::new();
        let hash = try_hash_traced(&inputs, |round, lane, x| traced.push((round, lane, x)));
        let mut reference = Vec::new();
        let expected =
            reference_hash_traced(&inputs, |round, lane, x| reference.push((round, lane, x)));
        assert_eq!(hash, Ok(expected), "{n} inputs");
        assert_eq!(traced, reference, "{n} inputs");
        let t = n + 1;
        assert_eq!(traced.len(), 8 * t + PARTIAL_ROUNDS[t - 2], "{n} inputs");
    }
}

#[test]
fn rejects_bad_input_counts() {
    assert_eq!(try_hash(&[]), Err(PoseidonError::InputCount(0)));
    assert_eq!(
        try_hash(&[Fr::zero(); 17]),
        Err(PoseidonError::InputCount(17))
    );
}

#[test]
#[should_panic(expected = "Poseidon takes 1..=16 inputs, got 0")]
fn hash_panics_on_no_inputs() {
    hash(&[]);
}

/// `cargo test --release -p causeway-crypto -- --ignored --nocapture`
#[test]
#[ignore]
fn hash4_timing() {
    let mut x = [1u64, 2, 3, 4].map(Fr::from);
    hash4(&x);
    let n = 200_000;
    let start = std::time::Instant::now();
    for _ in 0..n {
        x[0] = hash4(&x);
    }
    let per = start.elapsed() / n;
    println!("poseidon hash4: {per:?} per hash ({x:?})");
    let start = std::time::Instant::now();
    for _ in 0..n {
        x[1] = hash5(&[x[0], x[1], x[2], x[3], x[0]]);
    }
    println!("poseidon hash5: {:?} per hash", start.elapsed() / n);
    let batch: Vec<[Fr; 4]> = (0..1024u64)
        .map(|i| [i, i + 1, i + 2, i + 3].map(Fr::from))
        .collect();
    let rounds = 200u32;
    let start = std::time::Instant::now();
    for _ in 0..rounds {
        x[2] += hash_many(&batch)[7];
    }
    let per = start.elapsed() / (rounds * batch.len() as u32);
    println!("poseidon hash_many of 4 inputs: {per:?} per hash");
    let batch: Vec<[Fr; 5]> = (0..1024u64)
        .map(|i| [i, i + 1, i + 2, i + 3, i + 4].map(Fr::from))
        .collect();
    let start = std::time::Instant::now();
    for _ in 0..rounds {
        x[3] += hash_many(&batch)[7];
    }
    let per = start.elapsed() / (rounds * batch.len() as u32);
    println!("poseidon hash_many of 5 inputs: {per:?} per hash ({x:?})");
}

#[test]
#[ignore]
fn field_mul_calibration() {
    let mut x = Fr::from(3u64);
    let y = Fr::from(0x1234_5678u64).inverse().unwrap();
    let n = 2_000_000u32;
    let start = std::time::Instant::now();
    for _ in 0..n {
        x *= y;
    }
    println!("Fr mul: {:?} ({x})", start.elapsed() / n);
}

fn many_matches_one_by_one<const N: usize>(count: usize, seed: u64) {
    use ark_ff::UniformRand;
    use ark_std::rand::{SeedableRng, rngs::StdRng};
    let mut rng = StdRng::seed_from_u64(seed);
    let inputs: Vec<[Fr; N]> = (0..count)
        .map(|i| {
            std::array::from_fn(|j| match (i + j) % 5 {
                0 => Fr::zero(),
                1 => -Fr::from(1u64),
                _ => Fr::rand(&mut rng),
            })
        })
        .collect();
    let one_by_one: Vec<Fr> = inputs.iter().map(|x| hash(x)).collect();
    assert_eq!(hash_many(&inputs), one_by_one, "{N} inputs, {count} hashes");
}

#[test]
fn many_at_once_equals_one_by_one_for_every_width() {
    // Counts below, at and across the eight lanes.
    for count in [0, 1, 2, 7, 8, 9, 17] {
        many_matches_one_by_one::<1>(count, 1);
        many_matches_one_by_one::<2>(count, 2);
        many_matches_one_by_one::<3>(count, 3);
        many_matches_one_by_one::<4>(count, 4);
        many_matches_one_by_one::<5>(count, 5);
        many_matches_one_by_one::<6>(count, 6);
        many_matches_one_by_one::<7>(count, 7);
        many_matches_one_by_one::<8>(count, 8);
        many_matches_one_by_one::<9>(count, 9);
        many_matches_one_by_one::<10>(count, 10);
        many_matches_one_by_one::<11>(count, 11);
        many_matches_one_by_one::<12>(count, 12);
        many_matches_one_by_one::<13>(count, 13);
        many_matches_one_by_one::<14>(count, 14);
        many_matches_one_by_one::<15>(count, 15);
        many_matches_one_by_one::<16>(count, 16);
    }
}

#[test]
fn many_at_once_matches_circomlibjs() {
    let four = [[1u64, 2, 3, 4].map(Fr::from); 3];
    let expected = fr_hex("0x299c867db6c1fdd79dcefa40e4510b9837e60ebb1ce0663dbaa525df65250465");
    assert_eq!(hash_many(&four), vec![expected; 3]);
}
