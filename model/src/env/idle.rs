//! The idle policy a launcher applies ([`IdlePolicy`]): how long a workspace may go
//! unused, how early the IDE warns before the stop, and how long watched work (a busy
//! terminal) or a declared keep-alive may hold it without anyone's input, and how
//! often an open tab asks for the idle state. The proxy decides the values
//! (`--idle-timeout`, `--idle-warning`, `--busy-max`, `--tab-poll`) and hands
//! them to every launcher it starts; the launcher decides, with them, whether its
//! workspace is used (see `docs/architecture.md`, "Idle").

use crate::error::{Error, Result};

/// Seconds without use after which the workspace stops. Default 1800.
pub const DCS_IDLE_TIMEOUT: &str = "DCS_IDLE_TIMEOUT";
/// Seconds before an idle stop at which the IDE shows its warning. Default 300.
pub const DCS_IDLE_WARNING: &str = "DCS_IDLE_WARNING";
/// Seconds watched work (a terminal producing output or using CPU) and declared
/// keep-alives may hold the workspace after the last input. Default 14400 (4 h);
/// 0: work and keep-alives never hold it.
pub const DCS_BUSY_MAX: &str = "DCS_BUSY_MAX";
/// Seconds between an open tab's polls of the idle state (the warning, the stop, an
/// IDE restarted under it) while nothing else makes it look. Default 15; at least 1.
pub const DCS_TAB_POLL: &str = "DCS_TAB_POLL";

/// Default idle timeout, seconds.
pub const DEFAULT_IDLE_TIMEOUT_SECS: u64 = 30 * 60;
/// Default warning lead time, seconds.
pub const DEFAULT_IDLE_WARNING_SECS: u64 = 5 * 60;
/// Default bound on watched work and keep-alives, seconds.
pub const DEFAULT_BUSY_MAX_SECS: u64 = 4 * 60 * 60;
/// Default period of an open tab's poll, seconds.
pub const DEFAULT_TAB_POLL_SECS: u64 = 15;

/// The idle policy of one workspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdlePolicy {
    /// Seconds without use before the stop (at least 1).
    pub idle_timeout_secs: u64,
    /// Seconds of warning before the stop.
    pub warning_secs: u64,
    /// Seconds work and keep-alives may hold the workspace past the last input
    /// (0: never).
    pub busy_max_secs: u64,
    /// Seconds between an open tab's polls while nothing else makes it look (at
    /// least 1).
    pub tab_poll_secs: u64,
}

impl Default for IdlePolicy {
    fn default() -> Self {
        Self {
            idle_timeout_secs: DEFAULT_IDLE_TIMEOUT_SECS,
            warning_secs: DEFAULT_IDLE_WARNING_SECS,
            busy_max_secs: DEFAULT_BUSY_MAX_SECS,
            tab_poll_secs: DEFAULT_TAB_POLL_SECS,
        }
    }
}

impl IdlePolicy {
    /// The variables that carry the policy.
    pub fn to_vars(&self) -> [(&'static str, String); 4] {
        [
            (DCS_IDLE_TIMEOUT, self.idle_timeout_secs.to_string()),
            (DCS_IDLE_WARNING, self.warning_secs.to_string()),
            (DCS_BUSY_MAX, self.busy_max_secs.to_string()),
            (DCS_TAB_POLL, self.tab_poll_secs.to_string()),
        ]
    }

    /// The policy `get` describes; unset variables keep their defaults.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let mut policy = Self::default();
        for (var, field) in [
            (DCS_IDLE_TIMEOUT, &mut policy.idle_timeout_secs),
            (DCS_IDLE_WARNING, &mut policy.warning_secs),
            (DCS_BUSY_MAX, &mut policy.busy_max_secs),
            (DCS_TAB_POLL, &mut policy.tab_poll_secs),
        ] {
            if let Some(value) = get(var) {
                *field = value.parse().map_err(|_| Error::Env {
                    var,
                    why: format!("must be a whole number of seconds, not {value:?}"),
                })?;
            }
        }
        for (var, value) in [
            (DCS_IDLE_TIMEOUT, policy.idle_timeout_secs),
            (DCS_TAB_POLL, policy.tab_poll_secs),
        ] {
            if value == 0 {
                return Err(Error::Env {
                    var,
                    why: "must be at least 1 second".into(),
                });
            }
        }
        Ok(policy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_round_trips_and_checks_its_values() {
        let policy = IdlePolicy {
            idle_timeout_secs: 60,
            warning_secs: 10,
            busy_max_secs: 0,
            tab_poll_secs: 600,
        };
        let vars = policy.to_vars();
        let get = |k: &str| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone());
        assert_eq!(IdlePolicy::from_lookup(get).expect("parses"), policy);
        assert_eq!(
            IdlePolicy::from_lookup(|_| None).expect("defaults"),
            IdlePolicy::default()
        );
        let bad = IdlePolicy::from_lookup(|k| (k == DCS_BUSY_MAX).then(|| "4h".to_owned()));
        assert!(bad.is_err(), "{bad:?}");
        let zero = IdlePolicy::from_lookup(|k| (k == DCS_IDLE_TIMEOUT).then(|| "0".to_owned()));
        assert!(zero.is_err(), "{zero:?}");
        let never = IdlePolicy::from_lookup(|k| (k == DCS_TAB_POLL).then(|| "0".to_owned()));
        assert!(never.is_err(), "{never:?}");
    }
}
