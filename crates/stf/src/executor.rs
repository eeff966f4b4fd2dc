//! Executing ops: authorization, resolution to executed form, then the shared effects.
//!
//! [`Executor`] runs a block op by op (what a sequencer does: each op is accepted or refused on
//! its own, and a refused op leaves the block as it was). [`apply_block`] runs a sealed block
//! all-or-nothing (what a validating node does). Both end in [`Executor::seal`], which credits
//! the collected fees and computes the new root and the [`StateDiff`].
//!
//! L2 signatures do not depend on the state (the signing key travels with the signature and is
//! only then compared with the account's key), so a block's signatures are checked in parallel
//! up front by [`verify_signatures`](crate::verify_signatures) and the sequential pass only
//! compares keys.

use crate::effects::{Addresses, Layered, Pending};
use crate::error::{BlockError, OpError};
use crate::seal::{self, Closed, Sealed};
use crate::signers::verify_signatures;
use crate::state::StateView;
use crate::witness::{WitnessBuilder, touched};
use causeway_crypto::eddsa::verify_tx_signature;
use causeway_crypto::poseidon;
use causeway_primitives::pubdata::{AuthKind, PubdataOp};
use causeway_primitives::{
    AccountId, Address, Balance, ChangePubKey, ChangePubKeyAuth, Deposit, Domain, FullExit, Nonce,
    Op, PackedAmount, PackedFee, PackedPoint, TokenId, Transfer, TxSignature, Withdraw,
    change_pubkey_eth_message, eth_signed_message_hash,
};
use std::collections::BTreeSet;

/// What a block is executed against, besides the state.
#[derive(Debug, Clone)]
pub struct BlockContext {
    pub domain: Domain,
    /// Receives every fee collected in the block, when the block is sealed.
    pub fee_account: AccountId,
    /// Tokens `0..token_count` are listed on L1; others are refused.
    pub token_count: u16,
    /// ChangePubKey authorizations registered on L1 (owner, key, nonce), as the node observed
    /// them. The L1 contract checks them again when the batch is committed.
    pub onchain_auths: BTreeSet<(Address, PackedPoint, Nonce)>,
    /// At most this many tokens may collect fees in one block: the batch circuit credits the
    /// fee account through a fixed number of fee slots. An op that would open one more is
    /// refused for this block ([`OpError::FeeTokensFull`]) and fits in the next.
    pub max_fee_tokens: usize,
}

/// Whether a witness for a prover or a fraud proof is recorded while executing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WitnessMode {
    Skip,
    Record,
}

/// The result of one accepted op.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// The op as executed (ids resolved): what goes into pubdata.
    pub executed: PubdataOp,
    /// The account the op created, if any.
    pub created: Option<AccountId>,
}

/// Outcome of an L2 op's signature check, computed ahead of execution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureCheck {
    /// Checked and valid for the key in the op's signature.
    Valid,
    /// Not checked yet: the executor checks it.
    Unchecked,
}

/// An open block off its view ([`Executor::pause`]).
#[derive(Debug)]
pub struct Paused {
    pending: Pending,
    receipts: Vec<Receipt>,
    base_count: u32,
}

pub struct Executor<'a, V: StateView> {
    ctx: &'a BlockContext,
    state: Layered<'a, V>,
    receipts: Vec<Receipt>,
    witness: Option<WitnessBuilder<'a, V>>,
    /// Accounts in the state the block runs on (its prior applied).
    base_count: u32,
}

impl<'a, V: StateView> Executor<'a, V> {
    pub fn new(view: &'a V, ctx: &'a BlockContext, mode: WitnessMode) -> Self {
        let witness = (mode == WitnessMode::Record).then(|| WitnessBuilder::new(view));
        Self {
            ctx,
            state: Layered::new(view),
            receipts: Vec::new(),
            witness,
            base_count: view.account_count(),
        }
    }

