//! The HTTP front: accepting connections and graceful shutdown ([`listen`]),
//! answering each request in named phases (see [`handle`]), the access log.

mod listen;

pub use listen::{run, ANNOUNCE, DRAIN};

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use http::header::{CACHE_CONTROL, CONNECTION, CONTENT_TYPE, LOCATION};
use http::{HeaderValue, Request, Response, StatusCode};
use hyper::body::Incoming;

use crate::asked::Asked;
use crate::body::{full, Body};
use crate::edge::{self, Ask, Scope};
use crate::error::{Error, Result};
use crate::forward::{self, Target};
use crate::pages;
use crate::route::{self, Route};
use crate::runtime::WorkspaceSpec;
use crate::state::AppState;
use dcs_model::WorkspaceKey;

/// Largest request head (request line + headers) accepted; more gets 431.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;

/// Longest request target (path and query) accepted; longer gets 414.
pub const MAX_TARGET_BYTES: usize = 8 * 1024;

/// Answers one request from `peer` that came in on `local`. Never fails: errors
/// become pages. The phases, in order; each may answer instead of the next:
/// 1. **head**: a request head over [`MAX_HEAD_BYTES`] (431) or a target over
///    [`MAX_TARGET_BYTES`] (414) goes no further.
/// 2. **preview**: a request that came back through a preview (403), and every
///    request for a preview host (subdomain mode: its own origin and cookie), is
///    answered by [`crate::preview::intercept`].
/// 3. **route**: the path says where the request goes ([`route::parse`]; 400 for
///    paths that could mean something else).
/// 4. **edge**: the host is ours (421 under `--auth none`) and a write or upgrade
///    comes from our own origin (403): [`edge::decide`].
/// 5. **dispatch** by route, where each route's handler runs identity (`auth`) →
///    policy → limits and the repository check (activator, API) → forward.
/// 6. **log**: the access log line and the request metrics.
///
/// All of it runs under the request's id ([`crate::telemetry::request_id`]), which
/// error pages show, the log lines carry and `X-Request-Id` returns.
///
/// The request's future is moved several times on its way to the connection, so it
/// is kept small: no async function wraps the request id's scope (one that awaits a
/// future held in a variable, or passed to another, holds it twice), and the routes
/// other than the workspace's are boxed ([`dispatch`]).
pub fn handle(
    state: Arc<AppState>,
    req: Request<Incoming>,
    peer: SocketAddr,
    local: SocketAddr,
) -> impl Future<Output = std::result::Result<Response<Body>, Infallible>> {
    let id = crate::telemetry::request_id(req.headers(), peer, &state.edge.site.trusted_proxies);
    let header = HeaderValue::from_str(&id).ok();
    crate::telemetry::with_request_id(id, async move {
        let mut resp = answer(&state, req, peer, local).await;
        if let Some(v) = header {
            resp.headers_mut()
                .insert(crate::telemetry::REQUEST_ID_HEADER, v);
        }
        Ok(resp)
    })
}

/// [`handle`]'s phases, under the request's id.
async fn answer(
    state: &AppState,
    req: Request<Incoming>,
    peer: SocketAddr,
    local: SocketAddr,
) -> Response<Body> {
    let began = Instant::now();
    let method = req.method().clone();
    // Only the path is logged: query strings may carry tokens. The URI is kept by a
    // reference to the bytes hyper read, not copied.
    let uri = req.uri().clone();
    let path = uri.path();
    let asked = Asked::of(req.headers());
    let wants_html = asked.wants_html();
    let answer = async {
        check_head(&req)?;
        // Requests back through a preview, and preview hosts (which have their own
        // origin and cookie): answered by the preview module before route and edge.
        let req = match crate::preview::intercept(state, req, peer).await {
            crate::preview::Intercept::Pass(req) => req,
            crate::preview::Intercept::Answer(answer) => return answer,
        };
        let route = route::parse(req.uri().path(), req.uri().query())?;
        let ask = Ask::of(
            &req,
            &asked,
            Scope::of(&route),
            &state.edge.site,
            peer,
            local,
        );
        edge::decide(&state.edge.site, &ask).check()?;
        dispatch(state, req, route, peer, asked).await
    };
    let mut resp = match answer.await {
        Ok(resp) => resp,
        // Under /api every answer is JSON, errors included.
        Err(err) if route::is_api(path) => crate::api::ApiErr::from(err).into_response(),
        Err(err) => pages::rescue(&err, wants_html),
    };
    // The rest of a too-slow body is not waited for; and while shutting down, a
    // client's next request goes to a new connection (another replica's, once the
    // balancers know): the connection ends here.
    if resp.status() == StatusCode::REQUEST_TIMEOUT
        || (state.draining.load(Ordering::Relaxed)
            && resp.status() != StatusCode::SWITCHING_PROTOCOLS)
    {
        resp.headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
    }
    state.metrics.count_request(resp.status());
    crate::telemetry::access::Answered {
        peer,
        method: method.as_str(),
        path: truncate(path, 200),
        status: resp.status().as_u16(),
        ms: began.elapsed().as_millis() as u64,
    }
    .log();
    resp
}

