//! A tiny test circuit with one or two public inputs, and a seeded Groth16 proof of it, for
//! the export tests (Solidity verifier on anvil, snarkjs).

#![allow(dead_code)]

use ark_bn254::{Bn254, Fr};
use ark_groth16::{Groth16, Proof, ProvingKey, prepare_verifying_key};
use ark_r1cs_std::alloc::AllocVar;
use ark_r1cs_std::eq::EqGadget;
use ark_r1cs_std::fields::FieldVar;
use ark_r1cs_std::fields::fp::FpVar;
use ark_relations::r1cs::{ConstraintSynthesizer, ConstraintSystemRef, SynthesisError};
use ark_std::rand::{SeedableRng, rngs::StdRng};

/// Knowledge of `x != 0` and `y` with `x·y = z`, `z` public; with `two_inputs`, also
/// `x² + y = w`, `w` public.
#[derive(Clone)]
pub struct Product {
    x: Option<Fr>,
    y: Option<Fr>,
    two_inputs: bool,
}

impl Product {
    pub fn new(x: u64, y: u64, two_inputs: bool) -> Self {
        Product {
            x: Some(Fr::from(x)),
            y: Some(Fr::from(y)),
            two_inputs,
        }
    }

    pub fn public_inputs(&self) -> Vec<Fr> {
        let (x, y) = (self.x.unwrap(), self.y.unwrap());
        let mut inputs = vec![x * y];
        if self.two_inputs {
            inputs.push(x * x + y);
        }
        inputs
    }
}

impl ConstraintSynthesizer<Fr> for Product {
    fn generate_constraints(self, cs: ConstraintSystemRef<Fr>) -> Result<(), SynthesisError> {
        let missing = || SynthesisError::AssignmentMissing;
        let x = FpVar::new_witness(cs.clone(), || self.x.ok_or_else(missing))?;
        let y = FpVar::new_witness(cs.clone(), || self.y.ok_or_else(missing))?;
        let z = FpVar::new_input(cs.clone(), || {
            Ok(self.x.ok_or_else(missing)? * self.y.ok_or_else(missing)?)
        })?;
        (&x * &y).enforce_equal(&z)?;
        x.enforce_not_equal(&FpVar::zero())?;
        if self.two_inputs {
            let w = FpVar::new_input(cs, || {
                let (x, y) = (self.x.ok_or_else(missing)?, self.y.ok_or_else(missing)?);
                Ok(x * x + y)
            })?;
            (x.square()? + &y).enforce_equal(&w)?;
        }
        Ok(())
    }
}

/// A seeded setup and a proof of `x = 3, y = 5`, checked by arkworks' own verifier.
pub fn setup_and_prove(two_inputs: bool) -> (ProvingKey<Bn254>, Proof<Bn254>, Vec<Fr>) {
    let mut rng = StdRng::seed_from_u64(0xC0FFEE + u64::from(two_inputs));
    let circuit = Product::new(3, 5, two_inputs);
    let pk = Groth16::<Bn254>::generate_random_parameters_with_reduction(
        Product {
            x: None,
            y: None,
            two_inputs,
        },
        &mut rng,
    )
    .unwrap();
    let inputs = circuit.public_inputs();
    let proof =
        Groth16::<Bn254>::create_random_proof_with_reduction(circuit, &pk, &mut rng).unwrap();
    let pvk = prepare_verifying_key(&pk.vk);
    assert!(Groth16::<Bn254>::verify_proof(&pvk, &proof, &inputs).unwrap());
    (pk, proof, inputs)
}
