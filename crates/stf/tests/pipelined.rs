//! Pipelined execution gives the same blocks as sequential execution.
//!
//! A pipelined sequencer closes block k ([`Executor::close`]), runs block k+1 over the state
//! without block k ([`Executor::after`]), and seals and applies block k meanwhile
//! ([`Closed::seal`]); block k+1 then moves onto the new state ([`Executor::pause`],
//! [`Executor::resume`]) or is closed before block k is applied. Checked here:
//! - over random op sequences (accounts created by deposits and by transfers in every block,
//!   withdrawals, refused ops) split into 2–4 blocks, every op is accepted or refused alike
//!   (same [`OpError`]) and every block has the same receipts, diff, pubdata and fees as when
//!   the blocks run one after the other, and the final states are equal;
//! - an account created in the prior block is found by address in the block run after it,
//!   and a transfer to it there is a plain `Transfer`;
//! - a closed block sealed (or a paused block resumed) over a state that is not the one it
//!   ran on is refused with [`BlockError::WrongBase`], without panicking, and the right order
//!   still works afterwards.

mod harness;

use alloy_primitives::Address;
use causeway_primitives::{AccountId, Balance, FullExit, Op, TokenId};
use causeway_stf::{
    BlockContext, BlockError, Closed, Executor, MemoryState, OpError, Paused, PubdataOp, Receipt,
    Sealed, SignatureCheck, StateView, WitnessMode, recompute_root,
};
use harness::*;
use proptest::prelude::*;
use proptest::sample::Index;
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// Users with accounts and L2 keys in the starting state: ids `1..=REGISTERED` (0 is the
/// operator, who collects fees).
const REGISTERED: usize = 3;
/// Users without an account at the start; deposits and transfers to them create one, and
/// once they have registered a key they sign like anyone else.
const FRESH: usize = 4;
const FUNDS: Balance = 10_000;

fn id(n: u32) -> AccountId {
    AccountId::new(n).unwrap()
}

/// The context of every block: at most two fee tokens, so that some ops are refused with
/// [`OpError::FeeTokensFull`].
fn block_ctx() -> BlockContext {
    BlockContext {
        max_fee_tokens: 2,
        ..ctx(0)
    }
}

/// The starting state and every user (`0..=REGISTERED` registered, then the fresh ones),
/// built once: building it hashes a lot.
fn start() -> &'static (MemoryState, Vec<User>) {
    static START: OnceLock<(MemoryState, Vec<User>)> = OnceLock::new();
    START.get_or_init(|| {
        let (state, mut users) = world(REGISTERED as u64, FUNDS);
        users.extend((0..FRESH as u64).map(|i| User::new(1_000 + i)));
        (state, users)
    })
}

/// A random action, turned into an op against the block's current state when first run.
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
    /// A fresh user registers its L2 key (refused while it has no account).
    ChangePubKey { user: usize, fee: Balance },
    FullExit {
        account: u32,
        owner: usize,
        token: u16,
    },
}

fn action() -> impl Strategy<Value = Action> {
    let users = 1..=REGISTERED + FRESH;
    let fresh = REGISTERED + 1..=REGISTERED + FRESH;
    // Mostly registered users sign; a fresh one is refused until it has an account and a key.
    let signer = prop_oneof![3 => 1..=REGISTERED, 1 => fresh.clone()];
    // Amounts above the balances refuse the op as an overdraft; token 2 is listed but mostly
    // unfunded, token 4 is not listed.
    let amount = prop_oneof![4 => 0u128..3_000, 1 => Just(FUNDS + 1)];
    let skew = prop_oneof![8 => Just(0i8), 1 => Just(-1i8), 1 => Just(1i8)];
    prop_oneof![
        6 => (signer.clone(), users.clone(), 0u16..3, amount.clone(), 0u128..20, skew)
            .prop_map(|(from, to, token, amount, fee, nonce_skew)| Action::Transfer {
                from, to, token, amount, fee, nonce_skew,
            }),
        2 => (signer, 0u16..3, amount, 0u128..20)
            .prop_map(|(from, token, amount, fee)| Action::Withdraw { from, token, amount, fee }),
        3 => (users.clone(), 0u16..5, 0u128..5_000)
            .prop_map(|(to, token, amount)| Action::Deposit { to, token, amount }),
        2 => (fresh, 0u128..3).prop_map(|(user, fee)| Action::ChangePubKey { user, fee }),
        1 => (0u32..8, users, 0u16..3)
            .prop_map(|(account, owner, token)| Action::FullExit { account, owner, token }),
    ]
}

