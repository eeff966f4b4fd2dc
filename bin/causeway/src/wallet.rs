//! `causeway wallet`: a command-line wallet for Causeway accounts.
//!
//! Owns the user's side of the rollup: one Ethereum key kept in an encrypted keystore, the L2
//! key derived from it, and the flows that move funds in (deposit), around (transfer), out
//! (withdraw, claim) and watch them (balance, status, history). Every flow is a public async
//! function over a [`WalletContext`], so an integration test drives exactly what the binary
//! runs; the binary adds only arguments, prompts, progress bars and printing ([`cli`]).
//!
//! Layout:
//! - this file: [`WalletContext`], [`WalletError`] and the flows;
//! - [`keystore`]: the keystore file, passwords and private keys read from the user;
//! - [`amount`]: decimal amounts in a token's units ⇄ base units;
//! - [`sign`]: the L2 key derivation and the building and signing of ops (no IO);
//! - [`node`]: the L2 node's `causeway_*` JSON-RPC (the only place that speaks it);
//! - [`l1`]: the rollup contract and ERC-20s on L1;
//! - [`cli`]: the `causeway wallet` subcommands.
//!
//! Invariants:
//! - A private key is never printed, logged, or taken from the command line (it would show
//!   in `ps` and shell history); it is read from stdin, a file or the encrypted keystore.
//! - The wallet signs only for the domain (L1 chain id, rollup contract) the node reports, and
//!   refuses an L1 RPC on another chain than the node settles on.
//! - Amounts are exact: a decimal with more places than the token has is refused, never
//!   truncated; a transfer amount without an exact packed form is refused with the nearest
//!   one that has it. Only the fee is rounded, and only up (to the node's quote or above).
//!
//! An integration test under `bin/causeway/tests` can include this module as it is (it
//! depends on nothing else of the binary) with `#[path = "../src/wallet.rs"] mod wallet;`;
//! the submodules are declared with `#[path]` so that works.

#[path = "wallet/amount.rs"]
pub mod amount;
#[path = "wallet/cli.rs"]
pub mod cli;
#[path = "wallet/keystore.rs"]
pub mod keystore;
#[path = "wallet/l1.rs"]
pub mod l1;
#[path = "wallet/node.rs"]
pub mod node;
#[path = "wallet/sign.rs"]
pub mod sign;

pub use cli::{WalletArgs, run};

use alloy::primitives::{Address, B256, U256};
use alloy::signers::local::PrivateKeySigner;
use amount::ETH_DECIMALS;
use causeway_primitives::{AccountId, Balance, MAX_BALANCE, PackedAmount, TokenId};
use causeway_rpc::api::{AccountInfo, FeeKind, NodeInfo, OpRequest, OpStage, OpStatus, OpView};
use l1::L1;
use node::Node;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The L2 node a wallet talks to unless told otherwise. Not 8545: that is where a local L1
/// (anvil, geth) listens, and a wallet pointed at the wrong chain must fail loudly.
pub const DEFAULT_RPC: &str = "http://127.0.0.1:3050";
/// The L1 node: anvil's and geth's default.
pub const DEFAULT_L1_RPC: &str = "http://127.0.0.1:8545";
/// How long waiting for an op's stage lasts by default. Included takes a block time; executed
/// takes a proof and the L1 transactions, minutes on a devnet.
pub const DEFAULT_WAIT_TIMEOUT: Duration = Duration::from_secs(600);

