//! How long a failed start is remembered ([`Backoff`]), and what is remembered of
//! it ([`Failed`]).

use std::time::{Duration, Instant};

use crate::error::Error;

/// How long a failed start is remembered: `first`, doubled with each failure in a
/// row, at most `max`.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    /// After the first failure.
    pub first: Duration,
    /// The longest.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            first: Duration::from_secs(5),
            max: Duration::from_secs(60),
        }
    }
}

impl Backoff {
    /// How long the `n`th failure in a row (1-based) is remembered.
    pub fn after(&self, n: u32) -> Duration {
        let factor = 2u32.saturating_pow(n.saturating_sub(1).min(16));
        self.first.saturating_mul(factor).min(self.max)
    }
}

/// A failed start, remembered until `until`.
#[derive(Debug, Clone)]
pub(super) struct Failed {
    pub(super) error: Error,
    pub(super) until: Instant,
    pub(super) in_a_row: u32,
}
