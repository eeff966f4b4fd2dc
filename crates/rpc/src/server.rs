//! The JSON-RPC server: HTTP and WebSocket on one port (jsonrpsee), every method a call on a
//! [`NodeApi`].
//!
//! Two namespaces:
//! - **Ethereum reads**, answered the way Ethereum clients expect (shapes in [`crate::eth`]):
//!   `eth_chainId`, `net_version`, `web3_clientVersion`, `eth_blockNumber`, `eth_getBalance`,
//!   `eth_getTransactionCount`, `eth_getBlockByNumber`, `eth_getBlockByHash`,
//!   `eth_getTransactionByHash`, `eth_getTransactionReceipt`, `eth_gasPrice`,
//!   `eth_maxPriorityFeePerGas`, `eth_feeHistory`, `eth_call`, `eth_estimateGas`,
//!   `eth_syncing`, `eth_accounts`, `net_listening`, `eth_getCode`. Every other `eth_*`
//!   method (`eth_sendRawTransaction`, `eth_getLogs`, ...) is answered `-32601`.
//! - **`causeway_*`**, the L2's own calls, params positional: `causeway_nodeInfo`,
//!   `causeway_sendOp`, `causeway_getAccount`, `causeway_getOpStatus`, `causeway_getOp`,
//!   `causeway_getBlock`, `causeway_status`, `causeway_getFeeQuote`, `causeway_getTokens`,
//!   `causeway_getAccountProof`, `causeway_getHistory`. [`crate::client::Client`] calls them
//!   typed.
//!
//! What the Ethereum view means on an L2 without an EVM:
//! - **State reads at a block.** `eth_getBalance` is the ETH (token 0) balance of the L2
//!   account with that address, `eth_getTransactionCount` its nonce; both are 0 for an address
//!   without an account at that point. Their block parameter (a tag, a number, a block hash,
//!   or an EIP-1898 object; default `latest`) chooses the state:
//!   - `latest` and `pending` answer from the soft-confirmed state: every acknowledged op
//!     applied, sealed or still in the open block, and the nonce counts the ops waiting in
//!     the mempool (the nonce a wallet signs its next op with), as `causeway_getAccount`
//!     does;
//!   - any other tag, number or hash names a sealed block, and the answer is the state after
//!     that block, sealed ops only ([`NodeApi::account_at`], read from the node's state
//!     history): block 0 (`earliest`) is the empty genesis state, `safe` and `finalized` the
//!     blocks below. A number beyond the latest sealed block, or a hash of no block, is
//!     answered `-32000 header not found`, as geth does; a block older than the node's state
//!     history (a database upgraded from a version without history keeps it from the block
//!     it was upgraded at) is `-32000` with `data.firstBlock`.
//!
//!   So `latest` and the latest block named by its number can differ: the first includes
//!   ops not sealed yet. `eth_getCode` accepts the same parameter and answers `0x` for every
//!   block.
//! - **Block tags** (for blocks and state reads): `latest` and `pending` name the latest
//!   sealed block (state reads: the soft state, above), `safe` the latest block committed on
//!   L1, `finalized` the latest block executed on L1, `earliest` block 0.
//! - **Fees are per op**, quoted by `causeway_getFeeQuote` and paid in the op's fee token:
//!   `eth_gasPrice`, `eth_maxPriorityFeePerGas` and every `eth_feeHistory` entry are `0x0`,
//!   and `eth_estimateGas` answers `0x0` (no op consumes gas).
//! - **No contracts**: `eth_call` answers `0x`, `eth_getCode` answers `0x`.
//!
//! Errors: see [`crate::error`] for the code of each [`NodeError`].
//!
//! Limits, per server (they bound what one client can make the node hold in memory):
//! - a request body is at most [`MAX_REQUEST_BODY`] (1 MiB; the largest real request, a
//!   signed op, is under 1 KiB), a response at most [`MAX_RESPONSE_BODY`];
//! - at most [`MAX_CONNECTIONS`] open connections (HTTP keep-alive and WebSocket alike);
//!   more are refused until one closes;
//! - a batch holds at most [`MAX_BATCH`] calls; a bigger batch is answered with one
//!   `-32010` error and not executed;
//! - `causeway_getHistory` returns at most [`MAX_HISTORY`] ops, whatever limit is asked;
//! - `eth_feeHistory` covers at most [`MAX_FEE_HISTORY_BLOCKS`](crate::eth::MAX_FEE_HISTORY_BLOCKS).

