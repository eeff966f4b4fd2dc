// The Ethereum reads a viem wallet makes first, against a Causeway RPC server.
//
// Run by the Rust test `js::viem_reads_the_ethereum_methods` (crates/rpc/tests/rpc/js.rs):
//   node eth_reads.mjs <rpc url> '{"address":"0x..","sealedTx":"0x..","pendingTx":"0x.."}'
// Prints one JSON object with what viem parsed (bigints as decimal strings); the Rust test
// checks the values. Any parse failure in viem throws, and the script exits non-zero.

import { createPublicClient, http } from "viem";

const [url, argsJson] = process.argv.slice(2);
if (!url || !argsJson) {
  console.error("usage: node eth_reads.mjs <rpc url> <json args>");
  process.exit(2);
}
const { address, sealedTx, pendingTx } = JSON.parse(argsJson);

// No chain object: the reads need none, and the chain id is what is being tested.
const client = createPublicClient({ transport: http(url, { retryCount: 0 }) });

const blockNumber = await client.getBlockNumber();
const block = await client.getBlock({ blockNumber, includeTransactions: false });
const sealedBlock = await client.getBlock({ blockNumber: 1n, includeTransactions: true });
const sealed = await client.getTransaction({ hash: sealedTx });
const receipt = await client.getTransactionReceipt({ hash: sealedTx });
const pending = await client.getTransaction({ hash: pendingTx });
let pendingReceipt;
try {
  await client.getTransactionReceipt({ hash: pendingTx });
  pendingReceipt = "found";
} catch (err) {
  pendingReceipt = err.name;
}

const result = {
  chainId: await client.getChainId(),
  blockNumber,
  balance: await client.getBalance({ address }),
  balanceAtBlock1: await client.getBalance({ address, blockNumber: 1n }),
  transactionCount: await client.getTransactionCount({ address }),
  gasPrice: await client.getGasPrice(),
  block: {
    number: block.number,
    hash: block.hash,
    parentHash: block.parentHash,
    miner: block.miner,
    baseFeePerGas: block.baseFeePerGas,
    transactions: block.transactions,
  },
  sealedBlock: {
    transactions: sealedBlock.transactions.map((tx) => ({
      hash: tx.hash,
      from: tx.from,
      blockHash: tx.blockHash,
    })),
  },
  sealed: {
    hash: sealed.hash,
    from: sealed.from,
    to: sealed.to,
    value: sealed.value,
    nonce: sealed.nonce,
    type: sealed.type,
    blockNumber: sealed.blockNumber,
    blockHash: sealed.blockHash,
    transactionIndex: sealed.transactionIndex,
  },
  receipt: {
    status: receipt.status,
    transactionHash: receipt.transactionHash,
    blockNumber: receipt.blockNumber,
    blockHash: receipt.blockHash,
    from: receipt.from,
    to: receipt.to,
    gasUsed: receipt.gasUsed,
    logs: receipt.logs,
  },
  pending: { hash: pending.hash, blockNumber: pending.blockNumber, blockHash: pending.blockHash },
  pendingReceipt,
  estimatedFees: await client.estimateFeesPerGas(),
};

console.log(JSON.stringify(result, (_, v) => (typeof v === "bigint" ? v.toString() : v)));
