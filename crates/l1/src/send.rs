//! Sending the operator's L1 transactions, one at a time, until each is mined.
//!
//! A [`TxSender`] owns one key's nonce counter and the transaction in flight. For each
//! [`TxSender::send`] it estimates gas (a revert there is [`SendError::Reverted`] at once),
//! prices the transaction from `eth_feeHistory` (EIP-1559), signs it locally and broadcasts
//! it, then polls for the receipt. If none comes within [`SendConfig::bump_after`] it
//! replaces the transaction (same nonce) with fees raised by at least 12.5% (nodes refuse
//! smaller bumps), up to the configured caps; at the caps it keeps rebroadcasting.
//!
//! Invariants:
//! - Every signed transaction of the sender uses the nonce counter, which moves on only once
//!   a transaction with that nonce is mined (successful or reverted). It is read from
//!   `eth_getTransactionCount(pending)` at start, and read again when the node says the
//!   nonce is taken or out of order (another process used the key, or a transaction was
//!   dropped): a replaced nonce never silently swallows a transaction.
//! - A replacement always pays at least 12.5% more on both the fee cap and the tip than the
//!   transaction it replaces, so nodes accept it.
//! - Transport failures (connection refused while the L1 node restarts, timeouts, 5xx, rate
//!   limits) are retried with exponential backoff for up to [`SendConfig::give_up_after`];
//!   after one, the latest transaction is rebroadcast, since a restarted node may have lost
//!   its pool. Answers that retrying cannot change (a revert, insufficient funds) end the
//!   send with a typed error at once.
//! - Dropping a `send` future midway is safe: the transaction it broadcast is remembered, and
//!   the next `send` first checks whether it was mined (then moves past its nonce) and
//!   otherwise replaces it, paying the bump.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use alloy::eips::BlockId;
use alloy::eips::eip2718::Encodable2718;
use alloy::network::{
    Ethereum, EthereumWallet, NetworkTransactionBuilder, TransactionBuilder,
    TransactionBuilderError,
};
use alloy::primitives::{Address, B256, Bytes};
use alloy::providers::{Provider, RootProvider};
use alloy::rpc::client::RpcClient;
use alloy::rpc::types::{TransactionReceipt, TransactionRequest};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolInterface;
use alloy::transports::http::reqwest::{self, Url};
use alloy::transports::{RpcError, TransportError, TransportErrorKind, TransportResult};
use causeway_bindings::ZkRollup::ZkRollupErrors;

/// How the sender prices, waits and retries.
#[derive(Debug, Clone)]
pub struct SendConfig {
    /// Replace a transaction not mined within this long with a higher-paying one.
    pub bump_after: Duration,
    /// The highest fee cap (`maxFeePerGas`, wei) the sender ever offers.
    pub max_fee_per_gas: u128,
    /// The highest tip (`maxPriorityFeePerGas`, wei) the sender ever offers.
    pub max_priority_fee_per_gas: u128,
    /// Gas limit = estimate × (100 + this) / 100: state may change between estimation and
    /// inclusion (another batch, a deposit).
    pub gas_margin_percent: u64,
    /// How often to look for the receipt.
    pub poll_interval: Duration,
    /// First wait after a transport failure; doubled after each until `retry_max`.
    pub retry_initial: Duration,
    pub retry_max: Duration,
    /// How long the L1 node may stay unreachable before a call fails with
    /// [`SendError::Unreachable`].
    pub give_up_after: Duration,
    /// Timeout of one HTTP request: a hung node counts as unreachable.
    pub request_timeout: Duration,
}

impl Default for SendConfig {
    /// Mainnet-like: bump after three blocks, caps of 500 gwei and 20 gwei, ten minutes of
    /// outage before giving up.
    fn default() -> Self {
        SendConfig {
            bump_after: Duration::from_secs(36),
            max_fee_per_gas: 500_000_000_000,
            max_priority_fee_per_gas: 20_000_000_000,
            gas_margin_percent: 20,
            poll_interval: Duration::from_secs(2),
            retry_initial: Duration::from_millis(250),
            retry_max: Duration::from_secs(10),
            give_up_after: Duration::from_secs(600),
            request_timeout: Duration::from_secs(20),
        }
    }
}