/// The id of `user`'s account as `exec` sees it; for a user without one, the next free id
/// (so that its ops are refused as naming no account).
fn account_of<V: StateView>(exec: &Executor<'_, V>, users: &[User], user: usize) -> AccountId {
    exec.account_id(&users[user].address)
        .unwrap_or_else(|| id(exec.account_count()))
}

fn nonce_of<V: StateView>(exec: &Executor<'_, V>, account: AccountId) -> u32 {
    exec.account(account).map_or(0, |a| a.nonce)
}

/// The op an action stands for, against the block as `exec` has it so far.
fn to_op<V: StateView>(
    exec: &Executor<'_, V>,
    users: &[User],
    action: &Action,
    priority_id: u64,
) -> Op {
    match *action {
        Action::Transfer {
            from,
            to,
            token: t,
            amount,
            fee,
            nonce_skew,
        } => {
            let account = account_of(exec, users, from);
            let nonce = nonce_of(exec, account).wrapping_add_signed(nonce_skew.into());
            Op::Transfer(users[from].transfer(
                account.get(),
                users[to].address,
                token(t),
                amount,
                fee,
                nonce,
            ))
        }
        Action::Withdraw {
            from,
            token: t,
            amount,
            fee,
        } => {
            let account = account_of(exec, users, from);
            let nonce = nonce_of(exec, account);
            Op::Withdraw(users[from].withdraw(
                account.get(),
                Address::repeat_byte(0xee),
                token(t),
                amount,
                fee,
                nonce,
            ))
        }
        Action::Deposit {
            to,
            token: t,
            amount,
        } => deposit(priority_id, users[to].address, token(t), amount),
        Action::ChangePubKey { user, fee } => {
            let account = account_of(exec, users, user);
            users[user].change_pubkey(account.get(), nonce_of(exec, account), fee)
        }
        Action::FullExit {
            account,
            owner,
            token: t,
        } => Op::FullExit(FullExit {
            priority_id,
            account: id(account),
            owner: users[owner].address,
            token: token(t),
        }),
    }
}

type Outcome = Result<Receipt, OpError>;

fn run_op<V: StateView>(exec: &mut Executor<'_, V>, op: &Op) -> Outcome {
    exec.apply(op, SignatureCheck::Unchecked).cloned()
}

/// What a block did, to compare the two ways of running it.
#[derive(Debug, PartialEq)]
struct BlockResult {
    outcomes: Vec<Outcome>,
    sealed: SealedParts,
}

/// The comparable parts of a [`Sealed`] block (it has no `PartialEq`; no witness here).
#[derive(Debug, PartialEq)]
struct SealedParts {
    receipts: Vec<Receipt>,
    diff: causeway_stf::StateDiff,
    pubdata: Vec<u8>,
    fees: BTreeMap<TokenId, Balance>,
}

impl From<Sealed> for SealedParts {
    fn from(sealed: Sealed) -> Self {
        assert!(sealed.witness.is_none());
        SealedParts {
            pubdata: sealed.pubdata(),
            receipts: sealed.receipts,
            diff: sealed.diff,
            fees: sealed.fees,
        }
    }
}

/// Runs the blocks one after the other (each one `new`, `seal`, `apply`), turning actions
/// into ops as it goes; returns the ops of each block, what each block did, and the state.
fn sequential(blocks: &[&[Action]]) -> (Vec<Vec<Op>>, Vec<BlockResult>, MemoryState) {
    let (start, users) = start();
    let mut state = start.clone();
    let c = block_ctx();
    let mut ops = Vec::new();
    let mut results = Vec::new();
    let mut priority_id = 0;
    for block in blocks {
        let mut exec = Executor::new(&state, &c, WitnessMode::Skip);
        let mut block_ops = Vec::new();
        let mut outcomes = Vec::new();
        for action in *block {
            let op = to_op(&exec, users, action, priority_id);
            priority_id += 1;
            outcomes.push(run_op(&mut exec, &op));
            block_ops.push(op);
        }
        let sealed = exec.seal().expect("a sequential block seals");
        state.apply(&sealed.diff);
        ops.push(block_ops);
        results.push(BlockResult {
            outcomes,
            sealed: sealed.into(),
        });
    }
    (ops, results, state)
}

