//! The Ethereum view of the L2: the JSON shapes of blocks, transactions, receipts and fee
//! history exactly as Ethereum clients (alloy/cast, ethers, viem) parse them, and the mapping
//! from the node's [`BlockInfo`] and [`OpView`] into them.
//!
//! Invariants every shape keeps, because strict clients reject anything else:
//! - quantities are minimal `0x` hex ([`U64`]/[`U256`] serialize so: `"0x0"`, `"0x1a"`);
//!   hashes are 32 bytes, the bloom 256 bytes, the block nonce 8 bytes;
//! - a sealed op's transaction carries its block hash, number and index; a pending op's
//!   carries `null` for all three, and has no receipt;
//! - every field a legacy (`type: "0x0"`) transaction or receipt requires is present.
//!
//! The L2 has no EVM, so everything gas-shaped is zero (fees are quoted per op by
//! `causeway_getFeeQuote`), there are no logs, and the tries Ethereum roots its transactions
//! and receipts in are reported empty. An op is shown as a legacy transaction from its
//! signer with `value` = the amount when the token is ETH (token 0); an ERC-20 transfer shows
//! value 0, as it does on Ethereum. The signature fields are zero: L2 ops are signed with
//! EdDSA keys an Ethereum client could not check anyway.

use crate::api::{BlockInfo, OpView};
use alloy_primitives::{Address, B64, B256, Bloom, Bytes, U64, U256, b256};
use serde::{Deserialize, Serialize};

/// The gas limit every block reports. A constant so that clients that budget gas against the
/// block limit see room; no op consumes gas.
pub const BLOCK_GAS_LIMIT: u64 = 30_000_000;

/// `keccak256(rlp([]))`: the `sha3Uncles` of a block without uncles.
pub const EMPTY_UNCLES_HASH: B256 =
    b256!("1dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347");

/// The root of the empty Merkle-Patricia trie: `transactionsRoot` and `receiptsRoot` (the L2
/// commits to its ops in its own state root and pubdata, not in Ethereum tries).
pub const EMPTY_ROOT_HASH: B256 =
    b256!("56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421");

/// The most blocks one `eth_feeHistory` answers for (geth's limit).
pub const MAX_FEE_HISTORY_BLOCKS: u64 = 1024;

/// The legacy transaction type: the one type that needs no fee-market fields.
const LEGACY_TX_TYPE: U64 = U64::ZERO;

/// An L2 block as an Ethereum block (`eth_getBlockByNumber`, `eth_getBlockByHash`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EthBlock {
    pub number: U64,
    pub hash: B256,
    pub parent_hash: B256,
    pub timestamp: U64,
    pub state_root: B256,
    /// The fee recipient of the block.
    pub miner: Address,
    pub transactions: BlockTransactions,
    pub gas_used: U64,
    pub gas_limit: U64,
    pub base_fee_per_gas: U64,
    pub difficulty: U256,
    pub total_difficulty: U256,
    pub nonce: B64,
    pub sha3_uncles: B256,
    pub uncles: Vec<B256>,
    pub logs_bloom: Bloom,
    pub transactions_root: B256,
    pub receipts_root: B256,
    pub extra_data: Bytes,
    pub mix_hash: B256,
    /// Ethereum's RLP size of the block, which an L2 block does not have: always zero.
    pub size: U64,
}

/// A block's transactions: their hashes, or the full objects when the caller asked for them.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum BlockTransactions {
    Hashes(Vec<B256>),
    Full(Vec<EthTransaction>),
}

impl EthBlock {
    /// `block` as an Ethereum block; `full` puts transaction objects in it instead of hashes.
    pub fn new(block: &BlockInfo, chain_id: u64, full: bool) -> Self {
        let transactions = if full {
            BlockTransactions::Full(
                block
                    .ops
                    .iter()
                    .map(|op| EthTransaction::new(op, Some(block.hash), chain_id))
                    .collect(),
            )
        } else {
            BlockTransactions::Hashes(block.ops.iter().map(|op| op.hash).collect())
        };
        Self {
            number: U64::from(block.number),
            hash: block.hash,
            parent_hash: block.parent_hash,
            timestamp: U64::from(block.timestamp),
            state_root: block.state_root,
            miner: block.fee_recipient,
            transactions,
            gas_used: U64::ZERO,
            gas_limit: U64::from(BLOCK_GAS_LIMIT),
            base_fee_per_gas: U64::ZERO,
            difficulty: U256::ZERO,
            total_difficulty: U256::ZERO,
            nonce: B64::ZERO,
            sha3_uncles: EMPTY_UNCLES_HASH,
            uncles: Vec::new(),
            logs_bloom: Bloom::ZERO,
            transactions_root: EMPTY_ROOT_HASH,
            receipts_root: EMPTY_ROOT_HASH,
            extra_data: Bytes::new(),
            mix_hash: B256::ZERO,
            size: U64::ZERO,
        }
    }
}

