//! Running npm `snarkjs groth16 verify` (pinned in package.json) on our JSON exports, for the
//! export and batch tests.

#![allow(dead_code)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

pub fn snarkjs() -> PathBuf {
    let bin = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../node_modules/.bin/snarkjs");
    assert!(
        bin.exists(),
        "{} is missing: run `npm install` at the workspace root (package.json pins snarkjs)",
        bin.display()
    );
    bin
}

/// What `snarkjs groth16 verify` concluded.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Accepted,
    /// Rejected with this reason (snarkjs's log line).
    Rejected(&'static str),
}

/// Runs `snarkjs groth16 verify` on the three JSON documents in `dir`.
pub fn snarkjs_verify(dir: &Path, vk: &Value, public: &Value, proof: &Value) -> Verdict {
    std::fs::create_dir_all(dir).unwrap();
    for (name, doc) in [
        ("vk.json", vk),
        ("public.json", public),
        ("proof.json", proof),
    ] {
        std::fs::write(dir.join(name), serde_json::to_string_pretty(doc).unwrap()).unwrap();
    }
    let out = Command::new(snarkjs())
        .current_dir(dir)
        .args(["groth16", "verify", "vk.json", "public.json", "proof.json"])
        .output()
        .expect("running snarkjs");
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // Exit status 1 also covers a crash; only these log lines count as verdicts.
    match (out.status.success(), log.as_str()) {
        (true, l) if l.contains("OK!") => Verdict::Accepted,
        (false, l) if l.contains("Invalid proof") => Verdict::Rejected("Invalid proof"),
        (false, l) if l.contains("Public inputs are not valid") => {
            Verdict::Rejected("Public inputs are not valid")
        }
        _ => panic!("snarkjs gave no verdict ({}):\n{log}", out.status),
    }
}
