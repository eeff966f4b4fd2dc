//! What the RPC server asks of a node, and the JSON shapes of the `causeway_*` namespace.
//!
//! [`NodeApi`] is the one seam between the server and the node: the server turns JSON-RPC
//! requests into calls on it and its answers into JSON; the node (sequencer, storage, L1
//! progress) implements it; tests implement it in memory. The wallet and the load benchmark
//! speak the same types as clients.
//!
//! JSON conventions, as Ethereum clients expect them: addresses and hashes are `0x` hex;
//! amounts are [`U256`] as `0x` hex quantities (balances reach 2^112, beyond a JavaScript
//! number); account ids, token ids and nonces are plain JSON numbers (below 2^32).

use alloy_primitives::{Address, B256, Bytes, U256};
use causeway_primitives::{
    AccountId, Balance, ChangePubKey, ChangePubKeyAuth, Domain, Op, PackedPoint, TokenId, Transfer,
    TxSignature, Withdraw,
};
use serde::{Deserialize, Serialize};
use std::future::Future;

/// An EdDSA-Poseidon signature with the key that made it, as hex.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignatureJson {
    /// The packed Baby Jubjub public key (circomlib's packing).
    pub pubkey: B256,
    pub r8x: B256,
    pub r8y: B256,
    pub s: B256,
}

impl From<TxSignature> for SignatureJson {
    fn from(sig: TxSignature) -> Self {
        Self {
            pubkey: B256::from(sig.pubkey.0),
            r8x: B256::from(sig.r8_x),
            r8y: B256::from(sig.r8_y),
            s: B256::from(sig.s),
        }
    }
}

impl From<SignatureJson> for TxSignature {
    fn from(sig: SignatureJson) -> Self {
        Self {
            pubkey: PackedPoint(sig.pubkey.0),
            r8_x: sig.r8x.0,
            r8_y: sig.r8y.0,
            s: sig.s.0,
        }
    }
}

/// A signed L2 op as a client submits it to `causeway_sendOp`. Priority ops (deposits, full
/// exits) come from L1 only and cannot be submitted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum OpRequest {
    Transfer {
        from: u32,
        to: Address,
        token: u16,
        amount: U256,
        fee: U256,
        nonce: u32,
        signature: SignatureJson,
    },
    Withdraw {
        from: u32,
        to: Address,
        token: u16,
        amount: U256,
        fee: U256,
        nonce: u32,
        signature: SignatureJson,
    },
    ChangePubKey {
        account: u32,
        new_pubkey: B256,
        fee_token: u16,
        fee: U256,
        nonce: u32,
        /// The 65-byte EIP-191 signature of the owner's Ethereum key, or `null` when the key
        /// was registered on L1 with `authorizePubkey`.
        eth_signature: Option<Bytes>,
    },
}

/// Why an [`OpRequest`] is not an op (before any state is consulted).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("account id {0} is out of range (below 2^24)")]
    AccountId(u32),
    #[error("token id {0} is out of range (below 2^10)")]
    TokenId(u16),
    #[error("{field} {value} is above the largest balance, 2^112 - 1")]
    Amount { field: &'static str, value: U256 },
    #[error("the Ethereum signature must be 65 bytes (r ‖ s ‖ v), got {0}")]
    EthSignatureLength(usize),
}

fn account(id: u32) -> Result<AccountId, RequestError> {
    AccountId::new(id).map_err(|_| RequestError::AccountId(id))
}

fn token(id: u16) -> Result<TokenId, RequestError> {
    TokenId::new(id).map_err(|_| RequestError::TokenId(id))
}

fn balance(field: &'static str, value: U256) -> Result<Balance, RequestError> {
    u128::try_from(value)
        .ok()
        .filter(|v| *v <= causeway_primitives::MAX_BALANCE)
        .ok_or(RequestError::Amount { field, value })
}

