//! The state an op reads and writes: accounts, balances, and the tree nodes that commit to them.
//!
//! An account is `(address, nonce, pubkey)` plus a balance per token. Its leaf in the account
//! tree is `Poseidon(address * 2^32 + nonce, pk_x, pk_y, balances_root)`, where an account with
//! no L2 key has `pk = (0, 0)` (not a curve point, so no key can collide with it) and
//! `balances_root` is the root of its own balance tree. An unused account slot is the leaf 0.
//!
//! [`StateView`] is what the stf reads; it never writes. Execution returns a [`StateDiff`] and
//! the owner of the state commits it ([`MemoryState::apply`], or the storage crate atomically).

use ark_ff::PrimeField;
use causeway_crypto::babyjubjub::Point;
use causeway_crypto::eddsa::PublicKey;
use causeway_crypto::poseidon;
use causeway_primitives::{AccountId, Address, Balance, Fr, Nonce, PackedPoint, TokenId};
use causeway_tree::{MemoryStore, NodeDiff, NodeKey, NodeStore, Poseidon, SparseMerkleTree};

/// The trees of the state, hashed with circomlib Poseidon.
pub(crate) type Tree = SparseMerkleTree<Poseidon>;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// An account's registered L2 key: the affine coordinates of a Baby Jubjub point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PubKey {
    #[serde(with = "fr_hex")]
    pub x: Fr,
    #[serde(with = "fr_hex")]
    pub y: Fr,
}

impl PubKey {
    /// circomlib's packed form, as signatures carry the key.
    pub fn packed(&self) -> PackedPoint {
        Point {
            x: self.x,
            y: self.y,
        }
        .pack()
    }

    pub fn to_public_key(&self) -> PublicKey {
        PublicKey(Point {
            x: self.x,
            y: self.y,
        })
    }
}

/// Everything about an account except its balances.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountState {
    pub address: Address,
    pub nonce: Nonce,
    pub pubkey: Option<PubKey>,
}

impl AccountState {
    pub fn new(address: Address) -> Self {
        Self {
            address,
            nonce: 0,
            pubkey: None,
        }
    }

    /// The account's leaf in the account tree, given the root of its balance tree.
    pub fn leaf_hash(&self, balances_root: Fr) -> Fr {
        poseidon::hash4(&self.leaf_inputs(balances_root))
    }

    /// What [`Self::leaf_hash`] hashes: `address * 2^32 + nonce`, the key (0, 0 without
    /// one), the balance root.
    pub fn leaf_inputs(&self, balances_root: Fr) -> [Fr; 4] {
        let (x, y) = self
            .pubkey
            .map_or((Fr::from(0u64), Fr::from(0u64)), |k| (k.x, k.y));
        [self.address_nonce_fr(), x, y, balances_root]
    }

    /// `address * 2^32 + nonce`: 192 bits, one field element.
    pub fn address_nonce_fr(&self) -> Fr {
        let mut bytes = [0u8; 24];
        bytes[..20].copy_from_slice(self.address.as_slice());
        bytes[20..].copy_from_slice(&self.nonce.to_be_bytes());
        Fr::from_be_bytes_mod_order(&bytes)
    }
}

/// Read access to a state. Implementations hold the state in memory, so reads cannot fail.
pub trait StateView: NodeStore + Sync {
    fn account(&self, id: AccountId) -> Option<AccountState>;
    fn account_id(&self, address: &Address) -> Option<AccountId>;
    fn balance(&self, id: AccountId, token: TokenId) -> Balance;
    /// Number of accounts ever created; the next new account gets this id.
    fn account_count(&self) -> u32;

    /// The state root: the root of the account tree.
    fn root(&self) -> Fr {
        Tree::accounts().root(self)
    }

    fn balances_root(&self, id: AccountId) -> Fr {
        Tree::balances(id.get()).root(self)
    }
}

/// What a block changed. Applying it to the state the block ran on gives the post-state.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StateDiff {
    /// New values of every account created or changed.
    pub accounts: BTreeMap<AccountId, AccountState>,
    /// New values of every balance changed.
    pub balances: BTreeMap<(AccountId, TokenId), Balance>,
    /// Tree node writes (account tree and balance trees).
    pub nodes: NodeDiff,
    /// Account count after the block.
    pub account_count: u32,
    pub old_root: Fr,
    pub new_root: Fr,
}

/// A whole state in memory: the unit tests' state, and the hot copy a durable store keeps.
#[derive(Debug, Clone, Default)]
pub struct MemoryState {
    accounts: Vec<AccountState>,
    by_address: HashMap<Address, AccountId>,
    balances: HashMap<(AccountId, TokenId), Balance>,
    nodes: MemoryStore,
}

impl MemoryState {
    pub fn new() -> Self {
        Self::default()
    }

    /// Commits a diff produced by executing a block on exactly this state.
    pub fn apply(&mut self, diff: &StateDiff) {
        for (id, account) in &diff.accounts {
            let i = id.get() as usize;
            if i == self.accounts.len() {
                self.accounts.push(account.clone());
            } else {
                self.accounts[i] = account.clone();
            }
            self.by_address.insert(account.address, *id);
        }
        debug_assert_eq!(self.accounts.len() as u32, diff.account_count);
        for (key, balance) in &diff.balances {
            if *balance == 0 {
                self.balances.remove(key);
            } else {
                self.balances.insert(*key, *balance);
            }
        }
        self.nodes.apply(&diff.nodes);
    }

