//! Upgraded connections (WebSocket): detecting them, and the tunnel that carries
//! bytes both ways while counting the client's data frames as activity.
//!
//! The tunnel is generic over `AsyncRead + AsyncWrite`, so it is tested with
//! in-memory duplex pipes as well as real sockets.

use std::sync::Arc;

use http::header::{self, HeaderMap, HeaderValue};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::ws_scan::FrameScanner;
use crate::activity::Tracker;

/// The `Upgrade` protocol if `headers` ask for an upgrade (`Connection: upgrade`).
pub fn requested(headers: &HeaderMap) -> Option<HeaderValue> {
    let connection_upgrade = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case("upgrade"));
    connection_upgrade
        .then(|| headers.get(header::UPGRADE).cloned())
        .flatten()
}

/// Carries bytes between `client` and `upstream` until both directions end, or
/// until the workspace's tunnels are closed by the idle policy.
/// Client→upstream bytes are scanned: with `websocket`, each client data frame
/// touches `tracker`; otherwise any client bytes do.
pub async fn tunnel<C, U>(client: C, upstream: U, tracker: Arc<Tracker>, websocket: bool)
where
    C: AsyncRead + AsyncWrite + Unpin,
    U: AsyncRead + AsyncWrite + Unpin,
{
    let mut close = tracker.on_close();
    let (mut client_rd, mut client_wr) = tokio::io::split(client);
    let (mut up_rd, mut up_wr) = tokio::io::split(upstream);

    let client_to_upstream = async {
        let mut scanner = FrameScanner::default();
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = match client_rd.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let active = if websocket {
                scanner.feed(&buf[..n]) > 0
            } else {
                true
            };
            if active {
                tracker.touch();
            }
            if up_wr.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
        let _ = up_wr.shutdown().await;
    };
    let upstream_to_client = async {
        let _ = tokio::io::copy(&mut up_rd, &mut client_wr).await;
        let _ = client_wr.shutdown().await;
    };
    tokio::select! {
        // Each direction half-closes the other side when it ends; the tunnel is
        // over when both have.
        _ = async { tokio::join!(client_to_upstream, upstream_to_client) } => {}
        // The idle policy closed the workspace's tunnels: dropping both halves
        // closes both connections.
        _ = close.changed() => {}
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use dcs_model::{RepoRef, UserId, WorkspaceKey};

    use super::*;
    use crate::activity::Activity;

    #[test]
    fn upgrade_needs_both_headers() {
        let mut h = HeaderMap::new();
        h.insert("upgrade", HeaderValue::from_static("websocket"));
        assert!(requested(&h).is_none());
        h.insert(
            "connection",
            HeaderValue::from_static("keep-alive, Upgrade"),
        );
        assert_eq!(requested(&h).expect("upgrade"), "websocket");
    }

    #[tokio::test(start_paused = true)]
    async fn bytes_flow_both_ways_and_only_data_frames_are_activity() {
        let activity = Activity::default();
        let key = WorkspaceKey::new(
            UserId::new("a").expect("u"),
            RepoRef::parse("o/r").expect("r"),
        );
        let tracker = activity.tracker(&key);
        let (mut client, client_side) = tokio::io::duplex(1024);
        let (upstream_side, mut server) = tokio::io::duplex(1024);
        let t = tokio::spawn(tunnel(client_side, upstream_side, tracker.clone(), true));

        tokio::time::advance(Duration::from_secs(60)).await;
        let ping = [0x89, 0x80, 0, 0, 0, 0];
        client.write_all(&ping).await.expect("write");
        let mut got = [0u8; 6];
        server.read_exact(&mut got).await.expect("read");
        assert_eq!(got, ping);
        assert!(
            tracker.idle_for() >= Duration::from_secs(60),
            "a ping is not activity"
        );

        let text = [0x81, 0x82, 0, 0, 0, 0, b'h', b'i'];
        client.write_all(&text).await.expect("write");
        let mut got = [0u8; 8];
        server.read_exact(&mut got).await.expect("read");
        assert!(
            tracker.idle_for() < Duration::from_secs(1),
            "a data frame is activity"
        );

        server.write_all(b"back").await.expect("write");
        let mut got = [0u8; 4];
        client.read_exact(&mut got).await.expect("read");
        assert_eq!(&got, b"back");

        drop(client);
        drop(server);
        t.await.expect("tunnel ends when both sides close");
    }

    #[tokio::test]
    async fn the_idle_policy_closes_open_tunnels() {
        let activity = Activity::default();
        let key = WorkspaceKey::new(
            UserId::new("a").expect("u"),
            RepoRef::parse("o/r").expect("r"),
        );
        let tracker = activity.tracker(&key);
        let (mut client, client_side) = tokio::io::duplex(1024);
        let (upstream_side, _server) = tokio::io::duplex(1024);
        let t = tokio::spawn(tunnel(client_side, upstream_side, tracker.clone(), true));
        tokio::task::yield_now().await;
        tracker.close_tunnels();
        tokio::time::timeout(Duration::from_secs(5), t)
            .await
            .expect("closed in time")
            .expect("join");
        let mut buf = [0u8; 1];
        assert_eq!(
            client.read(&mut buf).await.expect("read"),
            0,
            "the client sees EOF"
        );
    }
}
