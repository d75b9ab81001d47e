//! The way out of a sandbox (`DCS_EGRESS_SOCKET`): a sandboxed workspace's network
//! namespace has loopback only, so the proxy serves an HTTP forward proxy for it on a
//! unix socket in its run folder, and decides there which addresses it reaches. This
//! module makes that socket usable by ordinary tools: at start-up, before any user
//! process exists, [`start`] listens on a loopback port of the namespace and carries
//! each connection to the socket as it is (the proxy speaks HTTP on it); from then on
//! [`env`] names the port in `HTTP_PROXY`/`HTTPS_PROXY` (both spellings) for every
//! user process ([`crate::user_env::added`]): git, curl, pip, npm and VS Code honour
//! them, and Node.js 24's own `fetch` and `https` with `NODE_USE_ENV_PROXY=1`, set
//! too. Loopback stays direct (`NO_PROXY`): the workspace's own servers.
//!
//! Unset (unsandboxed, Knative), nothing listens and nothing is added.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use bytes::Bytes;
use dcs_net::accept::Acceptor;
use tokio::net::{TcpListener, TcpStream, UnixStream};
use tracing::{debug, info, warn};

/// Where the loopback port listens, once [`start`] bound it.
static LISTENING: OnceLock<SocketAddr> = OnceLock::new();

/// Hosts the user's tools reach directly, never through the proxy.
pub const NO_PROXY: &str = "localhost,127.0.0.1,::1";

/// The body of the answer when the proxy's socket cannot be reached (the proxy
/// restarting).
const UNREACHABLE: &str = "the workspace's way out (the proxy's egress socket) is not answering\n";

/// Listens on a loopback port for `socket` (`DCS_EGRESS_SOCKET`) and carries
/// connections to it in the background; a second call keeps the first port.
pub async fn start(socket: &Path) {
    if LISTENING.get().is_some() {
        return;
    }
    match TcpListener::bind(("127.0.0.1", 0)).await {
        Ok(listener) => {
            let Ok(addr) = listener.local_addr() else {
                return;
            };
            if LISTENING.set(addr).is_ok() {
                info!(%addr, socket = %socket.display(), "the way out listens");
                tokio::spawn(serve(
                    Acceptor::new(listener, "dcs-launcher"),
                    socket.into(),
                ));
            }
        }
        Err(err) => warn!(%err, "cannot listen for the way out; user processes have no proxy"),
    }
}

/// Carries every accepted connection to `socket`.
async fn serve(mut acceptor: Acceptor, socket: PathBuf) {
    loop {
        let (stream, _) = acceptor.accept().await;
        tokio::spawn(carry(stream, socket.clone()));
    }
}

/// One connection, byte for byte, until both sides end.
async fn carry(client: TcpStream, socket: PathBuf) {
    let upstream = match UnixStream::connect(&socket).await {
        Ok(upstream) => upstream,
        Err(err) => {
            debug!(%err, "the egress socket does not answer");
            let answer = format!(
                "HTTP/1.1 502 Bad Gateway\r\ncontent-type: text/plain\r\nconnection: close\r\n\
                 content-length: {}\r\n\r\n{UNREACHABLE}",
                UNREACHABLE.len()
            );
            dcs_net::accept::answer_and_close(client, answer.as_bytes()).await;
            return;
        }
    };
    dcs_net::tunnel::tunnel_sockets(
        (client, Bytes::new()),
        (upstream, Bytes::new()),
        |_| {},
        std::future::pending(),
    )
    .await;
}

/// The proxy variables for user processes, once [`start`] listens; none before or
/// without a socket.
pub fn env() -> Vec<(OsString, OsString)> {
    LISTENING.get().map_or_else(Vec::new, |addr| vars(*addr))
}

/// The variables naming the proxy at `addr`.
fn vars(addr: SocketAddr) -> Vec<(OsString, OsString)> {
    let url = format!("http://{addr}");
    let mut vars: Vec<(OsString, OsString)> =
        ["HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"]
            .iter()
            .map(|name| (name.into(), url.clone().into()))
            .collect();
    vars.extend(["NO_PROXY", "no_proxy"].map(|name| (name.into(), NO_PROXY.into())));
    // Node.js (24 and later) has its own `fetch` and `https` honour them only when
    // asked; earlier versions ignore the variable.
    vars.push(("NODE_USE_ENV_PROXY".into(), "1".into()));
    vars
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn both_spellings_name_the_port_and_loopback_stays_direct() {
        let vars = vars("127.0.0.1:40123".parse().expect("addr"));
        let get = |k: &str| {
            vars.iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.to_string_lossy().into_owned())
        };
        for name in ["HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"] {
            assert_eq!(
                get(name).as_deref(),
                Some("http://127.0.0.1:40123"),
                "{name}"
            );
        }
        assert_eq!(get("NO_PROXY").as_deref(), Some(NO_PROXY));
        assert_eq!(get("no_proxy").as_deref(), Some(NO_PROXY));
        assert_eq!(get("NODE_USE_ENV_PROXY").as_deref(), Some("1"));
    }

    #[tokio::test]
    async fn a_connection_is_carried_to_the_socket_both_ways() {
        let dir = tempfile::tempdir().expect("tempdir");
        let socket = dir.path().join("egress.sock");
        let unix = tokio::net::UnixListener::bind(&socket).expect("bind");
        tokio::spawn(async move {
            let (mut conn, _) = unix.accept().await.expect("accept");
            let mut got = [0u8; 5];
            conn.read_exact(&mut got).await.expect("read");
            conn.write_all(&[&got[..], b" back"].concat())
                .await
                .expect("write");
        });
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(serve(Acceptor::new(listener, "test"), socket));
        let mut client = TcpStream::connect(addr).await.expect("connect");
        client.write_all(b"hello").await.expect("write");
        let mut answer = Vec::new();
        client.read_to_end(&mut answer).await.expect("read");
        assert_eq!(answer, b"hello back");
    }

    #[tokio::test]
    async fn without_the_proxy_the_client_is_told_so() {
        let dir = tempfile::tempdir().expect("tempdir");
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let socket = dir.path().join("missing.sock");
        tokio::spawn(serve(Acceptor::new(listener, "test"), socket));
        let mut client = TcpStream::connect(addr).await.expect("connect");
        let mut answer = Vec::new();
        client.read_to_end(&mut answer).await.expect("read");
        let text = String::from_utf8_lossy(&answer);
        assert!(text.starts_with("HTTP/1.1 502 "), "{text}");
        let body = text.split("\r\n\r\n").nth(1).unwrap_or_default();
        assert!(
            text.contains(&format!("content-length: {}", body.len())),
            "{text}"
        );
    }
}
