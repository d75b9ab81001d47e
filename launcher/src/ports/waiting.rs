//! A preview whose app does not answer (yet): a person who opened it before starting
//! the app, or while it restarts, gets a `502` page that reloads itself until the app
//! answers, less and less often (1 s, 1 s, 2 s, 4 s, 8 s, then every [`LONGEST`]
//! seconds: the time since the port's first failure of this streak). Only a browser's
//! navigation gets it; anything else (a script's fetch, an API client) gets the plain
//! `502`.
//!
//! The reload is the `Refresh` response header, not `<meta http-equiv="refresh">`: a
//! path-mode preview runs under the proxy's CSP `sandbox`, and Chromium ignores a meta
//! refresh in a document sandboxed without `allow-scripts`, while the header still
//! works.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use http::header::{HeaderMap, HeaderValue, ACCEPT, REFRESH};
use http::{Method, Response, StatusCode};

use crate::body::Body;
use crate::pages;

/// The longest wait between two reloads, in seconds.
pub const LONGEST: u64 = 10;

/// A port that has not failed for this long starts over with a short wait.
const FORGOTTEN: Duration = Duration::from_secs(30);

/// At most this many ports are remembered (a page of one's own, reloading, is one).
const REMEMBERED: usize = 64;

/// The ports whose app did not answer lately.
static STREAKS: Mutex<Streaks> = Mutex::new(Streaks::new());

/// Whether the request is a browser's navigation to a page (`GET`/`HEAD`, `Accept`
/// names `text/html`, `Sec-Fetch-Mode` is `navigate` when sent), which a reloading
/// page serves, rather than a script's request or an API client's.
pub fn is_navigation(method: &Method, headers: &HeaderMap) -> bool {
    let html = headers
        .get_all(ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("text/html"));
    let mode = headers.get("sec-fetch-mode");
    (method == Method::GET || method == Method::HEAD)
        && html
        && !pages::wants_json(headers)
        && mode.is_none_or(|m| m.as_bytes() == b"navigate")
}

/// The port's app answered: its next failure starts a new streak.
pub fn answered(port: u16) {
    let mut streaks = STREAKS.lock().unwrap_or_else(PoisonError::into_inner);
    if !streaks.0.is_empty() {
        streaks.answered(port);
    }
}

/// The answer when nothing answers on `port` (`why`: the connection's error): for a
/// navigation, a page that reloads itself; else the plain `502`, JSON if asked for.
pub fn not_answering(port: u16, why: &str, as_json: bool, navigation: bool) -> Response<Body> {
    let status = StatusCode::BAD_GATEWAY;
    if !navigation {
        let text = format!(
            "nothing answers on port {port} in the workspace ({why}); start your app and reload"
        );
        return pages::message(status, "error", &text, as_json);
    }
    let wait = STREAKS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .failed(port, Instant::now());
    let title = format!("Waiting for port {port}");
    let body = format!(
        "<h1>{title}</h1>\n<p class=\"err\">Nothing answers on port {port} in the workspace yet \
         ({}).</p>\n<p>Start your app: this page reloads itself in {wait} s (then less often, \
         at least every {LONGEST} s) and shows the app as soon as it answers.</p>",
        pages::escape(why)
    );
    let mut res = pages::html(status, pages::document(&title, &body));
    res.headers_mut().insert(REFRESH, HeaderValue::from(wait));
    res
}

/// One port's streak of failures.
#[derive(Debug, Clone, Copy)]
struct Streak {
    port: u16,
    first: Instant,
    last: Instant,
}

/// The streaks of failures of the ports failing lately.
#[derive(Debug, Default)]
struct Streaks(Vec<Streak>);

impl Streaks {
    const fn new() -> Self {
        Self(Vec::new())
    }

    /// Records a failure of `port` at `now`: the seconds until the page tries again,
    /// the time since the streak's first failure, from 1 to [`LONGEST`].
    fn failed(&mut self, port: u16, now: Instant) -> u64 {
        self.0
            .retain(|s| now.saturating_duration_since(s.last) < FORGOTTEN);
        let first = match self.0.iter_mut().find(|s| s.port == port) {
            Some(streak) => {
                streak.last = now;
                streak.first
            }
            None => {
                if self.0.len() >= REMEMBERED {
                    self.0.remove(0);
                }
                self.0.push(Streak {
                    port,
                    first: now,
                    last: now,
                });
                now
            }
        };
        now.saturating_duration_since(first)
            .as_secs()
            .clamp(1, LONGEST)
    }

    fn answered(&mut self, port: u16) {
        self.0.retain(|s| s.port != port);
    }
}

#[cfg(test)]
mod tests;
