//! Connections to upstream HTTP servers (a workspace's launcher, the IDE, a preview
//! app): one pool shared by all requests — kept-alive connections per upstream
//! address ([`keep_alive`], bounded, expiring) made by hyper-util's `HttpConnector`
//! with `TCP_NODELAY`, a connect timeout and DNS answers cached ([`crate::dns`]) —
//! and, for upgrades, connections of their own made by the same connector, so a
//! tunnel never holds a kept connection; or, to a launcher reached directly, streams
//! of one HTTP/2 connection per launcher ([`multiplex`]).
//!
//! Failures are classified ([`Kind`]): a refused or reset connection says the
//! upstream is gone (ask whoever knows where it is now); running out of descriptors
//! or ports says this side is overloaded and nothing about the upstream.

use std::error::Error as StdError;
use std::io;
use std::time::Duration;

use http::uri::{Authority, PathAndQuery, Scheme};
use http::{Request, Response, Uri};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tower_service::Service;
use tracing::debug;

use crate::dns::CachedResolver;
use crate::limits::libc_errno;
use crate::BoxError;

/// How a pool connects and how much it keeps.
#[derive(Debug, Clone, Copy)]
pub struct PoolConfig {
    /// Idle keep-alive connections kept per upstream host: as many as the busiest
    /// moment needs, or each wave of concurrent requests beyond it connects anew (a
    /// descriptor, a handshake and a close each). Idle ones close after
    /// [`Self::idle_timeout`].
    pub max_idle_per_host: usize,
    /// How long an idle connection is kept; below the upstream's own keep-alive
    /// timeout (Node closes idle connections after 5 s).
    pub idle_timeout: Duration,
    /// How long a connect may take.
    pub connect_timeout: Duration,
    /// How long a DNS answer is used.
    pub dns_ttl: Duration,
}

/// The idle connections kept per upstream by default: enough that waves of
/// concurrent requests reuse their connections instead of reconnecting.
pub const MAX_IDLE_PER_HOST: usize = 512;

impl Default for PoolConfig {
    fn default() -> Self {
        Self {
            max_idle_per_host: MAX_IDLE_PER_HOST,
            idle_timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(10),
            dns_ttl: crate::dns::DEFAULT_TTL,
        }
    }
}

/// Why an exchange with an upstream failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Nothing listens there (any more): ask where the upstream is now.
    Refused,
    /// The connection was reset: the upstream went away.
    Reset,
    /// This side ran out of descriptors, ports or buffers: an overload, not a death.
    Exhausted,
    /// Connecting took longer than the connect timeout.
    Timeout,
    /// The name did not resolve.
    Resolve,
    /// The connection closed after the request went out and before any answer (a
    /// kept connection whose upstream went away as it was used): a request that
    /// changes nothing may be sent again (RFC 9110 §9.2.2).
    Closed,
    /// Anything else (a malformed answer, a connection closed mid-answer).
    Other,
}

/// A failed exchange: its [`Kind`], whether it failed while connecting (nothing of
/// the request was sent), and a readable cause.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Failure {
    /// What went wrong.
    pub kind: Kind,
    /// Whether no connection was made (so nothing of the request was sent).
    pub connecting: bool,
    /// Readable, from the error chain.
    pub message: String,
}

impl Failure {
    /// The failure `err` says, `connecting` telling whether no connection was made.
    pub fn of(err: &(dyn StdError + 'static), connecting: bool) -> Self {
        Self {
            kind: classify(err),
            connecting,
            message: chain(err),
        }
    }
}

/// The [`Kind`] of an error, from the first I/O error in its chain.
pub fn classify(err: &(dyn StdError + 'static)) -> Kind {
    let mut cause = Some(err);
    let (mut resolve, mut closed) = (false, false);
    while let Some(e) = cause {
        if let Some(io) = e.downcast_ref::<io::Error>() {
            return io_kind(io);
        }
        resolve |= e.to_string() == "dns error";
        closed |= e
            .downcast_ref::<hyper::Error>()
            .is_some_and(hyper::Error::is_incomplete_message);
        cause = e.source();
    }
    match (resolve, closed) {
        (true, _) => Kind::Resolve,
        (_, true) => Kind::Closed,
        _ => Kind::Other,
    }
}

/// The [`Kind`] of an I/O error.
pub fn io_kind(err: &io::Error) -> Kind {
    if crate::limits::exhausted(err) {
        return Kind::Exhausted;
    }
    match err.raw_os_error() {
        Some(libc_errno::ECONNREFUSED) => Kind::Refused,
        Some(libc_errno::ECONNRESET) => Kind::Reset,
        _ => match err.kind() {
            io::ErrorKind::ConnectionRefused => Kind::Refused,
            io::ErrorKind::ConnectionReset => Kind::Reset,
            io::ErrorKind::TimedOut => Kind::Timeout,
            _ => Kind::Other,
        },
    }
}

/// An error and its causes, `: `-joined.
fn chain(err: &(dyn StdError + 'static)) -> String {
    let mut text = err.to_string();
    let mut cause = err.source();
    while let Some(e) = cause {
        let more = e.to_string();
        if !text.ends_with(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        cause = e.source();
    }
    text
}

/// The shared client: kept-alive connections, and connections of their own for
/// upgrades. Requests carry bodies of type `B`.
pub struct Pool<B> {
    kept: KeepAlive<B>,
    streams: Multiplexed<B>,
    connector: HttpConnector<CachedResolver>,
}

impl<B> std::fmt::Debug for Pool<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool").finish_non_exhaustive()
    }
}

impl<B> Pool<B>
where
    B: http_body::Body + Send + Unpin + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    /// A pool configured by `cfg`.
    pub fn new(cfg: &PoolConfig) -> Self {
        let mut connector = HttpConnector::new_with_resolver(CachedResolver::system(cfg.dns_ttl));
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(cfg.connect_timeout));
        connector.enforce_http(true);
        Self {
            kept: KeepAlive::new(cfg.max_idle_per_host, cfg.idle_timeout),
            streams: Multiplexed::default(),
            connector,
        }
    }

