//! The wallet without a real node: amounts, the keystore, keys and signatures, error messages,
//! argument parsing, and the L2 flows against an in-process JSON-RPC mock that checks
//! signatures, nonces and balances as the node would.

use super::*;
use alloy::primitives::Signature;
use causeway_crypto::eddsa::PublicKey;
use causeway_crypto::{message_hash, verify_tx_signature_by};
use causeway_primitives::{
    ChangePubKeyAuth, Domain, Op, PackedFee, change_pubkey_eth_message, eth_signed_message_hash,
};
use causeway_rpc::api::{FeeQuote, TokenBalance, TokenInfo};
use jsonrpsee::server::{RpcModule, Server, ServerHandle};
use jsonrpsee::types::ErrorObjectOwned;
use std::sync::Arc;

/// anvil's first dev account (public knowledge).
pub(super) const ANVIL_KEY: &str =
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
pub(super) const ANVIL_ADDRESS: &str = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
pub(super) const ETHER: u128 = 1_000_000_000_000_000_000;

fn anvil_signer() -> PrivateKeySigner {
    ANVIL_KEY.parse().unwrap()
}

fn domain() -> Domain {
    Domain {
        chain_id: 31337,
        contract: Address::repeat_byte(0xc0),
    }
}

// ---------------------------------------------------------------- amounts

#[test]
fn wallet_amounts_parse_exactly() {
    use amount::parse_amount;
    assert_eq!(parse_amount("0.5", 18).unwrap(), ETHER / 2);
    assert_eq!(parse_amount("1", 18).unwrap(), ETHER);
    assert_eq!(parse_amount(".25", 18).unwrap(), ETHER / 4);
    assert_eq!(parse_amount("5.", 18).unwrap(), 5 * ETHER);
    assert_eq!(parse_amount("0.000000000000000001", 18).unwrap(), 1);
    assert_eq!(parse_amount("1.234567", 6).unwrap(), 1_234_567);
    assert_eq!(parse_amount("42", 0).unwrap(), 42);
}

#[test]
fn wallet_amounts_refuse_what_is_not_exactly_an_amount() {
    use amount::parse_amount;
    for bad in [
        "", ".", "-1", "1e18", "0x10", "1,5", " 1", "1 ", "one", "1.2.3", "+1",
    ] {
        let err = parse_amount(bad, 18).unwrap_err();
        assert!(
            matches!(err, WalletError::InvalidAmount { .. }),
            "{bad:?}: {err}"
        );
        assert_eq!(err.exit_code(), 2);
    }
    // Never truncated: 7 places for a 6-decimal token is refused, not rounded.
    let err = parse_amount("1.0000001", 6).unwrap_err().to_string();
    assert!(err.contains("more than 6 decimal places"), "{err}");
    assert!(
        parse_amount("0", 18)
            .unwrap_err()
            .to_string()
            .contains("above zero")
    );
    assert!(parse_amount("0.000", 18).is_err());
    // 2^112 wei is about 5.19e15 ETH.
    let err = parse_amount("6000000000000000", 18)
        .unwrap_err()
        .to_string();
    assert!(err.contains("largest balance"), "{err}");
}

#[test]
fn wallet_amounts_format_without_trailing_zeros_and_parse_back() {
    use amount::{format_amount, parse_amount};
    assert_eq!(format_amount(ETHER / 2, 18), "0.5");
    assert_eq!(format_amount(ETHER, 18), "1");
    assert_eq!(format_amount(0u128, 18), "0");
    assert_eq!(format_amount(1u128, 18), "0.000000000000000001");
    assert_eq!(format_amount(1_234_567u128, 6), "1.234567");
    assert_eq!(format_amount(U256::from(7u8), 0), "7");
    for units in [1, 10, ETHER / 3, ETHER, 123 * ETHER + 456, MAX_BALANCE] {
        let text = format_amount(units, 18);
        assert_eq!(parse_amount(&text, 18).unwrap(), units, "{text}");
    }
    assert_eq!(TokenMeta::eth().show(ETHER * 3 / 2), "1.5 ETH");
}

#[test]
fn wallet_token_specs() {
    assert_eq!("ETH".parse::<TokenSpec>().unwrap(), TokenSpec::Id(0));
    assert_eq!("eth".parse::<TokenSpec>().unwrap(), TokenSpec::Id(0));
    assert_eq!("3".parse::<TokenSpec>().unwrap(), TokenSpec::Id(3));
    assert_eq!(
        ANVIL_ADDRESS.parse::<TokenSpec>().unwrap(),
        TokenSpec::Address(ANVIL_ADDRESS.parse().unwrap())
    );
    for bad in ["USDC", "-1", "0x12", "70000"] {
        assert!(bad.parse::<TokenSpec>().is_err(), "{bad}");
    }
}

// ---------------------------------------------------------------- keystore

