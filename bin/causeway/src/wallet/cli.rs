//! The `causeway wallet` subcommands: arguments, the keystore unlock, progress on stderr and
//! results on stdout. Every flow is the library function of the same name in the parent
//! module; this file only reads what the user typed and shows what came back.
//!
//! Waiting: ops that sign something take `--wait <STAGE>` (`none`, `included`, `committed`,
//! `proven`, `executed`) and `--timeout <SECS>` (default 600). The defaults follow what the
//! user does next: a transfer and an activation wait until `included` (seconds; later ops
//! already see them either way), a deposit and a withdrawal do not wait (the node picks a
//! deposit up after its L1 confirmations; a withdrawal becomes claimable only once executed,
//! which takes a proof: minutes). A timeout leaves the op running and says how to follow it.

use super::keystore::{self, PasswordSource};
use super::{
    Activation, Amount, Balances, DEFAULT_L1_RPC, DEFAULT_RPC, DEFAULT_WAIT_TIMEOUT, Event,
    OpDetails, Progress, TokenMeta, TokenSpec, WalletContext, WalletError, amount, stage_name,
};
use alloy::primitives::{Address, B256};
use alloy::signers::local::PrivateKeySigner;
use causeway_rpc::api::{OpStage, OpStatus, OpView};
use clap::{Args, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Args, Debug)]
pub struct WalletArgs {
    #[command(flatten)]
    options: Options,
    #[command(subcommand)]
    command: WalletCommand,
}

