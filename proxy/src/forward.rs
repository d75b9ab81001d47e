//! Forwarding a request to its workspace, as a sequence of named phases:
//! wake (activator) → rewrite request → send (pooled keep-alive connections; an
//! upgrade on a connection of its own, admitted under the tunnel cap) → upgrade or
//! stream the response back. Bodies are streamed both ways; nothing is buffered whole.
//!
//! # Layout
//! - [`headers`]: hop-by-hop, identity and `X-Forwarded-*` rewriting.
//! - [`upgrade`]: the tunnel of upgraded connections (closed by the idle policy).
//! - [`send`]: the send phase: the pooled client, and what a failure means.

pub mod headers;
pub mod send;
pub mod upgrade;

use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response, StatusCode, Uri};
use hyper::body::Incoming;
use tracing::warn;

use crate::activity::InFlight;
use crate::asked::Asked;
use crate::auth::Identity;
use crate::body::{self, Body};
use crate::error::{Error, Result};
use crate::runtime::WorkspaceSpec;
use crate::state::AppState;
use dcs_net::pace::{Pace, Paced};

/// A request bound for a workspace.
#[derive(Debug)]
pub struct Target {
    /// The workspace (whose, which, and what it runs).
    pub spec: WorkspaceSpec,
    /// The stripped prefix.
    pub prefix: String,
    /// Path and query to send upstream.
    pub rest: String,
    /// What the request's headers ask.
    pub asked: Asked,
}

/// How an exchange with a preview differs from one with the IDE.
#[derive(Debug, Default)]
pub struct Shape {
    /// A sandboxed preview's path on the main origin (`<prefix>/ports/<n>`): its
    /// root-relative `Location`s go back under it and its cookies stay under it.
    pub preview_path: Option<String>,
    /// A preview served at the root of a host of its own (subdomain mode).
    pub preview_root: bool,
}

/// Forwards `req` to the workspace `target.spec` for `identity`; a port preview goes
/// through [`crate::preview`]. The access policy is decided here, for every way a
/// workspace is opened (`/github/<o>/<r>/`, an instance's link, shared or not): a
/// caller it denies the workspace's repository gets a 403 naming the rule.
pub async fn forward(
    state: &AppState,
    req: Request<Incoming>,
    peer: SocketAddr,
    identity: &Identity,
    target: Target,
) -> Result<Response<Body>> {
    if let Some(repo) = &target.spec.instance.repo {
        state
            .policy
            .require(&identity.username, &identity.groups, repo)?;
    }
    // The progress paths, and the live progress page for a browser navigation to a
    // workspace that is not ready (`crate::progress`).
    if let Some(resp) = crate::progress::intercept(state, &req, &target).await? {
        return Ok(resp);
    }
    match dcs_net::preview::of_target(&target.rest) {
        Some(preview) => {
            // Boxed: the workspace's own traffic need not carry this future's size.
            Box::pin(crate::preview::main_origin(
                state, req, peer, identity, target, preview,
            ))
            .await
        }
        // Boxed: the futures of every level above this one (each moved, every byte
        // of it copied, once per request) need not carry the exchange's size.
        None => {
            Box::pin(exchange(
                state,
                req,
                peer,
                identity,
                target,
                Shape::default(),
            ))
            .await
        }
    }
}