#[test]
fn wallet_keystore_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    // A directory that does not exist yet: created, owner-only.
    let path = dir.path().join("nested").join("keystore.json");
    let signer = PrivateKeySigner::random();
    keystore::store(&path, &signer, "correct horse").unwrap();

    let loaded = keystore::load(&path, "correct horse").unwrap();
    assert_eq!(loaded.address(), signer.address());
    assert_eq!(loaded.to_bytes(), signer.to_bytes());
    // The address is readable without the password.
    assert_eq!(keystore::address(&path).unwrap(), Some(signer.address()));

    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(json["version"], 3);
    assert_eq!(json["crypto"]["kdf"], "scrypt");
    let text = json.to_string();
    assert!(
        !text.contains(&hex::encode(signer.to_bytes())),
        "the key is in the clear"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode();
        assert_eq!(mode(&path) & 0o777, 0o600);
        assert_eq!(mode(path.parent().unwrap()) & 0o777, 0o700);
    }
    // No temporary file is left behind.
    let files: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().collect();
    assert_eq!(files.len(), 1);

    let err = keystore::load(&path, "wrong").unwrap_err();
    assert!(matches!(err, WalletError::WrongPassword(_)), "{err}");
    let err = keystore::store(&path, &PrivateKeySigner::random(), "x").unwrap_err();
    assert!(matches!(err, WalletError::KeystoreExists(_)), "{err}");
    assert_eq!(
        keystore::load(&path, "correct horse").unwrap().address(),
        signer.address()
    );
}

#[test]
fn wallet_keystore_missing_says_how_to_create_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("none.json");
    let err = keystore::load(&path, "x").unwrap_err().to_string();
    assert!(err.contains("causeway wallet new"), "{err}");
    assert!(err.contains("causeway wallet import"), "{err}");
    assert!(matches!(
        keystore::address(&path),
        Err(WalletError::NoKeystore(_))
    ));
}

#[test]
fn wallet_private_keys_parse_and_errors_never_echo_them() {
    let expected: Address = ANVIL_ADDRESS.parse().unwrap();
    let digits = ANVIL_KEY.trim_start_matches("0x");
    for text in [
        ANVIL_KEY.to_owned(),
        digits.to_owned(),
        format!("  {ANVIL_KEY}\n"),
        digits.to_uppercase(),
    ] {
        assert_eq!(
            keystore::parse_private_key(&text).unwrap().address(),
            expected
        );
    }
    let short = &digits[..62];
    let non_hex = format!("{}zz", &digits[..62]);
    let zero = "00".repeat(32);
    let order = "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141";
    for bad in [short, non_hex.as_str(), zero.as_str(), order] {
        let err = keystore::parse_private_key(bad).unwrap_err();
        assert!(matches!(err, WalletError::InvalidPrivateKey(_)));
        assert!(!err.to_string().contains(&bad[..16]), "{err}");
        assert!(!format!("{err:?}").contains(&bad[..16]), "{err:?}");
    }
}

#[test]
fn wallet_password_file_gives_its_first_line_and_no_empty_password() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("password");
    std::fs::write(&file, "hunter2\r\nsecond line\n").unwrap();
    let source = keystore::PasswordSource {
        file: Some(file.clone()),
    };
    assert_eq!(source.unlock(&file).unwrap().as_str(), "hunter2");
    assert_eq!(source.choose().unwrap().as_str(), "hunter2");
    std::fs::write(&file, "\n").unwrap();
    let err = source.choose().unwrap_err().to_string();
    assert!(err.contains("empty password"), "{err}");
}

// ---------------------------------------------------------------- keys and signatures

#[test]
fn wallet_l2_key_derivation_is_stable() {
    let signer = anvil_signer();
    let key = sign::derive_l2_key(&signer).unwrap();
    assert_eq!(key, sign::derive_l2_key(&signer).unwrap());
    // The same as a browser wallet's personal_sign of the message, fed to the derivation.
    let sig = alloy::signers::SignerSync::sign_message_sync(
        &signer,
        causeway_crypto::l2key::L2_KEY_MESSAGE.as_bytes(),
    )
    .unwrap();
    assert_eq!(
        key,
        causeway_crypto::l2key::derive_from_eth_signature(&sig.as_bytes())
    );
    // Pinned: a change here changes every user's L2 key.
    assert_eq!(
        hex::encode(key.public_key().to_packed().0),
        PINNED_ANVIL_L2_PUBKEY
    );
    assert_ne!(
        sign::derive_l2_key(&PrivateKeySigner::random()).unwrap(),
        key
    );
}

/// The packed L2 public key anvil's first dev account derives.
const PINNED_ANVIL_L2_PUBKEY: &str =
    "c40f8781767d24d596da168d04e2df57b7a3d43bc36ba8d43994035dba679b20";

fn payment() -> sign::Payment {
    sign::Payment {
        from: AccountId::new(7).unwrap(),
        to: Address::repeat_byte(0x22),
        token: TokenId::ETH,
        amount: ETHER / 2,
        fee: 1030,
        nonce: 3,
    }
}

#[test]
fn wallet_signed_transfer_and_withdraw_verify_for_their_domain_only() {
    let key = sign::derive_l2_key(&anvil_signer()).unwrap();
    let public = key.public_key();
    let other_domain = Domain {
        chain_id: 1,
        ..domain()
    };

    let t = sign::sign_transfer(&key, &domain(), &payment());
    assert_eq!((t.amount, t.fee, t.nonce), (ETHER / 2, 1030, 3));
    let msg = message_hash(&t.signing_fields(&domain()));
    verify_tx_signature_by(&t.signature, &public, msg).unwrap();
    let elsewhere = message_hash(&t.signing_fields(&other_domain));
    assert!(verify_tx_signature_by(&t.signature, &public, elsewhere).is_err());

    let w = sign::sign_withdraw(&key, &domain(), &payment());
    let msg = message_hash(&w.signing_fields(&domain()));
    verify_tx_signature_by(&w.signature, &public, msg).unwrap();
    // A transfer's signature is no withdrawal's.
    assert!(verify_tx_signature_by(&t.signature, &public, msg).is_err());

    // What goes over the wire is the same op.
    for op in [Op::Transfer(t), Op::Withdraw(w)] {
        let request = OpRequest::from_op(&op).unwrap();
        assert_eq!(request.to_op().unwrap(), op);
    }
}

