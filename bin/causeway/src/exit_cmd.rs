//! `causeway exit`: a user's funds out of a stopped rollup with nothing but an L1 RPC URL and
//! their key.
//!
//! Owns the command: its arguments, the order of the L1 transactions, and what is printed
//! (progress and notes on stderr, balances, proofs and the summary on stdout). Everything
//! about L1 data (the rebuilt state, exit proofs, reclaimable deposits) is
//! `causeway_l1::exodus`; keys come from the wallet's keystore (`wallet::keystore`).
//!
//! Steps: read whether exodus is active; rebuild the last executed state from the contract's
//! logs and commit calldata and check its root against `executedRoot`; find the owner's
//! accounts. Without exodus it prints what it would withdraw and stops (`--activate` first
//! calls `activateExodus`, which only succeeds once a priority op is past its deadline). In
//! exodus it sends, in order: `exodusWithdraw` for each non-zero balance not yet `exited`;
//! `reclaimDeposit` for each of the owner's deposits still queued; `withdrawPending` for each
//! token with something pending. The first two only credit `pending[owner]` (pull pattern);
//! the last one pays.
//!
//! Invariants:
//! - Running it again is safe and finishes what a failed run left: exited balances, reclaimed
//!   deposits and zero pendings are skipped, so it never sends a transaction that must revert.
//! - Funds only ever go to the owner: the key pays gas, and may be anyone's (`--address` exits
//!   another account, e.g. one whose owner has no ETH for gas). The private key is never
//!   printed; `--dry-run` needs no key at all.

use crate::wallet::keystore::{self, PasswordSource};
use crate::wallet::l1::erc20_meta;
use crate::wallet::{DEFAULT_L1_RPC, TokenMeta, WalletError};
use alloy::eips::BlockNumberOrTag;
use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, U256};
use alloy::providers::{Provider, RootProvider};
use alloy::rpc::types::{TransactionReceipt, TransactionRequest};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolCall;
use alloy::transports::http::reqwest::Url;
use causeway_bindings::ZkRollup::{self, ZkRollupErrors};
use causeway_l1::batch::root_word;
use causeway_l1::exodus::{self, DEFAULT_LOG_RANGE, ExodusError, Progress, QueuedDeposit, Source};
use causeway_l1::send::{SendConfig, SendError, TxSender};
use causeway_primitives::{AccountId, TokenId};
use causeway_stf::{MemoryState, StateView};
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(clap::Args, Debug)]
pub struct ExitArgs {
    /// The L1 node's JSON-RPC
    #[arg(long = "l1-rpc", env = "CAUSEWAY_L1_RPC", value_name = "URL", default_value = DEFAULT_L1_RPC)]
    l1_rpc: String,
    /// The rollup contract
    #[arg(long, value_name = "ADDRESS")]
    rollup: Address,
    /// The rollup's deployment block: its history is read from there on
    #[arg(long, value_name = "N", default_value_t = 0)]
    from_block: u64,
    /// Blocks per eth_getLogs request (L1 providers cap the range)
    #[arg(long, value_name = "N", default_value_t = DEFAULT_LOG_RANGE)]
    log_range: u64,
    /// The account to exit [default: the keystore's address]. Funds always go to its owner;
    /// the keystore's key only pays the gas.
    #[arg(long, value_name = "ADDRESS")]
    address: Option<Address>,
    /// Only print the account's balances, exit proofs and reclaimable deposits; send nothing
    /// (no password needed)
    #[arg(long, conflicts_with = "activate")]
    dry_run: bool,
    /// If exodus is not active, start it first (`activateExodus`: possible once a priority op
    /// is past its deadline)
    #[arg(long)]
    activate: bool,
    /// The encrypted keystore holding the key that sends the transactions
    /// [default: $HOME/.causeway/keystore.json]
    #[arg(long, env = "CAUSEWAY_KEYSTORE", value_name = "FILE")]
    keystore: Option<PathBuf>,
    /// Read the keystore password from the first line of FILE; without it the password comes
    /// from $CAUSEWAY_PASSWORD, else a prompt on the terminal
    #[arg(long, value_name = "FILE")]
    password_file: Option<PathBuf>,
}