/// Everything a wallet command can fail with. Each message says what went wrong and, where
/// the user can do something about it, what to do.
#[derive(Debug, thiserror::Error)]
pub enum WalletError {
    // ---- input
    #[error("{input:?} is not an amount: {reason}")]
    InvalidAmount { input: String, reason: String },
    #[error(
        "{amount} cannot be transferred exactly: transfer amounts are packed to 9 significant \
         digits; {nearest} can"
    )]
    NotPackable { amount: String, nearest: String },
    #[error("{input:?} is not a token: expected ETH, a token id or an ERC-20 address")]
    InvalidToken { input: String },
    #[error("token {0} is not listed on this rollup: `causeway wallet tokens` lists them")]
    UnknownToken(String),
    #[error("not a private key: {0}")]
    InvalidPrivateKey(&'static str),
    #[error("{0}")]
    Password(&'static str),
    // ---- keystore
    #[error(
        "no keystore at {0}: create one with `causeway wallet new` or `causeway wallet import` \
         (or pass --keystore / CAUSEWAY_KEYSTORE)"
    )]
    NoKeystore(PathBuf),
    #[error(
        "{0} already exists: refusing to overwrite a keystore; move it away or pick another --keystore"
    )]
    KeystoreExists(PathBuf),
    #[error("wrong password for keystore {0}")]
    WrongPassword(PathBuf),
    #[error("keystore {path}: {detail}")]
    Keystore { path: PathBuf, detail: String },
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error("$HOME is not set: pass --keystore or set CAUSEWAY_KEYSTORE")]
    NoHome,
    #[error("this command signs, but the wallet was opened without its key")]
    WatchOnly,
    #[error(
        "the keystore names address {expected} but its key is {got}'s: the file was edited; \
         re-import the key"
    )]
    SignerMismatch { expected: Address, got: Address },
    #[error("signing failed: {0}")]
    Signing(String),
    // ---- accounts and balances
    #[error("no L2 account for {0}: deposit first with `causeway wallet deposit`")]
    NoAccount(Address),
    #[error("account {0} has no L2 key yet: run `causeway wallet activate`")]
    NotActivated(Address),
    #[error(
        "the L2 key registered for {0} is not the one this wallet derives: run \
         `causeway wallet activate` to register this wallet's key"
    )]
    KeyMismatch(Address),
    #[error("insufficient {layer} balance: {have} {token}, need {need} ({detail})")]
    InsufficientBalance {
        layer: &'static str,
        token: String,
        have: String,
        need: String,
        detail: String,
    },
    #[error("an amount of 0 moves nothing")]
    ZeroAmount,
    #[error(
        "nothing to claim for {owner} in {token}: a withdrawal becomes claimable once its batch is \
         executed on L1 (`causeway wallet status <OPHASH>` shows how far it is)"
    )]
    NothingToClaim { owner: Address, token: String },
    // ---- the L2 node
    #[error("cannot reach the L2 node at {url} ({detail}): is it running? (--rpc / CAUSEWAY_RPC)")]
    Unreachable { url: String, detail: String },
    #[error("the L2 node at {url} answered {method} with something unexpected: {detail}")]
    BadResponse {
        url: String,
        method: &'static str,
        detail: String,
    },
    #[error("the L2 node at {url} is unavailable ({message}); retry later")]
    NodeUnavailable { url: String, message: String },
    #[error("the node refused the request as malformed: {0}")]
    BadRequest(String),
    #[error("another op from this account is pending or was just accepted ({0}); retry")]
    NonceConflict(String),
    #[error("the node rejected the op ({reason}): {message}{}", .hint.map(|h| format!("; {h}")).unwrap_or_default())]
    Rejected {
        reason: String,
        message: String,
        hint: Option<&'static str>,
    },
    #[error("the fee went up while the op was being signed ({0}); retry")]
    FeeTooLow(String),
    #[error("the node is busy ({0}); wait for your pending ops to be included, then retry")]
    Busy(String),
    /// Not shown to users: submitting treats an op the node already has as sent.
    #[error("the node already has this op")]
    AlreadyKnown,
    #[error(
        "the node does not know op {0}: check the hash, and that --rpc is the node it was sent to"
    )]
    OpNotFound(B256),
    #[error(
        "op {hash} is {} after {secs} s, not yet {}: it is not lost; check again with \
         `causeway wallet status {hash} --wait {}`",
        stage_name(*.reached), stage_name(*.wanted), stage_name(*.wanted)
    )]
    WaitTimeout {
        hash: B256,
        reached: OpStage,
        wanted: OpStage,
        secs: u64,
    },
    #[error(
        "the node has not picked up {kind} #{priority_id} (L1 tx {l1_tx}) after {secs} s: L1 \
         priority ops need confirmations first; `causeway wallet history` shows it once \
         executed. The operator must execute it before its deadline; after it, anyone may \
         start exodus (`causeway exit`)"
    )]
    PriorityOpNotSeen {
        kind: &'static str,
        l1_tx: B256,
        priority_id: u64,
        secs: u64,
    },
    // ---- L1
    #[error("cannot reach the L1 node at {url} ({detail}): pass --l1-rpc or set CAUSEWAY_L1_RPC")]
    L1Unreachable { url: String, detail: String },
    #[error(
        "the L1 node at {url} is chain {got}, but the rollup settles on chain {expected}: pass \
         the right --l1-rpc"
    )]
    L1ChainMismatch {
        url: String,
        got: u64,
        expected: u64,
    },
    #[error("L1 {what} failed: {detail}")]
    L1Call { what: String, detail: String },
    #[error("L1 {what} reverted (tx {tx})")]
    L1Reverted { what: String, tx: B256 },
}

