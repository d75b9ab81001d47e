//! Upgraded connections (WebSocket): the tunnel ([`dcs_net::tunnel`]) with the
//! workspace's activity tracking: the client's data frames count as activity, and
//! the idle policy can close every tunnel of a workspace.

use std::sync::Arc;

use hyper::upgrade::Upgraded;
use tokio::io::{AsyncRead, AsyncWrite};

use super::ws_scan::FrameScanner;
use crate::activity::Tracker;

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
    let mut scanner = FrameScanner::default();
    let observe = |bytes: &[u8]| {
        if !websocket || scanner.feed(bytes) > 0 {
            tracker.touch();
        }
    };
    let closed = async {
        let _ = close.changed().await;
    };
    dcs_net::tunnel::tunnel(client, upstream, observe, closed).await;
}

/// [`tunnel`] for hyper's upgraded connections (the proxy's): between two TCP
/// sockets it holds no buffer while idle ([`dcs_net::tunnel::tunnel_upgraded`]).
pub async fn tunnel_upgraded(
    client: Upgraded,
    upstream: Upgraded,
    tracker: Arc<Tracker>,
    websocket: bool,
) {
    let mut close = tracker.on_close();
    let mut scanner = FrameScanner::default();
    let observe = |bytes: &[u8]| {
        if !websocket || scanner.feed(bytes) > 0 {
            tracker.touch();
        }
    };
    let closed = async {
        let _ = close.changed().await;
    };
    dcs_net::tunnel::tunnel_upgraded(client, upstream, observe, closed).await;
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use dcs_model::{RepoRef, UserId, WorkspaceKey};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;
    use crate::activity::Activity;

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
        tokio::time::timeout(Duration::from_secs(30), t)
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
