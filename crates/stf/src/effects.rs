//! The effect of each executed op on the state: the single place balances, nonces and keys
//! change.
//!
//! Effects are expressed on [`PubdataOp`]s, the executed form of ops, so a node executing
//! signed ops and a tool replaying L1 pubdata run the very same code. An effect either fully
//! applies or returns an error having changed nothing: every check runs before the first write.
//! Fees are not credited here: they accumulate in [`Pending::collected_fees`] and reach the fee
//! account when the block is sealed.

use crate::error::OpError;
use crate::state::{AccountState, PubKey, StateView};
use causeway_primitives::pubdata::PubdataOp;
use causeway_primitives::{AccountId, Address, Balance, MAX_BALANCE, TokenId, checked_add};
use std::collections::{BTreeMap, HashMap};

/// The nonce after a signed op; an account whose nonce would wrap can sign nothing more,
/// since a wrapped nonce would make its old signatures valid again.
fn bump(nonce: u32, account: AccountId) -> Result<u32, OpError> {
    nonce.checked_add(1).ok_or(OpError::NonceExhausted(account))
}

/// Values of touched accounts at one moment: `(id, account if it exists, (token, balance))`.
pub type Snapshot = Vec<(AccountId, Option<AccountState>, Option<(TokenId, Balance)>)>;

/// Changes made by a block so far, layered over the state the block started from.
#[derive(Debug, Default, Clone)]
pub struct Pending {
    pub accounts: HashMap<AccountId, AccountState>,
    pub balances: HashMap<(AccountId, TokenId), Balance>,
    pub account_count: u32,
    /// Addresses of the accounts this block created (the base cannot know them).
    pub created: HashMap<Address, AccountId>,
    pub collected_fees: BTreeMap<TokenId, Balance>,
}

/// Whether creating an account for an address that already has one is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Addresses {
    /// One account per address ([`OpError::AddressTaken`]): what the executor promises its
    /// users, so that a deposit or transfer to an address always reaches the same account.
    Unique,
    /// What the batch circuit enforces, and therefore what L1 may finalize: the circuit
    /// cannot see whether an address has another account (leaves are indexed by id), so a
    /// hostile or buggy operator can create a second account for an address, prove and
    /// execute it. Replaying L1 data must accept it, or the exit tool would stop at that
    /// batch and nobody could leave (docs/circuit.md, "Where the circuit is looser").
    AsProven,
}

/// The state as seen through a block's pending changes.
pub struct Layered<'a, V: StateView> {
    pub base: &'a V,
    /// The changes of a closed block that are not in `base` yet (a pipelined sequencer fills
    /// the next block while the last one is being committed). Reads see them; the tree nodes
    /// of `base` do not, so a view with a prior is never sealed.
    pub prior: Option<&'a Pending>,
    pub pending: Pending,
    addresses: Addresses,
}

impl<'a, V: StateView> Layered<'a, V> {
    /// The executor's view: one account per address.
    pub fn new(base: &'a V) -> Self {
        Self::with_addresses(base, Addresses::Unique)
    }

    pub fn with_addresses(base: &'a V, addresses: Addresses) -> Self {
        let pending = Pending {
            account_count: base.account_count(),
            ..Pending::default()
        };
        Self::resume(base, None, pending, addresses)
    }

    /// One account per address, over `base` with `prior`'s changes applied.
    pub fn after(base: &'a V, prior: &'a Pending) -> Self {
        let pending = Pending {
            account_count: prior.account_count,
            ..Pending::default()
        };
        Self::resume(base, Some(prior), pending, Addresses::Unique)
    }

    /// A view over changes made earlier (the pending changes of a closed block, to seal them).
    pub(crate) fn resume(
        base: &'a V,
        prior: Option<&'a Pending>,
        pending: Pending,
        addresses: Addresses,
    ) -> Self {
        Self {
            base,
            prior,
            pending,
            addresses,
        }
    }

    pub fn account(&self, id: AccountId) -> Option<AccountState> {
        self.pending
            .accounts
            .get(&id)
            .or_else(|| self.prior.and_then(|p| p.accounts.get(&id)))
            .cloned()
            .or_else(|| self.base.account(id))
    }

