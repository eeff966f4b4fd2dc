//! The circomlibjs reference vectors (`vectors/circomlibjs.json`, produced by `vectors/gen.js`)
//! that the tests of every module check against.

pub(crate) fn load() -> serde_json::Value {
    serde_json::from_str(include_str!("../vectors/circomlibjs.json")).expect("valid vectors JSON")
}