impl WalletError {
    /// The process exit code: 2 for what the user typed wrong (as clap and `causeway util`
    /// do), 1 for everything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            WalletError::InvalidAmount { .. }
            | WalletError::NotPackable { .. }
            | WalletError::InvalidToken { .. }
            | WalletError::UnknownToken(_)
            | WalletError::InvalidPrivateKey(_)
            | WalletError::ZeroAmount => 2,
            _ => 1,
        }
    }

    fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        WalletError::Io {
            what: what.into(),
            source,
        }
    }
}

/// `e` and its causes, for messages about the network: a transport error alone often says
/// only "client error (Connect)", its cause says "Connection refused".
fn with_causes(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text = format!("{text}: {cause_text}");
        }
        source = cause.source();
    }
    text
}

/// How much of a token to move: an exact amount in base units, or everything the account
/// holds minus the fee.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Amount {
    Units(Balance),
    All,
}

/// A token as the wallet shows it: its id, contract, symbol and decimals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenMeta {
    pub id: u16,
    /// Zero for ETH.
    pub address: Address,
    pub symbol: String,
    pub decimals: u8,
}

impl TokenMeta {
    pub fn eth() -> Self {
        TokenMeta {
            id: 0,
            address: Address::ZERO,
            symbol: "ETH".into(),
            decimals: ETH_DECIMALS,
        }
    }

    /// `amount` in this token's units, with its symbol: `0.5 ETH`.
    pub fn show(&self, amount: impl Into<alloy::primitives::utils::ParseUnits>) -> String {
        format!(
            "{} {}",
            amount::format_amount(amount, self.decimals),
            self.symbol
        )
    }
}

/// A token as the user names it on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenSpec {
    Id(u16),
    Address(Address),
}

impl std::str::FromStr for TokenSpec {
    type Err = WalletError;

    fn from_str(s: &str) -> Result<Self, WalletError> {
        let invalid = || WalletError::InvalidToken { input: s.into() };
        if s.eq_ignore_ascii_case("eth") {
            Ok(TokenSpec::Id(0))
        } else if s.starts_with("0x") || s.starts_with("0X") {
            s.parse().map(TokenSpec::Address).map_err(|_| invalid())
        } else {
            s.parse().map(TokenSpec::Id).map_err(|_| invalid())
        }
    }
}

/// What a long-running flow reports while it runs; the CLI draws it, tests ignore it (`&()`).
pub trait Progress {
    fn event(&self, event: Event);
}

/// One step of a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// An L1 transaction was sent and is waiting to be mined.
    L1Sent { what: &'static str, tx: B256 },
    /// A priority op (deposit, full exit) is queued on L1; the node has not executed it yet.
    PriorityQueued {
        kind: &'static str,
        priority_id: u64,
    },
    /// The op reached this stage.
    Stage(OpStage),
}

impl Progress for () {
    fn event(&self, _: Event) {}
}

/// An unlocked (or watch-only) wallet bound to an L2 node and an L1 node.
pub struct WalletContext {
    address: Address,
    /// `None` for a watch-only wallet: reads work, signing fails with [`WalletError::WatchOnly`].
    signer: Option<PrivateKeySigner>,
    node: Node,
    l1_url: String,
    /// How often waiting asks the node for news.
    pub poll_interval: Duration,
    /// Token metadata seen so far: `causeway_getTokens` and two L1 calls per ERC-20 are not
    /// worth repeating for every amount printed.
    tokens: Mutex<HashMap<u16, TokenMeta>>,
}

impl std::fmt::Debug for WalletContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Spelled out so that no future field (or the signer's internals) leaks through `{:?}`.
        f.debug_struct("WalletContext")
            .field("address", &self.address)
            .field("watch_only", &self.signer.is_none())
            .field("rpc", &self.node.url())
            .field("l1_rpc", &self.l1_url)
            .finish()
    }
}

