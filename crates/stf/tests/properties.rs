//! Properties over random op sequences: conservation of funds and determinism.

mod harness;

use alloy_primitives::Address;
use causeway_primitives::{AccountId, Balance, FullExit, Op, TokenId};
use causeway_stf::{
    Executor, MemoryState, PubdataOp, SignatureCheck, StateView, WitnessMode, recompute_root,
};
use harness::*;
use proptest::prelude::*;
use std::collections::BTreeMap;

const USERS: usize = 4;

/// A random action; turned into an op against the current nonces when run.
#[derive(Debug, Clone)]
enum Action {
    Transfer {
        from: usize,
        to: usize,
        token: u16,
        amount: Balance,
        fee: Balance,
        nonce_skew: i8,
    },
    Withdraw {
        from: usize,
        token: u16,
        amount: Balance,
        fee: Balance,
    },
    Deposit {
        to: usize,
        token: u16,
        amount: Balance,
    },
    FullExit {
        account: u32,
        owner: usize,
        token: u16,
    },
    Seal,
}

fn action() -> impl Strategy<Value = Action> {
    // Recipients USERS.. are fresh addresses, so transfers create accounts too.
    let amount = prop_oneof![0u128..2_000, Just(1_000_000u128), Just(1_234_567_891u128)];
    prop_oneof![
        6 => (1..=USERS, 1..USERS + 3, 0u16..3, amount.clone(), 0u128..30, prop_oneof![8 => Just(0i8), 1 => Just(-1i8), 1 => Just(1i8)])
            .prop_map(|(from, to, token, amount, fee, nonce_skew)| Action::Transfer { from, to, token, amount, fee, nonce_skew }),
        2 => (1..=USERS, 0u16..3, amount.clone(), 0u128..30)
            .prop_map(|(from, token, amount, fee)| Action::Withdraw { from, token, amount, fee }),
        2 => (1..USERS + 3, 0u16..5, 0u128..5_000).prop_map(|(to, token, amount)| Action::Deposit { to, token, amount }),
        1 => (0u32..10, 1..=USERS, 0u16..3).prop_map(|(account, owner, token)| Action::FullExit { account, owner, token }),
        1 => Just(Action::Seal),
    ]
}

fn address(users: &[User], i: usize) -> Address {
    users
        .get(i)
        .map_or_else(|| Address::repeat_byte(0x40 + i as u8), |u| u.address)
}

struct Run {
    state: MemoryState,
    users: Vec<User>,
    deposited: BTreeMap<u16, Balance>,
    left: BTreeMap<u16, Balance>,
    fees: BTreeMap<u16, Balance>,
    accepted: usize,
}

impl Run {
    fn new() -> Self {
        let (state, users) = world(USERS as u64, 10_000);
        let mut deposited = BTreeMap::new();
        deposited.insert(0, 10_000 * (USERS as u128 + 1));
        deposited.insert(1, 10_000 * (USERS as u128 + 1));
        Run {
            state,
            users,
            deposited,
            left: BTreeMap::new(),
            fees: BTreeMap::new(),
            accepted: 0,
        }
    }

    fn nonce(&self, exec_nonces: &BTreeMap<usize, u32>, user: usize) -> u32 {
        exec_nonces.get(&user).copied().unwrap_or_else(|| {
            self.state
                .account(AccountId::new(user as u32).unwrap())
                .unwrap()
                .nonce
        })
    }