    /// Sends `req` (origin-form) to `authority` over a kept-alive connection.
    pub async fn send(
        &self,
        authority: &str,
        req: Request<B>,
    ) -> Result<Response<AnswerBody<B>>, Failure> {
        self.kept
            .send(authority, req, || async {
                self.connect(authority).await.map(TokioIo::new)
            })
            .await
    }

    /// Sends an upgrade request (`req`, origin-form) to `authority` over a connection
    /// of its own; a `101` answer's upgrade (`hyper::upgrade::on`) is the tunnel's
    /// upstream side.
    pub async fn send_upgrade(
        &self,
        authority: &str,
        req: Request<B>,
    ) -> Result<Response<AnswerBody<B>>, Failure> {
        let stream = self.connect(authority).await?;
        send_alone(TokioIo::new(stream), req).await
    }

    /// Sends an upgrade request (`req`, origin-form, upgrading to `upgrade`) to the
    /// launcher at `authority` as a stream of its HTTP/2 connection
    /// ([`Multiplexed::send_upgrade`]); the answer reads as HTTP/1.1's.
    pub async fn send_upgrade_as_stream(
        &self,
        authority: &str,
        req: Request<B>,
        upgrade: &http::HeaderValue,
    ) -> Result<Response<AnswerBody<B>>, Failure> {
        let connect = || async { self.connect(authority).await.map(TokioIo::new) };
        self.streams
            .send_upgrade(authority, req, upgrade, authority, connect)
            .await
    }

    /// A new connection to `authority` (`host:port`), made like the pool's: resolved
    /// through the cache, within the connect timeout, with `TCP_NODELAY`.
    pub async fn connect(&self, authority: &str) -> Result<TcpStream, Failure> {
        let uri = absolute(authority, &Uri::from_static("/"))?;
        let mut connector = self.connector.clone();
        std::future::poll_fn(|cx| connector.poll_ready(cx))
            .await
            .map_err(|e| Failure::of(&e, true))?;
        connector
            .call(uri)
            .await
            .map(TokioIo::into_inner)
            .map_err(|e| Failure::of(&e, true))
    }
}

/// Sends `req` over `io`, a connection of its own that ends with the exchange or, after
/// a `101`, is the tunnel's upstream side (`hyper::upgrade::on` on the answer).
pub async fn send_alone<B, IO>(
    io: IO,
    mut req: Request<B>,
) -> Result<Response<AnswerBody<B>>, Failure>
where
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
    IO: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    origin_form(&mut req);
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| Failure::of(&e, false))?;
    tokio::spawn(async move {
        if let Err(err) = conn.with_upgrades().await {
            debug!(%err, "upstream connection ended with an error");
        }
    });
    sender
        .send_request(req)
        .await
        .map(|resp| resp.map(AnswerBody::alone))
        .map_err(|e| Failure::of(&e, false))
}

/// Makes `req`'s target origin-form (its path and query): hyper's connection-level
/// client writes the target it is given, and an absolute one would name a host to
/// the upstream that the connection does not go to.
pub(crate) fn origin_form<B>(req: &mut Request<B>) {
    let uri = req.uri();
    if uri.scheme().is_none() && uri.authority().is_none() && uri.path_and_query().is_some() {
        return;
    }
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    *req.uri_mut() = http::Uri::try_from(path).unwrap_or_else(|_| http::Uri::from_static("/"));
}

/// `http://<authority><path and query of uri>`.
fn absolute(authority: &str, uri: &Uri) -> Result<Uri, Failure> {
    let authority: Authority = authority.parse().map_err(|_| unusable("address"))?;
    at(authority, uri).ok_or_else(|| unusable("path"))
}

/// The failure of a request whose upstream `what` (address, path) makes no URI.
fn unusable(what: &str) -> Failure {
    Failure {
        kind: Kind::Other,
        connecting: true,
        message: format!("unusable upstream {what}"),
    }
}

/// `http://<authority><path and query of uri>` (`/` when `uri` has none); `None`
/// when the two do not make a URI.
fn at(authority: Authority, uri: &Uri) -> Option<Uri> {
    let path = uri
        .path_and_query()
        .cloned()
        .unwrap_or_else(|| PathAndQuery::from_static("/"));
    Uri::builder()
        .scheme(Scheme::HTTP)
        .authority(authority)
        .path_and_query(path)
        .build()
        .ok()
}

pub mod keep_alive;
pub mod multiplex;
pub use keep_alive::{AnswerBody, KeepAlive};
pub use multiplex::{Held, Multiplexed};

#[cfg(test)]
mod tests;
