//! The wallet's key at rest, and the secrets read from the user.
//!
//! The key lives in one Web3 Secret Storage v3 file (scrypt and AES-128-CTR, the format geth,
//! foundry's `cast wallet` and browser wallets import), written with `eth-keystore`. Next to
//! the encrypted key the file carries the plain `address`, as geth writes it, so commands that
//! only read (balance, history, status) need no password.
//!
//! Secrets (passwords, private keys) are read from a file, an environment variable or the
//! terminal without echo, held in [`Zeroizing`] buffers, and never printed or taken as a
//! command-line argument.

use super::WalletError;
use alloy::primitives::Address;
use alloy::signers::local::PrivateKeySigner;
use std::fs;
use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};
use zeroize::{Zeroize, Zeroizing};

/// The environment variable a password may come from (for scripts; a file is safer on a
/// shared machine, since a process's environment is readable by its user's other processes).
pub const PASSWORD_ENV: &str = "CAUSEWAY_PASSWORD";

/// `$HOME/.causeway/keystore.json`.
pub fn default_path() -> Result<PathBuf, WalletError> {
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .ok_or(WalletError::NoHome)?;
    Ok(PathBuf::from(home).join(".causeway").join("keystore.json"))
}

/// Writes `signer`'s key to a new keystore at `path`, encrypted with `password`. Refuses to
/// replace an existing file; creates the directory (owner-only) if needed; the file is
/// readable by its owner only.
pub fn store(path: &Path, signer: &PrivateKeySigner, password: &str) -> Result<(), WalletError> {
    if path.exists() {
        return Err(WalletError::KeystoreExists(path.to_owned()));
    }
    let file_name =
        path.file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| WalletError::Keystore {
                path: path.to_owned(),
                detail: "not a file name".into(),
            })?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    create_private_dir(dir)
        .map_err(|e| WalletError::io(format!("creating {}", dir.display()), e))?;

    // Written under a temporary name and renamed, so an interrupted write never leaves a
    // truncated keystore where the wallet looks for one.
    let tmp_name = format!(".{file_name}.{}.tmp", std::process::id());
    let tmp = dir.join(&tmp_name);
    let mut key = signer.to_bytes();
    let encrypted = eth_keystore::encrypt_key(
        dir,
        &mut rand::thread_rng(),
        key.as_slice(),
        password,
        Some(&tmp_name),
    );
    key.0.zeroize();
    let finish = || -> Result<(), WalletError> {
        encrypted.map_err(|e| WalletError::Keystore {
            path: path.to_owned(),
            detail: e.to_string(),
        })?;
        restrict_to_owner(&tmp).map_err(|e| WalletError::io("restricting the keystore", e))?;
        let mut json: serde_json::Value = serde_json::from_slice(
            &fs::read(&tmp).map_err(|e| WalletError::io("reading back the keystore", e))?,
        )
        .map_err(|e| WalletError::Keystore {
            path: path.to_owned(),
            detail: e.to_string(),
        })?;
        if let Some(fields) = json.as_object_mut() {
            // geth's form: lowercase hex without 0x.
            fields.insert(
                "address".into(),
                hex::encode(signer.address().as_slice()).into(),
            );
        }
        fs::write(&tmp, json.to_string())
            .map_err(|e| WalletError::io("writing the keystore", e))?;
        fs::rename(&tmp, path)
            .map_err(|e| WalletError::io(format!("moving the keystore to {}", path.display()), e))
    };
    finish().inspect_err(|_| {
        let _ = fs::remove_file(&tmp);
    })
}

/// The key in the keystore at `path`.
pub fn load(path: &Path, password: &str) -> Result<PrivateKeySigner, WalletError> {
    if !path.exists() {
        return Err(WalletError::NoKeystore(path.to_owned()));
    }
    let secret = Zeroizing::new(eth_keystore::decrypt_key(path, password).map_err(
        |e| match e {
            eth_keystore::KeystoreError::MacMismatch => WalletError::WrongPassword(path.to_owned()),
            other => WalletError::Keystore {
                path: path.to_owned(),
                detail: other.to_string(),
            },
        },
    )?);
    PrivateKeySigner::from_slice(&secret).map_err(|e| WalletError::Keystore {
        path: path.to_owned(),
        detail: format!("the decrypted key is not a secp256k1 key: {e}"),
    })
}

