use super::*;
use crate::babyjubjub::BASE8;
use crate::vectors;
use ark_ff::{AdditiveGroup, Field, One};
use proptest::prelude::*;
use std::str::FromStr;

fn fr(s: &str) -> Fr {
    Fr::from_str(s).expect("decimal field element")
}

fn bytes32(s: &str) -> [u8; 32] {
    hex::decode(s).expect("hex").try_into().expect("32 bytes")
}

fn test_key() -> PrivateKey {
    PrivateKey::from_bytes(core::array::from_fn(|i| i as u8))
}

#[test]
fn matches_circomlibjs() {
    let v = vectors::load();
    let cases = v["eddsa"].as_array().expect("eddsa vectors");
    assert!(cases.len() >= 3);
    for case in cases {
        let key = PrivateKey::from_bytes(bytes32(case["private_key"].as_str().unwrap()));
        let pk = key.public_key();
        assert_eq!(pk.0.x, fr(case["ax"].as_str().unwrap()));
        assert_eq!(pk.0.y, fr(case["ay"].as_str().unwrap()));
        let packed = PackedPoint(bytes32(case["packed_pubkey"].as_str().unwrap()));
        assert_eq!(pk.to_packed(), packed);
        assert_eq!(PublicKey::from_packed(&packed), Ok(pk));
        for s in case["signatures"].as_array().unwrap() {
            let msg = fr(s["msg"].as_str().unwrap());
            let sig = key.sign(msg);
            assert_eq!(sig.r8.x, fr(s["r8x"].as_str().unwrap()));
            assert_eq!(sig.r8.y, fr(s["r8y"].as_str().unwrap()));
            assert_eq!(sig.s, Scalar::from_str(s["s"].as_str().unwrap()).unwrap());
            let packed_r8 = PackedPoint(bytes32(s["packed_r8"].as_str().unwrap()));
            assert_eq!(sig.r8.pack(), packed_r8);
            assert!(pk.verify(msg, &sig));

            let wire = sig.to_tx_signature(&pk);
            assert_eq!(wire.pubkey, packed);
            assert_eq!(wire.r8_x, fr_to_le(&sig.r8.x));
            assert_eq!(wire.r8_y, fr_to_le(&sig.r8.y));
            assert_eq!(Signature::unpack(&sig.pack()), Ok(sig));
            assert_eq!(Signature::from_tx_signature(&wire), Ok((pk, sig)));
            assert_eq!(verify_tx_signature(&wire, msg), Ok(pk));
            assert_eq!(
                verify_tx_signature(&wire, msg + Fr::one()),
                Err(SignatureError::Invalid)
            );
        }
    }
}

#[test]
fn tampering_fails() {
    let key = test_key();
    let pk = key.public_key();
    let msg = Fr::from(77u64);
    let sig = key.sign(msg);
    assert!(pk.verify(msg, &sig));
    assert!(!pk.verify(msg + Fr::one(), &sig));
    let bumped_s = Signature {
        s: sig.s + Scalar::one(),
        ..sig
    };
    assert!(!pk.verify(msg, &bumped_s));
    let moved_r = Signature {
        r8: sig.r8 + BASE8,
        ..sig
    };
    assert!(!pk.verify(msg, &moved_r));
    // R8 with a small-order component added: still on the curve, still wrong.
    let torsion = Point {
        x: Fr::ZERO,
        y: -Fr::ONE,
    };
    assert!(!pk.verify(
        msg,
        &Signature {
            r8: sig.r8 + torsion,
            ..sig
        }
    ));
    let off_curve = Signature {
        r8: Point {
            x: sig.r8.x + Fr::one(),
            y: sig.r8.y,
        },
        ..sig
    };
    assert!(!pk.verify(msg, &off_curve));
    let other = PrivateKey::from_bytes([9; 32]).public_key();
    assert!(!other.verify(msg, &sig));
}