impl WalletContext {
    /// A wallet that signs with `signer`, talking to the L2 node at `rpc_url` and the L1 node
    /// at `l1_rpc_url` (neither is contacted until a flow needs it).
    pub fn new(
        signer: PrivateKeySigner,
        rpc_url: &str,
        l1_rpc_url: &str,
    ) -> Result<Self, WalletError> {
        let mut ctx = Self::watch_only(signer.address(), rpc_url, l1_rpc_url)?;
        ctx.signer = Some(signer);
        Ok(ctx)
    }

    /// A wallet that only reads the state of `address`.
    pub fn watch_only(
        address: Address,
        rpc_url: &str,
        l1_rpc_url: &str,
    ) -> Result<Self, WalletError> {
        Ok(WalletContext {
            address,
            signer: None,
            node: Node::new(rpc_url)?,
            l1_url: l1_rpc_url.to_owned(),
            poll_interval: Duration::from_secs(1),
            tokens: Mutex::new(HashMap::from([(0, TokenMeta::eth())])),
        })
    }

    pub fn address(&self) -> Address {
        self.address
    }

    pub fn can_sign(&self) -> bool {
        self.signer.is_some()
    }

    /// This watch-only wallet, now able to sign with `signer`, which must be its address's key.
    pub fn unlock(mut self, signer: PrivateKeySigner) -> Result<Self, WalletError> {
        if signer.address() != self.address {
            return Err(WalletError::SignerMismatch {
                expected: self.address,
                got: signer.address(),
            });
        }
        self.signer = Some(signer);
        Ok(self)
    }

    fn signer(&self) -> Result<&PrivateKeySigner, WalletError> {
        self.signer.as_ref().ok_or(WalletError::WatchOnly)
    }

    /// The L1 node, checked to be the chain the rollup settles on.
    async fn l1(&self, info: &NodeInfo) -> Result<L1, WalletError> {
        L1::connect(&self.l1_url, self.signer.as_ref(), info).await
    }

    /// Metadata of listed token `id`; an ERC-20's symbol and decimals come from L1.
    pub async fn token(&self, id: u16) -> Result<TokenMeta, WalletError> {
        if let Some(meta) = self.cached_token(id) {
            return Ok(meta);
        }
        let address = self.listed_token(id).await?;
        self.erc20_meta(id, address).await
    }

    /// The L1 address of listed token `id`.
    async fn listed_token(&self, id: u16) -> Result<Address, WalletError> {
        let listed = self.node.tokens().await?;
        listed
            .iter()
            .find(|t| t.id == id)
            .map(|t| t.address)
            .ok_or_else(|| WalletError::UnknownToken(id.to_string()))
    }

    async fn erc20_meta(&self, id: u16, address: Address) -> Result<TokenMeta, WalletError> {
        let l1 = self.l1(&self.node.node_info().await?).await?;
        let meta = l1.token_meta(id, address).await?;
        self.cache_token(meta.clone());
        Ok(meta)
    }

    /// Resolves a token named by id or by its L1 address.
    pub async fn resolve_token(&self, spec: TokenSpec) -> Result<TokenMeta, WalletError> {
        match spec {
            TokenSpec::Id(id) => self.token(id).await,
            TokenSpec::Address(a) if a == Address::ZERO => self.token(0).await,
            TokenSpec::Address(a) => {
                let listed = self.node.tokens().await?;
                let info = listed
                    .iter()
                    .find(|t| t.address == a)
                    .ok_or_else(|| WalletError::UnknownToken(a.to_string()))?;
                self.token(info.id).await
            }
        }
    }

    /// Like [`Self::token`], but a token whose metadata L1 cannot give (L1 down) is shown in
    /// base units, as `units of token <id>`, rather than failing: amounts in base units need no
    /// decimals, and a listing should not fail for want of a symbol.
    pub async fn token_or_raw(&self, id: u16) -> Result<TokenMeta, WalletError> {
        if let Some(meta) = self.cached_token(id) {
            return Ok(meta);
        }
        let address = self.listed_token(id).await?;
        Ok(self
            .erc20_meta(id, address)
            .await
            .unwrap_or_else(|_| TokenMeta {
                id,
                address,
                symbol: format!("units of token {id}"),
                decimals: 0,
            }))
    }

    fn cached_token(&self, id: u16) -> Option<TokenMeta> {
        // A poisoned cache only means a panic elsewhere; the data is still valid.
        let cache = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        cache.get(&id).cloned()
    }