    /// Runs a block after `prior`, a closed block whose changes are not in `view` yet: ops see
    /// the state as `prior` left it. Such a block is [`close`](Self::close)d (or paused and
    /// resumed over `view` once `prior` is applied to it), then sealed over the state with
    /// `prior` applied. `view` must be the state `prior` ran on; refused with
    /// [`BlockError::WrongBase`] when it visibly is not.
    pub fn after(
        view: &'a V,
        prior: &'a Closed,
        ctx: &'a BlockContext,
    ) -> Result<Self, BlockError> {
        prior.check_base(view)?;
        let state = Layered::after(view, prior.pending());
        Ok(Self {
            ctx,
            base_count: state.pending.account_count,
            state,
            receipts: Vec::new(),
            witness: None,
        })
    }

    /// Executes one op. On error the block is exactly as before the call.
    pub fn apply(&mut self, op: &Op, sig: SignatureCheck) -> Result<&Receipt, OpError> {
        let (executed, created) = self.resolve(op, sig)?;
        let slots = self
            .witness
            .as_ref()
            .map(|_| touched(&executed))
            .unwrap_or_default();
        self.check_fee_slot(&executed)?;
        let before = self.state.snapshot(&slots);
        self.state.apply_effects(&executed)?;
        if let Some(w) = &mut self.witness {
            let signature = match op {
                Op::Transfer(t) => Some(t.signature),
                Op::Withdraw(w) => Some(w.signature),
                _ => None,
            };
            w.record_op(&executed, signature, &before, &self.state.snapshot(&slots));
        }
        self.receipts.push(Receipt { executed, created });
        Ok(self.receipts.last().expect("just pushed"))
    }

    /// Refuses an op whose fee would make one token more than `max_fee_tokens` collect fees.
    fn check_fee_slot(&self, op: &PubdataOp) -> Result<(), OpError> {
        let Some((token, fee)) = op.fee() else {
            return Ok(());
        };
        let collected = &self.state.pending.collected_fees;
        let open = collected.values().filter(|f| **f > 0).count();
        let already = collected.get(&token).is_some_and(|f| *f > 0);
        if fee > 0 && !already && open >= self.ctx.max_fee_tokens {
            return Err(OpError::FeeTokensFull {
                limit: self.ctx.max_fee_tokens,
            });
        }
        Ok(())
    }

    pub fn receipts(&self) -> &[Receipt] {
        &self.receipts
    }

    /// An account as of the ops accepted so far (the sequencer's soft state).
    pub fn account(&self, id: AccountId) -> Option<crate::AccountState> {
        self.state.account(id)
    }

    /// The id of the account with `address`, including accounts this block created.
    pub fn account_id(&self, address: &Address) -> Option<AccountId> {
        self.state.account_id(address)
    }

    /// A balance as of the ops accepted so far.
    pub fn balance(&self, id: AccountId, token: TokenId) -> Balance {
        self.state.balance(id, token)
    }

    /// Accounts that exist once the ops accepted so far are applied.
    pub fn account_count(&self) -> u32 {
        self.state.pending.account_count
    }

    /// Takes the open block off the view it runs over, keeping its ops' changes, to be
    /// [`resume`](Self::resume)d over the same state in another form: a block run
    /// [`after`](Self::after) a closed block moves onto the state once that block is applied.
    pub fn pause(self) -> Paused {
        assert!(
            self.witness.is_none(),
            "a block recording a witness runs over one view to the end"
        );
        Paused {
            pending: self.state.pending,
            receipts: self.receipts,
            base_count: self.base_count,
        }
    }

    /// Goes on with a paused block over `view`, which must be the state the block was running
    /// over (the view it was paused from, with its prior applied). Refused with
    /// [`BlockError::WrongBase`] when `view` visibly is not that state.
    pub fn resume(view: &'a V, paused: Paused, ctx: &'a BlockContext) -> Result<Self, BlockError> {
        if view.account_count() != paused.base_count {
            return Err(BlockError::WrongBase {
                expected: paused.base_count,
                found: view.account_count(),
            });
        }
        Ok(Self {
            ctx,
            state: Layered::resume(view, None, paused.pending, Addresses::Unique),
            receipts: paused.receipts,
            witness: None,
            base_count: paused.base_count,
        })
    }