/// Why an exit stopped. Whatever was sent before stays done; running again continues.
/// L1 errors are boxed: they are large and every result here carries this type.
#[derive(Debug, thiserror::Error)]
pub enum ExitError {
    #[error("{0}")]
    Args(String),
    #[error(transparent)]
    Wallet(#[from] WalletError),
    #[error(transparent)]
    Exodus(#[from] ExodusError),
    #[error("{what}: {source}")]
    Send {
        what: String,
        #[source]
        source: Box<SendError>,
    },
    #[error(
        "exodus is not active: balances can be withdrawn by proof only once it is. Anyone may \
         start it (`--activate`) once a deposit or full exit is past its deadline unprocessed"
    )]
    NotActive,
    #[error("exodus cannot start: {0}")]
    CannotActivate(String),
    #[error(
        "the rebuilt state's root {rebuilt} is not the contract's executed root {contract}: \
         exit proofs would be refused"
    )]
    RootMismatch {
        rebuilt: alloy::primitives::B256,
        contract: alloy::primitives::B256,
    },
    #[error("cannot start the async runtime: {0}")]
    Runtime(#[source] io::Error),
    #[error("cannot write output: {0}")]
    Output(#[from] io::Error),
}

impl ExitError {
    /// 2 for bad input, 1 for everything else (see main.rs).
    pub fn exit_code(&self) -> u8 {
        match self {
            ExitError::Args(_) => 2,
            ExitError::Wallet(e) => e.exit_code(),
            _ => 1,
        }
    }
}

/// A failed contract read, as the rebuild reports its own.
fn call(what: &'static str) -> impl FnOnce(alloy::contract::Error) -> ExitError {
    move |source| {
        ExitError::Exodus(ExodusError::Call {
            what,
            source: Box::new(source),
        })
    }
}

/// Runs `causeway exit`; results go to `out`.
pub fn run(args: &ExitArgs, out: &mut impl Write) -> Result<(), ExitError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(ExitError::Runtime)?
        .block_on(exit(args, out))
}

/// A balance of an account of the owner, as the rebuilt state has it.
struct Holding {
    account: AccountId,
    token: TokenId,
    amount: u128,
}

/// What the exit moved, per token id.
#[derive(Default)]
struct Summary {
    withdrawn: BTreeMap<u16, u128>,
    reclaimed: BTreeMap<u16, u128>,
    paid: BTreeMap<u16, u128>,
}

/// How amounts are printed: ETH, and each ERC-20 involved in its own units and symbol as its
/// contract reports them; a token whose contract does not answer is printed in base units
/// (the exit goes on: names are for reading, the proofs are in base units).
struct Units(BTreeMap<u16, TokenMeta>);

impl Units {
    async fn load<P: Provider>(l1: &P, rollup: Address, tokens: BTreeSet<u16>) -> Self {
        let contract = ZkRollup::new(rollup, l1);
        let mut known = BTreeMap::from([(0, TokenMeta::eth())]);
        for id in tokens.into_iter().filter(|&id| id != 0) {
            let Ok(address) = contract.tokens(U256::from(id)).call().await else {
                continue;
            };
            if let Ok(meta) = erc20_meta(l1, id, address).await {
                known.insert(id, meta);
            }
        }
        Units(known)
    }

    fn show(&self, token: u16, amount: u128) -> String {
        match self.0.get(&token) {
            Some(meta) => meta.show(amount),
            None => format!("{amount} (base units of token {token})"),
        }
    }
}

