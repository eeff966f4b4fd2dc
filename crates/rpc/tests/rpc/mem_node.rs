//! A test double of the node: accounts in a map, sealed blocks in a vector, submitted ops
//! appended as pending. It answers from fixed fixture data ([`MemNode::fixture`]) so the
//! tests can say exactly what each RPC answer must be, and can be told to fail its next call
//! with a given [`NodeError`].

use alloy_primitives::{Address, B256, U256, keccak256};
use causeway_primitives::Op;
use causeway_rpc::api::{
    AccountAt, AccountInfo, AccountProof, BlockInfo, ChainStatus, FeeKind, FeeQuote, NodeApi,
    NodeError, NodeInfo, OpStage, OpStatus, OpView, TokenBalance, TokenInfo,
};
use std::collections::HashMap;
use std::sync::Mutex;

pub const L2_CHAIN_ID: u64 = 31_337_001;
pub const ALICE: Address = Address::repeat_byte(0xa1);
pub const BOB: Address = Address::repeat_byte(0xb0);
/// Never has an account.
pub const NOBODY: Address = Address::repeat_byte(0xee);
pub const FEE_RECIPIENT: Address = Address::repeat_byte(0xfe);
pub const ERC20: Address = Address::repeat_byte(0x70);
pub const L1_DEPOSITOR: Address = Address::repeat_byte(0xd0);
/// Alice's ETH balance (5 ETH) and her next nonce.
pub const ALICE_ETH: u128 = 5_000_000_000_000_000_000;
pub const ALICE_NONCE: u32 = 3;
/// Alice's ETH after blocks 1 and 2 (block 2 moves only the ERC-20): the pending op then
/// spends 1 wei and a fee of 1000.
pub const ALICE_ETH_SEALED: u128 = ALICE_ETH + 1001;
pub const CLIENT_VERSION: &str = "causeway/test";

/// The fixture's op hashes: deterministic names, not real op hashes.
pub fn op_hash(name: &str) -> B256 {
    keccak256(format!("op {name}"))
}

pub fn block_hash(number: u64) -> B256 {
    keccak256(format!("block {number}"))
}

/// Block 1: Alice sends Bob 1 ETH (index 0), a deposit of ETH from L1 to Alice (index 1).
pub fn transfer_eth() -> B256 {
    op_hash("transfer-eth")
}
pub fn deposit() -> B256 {
    op_hash("deposit")
}
/// Block 2: Alice sends Bob 7 units of token 1.
pub fn transfer_erc20() -> B256 {
    op_hash("transfer-erc20")
}
/// Waiting in the mempool.
pub fn pending() -> B256 {
    op_hash("pending")
}

pub struct MemNode {
    info: NodeInfo,
    state: Mutex<State>,
}

struct State {
    accounts: HashMap<Address, AccountInfo>,
    /// Sealed blocks; index = number, block 0 the genesis.
    blocks: Vec<BlockInfo>,
    pending: Vec<OpView>,
    /// Every op `submit` accepted, in order.
    submitted: Vec<Op>,
    /// The error the next call answers with.
    fail_next: Option<NodeError>,
    /// The limit the last `history` call was given (checks the server's cap).
    last_history_limit: Option<usize>,
    /// The blocks `account_at` was asked for, in order (checks how the server resolves tags).
    account_at_blocks: Vec<u64>,
    /// The first block `account_at` has state for (0 unless a test moves it).
    history_from: u64,
}

fn view(name: &str, from: Address, to: Address, token: u16, amount: u128) -> OpView {
    OpView {
        hash: op_hash(name),
        kind: "transfer".into(),
        from,
        to: Some(to),
        token,
        amount: U256::from(amount),
        fee: U256::from(1000),
        nonce: Some(0),
        priority_id: None,
        block: None,
        index: None,
    }
}

fn block(number: u64, mut ops: Vec<OpView>) -> BlockInfo {
    for (index, op) in ops.iter_mut().enumerate() {
        op.block = Some(number);
        op.index = Some(index as u32);
    }
    BlockInfo {
        number,
        hash: block_hash(number),
        parent_hash: if number <= 1 {
            B256::ZERO
        } else {
            block_hash(number - 1)
        },
        timestamp: 1_700_000_000 + number * 12,
        state_root: keccak256(format!("root {number}")),
        fee_recipient: FEE_RECIPIENT,
        ops,
        stage: if number <= 1 {
            OpStage::Committed
        } else {
            OpStage::Included
        },
        commit_tx: (number <= 1).then(|| keccak256(format!("commit {number}"))),
        prove_tx: None,
        execute_tx: None,
    }
}

