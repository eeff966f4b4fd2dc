//! `causeway util`: offline tools over Causeway's hashing, keys, signatures and pubdata, in the
//! spirit of foundry's `cast`.
//!
//! Owns the reading of values typed by a user and the printing of results; every computation
//! is delegated to `causeway-crypto` and `causeway-primitives`, so the answers are exactly
//! what the node, the circuits and circomlibjs compute. Invariants:
//!
//! - Input is checked, never repaired: a field element must be below the BN254 scalar modulus
//!   (it is not reduced), a byte string must have its exact length, a packed public key must
//!   be canonical. Each failure is a [`CliError`] naming the argument.
//! - Field elements are read as decimal or `0x`-prefixed hex (any number of digits); byte
//!   strings as hex with or without `0x`. Field elements are printed as 32-byte big-endian
//!   hex and/or decimal, byte strings as `0x`-hex.
//! - Multi-value results print one `name: value` per line, so they can be picked out with
//!   `grep`/`awk`.

use crate::CliError;
use alloy_primitives::U256;
use causeway_crypto::eddsa::{PrivateKey, PublicKey, Signature, SignatureError};
use causeway_crypto::{l2key, poseidon};
use causeway_primitives::pubdata::{self, AuthKind, PubdataOp};
use causeway_primitives::{Fr, PackedPoint, fr_from_be_bytes, fr_to_be_bytes};
use clap::{Args, Subcommand};
use std::io::Write;

#[derive(Subcommand, Debug)]
pub enum UtilCommand {
    /// circomlib Poseidon of 1 to 16 field elements.
    Poseidon(PoseidonArgs),
    /// The Baby Jubjub public key of an L2 private key, or the L2 key a wallet's signature of
    /// the key message derives.
    Key(KeyArgs),
    /// The message a wallet signs (personal_sign) to derive its L2 key.
    KeyMessage,
    /// Signs a field element with EdDSA-Poseidon (circomlibjs signPoseidon).
    Sign(SignArgs),
    /// Checks an EdDSA-Poseidon signature: prints `valid` (exit 0) or `invalid` (exit 1).
    Verify(VerifyArgs),
    /// Decodes a batch's pubdata into its ops, one per line.
    DecodePubdata(DecodePubdataArgs),
}

#[derive(Args, Debug)]
pub struct PoseidonArgs {
    /// Inputs: field elements in decimal or 0x-prefixed hex.
    #[arg(
        required = true,
        value_name = "FIELD_ELEMENT",
        allow_negative_numbers = true
    )]
    inputs: Vec<String>,
    /// Print the hash in decimal instead of hex.
    #[arg(long)]
    decimal: bool,
}

#[derive(Args, Debug)]
#[group(required = true, multiple = false)]
pub struct KeyArgs {
    /// L2 private key: 32 bytes, hex.
    #[arg(long, value_name = "HEX32")]
    private_key: Option<String>,
    /// A 65-byte Ethereum signature (r ‖ s ‖ v, hex) of the key message: derives the L2 private
    /// key from it and prints that key too.
    #[arg(long, value_name = "HEX65")]
    eth_signature: Option<String>,
}

#[derive(Args, Debug)]
pub struct SignArgs {
    /// L2 private key: 32 bytes, hex.
    #[arg(long, value_name = "HEX32")]
    private_key: String,
    /// The field element to sign, decimal or 0x-prefixed hex.
    #[arg(long, value_name = "FIELD_ELEMENT", allow_negative_numbers = true)]
    message: String,
}

#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// Packed public key: 32 bytes, hex (as `util key` prints it).
    #[arg(long, value_name = "HEX32")]
    public_key: String,
    /// The signed field element, decimal or 0x-prefixed hex.
    #[arg(long, value_name = "FIELD_ELEMENT", allow_negative_numbers = true)]
    message: String,
    /// Packed signature: packed R8 ‖ S little-endian, 64 bytes, hex (as `util sign` prints it).
    #[arg(long, value_name = "HEX64")]
    signature: String,
}

#[derive(Args, Debug)]
pub struct DecodePubdataArgs {
    /// Pubdata bytes, hex.
    #[arg(value_name = "HEX")]
    pubdata: String,
    /// Print the ops as a JSON array (amounts and fees in their packed form, as in pubdata).
    #[arg(long)]
    json: bool,
}