async fn exit(args: &ExitArgs, out: &mut impl Write) -> Result<(), ExitError> {
    let url: Url = args
        .l1_rpc
        .parse()
        .map_err(|e| ExitError::Args(format!("--l1-rpc {:?}: {e}", args.l1_rpc)))?;
    // The key is unlocked before the rebuild, which may take minutes: a wrong password
    // should not cost them.
    let (owner, signer) = owner_and_key(args)?;
    let l1 = RootProvider::new_http(url.clone());
    let rollup = ZkRollup::new(args.rollup, &l1);
    let src = Source {
        rollup: args.rollup,
        from_block: args.from_block,
        log_range: args.log_range,
    };

    let exodus_active = rollup.exodus().call().await.map_err(call("exodus"))?;
    let (state, executed) = rebuild(&l1, &src).await?;
    let contract_root = rollup
        .executedRoot()
        .call()
        .await
        .map_err(call("executedRoot"))?;
    let rebuilt_root = root_word(&state.root());
    if rebuilt_root != contract_root {
        if exodus_active {
            return Err(ExitError::RootMismatch {
                rebuilt: rebuilt_root,
                contract: contract_root,
            });
        }
        // Batches are still being executed: the chain moved on while it was read.
        note(&format!(
            "note: batches were executed while the state was rebuilt (now at root \
             {contract_root}); run again for the latest"
        ));
    }

    let token_count = rollup
        .tokenCount()
        .call()
        .await
        .map_err(call("tokenCount"))?;
    let token_count = u16::try_from(token_count)
        .map_err(|_| ExitError::Args(format!("the rollup reports {token_count} tokens")))?;
    let holdings = holdings(&state, owner, token_count);
    let deposits = exodus::reclaimable_deposits(&l1, &src, owner).await?;
    let involved = holdings.iter().map(|h| h.token.get());
    let units = Units::load(
        &l1,
        args.rollup,
        involved.chain(deposits.iter().map(|d| d.token)).collect(),
    )
    .await;
    print_holdings(out, &units, owner, executed, &state, &holdings, &deposits)?;

    if args.dry_run {
        print_proofs(out, &state, &holdings)?;
        if !exodus_active {
            writeln!(out, "exodus is not active: nothing can be withdrawn yet")?;
        }
        return Ok(());
    }
    if !exodus_active && !args.activate {
        writeln!(
            out,
            "exodus is not active: the above is what an exit would withdraw and reclaim"
        )?;
        return Err(ExitError::NotActive);
    }
    let Some(signer) = signer else {
        return Err(ExitError::Args(
            "sending needs a key: drop --dry-run".into(),
        ));
    };
    let mut sender = TxSender::new(
        url,
        signer,
        SendConfig {
            // A handful of transactions a user waits for: look for receipts often.
            poll_interval: Duration::from_millis(500),
            ..SendConfig::default()
        },
    )
    .await
    .map_err(|source| ExitError::Send {
        what: "connecting to the L1 node".into(),
        source: Box::new(source),
    })?;

    if !exodus_active {
        activate(&l1, &mut sender, args.rollup, out).await?;
        // Frozen from now on: the proofs must be against this root.
        let frozen = rollup
            .executedRoot()
            .call()
            .await
            .map_err(call("executedRoot"))?;
        if frozen != rebuilt_root {
            return Err(ExitError::RootMismatch {
                rebuilt: rebuilt_root,
                contract: frozen,
            });
        }
    }
    let mut summary = Summary::default();
    for h in &holdings {
        let exited = rollup
            .exited(h.account.get(), h.token.get())
            .call()
            .await
            .map_err(call("exited"))?;
        if exited {
            note(&format!(
                "account {} already exited {}",
                h.account,
                units.show(h.token.get(), h.amount)
            ));
            continue;
        }
        let proof = exodus::exit_proof(&state, h.account, h.token)?;
        let what = format!(
            "exodusWithdraw of {} from account {}",
            units.show(h.token.get(), h.amount),
            h.account
        );
        send(
            &mut sender,
            args.rollup,
            what,
            ZkRollup::exodusWithdrawCall { p: proof },
            out,
        )
        .await?;
        *summary.withdrawn.entry(h.token.get()).or_default() += h.amount;
    }
    for d in &deposits {
        let what = format!(
            "reclaimDeposit of deposit #{} ({})",
            d.op_id,
            units.show(d.token, d.amount)
        );
        send(
            &mut sender,
            args.rollup,
            what,
            ZkRollup::reclaimDepositCall {
                opId: d.op_id,
                to: d.to,
                tokenId_: d.token,
                amount: d.amount,
            },
            out,
        )
        .await?;
        *summary.reclaimed.entry(d.token).or_default() += d.amount;
    }
    for token in 0..token_count {
        let pending = rollup
            .pending(owner, token)
            .call()
            .await
            .map_err(call("pending"))?;
        if pending.is_zero() {
            continue;
        }
        let amount = u128::try_from(pending).unwrap_or(u128::MAX);
        let what = format!(
            "withdrawPending of {} to {owner}",
            units.show(token, amount)
        );
        send(
            &mut sender,
            args.rollup,
            what,
            ZkRollup::withdrawPendingCall {
                owner,
                tokenId_: token,
            },
            out,
        )
        .await?;
        *summary.paid.entry(token).or_default() += amount;
    }
    print_summary(out, &units, owner, &summary)
}

/// The owner whose funds leave, and the key that sends (none with `--dry-run`).
fn owner_and_key(args: &ExitArgs) -> Result<(Address, Option<PrivateKeySigner>), ExitError> {
    let path = match &args.keystore {
        Some(path) => path.clone(),
        None => keystore::default_path()?,
    };
    if args.dry_run {
        let owner = match args.address {
            Some(address) => address,
            // The keystore names its address in plain text: no password for a dry run.
            None => keystore::address(&path)?.ok_or_else(|| {
                ExitError::Args(format!(
                    "{} does not name its address: pass --address",
                    path.display()
                ))
            })?,
        };
        return Ok((owner, None));
    }
    if !path.exists() {
        return Err(WalletError::NoKeystore(path).into());
    }
    let password = PasswordSource {
        file: args.password_file.clone(),
    }
    .unlock(&path)?;
    let signer = keystore::load(&path, &password)?;
    Ok((args.address.unwrap_or(signer.address()), Some(signer)))
}

