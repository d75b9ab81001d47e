//! Tunnels over in-memory pipes and real loopback sockets.

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

/// A connected pair of TCP sockets on loopback: (ours, theirs).
async fn pair() -> (TcpStream, TcpStream) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let ours = TcpStream::connect(listener.local_addr().expect("addr"))
        .await
        .expect("connect");
    let (theirs, _) = listener.accept().await.expect("accept");
    (ours, theirs)
}

#[tokio::test]
async fn tcp_tunnels_carry_bytes_read_before_and_after_and_half_close() {
    let (mut client, client_side) = pair().await;
    let (upstream_side, mut server) = pair().await;
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    let t = tokio::spawn(tunnel_tcp(
        (client_side, Bytes::from_static(b"early ")),
        (upstream_side, Bytes::from_static(b"hello ")),
        move |b: &[u8]| log.lock().expect("lock").extend_from_slice(b),
        std::future::pending(),
    ));
    let big = vec![7u8; 3 * BURST + 5];
    client.write_all(&big).await.expect("write");
    let mut got = vec![0u8; 6 + big.len()];
    server.read_exact(&mut got).await.expect("read");
    assert_eq!(&got[..6], b"early ");
    assert!(got[6..] == big[..]);
    server.write_all(b"world").await.expect("write");
    let mut got = [0u8; 11];
    client.read_exact(&mut got).await.expect("read");
    assert_eq!(&got, b"hello world");
    // The client half-closes; the server sees EOF and can still answer.
    client.shutdown().await.expect("shutdown");
    let mut rest = Vec::new();
    server.read_to_end(&mut rest).await.expect("eof");
    assert!(rest.is_empty());
    server.write_all(b"bye").await.expect("write");
    drop(server);
    let mut tail = Vec::new();
    client.read_to_end(&mut tail).await.expect("read");
    assert_eq!(tail, b"bye");
    let (up, down) = tokio::time::timeout(Duration::from_secs(30), t)
        .await
        .expect("ends")
        .expect("join");
    assert_eq!(up, 6 + big.len() as u64);
    assert_eq!(down, 14);
    assert_eq!(
        seen.lock().expect("lock").len(),
        6 + big.len(),
        "all of it observed"
    );
}

#[tokio::test]
async fn a_stop_closes_both_tcp_connections() {
    let (mut client, client_side) = pair().await;
    let (upstream_side, mut server) = pair().await;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let t = tokio::spawn(tunnel_tcp(
        (client_side, Bytes::new()),
        (upstream_side, Bytes::new()),
        |_: &[u8]| {},
        async {
            let _ = rx.await;
        },
    ));
    tx.send(()).expect("send");
    tokio::time::timeout(Duration::from_secs(30), t)
        .await
        .expect("stopped in time")
        .expect("join");
    let mut buf = [0u8; 1];
    assert_eq!(client.read(&mut buf).await.expect("read"), 0);
    assert_eq!(server.read(&mut buf).await.expect("read"), 0);
}
