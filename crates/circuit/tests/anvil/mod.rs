//! The anvil/forge harness of the tests that run generated Solidity on a real EVM
//! (`export_anvil`, `batch_anvil`): tools from the workspace's `node_modules/.bin`, an anvil on
//! a free port killed on drop, a scratch Foundry project configured like `contracts/`, and
//! `cast` wrappers for deploying, calling and measuring gas.
//!
//! Needs the npm toolchain at the workspace root (`npm install`: anvil, cast, forge, solc);
//! without it the tests fail rather than skip.

#![allow(dead_code)]

use ark_ff::{BigInteger, PrimeField};
use causeway_circuit::export::{EvmWord, word_hex};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// anvil's first dev account (public knowledge; funded on every fresh anvil).
pub const DEV_KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `node_modules/.bin/<tool>`, or a failure that says how to get it.
pub fn tool(name: &str) -> PathBuf {
    let bin = root().join("node_modules/.bin").join(name);
    assert!(
        bin.exists(),
        "{} is missing: run `npm install` at the workspace root (package.json pins the toolchain)",
        bin.display()
    );
    bin
}

/// Runs `cmd` to completion; panics with its output unless it succeeds.
pub fn run(cmd: &mut Command) -> String {
    let Output {
        status,
        stdout,
        stderr,
    } = cmd
        .output()
        .unwrap_or_else(|e| panic!("spawning {cmd:?}: {e}"));
    let stdout = String::from_utf8_lossy(&stdout).trim().to_string();
    assert!(
        status.success(),
        "{cmd:?} failed ({status}):\n{stdout}\n{}",
        String::from_utf8_lossy(&stderr)
    );
    stdout
}

/// An anvil on a port the OS picked, killed (with its npm wrapper) when dropped.
pub struct Anvil {
    child: Child,
    pub url: String,
}

impl Anvil {
    pub fn spawn() -> Anvil {
        // `--port 0` lets the OS pick a free port (no race with other tests), which anvil
        // prints as `Listening on 127.0.0.1:<port>`. Its own process group: the npm wrapper
        // (node) forwards SIGTERM/SIGINT but not SIGKILL, so the guard kills the group.
        let mut child = Command::new(tool("anvil"))
            .args(["--host", "127.0.0.1", "--port", "0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("spawning anvil");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        // Keep draining stdout after the address: anvil logs every request, and a full pipe
        // would block it.
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(addr) = line.strip_prefix("Listening on ") {
                    let _ = tx.send(addr.trim().to_string());
                }
            }
        });
        let mut anvil = Anvil {
            child,
            url: String::new(),
        };
        let addr = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("anvil did not report its address within 30 s"));
        anvil.url = format!("http://{addr}");
        // Listening is not answering yet in every version; poll until it answers.
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let ok = Command::new(tool("cast"))
                .args(["block-number", "--rpc-url", &anvil.url])
                .output()
                .is_ok_and(|o| o.status.success());
            if ok {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "anvil at {} never answered",
                anvil.url
            );
            thread::sleep(Duration::from_millis(100));
        }
        anvil
    }
}

impl Drop for Anvil {
    fn drop(&mut self) {
        // The group whose id is the wrapper's pid: the wrapper and the anvil binary.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.wait();
    }
}

/// `a + b` as 256-bit integers (the test only adds where that cannot overflow).
pub fn word_add(a: &EvmWord, b: &EvmWord) -> EvmWord {
    let mut out = [0u8; 32];
    let mut carry = 0u16;
    for i in (0..32).rev() {
        let s = u16::from(a[i]) + u16::from(b[i]) + carry;
        out[i] = s as u8;
        carry = s >> 8;
    }
    assert_eq!(carry, 0, "word overflow");
    out
}

pub fn modulus_word<F: PrimeField>() -> EvmWord {
    F::MODULUS.to_bytes_be().try_into().unwrap()
}

pub fn small_word(n: u8) -> EvmWord {
    let mut w = [0; 32];
    w[31] = n;
    w
}