#[test]
fn wallet_change_pubkey_is_authorized_by_the_l1_key() {
    let signer = anvil_signer();
    let new_pubkey = sign::derive_l2_key(&signer)
        .unwrap()
        .public_key()
        .to_packed();
    let cpk = sign::sign_change_pubkey(
        &signer,
        &domain(),
        &sign::KeyChange {
            account: AccountId::new(7).unwrap(),
            new_pubkey,
            fee_token: TokenId::ETH,
            fee: 1000,
            nonce: 0,
        },
    )
    .unwrap();
    let ChangePubKeyAuth::EthSignature(sig) = cpk.auth else {
        panic!("an ECDSA authorization");
    };
    let digest = eth_signed_message_hash(&change_pubkey_eth_message(&domain(), &cpk));
    let signature = Signature::from_raw_array(&sig).unwrap();
    assert_eq!(
        signature.recover_address_from_prehash(&digest).unwrap(),
        signer.address()
    );
    assert!(sig[64] == 27 || sig[64] == 28, "v as ecrecover wants it");
    let op = Op::ChangePubKey(cpk);
    assert_eq!(OpRequest::from_op(&op).unwrap().to_op().unwrap(), op);
}

#[test]
fn wallet_fees_round_up_to_a_packable_value() {
    for fee in [0, 1, 999, 1000, 1023, 10_230_000] {
        assert_eq!(sign::round_fee_up(fee), fee, "{fee} packs as it is");
    }
    assert_eq!(sign::round_fee_up(1025), 1030);
    assert_eq!(sign::round_fee_up(123_456), 124_000);
    assert_eq!(sign::round_fee_up(999_999), 1_000_000);
    let mut fee: Balance = 1;
    while fee < MAX_BALANCE / 1000 {
        for f in [fee, fee + 1, fee * 7 + 3] {
            let up = sign::round_fee_up(f);
            assert!(up >= f && PackedFee::is_packable(up), "{f} -> {up}");
            assert!((up - f) * 100 <= f, "{f} -> {up}: more than 1% over");
        }
        fee = fee * 3 + 1;
    }
}

// ---------------------------------------------------------------- messages and arguments

#[test]
fn wallet_errors_say_what_to_do() {
    let a: Address = ANVIL_ADDRESS.parse().unwrap();
    let cases = [
        (WalletError::NotActivated(a), "causeway wallet activate"),
        (WalletError::NoAccount(a), "causeway wallet deposit"),
        (WalletError::KeyMismatch(a), "causeway wallet activate"),
        (WalletError::NonceConflict("nonce 3".into()), "retry"),
        (
            WalletError::Unreachable {
                url: "http://127.0.0.1:3050".into(),
                detail: "connection refused".into(),
            },
            "http://127.0.0.1:3050",
        ),
        (
            WalletError::L1ChainMismatch {
                url: "http://l1".into(),
                got: 1,
                expected: 31337,
            },
            "--l1-rpc",
        ),
        (
            WalletError::WaitTimeout {
                hash: B256::repeat_byte(1),
                reached: OpStage::Committed,
                wanted: OpStage::Executed,
                secs: 600,
            },
            "--wait executed",
        ),
    ];
    for (err, advice) in cases {
        let text = err.to_string();
        assert!(text.contains(advice), "{text:?} lacks {advice:?}");
    }
    assert!(
        WalletError::NoAccount(a)
            .to_string()
            .contains(ANVIL_ADDRESS)
    );
    let short = WalletError::InsufficientBalance {
        layer: "L2",
        token: "ETH".into(),
        have: "0.1".into(),
        need: "0.5000000000000103".into(),
        detail: "0.5 + fee 0.0000000000000103".into(),
    }
    .to_string();
    assert!(
        short.contains("0.1 ETH") && short.contains("need 0.5000000000000103"),
        "{short}"
    );
}

#[test]
fn wallet_arguments() {
    use clap::{Args, Command};
    let cmd = WalletArgs::augment_args(Command::new("wallet"));
    cmd.clone().debug_assert();
    let parse = |args: &[&str]| {
        cmd.clone()
            .try_get_matches_from(std::iter::once("wallet").chain(args.iter().copied()))
    };
    let to = ANVIL_ADDRESS;
    assert!(parse(&["transfer", "--to", to, "--amount", "0.5"]).is_ok());
    assert!(
        parse(&[
            "transfer",
            "--to",
            to,
            "--amount",
            "all",
            "--wait",
            "committed"
        ])
        .is_ok()
    );
    assert!(parse(&["--rpc", "http://x:1", "balance"]).is_ok());
    assert!(parse(&["balance", "--rpc", "http://x:1", "--keystore", "/k.json"]).is_ok());
    assert!(parse(&["deposit", "--amount", "1", "--token", "2", "--to", to]).is_ok());
    assert!(
        parse(&[
            "withdraw",
            "--amount",
            "1",
            "--wait",
            "executed",
            "--timeout",
            "60"
        ])
        .is_ok()
    );
    assert!(parse(&["claim", "--token", "ETH", "--owner", to]).is_ok());
    assert!(
        parse(&[
            "status",
            &format!("0x{}", "ab".repeat(32)),
            "--wait",
            "proven"
        ])
        .is_ok()
    );
    assert!(parse(&["import", "--from-file", "/dev/null"]).is_ok());
    // A key is never an argument.
    assert!(parse(&["import", ANVIL_KEY]).is_err());
    assert!(parse(&["import", "--private-key", ANVIL_KEY]).is_err());
    assert!(parse(&["transfer", "--to", to, "--amount", "1", "--wait", "soon"]).is_err());
    assert!(parse(&["transfer", "--to", "bob", "--amount", "1"]).is_err());
    assert!(parse(&["deposit", "--amount", "1", "--token", "USDC"]).is_err());
}

