//! Requests to a launcher that answers on a unix socket (a sandboxed local
//! workspace: its network namespace is its own). Like the TCP side
//! ([`dcs_net::upstream::Pool`]): kept-alive connections per socket
//! ([`KeepAlive`], keyed by the socket's path) and, for upgrades, a connection of
//! their own or, as admitted, streams of one HTTP/2 connection per socket
//! ([`Multiplexed`]). Failures are classified the same way; a socket file that is
//! gone reads as a refused connection (the workspace went away: ask the runtime
//! again).

use std::io;
use std::path::Path;
use std::sync::LazyLock;
use std::time::Duration;

use http::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::UnixStream;

use dcs_net::upstream::{AnswerBody, Failure, KeepAlive, Multiplexed, PoolConfig};

use crate::forward::send::{Carried, UpstreamBody};

/// How long a connect may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The proxy's kept-alive connections to launchers on unix sockets.
/// Kept like the TCP pool's ([`PoolConfig::default`]), so the two cannot drift apart.
static KEPT: LazyLock<KeepAlive<UpstreamBody>> = LazyLock::new(|| {
    let cfg = PoolConfig::default();
    KeepAlive::new(cfg.max_idle_per_host, cfg.idle_timeout)
});

/// The proxy's HTTP/2 connections to launchers on unix sockets, for upgrades.
static STREAMS: LazyLock<Multiplexed<UpstreamBody>> = LazyLock::new(Multiplexed::default);

/// Sends `req` (origin-form) to the launcher on `socket` as `carried` says: over a
/// kept-alive connection, a connection of its own, or as a stream.
pub async fn send(
    socket: &Path,
    req: Request<UpstreamBody>,
    carried: Carried<'_>,
) -> Result<Response<AnswerBody<UpstreamBody>>, Failure> {
    let connect = || async {
        connect(socket)
            .await
            .map(TokioIo::new)
            .map_err(|e| Failure::of(&e, true))
    };
    match carried {
        Carried::Kept => KEPT.send(key_of(socket)?, req, connect).await,
        Carried::Alone => dcs_net::upstream::send_alone(connect().await?, req).await,
        Carried::Stream(upgrade) => {
            STREAMS
                .send_upgrade(key_of(socket)?, req, upgrade, "localhost", connect)
                .await
        }
    }
}

/// The key of `socket`'s connections: its path, which must be UTF-8.
fn key_of(socket: &Path) -> Result<&str, Failure> {
    socket.to_str().ok_or_else(|| {
        let why = "the workspace's socket path is not UTF-8";
        Failure::of(&io::Error::new(io::ErrorKind::InvalidInput, why), true)
    })
}

/// A connection to `socket`, within the connect timeout; a missing socket file is a
/// refused connection. The socket's folder is the sandbox's to write, so its name
/// is opened without following a link ([`dcs_os::confined::socket`]): a link
/// planted there (to the host's docker socket, another user's launcher) is refused,
/// never connected to.
pub(crate) async fn connect(socket: &Path) -> io::Result<UnixStream> {
    let gone = || {
        io::Error::new(
            io::ErrorKind::ConnectionRefused,
            format!("{} is gone", socket.display()),
        )
    };
    let (_opened, through) = match dcs_os::confined::socket(socket) {
        Ok(opened) => opened,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(gone()),
        Err(e) => return Err(e),
    };
    match tokio::time::timeout(CONNECT_TIMEOUT, UnixStream::connect(&through)).await {
        Ok(Ok(stream)) => Ok(stream),
        Ok(Err(e)) if e.kind() == io::ErrorKind::NotFound => Err(gone()),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "connecting to the workspace's socket timed out",
        )),
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::ffi::OsStrExt;

    use dcs_net::upstream::Kind;

    use super::*;

    #[test]
    fn a_socket_path_that_is_not_utf8_is_refused_clearly() {
        let socket = Path::new("/tmp/.tmpAbC/data/run/ws-alice-hello-1f2e/launcher.sock");
        assert_eq!(key_of(socket).ok(), socket.to_str());
        let not_utf8 = std::ffi::OsStr::from_bytes(b"/tmp/\xff/launcher.sock");
        let failure = key_of(Path::new(not_utf8)).expect_err("refused");
        assert!(failure.message.contains("not UTF-8"), "{failure}");
        assert!(failure.connecting, "nothing was sent");
    }

    #[tokio::test]
    async fn a_link_planted_at_the_sockets_name_is_never_connected_to() {
        let dir = tempfile::tempdir().expect("tempdir");
        // Something else of the host's, listening.
        let host = dir.path().join("docker.sock");
        let _listener = std::os::unix::net::UnixListener::bind(&host).expect("bind");
        let planted = dir.path().join("launcher.sock");
        std::os::unix::fs::symlink(&host, &planted).expect("link");
        let err = connect(&planted).await.expect_err("refused");
        assert!(dcs_os::confined::is_refusal(&err), "{err}");
        assert_ne!(
            Failure::of(&err, true).kind,
            Kind::Refused,
            "not asked again"
        );
        connect(&host).await.expect("the real socket connects");
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
