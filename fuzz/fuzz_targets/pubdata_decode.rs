//! The pubdata decoder must never panic, and whatever it accepts must re-encode to the same
//! bytes (the encoding is canonical, so pubdata and executed ops are in one-to-one
//! correspondence).
//!
//! Run: `cargo +nightly fuzz run pubdata_decode` from the repository root.

#![no_main]

use causeway_primitives::pubdata::{decode, encode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(ops) = decode(data) {
        assert_eq!(encode(&ops), data);
    }
});