// ---------------------------------------------------------------- flows against a mock node

/// A node in memory: enough of the stf to refuse what the real one refuses (signatures,
/// nonces, balances), and op statuses that advance one stage per poll up to `max_stage`.
pub(super) struct Mock {
    info: NodeInfo,
    accounts: Mutex<Vec<AccountInfo>>,
    fee: U256,
    ops: Mutex<Vec<(B256, Op)>>,
    polls: Mutex<HashMap<B256, usize>>,
    max_stage: Mutex<OpStage>,
    /// The error the next sendOp answers, instead of checking anything.
    refuse_next: Mutex<Option<ErrorObjectOwned>>,
}

fn rejected(reason: &str, message: &str) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(3, message, Some(serde_json::json!({ "reason": reason })))
}

impl Mock {
    pub(super) fn new() -> Self {
        Mock {
            info: NodeInfo {
                l2_chain_id: 7777,
                l1_chain_id: domain().chain_id,
                rollup: domain().contract,
                batch_chunks: 6,
                client_version: "mock".into(),
            },
            accounts: Mutex::new(Vec::new()),
            fee: U256::from(1025u64),
            ops: Mutex::new(Vec::new()),
            polls: Mutex::new(HashMap::new()),
            max_stage: Mutex::new(OpStage::Executed),
            refuse_next: Mutex::new(None),
        }
    }

    pub(super) fn add_account(&self, address: Address, eth: Balance, pubkey: Option<PublicKey>) {
        let mut accounts = self.accounts.lock().unwrap();
        let id = accounts.len() as u32;
        accounts.push(AccountInfo {
            id,
            address,
            nonce: 0,
            pubkey: pubkey.map(|k| B256::from(k.to_packed().0)),
            balances: vec![TokenBalance {
                token: 0,
                amount: U256::from(eth),
            }],
        });
    }

    pub(super) fn account(&self, address: Address) -> Option<AccountInfo> {
        let accounts = self.accounts.lock().unwrap();
        accounts.iter().find(|a| a.address == address).cloned()
    }

    fn submit(&self, request: OpRequest) -> Result<B256, ErrorObjectOwned> {
        if let Some(e) = self.refuse_next.lock().unwrap().take() {
            return Err(e);
        }
        let op = request
            .to_op()
            .map_err(|e| ErrorObjectOwned::owned(-32602, e.to_string(), None::<()>))?;
        let domain = self.info.domain();
        let mut accounts = self.accounts.lock().unwrap();
        let (id, nonce, fee, debit) = match &op {
            Op::Transfer(t) => (t.from, t.nonce, t.fee, t.amount),
            Op::Withdraw(w) => (w.from, w.nonce, w.fee, w.amount),
            Op::ChangePubKey(c) => (c.account, c.nonce, c.fee, 0),
            _ => unreachable!("clients send L2 ops only"),
        };
        let account = accounts
            .get_mut(id.get() as usize)
            .ok_or_else(|| rejected("AccountNotFound", "no such account"))?;
        if account.nonce != nonce {
            return Err(rejected("WrongNonce", "account expects another nonce"));
        }
        if PackedFee::pack(fee).is_err() {
            return Err(rejected("NotPackable", "fee not packable"));
        }
        if U256::from(fee) < self.fee {
            return Err(ErrorObjectOwned::owned(4, "fee too low", None::<()>));
        }
        match &op {
            Op::Transfer(_) | Op::Withdraw(_) => {
                let (sig, fields) = match &op {
                    Op::Transfer(t) => (t.signature, t.signing_fields(&domain)),
                    Op::Withdraw(w) => (w.signature, w.signing_fields(&domain)),
                    _ => unreachable!(),
                };
                let registered = account
                    .pubkey
                    .ok_or_else(|| rejected("NoPubKey", "no L2 key"))?;
                let key = PublicKey::from_packed(&causeway_primitives::PackedPoint(registered.0))
                    .unwrap();
                verify_tx_signature_by(&sig, &key, message_hash(&fields))
                    .map_err(|e| rejected("BadSignature", &e.to_string()))?;
            }
            Op::ChangePubKey(c) => {
                let ChangePubKeyAuth::EthSignature(sig) = c.auth else {
                    return Err(rejected("NoOnchainAuth", "no on-chain authorization"));
                };
                let digest = eth_signed_message_hash(&change_pubkey_eth_message(&domain, c));
                let signer = Signature::from_raw_array(&sig)
                    .and_then(|s| s.recover_address_from_prehash(&digest))
                    .ok();
                if signer != Some(account.address) {
                    return Err(rejected("BadEthSignature", "wrong signer"));
                }
                account.pubkey = Some(B256::from(c.new_pubkey.0));
            }
            _ => unreachable!(),
        }
        let balance = &mut account.balances[0].amount;
        let needed = U256::from(debit) + U256::from(fee);
        if *balance < needed {
            return Err(rejected("InsufficientBalance", "not enough"));
        }
        *balance -= needed;
        account.nonce += 1;
        let hash = op.hash();
        self.ops.lock().unwrap().push((hash, op));
        Ok(hash)
    }