    /// Credits collected fees and hands the block over, to be sealed elsewhere
    /// ([`Closed::seal`]). Only for a block that records no witness (a witness is checked
    /// against the seal, so such a block is sealed with [`seal`](Self::seal)).
    pub fn close(self) -> Result<Closed, BlockError> {
        assert!(
            self.witness.is_none(),
            "a block recording a witness is sealed, not closed"
        );
        seal::close(
            self.state,
            self.ctx.fee_account,
            self.receipts,
            self.base_count,
        )
    }

    /// Credits collected fees and commits to the new state.
    pub fn seal(self) -> Result<Sealed, BlockError> {
        seal::seal(
            self.state,
            self.ctx.fee_account,
            self.receipts,
            self.witness,
        )
    }

    /// Checks an op's authorization against the state and turns it into its executed form.
    fn resolve(
        &self,
        op: &Op,
        sig: SignatureCheck,
    ) -> Result<(PubdataOp, Option<AccountId>), OpError> {
        match op {
            Op::Noop => Ok((PubdataOp::Noop, None)),
            Op::Deposit(d) => self.resolve_deposit(d),
            Op::FullExit(e) => Ok((self.resolve_full_exit(e), None)),
            Op::Transfer(t) => self.resolve_transfer(t, sig),
            Op::Withdraw(w) => self.resolve_withdraw(w, sig),
            Op::ChangePubKey(c) => self.resolve_change_pubkey(c),
        }
    }

    fn listed(&self, token: TokenId) -> Result<(), OpError> {
        if token.get() >= self.ctx.token_count {
            return Err(OpError::UnknownToken(token));
        }
        Ok(())
    }

    /// Common checks of a signed L2 op: signature, signer, nonce.
    fn authorize(
        &self,
        from: AccountId,
        nonce: Nonce,
        signature: &TxSignature,
        fields: impl FnOnce() -> [causeway_primitives::Fr; 4],
        sig: SignatureCheck,
    ) -> Result<(), OpError> {
        let account = self
            .state
            .account(from)
            .ok_or(OpError::AccountNotFound(from))?;
        let registered = account.pubkey.ok_or(OpError::NoPubKey(from))?;
        if sig == SignatureCheck::Unchecked {
            verify_tx_signature(signature, poseidon::hash4(&fields()))?;
        }
        // Packing the registered key is cheap; unpacking the signature's would cost a root.
        if registered.packed() != signature.pubkey {
            return Err(OpError::WrongSigner(from));
        }
        if account.nonce != nonce {
            return Err(OpError::WrongNonce {
                account: from,
                expected: account.nonce,
                got: nonce,
            });
        }
        Ok(())
    }

    fn resolve_deposit(&self, d: &Deposit) -> Result<(PubdataOp, Option<AccountId>), OpError> {
        self.listed(d.token)?;
        let (account, created) = match self.state.account_id(&d.to) {
            Some(id) => (id, None),
            None => {
                let id = self.state.next_id()?;
                (id, Some(id))
            }
        };
        let executed = PubdataOp::Deposit {
            account,
            token: d.token,
            amount: d.amount,
            address: d.to,
        };
        Ok((executed, created))
    }

    /// A full exit never fails: an invalid request exits nothing, but is still processed so
    /// that the L1 priority queue advances.
    fn resolve_full_exit(&self, e: &FullExit) -> PubdataOp {
        let owned = self
            .state
            .account(e.account)
            .is_some_and(|a| a.address == e.owner);
        let listed = e.token.get() < self.ctx.token_count;
        let amount = if owned && listed {
            self.state.balance(e.account, e.token)
        } else {
            0
        };
        PubdataOp::FullExit {
            account: e.account,
            token: e.token,
            amount,
            owner: e.owner,
        }
    }