#[test]
fn wire_decoding_errors() {
    let key = test_key();
    let pk = key.public_key();
    let msg = Fr::from(5u64);
    let wire = key.sign(msg).to_tx_signature(&pk);

    // S = l is out of range, even though it is below 2^256.
    let mut bad_s = wire;
    bad_s.s = crate::babyjubjub::SUBGROUP_ORDER
        .to_bytes_le()
        .try_into()
        .unwrap();
    assert_eq!(
        verify_tx_signature(&bad_s, msg),
        Err(SignatureError::ScalarNotCanonical)
    );

    // y = 2 has no x on the curve (checked below), so it is no point at all.
    let not_a_point = Point {
        x: Fr::ZERO,
        y: Fr::from(2u64),
    }
    .pack();
    assert_eq!(Point::unpack(&not_a_point), None);
    let mut bad_r = wire;
    bad_r.r8_y = fr_to_le(&Fr::from(2u64));
    bad_r.r8_x = [0; 32];
    assert_eq!(verify_tx_signature(&bad_r, msg), Err(SignatureError::BadR));
    let mut non_canonical_r = wire;
    non_canonical_r.r8_x = [0xff; 32];
    assert_eq!(
        verify_tx_signature(&non_canonical_r, msg),
        Err(SignatureError::BadR)
    );
    let mut bad_key = wire;
    bad_key.pubkey = not_a_point;
    assert_eq!(
        verify_tx_signature(&bad_key, msg),
        Err(SignatureError::BadPublicKey)
    );

    // Small-order keys (here the identity and the point of order 2) are refused: with
    // them, R8 = S * Base8 would verify for every message.
    for weak in [
        Point::IDENTITY,
        Point {
            x: Fr::ZERO,
            y: -Fr::ONE,
        },
    ] {
        let s = Scalar::from(1234u64);
        let forged = Signature {
            r8: crate::babyjubjub::mul_base8(&s),
            s,
        };
        assert!(!PublicKey(weak).verify(msg, &forged));
        let mut wire = forged.to_tx_signature(&PublicKey(weak));
        assert_eq!(
            verify_tx_signature(&wire, msg),
            Err(SignatureError::BadPublicKey)
        );
        wire.pubkey = pk.to_packed();
        assert_eq!(
            verify_tx_signature(&wire, msg),
            Err(SignatureError::Invalid)
        );
    }
}

#[test]
fn verify_by_known_key_agrees_with_full_verification() {
    let key = test_key();
    let pk = key.public_key();
    let msg = Fr::from(42u64);
    let wire = key.sign(msg).to_tx_signature(&pk);
    assert_eq!(verify_tx_signature_by(&wire, &pk, msg), Ok(()));
    assert_eq!(
        verify_tx_signature_by(&wire, &pk, msg + Fr::one()),
        Err(SignatureError::Invalid)
    );
    // The wire key must be the key the caller vouches for.
    let other = PrivateKey::from_bytes([9; 32]).public_key();
    assert_eq!(
        verify_tx_signature_by(&wire, &other, msg),
        Err(SignatureError::BadPublicKey)
    );
    let mut bad_s = wire;
    bad_s.s = [0xff; 32];
    assert_eq!(
        verify_tx_signature_by(&bad_s, &pk, msg),
        Err(SignatureError::ScalarNotCanonical)
    );
}

#[test]
fn prepared_key_refuses_what_verify_refuses() {
    // A small-order key cannot be prepared: verify would refuse every signature under it.
    let small_order = PublicKey(Point {
        x: Fr::ZERO,
        y: -Fr::one(),
    });
    assert!(small_order.0.is_on_curve());
    assert!(small_order.prepare().is_none());
    let key = test_key();
    let prepared = key.public_key().prepare().unwrap();
    let wire = key.sign(Fr::from(5u64)).to_tx_signature(&key.public_key());
    assert_eq!(prepared.verify_tx_signature(&wire, Fr::from(5u64)), Ok(()));
    assert_eq!(
        prepared.verify_tx_signature(&wire, Fr::from(6u64)),
        Err(SignatureError::Invalid)
    );
    let other = PrivateKey::from_bytes([3; 32])
        .public_key()
        .prepare()
        .unwrap();
    assert_eq!(
        other.verify_tx_signature(&wire, Fr::from(5u64)),
        Err(SignatureError::BadPublicKey)
    );
}

