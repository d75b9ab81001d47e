//! An upgraded connection's tunnel: bytes carried both ways between the client and
//! the upstream until both directions end (each end half-closes the other) or a
//! stop signal comes (idle policy, shutdown), which drops both connections.
//!
//! Generic over `AsyncRead + AsyncWrite`, so it is tested with in-memory pipes as
//! well as real sockets.

use std::future::Future;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Bytes read at once in each direction.
const CHUNK: usize = 8 * 1024;

/// Carries bytes between `client` and `upstream` until both directions end or
/// `stop` resolves. `observe` sees every chunk the client sends before it is passed
/// on (the proxy counts WebSocket data frames with it). Returns the bytes carried
/// up (client → upstream) and down.
pub async fn tunnel<C, U>(
    client: C,
    upstream: U,
    mut observe: impl FnMut(&[u8]),
    stop: impl Future<Output = ()>,
) -> (u64, u64)
where
    C: AsyncRead + AsyncWrite + Unpin,
    U: AsyncRead + AsyncWrite + Unpin,
{
    let (mut client_rd, mut client_wr) = tokio::io::split(client);
    let (mut up_rd, mut up_wr) = tokio::io::split(upstream);
    let mut up = 0u64;
    let mut down = 0u64;
    let client_to_upstream = async {
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = match client_rd.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            observe(&buf[..n]);
            if up_wr.write_all(&buf[..n]).await.is_err() {
                break;
            }
            up += n as u64;
        }
        let _ = up_wr.shutdown().await;
    };
    let upstream_to_client = async {
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = match up_rd.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if client_wr.write_all(&buf[..n]).await.is_err() {
                break;
            }
            down += n as u64;
        }
        let _ = client_wr.shutdown().await;
    };
    tokio::select! {
        // Each direction half-closes the other side when it ends; the tunnel is
        // over when both have.
        _ = async { tokio::join!(client_to_upstream, upstream_to_client) } => {}
        // Stopped: dropping both halves closes both connections.
        () = stop => {}
    }
    (up, down)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn bytes_flow_both_ways_and_the_client_side_is_observed() {
        let (mut client, client_side) = tokio::io::duplex(64);
        let (upstream_side, mut server) = tokio::io::duplex(64);
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = seen.clone();
        let t = tokio::spawn(tunnel(
            client_side,
            upstream_side,
            move |b: &[u8]| log.lock().expect("lock").extend_from_slice(b),
            std::future::pending(),
        ));
        client.write_all(b"up").await.expect("write");
        let mut got = [0u8; 2];
        server.read_exact(&mut got).await.expect("read");
        assert_eq!(&got, b"up");
        server.write_all(b"down").await.expect("write");
        let mut got = [0u8; 4];
        client.read_exact(&mut got).await.expect("read");
        assert_eq!(&got, b"down");
        drop(client);
        drop(server);
        let (up, down) = t.await.expect("ends when both sides close");
        assert_eq!((up, down), (2, 4));
        assert_eq!(*seen.lock().expect("lock"), b"up");
    }

    #[tokio::test]
    async fn a_stop_closes_both_connections() {
        let (mut client, client_side) = tokio::io::duplex(64);
        let (upstream_side, mut server) = tokio::io::duplex(64);
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let t = tokio::spawn(tunnel(client_side, upstream_side, |_: &[u8]| {}, async {
            let _ = rx.await;
        }));
        tx.send(()).expect("send");
        tokio::time::timeout(Duration::from_secs(30), t)
            .await
            .expect("stopped in time")
            .expect("join");
        let mut buf = [0u8; 1];
        assert_eq!(
            client.read(&mut buf).await.expect("read"),
            0,
            "client sees EOF"
        );
        assert_eq!(
            server.read(&mut buf).await.expect("read"),
            0,
            "upstream sees EOF"
        );
    }
}
