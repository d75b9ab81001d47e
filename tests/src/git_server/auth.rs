//! HTTP Basic auth check for the test git server: any user name, the
//! configured token as password.

use base64::Engine as _;
use http::{header, HeaderMap};

/// Outcome of checking one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Verdict {
    /// True when no token is required or the right one was sent.
    pub(super) authorized: bool,
    /// The Basic-auth user name, when a required token matched.
    pub(super) user: Option<String>,
}

/// Checks `headers` against the required `token` (if any).
pub(super) fn check(token: Option<&str>, headers: &HeaderMap) -> Verdict {
    let Some(token) = token else {
        return Verdict {
            authorized: true,
            user: None,
        };
    };
    match basic_credentials(headers) {
        Some((user, password)) if password == token => Verdict {
            authorized: true,
            user: Some(user),
        },
        _ => Verdict {
            authorized: false,
            user: None,
        },
    }
}

/// `(user, password)` from `Authorization: Basic …`, if well-formed.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(auth: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            http::HeaderValue::from_str(auth).expect("valid header"),
        );
        h
    }

    #[test]
    fn no_token_means_everyone_is_authorized() {
        assert!(check(None, &HeaderMap::new()).authorized);
    }

    #[test]
    fn token_must_match_password() {
        // base64("x:s3cret") and base64("x:wrong")
        let ok = check(Some("s3cret"), &headers("Basic eDpzM2NyZXQ="));
        assert_eq!(ok.user.as_deref(), Some("x"));
        assert!(ok.authorized);
        assert!(!check(Some("s3cret"), &headers("Basic eDp3cm9uZw==")).authorized);
        assert!(!check(Some("s3cret"), &headers("Bearer s3cret")).authorized);
        assert!(!check(Some("s3cret"), &HeaderMap::new()).authorized);
    }
}
