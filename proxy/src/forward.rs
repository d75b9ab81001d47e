//! Forwarding a request to its workspace, as a sequence of named phases:
//! wake (activator) → connect → rewrite request → send → upgrade or stream the
//! response back. Bodies are streamed both ways; nothing is buffered whole.
//!
//! # Layout
//! - [`headers`]: hop-by-hop, identity and `X-Forwarded-*` rewriting.
//! - [`upgrade`]: WebSocket detection and the activity-counting tunnel.
//! - [`ws_scan`]: the client WebSocket frame scanner.

pub mod headers;
pub mod upgrade;
pub mod ws_scan;

use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response, StatusCode, Uri};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tracing::{debug, warn};

use crate::activity::InFlight;
use crate::auth::Identity;
use crate::body::{self, Body};
use crate::error::{Error, Result};
use crate::runtime::{Upstream, WorkspaceSpec};
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
}

/// Forwards `req` to the workspace `target.spec` for `identity`.
pub async fn forward(
    state: &AppState,
    mut req: Request<Incoming>,
    peer: SocketAddr,
    identity: &Identity,
    target: Target,
) -> Result<Response<Body>> {
    let spec = &target.spec;
    let tracker = state.activator.activity.tracker(&spec.key);
    let in_flight = tracker.begin();

    let (upstream, stream) = connect(state, spec).await?;

    let upgrade = dcs_net::hop::upgrade_requested(req.headers());
    let client_upgrade = upgrade.as_ref().map(|_| hyper::upgrade::on(&mut req));
    let ctx = headers::RequestContext {
        peer,
        prefix: &target.prefix,
        identity,
        host: upstream.host.as_deref(),
        authority: &upstream.authority,
        upgrade: upgrade.as_ref(),
    };
    headers::rewrite_request(req.headers_mut(), &ctx);
    *req.uri_mut() = target
        .rest
        .parse::<Uri>()
        .map_err(|_| Error::BadRequest("unusable request path".into()))?;
    *req.version_mut() = http::Version::HTTP_11;

    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| Error::Upstream(e.to_string()))?;
    tokio::spawn(async move {
        if let Err(err) = conn.with_upgrades().await {
            debug!(%err, "upstream connection ended with an error");
        }
    });
    // The request body keeps its pace; the answer must begin within the upstream
    // timeout once the body is sent.
    let limits = state.limits;
    let (parts, body) = req.into_parts();
    let (body, sent) = Paced::new(body, limits.request_body);
    let req = Request::from_parts(parts, body);
    let answer_due = async {
        sent.finished().await;
        tokio::time::sleep(limits.upstream_timeout).await;
    };
    let mut resp = tokio::select! {
        resp = sender.send_request(req) => resp.map_err(|e| {
            if sent.expired() {
                too_slow(limits.request_body)
            } else if sent.broken() {
                Error::BadRequest(
                    "the request body ended before it was complete; nothing was stored".into(),
                )
            } else {
                Error::Upstream(e.to_string())
            }
        })?,
        () = answer_due => return Err(stalled(limits.upstream_timeout)),
    };

    let switching = resp.status() == StatusCode::SWITCHING_PROTOCOLS;
    headers::rewrite_response(resp.headers_mut(), &target.prefix, switching);
    if let (true, Some(client_upgrade)) = (switching, client_upgrade) {
        let websocket = upgrade.as_ref().is_some_and(dcs_net::hop::is_websocket);
        let upstream_upgrade = hyper::upgrade::on(&mut resp);
        state.metrics.upgrades.inc();
        tokio::spawn(async move {
            match tokio::try_join!(client_upgrade, upstream_upgrade) {
                Ok((client, upstream)) => {
                    upgrade::tunnel(
                        TokioIo::new(client),
                        TokioIo::new(upstream),
                        tracker,
                        websocket,
                    )
                    .await;
                }
                Err(err) => warn!(%err, "upgrade failed"),
            }
        });
        drop(in_flight);
        let (parts, _) = resp.into_parts();
        return Ok(Response::from_parts(parts, body::empty()));
    }
    let stall = Pace {
        timeout: limits.upstream_timeout,
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

/// Wakes the workspace and connects to it. A refused connection to a cached
/// upstream (the workspace stopped or crashed) is retried once after asking the
/// runtime again; nothing of the request has been consumed at that point.
async fn connect(state: &AppState, spec: &WorkspaceSpec) -> Result<(Upstream, TcpStream)> {
    let upstream = state.activator.upstream(spec).await?;
    match TcpStream::connect(&upstream.authority).await {
        Ok(stream) => Ok((upstream, stream)),
        Err(err) => {
            debug!(workspace = %spec.key, %err, "cached upstream refused; asking the runtime again");
            state.activator.invalidate(&spec.key);
            let upstream = state.activator.upstream(spec).await?;
            let stream = TcpStream::connect(&upstream.authority)
                .await
                .map_err(|e| Error::Upstream(format!("cannot connect: {e}")))?;
            Ok((upstream, stream))
        }
    }
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