/// An op as a legacy Ethereum transaction (`eth_getTransactionByHash`, full blocks).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EthTransaction {
    pub hash: B256,
    /// The L2 nonce; zero for priority ops (deposits, full exits), which have none.
    pub nonce: U64,
    pub block_hash: Option<B256>,
    pub block_number: Option<U64>,
    pub transaction_index: Option<U64>,
    pub from: Address,
    pub to: Option<Address>,
    pub value: U256,
    pub gas: U64,
    pub gas_price: U64,
    pub input: Bytes,
    #[serde(rename = "type")]
    pub tx_type: U64,
    pub chain_id: U64,
    pub v: U64,
    pub r: U256,
    pub s: U256,
}

/// The `to` an Ethereum client sees. A ChangePubKey has no recipient; on Ethereum a missing
/// `to` means "contract creation", which wallets would render as a deploy, so it is shown as
/// the account acting on itself.
fn eth_to(op: &OpView) -> Address {
    op.to.unwrap_or(op.from)
}

/// The ETH value an op moves: its amount when the token is ETH (token 0).
fn eth_value(op: &OpView) -> U256 {
    if op.token == 0 { op.amount } else { U256::ZERO }
}

impl EthTransaction {
    /// `op` as a transaction; `block_hash` is the hash of its block once sealed. An op whose
    /// block is not known (pending) gets `null` block fields.
    pub fn new(op: &OpView, block_hash: Option<B256>, chain_id: u64) -> Self {
        let sealed = block_hash.zip(op.block).zip(op.index);
        Self {
            hash: op.hash,
            nonce: U64::from(op.nonce.unwrap_or(0)),
            block_hash: sealed.map(|((hash, _), _)| hash),
            block_number: sealed.map(|((_, number), _)| U64::from(number)),
            transaction_index: sealed.map(|(_, index)| U64::from(index)),
            from: op.from,
            to: Some(eth_to(op)),
            value: eth_value(op),
            gas: U64::ZERO,
            gas_price: U64::ZERO,
            input: Bytes::new(),
            tx_type: LEGACY_TX_TYPE,
            chain_id: U64::from(chain_id),
            v: U64::ZERO,
            r: U256::ZERO,
            s: U256::ZERO,
        }
    }
}

/// The receipt of a sealed op (`eth_getTransactionReceipt`). Every op in a sealed block
/// succeeded: the stf refuses a failing op before it enters the mempool.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EthReceipt {
    pub transaction_hash: B256,
    pub transaction_index: U64,
    pub block_hash: B256,
    pub block_number: U64,
    pub from: Address,
    pub to: Option<Address>,
    pub cumulative_gas_used: U64,
    pub gas_used: U64,
    pub effective_gas_price: U64,
    pub contract_address: Option<Address>,
    /// Always empty: there are no contracts on L2 to emit logs.
    pub logs: [(); 0],
    pub logs_bloom: Bloom,
    #[serde(rename = "type")]
    pub tx_type: U64,
    pub status: U64,
}

impl EthReceipt {
    /// The receipt of `op` in the block with hash `block_hash`; `None` while it is pending.
    pub fn new(op: &OpView, block_hash: B256) -> Option<Self> {
        Some(Self {
            transaction_hash: op.hash,
            transaction_index: U64::from(op.index?),
            block_hash,
            block_number: U64::from(op.block?),
            from: op.from,
            to: Some(eth_to(op)),
            cumulative_gas_used: U64::ZERO,
            gas_used: U64::ZERO,
            effective_gas_price: U64::ZERO,
            contract_address: None,
            logs: [],
            logs_bloom: Bloom::ZERO,
            tx_type: LEGACY_TX_TYPE,
            status: U64::from(1),
        })
    }
}

