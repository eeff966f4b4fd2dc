//! `causeway bench l1-gas`: what Causeway costs on L1, in gas, measured on a real chain.
//!
//! Spawns anvil (the workspace's pinned one, through `causeway_bindings::anvil`, with its
//! default hardfork), deploys the committed contract artifacts and reads every number from a
//! transaction receipt: `gas_used` includes the 21,000 intrinsic gas, the calldata and the
//! EIP-7623 calldata floor where the hardfork applies it. Nothing is estimated.
//!
//! What runs, in order:
//! 1. **User calls** on a scratch rollup: `depositETH`, `depositERC20` (a mock token compiled
//!    from `contracts/test/Mocks.sol`, see [`MockToken`]), `requestFullExit`,
//!    `authorizePubkey`. Each is measured in steady state, as on a live rollup: the first three
//!    after a warm-up call of the same kind, so the queue counters and the pools are already
//!    non-zero; `authorizePubkey` writes a fresh slot, as every registration does.
//! 2. **Commit at size N**, for each `--chunks` N: a rollup with `batchChunks = N` commits
//!    one batch of N one-chunk Transfers between existing accounts (ids below 2^20, random
//!    amounts and fees, so the pubdata bytes are as non-zero as real ones), encoded by
//!    `causeway_primitives::pubdata::encode`. The contract walks transfers without checking
//!    them, so these batches are committed, never proven. A warm-up empty batch is committed
//!    first, so the measured commit is not the chain's first.
//! 3. **Settlement with real proofs** on a rollup of the devnet's 6-chunk circuit (the
//!    committed `BatchVerifier`): three blocks built by the stf and proven with Groth16 under
//!    the development key `dev_setup(BATCH_SHAPE, DEV_SEED)` (NOT FOR PRODUCTION): deposits
//!    creating two accounts; a ChangePubKey (authorized on L1) and a Transfer; a FullExit the
//!    owner requested on L1, paying its balance. Measured: commit, prove, execute (with no
//!    withdrawal, and with one), and claiming the withdrawal with `withdrawPending`.
//! 4. **Exodus** on the same rollup: a deposit left unprocessed past the priority deadline
//!    (anvil's `evm_increaseTime`), `activateExodus`, `exodusWithdraw` with an exit proof of
//!    the last executed state (paths from the stf's `MemoryState`), `reclaimDeposit`, and the
//!    claim.
//!
//! Groth16 verification costs the same for every batch size (one public input, the same
//! verifier code), so the amortized gas per transfer at size N is
//! `(commit(N) + prove + execute) / N` with the prove and execute gas measured in step 3.

use crate::prove::spinner;
use crate::step::{Context, StepFailed};
use alloy::contract::{CallBuilder, CallDecoder};
use alloy::network::EthereumWallet;
use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::types::TransactionReceipt;
use alloy::signers::local::PrivateKeySigner;
use causeway_bindings::BatchChain::{CommitInfo, StoredBatch};
use causeway_bindings::anvil::{Anvil, AnvilError, DEV_KEY};
use causeway_bindings::{BatchVerifier, StateTree, ZkRollup};
use causeway_circuit::batch::BatchInput;
use causeway_circuit::export::proof_to_evm;
use causeway_circuit::groth16::{self, BatchR1cs, ProvingKey};
use causeway_crypto::eddsa::PrivateKey;
use causeway_crypto::poseidon::hash4;
use causeway_l1::batch::{commit_info, proof_words, root_word, withdrawals};
use causeway_l1::exodus::exit_proof;
use causeway_l1::rollup::committed_in;
use causeway_l1_gen::{BATCH_SHAPE, DEV_SEED};
use causeway_primitives::pubdata::{PubdataOp, encode};
use causeway_primitives::{
    AccountId, ChangePubKey, ChangePubKeyAuth, Deposit, Domain, FullExit, Op, PackedAmount,
    PackedFee, TokenId, Transfer, TxSignature,
};
use causeway_stf::{BlockContext, MemoryState, StateView, WitnessMode, apply_block};
use causeway_tree::{Poseidon, SparseMerkleTree};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::fmt::Display;
use std::thread::JoinHandle;
use std::time::Instant;

#[derive(clap::Args, Debug)]
pub struct L1GasArgs {
    /// Batch sizes (pubdata chunks, one transfer each) to measure the commit at.
    #[arg(long, value_delimiter = ',', default_values_t = [6usize, 64, 256, 1024])]
    chunks: Vec<usize>,
}

