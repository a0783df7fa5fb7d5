//! Money: an exact decimal amount in an ISO 4217 currency. No floats anywhere.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::fmt;

/// ISO 4217 currencies hearth knows, with their minor-unit exponent.
///
/// The table is deliberately short (the currencies the products trade in plus the usual majors); adding
/// one is a one-line change here and nowhere else.
const CURRENCIES: &[(&str, u32)] = &[
    ("AED", 2),
    ("AUD", 2),
    ("BHD", 3),
    ("CAD", 2),
    ("CHF", 2),
    ("EGP", 2),
    ("EUR", 2),
    ("GBP", 2),
    ("INR", 2),
    ("JPY", 0),
    ("KWD", 3),
    ("MAD", 2),
    ("SAR", 2),
    ("SGD", 2),
    ("USD", 2),
];

/// An ISO 4217 currency code hearth knows.
///
/// INVARIANT (known): the code is one of the table's entries.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(into = "String")]
pub struct Currency(&'static str, u32);

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let code = String::deserialize(d)?;
        Currency::from_code(&code).ok_or_else(|| serde::de::Error::custom(format!("unknown currency `{code}`")))
    }
}

impl Currency {
    /// US dollar.
    pub const USD: Currency = Currency("USD", 2);
    /// Indian rupee.
    pub const INR: Currency = Currency("INR", 2);
    /// Egyptian pound.
    pub const EGP: Currency = Currency("EGP", 2);
    /// Moroccan dirham.
    pub const MAD: Currency = Currency("MAD", 2);

    /// Looks up an upper-case three-letter code.
    pub fn from_code(code: &str) -> Option<Self> {
        CURRENCIES.iter().find(|(c, _)| *c == code).map(|&(c, e)| Currency(c, e))
    }
    /// The three-letter code.
    pub fn code(&self) -> &'static str {
        self.0
    }
    /// Digits after the decimal point in the currency's minor unit (2 for USD, 0 for JPY).
    pub fn minor_units(&self) -> u32 {
        self.1
    }
    /// Every code hearth knows, for error messages and clients.
    pub fn known_codes() -> impl Iterator<Item = &'static str> {
        CURRENCIES.iter().map(|(c, _)| *c)
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}
impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl TryFrom<String> for Currency {
    type Error = MoneyError;
    fn try_from(code: String) -> Result<Self, Self::Error> {
        Currency::from_code(&code).ok_or(MoneyError::UnknownCurrency)
    }
}
impl From<Currency> for String {
    fn from(c: Currency) -> String {
        c.0.to_owned()
    }
}

/// Why an amount is not valid money.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// The currency code is not ISO 4217 or not known to hearth.
    #[error("unknown currency")]
    UnknownCurrency,
    /// More decimal places than the currency's minor unit.
    #[error("more decimal places than the currency allows")]
    TooPrecise,
    /// Two amounts in different currencies were combined.
    #[error("currencies differ")]
    CurrencyMismatch,
    /// The result does not fit.
    #[error("amount overflow")]
    Overflow,
}

/// An exact amount of a currency.
///
/// INVARIANT (scale): `amount.scale() == currency.minor_units()`, so equal amounts compare, hash and
/// store identically (10 USD is always `10.00`). Upheld by [`Money::new`] and every arithmetic method.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "MoneyRepr", into = "MoneyRepr")]
pub struct Money {
    amount: Decimal,
    currency: Currency,
}

#[derive(Serialize, Deserialize)]
struct MoneyRepr {
    amount: Decimal,
    currency: Currency,
}

impl TryFrom<MoneyRepr> for Money {
    type Error = MoneyError;
    fn try_from(r: MoneyRepr) -> Result<Self, Self::Error> {
        Money::new(r.amount, r.currency)
    }
}
impl From<Money> for MoneyRepr {
    fn from(m: Money) -> Self {
        MoneyRepr { amount: m.amount, currency: m.currency }
    }
}