/// Builds the verifiers in a scratch Foundry project configured like `contracts/` (same
/// compiler shim, optimizer and EVM version) and returns each one's creation bytecode.
pub fn build(dir: &Path, contracts: &[(String, String)]) -> Vec<String> {
    let toml = std::fs::read_to_string(root().join("contracts/foundry.toml")).unwrap();
    // Only the shim's path changes: relative in contracts/, absolute here.
    let shim = root().join("scripts/solc").canonicalize().unwrap();
    let mut replaced = 0;
    let toml: String = toml
        .lines()
        .map(|line| {
            if line.trim_start().starts_with("solc =") {
                replaced += 1;
                format!("solc = \"{}\"\n", shim.display())
            } else {
                format!("{line}\n")
            }
        })
        .collect();
    assert_eq!(replaced, 1, "contracts/foundry.toml should set `solc` once");
    std::fs::write(dir.join("foundry.toml"), toml).unwrap();
    std::fs::create_dir_all(dir.join("src")).unwrap();
    for (name, source) in contracts {
        std::fs::write(dir.join(format!("src/{name}.sol")), source).unwrap();
    }
    run(Command::new(tool("forge"))
        .arg("build")
        .arg("--root")
        .arg(dir));
    contracts
        .iter()
        .map(|(name, _)| {
            let artifact = dir.join(format!("out/{name}.sol/{name}.json"));
            let json: Value =
                serde_json::from_str(&std::fs::read_to_string(&artifact).unwrap()).unwrap();
            json["bytecode"]["object"].as_str().unwrap().to_string()
        })
        .collect()
}

pub fn deploy(anvil: &Anvil, bytecode: &str) -> String {
    let out = run(Command::new(tool("cast")).args([
        "send",
        "--rpc-url",
        &anvil.url,
        "--private-key",
        DEV_KEY,
        "--json",
        "--create",
        bytecode,
    ]));
    let receipt: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(receipt["status"], "0x1", "deployment failed: {receipt}");
    receipt["contractAddress"].as_str().unwrap().to_string()
}

/// `eth_call` of raw calldata, optionally with a gas limit: the verifier's answer, or the
/// revert (cast's error output).
pub fn try_call(
    anvil: &Anvil,
    to: &str,
    calldata: &str,
    gas_limit: Option<u64>,
) -> Result<bool, String> {
    let mut cmd = Command::new(tool("cast"));
    cmd.args(["call", "--rpc-url", &anvil.url, to, "--data", calldata]);
    if let Some(limit) = gas_limit {
        cmd.args(["--gas-limit", &limit.to_string()]);
    }
    let out = cmd.output().expect("running cast call");
    let stderr = String::from_utf8_lossy(&out.stderr);
    // cast 1.7.1 exits 0 on a revert; it prints nothing on stdout and the error on stderr.
    match String::from_utf8_lossy(&out.stdout).trim() {
        o if out.status.success() && o == word_hex(&small_word(1)) => Ok(true),
        o if out.status.success() && o == word_hex(&small_word(0)) => Ok(false),
        "" => Err(stderr.into_owned()),
        o => panic!(
            "verifyProof returned {o:?} ({}; stderr: {stderr})",
            out.status
        ),
    }
}

/// `eth_call` of raw calldata; the verifier's answer, or a panic if the call reverted.
pub fn call(anvil: &Anvil, to: &str, calldata: &str) -> bool {
    try_call(anvil, to, calldata, None).unwrap_or_else(|e| panic!("verifyProof reverted: {e}"))
}

/// Sends `calldata` to `to` in a transaction with `gas_limit` and returns the receipt's
/// `gasUsed`.
pub fn gas_used(anvil: &Anvil, to: &str, calldata: &str, gas_limit: u64) -> u64 {
    let out = run(Command::new(tool("cast")).args([
        "send",
        "--rpc-url",
        &anvil.url,
        "--private-key",
        DEV_KEY,
        "--gas-limit",
        &gas_limit.to_string(),
        "--json",
        to,
        calldata,
    ]));
    let receipt: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(receipt["status"], "0x1", "transaction reverted: {receipt}");
    hex_u64(&receipt["gasUsed"])
}

pub fn hex_u64(v: &Value) -> u64 {
    let s = v
        .as_str()
        .unwrap_or_else(|| panic!("{v} is not a hex string"));
    u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap()
}

/// What `eth_estimateGas` answers for the call.
pub fn estimate(anvil: &Anvil, to: &str, calldata: &str) -> u64 {
    run(Command::new(tool("cast")).args(["estimate", "--rpc-url", &anvil.url, to, calldata]))
        .parse()
        .unwrap()
}

/// The intrinsic gas of a call transaction with `calldata` (EIP-2028 prices: 4 per zero
/// byte, 16 per other byte; the EIP-7623 floor is below a pairing's execution cost).
pub fn intrinsic_gas(calldata: &str) -> u64 {
    let bytes = hex::decode(calldata.trim_start_matches("0x")).unwrap();
    21_000
        + bytes
            .iter()
            .map(|&b| if b == 0 { 4 } else { 16 })
            .sum::<u64>()
}
