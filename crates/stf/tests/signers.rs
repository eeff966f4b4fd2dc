//! Signature checks without the state, with tables kept across calls, answer exactly as the
//! checks of a whole block with the state do, and the tables stay within their capacity.

mod harness;

use causeway_primitives::{Op, Transfer};
use causeway_stf::{MemoryState, SignerTables, verify_signatures};
use harness::*;
use proptest::prelude::*;

/// What a sender may put on the wire.
#[derive(Debug, Clone, Copy)]
enum Wire {
    Valid,
    /// The amount changed after signing.
    OtherMessage,
    /// `S + 1`.
    BumpedS,
    /// A valid signature by another user's key (the executor refuses it later; here it
    /// verifies).
    OthersKey(usize),
}

fn op(users: &[User], sender: usize, nonce: u32, wire: Wire) -> Op {
    let to = users[(sender % (users.len() - 1)) + 1].address;
    let mut t: Transfer = users[sender].transfer(sender as u32, to, ETH, 1_000, 10, nonce);
    match wire {
        Wire::Valid => {}
        Wire::OtherMessage => t.amount += 1,
        Wire::BumpedS => {
            let carry = t.signature.s[0].checked_add(1);
            t.signature.s[0] = carry.unwrap_or(0);
        }
        Wire::OthersKey(other) => {
            t.signature = users[other].sign(t.signing_fields(&DOMAIN));
        }
    }
    Op::Transfer(t)
}

fn wire() -> impl Strategy<Value = Wire> {
    prop_oneof![
        6 => Just(Wire::Valid),
        1 => Just(Wire::OtherMessage),
        1 => Just(Wire::BumpedS),
        1 => (1usize..=4).prop_map(Wire::OthersKey),
    ]
}

fn checks(state: &MemoryState, ops: &[Op]) -> Vec<bool> {
    verify_signatures(ops, &DOMAIN, state)
        .iter()
        .map(Result::is_ok)
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// Groups of ops from 4 senders, valid and forged, checked one group after another with
    /// room for 2 tables: every answer equals the answer of a check without kept tables.
    #[test]
    fn kept_tables_never_change_an_answer(
        groups in proptest::collection::vec(
            proptest::collection::vec((1usize..=4, wire()), 1..8),
            1..8,
        )
    ) {
        let (state, users) = world(4, 1_000_000);
        let mut tables = SignerTables::new(2);
        for (g, group) in groups.iter().enumerate() {
            let ops: Vec<Op> = group
                .iter()
                .map(|&(sender, wire)| op(&users, sender, g as u32, wire))
                .collect();
            let kept: Vec<bool> = tables.check(&ops, &DOMAIN)
                .iter()
                .map(Result::is_ok)
                .collect();
            prop_assert_eq!(&kept, &checks(&state, &ops));
            for (o, (&(_, w), ok)) in ops.iter().zip(group.iter().zip(&kept)) {
                let forged = matches!(w, Wire::OtherMessage | Wire::BumpedS);
                prop_assert_eq!(*ok, !forged, "{:?}", o);
            }
            prop_assert!(tables.len() <= 2);
        }
    }
}

#[test]
fn a_key_that_keeps_signing_gets_a_table_and_the_least_recent_leaves() {
    let (_, users) = world(3, 1_000_000);
    let mut tables = SignerTables::new(1);
    // One op per call: user 1's fourth signature prepares its key.
    for nonce in 0..3 {
        let ops = [op(&users, 1, nonce, Wire::Valid)];
        assert!(tables.check(&ops, &DOMAIN)[0].is_ok());
        assert!(tables.is_empty(), "prepared after {} signatures", nonce + 1);
    }
    let ops = [op(&users, 1, 3, Wire::Valid)];
    assert!(tables.check(&ops, &DOMAIN)[0].is_ok());
    assert_eq!(tables.len(), 1);
    // Four signatures of user 2 in one call take the only place.
    let ops: Vec<Op> = (0..4).map(|n| op(&users, 2, n, Wire::Valid)).collect();
    let answers = tables.check(&ops, &DOMAIN);
    assert!(answers.iter().all(Result::is_ok));
    assert_eq!(tables.len(), 1);
    // A forged signature by the prepared key is still refused.
    let ops = [
        op(&users, 2, 4, Wire::BumpedS),
        op(&users, 2, 5, Wire::Valid),
    ];
    let answers = tables.check(&ops, &DOMAIN);
    assert!(answers[0].is_err() && answers[1].is_ok());
    // Forged signatures never earn a key a table: user 3's key stays out.
    for nonce in 0..6 {
        let ops = [op(&users, 3, nonce, Wire::OtherMessage)];
        assert!(tables.check(&ops, &DOMAIN)[0].is_err());
    }
    let ops = [op(&users, 2, 6, Wire::Valid)];
    assert!(tables.check(&ops, &DOMAIN)[0].is_ok());
    let ops = [op(&users, 3, 6, Wire::Valid)];
    assert!(tables.check(&ops, &DOMAIN)[0].is_ok());
    assert_eq!(tables.len(), 1);
    assert!(
        tables.has(&users[2].l2.public_key().to_packed()),
        "user 2 keeps the only table"
    );

    // Without room, nothing is kept.
    let mut none = SignerTables::new(0);
    for nonce in 0..6 {
        let ops = [op(&users, 3, nonce, Wire::Valid)];
        assert!(none.check(&ops, &DOMAIN)[0].is_ok());
    }
    assert!(none.is_empty());
}