    fn cache_token(&self, meta: TokenMeta) {
        let mut cache = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        cache.insert(meta.id, meta);
    }

    /// The wallet's L2 account, which must exist.
    async fn account(&self) -> Result<AccountInfo, WalletError> {
        self.node
            .account(self.address)
            .await?
            .ok_or(WalletError::NoAccount(self.address))
    }
}

fn balance_of(account: &AccountInfo, token: u16) -> Balance {
    account
        .balances
        .iter()
        .find(|b| b.token == token)
        .map_or(0, |b| u128::try_from(b.amount).unwrap_or(MAX_BALANCE))
}

fn account_id(ctx: &WalletContext, account: &AccountInfo) -> Result<AccountId, WalletError> {
    AccountId::new(account.id).map_err(|e| WalletError::BadResponse {
        url: ctx.node.url().to_owned(),
        method: "causeway_getAccount",
        detail: e.to_string(),
    })
}

fn token_id(id: u16) -> Result<TokenId, WalletError> {
    TokenId::new(id).map_err(|_| WalletError::UnknownToken(id.to_string()))
}

/// The wallet's L2 and L1 holdings.
#[derive(Debug)]
pub struct Balances {
    pub address: Address,
    /// `None` when the address has no L2 account yet.
    pub l2: Option<AccountInfo>,
    /// L1 holdings, or why they could not be read (L2 balances are still shown then).
    pub l1: Result<L1Balances, WalletError>,
}

#[derive(Debug)]
pub struct L1Balances {
    pub eth: U256,
    /// Executed withdrawals waiting for `causeway wallet claim`, by token id (non-zero only).
    pub claimable: Vec<(u16, U256)>,
}

/// Reads the wallet's L2 account, its L1 ETH and what it can claim on L1.
pub async fn balance(ctx: &WalletContext) -> Result<Balances, WalletError> {
    let info = ctx.node.node_info().await?;
    let l2 = ctx.node.account(ctx.address).await?;
    let tokens = ctx.node.tokens().await?;
    let l1 = async {
        let l1 = ctx.l1(&info).await?;
        let eth = l1.eth_balance(ctx.address).await?;
        let mut claimable = Vec::new();
        for t in &tokens {
            let pending = l1.pending(ctx.address, t.id).await?;
            if !pending.is_zero() {
                claimable.push((t.id, pending));
            }
        }
        Ok(L1Balances { eth, claimable })
    }
    .await;
    Ok(Balances {
        address: ctx.address,
        l2,
        l1,
    })
}

/// Every token listed on the rollup, with L1 metadata where L1 can give it.
pub async fn tokens(ctx: &WalletContext) -> Result<Vec<TokenMeta>, WalletError> {
    let listed = ctx.node.tokens().await?;
    let mut out = Vec::with_capacity(listed.len());
    for t in listed {
        out.push(ctx.token_or_raw(t.id).await?);
    }
    Ok(out)
}

/// What `activate` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// A ChangePubKey op with this hash was accepted.
    Submitted { hash: B256, fee: Balance },
    /// The account's registered key is already this wallet's derived key.
    AlreadyActive,
}

/// Registers the wallet's derived L2 key on its account with a ChangePubKey authorized by the
/// L1 key's signature; the fee (the node's quote) is paid in `fee_token`.
pub async fn activate(ctx: &WalletContext, fee_token: u16) -> Result<Activation, WalletError> {
    let signer = ctx.signer()?;
    let info = ctx.node.node_info().await?;
    let account = ctx.account().await?;
    let l2_key = sign::derive_l2_key(signer)?;
    let new_pubkey = l2_key.public_key();
    if account.pubkey == Some(B256::from(new_pubkey.to_packed().0)) {
        return Ok(Activation::AlreadyActive);
    }
    let fee = sign::round_fee_up(ctx.node.fee(FeeKind::ChangePubKey, fee_token).await?);
    let have = balance_of(&account, fee_token);
    if have < fee {
        let meta = ctx.token_or_raw(fee_token).await?;
        return Err(WalletError::InsufficientBalance {
            layer: "L2",
            token: meta.symbol.clone(),
            have: amount::format_amount(have, meta.decimals),
            need: amount::format_amount(fee, meta.decimals),
            detail: "the ChangePubKey fee".into(),
        });
    }
    let cpk = sign::sign_change_pubkey(
        signer,
        &info.domain(),
        &sign::KeyChange {
            account: account_id(ctx, &account)?,
            new_pubkey: new_pubkey.to_packed(),
            fee_token: token_id(fee_token)?,
            fee,
            nonce: account.nonce,
        },
    )?;
    let hash = submit(ctx, causeway_primitives::Op::ChangePubKey(cpk)).await?;
    Ok(Activation::Submitted { hash, fee })
}

