//! Upgraded connections (WebSocket): the tunnel ([`dcs_net::tunnel`]), which the idle
//! policy can close for every tunnel of a workspace, and which closes by itself when
//! the sign-in that admitted it ends (its [`Lease`]: a sign-out, a session the
//! outpost no longer knows, an expired token). What passes through is not
//! activity: whether a workspace is used is decided by its launcher, which
//! classifies the client's messages (an IDE's keepalives never count).

use std::sync::Arc;

use hyper::upgrade::Upgraded;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::activity::Tracker;
use crate::auth::Lease;

/// Carries bytes between `client` and `upstream` until both directions end, until
/// the workspace's tunnels are closed by the idle policy, or until `lease` ends.
pub async fn tunnel<C, U>(client: C, upstream: U, tracker: Arc<Tracker>, lease: Lease)
where
    C: AsyncRead + AsyncWrite + Unpin,
    U: AsyncRead + AsyncWrite + Unpin,
{
    dcs_net::tunnel::tunnel(client, upstream, |_: &[u8]| {}, closed(&tracker, lease)).await;
}

/// [`tunnel`] for hyper's upgraded connections (the proxy's): between two TCP
/// sockets it holds no buffer while idle ([`dcs_net::tunnel::tunnel_upgraded`]).
pub async fn tunnel_upgraded(
    client: Upgraded,
    upstream: Upgraded,
    tracker: Arc<Tracker>,
    lease: Lease,
) {
    let closed = closed(&tracker, lease);
    dcs_net::tunnel::tunnel_upgraded(client, upstream, |_: &[u8]| {}, closed).await;
}

/// Resolves when the tunnel must close: the idle policy closed the workspace's
/// tunnels, or `lease` ended (held, and so registered, until the tunnel is done).
async fn closed(tracker: &Tracker, mut lease: Lease) {
    let mut close = tracker.on_close();
    tokio::select! {
        _ = close.changed() => {}
        () = lease.ended() => {}
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use dcs_model::{RepoRef, UserId, WorkspaceKey};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;
    use crate::activity::Activity;

    #[tokio::test(start_paused = true)]
    async fn bytes_flow_both_ways_and_no_frame_is_activity() {
        let activity = Activity::default();
        let key = WorkspaceKey::new(
            UserId::new("a").expect("u"),
            RepoRef::parse("o/r").expect("r"),
        );
        let tracker = activity.tracker(&key);
        let (mut client, client_side) = tokio::io::duplex(1024);
        let (upstream_side, mut server) = tokio::io::duplex(1024);
        let t = tokio::spawn(tunnel(
            client_side,
            upstream_side,
            tracker.clone(),
            Lease::lasting(),
        ));

        tokio::time::advance(Duration::from_secs(60)).await;
        let ping = [0x89, 0x80, 0, 0, 0, 0];
        client.write_all(&ping).await.expect("write");
        let mut got = [0u8; 6];
        server.read_exact(&mut got).await.expect("read");
        assert_eq!(got, ping);

        // A VS Code KeepAlive in a binary frame: the launcher's business, not ours.
        let keepalive = [0x82, 13, 9, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0];
        client.write_all(&keepalive).await.expect("write");
        let mut got = [0u8; 15];
        server.read_exact(&mut got).await.expect("read");
        assert!(
            tracker.idle_for() >= Duration::from_secs(60),
            "frames are not activity here"
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
        let t = tokio::spawn(tunnel(
            client_side,
            upstream_side,
            tracker.clone(),
            Lease::lasting(),
        ));
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
