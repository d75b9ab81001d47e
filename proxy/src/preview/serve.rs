//! The preview host's side (subdomain mode): a ticket is exchanged for the host's
//! cookie; a request with a valid cookie is forwarded to its workspace's
//! `/ports/<n>/`, the app at the host's root. Nothing else opens a preview host: the
//! main origin's session never reaches it (and would be stripped if it did).

use std::net::SocketAddr;

use http::header::{HOST, ORIGIN};
use http::request::Parts;
use http::{Method, Request, Response};
use hyper::body::Incoming;

use dcs_model::WorkspaceKind;
use dcs_net::preview::PREFIX;

use super::enter::{refused, see_other};
use super::host::PreviewHost;
use super::ticket::{Grant, Refusal};
use super::{COOKIE_NAME, TICKET_PARAM};
use crate::api::sharing::{opening, Opening};
use crate::asked::Asked;
use crate::body::Body;
use crate::error::{Error, Result};
use crate::forward::{self, Shape, Target};
use crate::runtime::WorkspaceSpec;
use crate::state::AppState;

/// Answers a request for the preview host `host`.
pub async fn serve(
    state: &AppState,
    req: Request<Incoming>,
    peer: SocketAddr,
    host: PreviewHost,
) -> Result<Response<Body>> {
    let (parts, body) = req.into_parts();
    let (ticket, query) = dcs_net::query::take(parts.uri.query(), TICKET_PARAM);
    let ticket = ticket.map(str::to_owned);
    let query = query.map(|q| format!("?{q}")).unwrap_or_default();
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
    if let Some(ticket) = ticket {
        // Absolute, so that a path such as `//elsewhere` stays a path on this host.
        let to = format!("{own}{path}{query}");
        return enter(state, &parts, &host, &ticket, https, &to);
    }
    if !same_origin(&parts, &own) {
        return Err(Error::Forbidden(format!(
            "a WebSocket or a change to this preview must come from its own page ({own})"
        )));
    }
    let grant = match session(state, &parts, &host.label) {
        Ok(grant) => grant,
        Err(Refusal::Expired(grant)) if navigation(&parts) => {
            // Back through the workspace's path for a new ticket (and a fresh sign-in check).
            return see_other(&format!("{}{path}{query}", grant.back), None);
        }
        Err(_) => {
            return Err(Error::Unauthorized(format!(
                "this preview host opens only from its workspace: open …/ports/{}/ on the IDE's address again",
                host.port
            )))
        }
    };
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
    let target = Target {
        spec,
        prefix: String::new(),
        rest: format!("{PREFIX}/{}{path}{query}", grant.port),
        asked: Asked::of(&parts.headers),
    };
    let shape = Shape {
        preview_path: None,
        preview_root: true,
    };
    let req = Request::from_parts(parts, body);
    forward::exchange(state, req, peer, &identity, target, shape).await
}

/// Redeems `ticket` for this host's cookie, then `303` to `to` (the same address,
/// absolute, without the ticket).
fn enter(
    state: &AppState,
    parts: &Parts,
    host: &PreviewHost,
    ticket: &str,
    https: bool,
    to: &str,
) -> Result<Response<Body>> {
    if !matches!(parts.method, Method::GET | Method::HEAD) {
        return Err(Error::BadRequest(
            "a preview link is opened with GET".into(),
        ));
    }
    let previews = &state.previews;
    let grant = previews.keys.redeem(ticket, &host.label).map_err(refused)?;
    let value = previews
        .keys
        .session(&grant, previews.session_ttl)
        .map_err(refused)?;
    // A browser session cookie: the grant inside expires on its own, and an expired
    // one still says where to get a new one.
    let cookie = format!(
        "{COOKIE_NAME}={value}; Path=/; HttpOnly; SameSite=Lax{}",
        if https { "; Secure" } else { "" }
    );
    see_other(to, Some(&cookie))
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