/// The size of `req`'s head as sent, its request target `target` bytes long:
/// "METHOD target HTTP/1.1\r\n", a "name: value\r\n" for each header, "\r\n".
pub(crate) fn head_bytes<B>(req: &Request<B>, target: usize) -> usize {
    let headers: usize = req
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    req.method().as_str().len() + target + 12 + headers + 2
}

/// Phase 1: the size of the request head and of its target.
fn check_head<B>(req: &Request<B>) -> Result<()> {
    let target = req
        .uri()
        .path_and_query()
        .map_or(req.uri().to_string().len(), |p| p.as_str().len());
    if target > MAX_TARGET_BYTES {
        return Err(Error::UriTooLong(format!(
            "the address (path and query) is {target} bytes long; at most {MAX_TARGET_BYTES} are accepted"
        )));
    }
    let head = head_bytes(req, target);
    if head > MAX_HEAD_BYTES {
        return Err(Error::HeadTooLarge(format!(
            "the request headers are {} KiB; at most {} KiB are accepted (a cookie or header \
             too large?)",
            head.div_ceil(1024),
            MAX_HEAD_BYTES / 1024
        )));
    }
    Ok(())
}

/// Phase 5: the route's handler.
async fn dispatch(
    state: &AppState,
    req: Request<Incoming>,
    route: Route,
    peer: SocketAddr,
    asked: Asked,
) -> Result<Response<Body>> {
    match route {
        Route::Healthz => Ok(text(StatusCode::OK, "ok\n")),
        Route::Readyz => Ok(readiness(state)),
        Route::Metrics if state.metrics_elsewhere => Ok(text(StatusCode::NOT_FOUND, "not found\n")),
        Route::Metrics => Ok(crate::metrics_listen::metrics_response(state)),
        Route::Redirect(location) => Ok(redirect(StatusCode::PERMANENT_REDIRECT, &location)),
        // A GitHub page's address pasted after the workspace's (`…/tree/main`,
        // `…/pull/12`): a person who opens it lands in the workspace, not on the
        // IDE's 404; anything else (no IDE path has these names) is passed on.
        Route::Workspace { prefix, rest, .. }
            if req.method() == http::Method::GET
                && asked.wants_html()
                && asked.may_be_a_person()
                && route::is_github_page(&rest) =>
        {
            let mut resp = redirect(StatusCode::SEE_OTHER, &[prefix.as_str(), "/"].concat());
            resp.headers_mut()
                .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
            Ok(resp)
        }
        // The other routes' futures are boxed, so the workspace route's (the one that
        // carries the traffic) is not as large as the largest of them, and cheaper to
        // move on every request.
        // Sign-in start, callback and sign-out: no auth check (they are how one signs in).
        Route::Outpost => Box::pin(state.auth.outpost(req, peer)).await,
        Route::Home => Box::pin(crate::home::serve(state, req, peer)).await,
        Route::HomeScript => Ok(crate::home::script()),
        Route::Api => Ok(Box::pin(crate::api::handle(state, req, peer)).await),
        Route::Instance {
            id,
            prefix,
            rest,
            query,
        } => {
            Box::pin(crate::instances::serve(
                state, req, peer, id, prefix, rest, query,
            ))
            .await
        }
        Route::ProgressPush { .. } if state.pushes_elsewhere => {
            Ok(text(StatusCode::NOT_FOUND, "not found\n"))
        }
        Route::ProgressPush { name } => {
            let runtime = state.activator.runtime();
            Ok(Box::pin(crate::progress::push::handle(runtime.as_ref(), req, &name)).await)
        }
        Route::NotFound => Err(crate::error::Error::NotFound(format!(
            "nothing is served at {}; open /github/<owner>/<repo>/ (or see /api/openapi.json)",
            truncate(req.uri().path(), 200)
        ))),
        Route::Workspace { repo, prefix, rest } => {
            let (parts, body) = req.into_parts();
            let identity = state.auth.authenticate(&parts, peer).await?;
            let req = Request::from_parts(parts, body);
            let key = WorkspaceKey::new(identity.user.clone(), repo);
            let spec = WorkspaceSpec::for_repo(key);
            let target = Target {
                spec,
                prefix,
                rest,
                asked,
            };
            forward::forward(state, req, peer, &identity, target).await
        }
    }
}