impl OpRequest {
    /// The op this request asks for; only the ranges are checked here, the rest is the stf's.
    pub fn to_op(&self) -> Result<Op, RequestError> {
        Ok(match self {
            Self::Transfer {
                from,
                to,
                token: t,
                amount,
                fee,
                nonce,
                signature,
            } => Op::Transfer(Transfer {
                from: account(*from)?,
                to: *to,
                token: token(*t)?,
                amount: balance("amount", *amount)?,
                fee: balance("fee", *fee)?,
                nonce: *nonce,
                signature: (*signature).into(),
            }),
            Self::Withdraw {
                from,
                to,
                token: t,
                amount,
                fee,
                nonce,
                signature,
            } => Op::Withdraw(Withdraw {
                from: account(*from)?,
                to: *to,
                token: token(*t)?,
                amount: balance("amount", *amount)?,
                fee: balance("fee", *fee)?,
                nonce: *nonce,
                signature: (*signature).into(),
            }),
            Self::ChangePubKey {
                account: id,
                new_pubkey,
                fee_token,
                fee,
                nonce,
                eth_signature,
            } => Op::ChangePubKey(ChangePubKey {
                account: account(*id)?,
                new_pubkey: PackedPoint(new_pubkey.0),
                fee_token: token(*fee_token)?,
                fee: balance("fee", *fee)?,
                nonce: *nonce,
                auth: match eth_signature {
                    None => ChangePubKeyAuth::Onchain,
                    Some(sig) => ChangePubKeyAuth::EthSignature(
                        sig.as_ref()
                            .try_into()
                            .map_err(|_| RequestError::EthSignatureLength(sig.len()))?,
                    ),
                },
            }),
        })
    }

    /// The request that submits `op`; `None` for ops only L1 can make.
    pub fn from_op(op: &Op) -> Option<Self> {
        Some(match op {
            Op::Transfer(t) => Self::Transfer {
                from: t.from.get(),
                to: t.to,
                token: t.token.get(),
                amount: U256::from(t.amount),
                fee: U256::from(t.fee),
                nonce: t.nonce,
                signature: t.signature.into(),
            },
            Op::Withdraw(w) => Self::Withdraw {
                from: w.from.get(),
                to: w.to,
                token: w.token.get(),
                amount: U256::from(w.amount),
                fee: U256::from(w.fee),
                nonce: w.nonce,
                signature: w.signature.into(),
            },
            Op::ChangePubKey(c) => Self::ChangePubKey {
                account: c.account.get(),
                new_pubkey: B256::from(c.new_pubkey.0),
                fee_token: c.fee_token.get(),
                fee: U256::from(c.fee),
                nonce: c.nonce,
                eth_signature: match &c.auth {
                    ChangePubKeyAuth::EthSignature(sig) => Some(Bytes::copy_from_slice(sig)),
                    ChangePubKeyAuth::Onchain => None,
                },
            },
            Op::Noop | Op::Deposit(_) | Op::FullExit(_) => return None,
        })
    }
}

/// What a node is and where it settles: everything a wallet needs before it signs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeInfo {
    /// The chain id the Ethereum-style RPC reports (`eth_chainId`).
    pub l2_chain_id: u64,
    /// The L1 chain and rollup contract every L2 signature is bound to.
    pub l1_chain_id: u64,
    pub rollup: Address,
    /// Pubdata chunks per batch (the proving circuit's size).
    pub batch_chunks: u32,
    pub client_version: String,
}

impl NodeInfo {
    /// The domain every L2 signature of this deployment binds.
    pub fn domain(&self) -> Domain {
        Domain {
            chain_id: self.l1_chain_id,
            contract: self.rollup,
        }
    }
}

/// One token balance of an account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenBalance {
    pub token: u16,
    pub amount: U256,
}

/// An account as of the latest soft-confirmed state (every acknowledged op applied).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountInfo {
    pub id: u32,
    pub address: Address,
    /// The nonce the account's next L2 op must carry (ops waiting in the mempool counted).
    pub nonce: u32,
    /// The packed L2 key, `null` until a ChangePubKey registered one.
    pub pubkey: Option<B256>,
    /// Non-zero balances, by token id.
    pub balances: Vec<TokenBalance>,
}

/// An address's ETH balance and nonce in the state after a sealed block: what
/// `eth_getBalance` and `eth_getTransactionCount` answer for a block number or hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountAt {
    pub block: u64,
    /// The ETH (token 0) balance; 0 when the address had no account then.
    pub balance: U256,
    /// The nonce the account's next op had to carry after the block (sealed ops only); 0 when
    /// the address had no account then.
    pub nonce: u32,
}