    /// An op as the node's RPC shows it.
    fn view(&self, hash: B256, op: &Op) -> OpView {
        let address_of = |id: AccountId| self.accounts.lock().unwrap()[id.get() as usize].address;
        let (kind, from, to, token, amount, fee, nonce, priority_id) = match op {
            Op::Deposit(d) => (
                "deposit",
                d.from,
                Some(d.to),
                d.token,
                d.amount,
                0,
                None,
                Some(d.priority_id),
            ),
            Op::Transfer(t) => (
                "transfer",
                address_of(t.from),
                Some(t.to),
                t.token,
                t.amount,
                t.fee,
                Some(t.nonce),
                None,
            ),
            Op::Withdraw(w) => (
                "withdraw",
                address_of(w.from),
                Some(w.to),
                w.token,
                w.amount,
                w.fee,
                Some(w.nonce),
                None,
            ),
            Op::ChangePubKey(c) => (
                "changePubKey",
                address_of(c.account),
                None,
                c.fee_token,
                0,
                c.fee,
                Some(c.nonce),
                None,
            ),
            Op::FullExit(e) => (
                "fullExit",
                e.owner,
                Some(e.owner),
                e.token,
                0,
                0,
                None,
                Some(e.priority_id),
            ),
            Op::Noop => unreachable!("the mock holds no such op"),
        };
        OpView {
            hash,
            kind: kind.into(),
            from,
            to,
            token: token.get(),
            amount: U256::from(amount),
            fee: U256::from(fee),
            nonce,
            priority_id,
            block: None,
            index: None,
        }
    }

    fn op(&self, hash: B256) -> Option<OpView> {
        let op = self
            .ops
            .lock()
            .unwrap()
            .iter()
            .find(|(h, _)| *h == hash)
            .cloned();
        op.map(|(hash, op)| self.view(hash, &op))
    }

    /// The ops naming `address`, newest first.
    fn history(&self, address: Address, limit: u64) -> Vec<OpView> {
        let ops = self.ops.lock().unwrap().clone();
        ops.iter()
            .rev()
            .map(|(hash, op)| self.view(*hash, op))
            .filter(|v| v.from == address || v.to == Some(address))
            .take(limit as usize)
            .collect()
    }

    fn status(&self, hash: B256) -> Option<OpStatus> {
        if !self.ops.lock().unwrap().iter().any(|(h, _)| *h == hash) {
            return None;
        }
        let mut polls = self.polls.lock().unwrap();
        let n = polls.entry(hash).or_insert(0);
        let stages = [
            OpStage::Pending,
            OpStage::Included,
            OpStage::Committed,
            OpStage::Proven,
            OpStage::Executed,
        ];
        let stage = stages[(*n).min(4)].min(*self.max_stage.lock().unwrap());
        *n += 1;
        Some(OpStatus {
            hash,
            stage,
            block: (stage >= OpStage::Included).then_some(1),
            index: (stage >= OpStage::Included).then_some(0),
            commit_tx: (stage >= OpStage::Committed).then_some(B256::repeat_byte(0xc1)),
            prove_tx: (stage >= OpStage::Proven).then_some(B256::repeat_byte(0xc2)),
            execute_tx: (stage >= OpStage::Executed).then_some(B256::repeat_byte(0xc3)),
        })
    }
}

pub(super) async fn serve(mock: Arc<Mock>) -> (String, ServerHandle) {
    let server = Server::builder().build("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", server.local_addr().unwrap());
    let mut module = RpcModule::new(mock);
    module
        .register_method("causeway_nodeInfo", |_, m, _| {
            Ok::<_, ErrorObjectOwned>(m.info.clone())
        })
        .unwrap();
    module
        .register_method("causeway_getAccount", |p, m, _| {
            Ok::<_, ErrorObjectOwned>(m.account(p.one::<Address>()?))
        })
        .unwrap();
    module
        .register_method("causeway_getFeeQuote", |p, m, _| {
            let (_, token) = p.parse::<(FeeKind, u16)>()?;
            Ok::<_, ErrorObjectOwned>(FeeQuote { token, fee: m.fee })
        })
        .unwrap();
    module
        .register_method("causeway_getTokens", |_, _, _| {
            Ok::<_, ErrorObjectOwned>(vec![TokenInfo {
                id: 0,
                address: Address::ZERO,
            }])
        })
        .unwrap();
    module
        .register_method("causeway_sendOp", |p, m, _| m.submit(p.one::<OpRequest>()?))
        .unwrap();
    module
        .register_method("causeway_getOp", |p, m, _| {
            Ok::<_, ErrorObjectOwned>(m.op(p.one::<B256>()?))
        })
        .unwrap();
    module
        .register_method("causeway_getHistory", |p, m, _| {
            let (address, limit) = p.parse::<(Address, u64)>()?;
            Ok::<_, ErrorObjectOwned>(m.history(address, limit))
        })
        .unwrap();
    module
        .register_method("causeway_getOpStatus", |p, m, _| {
            Ok::<_, ErrorObjectOwned>(m.status(p.one::<B256>()?))
        })
        .unwrap();
    let handle = server.start(module);
    (url, handle)
}

/// Nothing listens here: the wallet's L1 reads must fail cleanly.
pub(super) const NO_L1: &str = "http://127.0.0.1:9";

pub(super) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The stages a flow reported, in order.
#[derive(Default)]
struct Recorded(Mutex<Vec<Event>>);

impl Progress for Recorded {
    fn event(&self, event: Event) {
        self.0.lock().unwrap().push(event);
    }
}

