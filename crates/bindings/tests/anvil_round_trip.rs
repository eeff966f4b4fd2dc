//! The bindings work against a real EVM: deploy `BatchVerifier` from its committed artifact on a
//! fresh anvil with the first dev key, read a constant, and have it reject an all-zero proof.
//! (The end-to-end test with a real batch proof lives elsewhere.)
//!
//! Needs the npm toolchain at the workspace root (`npm install`: anvil); without it the test
//! fails rather than skips.

use alloy::primitives::U256;
use alloy::providers::{Provider, ProviderBuilder};
use alloy::signers::local::PrivateKeySigner;
use causeway_bindings::BatchVerifier;
use causeway_bindings::anvil::{Anvil, DEV_CHAIN_ID, DEV_KEY};

#[tokio::test]
async fn deploys_batch_verifier_and_calls_it() {
    let anvil = Anvil::spawn().unwrap_or_else(|e| panic!("{e}"));
    let signer: PrivateKeySigner = DEV_KEY.parse().unwrap();
    let provider = ProviderBuilder::new()
        .wallet(signer)
        .connect_http(anvil.endpoint_url());
    assert_eq!(provider.get_chain_id().await.unwrap(), DEV_CHAIN_ID);

    let verifier = BatchVerifier::deploy(&provider).await.unwrap();
    let code = provider.get_code_at(*verifier.address()).await.unwrap();
    assert_eq!(code, BatchVerifier::DEPLOYED_BYTECODE);

    assert_eq!(
        verifier.PUBLIC_INPUTS().call().await.unwrap(),
        U256::from(1)
    );
    let accepted = verifier
        .verifyProof([U256::ZERO; 8], vec![U256::ZERO])
        .call()
        .await
        .unwrap();
    assert!(!accepted, "an all-zero proof was accepted");
}
