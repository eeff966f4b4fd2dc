//! The decoding and rebuild paths on in-memory data: batches built with the stf, committed as
//! `commitBatches` calldata would carry them, decoded back and replayed; and each way L1 data
//! can be wrong.

use super::*;
use causeway_circuit::batch::input::{commitment as circuit_commitment, header};
use causeway_crypto::poseidon::hash4;
use causeway_primitives::pubdata::{PubdataOp, encode};
use causeway_primitives::{Domain, PackedAmount, PackedFee, fr_from_be_bytes};

const ROLLUP: Address = Address::repeat_byte(0x70);
const CHUNKS: u64 = 64;

fn id(i: u32) -> AccountId {
    AccountId::new(i).unwrap()
}

fn domain() -> CommitDomain {
    CommitDomain {
        chain_id: 31337,
        rollup: ROLLUP,
        batch_chunks: U256::from(CHUNKS),
    }
}

fn deposit(account: u32, amount: u128, address: Address) -> PubdataOp {
    PubdataOp::Deposit {
        account: id(account),
        token: TokenId::ETH,
        amount,
        address,
    }
}

fn transfer(from: u32, to: u32, amount: u128, fee: u128) -> PubdataOp {
    PubdataOp::Transfer {
        from: id(from),
        to: id(to),
        token: TokenId::ETH,
        amount: PackedAmount::pack(amount).unwrap(),
        fee: PackedFee::pack(fee).unwrap(),
    }
}

fn user(i: u8) -> Address {
    Address::repeat_byte(i)
}

fn genesis() -> StoredBatch {
    StoredBatch {
        number: 0,
        priorityOps: 0,
        accountCount: 0,
        timestamp: 1,
        root: root_word(&MemoryState::new().root()),
        withdrawalsHash: B256::ZERO,
        commitment: U256::ZERO,
    }
}

/// What the operator committed: the `CommitInfo`s, and what the contract stored for each.
struct Committed {
    infos: Vec<CommitInfo>,
    stored: Vec<StoredBatch>,
}

/// Batches of `ops` (fees to account 0) on top of genesis, with the roots the stf computes
/// and the commitments the contract computes.
fn commit(batches: &[Vec<PubdataOp>]) -> Committed {
    let mut state = MemoryState::new();
    let mut previous = genesis();
    let mut infos = Vec::new();
    let mut stored = Vec::new();
    for ops in batches {
        let pubdata = encode(ops);
        let sealed = causeway_stf::replay(&state, id(0), &pubdata).unwrap();
        state.apply(&sealed.diff);
        let info = CommitInfo {
            newRoot: root_word(&sealed.diff.new_root),
            newAccountCount: sealed.diff.account_count,
            feeAccount: 0,
            pubdata: pubdata.into(),
            changePubkeySignatures: vec![],
        };
        let batch = StoredBatch {
            number: previous.number + 1,
            priorityOps: 0,
            accountCount: info.newAccountCount,
            timestamp: 2,
            root: info.newRoot,
            withdrawalsHash: B256::ZERO,
            commitment: commitment(&previous, &info, &domain()).unwrap(),
        };
        infos.push(info);
        stored.push(batch.clone());
        previous = batch;
    }
    Committed { infos, stored }
}

fn world() -> Vec<Vec<PubdataOp>> {
    vec![
        vec![
            deposit(0, 1_000, user(0xfe)),
            deposit(1, 500, user(1)),
            deposit(2, 300, user(2)),
        ],
        vec![
            transfer(1, 2, 100, 5),
            PubdataOp::TransferToNew {
                from: id(2),
                to: id(3),
                token: TokenId::ETH,
                amount: PackedAmount::pack(50).unwrap(),
                fee: PackedFee::pack(1).unwrap(),
                to_address: user(3),
            },
            deposit(1, 7, user(1)),
        ],
    ]
}

fn call_of(committed: &Committed, last: StoredBatch, range: std::ops::Range<usize>) -> Vec<u8> {
    ZkRollup::commitBatchesCall {
        last,
        batches: committed.infos[range].to_vec(),
    }
    .abi_encode()
}

