//! [`Asked`]: what a request's headers ask about how it is answered, read once per
//! request in one pass over its headers: whether it is a browser that wants an
//! HTML page, whether it is a top-level navigation, whether it is background
//! traffic, and the protocol an upgrade asks for. The front reads it
//! ([`crate::server`]) and it travels with the request ([`crate::forward::Target`]),
//! so the rules below are the only place these headers are interpreted, and no
//! header is looked up again (a hashed look-up each, several times per request,
//! for headers that are mostly absent).
//!
//! A header sent more than once counts by its first value (`Connection` by all of
//! them); a value that is not visible ASCII counts as absent.

use http::header::{HeaderMap, HeaderValue};

/// `Sec-Fetch-Mode` and `Sec-Fetch-Dest`, as far as the rules care.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Said {
    /// Not sent (or unreadable): a client that is no browser, or an old one.
    #[default]
    Nothing,
    /// `navigate` (mode) or `document` (destination), in any case.
    Top,
    /// Anything else.
    Other,
}

impl Said {
    fn of(value: &HeaderValue, top: &str) -> Self {
        match value.to_str() {
            Err(_) => Said::Nothing,
            Ok(v) if v.eq_ignore_ascii_case(top) => Said::Top,
            Ok(_) => Said::Other,
        }
    }
}

/// What a request's headers ask (see the module docs).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Asked {
    /// `Accept` names `text/html`.
    accepts_html: bool,
    /// `X-Requested-With` was sent (XHR).
    requested_with: bool,
    /// `Sec-Fetch-Mode`.
    mode: Said,
    /// `Sec-Fetch-Dest`.
    dest: Said,
    /// `X-DCS-Background: 1`.
    background: bool,
    /// An `Origin` was sent (whatever it says; [`crate::edge`] judges it).
    origin: bool,
    /// The protocol of `Upgrade` when `Connection` names `upgrade`.
    upgrade: Option<HeaderValue>,
}

impl Asked {
    /// Reads `headers` (one pass).
    pub fn of(headers: &HeaderMap) -> Self {
        let mut asked = Self::default();
        let (mut seen_accept, mut seen_mode, mut seen_dest, mut seen_background) =
            (false, false, false, false);
        let mut connection_upgrade = false;
        let mut upgrade = None;
        for (name, value) in headers {
            match name.as_str() {
                "accept" if !seen_accept => {
                    seen_accept = true;
                    asked.accepts_html = value.to_str().is_ok_and(|a| a.contains("text/html"));
                }
                "x-requested-with" => asked.requested_with = true,
                "origin" => asked.origin = true,
                "sec-fetch-mode" if !seen_mode => {
                    seen_mode = true;
                    asked.mode = Said::of(value, "navigate");
                }
                "sec-fetch-dest" if !seen_dest => {
                    seen_dest = true;
                    asked.dest = Said::of(value, "document");
                }
                dcs_model::plumbing::BACKGROUND_HEADER if !seen_background => {
                    seen_background = true;
                    asked.background = value.as_bytes().trim_ascii() == b"1";
                }
                "connection" => connection_upgrade |= dcs_net::hop::names_upgrade(value),
                "upgrade" if upgrade.is_none() => upgrade = Some(value),
                _ => {}
            }
        }
        asked.upgrade = upgrade.filter(|_| connection_upgrade).cloned();
        asked
    }

    /// A browser navigation that wants an HTML page, rather than XHR, `fetch` or a
    /// script (which get JSON they can act on): `Accept` names `text/html`, no
    /// `X-Requested-With`, and `Sec-Fetch-Mode`, when sent, is `navigate`.
    pub fn wants_html(&self) -> bool {
        self.accepts_html && !self.requested_with && self.mode != Said::Other
    }

    /// A browser's navigation that says so: it wants HTML and sends
    /// `Sec-Fetch-Mode: navigate` (every current browser does). Scripts, `curl` and
    /// browsers without fetch metadata are not.
    pub fn is_navigation(&self) -> bool {
        self.wants_html() && self.mode == Said::Top
    }

    /// A request that may be a person's: a browser's top-level navigation (not a
    /// frame's), or a client that is no browser (no `Sec-Fetch-Mode`: curl, the CLI,
    /// an API client).
    pub fn may_be_a_person(&self) -> bool {
        match self.mode {
            Said::Nothing => true,
            Said::Top => self.dest != Said::Other,
            Said::Other => false,
        }
    }

    /// A request a browser page makes by itself, not a person's: its fetches,
    /// scripts, frames and beacons (not [`Self::may_be_a_person`]) and its
    /// WebSockets (a WebSocket handshake from a browser always has an `Origin`, and
    /// may have no fetch metadata: Chromium sends none on it).
    pub fn is_a_pages_own(&self) -> bool {
        !self.may_be_a_person() || (self.upgrade.is_some() && self.origin)
    }

    /// `X-DCS-Background: 1`: traffic no person made (a poll, a refresh).
    pub fn is_background(&self) -> bool {
        self.background
    }

    /// The protocol the request asks to switch to (`Upgrade`, when `Connection`
    /// names `upgrade`).
    pub fn upgrade(&self) -> Option<&HeaderValue> {
        self.upgrade.as_ref()
    }
}

#[cfg(test)]
mod tests;
