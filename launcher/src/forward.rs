//! Forwarding one request to a local HTTP server (the IDE, or a port preview) as a
//! sequence of small phases: rewrite the request (hop-by-hop headers, the path) →
//! send (pooled keep-alive connections; an upgrade on a connection of its own) →
//! stream the response back, or tunnel both ways after a `101`.
//!
//! Bodies stream in both directions; nothing is buffered whole. The `Host` header is
//! the browser's, unchanged (see [`headers`]). Tunnels end when the launcher drains.
//!
//! Hop-by-hop headers, upgrade detection, the pooled client ([`dcs_net::upstream`]:
//! `TCP_NODELAY`, a connect timeout, a bounded idle pool per port) and the tunnel are
//! [`dcs_net`]'s, shared with the proxy.

use std::net::SocketAddr;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use dcs_net::upstream::{Failure, Kind, Pool, PoolConfig};
use dcs_net::{hop, tunnel};
use http::uri::PathAndQuery;
use http::{Request, Response, StatusCode, Uri};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tracing::debug;

use crate::activity::classify::Classifier;
use crate::activity::Activity;
use crate::body::{self, Body, BoxError};
use crate::error::{Error, Result};

/// How long connecting to a local server may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long an idle connection to a local server is kept: below Node's default
/// keep-alive timeout (5 s), after which code-server and most dev servers close it.
const IDLE_TIMEOUT: Duration = Duration::from_secs(4);

/// The launcher's one client to the IDE and the preview apps.
static POOL: LazyLock<Pool<Incoming>> = LazyLock::new(|| {
    Pool::new(&PoolConfig {
        max_idle_per_host: 16,
        idle_timeout: IDLE_TIMEOUT,
        connect_timeout: CONNECT_TIMEOUT,
        ..PoolConfig::default()
    })
});

/// Sends `req` to the HTTP server at `to`, with its path and query replaced by
/// `path` when given. `drain` ends an upgraded tunnel when the launcher shuts down.
pub async fn forward(
    mut req: Request<Incoming>,
    to: SocketAddr,
    path: Option<PathAndQuery>,
    drain: watch::Receiver<bool>,
) -> Result<Response<Body>> {
    let upgrade = hop::upgrade_requested(req.headers());
    // The idle clock, put there by the front: a tunnel's client messages are
    // classified for it ([`crate::activity::classify`]).
    let activity = req.extensions().get::<Arc<Activity>>().cloned();
    let client_upgrade = upgrade.as_ref().map(|_| hyper::upgrade::on(&mut req));
    hop::strip(req.headers_mut(), upgrade.as_ref());
    let path = match path {
        Some(p) => p,
        None => req
            .uri()
            .path_and_query()
            .cloned()
            .unwrap_or_else(|| PathAndQuery::from_static("/")),
    };
    *req.uri_mut() = Uri::from(path);
    *req.version_mut() = http::Version::HTTP_11;

    let authority = to.to_string();
    let sent = if upgrade.is_some() {
        POOL.send_upgrade(&authority, req).await
    } else {
        POOL.send(&authority, req).await
    };
    let mut resp = sent.map_err(|failure| bad_gateway(to, &failure))?;

    if resp.status() == StatusCode::SWITCHING_PROTOCOLS {
        let Some(client_upgrade) = client_upgrade else {
            return Err(Error::BadGateway(format!(
                "{to} switched protocols unasked"
            )));
        };
        let upstream_upgrade = hyper::upgrade::on(&mut resp);
        tokio::spawn(tunnel(client_upgrade, upstream_upgrade, drain, activity));
        let (parts, _) = resp.into_parts();
        return Ok(Response::from_parts(parts, body::empty()));
    }
    hop::strip(resp.headers_mut(), None);
    Ok(resp.map(|b| b.map_err(BoxError::from).boxed_unsync()))
}

/// The `502` of a failed exchange with `to`, saying how it failed.
fn bad_gateway(to: SocketAddr, failure: &Failure) -> Error {
    Error::BadGateway(match (failure.kind, failure.connecting) {
        (Kind::Timeout, true) => format!("connecting to {to} timed out"),
        (Kind::Exhausted, _) => format!(
            "the launcher is out of file descriptors right now ({failure}); try again shortly"
        ),
        (_, true) => format!("nothing answers at {to}: {failure}"),
        (_, false) => format!("no answer from {to}: {failure}"),
    })
}

/// Carries bytes both ways between the two upgraded connections until either side
/// closes or the launcher drains. With `activity`, the tunnel is an open connection
/// of the clock, and the client's messages that are input count.
async fn tunnel(
    client: OnUpgrade,
    upstream: OnUpgrade,
    mut drain: watch::Receiver<bool>,
    activity: Option<Arc<Activity>>,
) {
    let (client, upstream) = match tokio::try_join!(client, upstream) {
        Ok(pair) => pair,
        Err(error) => {
            debug!(%error, "upgrade failed");
            return;
        }
    };
    let drained = crate::app::draining(&mut drain);
    let _open = activity.as_ref().map(Activity::connection);
    let mut classifier = Classifier::default();
    let observe = |bytes: &[u8]| {
        if let Some(activity) = &activity {
            // What counts is another protocol's message (a previewed app's, VS
            // Code's never counts): its heartbeats and a person's clicks look alike,
            // so it is watched work, within the busy limit, not input.
            classifier.feed(bytes, &mut |message| {
                if message.counts() {
                    activity.work_seen(crate::activity::now_ms());
                }
            });
        }
    };
    let (up, down) = tunnel::tunnel_upgraded(client, upstream, observe, drained).await;
    debug!(up, down, "tunnel closed");
}

/// True if an HTTP server answers `GET path` at `to` within `timeout` with success or
/// a redirect. A 4xx is not an answer: code-server, for one, listens about a second
/// before its routes exist and says "404 Cannot GET /" to everything in that window,
/// and a request forwarded then would land a person on that error page.
pub async fn probe(to: SocketAddr, path: &str, timeout: Duration) -> bool {
    let attempt = async {
        let stream = TcpStream::connect(to).await.ok()?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .ok()?;
        tokio::spawn(conn);
        let req = Request::get(path)
            .header(http::header::HOST, to.to_string())
            .body(http_body_util::Empty::<bytes::Bytes>::new())
            .ok()?;
        let resp = sender.send_request(req).await.ok()?;
        let status = resp.status();
        Some(status.is_success() || status.is_redirection())
    };
    tokio::time::timeout(timeout, attempt)
        .await
        .ok()
        .flatten()
        .unwrap_or(false)
}

#[cfg(test)]
mod tests;