/// Prints a line on stderr (progress and notes; stdout carries the results).
fn note(line: &str) {
    let _ = writeln!(io::stderr(), "{line}");
}

/// The last executed state, rebuilt from L1 with a progress line; and its batch number.
async fn rebuild<P: Provider>(l1: &P, src: &Source) -> Result<(MemoryState, u64), ExitError> {
    let started = Instant::now();
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {msg}")
            .expect("the template is valid"),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    let mut report = |p: Progress| {
        bar.set_message(match p {
            Progress::Logs { block, head } => {
                format!("reading the rollup's batch logs: block {block} of {head}")
            }
            Progress::Hashes { done, total } => {
                format!("checking batch hashes: {done} of {total}")
            }
            Progress::Transactions { done, total } => {
                format!("reading commit transactions: {done} of {total}")
            }
            Progress::Replayed { batch, total } => format!("replaying batch {batch} of {total}"),
        })
    };
    let chain = exodus::executed_chain(l1, src, &mut report).await;
    let result = chain.and_then(|chain| {
        let executed = chain.batches.last().map_or(0, |b| b.stored.number);
        exodus::rebuild(&chain, &mut report).map(|state| (state, executed))
    });
    bar.finish_and_clear();
    let (state, executed) = result?;
    note(&format!(
        "rebuilt the state of executed batch {executed} from L1: {} accounts, root {} ({:.1?})",
        state.account_count(),
        root_word(&state.root()),
        started.elapsed()
    ));
    Ok((state, executed))
}

/// Every non-zero balance of every account of `owner`.
fn holdings(state: &MemoryState, owner: Address, token_count: u16) -> Vec<Holding> {
    let mut out = Vec::new();
    for account in exodus::accounts_of(state, owner) {
        for token in 0..token_count {
            let Ok(token) = TokenId::new(token) else {
                break;
            };
            let amount = state.balance(account, token);
            if amount != 0 {
                out.push(Holding {
                    account,
                    token,
                    amount,
                });
            }
        }
    }
    out
}

fn print_holdings(
    out: &mut impl Write,
    units: &Units,
    owner: Address,
    executed: u64,
    state: &MemoryState,
    holdings: &[Holding],
    deposits: &[QueuedDeposit],
) -> Result<(), ExitError> {
    let accounts = exodus::accounts_of(state, owner);
    if accounts.is_empty() {
        writeln!(
            out,
            "{owner} has no account in the state of executed batch {executed}"
        )?;
    }
    for account in &accounts {
        writeln!(
            out,
            "account {account} of {owner} in the state of executed batch {executed}:"
        )?;
        let mut any = false;
        for h in holdings.iter().filter(|h| h.account == *account) {
            writeln!(out, "  {}", units.show(h.token.get(), h.amount))?;
            any = true;
        }
        if !any {
            writeln!(out, "  no balance")?;
        }
    }
    for d in deposits {
        writeln!(
            out,
            "deposit #{} of {} to {owner} never executed (L1 tx {}): reclaimable",
            d.op_id,
            units.show(d.token, d.amount),
            d.tx
        )?;
    }
    Ok(())
}

/// Each exit proof as JSON, with the calldata anyone can send (`cast send <rollup> <data>`).
fn print_proofs(
    out: &mut impl Write,
    state: &MemoryState,
    holdings: &[Holding],
) -> Result<(), ExitError> {
    for h in holdings {
        let p = exodus::exit_proof(state, h.account, h.token)?;
        let path = |levels: &[[U256; 3]]| -> Vec<Vec<String>> {
            levels
                .iter()
                .map(|l| l.iter().map(|w| format!("{w:#x}")).collect())
                .collect()
        };
        let json = serde_json::json!({
            "accountId": p.accountId,
            "tokenId": p.tokenId,
            "balance": p.balance.to_string(),
            "owner": p.owner,
            "nonce": p.nonce,
            "pubkeyX": format!("{:#x}", p.pubkeyX),
            "pubkeyY": format!("{:#x}", p.pubkeyY),
            "balancePath": path(&p.balancePath),
            "accountPath": path(&p.accountPath),
            "calldata": alloy::primitives::Bytes::from(
                ZkRollup::exodusWithdrawCall { p: p.clone() }.abi_encode()
            ),
        });
        writeln!(
            out,
            "exit proof of account {}, token {}:",
            h.account, h.token
        )?;
        writeln!(out, "{json:#}")?;
    }
    Ok(())
}