/// Where an op is on its way to L1 finality.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum OpStage {
    /// Accepted and durable, executed against the soft state; its block is not sealed yet.
    Pending,
    /// In a sealed L2 block.
    Included,
    /// Its block's batch is committed on L1.
    Committed,
    /// Its batch's proof was verified on L1.
    Proven,
    /// Its batch was executed on L1: withdrawals are claimable.
    Executed,
}

/// The status of one op.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OpStatus {
    pub hash: B256,
    pub stage: OpStage,
    /// The L2 block (= L1 batch number) once included, and the op's index in it.
    pub block: Option<u64>,
    pub index: Option<u32>,
    pub commit_tx: Option<B256>,
    pub prove_tx: Option<B256>,
    pub execute_tx: Option<B256>,
}

/// An L2 block. Each sealed block is one L1 batch and one proof.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlockInfo {
    pub number: u64,
    pub hash: B256,
    /// The previous block's hash; zero for block 1.
    pub parent_hash: B256,
    pub timestamp: u64,
    /// The state root after the block.
    pub state_root: B256,
    /// The address of the account the block's fees went to.
    pub fee_recipient: Address,
    /// The block's ops, in order.
    pub ops: Vec<OpView>,
    pub stage: OpStage,
    pub commit_tx: Option<B256>,
    pub prove_tx: Option<B256>,
    pub execute_tx: Option<B256>,
}

/// An op as the RPC shows it, with the addresses of the accounts it names resolved: what
/// `eth_getTransactionByHash` and wallets' histories render.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OpView {
    pub hash: B256,
    /// `transfer`, `withdraw`, `changePubKey`, `deposit`, `fullExit` or `noop`.
    pub kind: String,
    /// The L2 address that signed (or, for priority ops, the L1 address that asked).
    pub from: Address,
    /// The recipient: an L2 address for transfers and deposits, an L1 address for
    /// withdrawals and full exits; `null` for ChangePubKey.
    pub to: Option<Address>,
    pub token: u16,
    pub amount: U256,
    pub fee: U256,
    /// The L2 nonce the op used; `null` for priority ops.
    pub nonce: Option<u32>,
    /// The L1 priority-queue serial number of a deposit or full exit.
    pub priority_id: Option<u64>,
    pub block: Option<u64>,
    pub index: Option<u32>,
}

/// Where the node and its batches are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChainStatus {
    /// The latest sealed L2 block (0 before the first).
    pub latest_block: u64,
    pub committed: u64,
    pub proven: u64,
    pub executed: u64,
    /// Ops accepted and waiting for the next sealed block.
    pub mempool: u64,
    /// Priority ops seen on L1 and waiting for their confirmations.
    pub unconfirmed_priority_ops: u64,
    /// Where the sequencer's time went since the node started (absent from older nodes).
    #[serde(default)]
    pub sequencer: SequencerPhases,
}

/// Microseconds the sequencer thread spent per phase since the node started (the rest of its
/// wall time it waited for ops), and the checking thread beside it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SequencerPhases {
    /// Signature checks, on the checking thread (not part of the sequencer thread's time).
    pub verify_us: u64,
    /// Running ops through the open block.
    pub execute_us: u64,
    /// Durable journal writes and acknowledgments.
    pub flush_us: u64,
    /// Sealing closed blocks (trees, roots), on the committing thread.
    pub seal_us: u64,
    /// Writing sealed blocks to the database, on the committing thread.
    pub commit_us: u64,
}

/// The fee the node asks for an op, in the op's fee token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FeeQuote {
    pub token: u16,
    pub fee: U256,
}

/// A token listed on L1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenInfo {
    pub id: u16,
    /// The ERC-20 contract; zero for ETH (token 0).
    pub address: Address,
}

/// The Merkle proof of one balance of one account against a state root: exactly the fields
/// of the L1 contract's `ExitProof`, plus where the root comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountProof {
    /// The L2 block whose post-state root the proof is against.
    pub block: u64,
    pub root: B256,
    pub account_id: u32,
    pub token: u16,
    pub balance: U256,
    pub owner: Address,
    pub nonce: u32,
    pub pubkey_x: U256,
    pub pubkey_y: U256,
    /// Bottom-up; each level's three siblings in index order.
    pub balance_path: Vec<[U256; 3]>,
    pub account_path: Vec<[U256; 3]>,
}