#[test]
fn wallet_flows_activate_transfer_withdraw_against_a_mock_node() {
    runtime().block_on(async {
        let mock = Arc::new(Mock::new());
        let (url, _server) = serve(mock.clone()).await;
        let signer = anvil_signer();
        let me = signer.address();
        let mut ctx = WalletContext::new(signer, &url, NO_L1).unwrap();
        ctx.poll_interval = Duration::from_millis(5);
        let bob = Address::repeat_byte(0xb0);

        // No account yet.
        let err = transfer(&ctx, bob, 0, Amount::Units(ETHER))
            .await
            .unwrap_err();
        assert!(matches!(err, WalletError::NoAccount(a) if a == me), "{err}");
        let err = activate(&ctx, 0).await.unwrap_err();
        assert!(matches!(err, WalletError::NoAccount(_)), "{err}");

        // A deposit made it; no key yet.
        mock.add_account(me, 2 * ETHER, None);
        let err = transfer(&ctx, bob, 0, Amount::Units(ETHER))
            .await
            .unwrap_err();
        assert!(matches!(err, WalletError::NotActivated(_)), "{err}");

        // Activate: the mock checks the ECDSA authorization; the fee is the quote rounded up
        // to a packable value.
        let Activation::Submitted { hash, fee } = activate(&ctx, 0).await.unwrap() else {
            panic!("a ChangePubKey");
        };
        assert_eq!(fee, 1030);
        let account = mock.account(me).unwrap();
        let derived = sign::derive_l2_key(&anvil_signer()).unwrap().public_key();
        assert_eq!(account.pubkey, Some(B256::from(derived.to_packed().0)));
        assert_eq!(account.nonce, 1);
        assert_eq!(activate(&ctx, 0).await.unwrap(), Activation::AlreadyActive);

        // Waiting reports each stage once, in order.
        let progress = Recorded::default();
        let status = wait_for(
            &ctx,
            hash,
            OpStage::Committed,
            Duration::from_secs(10),
            &progress,
        )
        .await
        .unwrap();
        assert_eq!(status.stage, OpStage::Committed);
        assert_eq!(status.commit_tx, Some(B256::repeat_byte(0xc1)));
        assert_eq!(
            *progress.0.lock().unwrap(),
            vec![
                Event::Stage(OpStage::Pending),
                Event::Stage(OpStage::Included),
                Event::Stage(OpStage::Committed)
            ]
        );

        // Transfer: signed for the node's domain (the mock verifies it).
        let sent = transfer(&ctx, bob, 0, Amount::Units(ETHER / 2))
            .await
            .unwrap();
        assert_eq!((sent.amount, sent.fee, sent.nonce), (ETHER / 2, 1030, 1));
        let status = wait_for(
            &ctx,
            sent.hash,
            OpStage::Included,
            Duration::from_secs(10),
            &(),
        )
        .await
        .unwrap();
        assert_eq!(status.block, Some(1));

        // A transfer amount without a packed form is refused with the nearest one that has.
        let err = transfer(&ctx, bob, 0, Amount::Units(123_456_789_012))
            .await
            .unwrap_err();
        assert!(matches!(err, WalletError::NotPackable { .. }), "{err}");
        assert!(err.to_string().contains("0.000000123456789"), "{err}");

        // Too much: the numbers are in the message, in ETH.
        let err = transfer(&ctx, bob, 0, Amount::Units(2 * ETHER))
            .await
            .unwrap_err();
        let text = err.to_string();
        assert!(
            matches!(err, WalletError::InsufficientBalance { .. }),
            "{text}"
        );
        assert!(text.contains("1.49999999999999794 ETH"), "{text}");
        assert!(text.contains("need 2.00000000000000103"), "{text}");

        // Withdraw everything: balance minus the fee, to the wallet's own L1 address.
        let before = balance_of(&mock.account(me).unwrap(), 0);
        let sent = withdraw(&ctx, None, 0, Amount::All).await.unwrap();
        assert_eq!(sent.amount, before - 1030);
        let (_, op) = mock.ops.lock().unwrap().last().cloned().unwrap();
        let Op::Withdraw(w) = op else {
            panic!("a withdrawal")
        };
        assert_eq!(w.to, me);
        assert_eq!(balance_of(&mock.account(me).unwrap(), 0), 0);

        // The node's refusals, as the user reads them.
        *mock.refuse_next.lock().unwrap() = Some(rejected("WrongNonce", "expects nonce 9"));
        mock.accounts.lock().unwrap()[0].balances[0].amount = U256::from(ETHER);
        let err = transfer(&ctx, bob, 0, Amount::Units(1000))
            .await
            .unwrap_err();
        assert!(matches!(err, WalletError::NonceConflict(_)), "{err}");
        assert!(err.to_string().contains("retry"));
        *mock.refuse_next.lock().unwrap() = Some(ErrorObjectOwned::owned(
            5,
            "sender limit reached",
            None::<()>,
        ));
        let err = transfer(&ctx, bob, 0, Amount::Units(1000))
            .await
            .unwrap_err();
        assert!(matches!(err, WalletError::Busy(_)), "{err}");
        *mock.refuse_next.lock().unwrap() = Some(ErrorObjectOwned::owned(
            -32000,
            "storage failed",
            None::<()>,
        ));
        let err = transfer(&ctx, bob, 0, Amount::Units(1000))
            .await
            .unwrap_err();
        assert!(err.to_string().contains(&url), "{err}");
        *mock.refuse_next.lock().unwrap() = Some(rejected("UnknownToken", "token 9"));
        let err = transfer(&ctx, bob, 0, Amount::Units(1000))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("causeway wallet tokens"), "{err}");
        // An op the node already has was sent: retrying after a lost answer is harmless.
        *mock.refuse_next.lock().unwrap() =
            Some(ErrorObjectOwned::owned(6, "already known", None::<()>));
        let sent = transfer(&ctx, bob, 0, Amount::Units(1000)).await.unwrap();
        assert_ne!(sent.hash, B256::ZERO);
    });
}

