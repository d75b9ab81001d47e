//! Requests to a launcher that answers on a unix socket (a sandboxed local
//! workspace: its network namespace is its own). Like the TCP side
//! ([`dcs_net::upstream::Pool`]): one pooled keep-alive client (hyper-util's, keyed
//! by the socket, whose path travels hex-encoded in the request's authority) and,
//! for upgrades, a connection of their own. Failures are classified the same way; a
//! socket file that is gone reads as a refused connection (the workspace went away:
//! ask the runtime again).

use std::future::Future;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::LazyLock;
use std::task::{Context, Poll};
use std::time::Duration;

use http::uri::Authority;
use http::{Request, Response, Uri};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::UnixStream;
use tracing::debug;

use dcs_net::upstream::Failure;

use crate::forward::send::UpstreamBody;

/// The suffix of the authority that names a socket.
const SUFFIX: &str = ".sock.invalid";
/// How long a connect may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The proxy's one client to launchers on unix sockets.
static POOL: LazyLock<Client<Connector, UpstreamBody>> = LazyLock::new(|| {
    Client::builder(TokioExecutor::new())
        .pool_timer(TokioTimer::new())
        .timer(TokioTimer::new())
        .pool_idle_timeout(Duration::from_secs(60))
        .pool_max_idle_per_host(dcs_net::upstream::MAX_IDLE_PER_HOST)
        .set_host(false)
        .build(Connector)
});

/// Sends `req` (origin-form) to the launcher on `socket`: pooled, or over a
/// connection of its own for an upgrade.
pub async fn send(
    socket: &Path,
    mut req: Request<UpstreamBody>,
    upgrade: bool,
) -> Result<Response<Incoming>, Failure> {
    if upgrade {
        let stream = connect(socket).await.map_err(|e| Failure::of(&e, true))?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| Failure::of(&e, false))?;
        tokio::spawn(async move {
            if let Err(err) = conn.with_upgrades().await {
                debug!(%err, "upstream connection ended with an error");
            }
        });
        return sender
            .send_request(req)
            .await
            .map_err(|e| Failure::of(&e, false));
    }
    *req.uri_mut() = uri_for(socket, req.uri()).map_err(|e| Failure::of(&e, true))?;
    POOL.request(req)
        .await
        .map_err(|e| Failure::of(&e, e.is_connect()))
}

/// A connection to `socket`, within the connect timeout; a missing socket file is a
/// refused connection.
async fn connect(socket: &Path) -> io::Result<UnixStream> {
    match tokio::time::timeout(CONNECT_TIMEOUT, UnixStream::connect(socket)).await {
        Ok(Ok(stream)) => Ok(stream),
        Ok(Err(e)) if e.kind() == io::ErrorKind::NotFound => Err(io::Error::new(
            io::ErrorKind::ConnectionRefused,
            format!("{} is gone", socket.display()),
        )),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "connecting to the workspace's socket timed out",
        )),
    }
}

/// `http://<hex of the socket path>.sock.invalid<path and query of uri>`.
fn uri_for(socket: &Path, uri: &Uri) -> io::Result<Uri> {
    let bad = || io::Error::new(io::ErrorKind::InvalidInput, "unusable socket path");
    let host: String = socket
        .as_os_str()
        .as_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let authority: Authority = format!("{host}{SUFFIX}").parse().map_err(|_| bad())?;
    dcs_net::upstream::at(authority, uri).ok_or_else(bad)
}

/// The socket a [`uri_for`] authority names.
fn socket_of(uri: &Uri) -> Option<PathBuf> {
    let hex = uri.host()?.strip_suffix(SUFFIX)?;
    if hex.len() % 2 != 0 {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect();
    Some(PathBuf::from(std::ffi::OsStr::from_bytes(&bytes?)))
}

/// Connects to the socket a request's authority names.
#[derive(Clone, Copy, Debug)]
pub struct Connector;

impl tower_service::Service<Uri> for Connector {
    type Response = TokioIo<UnixStream>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<Self::Response>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        Box::pin(async move {
            let socket = socket_of(&uri).ok_or_else(|| {
                io::Error::new(io::ErrorKind::InvalidInput, "not a socket address")
            })?;
            connect(&socket).await.map(TokioIo::new)
        })
    }
}

#[cfg(test)]
mod tests {
    use dcs_net::upstream::Kind;

    use super::*;

    #[test]
    fn a_socket_path_survives_the_authority_round_trip() {
        let socket = Path::new("/tmp/.tmpAbC/data/run/ws-alice-hello-1f2e/launcher.sock");
        let uri = uri_for(socket, &Uri::from_static("/x?y=1")).expect("uri");
        assert_eq!(uri.path_and_query().map(|p| p.as_str()), Some("/x?y=1"));
        assert_eq!(socket_of(&uri).as_deref(), Some(socket));
        assert_eq!(socket_of(&Uri::from_static("http://example.com/")), None);
    }

    #[tokio::test]
    async fn a_missing_socket_reads_as_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let err = connect(&dir.path().join("gone.sock"))
            .await
            .expect_err("no socket");
        assert_eq!(Failure::of(&err, true).kind, Kind::Refused);
    }
}
