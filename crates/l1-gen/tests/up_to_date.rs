//! The committed generated files must equal what the generator writes now, so they cannot go
//! stale when the Poseidon parameters or the generator change.

use causeway_l1_gen::generated_files;
use std::path::Path;

#[test]
fn committed_contracts_match_the_generator() {
    let contracts = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../contracts");
    let mut stale = Vec::new();
    for file in generated_files() {
        let path = contracts.join(file.path);
        match std::fs::read_to_string(&path) {
            Ok(committed) if committed == file.contents => {}
            Ok(_) => stale.push(format!("{} differs", file.path)),
            Err(e) => stale.push(format!("{}: {e}", file.path)),
        }
    }
    assert!(
        stale.is_empty(),
        "generated contracts are stale ({}); run `cargo run -p causeway-l1-gen -- write contracts`",
        stale.join(", ")
    );
}