    fn resolve_transfer(
        &self,
        t: &Transfer,
        sig: SignatureCheck,
    ) -> Result<(PubdataOp, Option<AccountId>), OpError> {
        self.listed(t.token)?;
        let amount = PackedAmount::pack(t.amount)?;
        let fee = PackedFee::pack(t.fee)?;
        if t.to == Address::ZERO {
            return Err(OpError::ZeroRecipient);
        }
        self.authorize(
            t.from,
            t.nonce,
            &t.signature,
            || t.signing_fields(&self.ctx.domain),
            sig,
        )?;
        Ok(match self.state.account_id(&t.to) {
            Some(to) => (
                PubdataOp::Transfer {
                    from: t.from,
                    to,
                    token: t.token,
                    amount,
                    fee,
                },
                None,
            ),
            None => {
                let to = self.state.next_id()?;
                let op = PubdataOp::TransferToNew {
                    from: t.from,
                    to,
                    token: t.token,
                    amount,
                    fee,
                    to_address: t.to,
                };
                (op, Some(to))
            }
        })
    }

    fn resolve_withdraw(
        &self,
        w: &Withdraw,
        sig: SignatureCheck,
    ) -> Result<(PubdataOp, Option<AccountId>), OpError> {
        // Amounts above MAX_BALANCE are refused by the shared effects, as in replay.
        self.listed(w.token)?;
        let fee = PackedFee::pack(w.fee)?;
        if w.to == Address::ZERO {
            return Err(OpError::ZeroRecipient);
        }
        self.authorize(
            w.from,
            w.nonce,
            &w.signature,
            || w.signing_fields(&self.ctx.domain),
            sig,
        )?;
        let op = PubdataOp::Withdraw {
            from: w.from,
            token: w.token,
            amount: w.amount,
            fee,
            to: w.to,
        };
        Ok((op, None))
    }

    fn resolve_change_pubkey(
        &self,
        c: &ChangePubKey,
    ) -> Result<(PubdataOp, Option<AccountId>), OpError> {
        self.listed(c.fee_token)?;
        let fee = PackedFee::pack(c.fee)?;
        let account = self
            .state
            .account(c.account)
            .ok_or(OpError::AccountNotFound(c.account))?;
        if account.nonce != c.nonce {
            return Err(OpError::WrongNonce {
                account: c.account,
                expected: account.nonce,
                got: c.nonce,
            });
        }
        let auth = match &c.auth {
            ChangePubKeyAuth::EthSignature(sig) => {
                let message = change_pubkey_eth_message(&self.ctx.domain, c);
                if recover_signer(sig, &eth_signed_message_hash(&message)) != Some(account.address)
                {
                    return Err(OpError::BadEthSignature);
                }
                AuthKind::EthSignature
            }
            ChangePubKeyAuth::Onchain => {
                if !self
                    .ctx
                    .onchain_auths
                    .contains(&(account.address, c.new_pubkey, c.nonce))
                {
                    return Err(OpError::NoOnchainAuth);
                }
                AuthKind::Onchain
            }
        };
        let op = PubdataOp::ChangePubKey {
            account: c.account,
            auth,
            pubkey: c.new_pubkey,
            nonce: c.nonce,
            fee_token: c.fee_token,
            fee,
            address: account.address,
        };
        Ok((op, None))
    }
}

/// The address whose key made a 65-byte `r ‖ s ‖ v` signature of `hash`, if any.
fn recover_signer(sig: &[u8; 65], hash: &alloy_primitives::B256) -> Option<Address> {
    let signature = alloy_primitives::Signature::try_from(&sig[..]).ok()?;
    signature.recover_address_from_prehash(hash).ok()
}

/// Executes a sealed block all-or-nothing: the first invalid op rejects the whole block.
pub fn apply_block<V: StateView>(
    view: &V,
    ctx: &BlockContext,
    ops: &[Op],
    mode: WitnessMode,
) -> Result<Sealed, BlockError> {
    let checks = verify_signatures(ops, &ctx.domain, view);
    let mut exec = Executor::new(view, ctx, mode);
    for (index, (op, check)) in ops.iter().zip(checks).enumerate() {
        check.map_err(|error| BlockError::InvalidOp { index, error })?;
        exec.apply(op, SignatureCheck::Valid)
            .map_err(|error| BlockError::InvalidOp { index, error })?;
    }
    exec.seal()
}
