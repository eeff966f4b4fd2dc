//! Byte encodings of the state tables (see the crate docs for the table of formats).
//!
//! Every decoder checks length, canonical form and range, and reports a reason string that
//! the caller turns into [`StorageError::Corrupt`](crate::StorageError::Corrupt).

use causeway_primitives::{Address, Balance, Fr, MAX_BALANCE, fr_from_be_bytes, fr_to_be_bytes};
use causeway_stf::{AccountState, PubKey};
use causeway_tree::{ACCOUNT_TREE_HEIGHT, ARITY, BALANCE_TREE_HEIGHT, NodeKey, TreeKey};

const NO_KEY: u8 = 0;
const HAS_KEY: u8 = 1;
const ACCOUNT_BASE_LEN: usize = 20 + 4 + 1;

pub(crate) fn encode_account(account: &AccountState) -> Vec<u8> {
    let mut out = Vec::with_capacity(ACCOUNT_BASE_LEN + 64);
    out.extend_from_slice(account.address.as_slice());
    out.extend_from_slice(&account.nonce.to_be_bytes());
    match account.pubkey {
        None => out.push(NO_KEY),
        Some(key) => {
            out.push(HAS_KEY);
            out.extend_from_slice(&fr_to_be_bytes(&key.x));
            out.extend_from_slice(&fr_to_be_bytes(&key.y));
        }
    }
    out
}

pub(crate) fn decode_account(bytes: &[u8]) -> Result<AccountState, String> {
    if bytes.len() < ACCOUNT_BASE_LEN {
        return Err(format!("account record of {} bytes", bytes.len()));
    }
    let address = Address::from_slice(&bytes[..20]);
    let nonce = u32::from_be_bytes(bytes[20..24].try_into().map_err(|_| "nonce")?);
    let pubkey = match (bytes[24], bytes.len()) {
        (NO_KEY, ACCOUNT_BASE_LEN) => None,
        (HAS_KEY, len) if len == ACCOUNT_BASE_LEN + 64 => Some(PubKey {
            x: decode_fr(&bytes[25..57])?,
            y: decode_fr(&bytes[57..89])?,
        }),
        (tag, len) => return Err(format!("account record: key tag {tag} with {len} bytes")),
    };
    Ok(AccountState {
        address,
        nonce,
        pubkey,
    })
}

pub(crate) fn decode_fr(bytes: &[u8]) -> Result<Fr, String> {
    let bytes: &[u8; 32] = bytes
        .try_into()
        .map_err(|_| format!("field element of {} bytes", bytes.len()))?;
    fr_from_be_bytes(bytes).ok_or_else(|| "non-canonical field element".to_string())
}

pub(crate) fn encode_balance(balance: Balance) -> [u8; 16] {
    balance.to_be_bytes()
}

pub(crate) fn decode_balance(bytes: &[u8; 16]) -> Result<Balance, String> {
    let balance = u128::from_be_bytes(*bytes);
    if balance == 0 {
        Err("zero balance stored (zero balances are deleted)".into())
    } else if balance > MAX_BALANCE {
        Err(format!("balance {balance} above the maximum {MAX_BALANCE}"))
    } else {
        Ok(balance)
    }
}

pub(crate) fn decode_u64(bytes: &[u8]) -> Result<u64, String> {
    Ok(u64::from_be_bytes(
        bytes
            .try_into()
            .map_err(|_| format!("u64 of {} bytes", bytes.len()))?,
    ))
}

pub(crate) fn decode_u32(bytes: &[u8]) -> Result<u32, String> {
    Ok(u32::from_be_bytes(
        bytes
            .try_into()
            .map_err(|_| format!("u32 of {} bytes", bytes.len()))?,
    ))
}

/// Checks that `key` names a node that can exist in a state with `account_count` accounts:
/// the account tree, or the balance tree of an existing account, at a height and index inside
/// that tree.
pub(crate) fn check_node_key(key: &NodeKey, account_count: u32) -> Result<(), String> {
    let height = match key.tree {
        TreeKey::Accounts => ACCOUNT_TREE_HEIGHT,
        TreeKey::Balances(id) if id < account_count => BALANCE_TREE_HEIGHT,
        TreeKey::Balances(id) => {
            return Err(format!(
                "balance tree of account {id}, but only {account_count} accounts exist"
            ));
        }
    };
    if key.height > height {
        return Err(format!(
            "height {} in a tree of height {height}",
            key.height
        ));
    }
    let width = (ARITY as u64).pow(u32::from(height - key.height));
    if key.index >= width {
        return Err(format!(
            "index {} at height {} beyond the row width {width}",
            key.index, key.height
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_round_trip_with_and_without_key() {
        let mut account = AccountState::new(Address::repeat_byte(0xab));
        account.nonce = 0x0102_0304;
        let plain = encode_account(&account);
        assert_eq!(plain.len(), 25);
        assert_eq!(decode_account(&plain), Ok(account.clone()));

        account.pubkey = Some(PubKey {
            x: Fr::from(7u64),
            y: Fr::from(9u64),
        });
        let keyed = encode_account(&account);
        assert_eq!(keyed.len(), 89);
        assert_eq!(decode_account(&keyed), Ok(account));
    }

    #[test]
    fn account_decoder_refuses_bad_bytes() {
        assert!(decode_account(&[]).is_err());
        assert!(decode_account(&[0u8; 24]).is_err());
        let mut bad_tag = [0u8; 25];
        bad_tag[24] = 2;
        assert!(decode_account(&bad_tag).is_err());
        let mut short_key = [0u8; 26];
        short_key[24] = HAS_KEY;
        assert!(decode_account(&short_key).is_err());
        let mut non_canonical = [0xffu8; 89];
        non_canonical[24] = HAS_KEY;
        assert!(decode_account(&non_canonical).is_err());
    }

    #[test]
    fn balance_decoder_refuses_zero_and_overflow() {
        assert_eq!(decode_balance(&encode_balance(5)), Ok(5));
        assert_eq!(
            decode_balance(&encode_balance(MAX_BALANCE)),
            Ok(MAX_BALANCE)
        );
        assert!(decode_balance(&encode_balance(0)).is_err());
        assert!(decode_balance(&encode_balance(MAX_BALANCE + 1)).is_err());
    }

    #[test]
    fn node_keys_are_range_checked() {
        let key = |tree, height, index| NodeKey {
            tree,
            height,
            index,
        };
        assert!(check_node_key(&key(TreeKey::Accounts, 12, 0), 0).is_ok());
        assert!(check_node_key(&key(TreeKey::Accounts, 12, 1), 0).is_err());
        assert!(check_node_key(&key(TreeKey::Accounts, 13, 0), 0).is_err());
        assert!(check_node_key(&key(TreeKey::Accounts, 0, (1 << 24) - 1), 0).is_ok());
        assert!(check_node_key(&key(TreeKey::Accounts, 0, 1 << 24), 0).is_err());
        assert!(check_node_key(&key(TreeKey::Balances(2), 0, 1023), 3).is_ok());
        assert!(check_node_key(&key(TreeKey::Balances(2), 0, 1024), 3).is_err());
        assert!(check_node_key(&key(TreeKey::Balances(3), 0, 0), 3).is_err());
    }
}
