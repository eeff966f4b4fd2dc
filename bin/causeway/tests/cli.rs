//! Runs the real `causeway` binary: outputs against circomlibjs values, the key → sign →
//! verify round trip, exit codes, and the error messages of malformed input.

use causeway_primitives::pubdata::{self, PubdataOp};
use causeway_primitives::{AccountId, PackedAmount, PackedFee, TokenId};
use std::process::{Command, Output};

/// circomlibjs' first EdDSA vector (crates/crypto/vectors/circomlibjs.json).
const PRIVATE_KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const PUBKEY_X: &str =
    "1120771572304984668855649788542860110303223894298952018121329196339919157573";
const PUBKEY_Y: &str =
    "20197087425205130352574209034729275460185533126585197591053247747830393653846";
const PACKED_PUBKEY: &str = "0x56ca90f80d7c374ae7485e9bcc47d4ac399460948da6aeeb899311097925a72c";
/// circomlibjs' `signPoseidon(PRIVATE_KEY, 1)`.
const SIG1_R8X: &str =
    "18654329073332938645684952828562686202148973173262174906383191541875043076343";
const SIG1_R8Y: &str =
    "10665567232588401878044886221718278474278451511638451557533716197668003095445";
const SIG1_S: &str = "624865770820114768965612247560648814050775502744232760908372151439944429546";
const SIG1_PACKED_R8: &str = "95a39d7e8d11210835a9723a5823fb8f42f862aaca6c570231c0ffcb437f9497";

/// The BN254 scalar modulus.
const MODULUS: &str =
    "21888242871839275222246405745257275088548364400416034343698204186575808495617";

fn causeway(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_causeway"))
        .args(args)
        .output()
        .expect("run causeway")
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).expect("utf-8 stdout")
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).expect("utf-8 stderr")
}

/// Runs a command that must succeed and returns its stdout.
fn ok(args: &[&str]) -> String {
    let o = causeway(args);
    assert!(o.status.success(), "{args:?} failed: {}", stderr(&o));
    assert!(
        o.stderr.is_empty(),
        "{args:?} wrote to stderr: {}",
        stderr(&o)
    );
    stdout(&o)
}

/// Runs a command that must fail with bad input (exit 2), without panicking, and returns its
/// stderr.
fn bad_input(args: &[&str]) -> String {
    let o = causeway(args);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
    assert!(!err.contains("panicked"), "{args:?} panicked: {err}");
    assert!(o.stdout.is_empty(), "{args:?} wrote to stdout");
    err
}

/// The value of a `name: value` line.
fn field(output: &str, name: &str) -> String {
    output
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or_else(|| panic!("no {name} in {output}"))
        .trim()
        .to_owned()
}

#[test]
fn poseidon_matches_circomlibjs() {
    let hash = "0x115cc0f5e7d690413df64c6b9662e9cf2a3617f2743245519e19607a4417189a";
    assert_eq!(ok(&["util", "poseidon", "1", "2"]), format!("{hash}\n"));
    // Hex inputs, and decimal output.
    assert_eq!(
        ok(&["util", "poseidon", "0x1", "0x02", "--decimal"]),
        "7853200120776062878684798364095072458815029376092732009249414926327459813530\n"
    );
    // circomlibjs vector for one input.
    assert_eq!(
        ok(&["util", "poseidon", "--decimal", "1"]),
        "18586133768512220936620570745912940619677854269274689475585506675881198879027\n"
    );
    let sixteen: Vec<String> = (1..=16).map(|i| i.to_string()).collect();
    let mut args = vec!["util", "poseidon"];
    args.extend(sixteen.iter().map(String::as_str));
    assert!(ok(&args).starts_with("0x"));
}

#[test]
fn key_matches_circomlibjs() {
    let out = ok(&["util", "key", "--private-key", PRIVATE_KEY]);
    assert_eq!(field(&out, "x"), PUBKEY_X);
    assert_eq!(field(&out, "y"), PUBKEY_Y);
    assert_eq!(field(&out, "packed"), PACKED_PUBKEY);
    assert_eq!(field(&out, "x_hex").len(), 66);
    // With 0x, same key.
    assert_eq!(
        ok(&["util", "key", "--private-key", &format!("0x{PRIVATE_KEY}")]),
        out
    );
}