/// The revert data of a failed call or transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revert {
    /// The raw revert data (empty when the node gave none, e.g. out of gas).
    pub data: Bytes,
    /// The node's message (`execution reverted: ...`).
    pub message: String,
}

impl Revert {
    /// The 4-byte error selector, if the data has one.
    pub fn selector(&self) -> Option<[u8; 4]> {
        self.data.get(..4).map(|s| s.try_into().expect("4 bytes"))
    }

    /// The data decoded as one of the rollup contract's custom errors.
    pub fn decoded(&self) -> Option<ZkRollupErrors> {
        ZkRollupErrors::abi_decode(&self.data).ok()
    }

    /// The data decoded as one of another interface's errors.
    pub fn decode<E: SolInterface>(&self) -> Option<E> {
        E::abi_decode(&self.data).ok()
    }

    /// The rollup contract's name for the error, e.g. `WrongBatch(uint64)`.
    pub fn signature(&self) -> Option<&'static str> {
        ZkRollupErrors::signature_by_selector(self.selector()?)
    }
}

impl std::fmt::Display for Revert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(signature) = self.signature() {
            write!(f, "{signature} {}", self.data)
        } else if let Some(reason) = alloy::sol_types::decode_revert_reason(&self.data) {
            write!(f, "{reason}")
        } else if self.data.is_empty() {
            write!(f, "no revert data ({})", self.message)
        } else {
            write!(f, "{} ({})", self.data, self.message)
        }
    }
}

/// Why a send failed. [`SendError::Unreachable`] and [`SendError::Rpc`] are the L1 node's
/// (infrastructure); the others are the transaction's, and sending it again as it is fails
/// again.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The L1 node stayed unreachable for [`SendConfig::give_up_after`].
    #[error("L1 unreachable for {waited:?} ({what}): {source}")]
    Unreachable {
        what: &'static str,
        waited: Duration,
        #[source]
        source: TransportError,
    },
    /// The L1 node answered a request with an error retrying does not fix.
    #[error("L1 RPC {what}: {source}")]
    Rpc {
        what: &'static str,
        #[source]
        source: TransportError,
    },
    /// The transaction reverts: in gas estimation (`receipt` is `None`, nothing was sent) or
    /// on chain (the nonce is used; `revert` is from replaying the call on the block before,
    /// so it is the likely reason, not a certainty).
    #[error("transaction reverted {}: {revert}", if receipt.is_some() { "on chain" } else { "in gas estimation" })]
    Reverted {
        revert: Revert,
        receipt: Option<Box<TransactionReceipt>>,
    },
    /// The L1 node refused the transaction (insufficient funds, gas limit, ...).
    #[error("the L1 node refused the transaction: {message}")]
    Rejected { message: String },
    /// The nonce was taken by other transactions again after each re-sync: another process
    /// is sending with the same key.
    #[error("nonce still conflicting after {resyncs} re-syncs from the L1 node: {reason}")]
    NonceConflict { resyncs: u32, reason: String },
    /// Building or signing the transaction failed.
    #[error("signing: {0}")]
    Sign(#[from] TransactionBuilderError<Ethereum>),
    /// The HTTP client could not be built.
    #[error("HTTP client: {0}")]
    Http(#[source] reqwest::Error),
}

/// Nonce re-syncs one send may do before it concludes the key is shared.
const MAX_RESYNCS: u32 = 3;

/// A transaction's fees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Fees {
    max_fee: u128,
    tip: u128,
}

impl Fees {
    /// The least a replacement must offer: 12.5% more on both, rounded up, and at least 1 wei
    /// more so that a zero tip grows too.
    fn bumped(self) -> Fees {
        Fees {
            max_fee: self.max_fee + self.max_fee.div_ceil(8).max(1),
            tip: self.tip + self.tip.div_ceil(8).max(1),
        }
    }

    /// The larger of each.
    fn max(self, other: Fees) -> Fees {
        Fees {
            max_fee: self.max_fee.max(other.max_fee),
            tip: self.tip.max(other.tip),
        }
    }

