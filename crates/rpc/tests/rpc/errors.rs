//! (b) Error codes: one per `NodeError`, malformed JSON, unknown methods, bad params, and the
//! request limits.

use crate::Running;
use crate::causeway::transfer;
use crate::mem_node::{ALICE, ALICE_NONCE};
use alloy::transports::http::reqwest;
use alloy_primitives::U256;
use causeway_rpc::api::{NodeError, OpRequest, RequestError};
use causeway_rpc::client::{Client, ClientError};
use causeway_rpc::error::{
    ALREADY_KNOWN, BUSY, FEE_TOO_LOW, HEADER_NOT_FOUND, INVALID_PARAMS, REJECTED, UNAVAILABLE,
};
use causeway_rpc::server::{MAX_BATCH, MAX_REQUEST_BODY};
use jsonrpsee::core::client::ClientT;
use jsonrpsee::core::params::ArrayParams;
use jsonrpsee::http_client::HttpClientBuilder;
use serde_json::{Value, json};

fn rpc_error(result: Result<impl std::fmt::Debug, ClientError>) -> (i32, String, Option<Value>) {
    match result {
        Err(ClientError::Rpc {
            code,
            message,
            data,
        }) => (code, message, data),
        other => panic!("expected a JSON-RPC error, got {other:?}"),
    }
}

/// Posts `body` as a JSON-RPC request and returns the parsed answer.
async fn post(rpc: &Running, body: impl Into<String>) -> (reqwest::StatusCode, Value) {
    let response = reqwest::Client::new()
        .post(rpc.http_url())
        .header("content-type", "application/json")
        .body(body.into())
        .send()
        .await
        .expect("the server answers");
    let status = response.status();
    let text = response.text().await.unwrap();
    let json = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("HTTP {status}: not JSON ({e}): {text:?}"));
    (status, json)
}

/// Calls `method` with `params` through a raw jsonrpsee client.
async fn call(rpc: &Running, method: &str, params: Value) -> Result<Value, ClientError> {
    let client = HttpClientBuilder::default().build(rpc.http_url()).unwrap();
    let mut array = ArrayParams::new();
    for param in params.as_array().expect("positional params") {
        array.insert(param).unwrap();
    }
    Ok(client.request(method, array).await?)
}

#[tokio::test]
async fn each_node_error_has_its_code() {
    let rpc = Running::start().await;
    let client = Client::new(rpc.http_url()).unwrap();
    let op = transfer(ALICE_NONCE);

    rpc.node.fail_next(NodeError::Rejected {
        reason: "NonceMismatch".into(),
        message: "nonce 3 is not the account's next, 4".into(),
    });
    let (code, message, data) = rpc_error(client.send_op(&op).await);
    assert_eq!(code, REJECTED);
    assert_eq!(message, "nonce 3 is not the account's next, 4");
    assert_eq!(data, Some(json!({ "reason": "NonceMismatch" })));

    rpc.node.fail_next(NodeError::FeeTooLow {
        offered: U256::from(1),
        minimum: U256::from(1000),
    });
    let (code, _, data) = rpc_error(client.send_op(&op).await);
    assert_eq!(code, FEE_TOO_LOW);
    assert_eq!(data, Some(json!({ "offered": "0x1", "minimum": "0x3e8" })));

    for busy in [NodeError::SenderLimit(ALICE), NodeError::MempoolFull] {
        rpc.node.fail_next(busy);
        assert_eq!(rpc_error(client.send_op(&op).await).0, BUSY);
    }

    rpc.node
        .fail_next(NodeError::Unavailable("the disk is full".into()));
    let (code, message, _) = rpc_error(client.get_account(ALICE).await);
    assert_eq!(code, UNAVAILABLE);
    assert!(message.contains("the disk is full"), "{message}");

    rpc.node.fail_next(NodeError::UnknownBlock);
    let (code, message, data) = rpc_error(client.get_account(ALICE).await);
    assert_eq!(
        (code, message.as_str(), data),
        (HEADER_NOT_FOUND, "header not found", None)
    );

    rpc.node
        .fail_next(NodeError::HistoryUnavailable { block: 3, first: 7 });
    let (code, _, data) = rpc_error(client.get_account(ALICE).await);
    assert_eq!(code, UNAVAILABLE);
    assert_eq!(data, Some(json!({ "firstBlock": 7 })));

    rpc.node
        .fail_next(NodeError::Request(RequestError::TokenId(5000)));
    assert_eq!(rpc_error(client.send_op(&op).await).0, INVALID_PARAMS);

    // The real AlreadyKnown: the same op twice.
    client.send_op(&op).await.unwrap();
    assert_eq!(rpc_error(client.send_op(&op).await).0, ALREADY_KNOWN);
    assert_eq!(rpc.node.submitted().len(), 1);
}

