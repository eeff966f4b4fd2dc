//! Rebuilding state from pubdata alone: what exit tools and verifying nodes run.
//!
//! Replaying runs the same [`effects`](crate::effects) as executing signed ops, minus the
//! authorization checks (L1 accepted the batch, so its ops were authorized), and seals the
//! block the same way. A batch whose pubdata does not replay (an overdraft, an account that
//! does not exist, a wrong new-account id) is refused whole.
//!
//! Replay accepts exactly what the batch circuit accepts, not what the executor would
//! produce: a proven batch is final on L1 whatever the operator's software did, and the exit
//! tool must rebuild it. The one rule the executor adds on top of the circuit, one account per
//! address, is therefore not checked here ([`Addresses::AsProven`]).

use crate::effects::{Addresses, Layered};
use crate::error::BlockError;
use crate::executor::Receipt;
use crate::seal::{Sealed, seal};
use crate::state::StateView;
use causeway_primitives::AccountId;
use causeway_primitives::pubdata::decode;

/// Replays one batch's pubdata on `view`, crediting fees to `fee_account`.
pub fn replay<V: StateView>(
    view: &V,
    fee_account: AccountId,
    pubdata: &[u8],
) -> Result<Sealed, BlockError> {
    let ops = decode(pubdata)?;
    let mut state = Layered::with_addresses(view, Addresses::AsProven);
    let mut receipts = Vec::with_capacity(ops.len());
    for (index, op) in ops.into_iter().enumerate() {
        let count_before = state.pending.account_count;
        state
            .apply_effects(&op)
            .map_err(|error| BlockError::InvalidOp { index, error })?;
        let created = (state.pending.account_count > count_before)
            .then(|| AccountId::new(count_before).expect("created ids are valid"));
        receipts.push(Receipt {
            executed: op,
            created,
        });
    }
    seal(state, fee_account, receipts, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::OpError;
    use crate::state::{MemoryState, StateView, recompute_root};
    use causeway_primitives::pubdata::{PubdataOp, encode};
    use causeway_primitives::{Address, PackedAmount, PackedFee, TokenId};

    fn id(i: u32) -> AccountId {
        AccountId::new(i).unwrap()
    }

    /// A batch a hostile operator can prove (the circuit does not look for other accounts of
    /// an address): a deposit and a transfer each create a second and third account for an
    /// address that already has one. Replay used to refuse it with `AddressTaken`, which would
    /// have stopped every exit at this batch.
    #[test]
    fn replay_accepts_a_second_account_for_an_address_as_the_circuit_does() {
        let a = Address::repeat_byte(0xa1);
        let pubdata = encode(&[
            PubdataOp::Deposit {
                account: id(0),
                token: TokenId::ETH,
                amount: 100,
                address: a,
            },
            PubdataOp::Deposit {
                account: id(1),
                token: TokenId::ETH,
                amount: 7,
                address: a,
            },
            PubdataOp::TransferToNew {
                from: id(0),
                to: id(2),
                token: TokenId::ETH,
                amount: PackedAmount::pack(10).unwrap(),
                fee: PackedFee::pack(0).unwrap(),
                to_address: a,
            },
        ]);
        let mut state = MemoryState::new();
        let sealed = replay(&state, id(0), &pubdata).expect("the circuit accepts this batch");
        state.apply(&sealed.diff);
        assert_eq!(state.account_count(), 3);
        for (i, balance) in [(0, 90), (1, 7), (2, 10)] {
            assert_eq!(state.account(id(i)).unwrap().address, a);
            assert_eq!(state.balance(id(i), TokenId::ETH), balance);
        }
        assert_eq!(
            recompute_root(state.accounts(), state.balances()),
            sealed.diff.new_root
        );
        // Later batches address the accounts by id: each is still reachable.
        let more = encode(&[PubdataOp::Deposit {
            account: id(1),
            token: TokenId::ETH,
            amount: 1,
            address: a,
        }]);
        let sealed = replay(&state, id(0), &more).unwrap();
        state.apply(&sealed.diff);
        assert_eq!(state.balance(id(1), TokenId::ETH), 8);
    }

    /// The executor still keeps one account per address: a deposit to a known address
    /// resolves to its account, never to a new one.
    #[test]
    fn the_executor_view_still_refuses_a_taken_address() {
        let a = Address::repeat_byte(0xa1);
        let state = MemoryState::new();
        let mut layered = Layered::new(&state);
        let deposit = |account| PubdataOp::Deposit {
            account: id(account),
            token: TokenId::ETH,
            amount: 1,
            address: a,
        };
        layered.apply_effects(&deposit(0)).unwrap();
        assert_eq!(
            layered.apply_effects(&deposit(1)),
            Err(OpError::AddressTaken(a))
        );
    }

    /// Other rules stay: a created account takes the next id, whatever its address.
    #[test]
    fn replay_still_refuses_a_created_account_off_the_next_id() {
        let pubdata = encode(&[PubdataOp::Deposit {
            account: id(1),
            token: TokenId::ETH,
            amount: 1,
            address: Address::repeat_byte(1),
        }]);
        assert!(matches!(
            replay(&MemoryState::new(), id(0), &pubdata),
            Err(BlockError::InvalidOp {
                index: 0,
                error: OpError::AccountNotFound(_)
            })
        ));
    }
}
