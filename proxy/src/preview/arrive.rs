//! How a browser gets into a preview host (subdomain mode), OAuth-`state` style, so
//! that a ticket opens the host only in the browser it was made for:
//!
//! 1. the main origin sends a signed-in caller to the preview host with a lead;
//! 2. the preview host gives this browser a nonce (a short-lived, host-only,
//!    `HttpOnly` cookie, [`nonce_cookie`]) and sends it back to the main origin's
//!    preview path with the nonce's hash as `dcs_preview_state` ([`sign_in`]; an
//!    expired cookie, or one allowed under another access policy, starts here too);
//! 3. the main origin decides again and makes a ticket bound to that hash;
//! 4. the preview host redeems it only if this browser holds the nonce, clears the
//!    nonce and sets the host's session cookie ([`enter`]).
//!
//! A ticket (or a lead) sent to someone else opens nothing for them: their browser
//! holds no nonce of the sender's.

use std::time::Duration;

use http::header::{HeaderMap, SET_COOKIE};
use http::request::Parts;
use http::{HeaderValue, Method, Response};

use super::enter::{refused, see_other};
use super::ticket::{self, Grant, Refusal};
use super::{COOKIE_NAME, STATE_PARAM};
use crate::body::Body;
use crate::error::{Error, Result};
use crate::state::AppState;

/// The nonce's cookie over http.
const NONCE: &str = "dcs_preview_nonce";
/// The nonce's cookie over https: no other host (whose app is someone's) can plant
/// one with `Domain=` (browsers refuse that attribute on a `__Host-` cookie).
const HOST_NONCE: &str = "__Host-dcs_preview_nonce";
/// How long a nonce waits for its ticket: a sign-in at the main origin, or its
/// progress page, may come in between.
const NONCE_TTL: Duration = Duration::from_secs(600);

/// A request to a preview host, as its answers need it.
#[derive(Debug)]
pub struct Here<'a> {
    /// The host's label.
    pub label: &'a str,
    /// Reached over https (its cookies are `Secure`).
    pub https: bool,
    /// `<scheme>://<host[:port]>`.
    pub own: &'a str,
    /// The path asked for.
    pub path: &'a str,
    /// The query asked for, without the ticket.
    pub query: Option<&'a str>,
}

impl Here<'_> {
    /// `<path>[?<query>]`.
    pub fn target(&self) -> String {
        match self.query {
            Some(q) => format!("{}?{q}", self.path),
            None => self.path.to_owned(),
        }
    }
}

/// The name of the nonce's cookie.
pub fn nonce_cookie(https: bool) -> &'static str {
    if https {
        HOST_NONCE
    } else {
        NONCE
    }
}

/// Answers a request carrying `token` (a lead or a ticket): [`sign_in`] for a lead;
/// for a ticket made for this browser, the host's cookie and a `303` to the same
/// address without it.
pub fn enter(
    state: &AppState,
    parts: &Parts,
    here: &Here<'_>,
    token: &str,
) -> Result<Response<Body>> {
    if !matches!(parts.method, Method::GET | Method::HEAD) {
        return Err(Error::BadRequest(
            "a preview link is opened with GET".into(),
        ));
    }
    let keys = &state.previews.keys;
    match keys.follow(token, here.label) {
        // A lead only says where to get a ticket, so an old one still does.
        Ok(grant) => return sign_in(&grant, here),
        Err(Refusal::Expired(grant)) => return sign_in(&grant, here),
        Err(Refusal::Invalid) => {}
        Err(why) => return Err(refused(why)),
    }
    let name = nonce_cookie(here.https);
    let nonces = dcs_net::cookies::pairs(&parts.headers)
        .filter_map(|pair| pair.split_once('='))
        .filter(|(n, _)| n.trim() == name)
        .map(|(_, value)| value.trim());
    let grant = keys.redeem(token, here.label, nonces).map_err(refused)?;
    let value = keys
        .session(&grant, state.previews.session_ttl)
        .map_err(refused)?;
    let secure = if here.https { "; Secure" } else { "" };
    // A browser session cookie: the grant inside expires on its own, and an expired
    // one still says where to get a new one.
    let cookie = format!("{COOKIE_NAME}={value}; Path=/; HttpOnly; SameSite=Lax{secure}");
    let spent = format!("{name}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax{secure}");
    // Absolute, so that a path such as `//elsewhere` stays a path on this host.
    see_other(&format!("{}{}", here.own, here.target()), &[cookie, spent])
}

/// A new nonce for this browser, and a `303` to `grant`'s preview path on the main
/// origin (the same path and query) with its hash, for a ticket bound to it.
pub fn sign_in(grant: &Grant, here: &Here<'_>) -> Result<Response<Body>> {
    let nonce = ticket::nonce().map_err(refused)?;
    let cookie = format!(
        "{}={nonce}; Path=/; Max-Age={}; HttpOnly; SameSite=Lax{}",
        nonce_cookie(here.https),
        NONCE_TTL.as_secs(),
        if here.https { "; Secure" } else { "" }
    );
    let location = format!(
        "{}{}?{}{STATE_PARAM}={}",
        grant.back,
        here.path,
        here.query.map(|q| format!("{q}&")).unwrap_or_default(),
        ticket::bind(&nonce)
    );
    see_other(&location, &[cookie])
}

/// Whether `name` is a nonce's cookie (in any case): never forwarded to an app, nor
/// set by one.
fn is_nonce(name: &str) -> bool {
    name.eq_ignore_ascii_case(NONCE) || name.eq_ignore_ascii_case(HOST_NONCE)
}

/// Removes the nonce's cookies from a request bound for the app.
pub fn strip_request(headers: &mut HeaderMap) {
    dcs_net::cookies::retain(headers, |name| !is_nonce(name));
}

/// Removes an app's `Set-Cookie` of a nonce's name.
pub fn strip_response(headers: &mut HeaderMap) {
    let sets_nonce =
        |v: &HeaderValue| is_nonce(dcs_net::cookies::set_cookie_name(v.to_str().unwrap_or("")));
    if !headers.get_all(SET_COOKIE).iter().any(sets_nonce) {
        return;
    }
    let kept: Vec<HeaderValue> = headers
        .get_all(SET_COOKIE)
        .iter()
        .filter(|v| !sets_nonce(v))
        .cloned()
        .collect();
    headers.remove(SET_COOKIE);
    for v in kept {
        headers.append(SET_COOKIE, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nonce_never_reaches_an_app_nor_comes_from_one() {
        let mut h = HeaderMap::new();
        h.insert(
            http::header::COOKIE,
            HeaderValue::from_static("a=1; dcs_preview_nonce=n; __Host-dcs_preview_nonce=m; b=2"),
        );
        strip_request(&mut h);
        assert_eq!(h[http::header::COOKIE], "a=1; b=2");
        for v in [
            "x=1; Path=/",
            "dcs_preview_nonce=planted; Domain=preview.localhost",
            "y=2",
        ] {
            h.append(SET_COOKIE, HeaderValue::from_static(v));
        }
        strip_response(&mut h);
        let kept: Vec<_> = h.get_all(SET_COOKIE).iter().collect();
        assert_eq!(kept, ["x=1; Path=/", "y=2"]);
        assert_eq!(
            (nonce_cookie(true), nonce_cookie(false)),
            (HOST_NONCE, NONCE)
        );
    }
}