/// An L2 op the node accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Submitted {
    pub hash: B256,
    pub amount: Balance,
    pub fee: Balance,
    pub nonce: u32,
}

/// Which L2 op moves the funds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Movement {
    Transfer,
    Withdraw,
}

/// Sends `amount` of `token` to the L2 account of `to` (created if it has none), paying the
/// node's quoted fee in the same token.
pub async fn transfer(
    ctx: &WalletContext,
    to: Address,
    token: u16,
    amount: Amount,
) -> Result<Submitted, WalletError> {
    send_funds(ctx, Movement::Transfer, to, token, amount).await
}

/// Moves `amount` of `token` out of L2 to `to` on L1 (default: the wallet's own address); it
/// is claimable with [`claim`] once its batch is executed on L1.
pub async fn withdraw(
    ctx: &WalletContext,
    to: Option<Address>,
    token: u16,
    amount: Amount,
) -> Result<Submitted, WalletError> {
    send_funds(
        ctx,
        Movement::Withdraw,
        to.unwrap_or(ctx.address),
        token,
        amount,
    )
    .await
}

async fn send_funds(
    ctx: &WalletContext,
    kind: Movement,
    to: Address,
    token: u16,
    amount: Amount,
) -> Result<Submitted, WalletError> {
    let signer = ctx.signer()?;
    let info = ctx.node.node_info().await?;
    let account = ctx.account().await?;
    let l2_key = sign::derive_l2_key(signer)?;
    match account.pubkey {
        None => return Err(WalletError::NotActivated(ctx.address)),
        Some(registered) if registered.0 != l2_key.public_key().to_packed().0 => {
            return Err(WalletError::KeyMismatch(ctx.address));
        }
        Some(_) => {}
    }
    // Before the fee quote: an unlisted token is the user's mistake, named as such.
    let meta = ctx.token_or_raw(token).await?;
    let fee_kind = match kind {
        Movement::Transfer => FeeKind::Transfer,
        Movement::Withdraw => FeeKind::Withdraw,
    };
    let fee = sign::round_fee_up(ctx.node.fee(fee_kind, token).await?);
    let have = balance_of(&account, token);
    let amount = match amount {
        Amount::Units(0) => return Err(WalletError::ZeroAmount),
        Amount::Units(units) => units,
        // Everything but the fee; a transfer amount must also pack, so round down to a form
        // that does (a withdrawal carries any amount).
        Amount::All => {
            let rest = have.saturating_sub(fee);
            match kind {
                Movement::Transfer => PackedAmount::round_down(rest).value(),
                Movement::Withdraw => rest,
            }
        }
    };
    if kind == Movement::Transfer && !PackedAmount::is_packable(amount) {
        return Err(WalletError::NotPackable {
            amount: meta.show(amount),
            nearest: meta.show(PackedAmount::round_down(amount).value()),
        });
    }
    let need = amount.saturating_add(fee);
    if amount == 0 || have < need {
        return Err(WalletError::InsufficientBalance {
            layer: "L2",
            token: meta.symbol.clone(),
            have: amount::format_amount(have, meta.decimals),
            need: amount::format_amount(need, meta.decimals),
            detail: format!(
                "{} + fee {}",
                amount::format_amount(amount, meta.decimals),
                amount::format_amount(fee, meta.decimals)
            ),
        });
    }
    let payment = sign::Payment {
        from: account_id(ctx, &account)?,
        to,
        token: token_id(token)?,
        amount,
        fee,
        nonce: account.nonce,
    };
    let op = match kind {
        Movement::Transfer => causeway_primitives::Op::Transfer(sign::sign_transfer(
            &l2_key,
            &info.domain(),
            &payment,
        )),
        Movement::Withdraw => causeway_primitives::Op::Withdraw(sign::sign_withdraw(
            &l2_key,
            &info.domain(),
            &payment,
        )),
    };
    let hash = submit(ctx, op).await?;
    Ok(Submitted {
        hash,
        amount,
        fee,
        nonce: payment.nonce,
    })
}