/// Why the benchmark stopped.
#[derive(Debug, thiserror::Error)]
pub enum L1GasError {
    #[error("invalid arguments: {0}")]
    Args(String),
    #[error(transparent)]
    Anvil(#[from] AnvilError),
    #[error(transparent)]
    Step(#[from] StepFailed),
    #[error("{0}: the transaction reverted")]
    Reverted(String),
}

alloy::sol! {
    /// `MockToken` of `contracts/test/Mocks.sol` (a plain ERC-20 with a switchable transfer
    /// fee, left at 0), compiled by the workspace's solc 0.8.37 with `contracts/foundry.toml`'s
    /// settings (optimizer 1,000,000 runs, cancun, no metadata). The contracts have no
    /// deployable token, and only a test one is needed here.
    #[sol(rpc, bytecode = "6080604052348015600e575f5ffd5b506106a78061001c5f395ff3fe608060405234801561000f575f5ffd5b506004361061009f575f3560e01c806340c10f191161007257806372c27b621161005857806372c27b6214610132578063a9059cbb14610145578063dd62ed3e14610158575f5ffd5b806340c10f19146100fe57806370a0823114610113575f5ffd5b8063095ea7b3146100a357806318160ddd146100cb57806323b872dd146100e257806324a9d853146100f5575b5f5ffd5b6100b66100b136600461053b565b610182565b60405190151581526020015b60405180910390f35b6100d460025481565b6040519081526020016100c2565b6100b66100f0366004610563565b6101bc565b6100d460035481565b61011161010c36600461053b565b6101dc565b005b6100d461012136600461059d565b5f6020819052908152604090205481565b6101116101403660046105bd565b610231565b6100b661015336600461053b565b6102a7565b6100d46101663660046105d4565b600160209081525f928352604080842090915290825290205481565b335f90815260016020818152604080842073ffffffffffffffffffffffffffffffffffffffff871685529091529091208290555b92915050565b5f6101c784836102bc565b6101d28484846103b5565b5060019392505050565b73ffffffffffffffffffffffffffffffffffffffff82165f9081526020819052604081208054839290610210908490610632565b925050819055508060025f8282546102289190610632565b90915550505050565b6127108111156102a2576040517f08c379a000000000000000000000000000000000000000000000000000000000815260206004820152600e60248201527f6665652061626f7665203130302500000000000000000000000000000000000060448201526064015b60405180910390fd5b600355565b5f6102b33384846103b5565b50600192915050565b73ffffffffffffffffffffffffffffffffffffffff821633146103b15773ffffffffffffffffffffffffffffffffffffffff82165f908152600160209081526040808320338452909152902054811115610372576040517f08c379a000000000000000000000000000000000000000000000000000000000815260206004820152600960248201527f616c6c6f77616e636500000000000000000000000000000000000000000000006044820152606401610299565b73ffffffffffffffffffffffffffffffffffffffff82165f90815260016020908152604080832033845290915281208054839290610228908490610645565b5050565b73ffffffffffffffffffffffffffffffffffffffff83165f90815260208190526040902054811115610443576040517f08c379a000000000000000000000000000000000000000000000000000000000815260206004820152600760248201527f62616c616e6365000000000000000000000000000000000000000000000000006044820152606401610299565b5f612710600354836104559190610658565b61045f919061066f565b9050815f5f8673ffffffffffffffffffffffffffffffffffffffff1673ffffffffffffffffffffffffffffffffffffffff1681526020019081526020015f205f8282546104ac9190610645565b909155506104bc90508183610645565b73ffffffffffffffffffffffffffffffffffffffff84165f90815260208190526040812080549091906104f0908490610632565b925050819055508060025f8282546105089190610645565b909155505050505050565b803573ffffffffffffffffffffffffffffffffffffffff81168114610536575f5ffd5b919050565b5f5f6040838503121561054c575f5ffd5b61055583610513565b946020939093013593505050565b5f5f5f60608486031215610575575f5ffd5b61057e84610513565b925061058c60208501610513565b929592945050506040919091013590565b5f602082840312156105ad575f5ffd5b6105b682610513565b9392505050565b5f602082840312156105cd575f5ffd5b5035919050565b5f5f604083850312156105e5575f5ffd5b6105ee83610513565b91506105fc60208401610513565b90509250929050565b7f4e487b71000000000000000000000000000000000000000000000000000000005f52601160045260245ffd5b808201808211156101b6576101b6610605565b818103818111156101b6576101b6610605565b80820281158282048414176101b6576101b6610605565b5f826106a2577f4e487b71000000000000000000000000000000000000000000000000000000005f52601260045260245ffd5b50049056")]
    contract MockToken {
        function mint(address to, uint256 amount) external;
        function approve(address spender, uint256 amount) external returns (bool);
    }
}

/// Seconds a priority op may wait: exodus becomes possible after this (anvil's clock is
/// moved past it).
const PRIORITY_DEADLINE: u64 = 3600;
/// Accounts the commit-at-N batches pretend the state has: transfer ids are drawn below it,
/// so their 24-bit ids are mostly non-zero bytes, as on a rollup with a million accounts.
const ACCOUNTS: u32 = 1 << 20;
const ETHER: u128 = 1_000_000_000_000_000_000;
/// EIP-7623's floor: 10 gas per calldata token, a zero byte one token and a non-zero byte four.
const FLOOR_PER_TOKEN: u64 = 10;
const INTRINSIC: u64 = 21_000;
/// The target: amortized L1 gas per transfer at the largest batch.
const TARGET_PER_TRANSFER: u64 = 2_000;
/// The largest batch the prover fits in 16 GB, as the README measures it: 110 chunks prove
/// with a peak RSS of 15.1 GB (`causeway bench prove --chunks 110 --keys DIR`, key loaded).
const PROVER_MAX_CHUNKS_16GB: usize = 110;
/// Batches per `commitBatches`/`proveBatches`/`executeBatches` call in the grouped rounds.
const GROUPS: [usize; 3] = [2, 4, 8];

/// The calldata of a transaction, byte by byte.
#[derive(Debug, Clone, Copy, Default)]
struct Calldata {
    zero: u64,
    nonzero: u64,
}

impl Calldata {
    fn of(bytes: &[u8]) -> Self {
        let zero = bytes.iter().filter(|b| **b == 0).count() as u64;
        Calldata {
            zero,
            nonzero: bytes.len() as u64 - zero,
        }
    }

    fn len(&self) -> u64 {
        self.zero + self.nonzero
    }

    /// The standard calldata price: 4 gas per zero byte, 16 per non-zero byte.
    fn standard_gas(&self) -> u64 {
        4 * self.zero + 16 * self.nonzero
    }

    /// EIP-7623's floor price of the same bytes: 10 and 40.
    fn floor_gas(&self) -> u64 {
        FLOOR_PER_TOKEN * (self.zero + 4 * self.nonzero)
    }
}

/// One measured transaction.
#[derive(Debug, Clone, Copy)]
struct Gas {
    /// The receipt's `gas_used`.
    used: u64,
    calldata: Calldata,
}

impl Gas {
    /// Whether the transaction paid the EIP-7623 floor (21,000 + 10 per token) rather than
    /// its execution: the receipt says exactly the floor.
    fn floored(&self) -> bool {
        self.used == INTRINSIC + self.calldata.floor_gas()
    }
}

/// A mined, successful transaction.
struct Sent {
    gas: Gas,
    receipt: TransactionReceipt,
}

/// Sends `call`, waits for its receipt, and refuses a revert.
async fn send<P: Provider, D: CallDecoder>(
    what: impl Display,
    call: CallBuilder<P, D>,
) -> Result<Sent, L1GasError> {
    let calldata = Calldata::of(call.calldata());
    let receipt = call
        .send()
        .await
        .context(&what)?
        .get_receipt()
        .await
        .context(&what)?;
    if !receipt.status() {
        return Err(L1GasError::Reverted(what.to_string()));
    }
    Ok(Sent {
        gas: Gas {
            used: receipt.gas_used,
            calldata,
        },
        receipt,
    })
}

/// The one batch a commit receipt reports.
fn committed_one(receipt: &TransactionReceipt, what: &str) -> Result<StoredBatch, L1GasError> {
    committed_in(receipt)
        .pop()
        .context(format!("{what}: the BatchCommitted event"))
        .map_err(L1GasError::from)
}

type Rollup = ZkRollup::ZkRollupInstance<DynProvider>;

/// The chain: anvil, the operator's connection and the contracts every rollup shares.
struct Chain {
    /// Kept alive for the whole run; dropping it kills anvil.
    _anvil: Anvil,
    url: alloy::transports::http::reqwest::Url,
    operator: DynProvider,
    operator_address: Address,
    verifier: Address,
    state_tree: Address,
}

impl Chain {
    async fn start() -> Result<Chain, L1GasError> {
        let anvil = Anvil::spawn()?;
        let url = anvil.endpoint_url();
        let signer: PrivateKeySigner = DEV_KEY.parse().context("anvil's dev key")?;
        let operator_address = signer.address();
        let operator = ProviderBuilder::new()
            .wallet(EthereumWallet::from(signer))
            .connect_http(url.clone())
            .erased();
        let verifier = *BatchVerifier::deploy(operator.clone())
            .await
            .context("deploying BatchVerifier")?
            .address();
        let state_tree = *StateTree::deploy(operator.clone())
            .await
            .context("deploying StateTree")?
            .address();
        Ok(Chain {
            _anvil: anvil,
            url,
            operator,
            operator_address,
            verifier,
            state_tree,
        })
    }

    /// A connection signing as a fresh user with 100 ETH (`anvil_setBalance`).
    async fn user(&self, seed: u8) -> Result<User, L1GasError> {
        let signer =
            PrivateKeySigner::from_bytes(&B256::repeat_byte(seed)).context("a user's key")?;
        let address = signer.address();
        let _: serde_json::Value = self
            .operator
            .raw_request(
                "anvil_setBalance".into(),
                (address, U256::from(100 * ETHER)),
            )
            .await
            .context("anvil_setBalance")?;
        let l1 = ProviderBuilder::new()
            .wallet(EthereumWallet::from(signer))
            .connect_http(self.url.clone())
            .erased();
        Ok(User { address, l1 })
    }

    /// A rollup over the empty state with `chunks`-chunk batches, the operator as governance
    /// and operator, and its genesis batch.
    async fn rollup(&self, chunks: usize) -> Result<(Rollup, StoredBatch), L1GasError> {
        let genesis_root = SparseMerkleTree::<Poseidon>::accounts().empty_root();
        let rollup = ZkRollup::deploy(
            self.operator.clone(),
            self.verifier,
            self.state_tree,
            U256::from(chunks),
            self.operator_address,
            self.operator_address,
            PRIORITY_DEADLINE,
            root_word(&genesis_root),
        )
        .await
        .context(format!("deploying ZkRollup with {chunks}-chunk batches"))?;
        let genesis = rollup
            .BatchCommitted_filter()
            .from_block(0)
            .query()
            .await
            .context("the genesis BatchCommitted event")?
            .pop()
            .context("the genesis BatchCommitted event")?
            .0
            .batch;
        Ok((rollup, genesis))
    }

    /// Moves anvil's clock forward by `seconds` and mines a block at the new time.
    async fn advance(&self, seconds: u64) -> Result<(), L1GasError> {
        let _: serde_json::Value = self
            .operator
            .raw_request("evm_increaseTime".into(), (seconds,))
            .await
            .context("evm_increaseTime")?;
        let _: serde_json::Value = self
            .operator
            .raw_request("evm_mine".into(), Vec::<u64>::new())
            .await
            .context("evm_mine")?;
        Ok(())
    }

    /// `web3_clientVersion` and the hardfork `anvil_nodeInfo` reports.
    async fn describe(&self) -> Result<(String, String), L1GasError> {
        let version: String = self
            .operator
            .raw_request("web3_clientVersion".into(), Vec::<u64>::new())
            .await
            .context("web3_clientVersion")?;
        let info: serde_json::Value = self
            .operator
            .raw_request("anvil_nodeInfo".into(), Vec::<u64>::new())
            .await
            .context("anvil_nodeInfo")?;
        let hardfork = info["hardFork"].as_str().unwrap_or("unknown").to_owned();
        Ok((version, hardfork))
    }
}

/// An L1 user with its own signing connection.
struct User {
    address: Address,
    l1: DynProvider,
}

impl User {
    fn rollup(&self, rollup: &Rollup) -> Rollup {
        ZkRollup::new(*rollup.address(), self.l1.clone())
    }
}

/// A measured row: what was called, and its gas.
struct Row {
    call: String,
    gas: Gas,
}

fn row(call: impl Into<String>, gas: Gas) -> Row {
    Row {
        call: call.into(),
        gas,
    }
}

/// Step 1: the users' own calls, each after a warm-up call of the same kind.
async fn user_calls(chain: &Chain) -> Result<Vec<Row>, L1GasError> {
    println!("user calls: depositETH, depositERC20, requestFullExit, authorizePubkey");
    let (rollup, _) = chain.rollup(BATCH_SHAPE.chunks).await?;
    let alice = chain.user(0xa1).await?;
    let as_alice = alice.rollup(&rollup);
    let mut rows = Vec::new();

    for (i, what) in ["depositETH (warm-up)", "depositETH"]
        .into_iter()
        .enumerate()
    {
        let sent = send(
            what,
            as_alice
                .depositETH(alice.address)
                .value(U256::from(ETHER / 10)),
        )
        .await?;
        if i == 1 {
            rows.push(row("`depositETH`", sent.gas));
        }
    }

    let token = MockToken::deploy(chain.operator.clone())
        .await
        .context("deploying the mock ERC-20")?;
    send("listToken", rollup.listToken(*token.address())).await?;
    send(
        "minting the mock ERC-20",
        token.mint(alice.address, U256::from(1_000 * ETHER)),
    )
    .await?;
    let token_as_alice = MockToken::new(*token.address(), alice.l1.clone());
    send(
        "approving the rollup",
        token_as_alice.approve(*rollup.address(), U256::from(1_000 * ETHER)),
    )
    .await?;
    for (i, what) in ["depositERC20 (warm-up)", "depositERC20"]
        .into_iter()
        .enumerate()
    {
        let sent = send(
            what,
            as_alice.depositERC20(*token.address(), U256::from(ETHER), alice.address),
        )
        .await?;
        if i == 1 {
            rows.push(row(
                "`depositERC20` (mock ERC-20 of `contracts/test/Mocks.sol`)",
                sent.gas,
            ));
        }
    }

    for (i, what) in ["requestFullExit (warm-up)", "requestFullExit"]
        .into_iter()
        .enumerate()
    {
        let sent = send(what, as_alice.requestFullExit(i as u32, 0)).await?;
        if i == 1 {
            rows.push(row("`requestFullExit`", sent.gas));
        }
    }

    let key = PrivateKey::from_bytes([0xa1; 32]).public_key().to_packed();
    let sent = send(
        "authorizePubkey",
        as_alice.authorizePubkey(0, B256::from(key.0)),
    )
    .await?;
    rows.push(row("`authorizePubkey`", sent.gas));
    Ok(rows)
}

/// Step 2: one commit of `n` transfers.
struct CommitRow {
    n: usize,
    commit: Gas,
    pubdata: Calldata,
}

/// A random-looking root (below 2^253, like a field element): commits do not check roots.
fn random_root(rng: &mut StdRng) -> B256 {
    let mut bytes = [0u8; 32];
    rng.fill(&mut bytes);
    bytes[0] &= 0x1f;
    B256::from(bytes)
}

/// The pubdata of `n` Transfers between existing accounts (ids below [`ACCOUNTS`]), with
/// amounts of up to 9 significant digits and fees of up to 3, in ETH.
fn transfer_pubdata(n: usize, rng: &mut StdRng) -> Result<Vec<u8>, L1GasError> {
    let ops = (0..n)
        .map(|_| {
            let from = rng.gen_range(0..ACCOUNTS);
            let to = (from + rng.gen_range(1..ACCOUNTS)) % ACCOUNTS;
            let amount = rng.gen_range(1..1_000_000_000u128) * 10u128.pow(rng.gen_range(6..=12));
            let fee = rng.gen_range(1..1024u128) * 10u128.pow(rng.gen_range(9..=12));
            Ok(PubdataOp::Transfer {
                from: AccountId::new(from).context("an account id")?,
                to: AccountId::new(to).context("an account id")?,
                token: TokenId::ETH,
                amount: PackedAmount::pack(amount).context("packing an amount")?,
                fee: PackedFee::pack(fee).context("packing a fee")?,
            })
        })
        .collect::<Result<Vec<_>, L1GasError>>()?;
    Ok(encode(&ops))
}

/// Commits an empty warm-up batch, then one of `n` transfers on a rollup of `n` chunks.
async fn commit_at(chain: &Chain, n: usize, rng: &mut StdRng) -> Result<CommitRow, L1GasError> {
    let (rollup, genesis) = chain.rollup(n).await?;
    let warm_up = CommitInfo {
        newRoot: random_root(rng),
        newAccountCount: ACCOUNTS,
        feeAccount: 0,
        pubdata: Bytes::new(),
        changePubkeySignatures: vec![],
    };
    let sent = send(
        format!("committing the warm-up batch at {n} chunks"),
        rollup.commitBatches(genesis, vec![warm_up]),
    )
    .await?;
    let last = committed_one(&sent.receipt, "warm-up commit")?;
    let pubdata = transfer_pubdata(n, rng)?;
    let info = CommitInfo {
        newRoot: random_root(rng),
        newAccountCount: ACCOUNTS,
        feeAccount: 0,
        pubdata: Bytes::copy_from_slice(&pubdata),
        changePubkeySignatures: vec![],
    };
    let sent = send(
        format!("committing {n} transfers"),
        rollup.commitBatches(last, vec![info]),
    )
    .await?;
    Ok(CommitRow {
        n,
        commit: sent.gas,
        pubdata: Calldata::of(&pubdata),
    })
}

/// Steps 3 and 4: real blocks, real proofs, execution, withdrawals, exodus.
struct Settlement {
    rows: Vec<Row>,
    exodus: Vec<Row>,
    prove: Gas,
    execute: Gas,
    grouped: Vec<Grouped>,
}

/// One round of `k` empty batches committed, proven and executed with one call each: the
/// fixed cost of a batch when calls carry several.
struct Grouped {
    k: usize,
    commit: Gas,
    prove: Gas,
    execute: Gas,
}

/// A block sealed by the stf and applied to the state.
struct Block {
    ops: Vec<Op>,
    sealed: causeway_stf::Sealed,
}

fn seal(state: &mut MemoryState, ctx: &BlockContext, ops: Vec<Op>) -> Result<Block, L1GasError> {
    let sealed = apply_block(state, ctx, &ops, WitnessMode::Record).context("the stf")?;
    state.apply(&sealed.diff);
    Ok(Block { ops, sealed })
}

/// A Groth16 proof of `block` under the 6-chunk development key, as `proveBatches` takes it.
fn prove_block(
    (pk, r1cs): (&ProvingKey, &BatchR1cs),
    ctx: &BlockContext,
    block: &Block,
    label: &str,
    seed: u64,
) -> Result<[U256; 8], L1GasError> {
    let witness = block.sealed.witness.as_ref().context("the stf's witness")?;
    let input = BatchInput::new(BATCH_SHAPE, ctx.domain, ctx.fee_account, witness)
        .context(format!("{label} as the circuit's input"))?;
    let started = Instant::now();
    let bar = spinner(format!("proving {label}"));
    let proof = groth16::prove(pk, r1cs, &input, &mut StdRng::seed_from_u64(seed));
    bar.finish_and_clear();
    let proof = proof.context(format!("proving {label}"))?;
    println!("  proved {label} in {:.1?}", started.elapsed());
    Ok(proof_words(&proof_to_evm(&proof)))
}

fn account(id: u32) -> Result<AccountId, L1GasError> {
    Ok(AccountId::new(id).context("an account id")?)
}

async fn settlement(
    chain: &Chain,
    setup: JoinHandle<Result<(ProvingKey, BatchR1cs), groth16::ProofError>>,
) -> Result<Settlement, L1GasError> {
    println!(
        "settlement: 6-chunk rollup, three stf blocks with real proofs, rounds of 2, 4 and 8 \
         batches per call, then exodus"
    );
    let (rollup, genesis) = chain.rollup(BATCH_SHAPE.chunks).await?;
    let alice = chain.user(0xa2).await?;
    let bob = chain.user(0xb2).await?;
    let carol = chain.user(0xc2).await?;
    let chain_id = chain.operator.get_chain_id().await.context("eth_chainId")?;
    let mut ctx = BlockContext {
        domain: Domain {
            chain_id,
            contract: *rollup.address(),
        },
        fee_account: account(0)?,
        token_count: 1,
        onchain_auths: Default::default(),
        max_fee_tokens: BATCH_SHAPE.fee_slots,
    };
    let mut state = MemoryState::new();
    let mut rows = Vec::new();

    // L1: Alice and Bob deposit 1 ETH each; Alice registers her L2 key on L1.
    for user in [&alice, &bob] {
        send(
            "depositETH",
            user.rollup(&rollup)
                .depositETH(user.address)
                .value(U256::from(ETHER)),
        )
        .await?;
    }
    let l2_key = PrivateKey::from_bytes([0xa2; 32]);
    let pubkey = l2_key.public_key().to_packed();
    send(
        "authorizePubkey",
        alice
            .rollup(&rollup)
            .authorizePubkey(0, B256::from(pubkey.0)),
    )
    .await?;
    ctx.onchain_auths.insert((alice.address, pubkey, 0));

    // Block 1: the deposits create accounts 0 (Alice, also the fee account) and 1 (Bob).
    let deposit = |priority_id: u64, to: Address| {
        Op::Deposit(Deposit {
            priority_id,
            from: to,
            to,
            token: TokenId::ETH,
            amount: ETHER,
        })
    };
    let b1 = seal(
        &mut state,
        &ctx,
        vec![deposit(0, alice.address), deposit(1, bob.address)],
    )?;
    // Block 2: Alice's ChangePubKey (5 chunks) and a transfer to Bob (1 chunk).
    let mut transfer = Transfer {
        from: account(0)?,
        to: bob.address,
        token: TokenId::ETH,
        amount: ETHER / 10,
        fee: 1_000_000_000_000,
        nonce: 1,
        signature: TxSignature {
            pubkey,
            r8_x: [0; 32],
            r8_y: [0; 32],
            s: [0; 32],
        },
    };
    transfer.signature = l2_key
        .sign(hash4(&transfer.signing_fields(&ctx.domain)))
        .to_tx_signature(&l2_key.public_key());
    let b2 = seal(
        &mut state,
        &ctx,
        vec![
            Op::ChangePubKey(ChangePubKey {
                account: account(0)?,
                new_pubkey: pubkey,
                fee_token: TokenId::ETH,
                fee: 0,
                nonce: 0,
                auth: ChangePubKeyAuth::Onchain,
            }),
            Op::Transfer(transfer),
        ],
    )?;
    // Block 3: Bob asks on L1 for his whole balance; the block's FullExit pays it.
    send("requestFullExit", bob.rollup(&rollup).requestFullExit(1, 0)).await?;
    let b3 = seal(
        &mut state,
        &ctx,
        vec![Op::FullExit(FullExit {
            priority_id: 2,
            account: account(1)?,
            owner: bob.address,
            token: TokenId::ETH,
        })],
    )?;
    let bob_balance = ETHER + ETHER / 10;

    let mut last = genesis;
    let mut stored = Vec::new();
    for (i, block) in [&b1, &b2, &b3].into_iter().enumerate() {
        let sent = send(
            format!("committing block {}", i + 1),
            rollup.commitBatches(
                last,
                vec![commit_info(&block.sealed, &block.ops, ctx.fee_account)],
            ),
        )
        .await?;
        last = committed_one(&sent.receipt, "commit")?;
        stored.push(last.clone());
        if i == 1 {
            rows.push(row(
                "`commitBatches`: 1 batch, ChangePubKey + Transfer (6 chunks, real)",
                sent.gas,
            ));
        }
    }

    println!(
        "  waiting for the development setup of {} chunks (NOT FOR PRODUCTION)",
        BATCH_SHAPE.chunks
    );
    let started = Instant::now();
    let bar = spinner(format!(
        "development setup for {} chunks",
        BATCH_SHAPE.chunks
    ));
    let keys = setup.join();
    bar.finish_and_clear();
    let (pk, r1cs) = keys
        .map_err(|_| StepFailed::new("the development setup", "the setup thread panicked"))?
        .context("the development setup")?;
    println!("  setup ready (waited {:.1?})", started.elapsed());

    let mut prove = None;
    let mut execute = None;
    for (i, (block, batch)) in [&b1, &b2, &b3].into_iter().zip(&stored).enumerate() {
        let label = format!("block {}", i + 1);
        let proof = prove_block((&pk, &r1cs), &ctx, block, &label, i as u64)?;
        let sent = send(
            format!("proving {label} on L1"),
            rollup.proveBatches(vec![batch.clone()], vec![proof]),
        )
        .await?;
        if i == 1 {
            prove = Some(sent.gas);
            rows.push(row(
                "`proveBatches`: 1 batch (Groth16, one public input)",
                sent.gas,
            ));
        }
        let credited = withdrawals(&block.sealed.pubdata()).context("decoding the pubdata")?;
        let sent = send(
            format!("executing {label}"),
            rollup.executeBatches(vec![batch.clone()], vec![credited]),
        )
        .await?;
        match i {
            1 => {
                execute = Some(sent.gas);
                rows.push(row(
                    "`executeBatches`: 1 batch, no withdrawal, no priority op",
                    sent.gas,
                ));
            }
            2 => rows.push(row(
                "`executeBatches`: 1 batch, a FullExit (1 priority op, 1 ETH withdrawal)",
                sent.gas,
            )),
            _ => {}
        }
    }
    let pending = rollup
        .pending(bob.address, 0)
        .call()
        .await
        .context("pending")?;
    if pending != bob_balance {
        return Err(StepFailed::new(
            "the FullExit",
            format!("{pending} wei pending for Bob, expected {bob_balance}"),
        )
        .into());
    }
    let sent = send("withdrawPending", rollup.withdrawPending(bob.address, 0)).await?;
    rows.push(row("`withdrawPending` (ETH)", sent.gas));

    // Several batches per call: rounds of k empty blocks (no op, so only the fixed cost),
    // each committed, proven (k real proofs, checked together) and executed in one call.
    let mut grouped = Vec::new();
    for k in GROUPS {
        let blocks = (0..k)
            .map(|_| seal(&mut state, &ctx, vec![]))
            .collect::<Result<Vec<_>, _>>()?;
        let infos = blocks
            .iter()
            .map(|b| commit_info(&b.sealed, &b.ops, ctx.fee_account))
            .collect();
        let commit = send(
            format!("committing {k} batches"),
            rollup.commitBatches(last.clone(), infos),
        )
        .await?;
        let batches = committed_in(&commit.receipt);
        last = batches
            .last()
            .cloned()
            .context(format!("{k} batches: the BatchCommitted events"))?;
        let mut proofs = Vec::with_capacity(k);
        for (i, block) in blocks.iter().enumerate() {
            let label = format!("empty block {} of {k}", i + 1);
            proofs.push(prove_block(
                (&pk, &r1cs),
                &ctx,
                block,
                &label,
                (k + i) as u64,
            )?);
        }
        let prove = send(
            format!("proving {k} batches on L1"),
            rollup.proveBatches(batches.clone(), proofs),
        )
        .await?;
        let execute = send(
            format!("executing {k} batches"),
            rollup.executeBatches(batches, vec![vec![]; k]),
        )
        .await?;
        grouped.push(Grouped {
            k,
            commit: commit.gas,
            prove: prove.gas,
            execute: execute.gas,
        });
    }

    // Exodus: Carol's deposit is never processed; past its deadline anyone stops the rollup.
    let mut exodus = Vec::new();
    let reclaimed = ETHER / 2;
    let sent = send(
        "Carol's depositETH",
        carol
            .rollup(&rollup)
            .depositETH(carol.address)
            .value(U256::from(reclaimed)),
    )
    .await?;
    let op_id = sent
        .receipt
        .decoded_log::<ZkRollup::DepositQueued>()
        .context("the DepositQueued event")?
        .data
        .opId;
    chain.advance(PRIORITY_DEADLINE + 60).await?;
    let sent = send("activateExodus", rollup.activateExodus()).await?;
    exodus.push(row("`activateExodus`", sent.gas));
    let executed_root = rollup.executedRoot().call().await.context("executedRoot")?;
    if executed_root != root_word(&state.root()) {
        return Err(StepFailed::new("exodus", "the executed root is not the stf's state").into());
    }
    let proof = exit_proof(&state, account(0)?, TokenId::ETH).context("the exit proof")?;
    let alice_balance = proof.balance;
    let sent = send(
        "exodusWithdraw",
        carol.rollup(&rollup).exodusWithdraw(proof),
    )
    .await?;
    exodus.push(row(
        "`exodusWithdraw` (ETH; StateTree: 18 Poseidon hashes)",
        sent.gas,
    ));
    let sent = send(
        "reclaimDeposit",
        carol
            .rollup(&rollup)
            .reclaimDeposit(op_id, carol.address, 0, reclaimed),
    )
    .await?;
    exodus.push(row("`reclaimDeposit` (ETH)", sent.gas));
    let pending = rollup
        .pending(alice.address, 0)
        .call()
        .await
        .context("pending")?;
    if pending != alice_balance {
        return Err(StepFailed::new(
            "exodusWithdraw",
            format!("{pending} wei pending for Alice, expected {alice_balance}"),
        )
        .into());
    }
    let sent = send(
        "withdrawPending after exodus",
        rollup.withdrawPending(alice.address, 0),
    )
    .await?;
    exodus.push(row("`withdrawPending` (ETH, after exodus)", sent.gas));

    Ok(Settlement {
        rows,
        exodus,
        prove: prove.context("the prove measurement")?,
        execute: execute.context("the execute measurement")?,
        grouped,
    })
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn print_calls(title: &str, rows: &[Row]) {
    println!("\n### {title}\n");
    println!("| call | gas | calldata bytes | paid the EIP-7623 floor |");
    println!("|---|---:|---:|---|");
    for r in rows {
        println!(
            "| {} | {} | {} | {} |",
            r.call,
            thousands(r.gas.used),
            r.gas.calldata.len(),
            if r.gas.floored() { "yes" } else { "no" }
        );
    }
}

fn print_batches(commits: &[CommitRow], settlement: &Settlement) {
    let fixed = settlement.prove.used + settlement.execute.used;
    println!(
        "\n### Batches of N transfers (prove {} + execute {} = {} gas per batch, any N)\n",
        thousands(settlement.prove.used),
        thousands(settlement.execute.used),
        thousands(fixed)
    );
    println!(
        "| N | commit gas | commit / transfer | paid the floor | pubdata calldata / transfer (16/4) | under the floor (40/10) | (commit + prove + execute) / transfer | ≤ {} | prover fits 16 GB (≤ ~{} chunks) |",
        thousands(TARGET_PER_TRANSFER),
        PROVER_MAX_CHUNKS_16GB
    );
    println!("|---:|---:|---:|---|---:|---:|---:|---|---|");
    for c in commits {
        let n = c.n as u64;
        let amortized = (c.commit.used + fixed) / n;
        println!(
            "| {} | {} | {} | {} | {:.0} | {:.0} | {} | {} | {} |",
            c.n,
            thousands(c.commit.used),
            thousands(c.commit.used / n),
            if c.commit.floored() { "yes" } else { "no" },
            c.pubdata.standard_gas() as f64 / n as f64,
            c.pubdata.floor_gas() as f64 / n as f64,
            thousands(amortized),
            if amortized <= TARGET_PER_TRANSFER {
                "yes"
            } else {
                "no"
            },
            if c.n <= PROVER_MAX_CHUNKS_16GB {
                "yes"
            } else {
                "no"
            },
        );
    }
}

/// The grouped rounds, and what they make of a batch of N transfers: the fixed cost per batch
/// plus the commit's cost per transfer, the slope between the two largest measured commits
/// that did not pay the floor (the floor binds only on large batches).
fn print_grouped(commits: &[CommitRow], settlement: &Settlement) {
    println!(
        "\n### Several batches per call (empty 6-chunk batches, real proofs checked together)\n"
    );
    let unfloored: Vec<&CommitRow> = commits.iter().filter(|c| !c.commit.floored()).collect();
    let slope = match unfloored.as_slice() {
        [.., a, b] if b.n > a.n => {
            Some((b.commit.used - a.commit.used) as f64 / (b.n - a.n) as f64)
        }
        _ => None,
    };
    let n = PROVER_MAX_CHUNKS_16GB as f64;
    println!(
        "| k | `commitBatches` | `proveBatches` | `executeBatches` | fixed gas per batch | N for ≤ {} gas per transfer | per transfer at N = {} |",
        thousands(TARGET_PER_TRANSFER),
        PROVER_MAX_CHUNKS_16GB
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    for g in &settlement.grouped {
        let fixed = (g.commit.used + g.prove.used + g.execute.used) as f64 / g.k as f64;
        let (break_even, at_max) = match slope {
            Some(s) => (
                format!("{:.0}", (fixed / (TARGET_PER_TRANSFER as f64 - s)).ceil()),
                thousands((fixed / n + s).round() as u64),
            ),
            None => ("-".into(), "-".into()),
        };
        println!(
            "| {} | {} | {} | {} | {} | {} | {} |",
            g.k,
            thousands(g.commit.used),
            thousands(g.prove.used),
            thousands(g.execute.used),
            thousands(fixed.round() as u64),
            break_even,
            at_max
        );
    }
    match slope {
        Some(s) => println!(
            "\nCommit cost per transfer below the floor: {s:.1} gas (between the two largest such --chunks)."
        ),
        None => println!(
            "\nThe last two columns need two --chunks sizes whose commits did not pay the floor."
        ),
    }
}

pub fn run(args: &L1GasArgs) -> Result<(), L1GasError> {
    if args.chunks.is_empty() || args.chunks.iter().any(|&n| n == 0 || n > 1 << 16) {
        return Err(L1GasError::Args(
            "--chunks takes batch sizes from 1 to 65536, comma-separated".into(),
        ));
    }
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?
        .block_on(measure(args))
}

async fn measure(args: &L1GasArgs) -> Result<(), L1GasError> {
    let started = Instant::now();
    // The proving key of the committed BatchVerifier; made while the chain work runs.
    println!(
        "development setup of the {}-chunk circuit started in the background (20-40 s)",
        BATCH_SHAPE.chunks
    );
    let setup = std::thread::spawn(|| {
        let pk = groth16::dev_setup(BATCH_SHAPE, DEV_SEED)?;
        Ok((pk, BatchR1cs::new(BATCH_SHAPE)?))
    });

    let chain = Chain::start().await?;
    let (version, hardfork) = chain.describe().await?;
    println!("anvil: {version}, hardfork {hardfork}");

    let calls = user_calls(&chain).await?;
    let mut rng = StdRng::seed_from_u64(7);
    let mut commits = Vec::new();
    for &n in &args.chunks {
        let t = Instant::now();
        let c = commit_at(&chain, n, &mut rng).await?;
        println!(
            "commit of {n} transfers: {} gas ({:.1?})",
            thousands(c.commit.used),
            t.elapsed()
        );
        commits.push(c);
    }
    let settlement = settlement(&chain, setup).await?;

    println!("\n## L1 gas: {version}, hardfork {hardfork} (anvil's default)");
    println!(
        "\nFrom transaction receipts: `gas_used` includes the 21,000 intrinsic gas, calldata, and the EIP-7623 floor (21,000 + 10 gas per calldata token) when it exceeds the standard price."
    );
    print_calls("User calls (steady state)", &calls);
    print_calls(
        "Settlement of 6-chunk batches (stf blocks, real Groth16 proofs)",
        &settlement.rows,
    );
    print_calls("Exodus", &settlement.exodus);
    print_batches(&commits, &settlement);
    print_grouped(&commits, &settlement);
    println!("\ntotal time: {:.1?}", started.elapsed());
    Ok(())
}