#[test]
fn private_key_debug_is_redacted() {
    let key = PrivateKey::from_bytes([0xab; 32]);
    let shown = format!("{key:?}");
    assert!(!shown.to_lowercase().contains("ab"), "{shown}");
    assert!(!shown.contains("171"), "{shown}");
}

#[test]
fn message_hash_is_poseidon4() {
    let fields = [1u64, 2, 3, 4].map(Fr::from);
    assert_eq!(message_hash(&fields), poseidon::hash(&fields));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// The precomputed path verifies exactly what the plain path verifies, for valid
    /// signatures and for signatures of other messages or with R shifted by a small-order point.
    #[test]
    fn prepared_verify_matches_verify(key in any::<[u8; 32]>(), msg in any::<u64>(), other in any::<u64>(), shift in 0usize..3) {
        let key = PrivateKey::from_bytes(key);
        let pk = key.public_key();
        let prepared = pk.prepare().unwrap();
        let mut sig = key.sign(Fr::from(msg));
        if shift > 0 {
            // (0, -1) has order 2; adding it to R breaks the cofactorless equation.
            sig.r8 = sig.r8 + Point { x: Fr::ZERO, y: -Fr::one() };
        }
        for m in [msg, other] {
            prop_assert_eq!(prepared.verify(Fr::from(m), &sig), pk.verify(Fr::from(m), &sig));
        }
    }

    /// A batch answers each signature exactly as its one-signature function does: valid ones,
    /// other messages, flipped bits, R shifted by a point of order 2, and each kind of signer
    /// (a known or prepared key that the signature does not carry included).
    #[test]
    fn a_batch_answers_as_one_by_one(
        keys in prop::collection::vec(any::<[u8; 32]>(), 1..4),
        cases in prop::collection::vec((0usize..4, 0usize..5, 0usize..3, any::<u64>()), 0..20),
    ) {
        let keys: Vec<PrivateKey> = keys.into_iter().map(PrivateKey::from_bytes).collect();
        let publics: Vec<PublicKey> = keys.iter().map(PrivateKey::public_key).collect();
        let tables: Vec<PreparedKey> = publics.iter().map(|k| k.prepare().unwrap()).collect();
        let wires: Vec<(TxSignature, Fr)> = cases
            .iter()
            .map(|&(k, change, _, m)| {
                let key = &keys[k % keys.len()];
                let msg = Fr::from(m);
                let mut sig = key.sign(msg);
                if change == 3 {
                    sig.r8 = sig.r8 + Point { x: Fr::ZERO, y: -Fr::one() };
                }
                let mut wire = sig.to_tx_signature(&key.public_key());
                match change {
                    1 => return (wire, msg + Fr::ONE),
                    2 => wire.s[3] ^= 0x10,
                    4 => wire.r8_x[0] ^= 1,
                    _ => {}
                }
                (wire, msg)
            })
            .collect();
        let signers: Vec<Signer> = cases
            .iter()
            .map(|&(k, _, kind, _)| match kind {
                0 => Signer::Carried,
                1 => Signer::Known(&publics[(k + 1) % publics.len()]),
                _ => Signer::Prepared(&tables[k % tables.len()]),
            })
            .collect();
        let items: Vec<(&TxSignature, Fr, Signer)> = wires
            .iter()
            .zip(&signers)
            .map(|((wire, msg), signer)| (wire, *msg, *signer))
            .collect();
        let one_by_one: Vec<Result<PublicKey, SignatureError>> = items
            .iter()
            .map(|(wire, msg, signer)| match signer {
                Signer::Carried => verify_tx_signature(wire, *msg),
                Signer::Known(key) => verify_tx_signature_by(wire, key, *msg).map(|()| **key),
                Signer::Prepared(table) => table
                    .verify_tx_signature(wire, *msg)
                    .map(|()| *table.public_key()),
            })
            .collect();
        prop_assert_eq!(verify_tx_signatures(&items), one_by_one);
    }

    #[test]
    fn sign_verify_round_trip(key in any::<[u8; 32]>(), msg in any::<[u8; 32]>()) {
        let key = PrivateKey::from_bytes(key);
        let msg = Fr::from_le_bytes_mod_order(&msg);
        let pk = key.public_key();
        let sig = key.sign(msg);
        prop_assert!(pk.0.is_in_subgroup());
        prop_assert!(pk.verify(msg, &sig));
        let wire = sig.to_tx_signature(&pk);
        prop_assert_eq!(verify_tx_signature(&wire, msg), Ok(pk));
    }

    #[test]
    fn any_changed_byte_is_rejected(
        key in any::<[u8; 32]>(),
        field in 0usize..4,
        byte in 0usize..32,
        bit in 0u8..8,
    ) {
        let key = PrivateKey::from_bytes(key);
        let msg = Fr::from(42u64);
        let wire = key.sign(msg).to_tx_signature(&key.public_key());
        let mut tampered = wire;
        let target = match field {
            0 => &mut tampered.pubkey.0,
            1 => &mut tampered.r8_x,
            2 => &mut tampered.r8_y,
            _ => &mut tampered.s,
        };
        target[byte] ^= 1 << bit;
        prop_assert!(verify_tx_signature(&tampered, msg).is_err());
    }
}

