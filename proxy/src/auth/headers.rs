//! Reading Authentik's identity headers (`X-authentik-uid`, `-username`, `-email`,
//! `-name`, `-groups`, `-entitlements`) into an [`Identity`], with hygiene: a
//! header that is repeated, longer than [`MAX_IDENTITY_HEADER`], not UTF-8, or
//! holds a control character is refused, never cleaned up and accepted.
//!
//! Also the names of Authentik's own cookies (`authentik_proxy_*`, which the session
//! cache keys on, and `authentik_session`), which never reach a workspace
//! ([`crate::forward::headers::Credentials`]).

use dcs_model::UserId;
use http::header::HeaderMap;

use super::Identity;

/// Longest accepted identity header value, in bytes.
pub const MAX_IDENTITY_HEADER: usize = 4 * 1024;
/// Longest accepted `X-authentik-jwt`, in bytes (tokens carry groups and attributes).
pub const MAX_JWT_HEADER: usize = 16 * 1024;

/// The user's stable id (hashed, survives renames).
pub const UID: &str = "x-authentik-uid";
/// The user's login name.
pub const USERNAME: &str = "x-authentik-username";
/// The user's email.
pub const EMAIL: &str = "x-authentik-email";
/// The user's full name.
pub const NAME: &str = "x-authentik-name";
/// `|`-separated group names.
pub const GROUPS: &str = "x-authentik-groups";
/// `|`-separated entitlement names.
pub const ENTITLEMENTS: &str = "x-authentik-entitlements";
/// The outpost's access token (HS256, the provider's client secret).
pub const JWT: &str = "x-authentik-jwt";

/// Prefix of the cookies Authentik's proxy outpost keeps its session in.
pub const SESSION_COOKIE_PREFIX: &str = "authentik_proxy";

/// Authentik's own session cookie (its core's, sent along when Authentik is served
/// on the proxy's host or a parent domain's cookie reaches it).
pub const AUTHENTIK_SESSION_COOKIE: &str = "authentik_session";

/// Why identity headers were refused. Messages name the header, never its value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    /// A required header is absent.
    #[error("{0} is missing")]
    Missing(&'static str),
    /// A header appears more than once, so which one counts would be ambiguous.
    #[error("{0} appears more than once")]
    Repeated(&'static str),
    /// A header is longer than allowed.
    #[error("{0} is longer than {1} bytes")]
    TooLong(&'static str, usize),
    /// A header is not UTF-8 or holds control characters.
    #[error("{0} is not UTF-8 text without control characters")]
    Malformed(&'static str),
    /// The uid is not a usable user id.
    #[error("X-authentik-uid is not a usable user id: {0}")]
    BadUid(String),
}

/// The one value of header `name`, if present and clean.
pub fn single<'h>(
    headers: &'h HeaderMap,
    name: &'static str,
    max: usize,
) -> Result<Option<&'h str>, HeaderError> {
    let mut values = headers.get_all(name).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(HeaderError::Repeated(name));
    }
    if value.len() > max {
        return Err(HeaderError::TooLong(name, max));
    }
    let text = std::str::from_utf8(value.as_bytes()).map_err(|_| HeaderError::Malformed(name))?;
    if text.chars().any(char::is_control) {
        return Err(HeaderError::Malformed(name));
    }
    Ok(Some(text.trim()).filter(|t| !t.is_empty()))
}

/// The identity `headers` describe. `X-authentik-uid` is required; the username
/// defaults to it.
pub fn identity(headers: &HeaderMap) -> Result<Identity, HeaderError> {
    let get = |name| single(headers, name, MAX_IDENTITY_HEADER);
    let uid = get(UID)?.ok_or(HeaderError::Missing(UID))?;
    let user = UserId::new(uid).map_err(|e| HeaderError::BadUid(e.to_string()))?;
    let username = get(USERNAME)?.unwrap_or(uid).to_owned();
    Ok(Identity {
        user,
        username,
        name: get(NAME)?.map(str::to_owned),
        email: get(EMAIL)?.map(str::to_owned),
        groups: get(GROUPS)?.map(split_list).unwrap_or_default(),
        entitlements: get(ENTITLEMENTS)?.map(split_list).unwrap_or_default(),
        admission: super::Admission::Lasting,
    })
}