/// The address a keystore names in plain text, when it does (ours and geth's do; foundry's
/// do not, and then the password is needed).
pub fn address(path: &Path) -> Result<Option<Address>, WalletError> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(WalletError::NoKeystore(path.to_owned()));
        }
        Err(e) => return Err(WalletError::io(format!("reading {}", path.display()), e)),
    };
    let json: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| WalletError::Keystore {
            path: path.to_owned(),
            detail: format!("not a JSON keystore: {e}"),
        })?;
    Ok(json
        .get("address")
        .and_then(|a| a.as_str())
        .and_then(|a| a.strip_prefix("0x").unwrap_or(a).parse::<Address>().ok()))
}

/// A private key typed or stored as 64 hex digits, with or without `0x`, surrounding
/// whitespace ignored. The error never repeats the input.
pub fn parse_private_key(text: &str) -> Result<PrivateKeySigner, WalletError> {
    let text = text.trim();
    let digits = text
        .strip_prefix("0x")
        .or_else(|| text.strip_prefix("0X"))
        .unwrap_or(text);
    if digits.len() != 64 {
        return Err(WalletError::InvalidPrivateKey(
            "expected 32 bytes as 64 hex digits",
        ));
    }
    let mut bytes = Zeroizing::new([0u8; 32]);
    hex::decode_to_slice(digits, bytes.as_mut())
        .map_err(|_| WalletError::InvalidPrivateKey("expected hex digits"))?;
    PrivateKeySigner::from_slice(bytes.as_ref())
        .map_err(|_| WalletError::InvalidPrivateKey("zero or not below the secp256k1 group order"))
}

/// The private key to import: from `file`, else from stdin (prompted without echo when stdin
/// is a terminal).
pub fn read_private_key(file: Option<&Path>) -> Result<PrivateKeySigner, WalletError> {
    let text = match file {
        Some(f) => Zeroizing::new(
            fs::read_to_string(f)
                .map_err(|e| WalletError::io(format!("reading {}", f.display()), e))?,
        ),
        None if std::io::stdin().is_terminal() => Zeroizing::new(
            rpassword::prompt_password("Private key (hex, not echoed): ")
                .map_err(|e| WalletError::io("reading the private key", e))?,
        ),
        None => {
            let mut text = Zeroizing::new(String::new());
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| WalletError::io("reading the private key from stdin", e))?;
            text
        }
    };
    parse_private_key(&text)
}

/// Where the keystore password comes from, first match wins: `--password-file` (its first
/// line), `$CAUSEWAY_PASSWORD`, a prompt on the terminal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordSource {
    pub file: Option<PathBuf>,
}

impl PasswordSource {
    /// The password that unlocks an existing keystore.
    pub fn unlock(&self, keystore: &Path) -> Result<Zeroizing<String>, WalletError> {
        if let Some(password) = self.non_interactive()? {
            return Ok(password);
        }
        prompt(&format!("Password for {}: ", keystore.display()))
    }

    /// The password for a new keystore; typed twice when prompted. Never empty.
    pub fn choose(&self) -> Result<Zeroizing<String>, WalletError> {
        let password = match self.non_interactive()? {
            Some(password) => password,
            None => {
                let first = prompt("New keystore password: ")?;
                let second = prompt("Repeat the password: ")?;
                if first != second {
                    return Err(WalletError::Password("the passwords differ"));
                }
                first
            }
        };
        if password.is_empty() {
            return Err(WalletError::Password(
                "refusing an empty password: the keystore would be readable by anyone who copies it",
            ));
        }
        Ok(password)
    }

    fn non_interactive(&self) -> Result<Option<Zeroizing<String>>, WalletError> {
        if let Some(file) = &self.file {
            let text = Zeroizing::new(
                fs::read_to_string(file)
                    .map_err(|e| WalletError::io(format!("reading {}", file.display()), e))?,
            );
            // The first line, as geth's --password file: editors add a trailing newline.
            let line = text.lines().next().unwrap_or("");
            return Ok(Some(Zeroizing::new(line.to_owned())));
        }
        Ok(std::env::var(PASSWORD_ENV).ok().map(Zeroizing::new))
    }
}

fn prompt(message: &str) -> Result<Zeroizing<String>, WalletError> {
    rpassword::prompt_password(message)
        .map(Zeroizing::new)
        .map_err(|_| {
            WalletError::Password(
                "no terminal to ask the password on: set CAUSEWAY_PASSWORD or pass --password-file",
            )
        })
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if dir.exists() {
        return Ok(());
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    fs::create_dir_all(dir)
}

#[cfg(unix)]
fn restrict_to_owner(file: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(file, fs::Permissions::from_mode(0o600))
}

#[cfg(not(unix))]
fn restrict_to_owner(_: &Path) -> std::io::Result<()> {
    Ok(())
}