    /// Reassembles a state from its persisted parts (the storage crate's load path).
    /// `accounts[i]` is account `i`; zero balances may be omitted.
    pub fn from_parts(
        accounts: Vec<AccountState>,
        balances: HashMap<(AccountId, TokenId), Balance>,
        nodes: MemoryStore,
    ) -> Self {
        let by_address = accounts
            .iter()
            .enumerate()
            .map(|(i, a)| {
                (
                    a.address,
                    AccountId::new(i as u32).expect("account ids stay in range"),
                )
            })
            .collect();
        let balances = balances.into_iter().filter(|(_, b)| *b != 0).collect();
        Self {
            accounts,
            by_address,
            balances,
            nodes,
        }
    }

    /// Every non-zero balance, for conservation checks and exports.
    pub fn balances(&self) -> impl Iterator<Item = ((AccountId, TokenId), Balance)> + '_ {
        self.balances.iter().map(|(k, v)| (*k, *v))
    }

    pub fn accounts(&self) -> impl Iterator<Item = (AccountId, &AccountState)> {
        self.accounts.iter().enumerate().map(|(i, a)| {
            (
                AccountId::new(i as u32).expect("account ids stay in range"),
                a,
            )
        })
    }
}

impl NodeStore for MemoryState {
    fn node(&self, key: &NodeKey) -> Option<Fr> {
        self.nodes.node(key)
    }
}

impl StateView for MemoryState {
    fn account(&self, id: AccountId) -> Option<AccountState> {
        self.accounts.get(id.get() as usize).cloned()
    }

    fn account_id(&self, address: &Address) -> Option<AccountId> {
        self.by_address.get(address).copied()
    }

    fn balance(&self, id: AccountId, token: TokenId) -> Balance {
        self.balances.get(&(id, token)).copied().unwrap_or(0)
    }

    fn account_count(&self) -> u32 {
        self.accounts.len() as u32
    }
}

/// Field elements as 0x-prefixed big-endian hex in serialized forms.
pub mod fr_hex {
    use causeway_primitives::{Fr, fr_from_be_bytes, fr_to_be_bytes};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(f: &Fr, s: S) -> Result<S::Ok, S::Error> {
        let bytes = fr_to_be_bytes(f);
        let mut out = String::with_capacity(66);
        out.push_str("0x");
        for b in bytes {
            out.push_str(&format!("{b:02x}"));
        }
        s.serialize_str(&out)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Fr, D::Error> {
        let s = String::deserialize(d)?;
        let hex = s.strip_prefix("0x").unwrap_or(&s);
        if hex.len() != 64 {
            return Err(serde::de::Error::custom("expected 32 bytes of hex"));
        }
        let mut bytes = [0u8; 32];
        for (i, b) in bytes.iter_mut().enumerate() {
            *b =
                u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(serde::de::Error::custom)?;
        }
        fr_from_be_bytes(&bytes).ok_or_else(|| serde::de::Error::custom("not a field element"))
    }
}

/// The state root recomputed from scratch out of accounts and balances alone, ignoring any
/// stored node: the check that a stored or replayed state is what it claims to be.
pub fn recompute_root<'a>(
    accounts: impl IntoIterator<Item = (AccountId, &'a AccountState)>,
    balances: impl IntoIterator<Item = ((AccountId, TokenId), Balance)>,
) -> Fr {
    build_state_nodes(accounts, balances).0
}

/// Every tree node of the state made of `accounts` and `balances`, built from nothing, with
/// the root. Balance trees are built in parallel, then the account tree in one batch.
pub fn build_state_nodes<'a>(
    accounts: impl IntoIterator<Item = (AccountId, &'a AccountState)>,
    balances: impl IntoIterator<Item = ((AccountId, TokenId), Balance)>,
) -> (Fr, NodeDiff) {
    use rayon::prelude::*;
    let empty = MemoryStore::new();
    let mut by_account: HashMap<AccountId, Vec<(u64, Fr)>> = HashMap::new();
    for ((id, token), balance) in balances {
        by_account
            .entry(id)
            .or_default()
            .push((u64::from(token.get()), Fr::from(balance)));
    }
    let accounts: Vec<(AccountId, &AccountState)> = accounts.into_iter().collect();
    let built: Vec<((u64, Fr), NodeDiff)> = accounts
        .into_par_iter()
        .map(|(id, account)| {
            let tree = Tree::balances(id.get());
            let (balances_root, nodes) = match by_account.get(&id) {
                Some(leaves) => tree
                    .update(&empty, leaves)
                    .expect("token ids fit the balance tree"),
                None => (tree.empty_root(), NodeDiff::new()),
            };
            (
                (u64::from(id.get()), account.leaf_hash(balances_root)),
                nodes,
            )
        })
        .collect();
    let leaves: Vec<(u64, Fr)> = built.iter().map(|(leaf, _)| *leaf).collect();
    let (root, mut nodes) = Tree::accounts()
        .update(&empty, &leaves)
        .expect("account ids fit");
    for (_, balance_nodes) in built {
        nodes.extend(balance_nodes);
    }
    (root, nodes)
}
