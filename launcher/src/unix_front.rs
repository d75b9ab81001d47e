//! The unix-socket form of the front (`DCS_LISTEN=unix:<path>`): a sandboxed
//! launcher has a network namespace of its own, so the proxy reaches it through a
//! socket file bound into the sandbox. Each connection accepted there is carried,
//! byte for byte, to the front's loopback listener inside the sandbox; the front
//! (and its hop check) is the same for both forms.
//!
//! A stale socket file (a launcher that died) is replaced; the file is made
//! owner-only. The relay ends with its connections when the launcher exits.

use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use bytes::Bytes;
use dcs_net::tunnel::tunnel_sockets;
use tokio::net::{TcpStream, UnixListener, UnixStream};
use tracing::debug;

/// Binds `path` (replacing a stale socket), owner-only.
pub fn bind(path: &Path) -> std::io::Result<UnixListener> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if is_socket(&meta) => std::fs::remove_file(path)?,
        Ok(_) => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                format!("{} exists and is not a socket", path.display()),
            ))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let listener = UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(listener)
}

fn is_socket(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::FileTypeExt;
    meta.file_type().is_socket()
}

/// Carries every connection accepted on `listener` to `front` until the task is
/// dropped.
pub async fn relay(listener: UnixListener, front: SocketAddr) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(carry(stream, front));
            }
            Err(error) => {
                debug!(%error, "accepting on the unix socket failed");
                // Out of descriptors, say: give the system a moment.
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    }
}

/// Carries one connection to the front, byte for byte, by readiness: an idle
/// connection (a kept-alive one, an open WebSocket) holds no buffer
/// ([`dcs_net::tunnel::tunnel_sockets`]).
async fn carry(outside: UnixStream, front: SocketAddr) {
    let inside = match TcpStream::connect(front).await {
        Ok(s) => s,
        Err(error) => {
            debug!(%error, "the front does not answer");
            return;
        }
    };
    let _ = inside.set_nodelay(true);
    let (up, down) = tunnel_sockets(
        (outside, Bytes::new()),
        (inside, Bytes::new()),
        |_: &[u8]| {},
        std::future::pending(),
    )
    .await;
    debug!(up, down, "relayed connection ended");
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    #[tokio::test]
    async fn bytes_cross_both_ways_and_a_stale_socket_is_replaced() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("front.sock");
        drop(bind(&path).expect("first bind"));
        let listener = bind(&path).expect("stale socket replaced");
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let echo = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let front = echo.local_addr().expect("addr");
        tokio::spawn(async move {
            let (mut s, _) = echo.accept().await.expect("accept");
            let mut buf = [0u8; 5];
            s.read_exact(&mut buf).await.expect("read");
            s.write_all(&buf).await.expect("write");
        });
        tokio::spawn(relay(listener, front));
        let mut client = UnixStream::connect(&path).await.expect("connect");
        client.write_all(b"hello").await.expect("write");
        let mut back = [0u8; 5];
        client.read_exact(&mut back).await.expect("read");
        assert_eq!(&back, b"hello");
        std::fs::write(dir.path().join("plain"), "x").expect("write");
        assert!(
            bind(&dir.path().join("plain")).is_err(),
            "never removes a file"
        );
    }
}