/// Which op kind a fee quote is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum FeeKind {
    Transfer,
    Withdraw,
    ChangePubKey,
}

/// Why the node refused an op or could not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NodeError {
    /// The request does not describe an op (bad ranges).
    #[error(transparent)]
    Request(#[from] RequestError),
    /// The state-transition function refused the op (signature, nonce, balance, ...): the
    /// user's fault, nothing changed. `reason` names the refusal (the stf error's variant).
    #[error("{message}")]
    Rejected { reason: String, message: String },
    #[error("fee {offered} is below the minimum {minimum} for this op")]
    FeeTooLow { offered: U256, minimum: U256 },
    #[error("sender {0} has too many ops waiting; wait for some to be included")]
    SenderLimit(Address),
    #[error("the mempool is full; retry later")]
    MempoolFull,
    #[error("an op with this hash was already accepted")]
    AlreadyKnown,
    /// The node itself failed (storage, shutting down): not the user's fault.
    #[error("node unavailable: {0}")]
    Unavailable(String),
    /// A state read named a block that is not sealed (a number beyond the latest block) or a
    /// hash of no block this node has. The message is geth's, which Ethereum libraries know.
    #[error("header not found")]
    UnknownBlock,
    /// A state read named a sealed block older than the node's state history: a node whose
    /// database predates history keeps it from the block it was upgraded at, `first`.
    #[error(
        "the state of block {block} is not available: this node's state history starts at block {first}"
    )]
    HistoryUnavailable { block: u64, first: u64 },
}

/// The node as the RPC server sees it. Every method answers from the soft-confirmed state
/// (every acknowledged op applied) unless it says otherwise.
pub trait NodeApi: Send + Sync + 'static {
    fn info(&self) -> NodeInfo;

    /// Accepts `op` once it is valid against the soft state and durable; returns its hash.
    fn submit(&self, op: Op) -> impl Future<Output = Result<B256, NodeError>> + Send;

    fn account(
        &self,
        address: Address,
    ) -> impl Future<Output = Result<Option<AccountInfo>, NodeError>> + Send;

    /// `address`'s ETH balance and nonce in the state after sealed block `block`, sealed ops
    /// only (block 0 is the genesis: the empty state, where both are 0).
    /// [`NodeError::UnknownBlock`] if `block` is not sealed yet,
    /// [`NodeError::HistoryUnavailable`] if the node keeps no state for it.
    fn account_at(
        &self,
        address: Address,
        block: u64,
    ) -> impl Future<Output = Result<AccountAt, NodeError>> + Send;

    fn op_status(
        &self,
        hash: B256,
    ) -> impl Future<Output = Result<Option<OpStatus>, NodeError>> + Send;

    /// The op with this hash, pending or sealed.
    fn op(&self, hash: B256) -> impl Future<Output = Result<Option<OpView>, NodeError>> + Send;

    /// Sealed block `number` (block 0 is the genesis: no ops, the empty state's root).
    fn block(
        &self,
        number: u64,
    ) -> impl Future<Output = Result<Option<BlockInfo>, NodeError>> + Send;

    fn block_number_by_hash(
        &self,
        hash: B256,
    ) -> impl Future<Output = Result<Option<u64>, NodeError>> + Send;

    fn status(&self) -> impl Future<Output = Result<ChainStatus, NodeError>> + Send;

    fn fee_quote(
        &self,
        kind: FeeKind,
        token: u16,
    ) -> impl Future<Output = Result<FeeQuote, NodeError>> + Send;

    fn tokens(&self) -> impl Future<Output = Result<Vec<TokenInfo>, NodeError>> + Send;

    /// Proof of `token`'s balance of `account` against the latest sealed block's root.
    fn account_proof(
        &self,
        account: u32,
        token: u16,
    ) -> impl Future<Output = Result<Option<AccountProof>, NodeError>> + Send;

    /// The latest ops that involve `address` (as sender or recipient), newest first.
    fn history(
        &self,
        address: Address,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<OpView>, NodeError>> + Send;
}
