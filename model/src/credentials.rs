//! A user's own git credentials: the management API's types
//! (`PUT /api/me/credentials/{host}`, `GET /api/me/credentials`) and the stored form
//! ([`CredentialFile`]) that both the proxy writes (a per-user Secret or a `0600`
//! file) and the launcher's git credential helper reads inside that user's
//! workspaces.
//!
//! Tokens are never part of an answer: [`CredentialView`] has the host and user name
//! only. Every type holding a token has a redacted `Debug`. Values that reach git's
//! credential protocol (`key=value` lines) may hold no control character, so nothing
//! can be injected into it.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::api::FieldError;

/// Longest user name.
pub const MAX_USERNAME: usize = 256;
/// Longest token.
pub const MAX_TOKEN: usize = 4096;
/// Most credentials one user may store.
pub const MAX_CREDENTIALS: usize = 64;

/// `PUT /api/me/credentials/{host}` body. Unknown fields are rejected.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SetCredential {
    /// The user name git sends with the token (`x-access-token` for GitHub tokens,
    /// `oauth2` for GitLab's).
    pub username: String,
    /// The token (or password). Stored, never shown again.
    pub token: String,
}

impl fmt::Debug for SetCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SetCredential")
            .field("username", &self.username)
            .field("token", &"<redacted>")
            .finish()
    }
}

/// One stored credential as the API shows it: never its token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CredentialView {
    /// The git host it is offered for (`github.com`, `git.example.com:8443`).
    pub host: String,
    /// The user name sent with it.
    pub username: String,
}

/// `GET /api/me/credentials` answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CredentialList {
    /// The caller's credentials, by host.
    pub credentials: Vec<CredentialView>,
}

/// One credential as stored.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredCredential {
    /// Lowercase host, with a port if not the scheme's default.
    pub host: String,
    /// The user name.
    pub username: String,
    /// The token.
    pub token: String,
}

impl fmt::Debug for StoredCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredCredential")
            .field("host", &self.host)
            .field("username", &self.username)
            .field("token", &"<redacted>")
            .finish()
    }
}

/// A user's credentials as stored (JSON): what the credential helper reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialFile {
    /// Sorted by host, one per host.
    pub credentials: Vec<StoredCredential>,
}

impl CredentialFile {
    /// The credential for `host` (compared without case).
    pub fn find(&self, host: &str) -> Option<&StoredCredential> {
        let host = host.to_ascii_lowercase();
        self.credentials.iter().find(|c| c.host == host)
    }

    /// Adds or replaces the credential of its host; refuses a new host beyond
    /// [`MAX_CREDENTIALS`].
    pub fn set(&mut self, credential: StoredCredential) -> Result<(), String> {
        let full = self.credentials.len() >= MAX_CREDENTIALS;
        match self
            .credentials
            .iter_mut()
            .find(|c| c.host == credential.host)
        {
            Some(existing) => *existing = credential,
            None if full => {
                return Err(format!(
                    "at most {MAX_CREDENTIALS} credentials may be stored; delete one first"
                ))
            }
            None => self.credentials.push(credential),
        }
        self.credentials.sort_by(|a, b| a.host.cmp(&b.host));
        Ok(())
    }

    /// Removes the credential of `host`; whether there was one.
    pub fn remove(&mut self, host: &str) -> bool {
        let before = self.credentials.len();
        self.credentials.retain(|c| c.host != host);
        before != self.credentials.len()
    }

    /// What the API shows: hosts and user names.
    pub fn view(&self) -> CredentialList {
        CredentialList {
            credentials: self
                .credentials
                .iter()
                .map(|c| CredentialView {
                    host: c.host.clone(),
                    username: c.username.clone(),
                })
                .collect(),
        }
    }
}

