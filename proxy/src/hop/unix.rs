//! Requests to a launcher that answers on a unix socket (a sandboxed local
//! workspace: its network namespace is its own). Like the TCP side
//! ([`dcs_net::upstream::Pool`]): one pooled keep-alive client (hyper-util's) whose
//! requests name each socket by a short alias ([`Aliases::of_any`]: the pool hashes
//! its key on every request, and a socket's path is long) and, for upgrades, a
//! connection of their own. Failures are classified the same way; a socket file that
//! is gone reads as a refused connection (the workspace went away: ask the runtime
//! again).

use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, LazyLock};
use std::task::{Context, Poll};
use std::time::Duration;

use http::{Request, Response, Uri};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::UnixStream;
use tracing::debug;

use dcs_net::upstream::alias::Aliases;
use dcs_net::upstream::Failure;

use crate::forward::send::UpstreamBody;

/// How long a connect may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The aliases of the sockets, shared by the pool's requests and its connector.
static ALIASES: LazyLock<Arc<Aliases>> = LazyLock::new(Arc::default);

/// The proxy's one client to launchers on unix sockets.
static POOL: LazyLock<Client<Connector, UpstreamBody>> = LazyLock::new(|| {
    Client::builder(TokioExecutor::new())
        .pool_timer(TokioTimer::new())
        .timer(TokioTimer::new())
        .pool_idle_timeout(Duration::from_secs(60))
        .pool_max_idle_per_host(dcs_net::upstream::MAX_IDLE_PER_HOST)
        .set_host(false)
        .build(Connector {
            aliases: ALIASES.clone(),
        })
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
    *req.uri_mut() = uri_for(&ALIASES, socket, req.uri()).map_err(|e| Failure::of(&e, true))?;
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

/// `http://<alias of the socket><path and query of uri>`.
fn uri_for(aliases: &Aliases, socket: &Path, uri: &Uri) -> io::Result<Uri> {
    let bad = |why: &str| io::Error::new(io::ErrorKind::InvalidInput, why.to_owned());
    let path = socket
        .to_str()
        .ok_or_else(|| bad("the workspace's socket path is not UTF-8"))?;
    let alias = aliases
        .of_any(path)
        .ok_or_else(|| bad("unusable socket path"))?;
    dcs_net::upstream::at(alias, uri).ok_or_else(|| bad("unusable request path"))
}

/// The socket a [`uri_for`] URI names.
fn socket_of(aliases: &Aliases, uri: &Uri) -> Option<PathBuf> {
    aliases
        .address(uri.host()?)
        .map(|path| PathBuf::from(path.as_ref()))
}

/// Connects to the socket a request's authority (an alias) names.
#[derive(Clone, Debug)]
pub struct Connector {
    aliases: Arc<Aliases>,
}

impl tower_service::Service<Uri> for Connector {
    type Response = TokioIo<UnixStream>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<Self::Response>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let socket = socket_of(&self.aliases, &uri);
        Box::pin(async move {
            let socket = socket.ok_or_else(|| {
                io::Error::new(io::ErrorKind::InvalidInput, "not a socket's alias")
            })?;
            connect(&socket).await.map(TokioIo::new)
        })
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::ffi::OsStrExt;

    use dcs_net::upstream::Kind;

    use super::*;

    #[test]
    fn a_socket_path_survives_the_alias_round_trip() {
        let aliases = Aliases::default();
        let socket = Path::new("/tmp/.tmpAbC/data/run/ws-alice-hello-1f2e/launcher.sock");
        let other = Path::new("/tmp/.tmpAbC/data/run/ws-bob-hello-9a8b/launcher.sock");
        let uri = uri_for(&aliases, socket, &Uri::from_static("/x?y=1")).expect("uri");
        assert_eq!(uri.path_and_query().map(|p| p.as_str()), Some("/x?y=1"));
        assert!(
            uri.authority().is_some_and(|a| a.as_str().len() < 8),
            "{uri}"
        );
        assert_eq!(socket_of(&aliases, &uri).as_deref(), Some(socket));
        let second = uri_for(&aliases, other, &Uri::from_static("/")).expect("uri");
        assert_ne!(second.authority(), uri.authority(), "one alias per socket");
        assert_eq!(socket_of(&aliases, &second).as_deref(), Some(other));
        assert_eq!(
            socket_of(&aliases, &Uri::from_static("http://example.com/")),
            None
        );
        let not_utf8 = std::ffi::OsStr::from_bytes(b"/tmp/\xff/launcher.sock");
        assert!(uri_for(&aliases, Path::new(not_utf8), &Uri::from_static("/")).is_err());
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