use crate::api::{
    AccountInfo, AccountProof, BlockInfo, ChainStatus, FeeKind, FeeQuote, NodeApi, NodeError,
    NodeInfo, OpRequest, OpStatus, OpView, TokenInfo,
};
use crate::error::RpcError;
use crate::eth::{BlockRef, EthBlock, EthReceipt, EthTransaction, FeeHistory, Quantity};
use alloy_primitives::{Address, B256, Bytes, U64, U256};
use jsonrpsee::server::{BatchRequestConfig, RpcModule, Server, ServerConfig, ServerHandle};
use jsonrpsee::types::{ErrorObjectOwned, Params};
use serde::Serialize;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

/// The largest request body accepted, in bytes.
pub const MAX_REQUEST_BODY: u32 = 1 << 20;
/// The largest response body sent, in bytes: room for a full batch of blocks with their
/// transactions, or a history of [`MAX_HISTORY`] ops.
pub const MAX_RESPONSE_BODY: u32 = 16 << 20;
/// The most connections open at once.
pub const MAX_CONNECTIONS: u32 = 1024;
/// The most calls in one batch request.
pub const MAX_BATCH: u32 = 100;
/// The most ops one `causeway_getHistory` returns.
pub const MAX_HISTORY: u64 = 1000;

type RpcResult<T> = Result<T, ErrorObjectOwned>;

/// Serves `node` over HTTP and WebSocket on `addr` (port 0 picks a free port). Returns the
/// handle and the address actually bound. The server runs until [`ServerHandle::stop`] is
/// called or every clone of the handle is dropped: keep it for as long as the RPC should run.
pub async fn serve<N: NodeApi>(
    node: Arc<N>,
    addr: SocketAddr,
) -> Result<(ServerHandle, SocketAddr), RpcError> {
    let module = rpc_module(node)?;
    let config = ServerConfig::builder()
        .max_request_body_size(MAX_REQUEST_BODY)
        .max_response_body_size(MAX_RESPONSE_BODY)
        .max_connections(MAX_CONNECTIONS)
        .set_batch_request_config(BatchRequestConfig::Limit(MAX_BATCH))
        .build();
    let bind_error = |source| RpcError::Bind { addr, source };
    let server = Server::builder()
        .set_config(config)
        .build(addr)
        .await
        .map_err(bind_error)?;
    let bound = server.local_addr().map_err(bind_error)?;
    tracing::info!(%bound, "JSON-RPC listening (HTTP and WebSocket)");
    Ok((server.start(module), bound))
}

/// Every method of both namespaces, on `node`: what [`serve`] serves, for a caller that
/// mounts it in its own server or merges more methods into it.
pub fn rpc_module<N: NodeApi>(node: Arc<N>) -> Result<RpcModule<N>, RpcError> {
    let mut module = RpcModule::from_arc(node);

    // Answers that do not depend on the node (see the module docs for why).
    constant(&mut module, "eth_gasPrice", U64::ZERO)?;
    constant(&mut module, "eth_maxPriorityFeePerGas", U64::ZERO)?;
    constant(&mut module, "eth_syncing", false)?;
    constant(&mut module, "eth_accounts", Vec::<Address>::new())?;
    constant(&mut module, "net_listening", true)?;

    register(&mut module, "eth_chainId", eth_chain_id)?;
    register(&mut module, "net_version", net_version)?;
    register(&mut module, "web3_clientVersion", web3_client_version)?;
    register(&mut module, "eth_blockNumber", eth_block_number)?;
    register(&mut module, "eth_getBalance", eth_get_balance)?;
    register(
        &mut module,
        "eth_getTransactionCount",
        eth_get_transaction_count,
    )?;
    register(&mut module, "eth_getCode", eth_get_code)?;
    register(&mut module, "eth_getBlockByNumber", eth_get_block_by_number)?;
    register(&mut module, "eth_getBlockByHash", eth_get_block_by_hash)?;
    register(
        &mut module,
        "eth_getTransactionByHash",
        eth_get_transaction_by_hash,
    )?;
    register(
        &mut module,
        "eth_getTransactionReceipt",
        eth_get_transaction_receipt,
    )?;
    register(&mut module, "eth_feeHistory", eth_fee_history)?;
    register(&mut module, "eth_call", eth_call)?;
    register(&mut module, "eth_estimateGas", eth_estimate_gas)?;

    register(&mut module, "causeway_nodeInfo", causeway_node_info)?;
    register(&mut module, "causeway_sendOp", causeway_send_op)?;
    register(&mut module, "causeway_getAccount", causeway_get_account)?;
    register(&mut module, "causeway_getOpStatus", causeway_get_op_status)?;
    register(&mut module, "causeway_getOp", causeway_get_op)?;
    register(&mut module, "causeway_getBlock", causeway_get_block)?;
    register(&mut module, "causeway_status", causeway_status)?;
    register(&mut module, "causeway_getFeeQuote", causeway_get_fee_quote)?;
    register(&mut module, "causeway_getTokens", causeway_get_tokens)?;
    register(
        &mut module,
        "causeway_getAccountProof",
        causeway_get_account_proof,
    )?;
    register(&mut module, "causeway_getHistory", causeway_get_history)?;
    Ok(module)
}

