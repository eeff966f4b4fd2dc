//! Amounts as people write them (`0.5`, in a token's units) and as the rollup counts them (base
//! units, at most [`MAX_BALANCE`]).
//!
//! Parsing is exact: alloy's `parse_units` silently drops digits beyond the token's decimals,
//! which for money is a wrong amount, so the shape and the number of places are checked first.
//! Formatting drops trailing zeros (`0.5`, `1`), so what is printed parses back to the same
//! amount.

use super::WalletError;
use alloy::primitives::U256;
use alloy::primitives::utils::{ParseUnits, format_units, parse_units};
use causeway_primitives::{Balance, MAX_BALANCE};

/// ETH's decimals: amounts of token 0 are in ether, counted in wei.
pub const ETH_DECIMALS: u8 = 18;

/// `input` (a non-negative decimal such as `0.5`, `12`, `.25`) in base units of a token with
/// `decimals` decimals. Zero, negatives, exponents and digits beyond `decimals` are refused.
pub fn parse_amount(input: &str, decimals: u8) -> Result<Balance, WalletError> {
    let invalid = |reason: String| WalletError::InvalidAmount {
        input: input.to_owned(),
        reason,
    };
    let (whole, fraction) = input.split_once('.').unwrap_or((input, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || !digits(fraction) || (whole.is_empty() && fraction.is_empty()) {
        return Err(invalid("expected a decimal number such as 0.5".into()));
    }
    if fraction.len() > usize::from(decimals) {
        return Err(invalid(format!(
            "more than {decimals} decimal places (the token's smallest unit is 10^-{decimals})"
        )));
    }
    // `parse_units` wants digits on both sides of a point ("0.5", not ".5" or "5.").
    let normalized = format!(
        "{}.{}",
        if whole.is_empty() { "0" } else { whole },
        if fraction.is_empty() { "0" } else { fraction }
    );
    let units: U256 = parse_units(&normalized, decimals)
        .map_err(|e| invalid(e.to_string()))?
        .into();
    let units = u128::try_from(units)
        .ok()
        .filter(|u| *u <= MAX_BALANCE)
        .ok_or_else(|| {
            invalid(format!(
                "above the largest balance, {}",
                format_amount(MAX_BALANCE, decimals)
            ))
        })?;
    if units == 0 {
        return Err(invalid("an amount must be above zero".into()));
    }
    Ok(units)
}

/// `units` base units of a token with `decimals` decimals, as a decimal without trailing
/// zeros: `500000000000000000` with 18 decimals is `0.5`.
pub fn format_amount(units: impl Into<ParseUnits>, decimals: u8) -> String {
    let units: ParseUnits = units.into();
    // Every u8 is a valid number of decimals for `format_units` up to 77; beyond that no
    // token exists, so fall back to base units rather than fail a display.
    let Ok(text) = format_units(units, decimals) else {
        return units.to_string();
    };
    match text.split_once('.') {
        Some((whole, fraction)) => {
            let fraction = fraction.trim_end_matches('0');
            if fraction.is_empty() {
                whole.to_owned()
            } else {
                format!("{whole}.{fraction}")
            }
        }
        None => text,
    }
}