/// `eth_feeHistory`'s answer: the shape clients expect, every fee zero.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FeeHistory {
    pub oldest_block: U64,
    /// One entry per block, plus the block after the newest (as Ethereum reports it).
    pub base_fee_per_gas: Vec<U64>,
    pub gas_used_ratio: Vec<f64>,
    /// One row per block, one entry per requested percentile; absent when none were asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reward: Option<Vec<Vec<U64>>>,
}

impl FeeHistory {
    /// The history of up to `count` blocks ending at `newest`, clamped to the blocks that
    /// exist (0..=newest) and to [`MAX_FEE_HISTORY_BLOCKS`], as geth clamps it.
    pub fn zeros(newest: u64, count: u64, percentiles: Option<usize>) -> Self {
        let count = count
            .min(newest.saturating_add(1))
            .min(MAX_FEE_HISTORY_BLOCKS);
        if count == 0 {
            return Self {
                oldest_block: U64::ZERO,
                base_fee_per_gas: Vec::new(),
                gas_used_ratio: Vec::new(),
                reward: None,
            };
        }
        // count <= MAX_FEE_HISTORY_BLOCKS, so these fit in memory and in usize.
        let blocks = count as usize;
        Self {
            oldest_block: U64::from(newest + 1 - count),
            base_fee_per_gas: vec![U64::ZERO; blocks + 1],
            gas_used_ratio: vec![0.0; blocks],
            reward: percentiles.map(|n| vec![vec![U64::ZERO; n]; blocks]),
        }
    }
}

/// A block as Ethereum methods name it: a tag, a number, or (EIP-1898, state methods only)
/// a hash, as an object or, as geth also takes it and alloy sends it, a bare 32-byte hex
/// string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "BlockRefJson")]
pub enum BlockRef {
    /// The latest sealed block.
    Latest,
    /// Treated as [`BlockRef::Latest`]: pending ops are not assembled into a block.
    Pending,
    /// The latest block whose batch is committed on L1.
    Safe,
    /// The latest block whose batch is executed on L1.
    Finalized,
    /// Block 0, the genesis.
    Earliest,
    Number(u64),
    Hash(B256),
}

/// A block reference on the wire: a tag, hex quantity or block hash, a JSON number
/// (lenient), or an EIP-1898 object.
#[derive(Deserialize)]
#[serde(untagged)]
enum BlockRefJson {
    Text(String),
    Number(u64),
    #[serde(rename_all = "camelCase")]
    Object {
        block_number: Option<Quantity>,
        block_hash: Option<B256>,
    },
}

/// Why a block reference or quantity does not parse (answered as invalid params).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamError {
    #[error(
        "invalid block tag or number {0:?}: expected latest, pending, safe, finalized, earliest or a 0x quantity"
    )]
    BlockTag(String),
    #[error("a block object names exactly one of blockNumber and blockHash")]
    BlockObject,
    #[error("invalid quantity {0:?}: expected 0x-prefixed hex below 2^64")]
    Quantity(String),
}

impl TryFrom<BlockRefJson> for BlockRef {
    type Error = ParamError;

    fn try_from(json: BlockRefJson) -> Result<Self, ParamError> {
        Ok(match json {
            BlockRefJson::Text(text) => match text.as_str() {
                "latest" => Self::Latest,
                "pending" => Self::Pending,
                "safe" => Self::Safe,
                "finalized" => Self::Finalized,
                "earliest" => Self::Earliest,
                // A quantity is never written with 64 digits, a hash always is: geth tells them
                // apart by length the same way.
                _ if text.len() == 66 => {
                    Self::Hash(text.parse().map_err(|_| ParamError::BlockTag(text))?)
                }
                _ => Self::Number(parse_hex_u64(&text).ok_or(ParamError::BlockTag(text))?),
            },
            BlockRefJson::Number(n) => Self::Number(n),
            BlockRefJson::Object {
                block_number: Some(Quantity(n)),
                block_hash: None,
            } => Self::Number(n),
            BlockRefJson::Object {
                block_number: None,
                block_hash: Some(hash),
            } => Self::Hash(hash),
            BlockRefJson::Object { .. } => return Err(ParamError::BlockObject),
        })
    }
}

/// A `u64` parameter as clients send it: a `0x` hex quantity, or (lenient) a JSON number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "QuantityJson")]
pub struct Quantity(pub u64);

