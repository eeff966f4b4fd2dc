//! Runs the real `causeway` binary through a development setup and the proof of a job file,
//! with the smallest circuit (1 chunk, 1 fee slot), and checks the written proof against the
//! verifying key on disk.

use causeway_circuit::batch::{BatchInput, BatchShape};
use causeway_circuit::groth16::{self, VerifyingKey};
use causeway_primitives::{Address, Domain, fr_to_be_bytes};
use causeway_prover::{Job, ProofRecord, encode_job};
use std::path::Path;
use std::process::{Command, Output};

fn causeway(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_causeway"))
        .args(args)
        .output()
        .expect("run causeway")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("utf-8 output")
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 temporary path")
}

#[test]
fn setup_then_prove_a_job_file() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");

    let o = causeway(&[
        "setup",
        "--chunks",
        "1",
        "--fee-slots",
        "1",
        "--keys",
        path(&keys),
        "--seed",
        "5",
    ]);
    let out = text(&o.stdout);
    assert!(o.status.success(), "setup: {}", text(&o.stderr));
    assert!(out.contains("NOT FOR PRODUCTION"), "{out}");
    assert!(out.contains("c1-f1.pk"), "{out}");
    let origin = std::fs::read_to_string(keys.join("c1-f1.origin")).unwrap();
    assert!(origin.contains("public seed 5"), "{origin}");

    let input = BatchInput::empty(
        BatchShape::new(1, 1),
        Domain {
            chain_id: 31337,
            contract: Address::repeat_byte(0xcc),
        },
    );
    let job_path = dir.path().join("batch-9.job");
    std::fs::write(
        &job_path,
        encode_job(&Job {
            id: 9,
            input: input.clone(),
        }),
    )
    .unwrap();

    // Without --dev, a development key is refused.
    let o = causeway(&["prove", "--job", path(&job_path), "--keys", path(&keys)]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("development key"),
        "{}",
        text(&o.stderr)
    );

    let o = causeway(&[
        "prove",
        "--job",
        path(&job_path),
        "--keys",
        path(&keys),
        "--dev",
    ]);
    let out = text(&o.stdout);
    assert!(o.status.success(), "prove: {}", text(&o.stderr));
    let commitment = format!("0x{}", hex::encode(fr_to_be_bytes(&input.commitment())));
    assert!(out.contains(&format!("commitment: {commitment}")), "{out}");
    assert!(text(&o.stderr).contains("NOT FOR PRODUCTION"));

    let record = ProofRecord::decode(&std::fs::read(dir.path().join("batch-9.proof")).unwrap())
        .expect("a proof record");
    assert_eq!(record.id, 9);
    assert_eq!(record.commitment, input.commitment());
    let vk: VerifyingKey =
        groth16::key_from_bytes(&std::fs::read(keys.join("c1-f1.vk")).unwrap(), false).unwrap();
    assert!(groth16::verify(&vk, record.commitment, &record.proof).unwrap());
    // The proof is of this commitment only.
    let other = causeway_primitives::Fr::from(1u64) + record.commitment;
    assert!(!groth16::verify(&vk, other, &record.proof).unwrap());
}

#[test]
fn malformed_jobs_and_shapes_are_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let job = dir.path().join("bad.job");
    std::fs::write(&job, b"CWJB\0\x01\0").unwrap();
    let keys = dir.path().to_str().unwrap();
    let o = causeway(&["prove", "--job", path(&job), "--keys", keys, "--dev"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("not a job: truncated"),
        "{}",
        text(&o.stderr)
    );
    let o = causeway(&["setup", "--chunks", "0", "--fee-slots", "1", "--keys", keys]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(!text(&o.stderr).contains("panicked"));
}
