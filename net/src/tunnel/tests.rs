//! Tunnels over in-memory pipes and real loopback sockets.

use std::time::Duration;

use super::socket::read_some;
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
    stop_ends_both(tx, t, &mut client, &mut server).await;
}

/// Sends the stop to tunnel `t`, waits for it to end, and checks that both far ends
/// (`client`, `server`) read the end of their connection.
async fn stop_ends_both(
    stop: tokio::sync::oneshot::Sender<()>,
    t: tokio::task::JoinHandle<(u64, u64)>,
    client: &mut (impl AsyncRead + Unpin),
    server: &mut (impl AsyncRead + Unpin),
) {
    stop.send(()).expect("send");
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

/// A connected pair of unix sockets: (ours, theirs).
fn unix_pair() -> (UnixStream, UnixStream) {
    UnixStream::pair().expect("socketpair")
}

/// Carries bytes through a socket tunnel from `client` (whose other end is the
/// tunnel's client side) to `server` (the other end of its upstream side): bytes
/// read before the tunnel began go first, a burst larger than [`BURST`] arrives
/// whole, and a half-close passes through while the other direction goes on.
async fn carries_bytes_read_before_and_after_and_half_closes<C, A, B, S>(
    (mut client, client_side): (C, A),
    (upstream_side, mut server): (B, S),
) where
    C: AsyncRead + AsyncWrite + Unpin,
    S: AsyncRead + AsyncWrite + Unpin,
    A: Socket + 'static,
    B: Socket + 'static,
{
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    let t = tokio::spawn(tunnel_sockets(
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
async fn tcp_tunnels_carry_bytes_read_before_and_after_and_half_close() {
    carries_bytes_read_before_and_after_and_half_closes(pair().await, pair().await).await;
}

#[tokio::test]
async fn tunnels_between_tcp_and_unix_sockets_carry_bytes_and_half_close() {
    // A sandboxed workspace: the proxy's upstream is a unix socket; the launcher's
    // relay into the sandbox has a unix socket on the client side.
    carries_bytes_read_before_and_after_and_half_closes(pair().await, unix_pair()).await;
    carries_bytes_read_before_and_after_and_half_closes(unix_pair(), pair().await).await;
    carries_bytes_read_before_and_after_and_half_closes(unix_pair(), unix_pair()).await;
}

#[tokio::test]
async fn a_stop_closes_both_socket_connections() {
    let (mut client, client_side) = pair().await;
    let (upstream_side, mut server) = unix_pair();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let t = tokio::spawn(tunnel_sockets(
        (client_side, Bytes::new()),
        (upstream_side, Bytes::new()),
        |_: &[u8]| {},
        async {
            let _ = rx.await;
        },
    ));
    stop_ends_both(tx, t, &mut client, &mut server).await;
}

#[tokio::test]
async fn a_short_read_takes_all_there_is_and_waits_for_more_without_asking_again() {
    let (mut writer, reader) = pair().await;
    writer.write_all(b"0123456789").await.expect("write");
    reader.readable().await.expect("readable");
    let mut buf = Vec::with_capacity(64);
    assert_eq!(read_some(&reader, &mut buf).expect("read"), (10, true));
    assert_eq!(buf, b"0123456789");
    // Drained: the socket is not ready any more, with no second read to find out.
    let ready = tokio::time::timeout(Duration::from_millis(100), reader.readable()).await;
    assert!(ready.is_err(), "still ready after a short read");
    // Bytes that come later make it ready again.
    writer.write_all(b"abcde").await.expect("write");
    tokio::time::timeout(Duration::from_secs(30), reader.readable())
        .await
        .expect("ready again")
        .expect("readable");
    buf.clear();
    assert_eq!(read_some(&reader, &mut buf).expect("read"), (5, true));
    assert_eq!(buf, b"abcde");
}

#[tokio::test]
async fn a_unix_socket_is_read_until_it_would_block() {
    // A short read from a unix socket does not promise it took everything (a
    // writer's passed descriptors end a read early), so it is read again.
    let (mut writer, reader) = unix_pair();
    writer.write_all(b"0123456789").await.expect("write");
    reader.readable().await.expect("readable");
    let mut buf = Vec::with_capacity(64);
    assert_eq!(read_some(&reader, &mut buf).expect("read"), (10, false));
    buf.clear();
    let again = read_some(&reader, &mut buf).expect_err("nothing left");
    assert_eq!(again.kind(), io::ErrorKind::WouldBlock);
}

#[tokio::test]
async fn a_full_read_leaves_the_socket_ready_for_the_rest() {
    let (mut writer, reader) = pair().await;
    writer.write_all(b"0123456789").await.expect("write");
    let mut seen = Vec::new();
    while seen.len() < 10 {
        tokio::time::timeout(Duration::from_secs(30), reader.readable())
            .await
            .expect("ready")
            .expect("readable");
        let mut buf = Vec::with_capacity(4);
        let (n, drained) = read_some(&reader, &mut buf).expect("read");
        // Only a read that had room to spare says it took everything.
        assert_eq!(drained, n < 4, "{n} bytes read");
        seen.extend_from_slice(&buf);
    }
    assert_eq!(seen, b"0123456789");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_messages_back_and_forth_never_wait_for_a_later_one() {
    // Ping-pong through a tunnel: each message is answered before the next is sent,
    // so a message whose arrival the tunnel missed would hang the exchange.
    let (mut client, client_side) = pair().await;
    let (upstream_side, mut server) = pair().await;
    tokio::spawn(tunnel_sockets(
        (client_side, Bytes::new()),
        (upstream_side, Bytes::new()),
        |_: &[u8]| {},
        std::future::pending(),
    ));
    let echo = tokio::spawn(async move {
        let mut buf = [0u8; 32];
        loop {
            match server.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => server.write_all(&buf[..n]).await.expect("echo"),
            }
        }
    });
    let exchange = async {
        for i in 0..2_000u32 {
            let message = i.to_be_bytes();
            client.write_all(&message).await.expect("write");
            let mut got = [0u8; 4];
            client.read_exact(&mut got).await.expect("read");
            assert_eq!(got, message);
        }
    };
    tokio::time::timeout(Duration::from_secs(120), exchange)
        .await
        .expect("every message answered");
    drop(client);
    let _ = echo.await;
}

/// The client side of a connection over `(ours, theirs)` upgraded by hyper (a
/// server on `theirs` answers `101`).
async fn upgraded<T: AsyncRead + AsyncWrite + Send + Unpin + 'static>(
    ours: T,
    theirs: T,
) -> Upgraded {
    use http_body_util::Empty;
    let switch = || {
        http::Request::get("/")
            .header(http::header::CONNECTION, "upgrade")
            .header(http::header::UPGRADE, "test")
    };
    let answer =
        hyper::service::service_fn(|mut req: http::Request<hyper::body::Incoming>| async move {
            tokio::spawn(async move { drop(hyper::upgrade::on(&mut req).await) });
            http::Response::builder()
                .status(http::StatusCode::SWITCHING_PROTOCOLS)
                .header(http::header::CONNECTION, "upgrade")
                .header(http::header::UPGRADE, "test")
                .body(Empty::<Bytes>::new())
        });
    tokio::spawn(
        hyper::server::conn::http1::Builder::new()
            .serve_connection(TokioIo::new(theirs), answer)
            .with_upgrades(),
    );
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(ours))
        .await
        .expect("handshake");
    tokio::spawn(conn.with_upgrades());
    let req = switch().body(Empty::<Bytes>::new()).expect("request");
    let answer = sender.send_request(req).await.expect("answer");
    assert_eq!(answer.status(), http::StatusCode::SWITCHING_PROTOCOLS);
    hyper::upgrade::on(answer).await.expect("upgraded")
}

#[tokio::test]
async fn upgraded_tcp_and_unix_connections_are_tunnelled_as_their_sockets() {
    // Both kinds go by readiness with no buffer while idle; only another kind of
    // stream (here an in-memory pipe) takes the buffered tunnel.
    let (ours, theirs) = pair().await;
    assert!(matches!(
        Conn::of(upgraded(ours, theirs).await),
        Conn::Tcp(_)
    ));
    let (ours, theirs) = unix_pair();
    assert!(matches!(
        Conn::of(upgraded(ours, theirs).await),
        Conn::Unix(_)
    ));
    let (ours, theirs) = tokio::io::duplex(1024);
    assert!(matches!(
        Conn::of(upgraded(ours, theirs).await),
        Conn::Other(_)
    ));
}

#[tokio::test]
async fn a_message_moves_through_the_scratch_buffer_whole() {
    use super::socket::{move_some, Moved};
    let (mut client, from) = pair().await;
    let (to, mut server) = pair().await;
    client.write_all(b"hello").await.expect("write");
    from.readable().await.expect("readable");
    let mut seen = Vec::new();
    let moved = move_some(&from, &to, BURST, &mut |b: &[u8]| seen.extend_from_slice(b));
    assert_eq!(
        moved.expect("moved"),
        Moved::All {
            n: 5,
            drained: true
        }
    );
    assert_eq!(seen, b"hello");
    let mut got = [0u8; 5];
    server.read_exact(&mut got).await.expect("read");
    assert_eq!(&got, b"hello");
    // Nothing more to read: would block, and nothing was written.
    let idle = move_some(&from, &to, BURST, &mut |_: &[u8]| {}).expect_err("nothing there");
    assert_eq!(idle.kind(), io::ErrorKind::WouldBlock);
    drop(client);
    tokio::time::timeout(Duration::from_secs(30), from.readable())
        .await
        .expect("ready at the end")
        .expect("readable");
    let ended = move_some(&from, &to, BURST, &mut |_: &[u8]| {}).expect("end");
    assert_eq!(ended, Moved::Ended);
}

#[tokio::test]
async fn what_a_full_peer_cannot_take_is_handed_back_in_order() {
    use super::socket::{move_some, Moved};
    let (mut client, from) = unix_pair();
    let (to, mut server) = unix_pair();
    // Fill `to` until it takes nothing more.
    let mut filled = 0usize;
    loop {
        match to.try_write(&[1u8; 4096]) {
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) => panic!("{e}"),
        }
    }
    client.write_all(&[2u8; 1000]).await.expect("write");
    from.readable().await.expect("readable");
    let rest = match move_some(&from, &to, BURST, &mut |_: &[u8]| {}).expect("moved") {
        Moved::Part { n, rest, .. } => {
            assert_eq!(n, 1000);
            rest
        }
        other => panic!("a full peer took it all: {other:?}"),
    };
    assert!(!rest.is_empty() && rest.iter().all(|b| *b == 2));
    let sent = 1000 - rest.len();
    let reading = tokio::spawn(async move {
        let mut got = vec![0u8; filled + 1000];
        server.read_exact(&mut got).await.expect("read");
        got
    });
    write_all(&to, &rest).await.expect("the rest written");
    let got = reading.await.expect("join");
    assert!(got[..filled].iter().all(|b| *b == 1), "{sent} sent at once");
    assert!(got[filled..].iter().all(|b| *b == 2), "in order");
}