const TX: B256 = B256::repeat_byte(0x11);

/// Everything from calldata: two batches committed in one transaction, decoded, checked
/// against the stored batches and replayed.
fn executed(committed: &Committed) -> ExecutedChain {
    let input = call_of(committed, genesis(), 0..committed.infos.len());
    let call = decode_commit(TX, 1, ROLLUP, Some(ROLLUP), &input).unwrap();
    let mut previous = genesis();
    let mut batches = Vec::new();
    for stored in &committed.stored {
        batches.push(batch_from_call(&call, &previous, stored, 0, TX, &domain()).unwrap());
        previous = stored.clone();
    }
    ExecutedChain {
        genesis: genesis(),
        batches,
    }
}

#[test]
fn calldata_decodes_and_replays_to_the_committed_roots() {
    let committed = commit(&world());
    let chain = executed(&committed);
    let mut seen = Vec::new();
    let state = rebuild(&chain, &mut |p| seen.push(p)).unwrap();
    assert_eq!(root_word(&state.root()), committed.stored[1].root);
    assert_eq!(
        seen,
        vec![
            Progress::Replayed { batch: 1, total: 2 },
            Progress::Replayed { batch: 2, total: 2 }
        ]
    );
    // Fees (5 + 1) went to account 0.
    let balances: Vec<u128> = (0..4).map(|i| state.balance(id(i), TokenId::ETH)).collect();
    assert_eq!(balances, vec![1_006, 500 - 105 + 7, 300 + 100 - 51, 50]);
    assert_eq!(accounts_of(&state, user(3)), vec![id(3)]);
    assert_eq!(accounts_of(&state, user(9)), vec![]);
}

#[test]
fn the_commitment_is_the_circuits_public_input() {
    let committed = commit(&world());
    let info = &committed.infos[1];
    let previous = &committed.stored[0];
    let fr = |w: B256| fr_from_be_bytes(&w.0).unwrap();
    let head = header(
        &fr(previous.root),
        &fr(info.newRoot),
        &Domain {
            chain_id: 31337,
            contract: ROLLUP,
        },
        id(info.feeAccount),
        previous.accountCount,
        info.newAccountCount,
    );
    let mut padded = info.pubdata.to_vec();
    padded.resize(CHUNKS as usize * CHUNK_BYTES, 0);
    let expected = field_word(&circuit_commitment(&head, &padded));
    assert_eq!(commitment(previous, info, &domain()), Some(expected));
    // Longer than the circuit: the contract would not have committed it.
    let small = CommitDomain {
        batch_chunks: U256::from(1),
        ..domain()
    };
    assert_eq!(commitment(previous, info, &small), None);
}

#[test]
fn a_transaction_that_is_not_a_direct_commit_is_named() {
    let committed = commit(&world());
    let input = call_of(&committed, genesis(), 0..2);
    let other = Address::repeat_byte(0x99);
    for (to, data, fragment) in [
        (Some(other), &input[..], "sent to"),
        (None, &input[..], "contract creation"),
        (Some(ROLLUP), &[0xde, 0xad][..], "selector"),
        (Some(ROLLUP), &input[..input.len() / 2], "does not decode"),
        (Some(ROLLUP), &input[..4], "does not decode"),
    ] {
        let Err(err) = decode_commit(TX, 7, ROLLUP, to, data) else {
            panic!("{fragment}: decoded");
        };
        let text = err.to_string();
        assert!(
            matches!(err, ExodusError::NotACommitCall { tx, number: 7, .. } if tx == TX),
            "{text}"
        );
        assert!(text.contains(&TX.to_string()), "names the tx: {text}");
        assert!(text.contains(fragment), "{fragment:?} in {text}");
    }
    // Another call to the rollup (say `executeBatches`) is refused by its selector.
    let execute = ZkRollup::executeBatchesCall {
        batches: vec![],
        withdrawals: vec![],
    }
    .abi_encode();
    assert!(matches!(
        decode_commit(TX, 1, ROLLUP, Some(ROLLUP), &execute),
        Err(ExodusError::NotACommitCall { .. })
    ));
}

