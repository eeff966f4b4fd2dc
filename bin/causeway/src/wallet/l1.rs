//! The wallet's L1 side: the rollup contract (deposits, claimable withdrawals) and the ERC-20s
//! it lists, through an alloy provider that signs with the wallet's key.
//!
//! Every connection first checks that the L1 node is the chain the L2 node settles on: a
//! deposit sent to a contract at the same address on another chain is lost.

use super::{DepositReceipt, Event, FullExitReceipt, Progress, TokenMeta, WalletError, amount};
use alloy::network::EthereumWallet;
use alloy::primitives::{Address, B256, U256};
use alloy::providers::{DynProvider, PendingTransactionBuilder, Provider, ProviderBuilder};
use alloy::rpc::types::TransactionReceipt;
use alloy::signers::local::PrivateKeySigner;
use causeway_bindings::ZkRollup;
use causeway_primitives::Balance;
use causeway_rpc::api::NodeInfo;
use std::time::Duration;

alloy::sol! {
    /// The part of ERC-20 the wallet uses.
    #[sol(rpc)]
    interface IERC20 {
        function decimals() external view returns (uint8);
        function symbol() external view returns (string);
        function balanceOf(address owner) external view returns (uint256);
        function allowance(address owner, address spender) external view returns (uint256);
        function approve(address spender, uint256 amount) external returns (bool);
    }
}

/// The symbol and decimals of listed ERC-20 `id` at `address`, as its contract reports them.
/// `decimals` is required; `symbol` is optional in ERC-20 (and some old tokens return
/// bytes32), so a token without a readable one is called `token-<id>`.
pub async fn erc20_meta<P: Provider>(
    provider: &P,
    id: u16,
    address: Address,
) -> Result<TokenMeta, alloy::contract::Error> {
    let erc20 = IERC20::new(address, provider);
    let decimals = erc20.decimals().call().await?;
    let symbol = erc20
        .symbol()
        .call()
        .await
        .unwrap_or_else(|_| format!("token-{id}"));
    Ok(TokenMeta {
        id,
        address,
        symbol,
        decimals,
    })
}

/// How long the wallet waits for one of its L1 transactions to be mined.
const RECEIPT_TIMEOUT: Duration = Duration::from_secs(300);

/// The L1 node and the rollup contract on it.
pub struct L1 {
    provider: DynProvider,
    url: String,
    rollup: Address,
}

impl L1 {
    /// Connects to the L1 node at `url` (signing with `signer`, if any) and checks that it is
    /// the chain `info` settles on.
    pub async fn connect(
        url: &str,
        signer: Option<&PrivateKeySigner>,
        info: &NodeInfo,
    ) -> Result<Self, WalletError> {
        let unreachable = |detail: String| WalletError::L1Unreachable {
            url: url.to_owned(),
            detail,
        };
        let parsed = url
            .parse()
            .map_err(|e| unreachable(format!("not a usable URL: {e}")))?;
        let provider = match signer {
            Some(s) => ProviderBuilder::new()
                .wallet(EthereumWallet::from(s.clone()))
                .connect_http(parsed)
                .erased(),
            None => ProviderBuilder::new().connect_http(parsed).erased(),
        };
        let chain = provider
            .get_chain_id()
            .await
            .map_err(|e| unreachable(super::with_causes(&e)))?;
        if chain != info.l1_chain_id {
            return Err(WalletError::L1ChainMismatch {
                url: url.to_owned(),
                got: chain,
                expected: info.l1_chain_id,
            });
        }
        Ok(L1 {
            provider,
            url: url.to_owned(),
            rollup: info.rollup,
        })
    }

    fn failed(&self, what: impl Into<String>, detail: impl std::fmt::Display) -> WalletError {
        WalletError::L1Call {
            what: what.into(),
            detail: format!("{detail} (L1 node {})", self.url),
        }
    }

    /// A contract call's error, with the rollup's reverts that a user can act on spelled out.
    fn call_error(&self, what: &str, e: alloy::contract::Error) -> WalletError {
        let reason = if e.as_decoded_error::<ZkRollup::ExodusActive>().is_some() {
            "the rollup is in exodus mode: it accepts no deposits; funds leave with exit proofs"
                .to_owned()
        } else if e.as_decoded_error::<ZkRollup::PoolFull>().is_some() {
            "the rollup holds the most it can of this token (2^112 - 1 units)".to_owned()
        } else if e.as_decoded_error::<ZkRollup::UnknownToken>().is_some() {
            "the token is not listed on the rollup".to_owned()
        } else if e.as_decoded_error::<ZkRollup::NothingPending>().is_some() {
            "nothing is pending: it was claimed already, or its batch is not executed".to_owned()
        } else if e
            .as_decoded_error::<ZkRollup::EthTransferFailed>()
            .is_some()
        {
            "the owner's address refused the ETH (a contract without a payable receive)".to_owned()
        } else {
            e.to_string()
        };
        self.failed(what, reason)
    }

    /// Waits for a sent transaction, reporting it first; a revert is an error.
    async fn mined(
        &self,
        what: &'static str,
        pending: PendingTransactionBuilder<alloy::network::Ethereum>,
        progress: &dyn Progress,
    ) -> Result<TransactionReceipt, WalletError> {
        let tx = *pending.tx_hash();
        progress.event(Event::L1Sent { what, tx });
        let receipt = pending
            .with_timeout(Some(RECEIPT_TIMEOUT))
            .get_receipt()
            .await
            .map_err(|e| self.failed(what, format!("tx {tx}: {e}")))?;
        if !receipt.status() {
            return Err(WalletError::L1Reverted {
                what: what.to_owned(),
                tx,
            });
        }
        Ok(receipt)
    }