/// Forwards `req` to `target` as `shape` says, without looking at the path.
pub async fn exchange(
    state: &AppState,
    mut req: Request<Incoming>,
    peer: SocketAddr,
    identity: &Identity,
    target: Target,
    shape: Shape,
) -> Result<Response<Body>> {
    let spec = &target.spec;
    // After an idle stop only a navigation wakes the workspace (`crate::resume`).
    let waking = crate::resume::Waking::of(req.method(), &target.rest, &target.asked);
    // The workspace's activity tracker, if it has one: looked up once per request.
    let known = state.activator.activity.peek(&spec.key);
    let held = crate::resume::hold(state, &spec.key, known.as_deref(), waking);
    if let Some(stopped) = held.await {
        return Ok(stopped);
    }
    let wants_html = target.asked.wants_html();
    let upgrade = target.asked.upgrade();
    // The path's own bytes become the URI's (no copy).
    let path = Uri::try_from(target.rest)
        .map_err(|_| Error::BadRequest("unusable request path".into()))?;
    // An upgrade the cap would refuse anyway wakes nothing.
    if upgrade.is_some() {
        if let Err(full) = crate::accept::tunnel_room() {
            return Ok(crate::accept::tunnel_refused(wants_html, &full));
        }
    }
    // Woken (or started, after the repository check) before anything is kept for
    // it: a request for a repository that does not exist leaves no tracker behind.
    let upstream = state.activator.upstream(spec).await?;
    // A tunnel holds its descriptors for as long as it is open: admitted below the cap.
    let tunnel = match upgrade {
        Some(_) => match crate::accept::admit_tunnel(&upstream, state.websocket_streams) {
            Ok(admitted) => Some(admitted),
            Err(full) => return Ok(crate::accept::tunnel_refused(wants_html, &full)),
        },
        None => None,
    };
    let stream = tunnel.as_ref().is_some_and(|t| t.stream);
    let tunnel_slot = tunnel.map(|t| t.slot);
    let tracker = known.unwrap_or_else(|| state.activator.activity.tracker(&spec.key));
    let in_flight = tracker.begin();
    let client_upgrade = upgrade.map(|_| hyper::upgrade::on(&mut req));
    // A tunnel ends with the sign-in that admitted it (`crate::auth::lease`).
    let lease = upgrade.map(|_| state.auth.lease(identity, req.headers(), req.uri()));
    // The `Host` the workspace sees: an absolute `Location` on it goes back under the prefix.
    let host = req.headers().get(http::header::HOST).cloned();
    let (parts, body) = req.into_parts();
    let rewrite = send::Rewrite {
        ctx: headers::RequestContext {
            peer,
            prefix: &target.prefix,
            identity,
            host: None,
            authority: "",
            upgrade,
            credentials: &state.previews.credentials,
            preview_root: shape.preview_root,
        },
        path,
        stream,
    };
    let sent = send::send(state, spec, upstream, parts, body, rewrite, waking);
    let mut resp = match sent.await? {
        send::Sent::Answer(resp, _sent) => resp,
        send::Sent::Held(held) => return Ok(held),
        send::Sent::Overloaded(message) => {
            return Ok(crate::accept::overloaded(wants_html, &message))
        }
    };

    let switching = resp.status() == StatusCode::SWITCHING_PROTOCOLS;
    let answered_under = shape.preview_path.as_deref().unwrap_or(&target.prefix);
    let host = host.as_ref().and_then(|h| h.to_str().ok());
    headers::rewrite_response(resp.headers_mut(), answered_under, host, switching);
    state
        .previews
        .credentials
        .confine_response(resp.headers_mut(), shape.preview_path.as_deref());
    if let (true, Some(client_upgrade), Some(lease)) = (switching, client_upgrade, lease) {
        let upstream_upgrade = hyper::upgrade::on(&mut resp);
        let held = dcs_net::upstream::Held::take(&mut resp);
        state.metrics.upgrades.inc();
        if stream {
            state.metrics.upgrade_streams.inc();
        }
        let open = state.metrics.tunnel_opened();
        tokio::spawn(async move {
            // Counted in `dcs_tunnels_open`, holding its place under the cap and its
            // launcher's HTTP/2 connection (if it is a stream of one) for as long as
            // this task runs.
            let (_open, _slot, _held) = (open, tunnel_slot, held);
            match tokio::try_join!(client_upgrade, upstream_upgrade) {
                Ok((client, upstream)) => {
                    upgrade::tunnel_upgraded(client, upstream, tracker, lease).await;
                }
                Err(err) => warn!(%err, "upgrade failed"),
            }
        });
        drop(in_flight);
        let (parts, _) = resp.into_parts();
        return Ok(Response::from_parts(parts, body::empty()));
    }
    let stall = Pace {
        timeout: state.limits.upstream_timeout,
        min_rate: 0,
    };
    Ok(resp.map(|b| {
        body::boxed(Tracked {
            inner: Paced::new(b, stall).0,
            _in_flight: in_flight,
        })
    }))
}

fn too_slow(pace: Pace) -> Error {
    Error::RequestTimeout(format!(
        "the request body arrived too slowly (it must start within {} and keep up at least {} bytes/s); the connection was closed",
        humantime::format_duration(pace.timeout),
        pace.min_rate
    ))
}

fn stalled(timeout: std::time::Duration) -> Error {
    Error::UpstreamTimeout(format!(
        "the workspace did not answer within {}; reload to try again",
        humantime::format_duration(timeout)
    ))
}

/// A response body that keeps its exchange counted as in flight until it is done.
struct Tracked<B> {
    inner: B,
    _in_flight: InFlight,
}

impl<B: http_body::Body<Data = Bytes> + Unpin> http_body::Body for Tracked<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<std::result::Result<http_body::Frame<Bytes>, B::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}