/// Sends a signed op; an op the node already has counts as sent (a retry after a lost answer).
async fn submit(ctx: &WalletContext, op: causeway_primitives::Op) -> Result<B256, WalletError> {
    let request = OpRequest::from_op(&op).expect("the wallet only builds L2 ops");
    match ctx.node.send_op(&request).await {
        Err(WalletError::Rejected { reason, .. }) if reason == "NoPubKey" => {
            Err(WalletError::NotActivated(ctx.address))
        }
        Err(WalletError::Rejected { reason, .. }) if reason == "AccountNotFound" => {
            Err(WalletError::NoAccount(ctx.address))
        }
        Err(WalletError::AlreadyKnown) => Ok(op.hash()),
        other => other,
    }
}

/// An L1 deposit that went through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DepositReceipt {
    pub l1_tx: B256,
    /// The ERC-20 approval sent first, if the allowance was short.
    pub approve_tx: Option<B256>,
    /// The deposit's serial number in the L1 priority queue.
    pub priority_id: u64,
    pub to: Address,
    pub token: u16,
    pub amount: Balance,
}

/// Deposits `amount` of `token` from the wallet's L1 address to the L2 account of `to`
/// (default: the wallet's own address): `depositETH`, or `approve` (when the allowance is
/// short) and `depositERC20`. Returns once the deposit is mined on L1; the node credits it
/// after its confirmations ([`wait_for_deposit`]).
pub async fn deposit(
    ctx: &WalletContext,
    token: u16,
    amount: Balance,
    to: Option<Address>,
    progress: &dyn Progress,
) -> Result<DepositReceipt, WalletError> {
    if amount == 0 {
        return Err(WalletError::ZeroAmount);
    }
    ctx.signer()?;
    let to = to.unwrap_or(ctx.address);
    let info = ctx.node.node_info().await?;
    let meta = ctx.token(token).await?;
    let l1 = ctx.l1(&info).await?;
    l1.deposit(&meta, ctx.address, to, amount, progress).await
}

/// A FullExit request mined on L1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FullExitReceipt {
    pub l1_tx: B256,
    pub priority_id: u64,
    pub owner: Address,
    pub token: u16,
    /// Unix time by which the operator must execute it; after it anyone may start exodus.
    pub deadline: u64,
}

/// Requests on L1 the withdrawal of the wallet's whole `token` balance on L2: the way out
/// when the operator ignores (censors) the account's L2 withdrawals. The operator must execute
/// it before its deadline or the rollup can be stopped (exodus); once executed, the amount is
/// claimable on L1 ([`claim`]).
pub async fn full_exit(
    ctx: &WalletContext,
    token: u16,
    progress: &dyn Progress,
) -> Result<FullExitReceipt, WalletError> {
    ctx.signer()?;
    let info = ctx.node.node_info().await?;
    let account = ctx.account().await?;
    let id = account_id(ctx, &account)?;
    ctx.token_or_raw(token).await?;
    let l1 = ctx.l1(&info).await?;
    l1.full_exit(id.get(), token, progress).await
}

/// Withdrawals executed on L1 for `owner` (default: the wallet's address) in `token`, paid
/// out by `withdrawPending`. Anyone may claim for anyone; the funds only go to `owner`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claimed {
    pub tx: B256,
    pub owner: Address,
    pub token: u16,
    pub amount: U256,
}

pub async fn claim(
    ctx: &WalletContext,
    token: u16,
    owner: Option<Address>,
    progress: &dyn Progress,
) -> Result<Claimed, WalletError> {
    ctx.signer()?;
    let owner = owner.unwrap_or(ctx.address);
    let info = ctx.node.node_info().await?;
    let meta = ctx.token_or_raw(token).await?;
    let l1 = ctx.l1(&info).await?;
    let amount = l1.pending(owner, token).await?;
    if amount.is_zero() {
        return Err(WalletError::NothingToClaim {
            owner,
            token: meta.symbol,
        });
    }
    let tx = l1.claim(owner, token, progress).await?;
    Ok(Claimed {
        tx,
        owner,
        token,
        amount,
    })
}

/// An op's status and, when the node still has it, the op itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpDetails {
    pub status: OpStatus,
    pub op: Option<OpView>,
}

