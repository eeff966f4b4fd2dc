use super::*;
use crate::vectors;
use proptest::prelude::*;
use std::str::FromStr;

fn fr(s: &str) -> Fr {
    Fr::from_str(s).expect("decimal field element")
}

fn scalar(bytes: [u8; 32]) -> Scalar {
    Scalar::from_le_bytes_mod_order(&bytes)
}

#[test]
fn base8_generates_the_prime_order_subgroup() {
    assert!(BASE8.is_on_curve());
    assert!(BASE8.is_in_subgroup());
    assert_ne!(BASE8, Point::IDENTITY);
    assert_eq!(BASE8.mul_bigint(&SUBGROUP_ORDER), Point::IDENTITY);
}

#[test]
fn circomlib_generator_has_full_order() {
    // circomlib's `Generator`, of order 8 * l; Base8 = 8 * Generator.
    let g = Point {
        x: fr("995203441582195749578291179787384436505546430278305826713579947235728471134"),
        y: fr("5472060717959818805561601436314318772137091100104008585924551046643952123905"),
    };
    assert!(g.is_on_curve());
    assert!(!g.is_in_subgroup());
    assert_eq!(g.double().double().double(), BASE8);
}

#[test]
fn low_order_points_are_outside_the_subgroup() {
    let two_torsion = Point {
        x: Fr::ZERO,
        y: -Fr::ONE,
    };
    assert!(two_torsion.is_on_curve());
    assert!(!two_torsion.is_in_subgroup());
    assert_eq!(two_torsion.double(), Point::IDENTITY);
}

#[test]
fn multiples_of_base8_match_circomlibjs() {
    let v = vectors::load();
    let points = v["points"].as_array().expect("points");
    assert!(!points.is_empty());
    for (k, case) in points.iter().enumerate() {
        let expected = Point {
            x: fr(case["x"].as_str().unwrap()),
            y: fr(case["y"].as_str().unwrap()),
        };
        let k = k as u64 + 1;
        assert_eq!(BASE8.mul_bigint(&BigInt::from(k)), expected);
        assert_eq!(mul_base8(&Scalar::from(k)), expected);
        let packed = PackedPoint(
            hex::decode(case["packed"].as_str().unwrap())
                .unwrap()
                .try_into()
                .unwrap(),
        );
        assert_eq!(expected.pack(), packed);
        assert_eq!(Point::unpack(&packed), Some(expected));
    }
}

#[test]
fn unpack_rejects_non_canonical_and_off_curve_encodings() {
    // The identity with the sign bit set: circomlibjs reads it as the identity.
    let mut bytes = Point::IDENTITY.pack().0;
    bytes[31] |= 0x80;
    assert_eq!(Point::unpack(&PackedPoint(bytes)), None);
    assert_eq!(
        Point::unpack(&Point::IDENTITY.pack()),
        Some(Point::IDENTITY)
    );

    // y = p + 1 (circomlibjs reduces it to y = 1).
    let mut y = Fr::MODULUS;
    y.add_with_carry(&BigInt::from(1u64));
    let mut bytes = [0u8; 32];
    bytes.copy_from_slice(&y.to_bytes_le());
    assert_eq!(Point::unpack(&PackedPoint(bytes)), None);

    // About half of all y have no x on the curve.
    let off_curve = (2u64..64)
        .filter(|&y| {
            Point::unpack(
                &Point {
                    x: Fr::ZERO,
                    y: Fr::from(y),
                }
                .pack(),
            )
            .is_none()
        })
        .count();
    assert!(off_curve > 10, "{off_curve}");
}

fn arb_scalar() -> impl Strategy<Value = Scalar> {
    any::<[u8; 32]>().prop_map(scalar)
}

fn arb_point() -> impl Strategy<Value = Point> {
    arb_scalar().prop_map(|k| mul_base8(&k))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn pack_unpack_round_trip(p in arb_point(), flip in any::<bool>()) {
        // Both signs of x, via the negation.
        let p = if flip { -p } else { p };
        prop_assert!(p.is_on_curve());
        prop_assert_eq!(Point::unpack(&p.pack()), Some(p));
    }

    #[test]
    fn group_law(a in arb_point(), b in arb_point(), c in arb_point()) {
        prop_assert_eq!((a + b) + c, a + (b + c));
        prop_assert_eq!(a + b, b + a);
        prop_assert_eq!(a + Point::IDENTITY, a);
        prop_assert_eq!(a + -a, Point::IDENTITY);
        prop_assert_eq!(a + a, a.double());
        prop_assert!((a + b).is_on_curve());
    }

    #[test]
    fn scalar_multiplication_agrees(k in arb_scalar(), m in arb_scalar()) {
        let fixed = mul_base8(&k);
        prop_assert_eq!(fixed, BASE8.mul_bigint(&k.into_bigint()));
        // (k + m) * B = k * B + m * B, and k * (m * B) = (k * m) * B.
        prop_assert_eq!(mul_base8(&(k + m)), fixed + mul_base8(&m));
        prop_assert_eq!(mul_base8(&m).mul_scalar(&k), mul_base8(&(k * m)));
        prop_assert!(fixed.is_in_subgroup());
    }
}

proptest! {
    /// `s * BASE8 + m * P == r`, answered eight at a time on the lanes (where the CPU has
    /// them), equals the one-by-one answer: for the true sum, for the sum off by `BASE8`, with
    /// zero and largest scalars, and for counts across the eight lanes.
    #[test]
    fn combinations_on_lanes_match_one_by_one(
        cases in prop::collection::vec(
            (any::<[u8; 32]>(), any::<[u8; 32]>(), 0usize..3, any::<bool>(), 0usize..4),
            0..20,
        ),
    ) {
        use ark_ff::BigInt;
        let keys: Vec<Point> = (1u64..=4).map(|i| mul_base8(&Scalar::from(i * 7919))).collect();
        let tables: Vec<FixedBase> = keys.iter().map(FixedBase::new).collect();
        let top = BigInt::<4>([u64::MAX, u64::MAX, u64::MAX, (1 << 60) - 1]);
        let pick = |bytes: [u8; 32], edge: usize| match edge {
            0 => scalar(bytes).into_bigint(),
            1 => BigInt::<4>::from(0u64),
            _ => top,
        };
        let items: Vec<(BigInt<4>, &FixedBase, BigInt<4>, Point)> = cases
            .iter()
            .map(|&(s, m, edge, off, key)| {
                let (s, m) = (pick(s, edge), pick(m, 2 - edge));
                let sum = mul_base8_extended(&s).add(&tables[key].mul(&m)).to_affine();
                (s, &tables[key], m, if off { sum + BASE8 } else { sum })
            })
            .collect();
        let one_by_one: Vec<bool> = items
            .iter()
            .map(|(s, t, m, r)| mul_base8_extended(s).add(&t.mul(m)).equals_affine(r))
            .collect();
        prop_assert_eq!(&one_by_one, &cases.iter().map(|c| !c.3).collect::<Vec<_>>());
        prop_assert_eq!(combinations_equal(&items), one_by_one);
    }
}