    /// Whether nodes accept `self` as a replacement of `old`.
    fn replaces(self, old: Fees) -> bool {
        self.max_fee >= old.max_fee + old.max_fee.div_ceil(8)
            && self.tip >= old.tip + old.tip.div_ceil(8)
    }
}

/// A signed transaction that a node accepted (or may have).
#[derive(Debug, Clone)]
struct Attempt {
    hash: B256,
    raw: Bytes,
}

/// The transactions broadcast at `nonce` and not yet seen mined: what a `send` dropped before
/// its receipt leaves behind for the next one to settle or outbid.
#[derive(Debug, Clone)]
struct InFlight {
    nonce: u64,
    hashes: Vec<B256>,
    fees: Fees,
}

/// How a node answered a broadcast.
enum Broadcast {
    Accepted,
    /// The nonce is used (by one of our attempts, or by another transaction).
    NonceTooLow(String),
    /// A nonce gap: the counter is ahead of the chain.
    NonceTooHigh(String),
    /// Too cheap: below the base fee or the node's minimum, or not a sufficient bump over a
    /// pooled transaction with this nonce.
    Underpriced,
}

/// Why the wait for one nonce ended without a receipt: the counter must be re-read.
struct Resync(String);

/// Sends transactions from one key; see the module docs.
#[derive(Debug)]
pub struct TxSender {
    provider: RootProvider,
    wallet: EthereumWallet,
    address: Address,
    chain_id: u64,
    cfg: SendConfig,
    /// The nonce of the next transaction.
    nonce: u64,
    in_flight: Option<InFlight>,
    /// A transport failure happened since the last broadcast: the node may have restarted
    /// and lost its pool.
    disrupted: AtomicBool,
}

impl TxSender {
    /// Connects to `endpoint` (retrying while it is unreachable), reads the chain id and the
    /// key's pending nonce.
    pub async fn new(
        endpoint: Url,
        signer: PrivateKeySigner,
        cfg: SendConfig,
    ) -> Result<Self, SendError> {
        let client = reqwest::Client::builder()
            .timeout(cfg.request_timeout)
            .build()
            .map_err(SendError::Http)?;
        let provider = RootProvider::new(RpcClient::new_http_with_client(client, endpoint));
        let address = signer.address();
        let mut sender = TxSender {
            provider,
            wallet: EthereumWallet::from(signer),
            address,
            chain_id: 0,
            cfg,
            nonce: 0,
            in_flight: None,
            disrupted: AtomicBool::new(false),
        };
        sender.chain_id = sender
            .call("eth_chainId", || sender.provider.get_chain_id())
            .await?;
        sender.nonce = sender.pending_nonce().await?;
        Ok(sender)
    }

    /// The sending key's address.
    pub fn address(&self) -> Address {
        self.address
    }

    /// The nonce the next transaction will get.
    pub fn next_nonce(&self) -> u64 {
        self.nonce
    }

    /// The provider the sender uses (HTTP, with the configured timeout), for reads.
    pub fn provider(&self) -> &RootProvider {
        &self.provider
    }

    /// Sends `tx` (its `to`, `input`, `value`, and `gas` if set; the sender fills in the
    /// rest) and waits until it is mined. A transaction mined but reverted is
    /// [`SendError::Reverted`] with its receipt.
    pub async fn send(
        &mut self,
        mut tx: TransactionRequest,
    ) -> Result<TransactionReceipt, SendError> {
        tx.from = Some(self.address);
        tx.chain_id = Some(self.chain_id);
        tx.gas_price = None;
        tx.nonce = None;
        tx.max_fee_per_gas = None;
        tx.max_priority_fee_per_gas = None;
        if tx.gas.is_none() {
            let estimate = self.estimate_gas(&tx).await?;
            tx.gas = Some(estimate.saturating_mul(100 + self.cfg.gas_margin_percent) / 100);
        }
        self.settle_in_flight().await?;
        let mut resyncs = 0;
        loop {
            match self.send_at_nonce(&tx).await? {
                Ok(receipt) => return self.finish(receipt, &tx).await,
                Err(Resync(reason)) => {
                    resyncs += 1;
                    if resyncs > MAX_RESYNCS {
                        return Err(SendError::NonceConflict {
                            resyncs: MAX_RESYNCS,
                            reason,
                        });
                    }
                    let nonce = self.pending_nonce().await?;
                    tracing::warn!(old = self.nonce, new = nonce, %reason, "re-syncing the L1 nonce");
                    self.nonce = nonce;
                    self.in_flight = None;
                }
            }
        }
    }