impl Money {
    /// `amount` of `currency`; refuses amounts finer than the currency's minor unit (no silent rounding).
    pub fn new(amount: Decimal, currency: Currency) -> Result<Self, MoneyError> {
        let mut normalized = amount.normalize();
        if normalized.scale() > currency.minor_units() {
            return Err(MoneyError::TooPrecise);
        }
        normalized.rescale(currency.minor_units());
        // INVARIANT (scale): rescale to a larger scale is exact for any Decimal whose digits fit; check it.
        if normalized != amount || normalized.scale() != currency.minor_units() {
            return Err(MoneyError::Overflow);
        }
        Ok(Self { amount: normalized, currency })
    }
    /// From an integer count of minor units (cents for USD).
    pub fn from_minor(minor: i64, currency: Currency) -> Self {
        // INVARIANT (scale): Decimal::new(m, e) has scale e exactly.
        Self { amount: Decimal::new(minor, currency.minor_units()), currency }
    }
    /// From minor units, usable in constants.
    pub const fn from_minor_const(minor: i64, currency: Currency) -> Self {
        // INVARIANT (scale): Decimal::from_i128_with_scale… is not const; build the parts directly.
        let negative = minor < 0;
        let abs = minor.unsigned_abs();
        Self { amount: Decimal::from_parts(abs as u32, (abs >> 32) as u32, 0, negative, currency.1), currency }
    }
    /// Zero of `currency`.
    pub fn zero(currency: Currency) -> Self {
        Self::from_minor(0, currency)
    }
    /// The amount, at the currency's scale.
    pub fn amount(&self) -> Decimal {
        self.amount
    }
    /// The currency.
    pub fn currency(&self) -> Currency {
        self.currency
    }
    /// The amount as an integer count of minor units, or `None` if it does not fit an `i64`.
    pub fn to_minor(&self) -> Option<i64> {
        i64::try_from(self.amount.mantissa()).ok()
    }
    /// `self + other`, same currency only.
    pub fn checked_add(&self, other: &Money) -> Result<Money, MoneyError> {
        if self.currency != other.currency {
            return Err(MoneyError::CurrencyMismatch);
        }
        let sum = self.amount.checked_add(other.amount).ok_or(MoneyError::Overflow)?;
        Money::new(sum, self.currency)
    }
    /// `self - other`, same currency only.
    pub fn checked_sub(&self, other: &Money) -> Result<Money, MoneyError> {
        if self.currency != other.currency {
            return Err(MoneyError::CurrencyMismatch);
        }
        let diff = self.amount.checked_sub(other.amount).ok_or(MoneyError::Overflow)?;
        Money::new(diff, self.currency)
    }
    /// True when the amount is above zero.
    pub fn is_positive(&self) -> bool {
        self.amount > Decimal::ZERO
    }
}

impl fmt::Debug for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.amount, self.currency)
    }
}
impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.amount, self.currency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn money_normalises_to_the_currency_scale() {
        let m = Money::new(d("10"), Currency::USD).unwrap();
        assert_eq!(m.amount().to_string(), "10.00");
        assert_eq!(m, Money::new(d("10.000"), Currency::USD).unwrap());
        assert_eq!(m.to_minor(), Some(1000));
        assert_eq!(Money::from_minor(1000, Currency::USD), m);
        let yen = Money::new(d("500"), Currency::from_code("JPY").unwrap()).unwrap();
        assert_eq!(yen.amount().to_string(), "500");
    }

    #[test]
    fn money_refuses_sub_minor_amounts_and_mixed_currencies() {
        assert_eq!(Money::new(d("10.001"), Currency::USD), Err(MoneyError::TooPrecise));
        let a = Money::from_minor(1, Currency::USD);
        let b = Money::from_minor(1, Currency::INR);
        assert_eq!(a.checked_add(&b), Err(MoneyError::CurrencyMismatch));
        assert_eq!(a.checked_add(&a).unwrap().to_minor(), Some(2));
    }

    #[test]
    fn money_serialises_amount_as_string() {
        let m = Money::from_minor(1050, Currency::USD);
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(json, r#"{"amount":"10.50","currency":"USD"}"#);
        let back: Money = serde_json::from_str(&json).unwrap();
        assert_eq!(back, m);
        assert!(serde_json::from_str::<Money>(r#"{"amount":"1.005","currency":"USD"}"#).is_err());
        assert!(serde_json::from_str::<Money>(r#"{"amount":"1","currency":"XXX"}"#).is_err());
    }
}
