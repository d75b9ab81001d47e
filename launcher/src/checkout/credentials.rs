//! Git credentials for private repositories: the token read from `DCS_GIT_TOKEN_FILE`
//! into a [`Secret`], handed to libgit2 only through the credentials callback (never a
//! URL, argv, log line, error message or `.git/config`), at most once per operation.
//!
//! When `DCS_GIT_TOKEN_FILE` is `-` the token arrived on the launcher's stdin and is
//! [`hold`]en in memory only: no file names it, and it reaches the transfer child
//! inside its request, on the child's stdin ([`super::protocol`]). Both processes are
//! non-dumpable, so the user's processes (same uid) cannot read their memory,
//! environment or descriptors through `/proc`.
//!
//! The token is for the git base's origin only (scheme, host and port of
//! `DCS_GIT_BASE`, see [`Origin`]): libgit2 asks for credentials for the URL it
//! talks to, which after a redirect may be another server; that one gets no
//! credentials, and the transfer fails with an error naming its origin ([`OFFSITE`]).

use std::cell::Cell;
use std::fmt;
use std::path::Path;
use std::sync::OnceLock;

use git2::{Cred, CredentialType, ErrorClass, ErrorCode, RemoteCallbacks};

use super::origin::Origin;
use crate::error::{Error, Result};

/// The user name GitHub (and most forges) accept alongside an access token.
pub const TOKEN_USER: &str = "x-access-token";

/// Message of the error the callback returns when the server wants credentials and
/// no token is configured.
pub const NO_TOKEN: &str = "the git server asked for credentials and no token is configured";
/// Message of the error the callback returns when the server turned the token down.
pub const REJECTED: &str = "the git server rejected the configured token";
/// How the error the callback returns for a server other than the git base's begins
/// (followed by that server's origin).
pub const OFFSITE: &str = "credentials were asked for by another server than the git base's:";

/// A secret string. Its `Debug` is redacted and it has no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps `value`.
    pub fn new(value: String) -> Self {
        Self(value)
    }

    /// The secret itself, for the one place that hands it to libgit2.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// The token this process holds in memory (from stdin), if any.
static HELD: OnceLock<Secret> = OnceLock::new();

/// Holds `token` in memory for [`read_token`]`("-")` (once; later calls are ignored).
pub fn hold(token: Secret) {
    let _ = HELD.set(token);
}

/// The token held in memory, if any.
pub fn held() -> Option<&'static Secret> {
    HELD.get()
}

/// Reads the token from `path`, trimming surrounding whitespace; `-` is the token
/// held in memory ([`hold`]). Errors name the file, never its content.
pub fn read_token(path: &Path) -> Result<Secret> {
    let token_error = |why: String| Error::Token {
        path: path.to_path_buf(),
        why,
    };
    if path.as_os_str() == dcs_model::env::STDIN {
        return held()
            .cloned()
            .ok_or_else(|| token_error("was to arrive on stdin and did not".into()));
    }
    let raw = std::fs::read_to_string(path).map_err(|e| token_error(e.kind().to_string()))?;
    let token = raw.trim();
    if token.is_empty() {
        return Err(token_error("is empty".into()));
    }
    Ok(Secret::new(token.to_owned()))
}

/// Installs the credentials callback on `callbacks`: the token as
/// `x-access-token:<token>` on the first request to the origin of `git_base`, an
/// `Auth` error on the second (so libgit2 stops retrying a rejected token), for any
/// other origin ([`OFFSITE`], the token not given), or when there is no token.
pub fn install<'a>(callbacks: &mut RemoteCallbacks<'a>, token: Option<&'a Secret>, git_base: &str) {
    let asked = Cell::new(0u32);
    let base = Origin::of(git_base);
    callbacks.credentials(move |url, _user, allowed| {
        let auth_error = |msg: &str| Err(git2::Error::new(ErrorCode::Auth, ErrorClass::Http, msg));
        let Some(token) = token else {
            return auth_error(NO_TOKEN);
        };
        let asker = Origin::of(url);
        if asker.is_none() || asker != base {
            let shown =
                asker.map_or_else(|| "a server without a host".to_owned(), |o| o.to_string());
            let ours = base
                .as_ref()
                .map_or_else(|| "none".to_owned(), Origin::to_string);
            return auth_error(&format!(
                "{OFFSITE} {shown} (the git base is {ours}); the token is not sent there"
            ));
        }
        let n = asked.get();
        asked.set(n + 1);
        if n > 0 {
            auth_error(REJECTED)
        } else if !allowed.contains(CredentialType::USER_PASS_PLAINTEXT) {
            auth_error("the git server asked for a kind of credentials other than a token")
        } else {
            Cred::userpass_plaintext(TOKEN_USER, token.expose())
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let s = Secret::new("ghp_supersecret".into());
        assert_eq!(format!("{s:?}"), "Secret(<redacted>)");
        assert!(!format!("{:?}", Some(&s)).contains("supersecret"));
    }

    #[test]
    fn token_file_is_trimmed_and_errors_never_show_content() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("token");
        std::fs::write(&file, "  ghp_abc\n").expect("write");
        assert_eq!(read_token(&file).expect("token").expose(), "ghp_abc");
        std::fs::write(&file, " \n").expect("write");
        let err = read_token(&file).expect_err("empty");
        assert!(err.to_string().contains("is empty"), "{err}");
        let err = read_token(&dir.path().join("absent")).expect_err("missing");
        assert!(err.to_string().contains("absent"), "{err}");
    }
}