    /// Broadcasts `tx` at the current nonce and waits for one of its versions to be mined,
    /// bumping fees as configured. `Err(Resync)` when the nonce turns out to be wrong.
    async fn send_at_nonce(
        &mut self,
        tx: &TransactionRequest,
    ) -> Result<Result<TransactionReceipt, Resync>, SendError> {
        let nonce = self.nonce;
        let mut fees = self.fees().await?;
        // Replacing what a dropped send left at this nonce: pay the bump over it.
        if let Some(in_flight) = &self.in_flight
            && in_flight.nonce == nonce
        {
            fees = self.capped(fees.max(in_flight.fees.bumped()));
        }
        let mut attempts: Vec<Attempt> = Vec::new();
        let mut need_send = true;
        let mut last_send = Instant::now();
        loop {
            if need_send {
                need_send = false;
                last_send = Instant::now();
                let attempt = self.sign(tx, nonce, fees).await?;
                let raw = attempt.raw.clone();
                // Counted as sent before the node answers: an answer lost in a timeout may
                // hide an accepted (and then mined) transaction.
                tracing::info!(nonce, hash = %attempt.hash, max_fee = fees.max_fee, tip = fees.tip, "sending an L1 transaction");
                attempts.push(attempt);
                self.remember(nonce, &attempts, fees);
                match self.broadcast(&raw).await? {
                    Broadcast::Accepted => {}
                    Broadcast::Underpriced => {
                        // Refused for sure: not in any pool.
                        attempts.pop();
                        // Below the base fee, or a pooled transaction at this nonce pays
                        // more (one this process no longer knows of): pay more right away,
                        // unless at the caps; then try again after `bump_after`.
                        let next = self.capped(fees.bumped());
                        if next.replaces(fees) {
                            fees = next;
                            need_send = true;
                            continue;
                        }
                        tracing::warn!(
                            nonce,
                            max_fee = fees.max_fee,
                            "L1 transaction underpriced at the fee caps"
                        );
                    }
                    Broadcast::NonceTooLow(reason) => {
                        if let Some(receipt) = self.any_receipt(&attempts).await? {
                            return Ok(Ok(receipt));
                        }
                        return Ok(Err(Resync(reason)));
                    }
                    Broadcast::NonceTooHigh(reason) => return Ok(Err(Resync(reason))),
                }
            }

            if let Some(receipt) = self.any_receipt(&attempts).await? {
                return Ok(Ok(receipt));
            }

            // After an outage the node may have restarted without its pool: send again.
            if self.disrupted.swap(false, Ordering::Relaxed)
                && let Some(latest) = attempts.last()
            {
                tracing::info!(nonce, hash = %latest.hash, "rebroadcasting after an L1 outage");
                let raw = latest.raw.clone();
                if let Some(resync) = self.rebroadcast(&raw, &attempts).await? {
                    return Ok(resync);
                }
            }

            if last_send.elapsed() >= self.cfg.bump_after {
                // Is the nonce still ours to use? Read the count before the receipts, so a
                // transaction of ours mined in between is not taken for a foreign one.
                let latest = self
                    .call("eth_getTransactionCount", || {
                        self.provider.get_transaction_count(self.address).latest()
                    })
                    .await?;
                if latest > nonce {
                    if let Some(receipt) = self.any_receipt(&attempts).await? {
                        return Ok(Ok(receipt));
                    }
                    return Ok(Err(Resync(format!(
                        "nonce {nonce} was used by a transaction not sent by this send"
                    ))));
                }
                let pending = self.pending_nonce().await?;
                if pending < nonce {
                    return Ok(Err(Resync(format!(
                        "the node's pending nonce {pending} is below ours ({nonce}): a transaction was dropped"
                    ))));
                }
                let next = self.capped(fees.bumped().max(self.fees().await?));
                if next.replaces(fees) || attempts.is_empty() {
                    tracing::info!(
                        nonce,
                        max_fee = next.max_fee,
                        tip = next.tip,
                        "bumping the fees of a pending L1 transaction"
                    );
                    fees = next;
                    need_send = true;
                    continue;
                }
                // At the caps: keep the node's pool holding the latest version.
                last_send = Instant::now();
                if let Some(latest) = attempts.last() {
                    let raw = latest.raw.clone();
                    if let Some(resync) = self.rebroadcast(&raw, &attempts).await? {
                        return Ok(resync);
                    }
                }
            }
            tokio::time::sleep(self.cfg.poll_interval).await;
        }
    }