/// How a block run after a closed one gets onto the state once that one is applied.
#[derive(Debug, Clone, Copy)]
enum Handover {
    /// Runs all its ops over the prior, is closed, and then the prior is sealed and applied.
    CloseFirst,
    /// Runs `at` of its ops over the prior, is paused while the prior is sealed and applied,
    /// resumed over the new state for the rest, and closed.
    Resume { at: Index },
}

fn handover() -> impl Strategy<Value = Handover> {
    prop_oneof![
        1 => Just(Handover::CloseFirst),
        2 => any::<Index>().prop_map(|at| Handover::Resume { at }),
    ]
}

/// Resumes a paused block over `state`, which must have its prior applied. (`Executor` is not
/// `Debug`, so the `Result` cannot be `expect`ed.)
fn resume<'a>(
    state: &'a MemoryState,
    paused: Paused,
    ctx: &'a BlockContext,
) -> Executor<'a, MemoryState> {
    match Executor::resume(state, paused, ctx) {
        Ok(exec) => exec,
        Err(err) => panic!("a paused block resumes over the state with its prior applied: {err}"),
    }
}

/// Seals the prior over `state` (the state it ran on, with its own prior applied), applies it
/// and records what it did.
fn commit_prior(
    state: &mut MemoryState,
    prior: Closed,
    outcomes: Vec<Outcome>,
    results: &mut Vec<BlockResult>,
) {
    let pubdata = prior.pubdata();
    let fees = prior.fees.clone();
    let sealed = prior.seal(state).expect("the prior seals over its base");
    assert_eq!(sealed.pubdata(), pubdata, "sealing changed the pubdata");
    assert_eq!(sealed.fees, fees, "sealing changed the fees");
    state.apply(&sealed.diff);
    results.push(BlockResult {
        outcomes,
        sealed: sealed.into(),
    });
}

/// Runs the blocks pipelined: block k+1 runs [`Executor::after`] closed block k, which is
/// sealed and applied while block k+1 is open (or just closed), as `handovers[k+1]` says.
fn pipelined(blocks: &[Vec<Op>], handovers: &[Handover]) -> (Vec<BlockResult>, MemoryState) {
    let mut state = start().0.clone();
    let c = block_ctx();
    let mut results = Vec::new();
    // The closed block not yet applied, with the outcomes of its ops.
    let mut prior: Option<(Closed, Vec<Outcome>)> = None;
    for (ops, handover) in blocks.iter().zip(handovers) {
        let mut outcomes = Vec::new();
        let closed = match prior.take() {
            None => {
                let mut exec = Executor::new(&state, &c, WitnessMode::Skip);
                outcomes.extend(ops.iter().map(|op| run_op(&mut exec, op)));
                exec.close().expect("a block closes")
            }
            Some((closed_prior, prior_outcomes)) => {
                let at = match handover {
                    Handover::CloseFirst => ops.len(),
                    Handover::Resume { at } => at.index(ops.len() + 1),
                };
                let (before, after) = ops.split_at(at);
                let mut exec = Executor::after(&state, &closed_prior, &c)
                    .expect("the prior ran on this state");
                outcomes.extend(before.iter().map(|op| run_op(&mut exec, op)));
                match handover {
                    Handover::CloseFirst => {
                        let closed = exec.close().expect("a block closes after its prior");
                        commit_prior(&mut state, closed_prior, prior_outcomes, &mut results);
                        closed
                    }
                    Handover::Resume { .. } => {
                        let paused = exec.pause();
                        commit_prior(&mut state, closed_prior, prior_outcomes, &mut results);
                        let mut exec = resume(&state, paused, &c);
                        outcomes.extend(after.iter().map(|op| run_op(&mut exec, op)));
                        exec.close().expect("a resumed block closes")
                    }
                }
            }
        };
        prior = Some((closed, outcomes));
    }
    if let Some((last, outcomes)) = prior {
        commit_prior(&mut state, last, outcomes, &mut results);
    }
    (results, state)
}