/// Runs one `util` subcommand, writing its result to `out`.
pub fn run(command: &UtilCommand, out: &mut impl Write) -> Result<(), CliError> {
    match command {
        UtilCommand::Poseidon(args) => {
            let inputs = args
                .inputs
                .iter()
                .map(|s| parse_field_element("input", s))
                .collect::<Result<Vec<_>, _>>()?;
            let hash = poseidon::try_hash(&inputs)?;
            if args.decimal {
                writeln!(out, "{}", fr_decimal(&hash))?;
            } else {
                writeln!(out, "{}", fr_hex(&hash))?;
            }
        }
        UtilCommand::Key(args) => {
            let key = match (&args.private_key, &args.eth_signature) {
                (Some(hex), _) => PrivateKey::from_bytes(parse_fixed("private key", hex)?),
                (None, Some(hex)) => {
                    let sig = parse_fixed::<65>("Ethereum signature", hex)?;
                    let key = l2key::derive_from_eth_signature(&sig);
                    line(
                        out,
                        "private_key",
                        &format!("0x{}", hex::encode(key.to_bytes())),
                    )?;
                    key
                }
                // clap's argument group requires exactly one of the two.
                (None, None) => unreachable!("clap requires --private-key or --eth-signature"),
            };
            print_public_key(out, &key.public_key())?;
        }
        UtilCommand::KeyMessage => writeln!(out, "{}", l2key::L2_KEY_MESSAGE)?,
        UtilCommand::Sign(args) => {
            let key = PrivateKey::from_bytes(parse_fixed("private key", &args.private_key)?);
            let msg = parse_field_element("message", &args.message)?;
            let sig = key.sign(msg);
            let packed = sig.pack();
            line(out, "r8_x", &fr_decimal(&sig.r8.x))?;
            line(out, "r8_y", &fr_decimal(&sig.r8.y))?;
            let s: [u8; 32] = packed[32..].try_into().expect("64 = 32 + 32");
            line(out, "s", &U256::from_le_bytes(s).to_string())?;
            line(out, "signature", &format!("0x{}", hex::encode(packed)))?;
        }
        UtilCommand::Verify(args) => {
            let pubkey = PackedPoint(parse_fixed("public key", &args.public_key)?);
            // A key that cannot be a signer is bad input, not a failed check.
            let key = PublicKey::from_packed(&pubkey).map_err(CliError::PublicKey)?;
            let msg = parse_field_element("message", &args.message)?;
            let sig: [u8; 64] = parse_fixed("signature", &args.signature)?;
            let verdict = Signature::unpack(&sig).and_then(|sig| {
                if key.verify(msg, &sig) {
                    Ok(())
                } else {
                    Err(SignatureError::Invalid)
                }
            });
            match verdict {
                Ok(()) => writeln!(out, "valid")?,
                Err(e) => {
                    writeln!(out, "invalid")?;
                    return Err(CliError::SignatureRejected(e));
                }
            }
        }
        UtilCommand::DecodePubdata(args) => {
            let bytes = parse_hex("pubdata", &args.pubdata)?;
            let ops = pubdata::decode(&bytes)?;
            if args.json {
                let json = serde_json::to_string_pretty(&ops).map_err(std::io::Error::from)?;
                writeln!(out, "{json}")?;
            } else {
                for op in &ops {
                    writeln!(out, "{}", describe(op))?;
                }
            }
        }
    }
    Ok(())
}

fn print_public_key(out: &mut impl Write, key: &PublicKey) -> Result<(), CliError> {
    line(out, "x", &fr_decimal(&key.0.x))?;
    line(out, "x_hex", &fr_hex(&key.0.x))?;
    line(out, "y", &fr_decimal(&key.0.y))?;
    line(out, "y_hex", &fr_hex(&key.0.y))?;
    line(
        out,
        "packed",
        &format!("0x{}", hex::encode(key.to_packed().0)),
    )?;
    Ok(())
}

fn line(out: &mut impl Write, name: &str, value: &str) -> Result<(), CliError> {
    writeln!(out, "{:<13}{value}", format!("{name}:"))?;
    Ok(())
}

/// One op as a line: its kind, then `field=value` pairs with amounts as full integers.
fn describe(op: &PubdataOp) -> String {
    match op {
        PubdataOp::Noop => "noop".to_owned(),
        PubdataOp::Transfer {
            from,
            to,
            token,
            amount,
            fee,
        } => format!(
            "transfer from={from} to={to} token={token} amount={} fee={}",
            amount.value(),
            fee.value()
        ),
        PubdataOp::TransferToNew {
            from,
            to,
            token,
            amount,
            fee,
            to_address,
        } => format!(
            "transfer_to_new from={from} to={to} token={token} amount={} fee={} to_address={to_address}",
            amount.value(),
            fee.value()
        ),
        PubdataOp::Withdraw {
            from,
            token,
            amount,
            fee,
            to,
        } => format!(
            "withdraw from={from} token={token} amount={amount} fee={} to={to}",
            fee.value()
        ),
        PubdataOp::Deposit {
            account,
            token,
            amount,
            address,
        } => format!("deposit account={account} token={token} amount={amount} address={address}"),
        PubdataOp::FullExit {
            account,
            token,
            amount,
            owner,
        } => format!("full_exit account={account} token={token} amount={amount} owner={owner}"),
        PubdataOp::ChangePubKey {
            account,
            auth,
            pubkey,
            nonce,
            fee_token,
            fee,
            address,
        } => format!(
            "change_pubkey account={account} auth={} pubkey=0x{} nonce={nonce} fee_token={fee_token} fee={} address={address}",
            match auth {
                AuthKind::EthSignature => "eth_signature",
                AuthKind::Onchain => "onchain",
            },
            hex::encode(pubkey.0),
            fee.value()
        ),
    }
}