    /// Sends an already accepted transaction again; `Some` ends the wait for its nonce.
    async fn rebroadcast(
        &mut self,
        raw: &Bytes,
        attempts: &[Attempt],
    ) -> Result<Option<Result<TransactionReceipt, Resync>>, SendError> {
        Ok(match self.broadcast(raw).await? {
            // A pooled replacement of ours pays more; the receipt check will find it.
            Broadcast::Accepted | Broadcast::Underpriced => None,
            Broadcast::NonceTooLow(reason) => Some(match self.any_receipt(attempts).await? {
                Some(receipt) => Ok(receipt),
                None => Err(Resync(reason)),
            }),
            Broadcast::NonceTooHigh(reason) => Some(Err(Resync(reason))),
        })
    }

    /// The nonce is used by `receipt`'s transaction: move on, and turn a revert into
    /// [`SendError::Reverted`].
    async fn finish(
        &mut self,
        receipt: TransactionReceipt,
        tx: &TransactionRequest,
    ) -> Result<TransactionReceipt, SendError> {
        self.nonce += 1;
        self.in_flight = None;
        if receipt.status() {
            return Ok(receipt);
        }
        let revert = self.replay(tx, &receipt).await;
        Err(SendError::Reverted {
            revert,
            receipt: Some(Box::new(receipt)),
        })
    }

    /// The revert data of a transaction reverted on chain: the node does not keep it, so the
    /// call is replayed on the state before its block (other transactions of the block may
    /// have mattered; good enough to name the error).
    async fn replay(&self, tx: &TransactionRequest, receipt: &TransactionReceipt) -> Revert {
        let block = receipt
            .block_number
            .map_or(BlockId::latest(), |n| BlockId::number(n.saturating_sub(1)));
        let mut call = tx.clone();
        call.nonce = None;
        let result = self
            .call_raw("eth_call", || self.provider.call(call.clone()).block(block))
            .await;
        match result {
            Ok(Err(e)) => revert_of(&e).unwrap_or_else(|| Revert {
                data: Bytes::new(),
                message: e.to_string(),
            }),
            Ok(Ok(_)) => Revert {
                data: Bytes::new(),
                message: "the replayed call succeeded: the revert depended on its block".into(),
            },
            Err(e) => Revert {
                data: Bytes::new(),
                message: format!("replay failed: {e}"),
            },
        }
    }

    /// If a dropped send left a transaction in flight at the current nonce and it was mined,
    /// moves past it; otherwise it will be replaced.
    async fn settle_in_flight(&mut self) -> Result<(), SendError> {
        let Some(in_flight) = self.in_flight.clone() else {
            return Ok(());
        };
        if in_flight.nonce != self.nonce {
            self.in_flight = None;
            return Ok(());
        }
        for hash in in_flight.hashes.iter().rev() {
            if let Some(receipt) = self.receipt(*hash).await? {
                tracing::warn!(nonce = in_flight.nonce, hash = %receipt.transaction_hash, "an abandoned L1 transaction was mined");
                self.nonce += 1;
                self.in_flight = None;
                break;
            }
        }
        Ok(())
    }

