//! Causeway's state-transition function: the one truth about what an op does.
//!
//! `apply(view, block) -> (receipts, diff, witness)`, pure and synchronous: no IO, no clock,
//! no randomness. The circuit, the L1 one-step verifier and the exit tool are all checked
//! against it.
//!
//! How an op runs:
//! 1. `executor`: authorization (signatures, signer, nonce, token listed, packable amounts)
//!    and resolution of the op into its executed form, a [`PubdataOp`];
//! 2. `effects`: the one place balances, nonces and keys change, driven by the executed op,
//!    so replaying pubdata (`replay`) runs the same code as executing signed ops;
//! 3. `seal`: fees credited to the fee account, the new root computed in one batch, and the
//!    [`StateDiff`] the caller commits;
//! 4. `witness` (when asked): each op's touched leaves before and after, with their paths.
//!
//! Invariants: a refused op changes nothing; the diff applied to the pre-state yields a state
//! whose recomputed root is `diff.new_root`; with a witness, its root chain ends at the same
//! root; and for every token, the sum of balances changes only by deposits, withdrawals and
//! full exits (fees move between accounts).

mod effects;
mod error;
mod executor;
mod replay;
mod seal;
mod signers;
mod state;
mod witness;

pub use causeway_primitives::pubdata::PubdataOp;
pub use error::{BlockError, OpError};
pub use executor::{
    BlockContext, Executor, Paused, Receipt, SignatureCheck, WitnessMode, apply_block,
};
pub use replay::replay;
pub use seal::{Closed, Sealed};
pub use signers::{SignerTables, verify_signatures};
pub use state::{
    AccountState, MemoryState, PubKey, StateDiff, StateView, build_state_nodes, fr_hex,
    recompute_root,
};
pub use witness::{AccountUpdate, BalanceUpdate, BlockWitness, OpWitness};