    pub fn account_id(&self, address: &Address) -> Option<AccountId> {
        self.base
            .account_id(address)
            .or_else(|| self.prior.and_then(|p| p.created.get(address).copied()))
            .or_else(|| self.pending.created.get(address).copied())
    }

    pub fn balance(&self, id: AccountId, token: TokenId) -> Balance {
        let key = (id, token);
        match self.pending.balances.get(&key) {
            Some(b) => *b,
            None => match self.prior.and_then(|p| p.balances.get(&key)) {
                Some(b) => *b,
                None => self.base.balance(id, token),
            },
        }
    }

    fn existing(&self, id: AccountId) -> Result<AccountState, OpError> {
        self.account(id).ok_or(OpError::AccountNotFound(id))
    }

    /// Next free id, if the tree has room.
    pub fn next_id(&self) -> Result<AccountId, OpError> {
        AccountId::new(self.pending.account_count).map_err(|_| OpError::AccountTreeFull)
    }

    fn debit(&self, id: AccountId, token: TokenId, needed: Balance) -> Result<Balance, OpError> {
        let balance = self.balance(id, token);
        balance
            .checked_sub(needed)
            .ok_or(OpError::InsufficientBalance {
                account: id,
                token,
                balance,
                needed,
            })
    }

    fn credit(&self, id: AccountId, token: TokenId, amount: Balance) -> Result<Balance, OpError> {
        checked_add(self.balance(id, token), amount)
            .ok_or(OpError::BalanceOverflow { account: id, token })
    }

    fn collect(&self, token: TokenId, fee: Balance) -> Result<Balance, OpError> {
        let so_far = self
            .pending
            .collected_fees
            .get(&token)
            .copied()
            .unwrap_or(0);
        // Bounded by MAX_BALANCE; whether the fee account can absorb it is checked at sealing.
        checked_add(so_far, fee).ok_or(OpError::AmountTooLarge(so_far.saturating_add(fee)))
    }

    /// Applies one executed op. On error nothing has changed.
    pub fn apply_effects(&mut self, op: &PubdataOp) -> Result<(), OpError> {
        match op {
            PubdataOp::Noop => Ok(()),
            PubdataOp::Transfer {
                from,
                to,
                token,
                amount,
                fee,
            } => self.transfer(*from, *to, *token, amount.value(), fee.value(), None),
            PubdataOp::TransferToNew {
                from,
                to,
                token,
                amount,
                fee,
                to_address,
            } => self.transfer(
                *from,
                *to,
                *token,
                amount.value(),
                fee.value(),
                Some(*to_address),
            ),
            PubdataOp::Withdraw {
                from,
                token,
                amount,
                fee,
                to: _,
            } => {
                let fee = fee.value();
                let mut sender = self.existing(*from)?;
                let total = checked_add(*amount, fee).ok_or(OpError::AmountTooLarge(*amount))?;
                let left = self.debit(*from, *token, total)?;
                let fees = self.collect(*token, fee)?;
                sender.nonce = bump(sender.nonce, *from)?;
                self.pending.balances.insert((*from, *token), left);
                self.pending.accounts.insert(*from, sender);
                self.pending.collected_fees.insert(*token, fees);
                Ok(())
            }
            PubdataOp::Deposit {
                account,
                token,
                amount,
                address,
            } => {
                if *amount > MAX_BALANCE {
                    return Err(OpError::AmountTooLarge(*amount));
                }
                let created = self.resolve_or_create(*account, *address)?;
                let balance = self.credit(*account, *token, *amount)?;
                if let Some(state) = created {
                    self.create(*account, state);
                }
                self.pending.balances.insert((*account, *token), balance);
                Ok(())
            }
            PubdataOp::FullExit {
                account,
                token,
                amount,
                owner,
            } => {
                if *amount == 0 {
                    return Ok(());
                }
                let state = self.existing(*account)?;
                if state.address != *owner {
                    return Err(OpError::AddressMismatch {
                        account: *account,
                        claimed: *owner,
                        actual: state.address,
                    });
                }
                let balance = self.balance(*account, *token);
                if balance != *amount {
                    return Err(OpError::WrongExitAmount {
                        account: *account,
                        claimed: *amount,
                        balance,
                    });
                }
                self.pending.balances.insert((*account, *token), 0);
                Ok(())
            }
            PubdataOp::ChangePubKey {
                account,
                auth: _,
                pubkey,
                nonce,
                fee_token,
                fee,
                address,
            } => {
                let mut state = self.existing(*account)?;
                if state.address != *address {
                    return Err(OpError::AddressMismatch {
                        account: *account,
                        claimed: *address,
                        actual: state.address,
                    });
                }
                if state.nonce != *nonce {
                    return Err(OpError::WrongNonce {
                        account: *account,
                        expected: state.nonce,
                        got: *nonce,
                    });
                }
                let point = causeway_crypto::babyjubjub::Point::unpack(pubkey)
                    .filter(|p| p.is_in_subgroup())
                    .ok_or(OpError::BadPubKey)?;
                let fee = fee.value();
                let left = self.debit(*account, *fee_token, fee)?;
                let fees = self.collect(*fee_token, fee)?;
                state.pubkey = Some(PubKey {
                    x: point.x,
                    y: point.y,
                });
                state.nonce = bump(state.nonce, *account)?;
                self.pending.balances.insert((*account, *fee_token), left);
                self.pending.accounts.insert(*account, state);
                self.pending.collected_fees.insert(*fee_token, fees);
                Ok(())
            }
        }
    }

