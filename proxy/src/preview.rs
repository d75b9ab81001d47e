//! Port previews at the edge: a workspace's `/ports/<n>/` runs someone's app, so it
//! never runs as the proxy's origin.
//!
//! - **Path mode** (default): `/github/<o>/<r>/ports/<n>/…` and
//!   `/instances/<id>/ports/<n>/…` are forwarded with [`SANDBOX`] added to every
//!   response (next to any policy the app sets: each policy is enforced, so the
//!   app's cannot loosen ours). Preview documents get an opaque origin: their
//!   scripts run, but cannot call `/api`, read the IDE or another workspace, or
//!   register service workers. A preview's `Set-Cookie` is kept to its own path.
//! - **Subdomain mode** (`--preview-domain`): the same paths answer a `303` to the
//!   preview's own host, `<n>-<workspace>.<domain>`, which gives the browser a nonce
//!   and gets from the main origin a one-time ticket bound to it ([`ticket`],
//!   `arrive`); that host exchanges it, in that browser only, for a host-only cookie
//!   ([`COOKIE_NAME`]) and serves the app at its root, unsandboxed (its origin is
//!   already foreign to the proxy's). The cookie remembers the access policy it was
//!   allowed under: under another one it opens nothing until decided again. The
//!   ticket, the nonce and the cookie are stripped from everything forwarded.
//! - **No loops**: a request that comes back to the proxy through a preview (a
//!   launcher marks what it sends to a preview, [`dcs_net::preview::mark`]) is
//!   refused before anything else, so `/ports/<the proxy's port>/api/me` is a 403.
//!
//! # Layout
//! - [`host`]: preview host names.
//! - [`ticket`]: tickets and cookies, signed and checked.
//! - `enter`: the main origin's side (path mode's sandbox, subdomain mode's redirect).
//! - `arrive`: how a browser gets into a preview host (lead, nonce, ticket, cookie).
//! - `serve`: the preview host's side.

pub mod host;
pub mod ticket;

mod arrive;
mod enter;
mod serve;

use std::net::SocketAddr;

use http::header::HeaderMap;
use http::{Request, Response};
use hyper::body::Incoming;

use crate::body::Body;
use crate::error::{Error, Result};
use crate::state::AppState;

pub use enter::main_origin;

/// The preview host's cookie: a signed grant for one preview host.
pub const COOKIE_NAME: &str = "dcs_preview";

/// The query parameter carrying a lead or a ticket to a preview host.
pub const TICKET_PARAM: &str = "dcs_preview_ticket";

/// The query parameter carrying a preview host's `state` (its browser's nonce,
/// hashed) to the main origin's preview path, for a ticket bound to it.
pub const STATE_PARAM: &str = "dcs_preview_state";

/// The policy every path-mode preview response carries: scripts, forms, popups,
/// dialogs and downloads work; `allow-same-origin` is never granted.
pub const SANDBOX: &str =
    "sandbox allow-scripts allow-forms allow-popups allow-modals allow-downloads";

/// What [`intercept`] decided.
#[derive(Debug)]
pub enum Intercept {
    /// Not a preview host: route the request as usual.
    Pass(Request<Incoming>),
    /// Answered here.
    Answer(Result<Response<Body>>),
}

/// Runs first for every request: refuses requests that came back through a preview,
/// and serves preview hosts (subdomain mode). Everything else passes.
pub async fn intercept(state: &AppState, req: Request<Incoming>, peer: SocketAddr) -> Intercept {
    if dcs_net::preview::looped(req.headers()) {
        return Intercept::Answer(Err(looped()));
    }
    let host = state
        .previews
        .domain
        .as_ref()
        .and_then(|domain| host::of_request(req.headers(), domain));
    match host {
        // Boxed: this future runs first for every request, and most are no preview's.
        Some(host) => Intercept::Answer(Box::pin(serve::serve(state, req, peer, host)).await),
        None => Intercept::Pass(req),
    }
}

/// Whether `headers` name a preview host (for the edge's own-host and origin rules:
/// a preview host is this proxy's, and its own origin).
pub fn is_preview_host(state: &AppState, headers: &HeaderMap) -> bool {
    state
        .previews
        .domain
        .as_ref()
        .is_some_and(|domain| host::of_request(headers, domain).is_some())
}

fn looped() -> Error {
    Error::Forbidden(
        "this request came through a workspace's port preview (/ports/<n>/) and reached the \
         proxy itself; a preview cannot address the proxy's own ports, only the apps running \
         in its workspace"
            .into(),
    )
}

/// Adds [`SANDBOX`] to a response, keeping any policy it has.
pub fn sandbox(headers: &mut HeaderMap) {
    headers.append(
        http::header::CONTENT_SECURITY_POLICY,
        http::HeaderValue::from_static(SANDBOX),
    );
}

#[cfg(test)]
mod tests {
    use http::header::CONTENT_SECURITY_POLICY;
    use http::HeaderValue;

    use super::*;

    #[test]
    fn the_sandbox_joins_the_apps_own_policy_and_never_allows_same_origin() {
        assert!(!SANDBOX.contains("allow-same-origin"));
        assert!(SANDBOX.starts_with("sandbox "));
        let mut h = HeaderMap::new();
        h.insert(
            CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'self'; sandbox allow-same-origin allow-scripts"),
        );
        sandbox(&mut h);
        let policies: Vec<&str> = h
            .get_all(CONTENT_SECURITY_POLICY)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        assert_eq!(
            policies,
            [
                "default-src 'self'; sandbox allow-same-origin allow-scripts",
                SANDBOX
            ],
            "both enforced: the app's cannot loosen ours"
        );
    }
}
