//! The preview host's side (subdomain mode): a browser gets in through
//! [`super::arrive`] (a lead, this browser's nonce, a ticket bound to it, the host's
//! cookie); a request with a valid cookie is forwarded to its workspace's
//! `/ports/<n>/`, the app at the host's root. Nothing else opens a preview host: the
//! main origin's session never reaches it (and would be stripped if it did).
//!
//! Every request is decided again before anything is woken: a cookie allowed under
//! another access policy than the proxy's now opens nothing (a navigation is sent
//! back to the main origin to be decided anew), an instance's sharing is asked
//! again, and a navigation while the workspace is not running goes to the main
//! origin's preview path, where the live progress page follows its start.

use std::net::SocketAddr;

use http::header::{HOST, ORIGIN};
use http::request::Parts;
use http::{Method, Request, Response};
use hyper::body::Incoming;

use dcs_model::WorkspaceKind;
use dcs_net::preview::PREFIX;

use super::arrive::{self, Here};
use super::enter::see_other;
use super::host::PreviewHost;
use super::ticket::{Grant, Refusal};
use super::{COOKIE_NAME, TICKET_PARAM};
use crate::api::sharing::{opening, Opening};
use crate::asked::Asked;
use crate::body::Body;
use crate::error::{Error, Result};
use crate::forward::{self, Shape, Target};
use crate::runtime::{Status, WorkspaceSpec};
use crate::state::AppState;

