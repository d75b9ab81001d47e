//! Kubernetes resource quantities (`500m`, `2`, `1.5Gi`, `1e3`), validated and
//! comparable, following the API machinery grammar:
//! `<number><suffix>` with suffix one of the binary SI (`Ki Mi Gi Ti Pi Ei`), decimal
//! SI (`n u m "" k M G T P E`) or a decimal exponent (`e3`, `E-2`). Resource
//! requests are never negative, so signs are refused.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A validated, non-negative quantity; keeps the text the user wrote.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Quantity {
    text: String,
    value: f64,
}

/// Why a quantity was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct QuantityError(String);

impl Quantity {
    /// Parses a quantity.
    pub fn parse(s: &str) -> Result<Self, QuantityError> {
        let err = |why: &str| {
            QuantityError(format!(
                "{} is not a Kubernetes quantity: {why}",
                crate::error::shown(s)
            ))
        };
        if s.is_empty() || s.len() > 64 {
            return Err(err("expected 1 to 64 characters such as 500m, 2, 1Gi"));
        }
        let digits_end = s
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(s.len());
        let (number, suffix) = s.split_at(digits_end);
        if number.is_empty() || number == "." || number.matches('.').count() > 1 {
            return Err(err("it must start with a number (no sign)"));
        }
        let base: f64 = number.parse().map_err(|_| err("the number is malformed"))?;
        let factor = match suffix {
            "" => 1.0,
            "n" => 1e-9,
            "u" => 1e-6,
            "m" => 1e-3,
            "k" => 1e3,
            "M" => 1e6,
            "G" => 1e9,
            "T" => 1e12,
            "P" => 1e15,
            "E" => 1e18,
            "Ki" => 1024f64,
            "Mi" => 1024f64.powi(2),
            "Gi" => 1024f64.powi(3),
            "Ti" => 1024f64.powi(4),
            "Pi" => 1024f64.powi(5),
            "Ei" => 1024f64.powi(6),
            exp if exp.starts_with(['e', 'E']) => {
                let e: i32 = exp[1..]
                    .parse()
                    .map_err(|_| err("the exponent is malformed"))?;
                if !(-18..=18).contains(&e) {
                    return Err(err("the exponent must be between -18 and 18"));
                }
                10f64.powi(e)
            }
            _ => return Err(err("unknown suffix; use m, k, M, G, Ki, Mi, Gi, Ti …")),
        };
        Ok(Self {
            text: s.to_owned(),
            value: base * factor,
        })
    }

    /// The value in base units (cores for CPU, bytes for memory and storage).
    pub fn value(&self) -> f64 {
        self.value
    }

    /// The text as given.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl TryFrom<String> for Quantity {
    type Error = QuantityError;
    fn try_from(s: String) -> Result<Self, QuantityError> {
        Self::parse(&s)
    }
}

impl From<Quantity> for String {
    fn from(q: Quantity) -> String {
        q.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_usual_spellings() {
        for (s, v) in [
            ("500m", 0.5),
            ("2", 2.0),
            ("1.5", 1.5),
            ("1Gi", 1073741824.0),
            ("512Mi", 536870912.0),
            ("10G", 1e10),
            ("1e3", 1000.0),
            ("5E-1", 0.5),
            ("1e+3", 1000.0),
            ("0", 0.0),
            (".5", 0.5),
        ] {
            let q = Quantity::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
            assert!(
                (q.value() - v).abs() < 1e-9 * v.max(1.0),
                "{s} = {}",
                q.value()
            );
            assert_eq!(q.as_str(), s);
        }
    }

    #[test]
    fn refuses_what_kubernetes_refuses() {
        for s in [
            "", "-1", "+1", "1gi", "1 Gi", "Gi", "1.2.3", "1GiB", "lots", "1e", "1e99", ".", "١",
        ] {
            let err = Quantity::parse(s).expect_err(s);
            assert!(
                err.to_string().contains("not a Kubernetes quantity"),
                "{err}"
            );
        }
        assert!(Quantity::parse(&"9".repeat(65)).is_err());
    }

    #[test]
    fn comparisons_use_base_units() {
        let a = Quantity::parse("1500m").expect("q");
        let b = Quantity::parse("2").expect("q");
        assert!(a.value() < b.value());
        assert!(
            Quantity::parse("1Gi").expect("q").value() > Quantity::parse("1G").expect("q").value()
        );
    }
}