fn balances(state: &MemoryState) -> BTreeMap<(AccountId, TokenId), Balance> {
    state.balances().collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    /// Every block run pipelined is the block run sequentially: same outcome per op, same
    /// receipts, diff, pubdata and fees; and the final states are the same.
    #[test]
    fn pipelined_blocks_equal_sequential_blocks(
        actions in proptest::collection::vec(action(), 2..32),
        cuts in proptest::collection::vec(any::<Index>(), 1..=3),
        handovers in proptest::collection::vec(handover(), 4),
    ) {
        let mut cuts: Vec<usize> = cuts.iter().map(|c| c.index(actions.len() + 1)).collect();
        cuts.sort_unstable();
        let mut blocks: Vec<&[Action]> = Vec::new();
        let mut from = 0;
        for cut in cuts {
            blocks.push(&actions[from..cut]);
            from = cut;
        }
        blocks.push(&actions[from..]);

        let (ops, expected, seq_state) = sequential(&blocks);
        let (got, pipe_state) = pipelined(&ops, &handovers);

        prop_assert_eq!(got.len(), expected.len());
        for (k, (got, expected)) in got.iter().zip(&expected).enumerate() {
            prop_assert_eq!(&got.outcomes, &expected.outcomes, "outcomes of block {}", k);
            prop_assert_eq!(&got.sealed, &expected.sealed, "block {}", k);
        }
        prop_assert_eq!(pipe_state.root(), seq_state.root());
        prop_assert_eq!(pipe_state.account_count(), seq_state.account_count());
        prop_assert_eq!(
            pipe_state.accounts().collect::<Vec<_>>(),
            seq_state.accounts().collect::<Vec<_>>()
        );
        prop_assert_eq!(balances(&pipe_state), balances(&seq_state));
        prop_assert_eq!(
            pipe_state.root(),
            recompute_root(pipe_state.accounts(), pipe_state.balances())
        );
    }
}

#[test]
fn account_created_in_prior_block_is_found_by_address() {
    let (mut state, users) = world(2, 1_000_000);
    let c = ctx(0);
    let newcomer = Address::repeat_byte(0x77);

    // Block 1 creates the newcomer's account (id 3) by a transfer.
    let mut exec = Executor::new(&state, &c, WitnessMode::Skip);
    let t = users[1].transfer(1, newcomer, ETH, 1_000, 10, 1);
    let receipt = exec
        .apply(&Op::Transfer(t), SignatureCheck::Unchecked)
        .unwrap();
    assert!(matches!(receipt.executed, PubdataOp::TransferToNew { to, .. } if to == id(3)));
    assert_eq!(receipt.created, Some(id(3)));
    let closed = exec.close().unwrap();
    assert_eq!(closed.fees, BTreeMap::from([(ETH, 10)]));
    assert_eq!(state.account_id(&newcomer), None, "block 1 is not applied");

    // Block 2 runs after it, over the state without it.
    let mut exec = Executor::after(&state, &closed, &c).expect("block 1 ran on this state");
    assert_eq!(exec.account_id(&newcomer), Some(id(3)));
    assert_eq!(exec.account(id(3)).unwrap().address, newcomer);
    assert_eq!(exec.balance(id(3), ETH), 1_000);
    assert_eq!(exec.account_count(), 4);
    assert_eq!(exec.account(id(1)).unwrap().nonce, 2);
    assert_eq!(
        exec.balance(id(0), ETH),
        1_000_010,
        "the prior's fees are credited"
    );

    let t = users[2].transfer(2, newcomer, ETH, 500, 5, 1);
    let receipt = exec
        .apply(&Op::Transfer(t), SignatureCheck::Unchecked)
        .unwrap()
        .clone();
    assert_eq!(
        receipt,
        Receipt {
            executed: PubdataOp::Transfer {
                from: id(2),
                to: id(3),
                token: ETH,
                amount: causeway_primitives::PackedAmount::pack(500).unwrap(),
                fee: causeway_primitives::PackedFee::pack(5).unwrap(),
            },
            created: None,
        }
    );
    // A deposit to the newcomer credits the same account, and the sender of block 1 goes on
    // with its next nonce.
    let receipt = exec
        .apply(&deposit(7, newcomer, ETH, 3), SignatureCheck::Unchecked)
        .unwrap();
    assert_eq!(receipt.created, None);
    assert!(matches!(receipt.executed, PubdataOp::Deposit { account, .. } if account == id(3)));
    let t = users[1].transfer(1, users[2].address, ETH, 1, 0, 2);
    exec.apply(&Op::Transfer(t), SignatureCheck::Unchecked)
        .unwrap();
    assert_eq!(exec.account_count(), 4);

    let paused = exec.pause();
    let sealed = closed.seal(&state).unwrap();
    state.apply(&sealed.diff);
    let exec = resume(&state, paused, &c);
    let sealed = exec.close().unwrap().seal(&state).unwrap();
    assert!(sealed.receipts.iter().all(|r| r.created.is_none()));
    assert_eq!(sealed.diff.account_count, 4);
    state.apply(&sealed.diff);

    assert_eq!(state.account_id(&newcomer), Some(id(3)));
    assert_eq!(balance(&state, 3, ETH), 1_503);
    assert_eq!(balance(&state, 1, ETH), 1_000_000 - 1_010 - 1);
    assert_eq!(balance(&state, 0, ETH), 1_000_015);
    assert_eq!(state.account_count(), 4);
    assert_eq!(
        state.root(),
        recompute_root(state.accounts(), state.balances())
    );
}

