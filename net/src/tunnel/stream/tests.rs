//! A socket tunnelled to an in-memory stream, either being the client.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, DuplexStream};
use tokio::net::{TcpListener, TcpStream};

use super::*;

/// A connected pair of TCP sockets on loopback: (ours, theirs).
async fn pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let ours = TcpStream::connect(listener.local_addr().expect("addr"))
        .await
        .expect("connect");
    let (theirs, _) = listener.accept().await.expect("accept");
    (ours, theirs)
}

/// A tunnel between a TCP socket (bytes `early ` already read from it) and an
/// in-memory stream, `client` saying which is the client's; returns the far end of
/// the socket, the far end of the stream, what was observed, and the tunnel.
#[allow(clippy::type_complexity)]
async fn started(
    client: Client,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> (
    TcpStream,
    DuplexStream,
    Arc<Mutex<Vec<u8>>>,
    tokio::task::JoinHandle<(u64, u64)>,
) {
    let (socket_far, socket) = pair().await;
    let (stream, stream_far) = tokio::io::duplex(4096);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let t = tokio::spawn(tunnel_socket_stream(
        (socket, Bytes::from_static(b"early ")),
        stream,
        client,
        move |b: &[u8]| log.lock().expect("lock").extend_from_slice(b),
        stop,
    ));
    (socket_far, stream_far, seen, t)
}

async fn carries_both_ways_and_half_closes(client: Client) {
    let (mut socket_far, stream_far, seen, t) = started(client, std::future::pending()).await;
    // Larger than a stack read and a socket burst, both ways.
    let big = (0..3 * BURST + 5)
        .map(|i| (i % 251) as u8)
        .collect::<Vec<_>>();
    let (mut rd, mut wr) = tokio::io::split(stream_far);
    let stream_side = {
        let big = big.clone();
        tokio::spawn(async move {
            wr.write_all(&big).await.expect("write");
            let mut got = vec![0u8; 6 + big.len()];
            rd.read_exact(&mut got).await.expect("read");
            (rd.unsplit(wr), got)
        })
    };
    socket_far.write_all(&big).await.expect("write");
    let mut down = vec![0u8; big.len()];
    socket_far.read_exact(&mut down).await.expect("read");
    assert!(down == big, "stream to socket whole");
    let (mut stream_far, got) = stream_side.await.expect("stream side");
    assert_eq!(&got[..6], b"early ");
    assert!(got[6..] == big[..], "socket to stream whole");

    // The socket's side half-closes; the stream's side sees the end and answers.
    socket_far.shutdown().await.expect("shutdown");
    let mut rest = Vec::new();
    stream_far.read_to_end(&mut rest).await.expect("eof");
    assert!(rest.is_empty());
    stream_far.write_all(b"bye").await.expect("write");
    drop(stream_far);
    let mut tail = Vec::new();
    socket_far.read_to_end(&mut tail).await.expect("read");
    assert_eq!(tail, b"bye");

    let (up, down) = tokio::time::timeout(Duration::from_secs(30), t)
        .await
        .expect("ends")
        .expect("join");
    let (from_socket, from_stream) = (6 + big.len() as u64, big.len() as u64 + 3);
    let seen = seen.lock().expect("lock").len() as u64;
    match client {
        Client::Socket => {
            assert_eq!((up, down), (from_socket, from_stream));
            assert_eq!(seen, from_socket, "the socket's bytes observed");
        }
        Client::Stream => {
            assert_eq!((up, down), (from_stream, from_socket));
            assert_eq!(seen, from_stream, "the stream's bytes observed");
        }
    }
}

#[tokio::test]
async fn a_client_socket_and_an_upstream_stream_carry_both_ways_and_half_close() {
    // The proxy: the browser's socket, the launcher's HTTP/2 stream.
    carries_both_ways_and_half_closes(Client::Socket).await;
}

#[tokio::test]
async fn a_client_stream_and_an_upstream_socket_carry_both_ways_and_half_close() {
    // The launcher: the proxy's HTTP/2 stream, the IDE's socket.
    carries_both_ways_and_half_closes(Client::Stream).await;
}

#[tokio::test]
async fn a_stop_closes_both_ends() {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let (mut socket_far, mut stream_far, _, t) = started(Client::Socket, async {
        let _ = rx.await;
    })
    .await;
    tx.send(()).expect("send");
    tokio::time::timeout(Duration::from_secs(30), t)
        .await
        .expect("stopped in time")
        .expect("join");
    let mut buf = [0u8; 16];
    let mut early = [0u8; 6];
    // What was read before the stop may have gone through; then the end.
    let n = stream_far.read(&mut early).await.expect("read");
    if n > 0 {
        assert_eq!(&early[..n], &b"early "[..n]);
        while stream_far.read(&mut buf).await.expect("read") > 0 {}
    }
    assert_eq!(
        socket_far.read(&mut buf).await.expect("read"),
        0,
        "socket sees EOF"
    );
}