    fn remember(&mut self, nonce: u64, attempts: &[Attempt], fees: Fees) {
        let mut hashes: Vec<B256> = match &self.in_flight {
            Some(f) if f.nonce == nonce => f.hashes.clone(),
            _ => Vec::new(),
        };
        for attempt in attempts {
            if !hashes.contains(&attempt.hash) {
                hashes.push(attempt.hash);
            }
        }
        self.in_flight = Some(InFlight {
            nonce,
            hashes,
            fees,
        });
    }

    async fn sign(
        &self,
        tx: &TransactionRequest,
        nonce: u64,
        fees: Fees,
    ) -> Result<Attempt, SendError> {
        let envelope = tx
            .clone()
            .with_nonce(nonce)
            .with_max_fee_per_gas(fees.max_fee)
            .with_max_priority_fee_per_gas(fees.tip)
            .build(&self.wallet)
            .await?;
        Ok(Attempt {
            hash: *envelope.tx_hash(),
            raw: envelope.encoded_2718().into(),
        })
    }

    async fn broadcast(&self, raw: &Bytes) -> Result<Broadcast, SendError> {
        let result = self
            .call_raw("eth_sendRawTransaction", || async {
                self.provider
                    .raw_request::<_, B256>("eth_sendRawTransaction".into(), (raw,))
                    .await
            })
            .await?;
        let Err(e) = result else {
            return Ok(Broadcast::Accepted);
        };
        let Some(payload) = e.as_error_resp() else {
            return Err(SendError::Rpc {
                what: "eth_sendRawTransaction",
                source: e,
            });
        };
        let message = payload.message.to_lowercase();
        let has = |s: &[&str]| s.iter().any(|s| message.contains(s));
        Ok(
            if has(&["already known", "already imported", "known transaction"]) {
                Broadcast::Accepted
            } else if has(&[
                "nonce too low",
                "nonce has already been used",
                "noncetoolow",
            ]) {
                Broadcast::NonceTooLow(payload.message.to_string())
            } else if has(&["nonce too high", "noncetoohigh", "nonce gap"]) {
                Broadcast::NonceTooHigh(payload.message.to_string())
            } else if has(&[
                "underpriced",
                "fee too low",
                "less than block base fee",
                "fee cap less than",
                "max fee per gas less than",
                "gas price too low",
                "feecap too low",
                "fee cap too low",
            ]) {
                Broadcast::Underpriced
            } else {
                return Err(SendError::Rejected {
                    message: payload.message.to_string(),
                });
            },
        )
    }

    async fn estimate_gas(&self, tx: &TransactionRequest) -> Result<u64, SendError> {
        match self
            .call_raw("eth_estimateGas", || self.provider.estimate_gas(tx.clone()))
            .await?
        {
            Ok(gas) => Ok(gas),
            Err(e) => Err(match revert_of(&e) {
                Some(revert) => SendError::Reverted {
                    revert,
                    receipt: None,
                },
                None => match e.as_error_resp() {
                    Some(payload) => SendError::Rejected {
                        message: payload.message.to_string(),
                    },
                    None => SendError::Rpc {
                        what: "eth_estimateGas",
                        source: e,
                    },
                },
            }),
        }
    }

    /// The current EIP-1559 estimate (`eth_feeHistory`), within the caps.
    async fn fees(&self) -> Result<Fees, SendError> {
        let estimate = self
            .call("eth_feeHistory", || self.provider.estimate_eip1559_fees())
            .await?;
        Ok(self.capped(Fees {
            max_fee: estimate.max_fee_per_gas,
            tip: estimate.max_priority_fee_per_gas,
        }))
    }

    /// `fees` within the caps, with the tip at most the fee cap (nodes refuse more).
    fn capped(&self, fees: Fees) -> Fees {
        let max_fee = fees.max_fee.min(self.cfg.max_fee_per_gas);
        Fees {
            max_fee,
            tip: fees.tip.min(self.cfg.max_priority_fee_per_gas).min(max_fee),
        }
    }

    async fn pending_nonce(&self) -> Result<u64, SendError> {
        self.call("eth_getTransactionCount", || {
            self.provider.get_transaction_count(self.address).pending()
        })
        .await
    }