#[derive(Args, Debug)]
struct Options {
    /// The encrypted keystore holding the wallet's key [default: $HOME/.causeway/keystore.json]
    #[arg(long, global = true, env = "CAUSEWAY_KEYSTORE", value_name = "FILE")]
    keystore: Option<PathBuf>,
    /// The Causeway (L2) node's JSON-RPC
    #[arg(long, global = true, env = "CAUSEWAY_RPC", value_name = "URL", default_value = DEFAULT_RPC)]
    rpc: String,
    /// The L1 node's JSON-RPC: deposits, claims, L1 balances, ERC-20 symbols and decimals
    #[arg(long = "l1-rpc", global = true, env = "CAUSEWAY_L1_RPC", value_name = "URL", default_value = DEFAULT_L1_RPC)]
    l1_rpc: String,
    /// Read the keystore password from the first line of FILE; without it the password comes
    /// from $CAUSEWAY_PASSWORD, else a prompt on the terminal
    #[arg(long, global = true, value_name = "FILE")]
    password_file: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
enum WalletCommand {
    /// Creates a wallet: a random key in a new encrypted keystore; prints its address.
    New,
    /// Imports a private key into a new encrypted keystore. The key (64 hex digits) is read
    /// from stdin (prompted without echo on a terminal) or --from-file, never from an argument.
    Import {
        /// Read the private key from FILE instead of stdin.
        #[arg(long, value_name = "FILE")]
        from_file: Option<PathBuf>,
    },
    /// Prints the wallet's address.
    Address,
    /// The wallet's L2 balances, its L1 ETH, and withdrawals it can claim on L1.
    Balance,
    /// The tokens the rollup lists.
    Tokens,
    /// Registers the wallet's L2 key (derived from its L1 key) on its L2 account; needed
    /// once, after the first deposit, before transfers and withdrawals.
    Activate(ActivateArgs),
    /// Deposits from the wallet's L1 address to an L2 account (ERC-20s: approve, then deposit).
    Deposit(DepositArgs),
    /// Asks L1 to withdraw the account's whole balance of a token (when the operator ignores
    /// L2 withdrawals); the operator must execute it before its deadline, else exodus
    FullExit(FullExitArgs),
    /// Transfers to the L2 account of an address (created if it has none).
    Transfer(TransferArgs),
    /// Withdraws from L2 to an L1 address; claim it with `claim` once its batch is executed.
    Withdraw(WithdrawArgs),
    /// Pays out executed withdrawals on L1 (`withdrawPending`).
    Claim(ClaimArgs),
    /// Where an op is: pending, included, committed, proven or executed.
    Status(StatusArgs),
    /// The wallet's latest ops, newest first.
    History(HistoryArgs),
}

/// How far to follow an op before returning.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
enum WaitStage {
    /// Return once the node accepted the op.
    None,
    /// In a sealed L2 block.
    Included,
    /// Its batch committed on L1.
    Committed,
    /// Its batch's proof verified on L1.
    Proven,
    /// Its batch executed on L1 (withdrawals claimable).
    Executed,
}

impl WaitStage {
    fn stage(self) -> Option<OpStage> {
        match self {
            WaitStage::None => None,
            WaitStage::Included => Some(OpStage::Included),
            WaitStage::Committed => Some(OpStage::Committed),
            WaitStage::Proven => Some(OpStage::Proven),
            WaitStage::Executed => Some(OpStage::Executed),
        }
    }
}

#[derive(Args, Debug)]
struct Timeout {
    /// Stop waiting after SECS seconds (the op goes on; `status` follows it)
    #[arg(long, value_name = "SECS", default_value_t = DEFAULT_WAIT_TIMEOUT.as_secs())]
    timeout: u64,
}

impl Timeout {
    fn get(&self) -> Duration {
        Duration::from_secs(self.timeout)
    }
}

#[derive(Args, Debug)]
struct ActivateArgs {
    /// The token the fee is paid in: ETH, a token id or an ERC-20 address
    #[arg(long, value_name = "TOKEN", default_value = "ETH")]
    fee_token: TokenSpec,
    /// Wait until the ChangePubKey reaches STAGE
    #[arg(long, value_name = "STAGE", default_value = "included")]
    wait: WaitStage,
    #[command(flatten)]
    timeout: Timeout,
}

#[derive(Args, Debug)]
struct DepositArgs {
    /// How much, in the token's units (ETH: ether, e.g. 0.5)
    #[arg(long, value_name = "AMOUNT")]
    amount: String,
    /// ETH, a token id or an ERC-20 address
    #[arg(long, value_name = "TOKEN", default_value = "ETH")]
    token: TokenSpec,
    /// The L2 recipient [default: the wallet's address]
    #[arg(long, value_name = "ADDRESS")]
    to: Option<Address>,
    /// Wait until the deposit reaches STAGE on L2 (it first needs L1 confirmations)
    #[arg(long, value_name = "STAGE", default_value = "none")]
    wait: WaitStage,
    #[command(flatten)]
    timeout: Timeout,
}

#[derive(Args, Debug)]
struct FullExitArgs {
    /// ETH, a token id or an ERC-20 address
    #[arg(long, value_name = "TOKEN", default_value = "ETH")]
    token: TokenSpec,
    /// Wait until the full exit reaches STAGE (`executed`: claimable on L1)
    #[arg(long, value_name = "STAGE", default_value = "none")]
    wait: WaitStage,
    #[command(flatten)]
    timeout: Timeout,
}

#[derive(Args, Debug)]
struct TransferArgs {
    /// The recipient's address
    #[arg(long, value_name = "ADDRESS")]
    to: Address,
    /// How much, in the token's units, or `all` (the balance minus the fee)
    #[arg(long, value_name = "AMOUNT")]
    amount: String,
    /// ETH, a token id or an ERC-20 address
    #[arg(long, value_name = "TOKEN", default_value = "ETH")]
    token: TokenSpec,
    /// Wait until the transfer reaches STAGE
    #[arg(long, value_name = "STAGE", default_value = "included")]
    wait: WaitStage,
    #[command(flatten)]
    timeout: Timeout,
}

#[derive(Args, Debug)]
struct WithdrawArgs {
    /// How much, in the token's units, or `all` (the balance minus the fee)
    #[arg(long, value_name = "AMOUNT")]
    amount: String,
    /// The L1 recipient [default: the wallet's address]
    #[arg(long, value_name = "ADDRESS")]
    to: Option<Address>,
    /// ETH, a token id or an ERC-20 address
    #[arg(long, value_name = "TOKEN", default_value = "ETH")]
    token: TokenSpec,
    /// Wait until the withdrawal reaches STAGE (`executed`: claimable)
    #[arg(long, value_name = "STAGE", default_value = "none")]
    wait: WaitStage,
    #[command(flatten)]
    timeout: Timeout,
}

#[derive(Args, Debug)]
struct ClaimArgs {
    /// ETH, a token id or an ERC-20 address
    #[arg(long, value_name = "TOKEN", default_value = "ETH")]
    token: TokenSpec,
    /// Whose withdrawals to pay out (anyone may claim for anyone; the funds go to the owner)
    /// [default: the wallet's address]
    #[arg(long, value_name = "ADDRESS")]
    owner: Option<Address>,
}

#[derive(Args, Debug)]
struct StatusArgs {
    /// The op's hash, as `transfer`, `withdraw`, `activate` or `history` print it
    #[arg(value_name = "OPHASH")]
    hash: B256,
    /// Wait until the op reaches STAGE
    #[arg(long, value_name = "STAGE", default_value = "none")]
    wait: WaitStage,
    #[command(flatten)]
    timeout: Timeout,
}

#[derive(Args, Debug)]
struct HistoryArgs {
    /// How many ops to show
    #[arg(long, value_name = "N", default_value_t = 20)]
    limit: u64,
}

/// Runs `causeway wallet …`: prints results on stdout, progress and errors on stderr, and
/// returns the exit code (2 for bad input, 1 for other failures).
pub fn run(args: &WalletArgs) -> ExitCode {
    let result = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| WalletError::io("starting the async runtime", e))
        .and_then(|runtime| runtime.block_on(execute(args, &mut io::stdout().lock())));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // The reader went away (`causeway wallet history | head`): nobody is left to tell.
        Err(WalletError::Io { source, .. }) if source.kind() == io::ErrorKind::BrokenPipe => {
            ExitCode::SUCCESS
        }
        Err(e) => {
            // `eprintln!` would panic if stderr is closed; there is nothing better to do then.
            let _ = writeln!(io::stderr(), "error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

impl Options {
    fn keystore(&self) -> Result<PathBuf, WalletError> {
        match &self.keystore {
            Some(path) => Ok(path.clone()),
            None => keystore::default_path(),
        }
    }

    fn passwords(&self) -> PasswordSource {
        PasswordSource {
            file: self.password_file.clone(),
        }
    }

    /// The wallet's key, unlocked with the password.
    fn signer(&self) -> Result<PrivateKeySigner, WalletError> {
        let path = self.keystore()?;
        if !path.exists() {
            return Err(WalletError::NoKeystore(path));
        }
        let password = self.passwords().unlock(&path)?;
        keystore::load(&path, &password)
    }

    /// The wallet's address, and its key if finding the address took unlocking it (a
    /// keystore without the plain `address` field).
    fn open(&self) -> Result<(Address, Option<PrivateKeySigner>), WalletError> {
        match keystore::address(&self.keystore()?)? {
            Some(address) => Ok((address, None)),
            None => {
                let signer = self.signer()?;
                Ok((signer.address(), Some(signer)))
            }
        }
    }

    /// A context for reads: no password is asked when the keystore names its address.
    fn reading(&self) -> Result<WalletContext, WalletError> {
        match self.open()? {
            (_, Some(signer)) => WalletContext::new(signer, &self.rpc, &self.l1_rpc),
            (address, None) => WalletContext::watch_only(address, &self.rpc, &self.l1_rpc),
        }
    }

    /// `ctx`, able to sign. Commands unlock only after their arguments are checked (token,
    /// amount), so a typo costs no password.
    fn unlock(&self, ctx: WalletContext) -> Result<WalletContext, WalletError> {
        if ctx.can_sign() {
            Ok(ctx)
        } else {
            ctx.unlock(self.signer()?)
        }
    }
}

fn output(e: io::Error) -> WalletError {
    WalletError::io("writing the output", e)
}

async fn execute(args: &WalletArgs, out: &mut impl Write) -> Result<(), WalletError> {
    let options = &args.options;
    match &args.command {
        WalletCommand::New => {
            let signer = PrivateKeySigner::random();
            create_keystore(options, &signer, out)
        }
        WalletCommand::Import { from_file } => {
            // Checked before the key is asked for: a refusal after typing it is rude.
            let path = options.keystore()?;
            if path.exists() {
                return Err(WalletError::KeystoreExists(path));
            }
            let signer = keystore::read_private_key(from_file.as_deref())?;
            create_keystore(options, &signer, out)
        }
        WalletCommand::Address => writeln!(out, "{}", options.open()?.0).map_err(output),
        WalletCommand::Balance => {
            let ctx = options.reading()?;
            let balances = super::balance(&ctx).await?;
            print_balances(&ctx, &balances, out).await
        }
        WalletCommand::Tokens => {
            let ctx = options.reading()?;
            for t in super::tokens(&ctx).await? {
                let address = if t.id == 0 {
                    "(native)".to_owned()
                } else {
                    t.address.to_string()
                };
                writeln!(
                    out,
                    "{:>4}  {:<10} {:>2} decimals  {address}",
                    t.id, t.symbol, t.decimals
                )
                .map_err(output)?;
            }
            Ok(())
        }
        WalletCommand::Activate(a) => {
            let ctx = options.reading()?;
            let fee_token = ctx.resolve_token(a.fee_token).await?;
            let ctx = options.unlock(ctx)?;
            match super::activate(&ctx, fee_token.id).await? {
                Activation::AlreadyActive => writeln!(
                    out,
                    "the L2 key of {} is already this wallet's",
                    ctx.address()
                )
                .map_err(output),
                Activation::Submitted { hash, fee } => {
                    writeln!(out, "{hash}").map_err(output)?;
                    writeln!(out, "  register the L2 key, fee {}", fee_token.show(fee))
                        .map_err(output)?;
                    follow(&ctx, hash, a.wait, &a.timeout, out).await
                }
            }
        }
        WalletCommand::Deposit(a) => {
            let ctx = options.reading()?;
            let token = ctx.resolve_token(a.token).await?;
            let units = amount::parse_amount(&a.amount, token.decimals)?;
            let ctx = options.unlock(ctx)?;
            let bar = StageBar::new(a.wait.stage());
            let receipt =
                bar.clear_on_error(super::deposit(&ctx, token.id, units, a.to, &bar).await)?;
            bar.clear();
            if let Some(tx) = receipt.approve_tx {
                writeln!(out, "approved in L1 tx {tx}").map_err(output)?;
            }
            writeln!(out, "{}", receipt.l1_tx).map_err(output)?;
            writeln!(
                out,
                "  deposit #{} of {} to {} on L2, mined on L1",
                receipt.priority_id,
                token.show(receipt.amount),
                receipt.to
            )
            .map_err(output)?;
            match a.wait.stage() {
                None => writeln!(
                    out,
                    "  the node credits it after its L1 confirmations: see `causeway wallet balance`"
                )
                .map_err(output),
                Some(target) => {
                    let status = bar.clear_on_error(
                        super::wait_for_deposit(&ctx, &receipt, target, a.timeout.get(), &bar).await,
                    )?;
                    bar.clear();
                    writeln!(out, "  L2 op {}", status.hash).map_err(output)?;
                    print_reached(&status, out)
                }
            }
        }
        WalletCommand::FullExit(a) => {
            let ctx = options.reading()?;
            let token = ctx.resolve_token(a.token).await?;
            let ctx = options.unlock(ctx)?;
            let bar = StageBar::new(a.wait.stage());
            let receipt = bar.clear_on_error(super::full_exit(&ctx, token.id, &bar).await)?;
            bar.clear();
            writeln!(out, "{}", receipt.l1_tx).map_err(output)?;
            writeln!(
                out,
                "  full exit #{} of all {} of {} queued on L1; the operator must execute it by \
                 unix time {}, else anyone may start exodus (`causeway exit`)",
                receipt.priority_id, token.symbol, receipt.owner, receipt.deadline
            )
            .map_err(output)?;
            match a.wait.stage() {
                None => Ok(()),
                Some(target) => {
                    let status = bar.clear_on_error(
                        super::wait_for_full_exit(&ctx, &receipt, target, a.timeout.get(), &bar)
                            .await,
                    )?;
                    bar.clear();
                    writeln!(out, "  L2 op {}", status.hash).map_err(output)?;
                    print_reached(&status, out)?;
                    if status.stage >= OpStage::Executed {
                        writeln!(
                            out,
                            "  claim it on L1: `causeway wallet claim --token {}`",
                            token.id
                        )
                        .map_err(output)?;
                    }
                    Ok(())
                }
            }
        }
        WalletCommand::Transfer(a) => {
            let ctx = options.reading()?;
            let token = ctx.resolve_token(a.token).await?;
            let units = parse_amount_or_all(&a.amount, &token)?;
            let ctx = options.unlock(ctx)?;
            let sent = super::transfer(&ctx, a.to, token.id, units).await?;
            writeln!(out, "{}", sent.hash).map_err(output)?;
            writeln!(
                out,
                "  transfer {} to {}, fee {}, nonce {}",
                token.show(sent.amount),
                a.to,
                token.show(sent.fee),
                sent.nonce
            )
            .map_err(output)?;
            follow(&ctx, sent.hash, a.wait, &a.timeout, out).await
        }
        WalletCommand::Withdraw(a) => {
            let ctx = options.reading()?;
            let token = ctx.resolve_token(a.token).await?;
            let units = parse_amount_or_all(&a.amount, &token)?;
            let ctx = options.unlock(ctx)?;
            let to = a.to.unwrap_or(ctx.address());
            let sent = super::withdraw(&ctx, Some(to), token.id, units).await?;
            writeln!(out, "{}", sent.hash).map_err(output)?;
            writeln!(
                out,
                "  withdraw {} to {to} on L1, fee {}, nonce {}",
                token.show(sent.amount),
                token.show(sent.fee),
                sent.nonce
            )
            .map_err(output)?;
            follow(&ctx, sent.hash, a.wait, &a.timeout, out).await?;
            // Anyone may claim for the recipient; name it when it is not the wallet.
            let mut claim = format!("causeway wallet claim --token {}", token.id);
            if to != ctx.address() {
                claim += &format!(" --owner {to}");
            }
            if a.wait == WaitStage::Executed {
                writeln!(out, "  claim it with `{claim}`").map_err(output)?;
            } else {
                writeln!(
                    out,
                    "  claimable on L1 once executed: `causeway wallet status {} --wait executed`, \
                     then `{claim}`",
                    sent.hash
                )
                .map_err(output)?;
            }
            Ok(())
        }
        WalletCommand::Claim(a) => {
            let ctx = options.reading()?;
            let token = ctx.resolve_token(a.token).await?;
            let ctx = options.unlock(ctx)?;
            let bar = StageBar::new(None);
            let claimed = bar.clear_on_error(super::claim(&ctx, token.id, a.owner, &bar).await)?;
            bar.clear();
            writeln!(out, "{}", claimed.tx).map_err(output)?;
            writeln!(
                out,
                "  paid {} to {} on L1",
                token.show(claimed.amount),
                claimed.owner
            )
            .map_err(output)
        }
        WalletCommand::Status(a) => {
            // An op's status is public: following one needs no wallet at all.
            let ctx = match options.reading() {
                Err(WalletError::NoKeystore(_)) => {
                    WalletContext::watch_only(Address::ZERO, &options.rpc, &options.l1_rpc)?
                }
                other => other?,
            };
            let details = super::status(&ctx, a.hash).await?;
            print_details(&ctx, &details, out).await?;
            follow(&ctx, a.hash, a.wait, &a.timeout, out).await
        }
        WalletCommand::History(a) => {
            let ctx = options.reading()?;
            let ops = super::history(&ctx, a.limit).await?;
            if ops.is_empty() {
                writeln!(out, "no ops for {} yet", ctx.address()).map_err(output)?;
            }
            for op in &ops {
                print_history_line(&ctx, op, out).await?;
            }
            Ok(())
        }
    }
}

fn create_keystore(
    options: &Options,
    signer: &PrivateKeySigner,
    out: &mut impl Write,
) -> Result<(), WalletError> {
    let path = options.keystore()?;
    if path.exists() {
        return Err(WalletError::KeystoreExists(path));
    }
    let password = options.passwords().choose()?;
    keystore::store(&path, signer, &password)?;
    writeln!(out, "{}", signer.address()).map_err(output)?;
    writeln!(out, "  keystore {}", path.display()).map_err(output)?;
    writeln!(
        out,
        "  next: fund it on L1, then `causeway wallet deposit --amount <ETH>` and \
         `causeway wallet activate`"
    )
    .map_err(output)
}

fn parse_amount_or_all(input: &str, token: &TokenMeta) -> Result<Amount, WalletError> {
    if input.eq_ignore_ascii_case("all") {
        Ok(Amount::All)
    } else {
        amount::parse_amount(input, token.decimals).map(Amount::Units)
    }
}

/// Waits for op `hash` as `--wait` asks, with a progress bar, and prints where it got.
async fn follow(
    ctx: &WalletContext,
    hash: B256,
    wait: WaitStage,
    timeout: &Timeout,
    out: &mut impl Write,
) -> Result<(), WalletError> {
    let Some(target) = wait.stage() else {
        return Ok(());
    };
    let bar = StageBar::new(Some(target));
    let status =
        bar.clear_on_error(super::wait_for(ctx, hash, target, timeout.get(), &bar).await)?;
    bar.clear();
    print_reached(&status, out)
}

fn print_reached(status: &OpStatus, out: &mut impl Write) -> Result<(), WalletError> {
    let mut line = format!("  {}", stage_name(status.stage));
    if let Some(block) = status.block {
        line += &format!(" in block {block}");
    }
    let l1_tx = match status.stage {
        OpStage::Committed => status.commit_tx,
        OpStage::Proven => status.prove_tx,
        OpStage::Executed => status.execute_tx,
        OpStage::Pending | OpStage::Included => None,
    };
    if let Some(tx) = l1_tx {
        line += &format!(" (L1 tx {tx})");
    }
    writeln!(out, "{line}").map_err(output)
}

async fn print_balances(
    ctx: &WalletContext,
    b: &Balances,
    out: &mut impl Write,
) -> Result<(), WalletError> {
    writeln!(out, "address    {}", b.address).map_err(output)?;
    match &b.l2 {
        None => writeln!(
            out,
            "L2         no account yet: deposit with `causeway wallet deposit`"
        )
        .map_err(output)?,
        Some(account) => {
            let key = if account.pubkey.is_some() {
                "L2 key registered"
            } else {
                "no L2 key yet: run `causeway wallet activate`"
            };
            writeln!(
                out,
                "L2         account #{}, nonce {}, {key}",
                account.id, account.nonce
            )
            .map_err(output)?;
            if account.balances.is_empty() {
                writeln!(out, "           0 ETH").map_err(output)?;
            }
            for balance in &account.balances {
                let token = ctx.token_or_raw(balance.token).await?;
                writeln!(out, "           {}", token.show(balance.amount)).map_err(output)?;
            }
        }
    }
    match &b.l1 {
        Err(e) => writeln!(out, "L1         unavailable: {e}").map_err(output)?,
        Ok(l1) => {
            writeln!(out, "L1         {}", TokenMeta::eth().show(l1.eth)).map_err(output)?;
            for (id, pending) in &l1.claimable {
                let token = ctx.token_or_raw(*id).await?;
                writeln!(
                    out,
                    "claimable  {}: `causeway wallet claim --token {id}`",
                    token.show(*pending)
                )
                .map_err(output)?;
            }
        }
    }
    Ok(())
}

async fn print_details(
    ctx: &WalletContext,
    d: &OpDetails,
    out: &mut impl Write,
) -> Result<(), WalletError> {
    let mut lines = vec![("op", d.status.hash.to_string())];
    if let Some(op) = &d.op {
        let token = ctx.token_or_raw(op.token).await?;
        lines.push(("kind", op.kind.clone()));
        lines.push(("from", op.from.to_string()));
        if let Some(to) = op.to {
            lines.push(("to", to.to_string()));
        }
        if op.kind != "changePubKey" {
            lines.push(("amount", token.show(op.amount)));
        }
        if op.nonce.is_some() {
            lines.push(("fee", token.show(op.fee)));
        }
        if let Some(nonce) = op.nonce {
            lines.push(("nonce", nonce.to_string()));
        }
        if let Some(id) = op.priority_id {
            lines.push(("L1 queue #", id.to_string()));
        }
    }
    lines.push(("stage", stage_name(d.status.stage).to_owned()));
    if let Some(block) = d.status.block {
        let index = d
            .status
            .index
            .map(|i| format!(" (op {i})"))
            .unwrap_or_default();
        lines.push(("block", format!("{block}{index}")));
    }
    for (name, tx) in [
        ("commit tx", d.status.commit_tx),
        ("prove tx", d.status.prove_tx),
        ("execute tx", d.status.execute_tx),
    ] {
        if let Some(tx) = tx {
            lines.push((name, tx.to_string()));
        }
    }
    for (name, value) in lines {
        writeln!(out, "{name:<11}{value}").map_err(output)?;
    }
    Ok(())
}

async fn print_history_line(
    ctx: &WalletContext,
    op: &OpView,
    out: &mut impl Write,
) -> Result<(), WalletError> {
    let token = ctx.token_or_raw(op.token).await?;
    let what = match op.kind.as_str() {
        "changePubKey" => format!("fee {}", token.show(op.fee)),
        _ => {
            let direction = if op.from == ctx.address() && op.to != Some(ctx.address()) {
                format!("to {}", op.to.map(|a| a.to_string()).unwrap_or_default())
            } else {
                format!("from {}", op.from)
            };
            format!("{} {direction}", token.show(op.amount))
        }
    };
    let block = op
        .block
        .map_or_else(|| "pending".to_owned(), |b| format!("block {b}"));
    writeln!(out, "{}  {:<12} {what}  ({block})", op.hash, op.kind).map_err(output)
}

/// The progress bar of an op on its way to `target`: pending → included → committed →
/// proven → executed, on stderr (hidden when stderr is not a terminal).
struct StageBar {
    bar: ProgressBar,
    target: Option<OpStage>,
}

const STAGES: [OpStage; 5] = [
    OpStage::Pending,
    OpStage::Included,
    OpStage::Committed,
    OpStage::Proven,
    OpStage::Executed,
];

fn stage_index(stage: OpStage) -> u64 {
    STAGES.iter().position(|s| *s == stage).unwrap_or(0) as u64
}

impl StageBar {
    fn new(target: Option<OpStage>) -> Self {
        let bar = ProgressBar::new(target.map_or(0, stage_index));
        let template = if target.is_some() {
            "{spinner} [{bar:12}] {msg} ({elapsed})"
        } else {
            "{spinner} {msg} ({elapsed})"
        };
        bar.set_style(
            ProgressStyle::with_template(template)
                .expect("the template is valid")
                .progress_chars("=> "),
        );
        bar.enable_steady_tick(Duration::from_millis(120));
        StageBar { bar, target }
    }

    /// "pending ✓ → included … → committed": what is reached, and what is still ahead.
    fn trail(&self, reached: OpStage) -> String {
        let last = self.target.unwrap_or(reached).max(reached);
        STAGES
            .iter()
            .filter(|s| **s <= last)
            .map(|s| {
                let mark = if *s <= reached { " ✓" } else { "" };
                format!("{}{mark}", stage_name(*s))
            })
            .collect::<Vec<_>>()
            .join(" → ")
    }

    fn clear(&self) {
        self.bar.finish_and_clear();
    }

    /// `result`, with the bar cleared first if it is an error (so the error is not printed
    /// after a stale bar).
    fn clear_on_error<T>(&self, result: Result<T, WalletError>) -> Result<T, WalletError> {
        if result.is_err() {
            self.clear();
        }
        result
    }
}

impl Progress for StageBar {
    fn event(&self, event: Event) {
        match event {
            Event::L1Sent { what, tx } => self
                .bar
                .set_message(format!("{what}: L1 tx {tx} sent, waiting to be mined")),
            Event::PriorityQueued { kind, priority_id } => self.bar.set_message(format!(
                "{kind} #{priority_id} queued on L1, waiting for the node to pick it up"
            )),
            Event::Stage(stage) => {
                self.bar.set_position(stage_index(stage));
                self.bar.set_message(self.trail(stage));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    //! The commands as a user runs them, against the mock node of the wallet's tests: what
    //! they print, and that they ask for nothing they should not.

    use super::super::tests::{ANVIL_KEY, ETHER, Mock, NO_L1, runtime, serve};
    use super::*;
    use clap::{Args, Command, FromArgMatches};
    use std::sync::Arc;

    /// Runs `causeway wallet <argv>` with the given global options; its stdout.
    async fn wallet(options: &[&str], argv: &[&str]) -> Result<String, WalletError> {
        let matches = WalletArgs::augment_args(Command::new("wallet"))
            .try_get_matches_from(
                std::iter::once("wallet")
                    .chain(options.iter().copied())
                    .chain(argv.iter().copied()),
            )
            .unwrap();
        let args = WalletArgs::from_arg_matches(&matches).unwrap();
        let mut out = Vec::new();
        execute(&args, &mut out).await?;
        Ok(String::from_utf8(out).unwrap())
    }

    #[test]
    fn wallet_cli_session_against_a_mock_node() {
        runtime().block_on(async {
            let mock = Arc::new(Mock::new());
            let (url, _server) = serve(mock.clone()).await;
            let dir = tempfile::tempdir().unwrap();
            let keystore = dir.path().join("keystore.json");
            let password = dir.path().join("password");
            let key_file = dir.path().join("key");
            std::fs::write(&password, "pw\n").unwrap();
            std::fs::write(&key_file, format!("{ANVIL_KEY}\n")).unwrap();
            let (keystore, password, key_file) = (
                keystore.to_str().unwrap(),
                password.to_str().unwrap(),
                key_file.to_str().unwrap(),
            );
            let options = [
                "--keystore",
                keystore,
                "--password-file",
                password,
                "--rpc",
                &url,
                "--l1-rpc",
                NO_L1,
            ];
            let me: Address = ANVIL_KEY.parse::<PrivateKeySigner>().unwrap().address();

            let out = wallet(&options, &["import", "--from-file", key_file])
                .await
                .unwrap();
            assert!(out.starts_with(&me.to_string()), "{out}");
            assert!(!out.contains(&ANVIL_KEY[2..]), "the key is never printed");
            let err = wallet(&options, &["import", "--from-file", key_file])
                .await
                .unwrap_err();
            assert!(matches!(err, WalletError::KeystoreExists(_)), "{err}");
            // Reads need no password: the keystore names its address.
            let no_password = ["--keystore", keystore, "--rpc", &url, "--l1-rpc", NO_L1];
            assert_eq!(
                wallet(&no_password, &["address"]).await.unwrap(),
                format!("{me}\n")
            );

            let out = wallet(&no_password, &["balance"]).await.unwrap();
            assert!(out.contains("no account yet"), "{out}");
            mock.add_account(me, 2 * ETHER, None);
            let out = wallet(&no_password, &["balance"]).await.unwrap();
            assert!(out.contains("account #0, nonce 0, no L2 key yet"), "{out}");
            assert!(out.contains("2 ETH"), "{out}");
            assert!(
                out.contains("L1         unavailable") && out.contains(NO_L1),
                "{out}"
            );

            let out = wallet(&options, &["activate"]).await.unwrap();
            assert!(
                out.contains("register the L2 key, fee 0.00000000000000103 ETH"),
                "{out}"
            );
            assert!(out.contains("included in block 1"), "{out}");
            let out = wallet(&options, &["activate"]).await.unwrap();
            assert!(out.contains("already this wallet's"), "{out}");

            let bob = "0x00000000000000000000000000000000000000b0";
            let out = wallet(
                &options,
                &[
                    "transfer",
                    "--to",
                    bob,
                    "--amount",
                    "0.5",
                    "--wait",
                    "committed",
                ],
            )
            .await
            .unwrap();
            let hash = out.lines().next().unwrap().to_owned();
            assert!(hash.starts_with("0x") && hash.len() == 66, "{out}");
            assert!(
                out.contains(&format!(
                    "transfer 0.5 ETH to {}, fee",
                    bob.parse::<Address>().unwrap()
                )),
                "{out}"
            );
            assert!(out.contains("committed in block 1 (L1 tx 0xc1c1"), "{out}");

            let out = wallet(&no_password, &["status", &hash]).await.unwrap();
            assert!(
                out.contains("kind       transfer") && out.contains("amount     0.5 ETH"),
                "{out}"
            );
            assert!(out.contains("nonce      1"), "{out}");
            // Anyone may look an op up, wallet or not.
            let out = wallet(
                &["--rpc", &url, "--keystore", "/nonexistent/k.json"],
                &["status", &hash],
            )
            .await
            .unwrap();
            assert!(out.contains("stage"), "{out}");

            let out = wallet(&no_password, &["history"]).await.unwrap();
            let lines: Vec<_> = out.lines().collect();
            assert_eq!(lines.len(), 2, "{out}");
            assert!(
                lines[0].contains("transfer") && lines[0].contains("0.5 ETH to"),
                "{out}"
            );
            assert!(lines[1].contains("changePubKey"), "{out}");

            let out = wallet(&options, &["withdraw", "--amount", "all"])
                .await
                .unwrap();
            assert!(out.contains(&format!("to {me} on L1")), "{out}");
            assert!(out.contains("--wait executed"), "{out}");

            // A typo costs no password: the amount is refused before the keystore is opened.
            let err = wallet(&no_password, &["transfer", "--to", bob, "--amount", "1,5"])
                .await
                .unwrap_err();
            assert!(matches!(err, WalletError::InvalidAmount { .. }), "{err}");
        });
    }
}
