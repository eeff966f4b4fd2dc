//! Causeway's JSON-RPC over HTTP and WebSocket (jsonrpsee).
//!
//! - [`api`]: the [`NodeApi`](api::NodeApi) seam the server calls, and the JSON types of the
//!   `causeway_*` namespace, which the wallet and the load benchmark also speak as clients.
//! - [`server`]: [`serve`](server::serve) answers both namespaces (the Ethereum reads wallets
//!   and libraries call first, and `causeway_*`) on one port, HTTP and WebSocket.
//! - [`eth`]: the Ethereum JSON shapes (blocks, transactions, receipts, block tags) and how an
//!   L2 block and op map into them.
//! - [`error`]: the JSON-RPC error code of each [`NodeError`](api::NodeError), and why the
//!   server could not start.
//! - [`client`]: a typed HTTP client for the `causeway_*` namespace.

pub mod api;
pub mod client;
pub mod error;
pub mod eth;
pub mod server;