    fn create(&mut self, id: AccountId, state: AccountState) {
        self.pending.created.insert(state.address, id);
        self.pending.accounts.insert(id, state);
        self.pending.account_count += 1;
    }

    /// For an op that names `id` for `address`: `Some(new account)` when `id` is the next free
    /// id and `address` has no account yet, `None` when `id` is `address`'s existing account.
    fn resolve_or_create(
        &self,
        id: AccountId,
        address: Address,
    ) -> Result<Option<AccountState>, OpError> {
        if id.get() == self.pending.account_count {
            if self.addresses == Addresses::Unique && self.account_id(&address).is_some() {
                return Err(OpError::AddressTaken(address));
            }
            if address == Address::ZERO {
                return Err(OpError::ZeroRecipient);
            }
            return Ok(Some(AccountState::new(address)));
        }
        let state = self.existing(id)?;
        if state.address != address {
            return Err(OpError::AddressMismatch {
                account: id,
                claimed: address,
                actual: state.address,
            });
        }
        Ok(None)
    }

    fn transfer(
        &mut self,
        from: AccountId,
        to: AccountId,
        token: TokenId,
        amount: Balance,
        fee: Balance,
        new_address: Option<Address>,
    ) -> Result<(), OpError> {
        let mut sender = self.existing(from)?;
        let created = match new_address {
            Some(address) => {
                let expected = self.pending.account_count;
                if to.get() != expected {
                    return Err(OpError::WrongNewAccountId {
                        expected,
                        got: to.get(),
                    });
                }
                self.resolve_or_create(to, address)?
            }
            None => {
                self.existing(to)?;
                None
            }
        };
        let total = checked_add(amount, fee).ok_or(OpError::AmountTooLarge(amount))?;
        let sender_left = self.debit(from, token, total)?;
        // Credit on top of the debited balance, so a self-transfer nets to paying the fee.
        let receiver_before = if to == from {
            sender_left
        } else {
            self.balance(to, token)
        };
        let receiver_after = checked_add(receiver_before, amount)
            .ok_or(OpError::BalanceOverflow { account: to, token })?;
        let fees = self.collect(token, fee)?;
        sender.nonce = bump(sender.nonce, from)?;

        self.pending.accounts.insert(from, sender);
        if let Some(state) = created {
            self.create(to, state);
        }
        self.pending.balances.insert((from, token), sender_left);
        self.pending.balances.insert((to, token), receiver_after);
        self.pending.collected_fees.insert(token, fees);
        Ok(())
    }
}
