//! (c) The same port speaks WebSocket.

use crate::Running;
use crate::mem_node::{ALICE, ALICE_NONCE, L2_CHAIN_ID};
use causeway_rpc::api::AccountInfo;
use jsonrpsee::core::client::ClientT;
use jsonrpsee::rpc_params;
use jsonrpsee::ws_client::WsClientBuilder;

#[tokio::test]
async fn websocket_clients_are_served_on_the_http_port() {
    let rpc = Running::start().await;
    let ws = WsClientBuilder::default()
        .build(rpc.ws_url())
        .await
        .expect("the WebSocket handshake succeeds");

    let chain_id: String = ws.request("eth_chainId", rpc_params![]).await.unwrap();
    assert_eq!(chain_id, format!("{L2_CHAIN_ID:#x}"));

    let account: Option<AccountInfo> = ws
        .request("causeway_getAccount", rpc_params![ALICE])
        .await
        .unwrap();
    assert_eq!(account.map(|a| a.nonce), Some(ALICE_NONCE));
}