impl MemNode {
    /// Alice (id 1) and Bob (id 2); blocks 0 (genesis), 1 and 2; one pending op. Block 1 is
    /// committed on L1, nothing is executed.
    pub fn fixture() -> Self {
        let alice = AccountInfo {
            id: 1,
            address: ALICE,
            nonce: ALICE_NONCE,
            pubkey: Some(B256::repeat_byte(0x11)),
            balances: vec![
                TokenBalance {
                    token: 0,
                    amount: U256::from(ALICE_ETH),
                },
                TokenBalance {
                    token: 1,
                    amount: U256::from(93),
                },
            ],
        };
        // Bob holds only the ERC-20: his ETH balance is 0 although he has an account.
        let bob = AccountInfo {
            id: 2,
            address: BOB,
            nonce: 0,
            pubkey: None,
            balances: vec![TokenBalance {
                token: 1,
                amount: U256::from(7),
            }],
        };
        let deposit = OpView {
            kind: "deposit".into(),
            fee: U256::ZERO,
            nonce: None,
            priority_id: Some(0),
            ..view("deposit", L1_DEPOSITOR, ALICE, 0, 6_000_000_000_000_000_000)
        };
        let mut erc20 = view("transfer-erc20", ALICE, BOB, 1, 7);
        erc20.nonce = Some(1);
        let mut pending = view("pending", ALICE, BOB, 0, 1);
        pending.nonce = Some(2);
        let blocks = vec![
            block(0, Vec::new()),
            block(
                1,
                vec![
                    view("transfer-eth", ALICE, BOB, 0, 1_000_000_000_000_000_000),
                    deposit,
                ],
            ),
            block(2, vec![erc20]),
        ];
        Self {
            info: NodeInfo {
                l2_chain_id: L2_CHAIN_ID,
                l1_chain_id: 31_337,
                rollup: Address::repeat_byte(0x42),
                batch_chunks: 64,
                client_version: CLIENT_VERSION.into(),
            },
            state: Mutex::new(State {
                accounts: HashMap::from([(ALICE, alice), (BOB, bob)]),
                blocks,
                pending: vec![pending],
                submitted: Vec::new(),
                fail_next: None,
                last_history_limit: None,
                account_at_blocks: Vec::new(),
                history_from: 0,
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Makes the next call answer `err`.
    pub fn fail_next(&self, err: NodeError) {
        self.state().fail_next = Some(err);
    }

    pub fn submitted(&self) -> Vec<Op> {
        self.state().submitted.clone()
    }

    pub fn last_history_limit(&self) -> Option<usize> {
        self.state().last_history_limit
    }

    /// Makes `account_at` refuse blocks below `first`, as a node whose state history starts
    /// there does.
    pub fn set_history_from(&self, first: u64) {
        self.state().history_from = first;
    }

    pub fn account_at_blocks(&self) -> Vec<u64> {
        self.state().account_at_blocks.clone()
    }

    /// The state, unless a failure was injected.
    fn live(&self) -> Result<std::sync::MutexGuard<'_, State>, NodeError> {
        let mut state = self.state();
        match state.fail_next.take() {
            Some(err) => Err(err),
            None => Ok(state),
        }
    }

    pub fn proof() -> AccountProof {
        AccountProof {
            block: 2,
            root: keccak256("root 2"),
            account_id: 1,
            token: 0,
            balance: U256::from(ALICE_ETH),
            owner: ALICE,
            nonce: ALICE_NONCE,
            pubkey_x: U256::from(11),
            pubkey_y: U256::from(12),
            balance_path: vec![[U256::from(1), U256::from(2), U256::from(3)]; 3],
            account_path: vec![[U256::from(4), U256::from(5), U256::from(6)]; 8],
        }
    }
}

impl State {
    fn ops(&self) -> impl Iterator<Item = &OpView> {
        self.blocks.iter().flat_map(|b| &b.ops).chain(&self.pending)
    }

    fn address_of(&self, id: u32) -> Address {
        self.accounts
            .values()
            .find(|a| a.id == id)
            .map_or(Address::ZERO, |a| a.address)
    }
}

impl NodeApi for MemNode {
    fn info(&self) -> NodeInfo {
        self.info.clone()
    }

    async fn submit(&self, op: Op) -> Result<B256, NodeError> {
        let mut state = self.live()?;
        let hash = op.hash();
        if state.ops().any(|o| o.hash == hash) {
            return Err(NodeError::AlreadyKnown);
        }
        let (kind, from, to, token, amount, fee, nonce) = match &op {
            Op::Transfer(t) => (
                "transfer",
                t.from,
                Some(t.to),
                t.token,
                t.amount,
                t.fee,
                t.nonce,
            ),
            Op::Withdraw(w) => (
                "withdraw",
                w.from,
                Some(w.to),
                w.token,
                w.amount,
                w.fee,
                w.nonce,
            ),
            Op::ChangePubKey(c) => (
                "changePubKey",
                c.account,
                None,
                c.fee_token,
                0,
                c.fee,
                c.nonce,
            ),
            other => unreachable!("the RPC cannot submit {other:?}"),
        };
        let from = state.address_of(from.get());
        state.pending.push(OpView {
            hash,
            kind: kind.into(),
            from,
            to,
            token: token.get(),
            amount: U256::from(amount),
            fee: U256::from(fee),
            nonce: Some(nonce),
            priority_id: None,
            block: None,
            index: None,
        });
        state.submitted.push(op);
        Ok(hash)
    }

    async fn account(&self, address: Address) -> Result<Option<AccountInfo>, NodeError> {
        Ok(self.live()?.accounts.get(&address).cloned())
    }

    /// Alice's sealed history: nothing at the genesis, [`ALICE_ETH_SEALED`] and nonce 1 after
    /// block 1 (her ETH transfer), nonce 2 after block 2; everyone else holds no ETH.
    async fn account_at(&self, address: Address, block: u64) -> Result<AccountAt, NodeError> {
        let mut state = self.live()?;
        state.account_at_blocks.push(block);
        if block >= state.blocks.len() as u64 {
            return Err(NodeError::UnknownBlock);
        }
        if block < state.history_from {
            return Err(NodeError::HistoryUnavailable {
                block,
                first: state.history_from,
            });
        }
        let (balance, nonce) = match (address, block) {
            (ALICE, 0) => (0, 0),
            (ALICE, n) => (ALICE_ETH_SEALED, n as u32),
            _ => (0, 0),
        };
        Ok(AccountAt {
            block,
            balance: U256::from(balance),
            nonce,
        })
    }

    async fn op_status(&self, hash: B256) -> Result<Option<OpStatus>, NodeError> {
        let state = self.live()?;
        Ok(state.ops().find(|o| o.hash == hash).map(|op| OpStatus {
            hash,
            stage: match op.block {
                Some(n) => state.blocks[n as usize].stage,
                None => OpStage::Pending,
            },
            block: op.block,
            index: op.index,
            commit_tx: op.block.and_then(|n| state.blocks[n as usize].commit_tx),
            prove_tx: None,
            execute_tx: None,
        }))
    }

    async fn op(&self, hash: B256) -> Result<Option<OpView>, NodeError> {
        Ok(self.live()?.ops().find(|o| o.hash == hash).cloned())
    }

    async fn block(&self, number: u64) -> Result<Option<BlockInfo>, NodeError> {
        let state = self.live()?;
        Ok(usize::try_from(number)
            .ok()
            .and_then(|n| state.blocks.get(n))
            .cloned())
    }

    async fn block_number_by_hash(&self, hash: B256) -> Result<Option<u64>, NodeError> {
        Ok(self
            .live()?
            .blocks
            .iter()
            .find(|b| b.hash == hash)
            .map(|b| b.number))
    }

    async fn status(&self) -> Result<ChainStatus, NodeError> {
        let state = self.live()?;
        Ok(ChainStatus {
            latest_block: state.blocks.len() as u64 - 1,
            committed: 1,
            proven: 0,
            executed: 0,
            mempool: state.pending.len() as u64,
            unconfirmed_priority_ops: 0,
            sequencer: Default::default(),
        })
    }

    async fn fee_quote(&self, kind: FeeKind, token: u16) -> Result<FeeQuote, NodeError> {
        drop(self.live()?);
        let fee = match kind {
            FeeKind::Transfer => 1000,
            FeeKind::Withdraw => 5000,
            FeeKind::ChangePubKey => 3000,
        };
        Ok(FeeQuote {
            token,
            fee: U256::from(fee),
        })
    }

    async fn tokens(&self) -> Result<Vec<TokenInfo>, NodeError> {
        drop(self.live()?);
        Ok(vec![
            TokenInfo {
                id: 0,
                address: Address::ZERO,
            },
            TokenInfo {
                id: 1,
                address: ERC20,
            },
        ])
    }

    async fn account_proof(
        &self,
        account: u32,
        token: u16,
    ) -> Result<Option<AccountProof>, NodeError> {
        drop(self.live()?);
        Ok((account == 1 && token == 0).then(Self::proof))
    }

    async fn history(&self, address: Address, limit: usize) -> Result<Vec<OpView>, NodeError> {
        let mut state = self.live()?;
        state.last_history_limit = Some(limit);
        let mut ops: Vec<OpView> = state
            .ops()
            .filter(|o| o.from == address || o.to == Some(address))
            .cloned()
            .collect();
        ops.reverse();
        ops.truncate(limit);
        Ok(ops)
    }
}
