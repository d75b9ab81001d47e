//! The proxy's id for the request being served: the proxy sends it in
//! `X-Request-Id` (its own, never a client's), and the launcher names it on its
//! error pages and 5xx log lines ([`crate::pages`]), so the proxy's access line and
//! the launcher's line with the cause are one search away from each other.
//!
//! Taken only from a request that passed the hop check with the credential
//! ([`of`]): a preview's app calling the launcher on loopback, or anything else
//! that is not the proxy, cannot put an id of its choosing into the launcher's logs.
//! (A launcher without a credential, as in tests and tools, checks nothing: there a
//! request that carries the hop header at all counts.)

use std::future::Future;

use http::{HeaderMap, HeaderName};

/// The header the proxy sends the id in.
pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");

tokio::task_local! {
    static CURRENT: String;
}

/// The request id in `headers`, if the request came from the proxy (`from_proxy`:
/// it carried the hop credential, which the check accepted) and the id is short and
/// plain (at most 64 of `A-Za-z0-9-_.:`, as the proxy makes and keeps them).
pub fn of(headers: &HeaderMap, from_proxy: bool) -> Option<String> {
    if !from_proxy {
        return None;
    }
    let mut values = headers.get_all(&HEADER).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return None;
    };
    let id = value.to_str().ok()?;
    let plain = (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b));
    plain.then(|| id.to_owned())
}

/// Runs `fut` as the request `id`: [`current`] answers it meanwhile.
pub fn scope<F: Future>(id: String, fut: F) -> impl Future<Output = F::Output> {
    CURRENT.scope(id, fut)
}

/// The id of the request being served, if it has one.
pub fn current() -> Option<String> {
    CURRENT.try_with(String::clone).ok()
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn with(values: &[&'static str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(HEADER, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn an_id_is_taken_only_from_the_proxy_and_only_when_plain() {
        assert_eq!(of(&with(&["7f3a-01"]), true).as_deref(), Some("7f3a-01"));
        assert_eq!(of(&with(&["7f3a-01"]), false), None, "not the proxy");
        assert_eq!(of(&with(&[]), true), None);
        assert_eq!(of(&with(&["a b"]), true), None);
        assert_eq!(of(&with(&["<b>"]), true), None);
        assert_eq!(of(&with(&["a", "b"]), true), None, "two: neither");
        let long = "x".repeat(65);
        let mut h = HeaderMap::new();
        h.insert(HEADER, HeaderValue::from_str(&long).expect("value"));
        assert_eq!(of(&h, true), None);
    }

    #[tokio::test]
    async fn the_id_is_known_while_the_request_is_served() {
        assert_eq!(current(), None);
        let seen = scope("r1".into(), async { current() }).await;
        assert_eq!(seen.as_deref(), Some("r1"));
    }
}