    /// Runs actions in blocks (split at `Seal`), committing each block.
    fn run(&mut self, actions: &[Action]) {
        let c = ctx(0);
        for block in actions.split(|a| matches!(a, Action::Seal)) {
            let mut nonces: BTreeMap<usize, u32> = BTreeMap::new();
            let mut exec = Executor::new(&self.state, &c, WitnessMode::Skip);
            let mut pending_fees: BTreeMap<u16, Balance> = BTreeMap::new();
            for (i, a) in block.iter().enumerate() {
                let op = match a {
                    Action::Transfer {
                        from,
                        to,
                        token: t,
                        amount,
                        fee,
                        nonce_skew,
                    } => {
                        let n = self
                            .nonce(&nonces, *from)
                            .wrapping_add_signed((*nonce_skew).into());
                        Op::Transfer(self.users[*from].transfer(
                            *from as u32,
                            address(&self.users, *to),
                            token(*t),
                            *amount,
                            *fee,
                            n,
                        ))
                    }
                    Action::Withdraw {
                        from,
                        token: t,
                        amount,
                        fee,
                    } => {
                        let n = self.nonce(&nonces, *from);
                        Op::Withdraw(self.users[*from].withdraw(
                            *from as u32,
                            Address::repeat_byte(0xee),
                            token(*t),
                            *amount,
                            *fee,
                            n,
                        ))
                    }
                    Action::Deposit {
                        to,
                        token: t,
                        amount,
                    } => deposit(
                        i as u64,
                        address(&self.users, *to),
                        TokenId::new(*t).unwrap(),
                        *amount,
                    ),
                    Action::FullExit {
                        account,
                        owner,
                        token: t,
                    } => Op::FullExit(FullExit {
                        priority_id: i as u64,
                        account: AccountId::new(*account).unwrap(),
                        owner: self.users[*owner].address,
                        token: token(*t),
                    }),
                    Action::Seal => unreachable!(),
                };
                let Ok(receipt) = exec.apply(&op, SignatureCheck::Unchecked) else {
                    continue;
                };
                self.accepted += 1;
                match &receipt.executed {
                    PubdataOp::Transfer { token, fee, .. }
                    | PubdataOp::TransferToNew { token, fee, .. } => {
                        *pending_fees.entry(token.get()).or_default() += fee.value();
                    }
                    PubdataOp::Withdraw {
                        token, amount, fee, ..
                    } => {
                        *pending_fees.entry(token.get()).or_default() += fee.value();
                        *self.left.entry(token.get()).or_default() += amount;
                    }
                    PubdataOp::Deposit { token, amount, .. } => {
                        *self.deposited.entry(token.get()).or_default() += amount
                    }
                    PubdataOp::FullExit { token, amount, .. } => {
                        *self.left.entry(token.get()).or_default() += amount
                    }
                    _ => {}
                }
                if let Action::Transfer { from, .. } | Action::Withdraw { from, .. } = a {
                    let n = self.nonce(&nonces, *from);
                    nonces.insert(*from, n + 1);
                }
            }
            let sealed = exec.seal().expect("seals");
            assert_eq!(
                sealed
                    .fees
                    .iter()
                    .map(|(t, f)| (t.get(), *f))
                    .collect::<BTreeMap<_, _>>(),
                pending_fees.into_iter().filter(|(_, f)| *f > 0).collect()
            );
            for (t, f) in &sealed.fees {
                *self.fees.entry(t.get()).or_default() += f;
            }
            self.state.apply(&sealed.diff);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// For every token: the sum of balances is deposits minus withdrawals and exits; the fee
    /// account gained exactly the fees the accepted ops paid; the root matches a recomputation.
    #[test]
    fn funds_are_conserved(actions in proptest::collection::vec(action(), 1..40)) {
        let mut run = Run::new();
        let fee_account_before: BTreeMap<u16, Balance> =
            (0..5).map(|t| (t, balance(&run.state, 0, token(t)))).collect();
        run.run(&actions);
        for t in 0..5u16 {
            let expected = run.deposited.get(&t).copied().unwrap_or(0) - run.left.get(&t).copied().unwrap_or(0);
            prop_assert_eq!(total(&run.state, token(t)), expected, "token {}", t);
            let fee_gain = balance(&run.state, 0, token(t)) - fee_account_before[&t];
            // The fee account only receives fees (and deposits/exits never touch it here).
            prop_assert_eq!(fee_gain, run.fees.get(&t).copied().unwrap_or(0));
        }
        prop_assert_eq!(run.state.root(), recompute_root(run.state.accounts(), run.state.balances()));
    }

    /// The same ops give the same state however they are split into blocks (given that the fee
    /// account, whose fees arrive at each block's end, does not spend within them).
    #[test]
    fn block_split_does_not_change_the_result(actions in proptest::collection::vec(action(), 1..30), cuts in proptest::collection::vec(any::<bool>(), 30)) {
        let unsplit: Vec<Action> = actions.iter().filter(|a| !matches!(a, Action::Seal)).cloned().collect();
        let mut split = Vec::new();
        for (a, cut) in unsplit.iter().zip(&cuts) {
            split.push(a.clone());
            if *cut { split.push(Action::Seal); }
        }
        let (mut one, mut many) = (Run::new(), Run::new());
        one.run(&unsplit);
        many.run(&split);
        prop_assert_eq!(one.accepted, many.accepted);
        prop_assert_eq!(one.state.root(), many.state.root());
    }
}