/// `cargo test --release -p causeway-crypto -- --ignored --nocapture`
#[test]
#[ignore]
fn verify_timing() {
    let key = test_key();
    let msgs: Vec<Fr> = (0..2000u64).map(Fr::from).collect();
    let wires: Vec<TxSignature> = msgs
        .iter()
        .map(|m| key.sign(*m).to_tx_signature(&key.public_key()))
        .collect();
    let start = std::time::Instant::now();
    for (w, m) in wires.iter().zip(&msgs) {
        assert!(verify_tx_signature(w, *m).is_ok());
    }
    println!(
        "verify_tx_signature: {:?} per signature",
        start.elapsed() / msgs.len() as u32
    );
    let pk = key.public_key();
    let sigs: Vec<Signature> = wires
        .iter()
        .map(|w| Signature::from_tx_signature(w).unwrap().1)
        .collect();
    let start = std::time::Instant::now();
    for (s, m) in sigs.iter().zip(&msgs) {
        assert!(pk.verify(*m, s));
    }
    println!(
        "PublicKey::verify (decoded): {:?} per signature",
        start.elapsed() / msgs.len() as u32
    );
    let items: Vec<(&TxSignature, Fr, Signer)> = wires
        .iter()
        .zip(&msgs)
        .map(|(w, m)| (w, *m, Signer::Carried))
        .collect();
    let start = std::time::Instant::now();
    for chunk in items.chunks(64) {
        assert!(verify_tx_signatures(chunk).iter().all(Result::is_ok));
    }
    println!(
        "verify_tx_signatures, 64 at a time: {:?} per signature",
        start.elapsed() / msgs.len() as u32
    );
    let table = key.public_key().prepare().unwrap();
    let items: Vec<(&TxSignature, Fr, Signer)> = wires
        .iter()
        .zip(&msgs)
        .map(|(w, m)| (w, *m, Signer::Prepared(&table)))
        .collect();
    let start = std::time::Instant::now();
    for (w, m) in wires.iter().zip(&msgs) {
        assert!(table.verify_tx_signature(w, *m).is_ok());
    }
    println!(
        "PreparedKey::verify_tx_signature: {:?} per signature",
        start.elapsed() / msgs.len() as u32
    );
    let start = std::time::Instant::now();
    for chunk in items.chunks(16) {
        assert!(verify_tx_signatures(chunk).iter().all(Result::is_ok));
    }
    println!(
        "verify_tx_signatures with the key's table, 16 at a time: {:?} per signature",
        start.elapsed() / msgs.len() as u32
    );
    let start = std::time::Instant::now();
    for m in &msgs {
        std::hint::black_box(key.sign(*m));
    }
    println!(
        "sign: {:?} per signature",
        start.elapsed() / msgs.len() as u32
    );
}