    async fn receipt(&self, hash: B256) -> Result<Option<TransactionReceipt>, SendError> {
        self.call("eth_getTransactionReceipt", || {
            self.provider.get_transaction_receipt(hash)
        })
        .await
    }

    /// The receipt of the newest mined attempt (at most one can be).
    async fn any_receipt(
        &self,
        attempts: &[Attempt],
    ) -> Result<Option<TransactionReceipt>, SendError> {
        for attempt in attempts.iter().rev() {
            if let Some(receipt) = self.receipt(attempt.hash).await? {
                return Ok(Some(receipt));
            }
        }
        Ok(None)
    }

    /// `request`, retried while the failure is transient; any other error is
    /// [`SendError::Rpc`].
    async fn call<T, F, Fut>(&self, what: &'static str, request: F) -> Result<T, SendError>
    where
        F: FnMut() -> Fut,
        Fut: IntoFuture<Output = TransportResult<T>>,
    {
        self.call_raw(what, request)
            .await?
            .map_err(|source| SendError::Rpc { what, source })
    }

    /// `request`, retried with backoff while the failure is transient (for up to
    /// `give_up_after`); the node's definitive answer, success or error, is returned as is.
    async fn call_raw<T, F, Fut>(
        &self,
        what: &'static str,
        mut request: F,
    ) -> Result<TransportResult<T>, SendError>
    where
        F: FnMut() -> Fut,
        Fut: IntoFuture<Output = TransportResult<T>>,
    {
        let start = Instant::now();
        let mut delay = self.cfg.retry_initial;
        loop {
            match request().await {
                Err(e) if is_transient(&e) => {
                    self.disrupted.store(true, Ordering::Relaxed);
                    let waited = start.elapsed();
                    if waited >= self.cfg.give_up_after {
                        return Err(SendError::Unreachable {
                            what,
                            waited,
                            source: e,
                        });
                    }
                    tracing::warn!(what, error = %e, retry_in = ?delay, "L1 request failed");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(self.cfg.retry_max);
                }
                result => return Ok(result),
            }
        }
    }
}

/// The revert in an error answer (`execution reverted`, with or without data).
fn revert_of(e: &TransportError) -> Option<Revert> {
    let payload = e.as_error_resp()?;
    let data = payload.as_revert_data();
    if data.is_none() && !payload.message.to_lowercase().contains("revert") {
        return None;
    }
    Some(Revert {
        data: data.unwrap_or_default(),
        message: payload.message.to_string(),
    })
}

/// Failures that say nothing about the request, only about reaching the node: the
/// connection (refused, reset, timed out), a gateway's 5xx or 429, a rate-limit answer.
fn is_transient(e: &TransportError) -> bool {
    match e {
        RpcError::Transport(kind) => match kind {
            TransportErrorKind::HttpError(http) => http.status >= 500 || http.status == 429,
            TransportErrorKind::NonRetryable(_) => false,
            _ => true,
        },
        RpcError::ErrorResp(payload) => payload.is_retry_err(),
        // A load balancer in front of nodes at different heights can answer null for a
        // block or transaction another node has.
        RpcError::NullResp => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bump_is_always_an_accepted_replacement() {
        for (max_fee, tip) in [
            (0, 0),
            (1, 0),
            (7, 1),
            (8, 8),
            (1_000_000_007, 999),
            (u64::MAX.into(), 3),
        ] {
            let old = Fees { max_fee, tip };
            let new = old.bumped();
            assert!(new.replaces(old), "{old:?} -> {new:?}");
            // At least 12.5% more on both.
            assert!(new.max_fee * 8 >= old.max_fee * 9 && new.tip * 8 >= old.tip * 9);
        }
        let old = Fees {
            max_fee: 800,
            tip: 80,
        };
        assert!(
            !Fees {
                max_fee: 899,
                tip: 90
            }
            .replaces(old)
        );
        assert!(
            !Fees {
                max_fee: 900,
                tip: 89
            }
            .replaces(old)
        );
        assert!(
            Fees {
                max_fee: 900,
                tip: 90
            }
            .replaces(old)
        );
    }
}