/// A git host as credentials are keyed: a DNS name or IPv4 address, optionally with
/// `:port`, lowercased. Git's credential protocol names hosts this way.
pub fn parse_host(raw: &str) -> Result<String, String> {
    let host = raw.to_ascii_lowercase();
    let (name, port) = match host.rsplit_once(':') {
        Some((name, port)) => (name, Some(port)),
        None => (host.as_str(), None),
    };
    let name_ok = !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        });
    let port_ok =
        port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()));
    if name_ok && port_ok && port.is_none_or(|p| p.parse::<u16>().is_ok_and(|n| n > 0)) {
        Ok(host)
    } else {
        Err(format!(
            "{:?} is not a git host (a DNS name or IPv4 address, optionally with :port)",
            raw.chars().take(80).collect::<String>()
        ))
    }
}

impl SetCredential {
    /// The credential to store for `host`, or every problem with the request.
    pub fn validate(&self, host: &str) -> Result<StoredCredential, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut fail = |field: &str, message: String| {
            errors.push(FieldError {
                field: field.to_owned(),
                message,
            })
        };
        let host = parse_host(host).map_err(|why| fail("host", why)).ok();
        let clean = |s: &str| !s.chars().any(char::is_control);
        if self.username.is_empty() || self.username.len() > MAX_USERNAME {
            fail(
                "username",
                format!("must have 1 to {MAX_USERNAME} characters"),
            );
        } else if !clean(&self.username) {
            fail("username", "may not contain control characters".into());
        }
        if self.token.is_empty() || self.token.len() > MAX_TOKEN {
            fail("token", format!("must have 1 to {MAX_TOKEN} characters"));
        } else if !clean(&self.token) {
            fail("token", "may not contain control characters".into());
        }
        match (host, errors.is_empty()) {
            (Some(host), true) => Ok(StoredCredential {
                host,
                username: self.username.clone(),
                token: self.token.clone(),
            }),
            _ => Err(errors),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cred(host: &str, token: &str) -> StoredCredential {
        StoredCredential {
            host: host.into(),
            username: "me".into(),
            token: token.into(),
        }
    }

    #[test]
    fn hosts_are_names_or_addresses_with_an_optional_port() {
        for ok in [
            "github.com",
            "GitHub.COM",
            "127.0.0.1:8443",
            "git-1.example.org",
        ] {
            assert_eq!(parse_host(ok), Ok(ok.to_ascii_lowercase()), "{ok}");
        }
        for bad in [
            "",
            "a b",
            "x.com:",
            "x.com:0",
            "x.com:99999",
            "-x.com",
            "x..com",
            "x.com/path",
            "user@x.com",
            "x.com\nprotocol=https",
        ] {
            assert!(parse_host(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_request_is_checked_whole_and_nothing_injects_into_gits_protocol() {
        let good = SetCredential {
            username: "x-access-token".into(),
            token: "ghp_abc".into(),
        };
        let stored = good.validate("GitHub.com").expect("valid");
        assert_eq!(stored.host, "github.com");
        let bad = SetCredential {
            username: "me\nhost=evil.com".into(),
            token: String::new(),
        };
        let errors = bad.validate("bad host").expect_err("invalid");
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["host", "username", "token"]);
    }

    #[test]
    fn tokens_are_never_shown_and_hosts_are_replaced_not_duplicated() {
        let set = SetCredential {
            username: "me".into(),
            token: "ghp_secret".into(),
        };
        assert!(!format!("{set:?}").contains("ghp_secret"));
        let mut file = CredentialFile::default();
        file.set(cred("b.com", "one")).expect("set");
        file.set(cred("a.com", "two")).expect("set");
        file.set(cred("b.com", "three")).expect("replace");
        assert!(!format!("{file:?}").contains("three"));
        assert_eq!(file.find("B.COM").map(|c| c.token.as_str()), Some("three"));
        let view = serde_json::to_string(&file.view()).expect("json");
        assert_eq!(
            view,
            r#"{"credentials":[{"host":"a.com","username":"me"},{"host":"b.com","username":"me"}]}"#
        );
        assert!(file.remove("a.com"));
        assert!(!file.remove("a.com"));
        for n in 0..MAX_CREDENTIALS {
            let _ = file.set(cred(&format!("h{n}.com"), "t"));
        }
        assert!(file.set(cred("one-too-many.com", "t")).is_err());
    }
}
