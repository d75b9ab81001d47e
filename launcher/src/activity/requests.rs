//! Which HTTP requests are a person's: navigations, file manager actions, previews
//! opened in a tab, the IDE's own requests for what a person opened. Not: requests a
//! page marks as background ([`BACKGROUND_HEADER`]`: 1`), WebSocket upgrades (a
//! reconnecting tab would otherwise wake its own clock), CORS preflights, and the
//! launcher's own plumbing (readiness, notices, this clock's endpoints, which count
//! in their own way).

use http::{HeaderMap, Method};

use dcs_model::plumbing::{ACTIVITY, BACKGROUND_HEADER, IDLE, KEEPALIVE, READY, STOP};

/// Paths whose requests never count: polls and scripts of the launcher itself.
const PLUMBING: &[&str] = &[
    READY,
    IDLE,
    crate::notices::PATH,
    crate::notices::SCRIPT_PATH,
    ACTIVITY,
    KEEPALIVE,
    STOP,
    "/_dcs/ws-echo",
];

/// Whether a request of `method` for `path` with `headers` is a person's input.
pub fn counts(method: &Method, path: &str, headers: &HeaderMap) -> bool {
    if method == Method::OPTIONS || PLUMBING.contains(&path) {
        return false;
    }
    if dcs_net::hop::upgrade_requested(headers).is_some() {
        return false;
    }
    let background = headers
        .get(BACKGROUND_HEADER)
        .is_some_and(|v| v.as_bytes().trim_ascii() == b"1");
    !background
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    #[test]
    fn a_persons_requests_count_and_plumbing_does_not() {
        let none = HeaderMap::new();
        assert!(counts(&Method::GET, "/", &none));
        assert!(counts(&Method::PUT, "/_dcs/files/a.txt", &none));
        assert!(counts(&Method::GET, "/ports/3000/", &none));
        for path in PLUMBING {
            assert!(!counts(&Method::GET, path, &none), "{path}");
        }
        assert!(!counts(&Method::OPTIONS, "/", &none));

        let mut background = HeaderMap::new();
        background.insert(BACKGROUND_HEADER, HeaderValue::from_static("1"));
        assert!(!counts(&Method::GET, "/", &background));

        let mut upgrade = HeaderMap::new();
        upgrade.insert("connection", HeaderValue::from_static("Upgrade"));
        upgrade.insert("upgrade", HeaderValue::from_static("websocket"));
        assert!(
            !counts(&Method::GET, "/stable-x", &upgrade),
            "a reconnect is no input"
        );
    }
}
