//! The JSON-RPC error codes the server answers with, and why the server could not start.
//!
//! Every [`NodeError`] becomes one JSON-RPC error object with a fixed code, so clients can
//! branch on the code without parsing messages:
//!
//! | [`NodeError`]                     | code       | `data`                              |
//! |-----------------------------------|------------|-------------------------------------|
//! | `Request` (bad ranges)            | `-32602`   | none (the message says which field) |
//! | `Rejected` (the stf refused)      | [`REJECTED`] = `3` | `{"reason": "<stf variant>"}` |
//! | `FeeTooLow`                       | [`FEE_TOO_LOW`] = `4` | `{"offered": "0x..", "minimum": "0x.."}` |
//! | `SenderLimit`, `MempoolFull`      | [`BUSY`] = `5` | none                            |
//! | `AlreadyKnown`                    | [`ALREADY_KNOWN`] = `6` | none                   |
//! | `Unavailable` (the node failed)   | [`UNAVAILABLE`] = `-32000` | none                |
//! | `UnknownBlock` (not sealed, unknown hash) | [`HEADER_NOT_FOUND`] = `-32000` | none      |
//! | `HistoryUnavailable` (before the state history) | [`UNAVAILABLE`] = `-32000` | `{"firstBlock": n}` |
//!
//! `UnknownBlock` is what geth answers a state read of a block it does not have: code `-32000`
//! with the message `header not found`, which Ethereum libraries recognise, so it keeps both
//! rather than a code of its own; the message tells it from `Unavailable`.
//!
//! Everything else is jsonrpsee's standard: `-32700` malformed JSON, `-32600` not a
//! JSON-RPC request, `-32601` unknown method (including the Ethereum methods this server
//! does not serve, such as `eth_sendRawTransaction`), `-32602` params that do not parse.
//! Code `3` is also what Ethereum nodes use for "execution reverted"; here it keeps the same
//! meaning, "the state refused it".

use crate::api::NodeError;
use jsonrpsee::types::ErrorObjectOwned;
use jsonrpsee::types::error::INVALID_PARAMS_CODE;
use serde_json::json;
use std::net::SocketAddr;

/// The state-transition function refused the op; `data.reason` names the refusal.
pub const REJECTED: i32 = 3;
/// The op's fee is below the node's quote; `data` carries both amounts.
pub const FEE_TOO_LOW: i32 = 4;
/// The sender has too many ops waiting, or the mempool is full: retry later.
pub const BUSY: i32 = 5;
/// An op with the same hash was already accepted: resubmitting is harmless.
pub const ALREADY_KNOWN: i32 = 6;
/// The node itself failed (storage, shutting down): not the caller's fault.
pub const UNAVAILABLE: i32 = -32000;
/// A state read named a block that is not sealed or a hash of no block: geth's code (and
/// message, `header not found`) for it.
pub const HEADER_NOT_FOUND: i32 = -32000;
/// Params that parse but name nothing valid (also jsonrpsee's code for unparsable params).
pub const INVALID_PARAMS: i32 = INVALID_PARAMS_CODE;

impl From<NodeError> for ErrorObjectOwned {
    fn from(err: NodeError) -> Self {
        let message = err.to_string();
        match err {
            NodeError::Request(_) => ErrorObjectOwned::owned(INVALID_PARAMS, message, None::<()>),
            NodeError::Rejected { reason, .. } => {
                ErrorObjectOwned::owned(REJECTED, message, Some(json!({ "reason": reason })))
            }
            NodeError::FeeTooLow { offered, minimum } => ErrorObjectOwned::owned(
                FEE_TOO_LOW,
                message,
                Some(json!({ "offered": offered, "minimum": minimum })),
            ),
            NodeError::SenderLimit(_) | NodeError::MempoolFull => {
                ErrorObjectOwned::owned(BUSY, message, None::<()>)
            }
            NodeError::AlreadyKnown => ErrorObjectOwned::owned(ALREADY_KNOWN, message, None::<()>),
            NodeError::Unavailable(_) => ErrorObjectOwned::owned(UNAVAILABLE, message, None::<()>),
            NodeError::UnknownBlock => {
                ErrorObjectOwned::owned(HEADER_NOT_FOUND, message, None::<()>)
            }
            NodeError::HistoryUnavailable { first, .. } => {
                ErrorObjectOwned::owned(UNAVAILABLE, message, Some(json!({ "firstBlock": first })))
            }
        }
    }
}

/// Why [`serve`](crate::server::serve) could not start.
#[derive(Debug, thiserror::Error)]
pub enum RpcError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    /// Two methods registered under one name: a bug in this crate, caught at startup.
    #[error("registering the RPC methods: {0}")]
    Register(#[from] jsonrpsee::core::RegisterMethodError),
}