    pub async fn eth_balance(&self, owner: Address) -> Result<U256, WalletError> {
        self.provider
            .get_balance(owner)
            .await
            .map_err(|e| self.failed("reading the ETH balance", e))
    }

    /// What `owner` can claim in `token` (executed withdrawals not yet paid out).
    pub async fn pending(&self, owner: Address, token: u16) -> Result<U256, WalletError> {
        ZkRollup::new(self.rollup, &self.provider)
            .pending(owner, token)
            .call()
            .await
            .map_err(|e| self.call_error("reading pending withdrawals", e))
    }

    /// Symbol and decimals of listed token `id` at `address` (ETH for token 0).
    pub async fn token_meta(&self, id: u16, address: Address) -> Result<TokenMeta, WalletError> {
        if id == 0 {
            return Ok(TokenMeta::eth());
        }
        erc20_meta(&self.provider, id, address)
            .await
            .map_err(|e| self.failed(format!("reading decimals() of token {id} ({address})"), e))
    }

    /// Deposits `amount` of `token` from `from` (the signer) to the L2 account of `to`.
    pub async fn deposit(
        &self,
        token: &TokenMeta,
        from: Address,
        to: Address,
        amount: Balance,
        progress: &dyn Progress,
    ) -> Result<DepositReceipt, WalletError> {
        let rollup = ZkRollup::new(self.rollup, &self.provider);
        let value = U256::from(amount);
        let mut approve_tx = None;
        let have = if token.id == 0 {
            self.eth_balance(from).await?
        } else {
            IERC20::new(token.address, &self.provider)
                .balanceOf(from)
                .call()
                .await
                .map_err(|e| self.call_error("reading the token balance", e))?
        };
        if have < value {
            return Err(WalletError::InsufficientBalance {
                layer: "L1",
                token: token.symbol.clone(),
                have: amount::format_amount(have, token.decimals),
                need: amount::format_amount(value, token.decimals),
                detail: format!("the deposit, plus gas, from {from}"),
            });
        }
        let pending = if token.id == 0 {
            rollup
                .depositETH(to)
                .value(value)
                .send()
                .await
                .map_err(|e| self.call_error("depositETH", e))?
        } else {
            let erc20 = IERC20::new(token.address, &self.provider);
            let allowance = erc20
                .allowance(from, self.rollup)
                .call()
                .await
                .map_err(|e| self.call_error("reading the allowance", e))?;
            if allowance < value {
                // Approve exactly the deposit: an unlimited allowance would outlive it.
                let sent = erc20
                    .approve(self.rollup, value)
                    .send()
                    .await
                    .map_err(|e| self.call_error("approve", e))?;
                approve_tx = Some(
                    self.mined("approve", sent, progress)
                        .await?
                        .transaction_hash,
                );
            }
            rollup
                .depositERC20(token.address, value, to)
                .send()
                .await
                .map_err(|e| self.call_error("depositERC20", e))?
        };
        let receipt = self.mined("deposit", pending, progress).await?;
        let queued = receipt
            .decoded_log::<ZkRollup::DepositQueued>()
            .ok_or_else(|| self.failed("deposit", "the receipt has no DepositQueued event"))?;
        Ok(DepositReceipt {
            l1_tx: receipt.transaction_hash,
            approve_tx,
            priority_id: queued.opId,
            to,
            token: token.id,
            // What the contract credited: less than sent for a fee-on-transfer token.
            amount: queued.amount,
        })
    }

    /// Asks L1 to withdraw all of `account`'s `token` balance to its owner (`requestFullExit`,
    /// sent by the owner): a priority op the operator must execute before its deadline.
    pub async fn full_exit(
        &self,
        account: u32,
        token: u16,
        progress: &dyn Progress,
    ) -> Result<FullExitReceipt, WalletError> {
        let sent = ZkRollup::new(self.rollup, &self.provider)
            .requestFullExit(account, token)
            .send()
            .await
            .map_err(|e| self.call_error("requestFullExit", e))?;
        let receipt = self.mined("full exit request", sent, progress).await?;
        let queued = receipt
            .decoded_log::<ZkRollup::FullExitQueued>()
            .ok_or_else(|| {
                self.failed(
                    "full exit request",
                    "the receipt has no FullExitQueued event",
                )
            })?;
        Ok(FullExitReceipt {
            l1_tx: receipt.transaction_hash,
            priority_id: queued.opId,
            owner: queued.owner,
            token,
            deadline: queued.deadline,
        })
    }

    /// Pays out what is pending for `owner` in `token` (`withdrawPending`).
    pub async fn claim(
        &self,
        owner: Address,
        token: u16,
        progress: &dyn Progress,
    ) -> Result<B256, WalletError> {
        let sent = ZkRollup::new(self.rollup, &self.provider)
            .withdrawPending(owner, token)
            .send()
            .await
            .map_err(|e| self.call_error("withdrawPending", e))?;
        Ok(self.mined("claim", sent, progress).await?.transaction_hash)
    }
}
