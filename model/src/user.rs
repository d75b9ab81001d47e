//! [`UserId`]: the stable key of a person.
//!
//! In Authentik modes this is the provider's stable uid (the JWT `sub`); in local mode
//! it is the `--user` name. It is used as a directory name under the data dir and in
//! labels, so it is restricted to 1–128 characters of `[A-Za-z0-9._@+-]`, starting
//! with a letter or digit.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::error::{shown, Error, Result};

/// A validated user id. Safe as a single path segment. Shared, not copied, when
/// cloned (every request's workspace key holds its user's id).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UserId(Arc<str>);

impl UserId {
    /// Longest accepted id (a hex SHA-256 uid is 64).
    pub const MAX_LEN: usize = 128;

    /// Validates a user id.
    pub fn new(id: &str) -> Result<Self> {
        let err = |why| {
            Err(Error::InvalidUser {
                shown: shown(id),
                why,
            })
        };
        if id.is_empty() {
            return err("must not be empty");
        }
        if id.len() > Self::MAX_LEN {
            return err("must be at most 128 characters");
        }
        if !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'@' | b'+' | b'-'))
        {
            return err("may contain only ASCII letters, digits, '.', '_', '@', '+' and '-'");
        }
        if !id.as_bytes()[0].is_ascii_alphanumeric() {
            return err("must start with a letter or digit");
        }
        Ok(Self(Arc::from(id)))
    }

    /// The id as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for UserId {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::new(s)
    }
}

impl TryFrom<String> for UserId {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        Self::new(&s)
    }
}

impl From<UserId> for String {
    fn from(u: UserId) -> String {
        u.0.as_ref().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_names_emails_and_hex_uids() {
        for id in [
            "alice",
            "alice@example.com",
            "a.b+c_d-e",
            &"f".repeat(64),
            "0",
        ] {
            assert_eq!(UserId::new(id).expect(id).as_str(), id);
        }
    }

    #[test]
    fn rejects_path_tricks_and_oddities() {
        for id in [
            "", ".", "..", ".hidden", "-x", "a/b", "a\\b", "a b", "a\0", "é", "a:b",
        ] {
            assert!(UserId::new(id).is_err(), "{id:?}");
        }
        assert!(UserId::new(&"a".repeat(129)).is_err());
    }
}