#[test]
fn calldata_that_does_not_reproduce_the_stored_batch_is_refused() {
    let committed = commit(&world());
    let input = call_of(&committed, genesis(), 0..2);
    let call = decode_commit(TX, 1, ROLLUP, Some(ROLLUP), &input).unwrap();
    let first = &committed.stored[0];
    let second = &committed.stored[1];
    let check = |call: &ZkRollup::commitBatchesCall, stored: &StoredBatch, fee: u32| {
        batch_from_call(call, first, stored, fee, TX, &domain()).unwrap_err()
    };
    // The log's fee account differs from the calldata's.
    assert!(matches!(
        check(&call, second, 3),
        ExodusError::CalldataMismatch {
            what: "fee account",
            ..
        }
    ));
    // The pubdata was altered (one amount): the commitment no longer matches.
    let mut altered = call.clone();
    let mut pubdata = altered.batches[1].pubdata.to_vec();
    *pubdata.last_mut().unwrap() ^= 1;
    altered.batches[1].pubdata = pubdata.into();
    assert!(matches!(
        check(&altered, second, 0),
        ExodusError::CalldataMismatch {
            what: "commitment",
            ..
        }
    ));
    // Another root or account count than the stored batch.
    let mut wrong_root = second.clone();
    wrong_root.root = B256::repeat_byte(1);
    assert!(matches!(
        check(&call, &wrong_root, 0),
        ExodusError::CalldataMismatch {
            what: "new root",
            ..
        }
    ));
    let mut wrong_count = second.clone();
    wrong_count.accountCount += 1;
    assert!(matches!(
        check(&call, &wrong_count, 0),
        ExodusError::CalldataMismatch {
            what: "account count",
            ..
        }
    ));
    // A transaction that committed batches 2.. does not hold batch 1.
    let later = decode_commit(
        TX,
        1,
        ROLLUP,
        Some(ROLLUP),
        &call_of(&committed, first.clone(), 1..2),
    )
    .unwrap();
    assert!(matches!(
        batch_from_call(&later, &genesis(), first, 0, TX, &domain()).unwrap_err(),
        ExodusError::BatchNotInCall {
            number: 1,
            first: 2,
            last: 2,
            ..
        }
    ));
}

#[test]
fn a_batch_off_its_committed_root_stops_the_rebuild() {
    let committed = commit(&world());
    let good = executed(&committed);

    let mut chain = good.clone();
    chain.batches[1].stored.root = B256::repeat_byte(7);
    assert!(matches!(
        rebuild(&chain, &mut |_| {}),
        Err(ExodusError::RootMismatch { number: 2, .. })
    ));

    let mut chain = good.clone();
    chain.batches[0].stored.accountCount = 2;
    assert!(matches!(
        rebuild(&chain, &mut |_| {}),
        Err(ExodusError::AccountCountMismatch {
            number: 1,
            computed: 3,
            committed: 2
        })
    ));

    // Pubdata that does not replay (an overdraft), or does not decode (truncated).
    let mut chain = good.clone();
    chain.batches[1].pubdata = encode(&[transfer(1, 2, 10_000, 0)]).into();
    assert!(matches!(
        rebuild(&chain, &mut |_| {}),
        Err(ExodusError::Replay { number: 2, .. })
    ));
    let mut chain = good.clone();
    let truncated = chain.batches[1].pubdata.slice(..20);
    chain.batches[1].pubdata = truncated;
    assert!(matches!(
        rebuild(&chain, &mut |_| {}),
        Err(ExodusError::Replay {
            number: 2,
            source: BlockError::Pubdata(_)
        })
    ));

    let mut chain = good.clone();
    chain.batches[0].fee_account = 1 << 24;
    assert!(matches!(
        rebuild(&chain, &mut |_| {}),
        Err(ExodusError::FeeAccountOutOfRange { number: 1, .. })
    ));

    let mut chain = good.clone();
    chain.batches.swap(0, 1);
    assert!(matches!(
        rebuild(&chain, &mut |_| {}),
        Err(ExodusError::OutOfOrder {
            expected: 1,
            found: 2
        })
    ));

    let mut chain = good;
    chain.genesis.root = B256::repeat_byte(3);
    assert!(matches!(
        rebuild(&chain, &mut |_| {}),
        Err(ExodusError::GenesisRoot { .. })
    ));
}

