//! Turns a libgit2 error into a user-facing [`Error::Checkout`] with a
//! [`FailureKind`]: not found, authentication, network, or other. Pure, so it is
//! tested with constructed `git2::Error` values.

use dcs_model::RepoRef;
use git2::{ErrorClass, ErrorCode};

use crate::error::{Error, FailureKind};

/// What the messages talk about.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    /// The repository.
    pub repo: &'a RepoRef,
    /// The git base it was looked up under (shown with any user-info removed).
    pub git_base: &'a str,
    /// Whether a token was configured (changes the advice for auth failures).
    pub token_configured: bool,
}

/// Classifies `err` and writes the message the user sees.
pub fn classify(err: &git2::Error, s: &Subject<'_>) -> Error {
    let git = err.message();
    let lower = git.to_ascii_lowercase();
    let base = redact_userinfo(s.git_base);
    let repo = s.repo;
    let (kind, message) = if git.contains(super::credentials::OFFSITE) {
        // A redirect led to another server, which asked for credentials.
        let message = format!(
            "the git server at {base} sent the request for {repo} on to another server, \
             which asked for credentials; the token is sent to {base} only, so it was not. \
             If the repository moved, point the git base at its new server (git: {git})"
        );
        (FailureKind::Auth, message)
    } else if is_auth(err, &lower) {
        let message = if s.token_configured {
            format!(
                "the git server at {base} rejected the token for {repo}: check that the token \
                 in DCS_GIT_TOKEN_FILE is valid and can read the repository (git: {git})"
            )
        } else {
            format!(
                "{repo} at {base} needs authentication (it is private, or does not exist): \
                 put an access token with read access in a file and point DCS_GIT_TOKEN_FILE \
                 at it (git: {git})"
            )
        };
        (FailureKind::Auth, message)
    } else if is_network(err, &lower) {
        let mut message = format!("could not reach {base} to get {repo}: {git}");
        if is_certificate(err) {
            message.push_str(
                "; if the git server uses a private certificate authority, give its \
                 certificate as DCS_EXTRA_CA_FILE (proxy flags --extra-ca-file, or \
                 --knative-extra-ca-secret / --knative-extra-ca-configmap)",
            );
        }
        (FailureKind::Network, message)
    } else if is_not_found(err, &lower) {
        let message = format!("repository {repo} was not found at {base}");
        (FailureKind::NotFound, message)
    } else if is_local_write(err, &lower) {
        // The git server answered; writing into the workspace's volume failed.
        let mut message = format!("writing {repo} into the workspace failed: {git}");
        if lower.contains("no space left") || lower.contains("quota exceeded") {
            message.push_str(
                "; the workspace's volume is full: free space in it (your other \
                 workspaces share it) or ask the operator for a larger volume",
            );
        }
        (FailureKind::Other, message)
    } else {
        let message = format!("getting {repo} from {base} failed: {git}");
        (FailureKind::Other, message)
    };
    Error::Checkout { kind, message }
}

fn is_auth(err: &git2::Error, lower: &str) -> bool {
    err.code() == ErrorCode::Auth
        || lower.contains("status code: 401")
        || lower.contains("status code: 403")
        || lower.contains("authentication")
}

fn is_certificate(err: &git2::Error) -> bool {
    err.code() == ErrorCode::Certificate || err.class() == ErrorClass::Ssl
}

fn is_network(err: &git2::Error, lower: &str) -> bool {
    matches!(err.class(), ErrorClass::Net | ErrorClass::Ssl)
        || matches!(err.code(), ErrorCode::Certificate | ErrorCode::Timeout)
        || lower.contains("failed to connect")
        || lower.contains("failed to resolve address")
        || lower.contains("connection refused")
        || lower.contains("connection reset")
        || lower.contains("timed out")
        || lower.contains("unexpected eof")
        || lower.contains("status code: 502")
        || lower.contains("status code: 503")
        || lower.contains("status code: 504")
}

fn is_not_found(err: &git2::Error, lower: &str) -> bool {
    err.code() == ErrorCode::NotFound
        || lower.contains("status code: 404")
        || lower.contains("not found")
        || lower.contains("could not find repository")
        || lower.contains("failed to resolve path")
        || lower.contains("not appear to be a git repository")
}

/// A failure to write the checkout (files, folders, the object store) on this side.
fn is_local_write(err: &git2::Error, lower: &str) -> bool {
    matches!(
        err.class(),
        ErrorClass::Os | ErrorClass::Filesystem | ErrorClass::Checkout | ErrorClass::Index
    ) || lower.contains("no space left")
        || lower.contains("quota exceeded")
        || lower.contains("read-only file system")
}

