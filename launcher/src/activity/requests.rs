//! Which HTTP requests are a person's: navigations, file manager actions, the IDE's
//! own requests for what a person opened, a preview opened or reloaded in a tab.
//! Not: requests a page marks as background ([`BACKGROUND_HEADER`]`: 1`),
//! WebSocket upgrades (a reconnecting tab would otherwise wake its own clock), CORS
//! preflights, and the launcher's own plumbing (readiness, notices, this clock's
//! endpoints, which count in their own way).
//!
//! A previewed app's other requests (`/ports/<n>/…` without `Sec-Fetch-Mode:
//! navigate`: its scripts' fetches, polls, hot-reload clients) are watched work,
//! not input: a person clicking in the app and a tab left open polling look the
//! same, and as input the poll kept the workspace for ever. As work it holds the
//! workspace within the busy limit (`--busy-max` past the last input).

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

/// What a request is to the idle clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Use {
    /// A person's input.
    Input,
    /// Watched work (a previewed app's own traffic).
    Work,
    /// Nothing.
    None,
}

/// What a request of `method` for `path` with `headers` is to the idle clock.
pub fn of(method: &Method, path: &str, headers: &HeaderMap) -> Use {
    if method == Method::OPTIONS || PLUMBING.contains(&path) {
        return Use::None;
    }
    if dcs_net::hop::upgrade_requested(headers).is_some() {
        return Use::None;
    }
    let background = headers
        .get(BACKGROUND_HEADER)
        .is_some_and(|v| v.as_bytes().trim_ascii() == b"1");
    if background {
        return Use::None;
    }
    let preview = dcs_net::preview::rest_of(path).is_some();
    let navigation = headers
        .get("sec-fetch-mode")
        .is_some_and(|v| v.as_bytes() == b"navigate");
    if preview && !navigation {
        Use::Work
    } else {
        Use::Input
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn counts(method: &Method, path: &str, headers: &HeaderMap) -> bool {
        of(method, path, headers) == Use::Input
    }

    #[test]
    fn a_persons_requests_count_and_plumbing_does_not() {
        let none = HeaderMap::new();
        assert!(counts(&Method::GET, "/", &none));
        assert!(counts(&Method::PUT, "/_dcs/files/a.txt", &none));
        for path in PLUMBING {
            assert!(!counts(&Method::GET, path, &none), "{path}");
            assert_eq!(of(&Method::GET, path, &none), Use::None, "{path}");
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

    #[test]
    fn a_preview_opened_is_input_and_its_apps_own_requests_are_work() {
        let mut navigate = HeaderMap::new();
        navigate.insert("sec-fetch-mode", HeaderValue::from_static("navigate"));
        assert_eq!(of(&Method::GET, "/ports/3000/", &navigate), Use::Input);
        let mut fetch = HeaderMap::new();
        fetch.insert("sec-fetch-mode", HeaderValue::from_static("cors"));
        for headers in [&fetch, &HeaderMap::new()] {
            assert_eq!(of(&Method::GET, "/ports/3000/api/poll", headers), Use::Work);
        }
        // Not a preview: a path that merely starts the same way.
        assert_eq!(of(&Method::GET, "/portsmouth", &fetch), Use::Input);
    }
}
