//! A typed HTTP client for the `causeway_*` namespace: one method per call, the method names
//! and param order in one place, so the wallet, the load benchmark and tests do not repeat
//! them. Errors keep the server's JSON-RPC code, message and data (codes in
//! [`crate::error`]).

use crate::api::{
    AccountInfo, AccountProof, BlockInfo, ChainStatus, FeeKind, FeeQuote, NodeInfo, OpRequest,
    OpStatus, OpView, TokenInfo,
};
use crate::server::MAX_RESPONSE_BODY;
use alloy_primitives::{Address, B256};
use jsonrpsee::core::client::ClientT;
use jsonrpsee::core::params::ArrayParams;
use jsonrpsee::http_client::{HttpClient, HttpClientBuilder};
use jsonrpsee::rpc_params;
use serde::de::DeserializeOwned;

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered with a JSON-RPC error object.
    #[error("{message} (JSON-RPC error {code})")]
    Rpc {
        code: i32,
        message: String,
        data: Option<serde_json::Value>,
    },
    /// The server was not reached, timed out, or answered something that is not the
    /// expected type.
    #[error("JSON-RPC transport: {0}")]
    Transport(#[source] jsonrpsee::core::ClientError),
}

impl ClientError {
    /// The JSON-RPC error code, when the server answered with one.
    pub fn code(&self) -> Option<i32> {
        match self {
            Self::Rpc { code, .. } => Some(*code),
            Self::Transport(_) => None,
        }
    }
}

impl From<jsonrpsee::core::ClientError> for ClientError {
    fn from(err: jsonrpsee::core::ClientError) -> Self {
        match err {
            jsonrpsee::core::ClientError::Call(obj) => Self::Rpc {
                code: obj.code(),
                message: obj.message().to_owned(),
                // The data arrived as parsed JSON, so it parses again.
                data: obj
                    .data()
                    .and_then(|raw| serde_json::from_str(raw.get()).ok()),
            },
            other => Self::Transport(other),
        }
    }
}

/// A `causeway_*` client over HTTP. Cheap to clone; clones share the connection pool.
#[derive(Debug, Clone)]
pub struct Client {
    http: HttpClient,
}

impl Client {
    /// A client for the server at `url` (`http://host:port`). Nothing is sent until the first
    /// call.
    pub fn new(url: impl AsRef<str>) -> Result<Self, ClientError> {
        let http = HttpClientBuilder::default()
            .max_response_size(MAX_RESPONSE_BODY)
            .build(url)?;
        Ok(Self { http })
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: &str,
        params: ArrayParams,
    ) -> Result<T, ClientError> {
        Ok(self.http.request(method, params).await?)
    }

    pub async fn node_info(&self) -> Result<NodeInfo, ClientError> {
        self.call("causeway_nodeInfo", rpc_params![]).await
    }

    /// Submits a signed op; returns its hash once the node accepted it.
    pub async fn send_op(&self, op: &OpRequest) -> Result<B256, ClientError> {
        self.call("causeway_sendOp", rpc_params![op]).await
    }

    pub async fn get_account(&self, address: Address) -> Result<Option<AccountInfo>, ClientError> {
        self.call("causeway_getAccount", rpc_params![address]).await
    }

    pub async fn get_op_status(&self, hash: B256) -> Result<Option<OpStatus>, ClientError> {
        self.call("causeway_getOpStatus", rpc_params![hash]).await
    }

    pub async fn get_op(&self, hash: B256) -> Result<Option<OpView>, ClientError> {
        self.call("causeway_getOp", rpc_params![hash]).await
    }

    pub async fn get_block(&self, number: u64) -> Result<Option<BlockInfo>, ClientError> {
        self.call("causeway_getBlock", rpc_params![number]).await
    }

    pub async fn status(&self) -> Result<ChainStatus, ClientError> {
        self.call("causeway_status", rpc_params![]).await
    }

    pub async fn get_fee_quote(&self, kind: FeeKind, token: u16) -> Result<FeeQuote, ClientError> {
        self.call("causeway_getFeeQuote", rpc_params![kind, token])
            .await
    }

    pub async fn get_tokens(&self) -> Result<Vec<TokenInfo>, ClientError> {
        self.call("causeway_getTokens", rpc_params![]).await
    }

    pub async fn get_account_proof(
        &self,
        account: u32,
        token: u16,
    ) -> Result<Option<AccountProof>, ClientError> {
        self.call("causeway_getAccountProof", rpc_params![account, token])
            .await
    }

    /// The latest ops involving `address`, newest first; the server caps `limit` at
    /// [`MAX_HISTORY`](crate::server::MAX_HISTORY).
    pub async fn get_history(
        &self,
        address: Address,
        limit: u64,
    ) -> Result<Vec<OpView>, ClientError> {
        self.call("causeway_getHistory", rpc_params![address, limit])
            .await
    }
}