/// `scheme://user:pass@host/…` → `scheme://***@host/…`; anything else unchanged.
pub fn redact_userinfo(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://***{}", &rest[at..]),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind_of(
        code: ErrorCode,
        class: ErrorClass,
        msg: &str,
        token: bool,
    ) -> (FailureKind, String) {
        let repo = RepoRef::parse("acme/hello").expect("repo");
        let subject = Subject {
            repo: &repo,
            git_base: "https://github.com",
            token_configured: token,
        };
        match classify(&git2::Error::new(code, class, msg), &subject) {
            Error::Checkout { kind, message } => (kind, message),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn http_404_is_not_found_with_a_plain_message() {
        let (kind, msg) = kind_of(
            ErrorCode::GenericError,
            ErrorClass::Http,
            "unexpected http status code: 404",
            false,
        );
        assert_eq!(kind, FailureKind::NotFound);
        assert_eq!(
            msg,
            "repository acme/hello was not found at https://github.com"
        );
    }

    #[test]
    fn auth_failures_say_how_to_provide_a_token() {
        let (kind, msg) = kind_of(ErrorCode::Auth, ErrorClass::Http, "no token", false);
        assert_eq!(kind, FailureKind::Auth);
        assert!(msg.contains("DCS_GIT_TOKEN_FILE"), "{msg}");
        let (kind, msg) = kind_of(
            ErrorCode::GenericError,
            ErrorClass::Http,
            "unexpected http status code: 403",
            true,
        );
        assert_eq!(kind, FailureKind::Auth);
        assert!(msg.contains("rejected the token"), "{msg}");
    }

    #[test]
    fn connection_problems_are_network() {
        for (code, class, msg) in [
            (
                ErrorCode::GenericError,
                ErrorClass::Os,
                "failed to connect to 10.0.0.1: Connection refused",
            ),
            (
                ErrorCode::GenericError,
                ErrorClass::Net,
                "failed to resolve address for nope: Name or service not known",
            ),
            (
                ErrorCode::Certificate,
                ErrorClass::Ssl,
                "the SSL certificate is invalid",
            ),
            (
                ErrorCode::GenericError,
                ErrorClass::Http,
                "unexpected http status code: 503",
            ),
        ] {
            assert_eq!(
                kind_of(code, class, msg, false).0,
                FailureKind::Network,
                "{msg}"
            );
        }
    }

    #[test]
    fn a_failure_to_write_the_workspace_says_so_not_that_getting_it_failed() {
        let (kind, msg) = kind_of(
            ErrorCode::GenericError,
            ErrorClass::Os,
            "could not write to '/workspaces/acme/hello/big.bin': No space left on device",
            false,
        );
        assert_eq!(kind, FailureKind::Other);
        assert!(
            msg.starts_with("writing acme/hello into the workspace failed: could not write"),
            "{msg}"
        );
        assert!(msg.contains("volume is full"), "{msg}");
        assert!(!msg.contains("getting"), "{msg}");
        let (_, msg) = kind_of(
            ErrorCode::GenericError,
            ErrorClass::Filesystem,
            "failed to make directory '/workspaces/acme/hello/src': Permission denied",
            false,
        );
        assert!(
            msg.starts_with("writing acme/hello into the workspace"),
            "{msg}"
        );
        assert!(!msg.contains("volume is full"), "{msg}");
        // A connection refused (libgit2 reports some as OS errors) stays a network one.
        assert_eq!(
            kind_of(
                ErrorCode::GenericError,
                ErrorClass::Os,
                "failed to connect to 10.0.0.1: Connection refused",
                false
            )
            .0,
            FailureKind::Network
        );
    }

    #[test]
    fn anything_else_is_other_and_keeps_gits_message() {
        let (kind, msg) = kind_of(ErrorCode::GenericError, ErrorClass::Zlib, "bad pack", false);
        assert_eq!(kind, FailureKind::Other);
        assert!(msg.ends_with("bad pack"), "{msg}");
    }

    #[test]
    fn user_info_is_redacted_from_urls() {
        assert_eq!(
            redact_userinfo("https://u:p@host/x@y"),
            "https://***@host/x@y"
        );
        assert_eq!(redact_userinfo("https://host/a"), "https://host/a");
        assert_eq!(redact_userinfo("/local/path"), "/local/path");
    }
}