#[test]
fn sign_matches_circomlibjs_and_round_trips() {
    let out = ok(&[
        "util",
        "sign",
        "--private-key",
        PRIVATE_KEY,
        "--message",
        "1",
    ]);
    assert_eq!(field(&out, "r8_x"), SIG1_R8X);
    assert_eq!(field(&out, "r8_y"), SIG1_R8Y);
    assert_eq!(field(&out, "s"), SIG1_S);
    let signature = field(&out, "signature");
    assert_eq!(signature.len(), 2 + 128);
    assert_eq!(&signature[2..66], SIG1_PACKED_R8);

    let verify = |msg: &str, sig: &str| {
        causeway(&[
            "util",
            "verify",
            "--public-key",
            PACKED_PUBKEY,
            "--message",
            msg,
            "--signature",
            sig,
        ])
    };
    let o = verify("1", &signature);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), "valid\n");
    // The same message in hex is the same field element.
    assert_eq!(stdout(&verify("0x01", &signature)), "valid\n");

    let o = verify("2", &signature);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stdout(&o), "invalid\n");
    assert!(stderr(&o).contains("does not verify"), "{}", stderr(&o));

    // An S not below the subgroup order is refused, whatever it reduces to.
    let mut s_out_of_range = signature.clone();
    s_out_of_range.replace_range(66.., &"ff".repeat(32));
    let o = verify("1", &s_out_of_range);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stdout(&o), "invalid\n");
    assert!(stderr(&o).contains("S is not below the subgroup order"));
}

#[test]
fn key_sign_verify_round_trip_for_another_key() {
    let key = "0x".to_owned() + &"a5".repeat(32);
    let packed = field(&ok(&["util", "key", "--private-key", &key]), "packed");
    let msg = "21888242871839275222246405745257275088548364400416034343698204186575808495616";
    let sig = field(
        &ok(&["util", "sign", "--private-key", &key, "--message", msg]),
        "signature",
    );
    let args = |m: &'static str| {
        [
            "util",
            "verify",
            "--public-key",
            packed.as_str(),
            "--message",
            m,
            "--signature",
            sig.as_str(),
        ]
        .map(str::to_owned)
    };
    assert_eq!(ok(&args(msg).each_ref().map(String::as_str)), "valid\n");
    let o = causeway(&args("0").each_ref().map(String::as_str));
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stdout(&o), "invalid\n");
}

#[test]
fn eth_signature_derives_a_usable_key() {
    let mut sig = "11".repeat(64);
    sig.push_str("1c");
    let out = ok(&["util", "key", "--eth-signature", &sig]);
    let private_key = field(&out, "private_key");
    assert_eq!(private_key.len(), 66);
    // The printed private key has the printed public key.
    let again = ok(&["util", "key", "--private-key", &private_key]);
    assert_eq!(field(&again, "packed"), field(&out, "packed"));
    // v = 1 is v = 28 as some wallets write it: same key.
    let mut short_v = "11".repeat(64);
    short_v.push_str("01");
    assert_eq!(ok(&["util", "key", "--eth-signature", &short_v]), out);

    let message = ok(&["util", "key-message"]);
    assert_eq!(
        message,
        format!("{}\n", causeway_crypto::l2key::L2_KEY_MESSAGE)
    );
}

