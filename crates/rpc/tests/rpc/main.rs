//! The RPC server against an in-memory node ([`mem_node::MemNode`]), read by every kind of
//! client that will talk to it: the typed `causeway_*` client, raw HTTP, a WebSocket client,
//! alloy's provider (the strictest Ethereum parser), Foundry's cast, and viem under Node.js.

mod alloy_provider;
mod cast;
mod causeway;
mod errors;
mod js;
mod mem_node;
mod ws;

use causeway_rpc::server::serve;
use jsonrpsee::server::ServerHandle;
use mem_node::MemNode;
use std::net::SocketAddr;
use std::sync::Arc;

/// A server on a free local port over the fixture node. Keep the handle: dropping it stops
/// the server.
struct Running {
    node: Arc<MemNode>,
    addr: SocketAddr,
    _handle: ServerHandle,
}

impl Running {
    async fn start() -> Self {
        let node = Arc::new(MemNode::fixture());
        let (handle, addr) = serve(node.clone(), "127.0.0.1:0".parse().unwrap())
            .await
            .expect("the server starts");
        Self {
            node,
            addr,
            _handle: handle,
        }
    }

    fn http_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn ws_url(&self) -> String {
        format!("ws://{}", self.addr)
    }
}
