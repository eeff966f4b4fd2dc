//! The L2 node's `causeway_*` JSON-RPC, as the wallet calls it: one method per call the
//! wallet makes, the node's answers in `causeway_rpc::api` types, and the node's error codes
//! turned into [`WalletError`]s that say what to do.
//!
//! Kept to this one module so it can be replaced by the typed `causeway_rpc::client::Client`
//! without touching the flows.

use super::WalletError;
use alloy::primitives::{Address, B256};
use causeway_primitives::{Balance, MAX_BALANCE};
use causeway_rpc::api::{
    AccountInfo, FeeKind, FeeQuote, NodeInfo, OpRequest, OpStatus, OpView, TokenInfo,
};
use causeway_rpc::error::{
    ALREADY_KNOWN, BUSY, FEE_TOO_LOW, INVALID_PARAMS, REJECTED, UNAVAILABLE,
};
use jsonrpsee::core::client::{ClientT, Error as ClientError};
use jsonrpsee::core::params::ArrayParams;
use jsonrpsee::http_client::{HttpClient, HttpClientBuilder};
use jsonrpsee::rpc_params;
use serde::de::DeserializeOwned;
use std::time::Duration;

/// How long one call may take. The node answers from memory; a slow answer is a sick node.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// JSON-RPC's "unknown method": what an Ethereum node answers to `causeway_*`.
const METHOD_NOT_FOUND: i32 = -32601;

/// A JSON-RPC client of one L2 node.
pub struct Node {
    client: HttpClient,
    url: String,
}

impl Node {
    pub fn new(url: &str) -> Result<Self, WalletError> {
        let client = HttpClientBuilder::default()
            .request_timeout(REQUEST_TIMEOUT)
            .build(url)
            .map_err(|e| WalletError::Unreachable {
                url: url.to_owned(),
                detail: format!("not a usable URL: {e}"),
            })?;
        Ok(Node {
            client,
            url: url.to_owned(),
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: &'static str,
        params: ArrayParams,
    ) -> Result<T, WalletError> {
        self.client
            .request(method, params)
            .await
            .map_err(|e| self.error(method, e))
    }

    pub async fn node_info(&self) -> Result<NodeInfo, WalletError> {
        self.call("causeway_nodeInfo", rpc_params![]).await
    }

    /// Submits a signed op; its hash once the node accepted it.
    pub async fn send_op(&self, op: &OpRequest) -> Result<B256, WalletError> {
        self.call("causeway_sendOp", rpc_params![op]).await
    }

    pub async fn account(&self, address: Address) -> Result<Option<AccountInfo>, WalletError> {
        self.call("causeway_getAccount", rpc_params![address]).await
    }

    pub async fn op_status(&self, hash: B256) -> Result<Option<OpStatus>, WalletError> {
        self.call("causeway_getOpStatus", rpc_params![hash]).await
    }

    pub async fn op(&self, hash: B256) -> Result<Option<OpView>, WalletError> {
        self.call("causeway_getOp", rpc_params![hash]).await
    }

    /// The fee the node asks for an op of `kind` paid in `token`, in base units.
    pub async fn fee(&self, kind: FeeKind, token: u16) -> Result<Balance, WalletError> {
        let method = "causeway_getFeeQuote";
        let quote: FeeQuote = self.call(method, rpc_params![kind, token]).await?;
        u128::try_from(quote.fee)
            .ok()
            .filter(|f| *f <= MAX_BALANCE)
            .ok_or_else(|| WalletError::BadResponse {
                url: self.url.clone(),
                method,
                detail: format!("a fee of {} is above the largest balance", quote.fee),
            })
    }

    pub async fn tokens(&self) -> Result<Vec<TokenInfo>, WalletError> {
        self.call("causeway_getTokens", rpc_params![]).await
    }

    /// The latest `limit` ops involving `address`, newest first.
    pub async fn history(&self, address: Address, limit: u64) -> Result<Vec<OpView>, WalletError> {
        self.call("causeway_getHistory", rpc_params![address, limit])
            .await
    }

    fn error(&self, method: &'static str, e: ClientError) -> WalletError {
        let url = self.url.clone();
        match e {
            ClientError::Call(obj) => {
                let message = obj.message().to_owned();
                match obj.code() {
                    INVALID_PARAMS => WalletError::BadRequest(message),
                    REJECTED => {
                        let reason = rejection_reason(obj.data());
                        if reason == "WrongNonce" {
                            WalletError::NonceConflict(message)
                        } else {
                            WalletError::Rejected {
                                hint: rejection_hint(&reason),
                                reason,
                                message,
                            }
                        }
                    }
                    FEE_TOO_LOW => WalletError::FeeTooLow(message),
                    BUSY => WalletError::Busy(message),
                    ALREADY_KNOWN => WalletError::AlreadyKnown,
                    UNAVAILABLE => WalletError::NodeUnavailable { url, message },
                    // The usual mistake: --rpc pointed at the L1 node.
                    METHOD_NOT_FOUND => WalletError::BadResponse {
                        url,
                        method,
                        detail: "method not found: is this a Causeway node and not, say, the L1 \
                                 node?"
                            .into(),
                    },
                    code => WalletError::BadResponse {
                        url,
                        method,
                        detail: format!("error {code}: {message}"),
                    },
                }
            }
            ClientError::Transport(e) => WalletError::Unreachable {
                url,
                detail: super::with_causes(&*e),
            },
            ClientError::RequestTimeout => WalletError::Unreachable {
                url,
                detail: format!("no answer within {} s", REQUEST_TIMEOUT.as_secs()),
            },
            other => WalletError::BadResponse {
                url,
                method,
                detail: other.to_string(),
            },
        }
    }
}

/// The stf's name for a refusal: `data.reason` of a code-3 error (or `data` itself when it
/// is a bare string).
fn rejection_reason(data: Option<&serde_json::value::RawValue>) -> String {
    let value: Option<serde_json::Value> = data.and_then(|d| serde_json::from_str(d.get()).ok());
    let reason = match value {
        Some(serde_json::Value::Object(mut map)) => map.remove("reason"),
        other => other,
    };
    match reason {
        Some(serde_json::Value::String(s)) => s,
        _ => "unknown".to_owned(),
    }
}

/// What the user can do about a refusal, for the refusals that have an answer.
fn rejection_hint(reason: &str) -> Option<&'static str> {
    Some(match reason {
        "NoPubKey" => "run `causeway wallet activate` first",
        "WrongSigner" | "BadSignature" => {
            "the account's L2 key is not this wallet's: run `causeway wallet activate`"
        }
        "AccountNotFound" => "deposit first with `causeway wallet deposit`",
        "InsufficientBalance" => {
            "`causeway wallet balance` shows what the account holds; the fee is paid on top"
        }
        "NotPackable" => "transfer amounts are packed to 9 significant digits",
        "UnknownToken" => "`causeway wallet tokens` lists the rollup's tokens",
        "FeeTokensFull" => "retry: the op fits in a later block",
        "BadEthSignature" => {
            "the node checks a different L1 chain or rollup contract than it reports; check --rpc"
        }
        _ => return None,
    })
}