pub async fn status(ctx: &WalletContext, hash: B256) -> Result<OpDetails, WalletError> {
    let status = ctx
        .node
        .op_status(hash)
        .await?
        .ok_or(WalletError::OpNotFound(hash))?;
    let op = ctx.node.op(hash).await?;
    Ok(OpDetails { status, op })
}

/// The latest `limit` ops that involve the wallet's address, newest first.
pub async fn history(ctx: &WalletContext, limit: u64) -> Result<Vec<OpView>, WalletError> {
    ctx.node.history(ctx.address, limit).await
}

/// A stage as the CLI names it (`--wait included`).
pub fn stage_name(stage: OpStage) -> &'static str {
    match stage {
        OpStage::Pending => "pending",
        OpStage::Included => "included",
        OpStage::Committed => "committed",
        OpStage::Proven => "proven",
        OpStage::Executed => "executed",
    }
}

/// Polls op `hash` until it reaches `target` (reporting each new stage) or `timeout` passes.
pub async fn wait_for(
    ctx: &WalletContext,
    hash: B256,
    target: OpStage,
    timeout: Duration,
    progress: &dyn Progress,
) -> Result<OpStatus, WalletError> {
    let start = Instant::now();
    let mut last = None;
    loop {
        let status = ctx
            .node
            .op_status(hash)
            .await?
            .ok_or(WalletError::OpNotFound(hash))?;
        if last != Some(status.stage) {
            progress.event(Event::Stage(status.stage));
            last = Some(status.stage);
        }
        if status.stage >= target {
            return Ok(status);
        }
        if start.elapsed() >= timeout {
            return Err(WalletError::WaitTimeout {
                hash,
                reached: status.stage,
                wanted: target,
                secs: timeout.as_secs(),
            });
        }
        tokio::time::sleep(ctx.poll_interval).await;
    }
}

/// Waits for the node to execute deposit `receipt` on L2 (found in the recipient's history by
/// its priority id), then for the op to reach `target`; `timeout` covers both.
pub async fn wait_for_deposit(
    ctx: &WalletContext,
    receipt: &DepositReceipt,
    target: OpStage,
    timeout: Duration,
    progress: &dyn Progress,
) -> Result<OpStatus, WalletError> {
    let queued = Queued {
        kind: "deposit",
        account: receipt.to,
        priority_id: receipt.priority_id,
        l1_tx: receipt.l1_tx,
    };
    wait_for_priority_op(ctx, queued, target, timeout, progress).await
}

/// Waits for the node to execute FullExit `receipt`, then for it to reach `target`.
pub async fn wait_for_full_exit(
    ctx: &WalletContext,
    receipt: &FullExitReceipt,
    target: OpStage,
    timeout: Duration,
    progress: &dyn Progress,
) -> Result<OpStatus, WalletError> {
    let queued = Queued {
        kind: "fullExit",
        account: receipt.owner,
        priority_id: receipt.priority_id,
        l1_tx: receipt.l1_tx,
    };
    wait_for_priority_op(ctx, queued, target, timeout, progress).await
}

/// A priority op queued on L1, as the node's history names it.
struct Queued {
    kind: &'static str,
    account: Address,
    priority_id: u64,
    l1_tx: B256,
}

async fn wait_for_priority_op(
    ctx: &WalletContext,
    queued: Queued,
    target: OpStage,
    timeout: Duration,
    progress: &dyn Progress,
) -> Result<OpStatus, WalletError> {
    let start = Instant::now();
    progress.event(Event::PriorityQueued {
        kind: queued.kind,
        priority_id: queued.priority_id,
    });
    let hash = loop {
        // Priority ops are rare next to a busy account's transfers; a page of history reaches
        // back far enough for one queued moments ago.
        let ops = ctx.node.history(queued.account, 100).await?;
        if let Some(op) = ops
            .iter()
            .find(|op| op.kind == queued.kind && op.priority_id == Some(queued.priority_id))
        {
            break op.hash;
        }
        if start.elapsed() >= timeout {
            return Err(WalletError::PriorityOpNotSeen {
                kind: queued.kind,
                l1_tx: queued.l1_tx,
                priority_id: queued.priority_id,
                secs: timeout.as_secs(),
            });
        }
        tokio::time::sleep(ctx.poll_interval).await;
    };
    wait_for(
        ctx,
        hash,
        target,
        timeout.saturating_sub(start.elapsed()),
        progress,
    )
    .await
}

#[cfg(test)]
#[path = "wallet/tests.rs"]
mod tests;