/// `/readyz`: 503 while shutting down, and until the runtime can serve (Knative: its
/// watch cache loaded once; see [`crate::runtime::Runtime::ready`]); else 200. Notes
/// that something watches readiness (see [`run`]).
fn readiness(state: &AppState) -> Response<Body> {
    state.readiness_asked.store(true, Ordering::SeqCst);
    if state.draining.load(Ordering::SeqCst) {
        return text(StatusCode::SERVICE_UNAVAILABLE, "draining\n");
    }
    match state.activator.runtime().ready() {
        Ok(()) => text(StatusCode::OK, "ready\n"),
        Err(why) => text(
            StatusCode::SERVICE_UNAVAILABLE,
            &format!("not ready: {why}\n"),
        ),
    }
}

/// An empty `status` answer sending the client to `location` (every redirect the
/// router decides).
fn redirect(status: StatusCode, location: &str) -> Response<Body> {
    let mut resp = text(status, "");
    if let Ok(v) = HeaderValue::from_str(location) {
        resp.headers_mut().insert(LOCATION, v);
    }
    resp
}

fn text(status: StatusCode, body: &str) -> Response<Body> {
    let mut resp = Response::new(full(body.to_owned()));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

/// At most `max` characters of `s`.
pub(crate) fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        // No more bytes than `max`, so no more characters (every request's path).
        return s;
    }
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncate_keeps_at_most_max_characters_on_a_character_boundary() {
        assert_eq!(truncate("/github/acme/hello/", 200), "/github/acme/hello/");
        assert_eq!(truncate("abcdef", 6), "abcdef");
        assert_eq!(truncate("abcdef", 3), "abc");
        assert_eq!(truncate("", 0), "");
        // Fewer characters than bytes: kept whole up to `max` characters.
        assert_eq!(truncate("ééé", 3), "ééé");
        assert_eq!(truncate("ééé", 4), "ééé");
        assert_eq!(truncate("éééé", 2), "éé");
        assert_eq!(truncate(&"é".repeat(300), 200), "é".repeat(200));
    }

    /// The request's future is moved several times per request (into hyper's
    /// connection among others), every byte of it copied each time: 26 KiB of it,
    /// before [`handle`] stopped holding the answer twice and the cold routes were
    /// boxed, cost ~12% of the proxy's instructions per small request; 10 KiB before
    /// the exchange with the workspace was boxed (`forward::forward`).
    #[test]
    fn the_request_future_stays_small() {
        fn size<F: Future>(
            _: impl Fn(Arc<AppState>, Request<Incoming>, SocketAddr, SocketAddr) -> F,
        ) -> usize {
            std::mem::size_of::<F>()
        }
        let bytes = size(handle);
        assert!(bytes <= 6 * 1024, "the request future is {bytes} bytes");
    }
}