#[tokio::test]
async fn out_of_range_requests_are_invalid_params() {
    let rpc = Running::start().await;
    let client = Client::new(rpc.http_url()).unwrap();
    let OpRequest::Transfer {
        to,
        token,
        fee,
        nonce,
        signature,
        ..
    } = transfer(ALICE_NONCE)
    else {
        unreachable!()
    };
    let bad_account = OpRequest::Transfer {
        from: 1 << 24,
        to,
        token,
        amount: U256::from(1),
        fee,
        nonce,
        signature,
    };
    let (code, message, _) = rpc_error(client.send_op(&bad_account).await);
    assert_eq!(code, INVALID_PARAMS);
    assert!(message.contains("account id"), "{message}");

    let too_much = OpRequest::Transfer {
        from: 1,
        to,
        token,
        amount: U256::from(1) << 112,
        fee,
        nonce,
        signature,
    };
    assert_eq!(rpc_error(client.send_op(&too_much).await).0, INVALID_PARAMS);
    assert!(rpc.node.submitted().is_empty());
}

#[tokio::test]
async fn malformed_json_is_a_parse_error() {
    let rpc = Running::start().await;
    let (_, answer) = post(&rpc, r#"{"jsonrpc":"2.0","id":1,"method":"eth_chainId""#).await;
    assert_eq!(answer["error"]["code"], -32700, "{answer}");

    // Well-formed JSON that is not a request: jsonrpsee answers it as unparsable too.
    let (_, answer) = post(&rpc, r#"{"hello":"world"}"#).await;
    assert_eq!(answer["error"]["code"], -32700, "{answer}");

    // The server is still serving.
    let (_, answer) = post(
        &rpc,
        r#"{"jsonrpc":"2.0","id":7,"method":"eth_chainId","params":[]}"#,
    )
    .await;
    assert_eq!(answer["id"], 7);
    assert!(answer["result"].is_string(), "{answer}");
}

#[tokio::test]
async fn unsupported_methods_are_method_not_found() {
    let rpc = Running::start().await;
    for method in [
        "eth_sendRawTransaction",
        "eth_sendTransaction",
        "eth_getLogs",
        "eth_subscribe",
        "causeway_nope",
    ] {
        let (code, _, _) = rpc_error(call(&rpc, method, json!(["0x00"])).await);
        assert_eq!(code, -32601, "{method}");
    }
}

#[tokio::test]
async fn unparsable_params_are_invalid_params() {
    let rpc = Running::start().await;
    let cases = [
        ("eth_getBalance", json!(["0xnot-an-address", "latest"])),
        ("eth_getBalance", json!([])),
        ("eth_getBalance", json!([ALICE, "newest"])),
        ("eth_getTransactionCount", json!([ALICE, "0x"])),
        ("eth_getBlockByNumber", json!(["newest", false])),
        ("eth_getBlockByNumber", json!(["0x1", "yes"])),
        ("eth_getBlockByHash", json!(["0x12", false])),
        ("eth_getTransactionByHash", json!([42])),
        ("eth_feeHistory", json!(["ten", "latest", []])),
        ("eth_call", json!(["0x1234"])),
        ("causeway_getBlock", json!(["one"])),
        ("causeway_getFeeQuote", json!(["teleport", 0])),
        ("causeway_getAccountProof", json!([1])),
        ("causeway_sendOp", json!([{ "type": "deposit" }])),
    ];
    for (method, params) in cases {
        let (code, _, _) = rpc_error(call(&rpc, method, params.clone()).await);
        assert_eq!(code, INVALID_PARAMS, "{method} {params}");
    }
}

#[tokio::test]
async fn batches_work_up_to_the_limit() {
    let rpc = Running::start().await;
    let request = |id: u32| json!({ "jsonrpc": "2.0", "id": id, "method": "eth_blockNumber" });

    let (_, answer) = post(&rpc, json!([request(1), request(2)]).to_string()).await;
    let answers = answer.as_array().expect("a batch answer");
    assert_eq!(answers.len(), 2);
    assert!(answers.iter().all(|a| a["result"] == "0x2"), "{answer}");

    let too_many: Vec<Value> = (0..=MAX_BATCH).map(request).collect();
    let (_, answer) = post(&rpc, Value::from(too_many).to_string()).await;
    assert_eq!(answer["error"]["code"], -32010, "{answer}");
}

#[tokio::test]
async fn oversized_requests_are_refused() {
    let rpc = Running::start().await;
    let padding = "0".repeat(MAX_REQUEST_BODY as usize);
    let body =
        json!({ "jsonrpc": "2.0", "id": 1, "method": "eth_call", "params": [{ "data": padding }] });
    let (status, answer) = post(&rpc, body.to_string()).await;
    assert_eq!(answer["error"]["code"], -32007, "HTTP {status}: {answer}");
}