#[test]
fn malformed_input_is_refused_with_exit_code_2() {
    // Non-hex.
    let err = bad_input(&["util", "key", "--private-key", &"zz".repeat(32)]);
    assert!(err.contains("private key is not hex"), "{err}");
    // Too short and too long.
    let err = bad_input(&["util", "key", "--private-key", &"11".repeat(31)]);
    assert!(
        err.contains("private key must be 32 bytes, got 31"),
        "{err}"
    );
    let err = bad_input(&["util", "key", "--private-key", &"11".repeat(33)]);
    assert!(
        err.contains("private key must be 32 bytes, got 33"),
        "{err}"
    );
    let err = bad_input(&["util", "key", "--eth-signature", &"11".repeat(64)]);
    assert!(
        err.contains("Ethereum signature must be 65 bytes, got 64"),
        "{err}"
    );
    // Odd length.
    let err = bad_input(&["util", "key", "--private-key", &"1".repeat(63)]);
    assert!(err.contains("odd number of hex digits (63)"), "{err}");
    let err = bad_input(&["util", "decode-pubdata", "0x123"]);
    assert!(
        err.contains("pubdata has an odd number of hex digits"),
        "{err}"
    );
    // Not a field element.
    for too_large in [
        MODULUS.to_owned(),
        "0x30644e72e131a029b85045b68181585d2833e84879b9709143e1f593f0000001".to_owned(),
        format!("0x{}", "ff".repeat(32)),
        "1".repeat(100),
    ] {
        let err = bad_input(&["util", "poseidon", "1", &too_large]);
        assert!(
            err.contains("not a field element: value exceeds the BN254 scalar field modulus"),
            "{err}"
        );
    }
    let err = bad_input(&[
        "util",
        "sign",
        "--private-key",
        PRIVATE_KEY,
        "--message",
        MODULUS,
    ]);
    assert!(err.contains("not a field element"), "{err}");
    for not_a_number in ["abc", "-1", "1.5", "0x", "0xg1"] {
        let err = bad_input(&["util", "poseidon", not_a_number]);
        assert!(err.contains("is not a number"), "{not_a_number}: {err}");
    }
    // Too many Poseidon inputs, and none.
    let seventeen: Vec<String> = (1..=17).map(|i| i.to_string()).collect();
    let mut args = vec!["util", "poseidon"];
    args.extend(seventeen.iter().map(String::as_str));
    let err = bad_input(&args);
    assert!(
        err.contains("Poseidon takes 1..=16 inputs, got 17"),
        "{err}"
    );
    bad_input(&["util", "poseidon"]);
    // A public key that is not a curve point, and the wrong signature length.
    let err = bad_input(&[
        "util",
        "verify",
        "--public-key",
        &"ff".repeat(32),
        "--message",
        "1",
        "--signature",
        &"00".repeat(64),
    ]);
    assert!(err.contains("invalid public key"), "{err}");
    let err = bad_input(&[
        "util",
        "verify",
        "--public-key",
        PACKED_PUBKEY,
        "--message",
        "1",
        "--signature",
        &"00".repeat(63),
    ]);
    assert!(err.contains("signature must be 64 bytes, got 63"), "{err}");
    // Both or neither key source.
    bad_input(&["util", "key"]);
    bad_input(&[
        "util",
        "key",
        "--private-key",
        PRIVATE_KEY,
        "--eth-signature",
        &"11".repeat(65),
    ]);
}

#[test]
fn decode_pubdata_prints_ops() {
    let transfer = PubdataOp::Transfer {
        from: AccountId::new(3).unwrap(),
        to: AccountId::new(70_000).unwrap(),
        token: TokenId::new(2).unwrap(),
        amount: PackedAmount::pack(1_500_000_000_000_000_000).unwrap(),
        fee: PackedFee::pack(4_000_000_000_000).unwrap(),
    };
    let hex = format!(
        "0x{}",
        hex::encode(pubdata::encode(&[transfer.clone(), PubdataOp::Noop]))
    );
    assert_eq!(
        ok(&["util", "decode-pubdata", &hex]),
        "transfer from=3 to=70000 token=2 amount=1500000000000000000 fee=4000000000000\nnoop\n"
    );
    let json = ok(&["util", "decode-pubdata", "--json", &hex[2..]]);
    let ops: Vec<PubdataOp> = serde_json::from_str(&json).expect("JSON of ops");
    assert_eq!(ops, vec![transfer, PubdataOp::Noop]);
    assert_eq!(ok(&["util", "decode-pubdata", "0x"]), "");

    // Garbage: an unknown tag, a partial chunk, non-zero padding.
    let err = bad_input(&["util", "decode-pubdata", &"ff".repeat(14)]);
    assert!(
        err.contains("invalid pubdata: unknown op tag 15 at byte 0"),
        "{err}"
    );
    let err = bad_input(&["util", "decode-pubdata", &"00".repeat(13)]);
    assert!(
        err.contains("invalid pubdata: pubdata length 13 is not a multiple of the 14-byte chunk"),
        "{err}"
    );
    let err = bad_input(&["util", "decode-pubdata", &format!("{}01", "00".repeat(13))]);
    assert!(err.contains("non-zero padding"), "{err}");
}