/// Splits a `|`-separated list, dropping empty items.
pub fn split_list(value: &str) -> Vec<String> {
    value
        .split('|')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Whether a cookie named `name` belongs to Authentik's outpost session.
pub fn is_session_cookie(name: &str) -> bool {
    name.starts_with(SESSION_COOKIE_PREFIX)
}

/// The pairs of Authentik's session cookies, in the order sent.
pub fn session_cookies(headers: &HeaderMap) -> Vec<&str> {
    dcs_net::cookies::pairs(headers)
        .filter(|p| is_session_cookie(p.split('=').next().unwrap_or("").trim()))
        .collect()
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &[u8])]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (n, v) in pairs {
            h.append(*n, HeaderValue::from_bytes(v).expect("value"));
        }
        h
    }

    #[test]
    fn full_identity_is_read_and_lists_split_on_pipes() {
        let uid = "a".repeat(64);
        let id = identity(&headers(&[
            (UID, uid.as_bytes()),
            (USERNAME, b"alice"),
            (EMAIL, b"alice@example.com"),
            (NAME, "Alice Ünlü".as_bytes()),
            (GROUPS, b"dev| ops||"),
            (ENTITLEMENTS, b"ide"),
        ]))
        .expect("identity");
        assert_eq!(id.user.as_str(), uid);
        assert_eq!(id.username, "alice");
        assert_eq!(id.name.as_deref(), Some("Alice Ünlü"));
        assert_eq!(id.groups, ["dev", "ops"]);
        assert_eq!(id.entitlements, ["ide"]);
    }

    #[test]
    fn username_defaults_to_the_uid() {
        let id = identity(&headers(&[(UID, b"u1")])).expect("identity");
        assert_eq!(id.username, "u1");
        assert!(id.groups.is_empty() && id.email.is_none());
    }

    #[test]
    fn dirty_headers_are_refused() {
        let long = vec![b'a'; MAX_IDENTITY_HEADER + 1];
        for (case, h, want) in [
            (
                "no uid",
                headers(&[(USERNAME, b"a")]),
                HeaderError::Missing(UID),
            ),
            (
                "two uids",
                headers(&[(UID, b"a"), (UID, b"b")]),
                HeaderError::Repeated(UID),
            ),
            (
                "long groups",
                headers(&[(UID, b"a"), (GROUPS, &long)]),
                HeaderError::TooLong(GROUPS, MAX_IDENTITY_HEADER),
            ),
            (
                "tab",
                headers(&[(UID, b"a"), (USERNAME, b"al\tice")]),
                HeaderError::Malformed(USERNAME),
            ),
            (
                "latin-1",
                headers(&[(UID, b"a"), (NAME, b"\xe9")]),
                HeaderError::Malformed(NAME),
            ),
            (
                "C1 control",
                headers(&[(UID, b"a"), (EMAIL, "a\u{85}@x".as_bytes())]),
                HeaderError::Malformed(EMAIL),
            ),
        ] {
            assert_eq!(identity(&h).expect_err(case), want, "{case}");
        }
        assert!(matches!(
            identity(&headers(&[(UID, b"../root")])),
            Err(HeaderError::BadUid(_))
        ));
    }

    #[test]
    fn session_cookies_are_picked_out() {
        let h = headers(&[
            (
                http::header::COOKIE.as_str(),
                b"ide=1; authentik_proxy_ab12=s3ss; x=2",
            ),
            (http::header::COOKIE.as_str(), b"authentik_proxy_cd34=t"),
        ]);
        assert_eq!(
            session_cookies(&h),
            ["authentik_proxy_ab12=s3ss", "authentik_proxy_cd34=t"]
        );
        assert_eq!(dcs_net::cookies::pairs(&h).count(), 4);
    }
}