/// A batch the circuit accepts though the node would never build it: a second account for
/// an address. The rebuild goes through, and the owner finds both accounts.
#[test]
fn a_second_account_for_an_address_rebuilds_and_both_are_found() {
    let committed = commit(&[vec![
        deposit(0, 10, user(0xfe)),
        deposit(1, 20, user(1)),
        deposit(2, 30, user(1)),
    ]]);
    let state = rebuild(&executed(&committed), &mut |_| {}).unwrap();
    assert_eq!(accounts_of(&state, user(1)), vec![id(1), id(2)]);
    for (account, balance) in [(1, 20), (2, 30)] {
        assert_eq!(
            exit_proof(&state, id(account), TokenId::ETH)
                .unwrap()
                .balance,
            balance
        );
    }
}

/// `StateTree.accountRoot` in Rust: what the contract recomputes from an exit proof.
fn contract_root(p: &ExitProof) -> U256 {
    let word = |w: &U256| fr_from_be_bytes(&w.to_be_bytes::<32>()).unwrap();
    let climb = |mut node: Fr, mut index: u64, path: &[[U256; 3]]| {
        for siblings in path {
            let position = (index & 3) as usize;
            let mut children = [Fr::from(0u64); 4];
            let mut s = siblings.iter();
            for (i, child) in children.iter_mut().enumerate() {
                *child = if i == position {
                    node
                } else {
                    word(s.next().unwrap())
                };
            }
            node = hash4(&children);
            index >>= 2;
        }
        node
    };
    let balances_root = climb(Fr::from(p.balance), p.tokenId.into(), &p.balancePath);
    let mut address_nonce = [0u8; 32];
    address_nonce[8..28].copy_from_slice(p.owner.as_slice());
    address_nonce[28..].copy_from_slice(&p.nonce.to_be_bytes());
    let leaf = hash4(&[
        fr_from_be_bytes(&address_nonce).unwrap(),
        word(&p.pubkeyX),
        word(&p.pubkeyY),
        balances_root,
    ]);
    field_word(&climb(leaf, p.accountId.into(), &p.accountPath))
}

#[test]
fn exit_proofs_recompute_the_executed_root_as_the_contract_does() {
    let committed = commit(&world());
    let state = rebuild(&executed(&committed), &mut |_| {}).unwrap();
    let root = U256::from_be_bytes(committed.stored[1].root.0);
    for account in 0..4 {
        let proof = exit_proof(&state, id(account), TokenId::ETH).unwrap();
        assert_eq!(proof.accountId, account);
        assert_eq!(proof.balance, state.balance(id(account), TokenId::ETH));
        assert_eq!(proof.owner, state.account(id(account)).unwrap().address);
        assert_eq!(contract_root(&proof), root, "account {account}");
        // Another balance does not reach the root.
        let mut forged = proof.clone();
        forged.balance += 1;
        assert_ne!(contract_root(&forged), root);
    }
    // A token the account never held proves a zero balance, which the contract refuses to pay.
    let empty = exit_proof(&state, id(1), TokenId::new(3).unwrap()).unwrap();
    assert_eq!(empty.balance, 0);
    assert_eq!(contract_root(&empty), root);
    assert!(matches!(
        exit_proof(&state, id(9), TokenId::ETH),
        Err(ExodusError::NoAccount(_))
    ));
}

#[test]
fn deposit_hash_packs_as_the_contract_does() {
    // abi.encodePacked(uint8(4), to, uint16(token), uint128(amount)): 39 bytes.
    let to = user(0xab);
    let mut packed = vec![4u8];
    packed.extend_from_slice(to.as_slice());
    packed.extend_from_slice(&[0, 1]);
    packed.extend_from_slice(&[0; 15]);
    packed.push(9);
    assert_eq!(packed.len(), 39);
    assert_eq!(deposit_hash(to, 1, 9).as_slice(), &keccak256(&packed)[..20]);
}
