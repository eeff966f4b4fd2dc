//! Poseidon and EdDSA-Poseidon over Baby Jubjub (placeholder API; being implemented).
pub mod poseidon {
    use causeway_primitives::Fr;
    /// circomlib Poseidon of 1..=16 inputs.
    pub fn hash(inputs: &[Fr]) -> Fr {
        let _ = inputs;
        unimplemented!("circomlib Poseidon")
    }
    /// circomlib Poseidon of exactly 4 inputs (width 5): the tree node hash.
    pub fn hash4(inputs: &[Fr; 4]) -> Fr {
        hash(inputs)
    }
}