#[test]
fn sealing_over_the_wrong_base_is_refused() {
    let (mut state, users) = world(2, 1_000_000);
    let c = ctx(0);
    let newcomer = Address::repeat_byte(0x77);

    // Block 1 creates an account: state has 3 accounts, block 1 leaves 4.
    let mut exec = Executor::new(&state, &c, WitnessMode::Skip);
    exec.apply(&deposit(0, newcomer, ETH, 50), SignatureCheck::Unchecked)
        .unwrap();
    let closed1 = exec.close().unwrap();

    // Block 2 runs after it, and is closed as well as paused (from two identical runs).
    let t = Op::Transfer(users[1].transfer(1, newcomer, ETH, 20, 1, 1));
    let mut exec = Executor::after(&state, &closed1, &c).expect("block 1 ran on this state");
    exec.apply(&t, SignatureCheck::Unchecked).unwrap();
    let closed2 = exec.close().unwrap();
    let mut exec = Executor::after(&state, &closed1, &c).expect("block 1 ran on this state");
    exec.apply(&t, SignatureCheck::Unchecked).unwrap();
    let paused = exec.pause();

    // Block 2 over the state without block 1 applied.
    let wrong = BlockError::WrongBase {
        expected: 4,
        found: 3,
    };
    assert_eq!(closed2.commitment(&state), Err(wrong.clone()));
    assert_eq!(closed2.clone().seal(&state).err(), Some(wrong.clone()));
    let Err(err) = Executor::resume(&state, paused, &c) else {
        panic!("resumed over the state without its prior");
    };
    assert_eq!(err, wrong);

    // Block 1 over a state that already has it, and a block run after block 1 over that
    // state (it would not see what block 1 did there).
    let sealed1 = closed1.clone().seal(&state).unwrap();
    let mut twice = state.clone();
    twice.apply(&sealed1.diff);
    let Err(err) = Executor::after(&twice, &closed1, &c) else {
        panic!("ran after a prior over a state that is not the prior's");
    };
    assert_eq!(
        err,
        BlockError::WrongBase {
            expected: 3,
            found: 4
        }
    );
    assert_eq!(
        closed1.seal(&twice).err(),
        Some(BlockError::WrongBase {
            expected: 3,
            found: 4
        })
    );

    // The right order still works, and gives what running the blocks one by one gives.
    let mut sequential = state.clone();
    commit(&mut sequential, &c, &[deposit(0, newcomer, ETH, 50)]);
    commit(&mut sequential, &c, &[t]);
    state.apply(&sealed1.diff);
    let sealed2 = closed2.seal(&state).unwrap();
    state.apply(&sealed2.diff);
    assert_eq!(state.root(), sequential.root());
    assert_eq!(balance(&state, 3, ETH), 70);
    assert_eq!(
        state.root(),
        recompute_root(state.accounts(), state.balances())
    );
}
