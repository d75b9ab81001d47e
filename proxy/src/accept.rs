//! The accept side of the proxy, where descriptors are spent: every accepted socket
//! gets `TCP_NODELAY`; running out of descriptors is an overload answered `503` with
//! `Retry-After` (at accept by [`dcs_net::accept::Acceptor`], while forwarding by
//! [`overloaded`]), never a reason to think a workspace dead; the soft
//! `RLIMIT_NOFILE` is raised to the hard limit at start ([`raise_nofile`]); and
//! upgraded connections (two descriptors each here, or, once descriptors get
//! scarce, one as a stream of a launcher's HTTP/2 connection) are capped below the
//! limit ([`admit_tunnel`]), with a clear `503` beyond it, so that plain requests,
//! logs and `/proc` always have descriptors left.

use std::sync::LazyLock;

use http::header::RETRY_AFTER;
use http::{HeaderValue, Response, StatusCode};
use tokio::net::TcpListener;
use tracing::{info, warn};

use dcs_net::accept::{Acceptor, RETRY_AFTER_SECS};
use dcs_net::limits::{Full, TunnelGate, TunnelSlot};

use crate::body::Body;
use crate::config::hop::Streams;
use crate::runtime::Upstream;

/// Every tunnel of this process.
static TUNNELS: LazyLock<TunnelGate> = LazyLock::new(TunnelGate::new);

/// The gate of every tunnel of this process, for others that hold descriptors as
/// long (sandboxes' way out, [`crate::egress`]).
pub fn tunnel_gate() -> TunnelGate {
    TUNNELS.clone()
}

/// The proxy's acceptor on `listener`.
pub fn acceptor(listener: TcpListener) -> Acceptor {
    Acceptor::new(listener, "dcs-proxy")
}

/// Raises the soft descriptor limit to the hard one (logged); a failure is logged
/// and the limit in force kept.
pub fn raise_nofile() {
    match dcs_net::limits::raise_nofile() {
        Ok(raised) => info!(
            before = raised.before,
            after = raised.after,
            hard = raised.hard,
            tunnel_descriptors = dcs_net::limits::tunnel_descriptors(raised.after),
            "file-descriptor limit"
        ),
        Err(err) => warn!(%err, "cannot raise the file-descriptor limit"),
    }
}

/// An admitted tunnel: its place under the cap, and how it reaches its workspace.
#[derive(Debug)]
pub struct Admitted {
    /// Its place; dropping it frees the place.
    pub slot: TunnelSlot,
    /// Whether it is a stream of the launcher's HTTP/2 connection (one descriptor
    /// here) rather than a connection of its own (two).
    pub stream: bool,
}

/// A place for one more tunnel to `upstream`, or [`Full`] (answer it with
/// [`tunnel_refused`]). With `Streams::Auto`, each tunnel gets a connection of its
/// own (the fewest hops per message) until tunnels hold half of the descriptors
/// they may; from then on those to a launcher that takes streams
/// ([`Upstream::multiplexed`]) are streams of its one connection, so the same
/// descriptors carry more of them.
pub fn admit_tunnel(upstream: &Upstream, streams: Streams) -> Result<Admitted, Full> {
    let stream = upstream.multiplexed
        && match streams {
            Streams::Auto => TUNNELS.scarce(),
            Streams::Always => true,
            Streams::Never => false,
        };
    let slot = TUNNELS.admit(if stream { 1 } else { 2 })?;
    Ok(Admitted { slot, stream })
}

/// Whether one more tunnel (as a stream, the fewest descriptors one takes) has a
/// place now: asked before an upgrade wakes or starts its workspace, so that an
/// upgrade refused at the cap starts nothing.
pub fn tunnel_room() -> Result<(), Full> {
    TUNNELS.room(1)
}

/// The `503` answer to an upgrade beyond the cap.
pub fn tunnel_refused(wants_html: bool, full: &Full) -> Response<Body> {
    warn!(
        open = full.open,
        cap = full.cap,
        "tunnel refused: at the cap"
    );
    overloaded(
        wants_html,
        &format!(
            "the proxy holds {} open connections (WebSockets), as many as its \
             file-descriptor limit allows; close some tabs or try again shortly",
            full.open
        ),
    )
}

/// Tunnels open now.
pub fn tunnels_open() -> usize {
    TUNNELS.open()
}

/// `503 Service Unavailable` with `Retry-After`: the proxy is overloaded (out of
/// descriptors, ports or tunnels); the workspace is fine.
pub fn overloaded(wants_html: bool, message: &str) -> Response<Body> {
    let mut resp = crate::pages::page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Proxy busy",
        message,
        wants_html,
    );
    resp.headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_overload_answer_is_a_503_with_retry_after() {
        let resp = overloaded(false, "busy");
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(resp.headers()[RETRY_AFTER], "1");
    }

    #[tokio::test]
    async fn accepted_client_sockets_have_nodelay() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let mut acceptor = acceptor(listener);
        let _client = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let (stream, _) = acceptor.accept().await;
        assert!(stream.nodelay().expect("getsockopt"));
    }
}