/// Answers a request for the preview host `host`.
pub async fn serve(
    state: &AppState,
    req: Request<Incoming>,
    peer: SocketAddr,
    host: PreviewHost,
) -> Result<Response<Body>> {
    let (mut parts, body) = req.into_parts();
    let (ticket, query) = dcs_net::query::take(parts.uri.query(), TICKET_PARAM);
    let ticket = ticket.map(str::to_owned);
    let path = parts.uri.path().to_owned();
    let https = crate::instances::secure_cookie(&state.api.cookie, &parts, peer);
    let own = format!(
        "{}://{}",
        if https { "https" } else { "http" },
        parts
            .headers
            .get(HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("")
    );
    let here = Here {
        label: &host.label,
        https,
        own: &own,
        path: &path,
        query: query.as_deref(),
    };
    if let Some(ticket) = ticket {
        return arrive::enter(state, &parts, &here, &ticket);
    }
    if !same_origin(&parts, &own) {
        return Err(Error::Forbidden(format!(
            "a WebSocket or a change to this preview must come from its own page ({own})"
        )));
    }
    let navigation = navigation(&parts);
    let grant = match session(state, &parts, &host.label) {
        Ok(grant) => grant,
        // Back through the workspace's path for a new ticket (and a fresh sign-in check).
        Err(Refusal::Expired(grant)) if navigation => return arrive::sign_in(&grant, &here),
        Err(_) => {
            return Err(Error::Unauthorized(format!(
                "this preview host opens only from its workspace: open …/ports/{}/ on the IDE's address again",
                host.port
            )))
        }
    };
    if grant.policy != state.policy.fingerprint() {
        // Allowed under another access policy: decided again on the main origin, which
        // knows all of the caller's groups (the cookie may not).
        if navigation {
            return arrive::sign_in(&grant, &here);
        }
        return Err(Error::Forbidden(format!(
            "the access policy changed since this preview was opened: open …/ports/{}/ on the IDE's address again",
            host.port
        )));
    }
    let identity = grant
        .who
        .identity()
        .ok_or_else(|| Error::Unauthorized("the preview cookie names no user".into()))?;
    let spec = match &grant.key.kind {
        WorkspaceKind::Repo(_) => WorkspaceSpec::for_repo(grant.key.clone()),
        WorkspaceKind::Instance(id) => {
            let runtime = state.activator.runtime().as_ref();
            // Who may open it is asked again: its owner may have stopped sharing it.
            let found = state.instances.lookup(runtime, id).await?;
            match found {
                Some((key, spec))
                    if key == grant.key
                        && opening(state, &identity, &key, &spec) == Opening::Yes =>
                {
                    WorkspaceSpec::new(key, spec)
                }
                _ => return Err(Error::NotFound(format!("instance {id} is not open to you"))),
            }
        }
    };
    let asked = Asked::of(&parts.headers);
    if parts.method == Method::GET && asked.is_navigation() && !running(state, &spec).await? {
        // The progress page polls its workspace's own paths, which on this host are
        // the app's: it is shown on the main origin's preview path, and moves on to
        // the preview (through a new ticket) once the workspace is ready.
        return see_other(&format!("{}{}", grant.back, here.target()), &[]);
    }
    let rest = format!("{PREFIX}/{}{}", grant.port, here.target());
    arrive::strip_request(&mut parts.headers);
    let target = Target {
        spec,
        prefix: String::new(),
        rest,
        asked,
    };
    let shape = Shape {
        preview_path: None,
        preview_root: true,
    };
    let req = Request::from_parts(parts, body);
    let mut resp = forward::exchange(state, req, peer, &identity, target, shape).await?;
    arrive::strip_response(resp.headers_mut());
    Ok(resp)
}

/// Whether `spec`'s workspace runs now.
async fn running(state: &AppState, spec: &WorkspaceSpec) -> Result<bool> {
    Ok(state.activator.status(&spec.key).await? == Status::Running)
}

/// The grant of the first of the request's preview cookies that opens this host; an
/// expired one if that is all there is.
fn session(state: &AppState, parts: &Parts, label: &str) -> Result<Grant, Refusal> {
    let mut refusal = Refusal::Invalid;
    for pair in dcs_net::cookies::pairs(&parts.headers) {
        let Some((name, value)) = pair.split_once('=') else {
            continue;
        };
        if name.trim() != COOKIE_NAME {
            continue;
        }
        match state.previews.keys.check_session(value.trim(), label) {
            Ok(grant) => return Ok(grant),
            Err(expired @ Refusal::Expired(_)) => refusal = expired,
            Err(_) => {}
        }
    }
    Err(refusal)
}

/// A browser opening a page (sent back for a new ticket rather than refused).
fn navigation(parts: &Parts) -> bool {
    matches!(parts.method, Method::GET | Method::HEAD) && crate::pages::wants_html(&parts.headers)
}

/// Whether a WebSocket or state-changing request comes from `own` origin: `Origin`
/// equal to it, or (no `Origin`) a `Sec-Fetch-Site` of `same-origin`/`none` or none.
fn same_origin(parts: &Parts, own: &str) -> bool {
    let changes = !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS)
        || dcs_net::hop::upgrade_requested(&parts.headers).is_some();
    if !changes {
        return true;
    }
    let text = |name| parts.headers.get(name).and_then(|v| v.to_str().ok());
    match text(ORIGIN) {
        Some(origin) => origin.eq_ignore_ascii_case(own),
        None => text(dcs_net::names::SEC_FETCH_SITE).is_none_or(|s| {
            s.eq_ignore_ascii_case("same-origin") || s.eq_ignore_ascii_case("none")
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(method: Method, headers: &[(&'static str, &'static str)]) -> Parts {
        let mut b = Request::builder().method(method).uri("/x");
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).expect("request").into_parts().0
    }

    #[test]
    fn changes_and_websockets_must_come_from_the_preview_itself() {
        let own = "http://9998-ws-a.preview.localhost:8080";
        let ws = [("connection", "upgrade"), ("upgrade", "websocket")];
        assert!(same_origin(
            &parts(Method::GET, &[("origin", "http://evil.example")]),
            own
        ));
        assert!(same_origin(&parts(Method::POST, &[("origin", own)]), own));
        assert!(same_origin(
            &parts(
                Method::POST,
                &[("origin", "HTTP://9998-WS-A.preview.localhost:8080")]
            ),
            own
        ));
        for refused in [
            parts(Method::POST, &[("origin", "http://127.0.0.1:8080")]),
            parts(Method::POST, &[("origin", "null")]),
            parts(
                Method::DELETE,
                &[("origin", "http://9999-ws-a.preview.localhost:8080")],
            ),
            parts(Method::PUT, &[("sec-fetch-site", "same-site")]),
            parts(
                Method::GET,
                &[
                    ws[0],
                    ws[1],
                    ("origin", "http://9999-ws-b.preview.localhost:8080"),
                ],
            ),
        ] {
            assert!(!same_origin(&refused, own), "{refused:?}");
        }
        assert!(same_origin(
            &parts(Method::GET, &[ws[0], ws[1], ("origin", own)]),
            own
        ));
        assert!(same_origin(&parts(Method::POST, &[]), own), "not a browser");
    }
}