#[test]
fn wallet_waiting_times_out_with_advice_and_unknown_ops_are_named() {
    runtime().block_on(async {
        let mock = Arc::new(Mock::new());
        *mock.max_stage.lock().unwrap() = OpStage::Included;
        let (url, _server) = serve(mock.clone()).await;
        let signer = anvil_signer();
        let derived = sign::derive_l2_key(&signer).unwrap().public_key();
        mock.add_account(signer.address(), ETHER, Some(derived));
        let mut ctx = WalletContext::new(signer, &url, NO_L1).unwrap();
        ctx.poll_interval = Duration::from_millis(5);

        let sent = transfer(&ctx, Address::repeat_byte(1), 0, Amount::Units(1000))
            .await
            .unwrap();
        let err = wait_for(
            &ctx,
            sent.hash,
            OpStage::Executed,
            Duration::from_millis(50),
            &(),
        )
        .await
        .unwrap_err();
        let text = err.to_string();
        assert!(
            matches!(
                err,
                WalletError::WaitTimeout {
                    reached: OpStage::Included,
                    ..
                }
            ),
            "{text}"
        );
        assert!(
            text.contains(&format!("causeway wallet status {}", sent.hash)),
            "{text}"
        );

        let unknown = B256::repeat_byte(0x99);
        let err = wait_for(
            &ctx,
            unknown,
            OpStage::Included,
            Duration::from_secs(1),
            &(),
        )
        .await
        .unwrap_err();
        assert!(
            matches!(err, WalletError::OpNotFound(h) if h == unknown),
            "{err}"
        );
    });
}

#[test]
fn wallet_unreachable_nodes_are_named() {
    runtime().block_on(async {
        let ctx = WalletContext::new(anvil_signer(), "http://127.0.0.1:9", NO_L1).unwrap();
        let err = balance(&ctx).await.unwrap_err();
        assert!(matches!(err, WalletError::Unreachable { .. }), "{err}");
        assert!(err.to_string().contains("http://127.0.0.1:9"), "{err}");
        assert!(WalletContext::new(anvil_signer(), "not a url", NO_L1).is_err());

        // The L2 node answers, L1 does not: balances still show L2, and L1's error names it.
        let mock = Arc::new(Mock::new());
        let (url, _server) = serve(mock.clone()).await;
        let me = anvil_signer().address();
        mock.add_account(me, ETHER, None);
        let ctx = WalletContext::watch_only(me, &url, NO_L1).unwrap();
        let b = balance(&ctx).await.unwrap();
        assert_eq!(b.l2.unwrap().balances[0].amount, U256::from(ETHER));
        let l1_err = b.l1.unwrap_err();
        assert!(
            matches!(l1_err, WalletError::L1Unreachable { .. }),
            "{l1_err}"
        );
        assert!(l1_err.to_string().contains(NO_L1), "{l1_err}");
        // Watch-only wallets read but do not sign.
        let err = transfer(&ctx, me, 0, Amount::Units(1)).await.unwrap_err();
        assert!(matches!(err, WalletError::WatchOnly), "{err}");
    });
}