#[derive(Deserialize)]
#[serde(untagged)]
enum QuantityJson {
    Text(String),
    Number(u64),
}

impl TryFrom<QuantityJson> for Quantity {
    type Error = ParamError;

    fn try_from(json: QuantityJson) -> Result<Self, ParamError> {
        match json {
            QuantityJson::Number(n) => Ok(Self(n)),
            QuantityJson::Text(text) => parse_hex_u64(&text)
                .map(Self)
                .ok_or(ParamError::Quantity(text)),
        }
    }
}

/// `0x`-prefixed hex (leading zeros tolerated, as most nodes do) below 2^64.
fn parse_hex_u64(text: &str) -> Option<u64> {
    let digits = text
        .strip_prefix("0x")
        .or_else(|| text.strip_prefix("0X"))?;
    if digits.is_empty() {
        return None;
    }
    u64::from_str_radix(digits, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block_ref(json: &str) -> Result<BlockRef, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn block_refs_parse_tags_numbers_and_eip1898_objects() {
        assert_eq!(block_ref(r#""latest""#).unwrap(), BlockRef::Latest);
        assert_eq!(block_ref(r#""finalized""#).unwrap(), BlockRef::Finalized);
        assert_eq!(block_ref(r#""0x1a""#).unwrap(), BlockRef::Number(26));
        assert_eq!(block_ref("7").unwrap(), BlockRef::Number(7));
        assert_eq!(
            block_ref(r#"{"blockNumber":"0x2"}"#).unwrap(),
            BlockRef::Number(2)
        );
        let hash = B256::repeat_byte(0xab);
        assert_eq!(
            block_ref(&format!(r#"{{"blockHash":"{hash}"}}"#)).unwrap(),
            BlockRef::Hash(hash)
        );
        assert_eq!(
            block_ref(&format!(
                r#"{{"blockHash":"{hash}","requireCanonical":true}}"#
            ))
            .unwrap(),
            BlockRef::Hash(hash)
        );
        assert_eq!(
            block_ref(&format!(r#""{hash}""#)).unwrap(),
            BlockRef::Hash(hash)
        );
        let not_hex = format!("\"0x{}\"", "g".repeat(64));
        for bad in [
            r#""0x""#,
            r#""12""#,
            r#""newest""#,
            r#"{}"#,
            "true",
            "-1",
            not_hex.as_str(),
        ] {
            assert!(block_ref(bad).is_err(), "{bad} parsed");
        }
    }

    #[test]
    fn fee_history_clamps_to_existing_blocks() {
        let h = FeeHistory::zeros(2, 10, Some(2));
        assert_eq!(h.oldest_block, U64::ZERO);
        assert_eq!(h.base_fee_per_gas.len(), 4);
        assert_eq!(h.gas_used_ratio.len(), 3);
        assert_eq!(
            h.reward.as_ref().map(|r| (r.len(), r[0].len())),
            Some((3, 2))
        );

        let h = FeeHistory::zeros(100, 4, None);
        assert_eq!(h.oldest_block, U64::from(97));
        assert_eq!(h.base_fee_per_gas.len(), 5);
        assert!(h.reward.is_none());
        assert!(!serde_json::to_string(&h).unwrap().contains("reward"));
    }

    #[test]
    fn block_constants_serialize_as_clients_expect() {
        let block = BlockInfo {
            number: 3,
            hash: B256::repeat_byte(1),
            parent_hash: B256::repeat_byte(2),
            timestamp: 1_700_000_000,
            state_root: B256::repeat_byte(3),
            fee_recipient: Address::repeat_byte(4),
            ops: Vec::new(),
            stage: crate::api::OpStage::Included,
            commit_tx: None,
            prove_tx: None,
            execute_tx: None,
        };
        let json = serde_json::to_value(EthBlock::new(&block, 5, false)).unwrap();
        assert_eq!(json["number"], "0x3");
        assert_eq!(json["nonce"], "0x0000000000000000");
        assert_eq!(json["difficulty"], "0x0");
        assert_eq!(json["extraData"], "0x");
        assert_eq!(json["logsBloom"].as_str().unwrap().len(), 2 + 512);
        assert_eq!(json["transactions"], serde_json::json!([]));
        assert_eq!(json["sha3Uncles"], EMPTY_UNCLES_HASH.to_string());
    }
}