fn print_summary(
    out: &mut impl Write,
    units: &Units,
    owner: Address,
    s: &Summary,
) -> Result<(), ExitError> {
    let tokens: std::collections::BTreeSet<u16> = s
        .withdrawn
        .keys()
        .chain(s.reclaimed.keys())
        .chain(s.paid.keys())
        .copied()
        .collect();
    if tokens.is_empty() {
        writeln!(out, "nothing left to withdraw for {owner}")?;
        return Ok(());
    }
    writeln!(out, "exit of {owner}:")?;
    for token in tokens {
        let get = |m: &BTreeMap<u16, u128>| m.get(&token).copied().unwrap_or(0);
        writeln!(
            out,
            "  token {token}: withdrawn {}, reclaimed {}, paid out on L1 {}",
            units.show(token, get(&s.withdrawn)),
            units.show(token, get(&s.reclaimed)),
            units.show(token, get(&s.paid))
        )?;
    }
    Ok(())
}

/// Sends one call to the rollup and waits for it to be mined; a revert names the contract's
/// error.
async fn send<C: SolCall>(
    sender: &mut TxSender,
    rollup: Address,
    what: String,
    call: C,
    out: &mut impl Write,
) -> Result<TransactionReceipt, ExitError> {
    note(&format!("sending {what}"));
    let tx = TransactionRequest::default()
        .with_to(rollup)
        .with_input(call.abi_encode());
    match sender.send(tx).await {
        Ok(receipt) => {
            writeln!(out, "{what}: L1 tx {}", receipt.transaction_hash)?;
            Ok(receipt)
        }
        Err(source) => Err(ExitError::Send {
            what,
            source: Box::new(source),
        }),
    }
}

/// `activateExodus`, or why it cannot be called yet. Someone else activating it first is
/// as good.
async fn activate<P: Provider>(
    l1: &P,
    sender: &mut TxSender,
    rollup: Address,
    out: &mut impl Write,
) -> Result<(), ExitError> {
    let what = "activateExodus".to_owned();
    let revert = match send(sender, rollup, what, ZkRollup::activateExodusCall {}, out).await {
        Ok(_) => return Ok(()),
        Err(ExitError::Send { source, what }) => match *source {
            SendError::Reverted { revert, .. } => revert,
            other => {
                return Err(ExitError::Send {
                    what,
                    source: Box::new(other),
                });
            }
        },
        Err(e) => return Err(e),
    };
    match revert.decoded() {
        Some(ZkRollupErrors::ExodusActive(_)) => {
            note("exodus was activated by someone else meanwhile");
            Ok(())
        }
        Some(ZkRollupErrors::NoExpiredPriorityOp(_)) => Err(ExitError::CannotActivate(
            why_not_expired(l1, rollup).await?,
        )),
        _ => Err(ExitError::CannotActivate(format!(
            "activateExodus reverts: {revert}"
        ))),
    }
}

/// Why `activateExodus` reverted `NoExpiredPriorityOp`, in the queue's terms.
async fn why_not_expired<P: Provider>(l1: &P, rollup: Address) -> Result<String, ExitError> {
    let contract = ZkRollup::new(rollup, l1);
    let head = contract
        .priorityExecuted()
        .call()
        .await
        .map_err(call("priorityExecuted"))?;
    let count = contract
        .priorityCount()
        .call()
        .await
        .map_err(call("priorityCount"))?;
    if head >= count {
        return Ok(
            "no deposit or full exit is waiting (NoExpiredPriorityOp): the operator has served \
             every L1 request, so exodus cannot be triggered"
                .into(),
        );
    }
    let deadline = contract
        .priorityOps(head)
        .call()
        .await
        .map_err(call("priorityOps"))?
        .deadline;
    let now = l1
        .get_block_by_number(BlockNumberOrTag::Latest)
        .await
        .map_err(|source| {
            ExitError::Exodus(ExodusError::Rpc {
                what: "eth_getBlockByNumber",
                source,
            })
        })?
        .map(|b| b.header.timestamp);
    let left = now.map_or(String::new(), |now| {
        format!(
            " (the latest L1 block is at {now}: {} s to go)",
            deadline.saturating_sub(now)
        )
    });
    Ok(format!(
        "the oldest unexecuted priority op #{head} is due at unix time {deadline}{left} \
         (NoExpiredPriorityOp): the operator may still process it"
    ))
}