/// Deposits, L1 balances and a claim on a real L1: the contracts on anvil, the L2 node mocked.
/// A claim needs an executed withdrawal, and executing needs a proof; an expired deposit
/// reclaimed in exodus is credited the same way, so that is what is claimed here.
#[test]
fn wallet_deposit_balance_and_claim_on_anvil() {
    use alloy::network::EthereumWallet;
    use alloy::providers::{Provider, ProviderBuilder};
    use causeway_bindings::anvil::{Anvil, DEV_CHAIN_ID, DEV_KEY};
    use causeway_bindings::{BatchVerifier, StateTree, ZkRollup};
    use causeway_primitives::Deposit;

    runtime().block_on(async {
        let anvil = Anvil::spawn().expect("anvil (run `npm install` at the workspace root)");
        let operator: PrivateKeySigner = DEV_KEY.parse().unwrap();
        let l1 = ProviderBuilder::new()
            .wallet(EthereumWallet::from(operator.clone()))
            .connect_http(anvil.endpoint_url());
        let verifier = BatchVerifier::deploy(&l1).await.unwrap();
        let tree = StateTree::deploy(&l1).await.unwrap();
        let deadline = 3600;
        let rollup = ZkRollup::deploy(
            &l1,
            *verifier.address(),
            *tree.address(),
            U256::from(6),
            operator.address(),
            operator.address(),
            deadline,
            B256::ZERO,
        )
        .await
        .unwrap();

        let mut mock = Mock::new();
        mock.info.l1_chain_id = DEV_CHAIN_ID;
        mock.info.rollup = *rollup.address();
        let mock = Arc::new(mock);
        let (url, _server) = serve(mock.clone()).await;

        // A fresh user, funded by the operator.
        let user = PrivateKeySigner::random();
        let me = user.address();
        let funding = alloy::rpc::types::TransactionRequest::default()
            .to(me)
            .value(U256::from(3 * ETHER));
        l1.send_transaction(funding)
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
        let mut ctx = WalletContext::new(user, &url, &anvil.endpoint()).unwrap();
        ctx.poll_interval = Duration::from_millis(5);

        // More than the wallet holds on L1: refused before anything is sent.
        let err = deposit(&ctx, 0, 5 * ETHER, None, &()).await.unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("insufficient L1 balance: 3 ETH, need 5"),
            "{text}"
        );

        let progress = Recorded::default();
        let receipt = deposit(&ctx, 0, ETHER / 2, None, &progress).await.unwrap();
        assert_eq!(
            (
                receipt.priority_id,
                receipt.to,
                receipt.amount,
                receipt.approve_tx
            ),
            (0, me, ETHER / 2, None)
        );
        assert!(matches!(
            progress.0.lock().unwrap()[..],
            [Event::L1Sent { what: "deposit", tx }] if tx == receipt.l1_tx
        ));
        let bob = Address::repeat_byte(0xb0);
        let to_bob = deposit(&ctx, 0, ETHER / 4, Some(bob), &()).await.unwrap();
        assert_eq!((to_bob.priority_id, to_bob.to), (1, bob));

        // The node picks the deposit up (here: the mock is told to); waiting finds it by its
        // priority id in the recipient's history.
        let op = Op::Deposit(Deposit {
            priority_id: 0,
            from: me,
            to: me,
            token: TokenId::ETH,
            amount: ETHER / 2,
        });
        mock.ops.lock().unwrap().push((op.hash(), op.clone()));
        let status = wait_for_deposit(
            &ctx,
            &receipt,
            OpStage::Included,
            Duration::from_secs(10),
            &(),
        )
        .await
        .unwrap();
        assert_eq!(status.hash, op.hash());
        assert_eq!(history(&ctx, 10).await.unwrap()[0].priority_id, Some(0));
        // Bob's deposit never shows up: the wait says what to check.
        let err = wait_for_deposit(
            &ctx,
            &to_bob,
            OpStage::Included,
            Duration::from_millis(30),
            &(),
        )
        .await
        .unwrap_err();
        assert!(err.to_string().contains("causeway wallet history"), "{err}");

        // A full exit needs the L2 account (the node names its id); it is a priority op too.
        let err = full_exit(&ctx, 0, &()).await.unwrap_err();
        assert!(matches!(err, WalletError::NoAccount(_)), "{err}");
        mock.add_account(me, ETHER / 2, None);
        let progress = Recorded::default();
        let exit = full_exit(&ctx, 0, &progress).await.unwrap();
        assert_eq!(
            (exit.priority_id, exit.owner, exit.token),
            (2, me, 0),
            "queued after both deposits"
        );
        assert!(exit.deadline > 0);
        assert!(matches!(
            progress.0.lock().unwrap()[..],
            [Event::L1Sent { what: "full exit request", tx }] if tx == exit.l1_tx
        ));
        let op = Op::FullExit(causeway_primitives::FullExit {
            priority_id: 2,
            account: causeway_primitives::AccountId::new(0).unwrap(),
            owner: me,
            token: TokenId::ETH,
        });
        mock.ops.lock().unwrap().push((op.hash(), op.clone()));
        let status =
            wait_for_full_exit(&ctx, &exit, OpStage::Included, Duration::from_secs(10), &())
                .await
                .unwrap();
        assert_eq!(status.hash, op.hash());

        let b = balance(&ctx).await.unwrap();
        let l1_balances = b.l1.unwrap();
        assert!(
            l1_balances.eth < U256::from(ETHER * 9 / 4) && l1_balances.eth > U256::from(2 * ETHER)
        );
        assert!(l1_balances.claimable.is_empty());
        let err = claim(&ctx, 0, None, &()).await.unwrap_err();
        assert!(matches!(err, WalletError::NothingToClaim { .. }), "{err}");

        // The operator never processes the deposits: after the deadline, exodus; deposits are
        // refused, and the user's unprocessed deposit comes back as a claimable withdrawal.
        let _: serde_json::Value = l1
            .raw_request("evm_increaseTime".into(), (deadline + 1,))
            .await
            .unwrap();
        let rollup = ZkRollup::new(*rollup.address(), &l1);
        rollup
            .activateExodus()
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
        let err = deposit(&ctx, 0, ETHER / 4, None, &()).await.unwrap_err();
        assert!(err.to_string().contains("exodus"), "{err}");
        rollup
            .reclaimDeposit(0, me, 0, ETHER / 2)
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
        let b = balance(&ctx).await.unwrap();
        assert_eq!(b.l1.unwrap().claimable, vec![(0, U256::from(ETHER / 2))]);
        let before = l1.get_balance(me).await.unwrap();
        let claimed = claim(&ctx, 0, None, &()).await.unwrap();
        assert_eq!((claimed.owner, claimed.amount), (me, U256::from(ETHER / 2)));
        let after = l1.get_balance(me).await.unwrap();
        assert!(
            after > before && after - before < U256::from(ETHER / 2),
            "paid, less gas"
        );
        let err = claim(&ctx, 0, None, &()).await.unwrap_err();
        assert!(matches!(err, WalletError::NothingToClaim { .. }), "{err}");

        // An L1 RPC on another chain than the node settles on is refused.
        let mut elsewhere = Mock::new();
        elsewhere.info.rollup = *rollup.address();
        elsewhere.info.l1_chain_id = 1;
        let (url, _server) = serve(Arc::new(elsewhere)).await;
        let ctx = WalletContext::new(anvil_signer(), &url, &anvil.endpoint()).unwrap();
        let err = deposit(&ctx, 0, 1, None, &()).await.unwrap_err();
        assert!(
            matches!(
                err,
                WalletError::L1ChainMismatch {
                    got: DEV_CHAIN_ID,
                    expected: 1,
                    ..
                }
            ),
            "{err}"
        );
    });
}