fn fr_hex(f: &Fr) -> String {
    format!("0x{}", hex::encode(fr_to_be_bytes(f)))
}

fn fr_decimal(f: &Fr) -> String {
    U256::from_be_bytes(fr_to_be_bytes(f)).to_string()
}

fn strip_0x(s: &str) -> Option<&str> {
    s.strip_prefix("0x").or_else(|| s.strip_prefix("0X"))
}

/// A field element in decimal or `0x`-hex, refused (not reduced) when not below the modulus.
fn parse_field_element(what: &'static str, input: &str) -> Result<Fr, CliError> {
    let not_a_number = || CliError::InvalidNumber {
        what,
        input: input.to_owned(),
    };
    let too_large = || CliError::NotFieldElement {
        what,
        input: input.to_owned(),
    };
    // Digits are checked here because `U256::from_str_radix` also accepts separators.
    let value = match strip_0x(input) {
        Some(digits) => {
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(not_a_number());
            }
            U256::from_str_radix(digits, 16)
        }
        None => {
            if input.is_empty() || !input.bytes().all(|b| b.is_ascii_digit()) {
                return Err(not_a_number());
            }
            U256::from_str_radix(input, 10)
        }
    };
    // With the digits checked, the only failure left is a value beyond 256 bits.
    let value = value.map_err(|_| too_large())?;
    fr_from_be_bytes(&value.to_be_bytes::<32>()).ok_or_else(too_large)
}

/// Hex bytes, with or without `0x`.
fn parse_hex(what: &'static str, input: &str) -> Result<Vec<u8>, CliError> {
    let prefix = if strip_0x(input).is_some() { 2 } else { 0 };
    let digits = &input[prefix..];
    if let Some((i, c)) = digits.char_indices().find(|(_, c)| !c.is_ascii_hexdigit()) {
        return Err(CliError::InvalidHexChar {
            what,
            c,
            index: prefix + i,
        });
    }
    if !digits.len().is_multiple_of(2) {
        return Err(CliError::OddHexLength {
            what,
            digits: digits.len(),
        });
    }
    // Both ways `hex::decode` can fail were ruled out above; map rather than panic anyway.
    hex::decode(digits).map_err(|_| CliError::OddHexLength {
        what,
        digits: digits.len(),
    })
}

/// Exactly `N` hex bytes.
fn parse_fixed<const N: usize>(what: &'static str, input: &str) -> Result<[u8; N], CliError> {
    let bytes = parse_hex(what, input)?;
    bytes
        .as_slice()
        .try_into()
        .map_err(|_| CliError::WrongLength {
            what,
            expected: N,
            got: bytes.len(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_elements_parse_in_both_bases_and_stop_at_the_modulus() {
        let p_minus_1 =
            "21888242871839275222246405745257275088548364400416034343698204186575808495616";
        let p = "21888242871839275222246405745257275088548364400416034343698204186575808495617";
        assert_eq!(parse_field_element("x", "0").unwrap(), Fr::from(0u64));
        assert_eq!(parse_field_element("x", "0x1f").unwrap(), Fr::from(31u64));
        assert_eq!(
            parse_field_element("x", p_minus_1).unwrap(),
            -Fr::from(1u64)
        );
        assert!(matches!(
            parse_field_element("x", p),
            Err(CliError::NotFieldElement { .. })
        ));
        assert!(matches!(
            parse_field_element("x", &format!("0x{}", "f".repeat(65))),
            Err(CliError::NotFieldElement { .. })
        ));
        for bad in ["", "0x", "1_000", "-1", "1e3", "0xg", " 1"] {
            assert!(
                matches!(
                    parse_field_element("x", bad),
                    Err(CliError::InvalidNumber { .. })
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn byte_strings_name_what_is_wrong() {
        assert_eq!(parse_fixed::<2>("k", "0xABcd").unwrap(), [0xab, 0xcd]);
        assert_eq!(parse_fixed::<2>("k", "abcd").unwrap(), [0xab, 0xcd]);
        let err = parse_fixed::<32>("private key", &"11".repeat(31)).unwrap_err();
        assert_eq!(err.to_string(), "private key must be 32 bytes, got 31");
        assert!(matches!(
            parse_hex("k", "0xabc"),
            Err(CliError::OddHexLength { digits: 3, .. })
        ));
        assert!(matches!(
            parse_hex("k", "0xaé"),
            Err(CliError::InvalidHexChar {
                c: 'é',
                index: 3,
                ..
            })
        ));
    }
}