/// Registers `method` (a handler taking the node and the raw params) under `name`.
fn register<N, T, F, Fut>(
    module: &mut RpcModule<N>,
    name: &'static str,
    method: F,
) -> Result<(), RpcError>
where
    N: NodeApi,
    T: Serialize + Clone + 'static,
    F: Fn(Arc<N>, Params<'static>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = RpcResult<T>> + Send,
{
    module.register_async_method(name, move |params, node, _| method(node, params))?;
    Ok(())
}

/// Registers a method whose answer is always `value`, whatever its params.
fn constant<N, T>(module: &mut RpcModule<N>, name: &'static str, value: T) -> Result<(), RpcError>
where
    N: NodeApi,
    T: Serialize + Clone + Send + Sync + 'static,
{
    module.register_method(name, move |_, _, _| {
        Ok::<_, ErrorObjectOwned>(value.clone())
    })?;
    Ok(())
}

// ---- Ethereum reads ------------------------------------------------------------------------

async fn eth_chain_id<N: NodeApi>(node: Arc<N>, _: Params<'static>) -> RpcResult<U64> {
    Ok(U64::from(node.info().l2_chain_id))
}

/// The chain id in decimal, as `net_version` has always been.
async fn net_version<N: NodeApi>(node: Arc<N>, _: Params<'static>) -> RpcResult<String> {
    Ok(node.info().l2_chain_id.to_string())
}

async fn web3_client_version<N: NodeApi>(node: Arc<N>, _: Params<'static>) -> RpcResult<String> {
    Ok(node.info().client_version)
}

async fn eth_block_number<N: NodeApi>(node: Arc<N>, _: Params<'static>) -> RpcResult<U64> {
    Ok(U64::from(node.status().await?.latest_block))
}

/// An address and a block reference (default `latest`), the params of the state reads.
fn address_at(params: &Params<'static>) -> RpcResult<(Address, BlockRef)> {
    let mut seq = params.sequence();
    let address = seq.next()?;
    let at: Option<BlockRef> = seq.optional_next()?;
    Ok((address, at.unwrap_or(BlockRef::Latest)))
}

/// The sealed block whose state a state read at `at` answers from, or `None` for `latest`
/// and `pending`, which are answered from the soft state (module docs). An unknown hash is
/// [`NodeError::UnknownBlock`]; a number beyond the latest block is refused by the node.
async fn state_block<N: NodeApi>(node: &N, at: BlockRef) -> RpcResult<Option<u64>> {
    match at {
        BlockRef::Latest | BlockRef::Pending => Ok(None),
        other => match resolve(node, other).await? {
            Some(number) => Ok(Some(number)),
            None => Err(NodeError::UnknownBlock.into()),
        },
    }
}

async fn eth_get_balance<N: NodeApi>(node: Arc<N>, params: Params<'static>) -> RpcResult<U256> {
    let (address, at) = address_at(&params)?;
    if let Some(block) = state_block(&*node, at).await? {
        return Ok(node.account_at(address, block).await?.balance);
    }
    let account = node.account(address).await?;
    Ok(account
        .and_then(|a| a.balances.into_iter().find(|b| b.token == 0))
        .map_or(U256::ZERO, |b| b.amount))
}

async fn eth_get_transaction_count<N: NodeApi>(
    node: Arc<N>,
    params: Params<'static>,
) -> RpcResult<U64> {
    let (address, at) = address_at(&params)?;
    if let Some(block) = state_block(&*node, at).await? {
        return Ok(U64::from(node.account_at(address, block).await?.nonce));
    }
    let account = node.account(address).await?;
    Ok(U64::from(account.map_or(0, |a| a.nonce)))
}

/// `0x` at every block: no account holds code (module docs), so the block is parsed but not
/// looked up.
async fn eth_get_code<N: NodeApi>(_: Arc<N>, params: Params<'static>) -> RpcResult<Bytes> {
    address_at(&params)?;
    Ok(Bytes::new())
}

/// The number of the block `at` names, `None` when no block has that hash.
async fn resolve<N: NodeApi>(node: &N, at: BlockRef) -> RpcResult<Option<u64>> {
    Ok(match at {
        BlockRef::Number(n) => Some(n),
        BlockRef::Earliest => Some(0),
        BlockRef::Hash(hash) => node.block_number_by_hash(hash).await?,
        BlockRef::Latest | BlockRef::Pending => Some(node.status().await?.latest_block),
        BlockRef::Safe => Some(node.status().await?.committed),
        BlockRef::Finalized => Some(node.status().await?.executed),
    })
}

/// Block `number` as an Ethereum block, `None` when it is not sealed.
async fn eth_block<N: NodeApi>(
    node: &N,
    number: Option<u64>,
    full: bool,
) -> RpcResult<Option<EthBlock>> {
    let Some(number) = number else {
        return Ok(None);
    };
    let chain_id = node.info().l2_chain_id;
    Ok(node
        .block(number)
        .await?
        .map(|block| EthBlock::new(&block, chain_id, full)))
}

async fn eth_get_block_by_number<N: NodeApi>(
    node: Arc<N>,
    params: Params<'static>,
) -> RpcResult<Option<EthBlock>> {
    let mut seq = params.sequence();
    let at: BlockRef = seq.next()?;
    let full = seq.optional_next()?.unwrap_or(false);
    let number = resolve(&*node, at).await?;
    eth_block(&*node, number, full).await
}

async fn eth_get_block_by_hash<N: NodeApi>(
    node: Arc<N>,
    params: Params<'static>,
) -> RpcResult<Option<EthBlock>> {
    let mut seq = params.sequence();
    let hash: B256 = seq.next()?;
    let full = seq.optional_next()?.unwrap_or(false);
    let number = node.block_number_by_hash(hash).await?;
    eth_block(&*node, number, full).await
}

/// The op with this hash and the hash of its block (`None` while pending).
async fn op_with_block_hash<N: NodeApi>(
    node: &N,
    hash: B256,
) -> RpcResult<Option<(OpView, Option<B256>)>> {
    let Some(op) = node.op(hash).await? else {
        return Ok(None);
    };
    // OpView names its block by number only; the block's hash costs one block read.
    let block_hash = match op.block {
        Some(number) => node.block(number).await?.map(|b| b.hash),
        None => None,
    };
    Ok(Some((op, block_hash)))
}

async fn eth_get_transaction_by_hash<N: NodeApi>(
    node: Arc<N>,
    params: Params<'static>,
) -> RpcResult<Option<EthTransaction>> {
    let hash: B256 = params.sequence().next()?;
    let chain_id = node.info().l2_chain_id;
    Ok(op_with_block_hash(&*node, hash)
        .await?
        .map(|(op, block_hash)| EthTransaction::new(&op, block_hash, chain_id)))
}

async fn eth_get_transaction_receipt<N: NodeApi>(
    node: Arc<N>,
    params: Params<'static>,
) -> RpcResult<Option<EthReceipt>> {
    let hash: B256 = params.sequence().next()?;
    Ok(op_with_block_hash(&*node, hash)
        .await?
        .and_then(|(op, block_hash)| EthReceipt::new(&op, block_hash?)))
}

async fn eth_fee_history<N: NodeApi>(
    node: Arc<N>,
    params: Params<'static>,
) -> RpcResult<FeeHistory> {
    let mut seq = params.sequence();
    let Quantity(count) = seq.next()?;
    let newest: BlockRef = seq.next()?;
    let percentiles: Option<Vec<f64>> = seq.optional_next()?;
    let latest = node.status().await?.latest_block;
    let percentiles = percentiles.map(|p| p.len());
    Ok(match resolve(&*node, newest).await? {
        // A newest block past the chain's head is clamped to the head, as geth does.
        Some(newest) => FeeHistory::zeros(newest.min(latest), count, percentiles),
        // An unknown block hash: no blocks to report.
        None => FeeHistory::zeros(latest, 0, percentiles),
    })
}

/// The params of `eth_call` and `eth_estimateGas`: a call object, then optionally a block.
fn call_params(params: &Params<'static>) -> RpcResult<()> {
    let mut seq = params.sequence();
    let _: serde_json::Map<String, serde_json::Value> = seq.next()?;
    let _: Option<BlockRef> = seq.optional_next()?;
    Ok(())
}

async fn eth_call<N: NodeApi>(_: Arc<N>, params: Params<'static>) -> RpcResult<Bytes> {
    call_params(&params)?;
    Ok(Bytes::new())
}

async fn eth_estimate_gas<N: NodeApi>(_: Arc<N>, params: Params<'static>) -> RpcResult<U64> {
    call_params(&params)?;
    Ok(U64::ZERO)
}

// ---- causeway_* ----------------------------------------------------------------------------

async fn causeway_node_info<N: NodeApi>(node: Arc<N>, _: Params<'static>) -> RpcResult<NodeInfo> {
    Ok(node.info())
}

async fn causeway_send_op<N: NodeApi>(node: Arc<N>, params: Params<'static>) -> RpcResult<B256> {
    let request: OpRequest = params.one()?;
    let op = request.to_op().map_err(NodeError::from)?;
    Ok(node.submit(op).await?)
}

async fn causeway_get_account<N: NodeApi>(
    node: Arc<N>,
    params: Params<'static>,
) -> RpcResult<Option<AccountInfo>> {
    Ok(node.account(params.one()?).await?)
}

async fn causeway_get_op_status<N: NodeApi>(
    node: Arc<N>,
    params: Params<'static>,
) -> RpcResult<Option<OpStatus>> {
    Ok(node.op_status(params.one()?).await?)
}

async fn causeway_get_op<N: NodeApi>(
    node: Arc<N>,
    params: Params<'static>,
) -> RpcResult<Option<OpView>> {
    Ok(node.op(params.one()?).await?)
}

async fn causeway_get_block<N: NodeApi>(
    node: Arc<N>,
    params: Params<'static>,
) -> RpcResult<Option<BlockInfo>> {
    Ok(node.block(params.one()?).await?)
}

async fn causeway_status<N: NodeApi>(node: Arc<N>, _: Params<'static>) -> RpcResult<ChainStatus> {
    Ok(node.status().await?)
}

async fn causeway_get_fee_quote<N: NodeApi>(
    node: Arc<N>,
    params: Params<'static>,
) -> RpcResult<FeeQuote> {
    let (kind, token): (FeeKind, u16) = params.parse()?;
    Ok(node.fee_quote(kind, token).await?)
}

async fn causeway_get_tokens<N: NodeApi>(
    node: Arc<N>,
    _: Params<'static>,
) -> RpcResult<Vec<TokenInfo>> {
    Ok(node.tokens().await?)
}

async fn causeway_get_account_proof<N: NodeApi>(
    node: Arc<N>,
    params: Params<'static>,
) -> RpcResult<Option<AccountProof>> {
    let (account, token): (u32, u16) = params.parse()?;
    Ok(node.account_proof(account, token).await?)
}

async fn causeway_get_history<N: NodeApi>(
    node: Arc<N>,
    params: Params<'static>,
) -> RpcResult<Vec<OpView>> {
    let (address, limit): (Address, u64) = params.parse()?;
    // MAX_HISTORY fits in usize on every target.
    let limit = limit.min(MAX_HISTORY) as usize;
    Ok(node.history(address, limit).await?)
}
