//! Upgrades as streams on one HTTP/2 connection to a real hyper server that turns
//! them back into HTTP/1.1 upgrades, as the launcher does.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use http::header::{CONNECTION, HOST, UPGRADE};
use http::StatusCode;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::*;
use crate::extended_connect::{from_stream, to_accepted};

/// An HTTP/2 server on loopback answering upgrades to `websocket` with an echo
/// (and anything else `403`); counts the connections it accepted and the bytes its
/// `/flood` streams got written.
async fn server() -> (
    String,
    Arc<AtomicUsize>,
    Arc<AtomicUsize>,
    tokio::task::JoinHandle<()>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let accepted = Arc::new(AtomicUsize::new(0));
    let flooded = Arc::new(AtomicUsize::new(0));
    let (count, written) = (accepted.clone(), flooded.clone());
    let task = tokio::spawn(async move {
        // Owned by this task: stopping it closes every connection it accepted.
        let mut connections = tokio::task::JoinSet::new();
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            count.fetch_add(1, Ordering::SeqCst);
            let written = written.clone();
            let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
                let written = written.clone();
                async move {
                    assert!(from_stream(&mut req), "every request is a stream here");
                    let upgrade = crate::hop::upgrade_requested(req.headers());
                    let host = req.headers().get(HOST).cloned();
                    let flood = req.uri().path() == "/flood";
                    let resp = if upgrade.is_some_and(|u| crate::hop::is_websocket(&u)) {
                        let on = hyper::upgrade::on(&mut req);
                        tokio::spawn(async move {
                            let Ok(up) = on.await else { return };
                            let mut io = TokioIo::new(up);
                            if flood {
                                // More than a stream may have unread; never reads.
                                let chunk = [b'x'; 16 * 1024];
                                for _ in 0..256 {
                                    if io.write_all(&chunk).await.is_err() {
                                        break;
                                    }
                                    written.fetch_add(chunk.len(), Ordering::SeqCst);
                                }
                                std::future::pending::<()>().await;
                            }
                            let mut buf = [0u8; 1024];
                            while let Ok(n) = io.read(&mut buf).await {
                                if n == 0 || io.write_all(&buf[..n]).await.is_err() {
                                    break;
                                }
                            }
                        });
                        Response::builder()
                            .status(StatusCode::SWITCHING_PROTOCOLS)
                            .header(CONNECTION, "upgrade")
                            .header(UPGRADE, "websocket")
                            .header("sec-websocket-accept", "accepted")
                            .header("x-host", host.unwrap_or(HeaderValue::from_static("-")))
                            .body(Full::new(Bytes::new()))
                    } else {
                        Response::builder()
                            .status(StatusCode::FORBIDDEN)
                            .body(Full::new(Bytes::from_static(b"not here")))
                    };
                    Ok::<_, std::convert::Infallible>(to_accepted(resp.expect("response")))
                }
            });
            connections.spawn(
                crate::extended_connect::server().serve_connection(TokioIo::new(stream), service),
            );
        }
    });
    (addr, accepted, flooded, task)
}

fn upgrade(to: &'static str) -> Request<Empty<Bytes>> {
    upgrade_of("/ws?x=1", to)
}

fn upgrade_of(path: &str, to: &'static str) -> Request<Empty<Bytes>> {
    Request::get(path)
        .header(HOST, "ide.example:8080")
        .header(CONNECTION, "upgrade")
        .header(UPGRADE, to)
        .header("sec-websocket-key", "k")
        .body(Empty::new())
        .expect("request")
}

async fn connect(addr: &str) -> Result<TokioIo<TcpStream>, Failure> {
    TcpStream::connect(addr)
        .await
        .map(TokioIo::new)
        .map_err(|e| Failure::of(&e, true))
}

#[tokio::test]
async fn upgrades_share_one_connection_and_each_is_a_tunnel_of_its_own() {
    let (addr, accepted, _, _server) = server().await;
    let mux = Multiplexed::default();
    let ws = HeaderValue::from_static("websocket");
    let mut tunnels = Vec::new();
    for _ in 0..50 {
        let mut resp = mux
            .send_upgrade(&addr, upgrade("websocket"), &ws, &addr, || connect(&addr))
            .await
            .expect("answer");
        assert_eq!(resp.status(), StatusCode::SWITCHING_PROTOCOLS);
        assert_eq!(resp.headers()[UPGRADE], "websocket");
        assert_eq!(resp.headers()[CONNECTION], "upgrade");
        assert_eq!(resp.headers()["sec-websocket-accept"], "accepted");
        assert_eq!(
            resp.headers()["x-host"],
            "ide.example:8080",
            "the browser's Host"
        );
        let held = Held::take(&mut resp).expect("a stream holds its connection");
        tunnels.push((
            TokioIo::new(hyper::upgrade::on(&mut resp).await.expect("upgraded")),
            held,
        ));
    }
    for (i, (t, _)) in tunnels.iter_mut().enumerate() {
        let msg = format!("message {i}");
        t.write_all(msg.as_bytes()).await.expect("write");
        let mut got = vec![0u8; msg.len()];
        t.read_exact(&mut got).await.expect("echo");
        assert_eq!(got, msg.as_bytes());
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 1, "one connection for all");
    assert_eq!(mux.open(), 1);
    // The last tunnel closed: so is the connection, and the next one makes anew.
    drop(tunnels);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    while mux.open() > 0 {
        assert!(tokio::time::Instant::now() < deadline, "still open");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let _again = mux
        .send_upgrade(&addr, upgrade("websocket"), &ws, &addr, || connect(&addr))
        .await
        .expect("answer");
    assert_eq!(accepted.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn upgrades_opened_together_share_the_connection_they_wait_for() {
    let (addr, accepted, _, _server) = server().await;
    let mux = Multiplexed::default();
    let ws = HeaderValue::from_static("websocket");
    let opens = (0..8)
        .map(|_| mux.send_upgrade(&addr, upgrade("websocket"), &ws, &addr, || connect(&addr)));
    let answers = futures_util::future::join_all(opens).await;
    for answer in &answers {
        let answer = answer.as_ref().expect("answer");
        assert_eq!(answer.status(), StatusCode::SWITCHING_PROTOCOLS);
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 1, "one connection for all");
}

#[tokio::test]
async fn a_refusal_passes_as_it_is() {
    let (addr, _, _, _server) = server().await;
    let mux = Multiplexed::default();
    let resp = mux
        .send_upgrade(
            &addr,
            upgrade("h2c-nonsense"),
            &HeaderValue::from_static("h2c-nonsense"),
            &addr,
            || connect(&addr),
        )
        .await
        .expect("answer");
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    assert_eq!(body, "not here");
}

#[tokio::test]
async fn a_launcher_that_went_away_is_connected_to_anew_when_it_is_back() {
    let (addr, accepted, _, server_task) = server().await;
    let mux = Multiplexed::default();
    let ws = HeaderValue::from_static("websocket");
    let mut resp = mux
        .send_upgrade(&addr, upgrade("websocket"), &ws, &addr, || connect(&addr))
        .await
        .expect("answer");
    assert_eq!(resp.status(), StatusCode::SWITCHING_PROTOCOLS);
    let _held = Held::take(&mut resp);
    // The server stops (its connections with it) while a tunnel still holds the
    // connection: it is noticed closed, and the next upgrade connects anew.
    server_task.abort();
    let _ = server_task.await;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    while mux.open() > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the closed connection is noticed"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let failed = mux
        .send_upgrade(&addr, upgrade("websocket"), &ws, &addr, || connect(&addr))
        .await
        .expect_err("nothing listens");
    assert_eq!(failed.kind, super::super::Kind::Refused);
    assert!(failed.connecting);
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
}

/// A stream to `/flood` (its writer never stops) that is never read, with the
/// connection it holds.
async fn flood(
    mux: &Multiplexed<Empty<Bytes>>,
    addr: &str,
) -> (hyper::upgrade::Upgraded, Option<Held>) {
    let ws = HeaderValue::from_static("websocket");
    let mut resp = mux
        .send_upgrade(addr, upgrade_of("/flood", "websocket"), &ws, addr, || {
            connect(addr)
        })
        .await
        .expect("answer");
    assert_eq!(resp.status(), StatusCode::SWITCHING_PROTOCOLS);
    let held = Held::take(&mut resp);
    (hyper::upgrade::on(&mut resp).await.expect("upgraded"), held)
}

#[tokio::test]
async fn streams_nobody_reads_do_not_stall_the_others() {
    // Browsers that stopped reading (closed laptops) while their IDE kept sending:
    // each stream holds at most its own window, and the connection's is never the
    // limit, so the workspace's other WebSockets go on.
    let (addr, accepted, flooded, _server) = server().await;
    let mux = Multiplexed::default();
    let ws = HeaderValue::from_static("websocket");
    let mut stalled = Vec::new();
    for _ in 0..8 {
        stalled.push(flood(&mux, &addr).await);
    }
    // The floods filled what they may: every stream's window at least (so the
    // connection's would be the limit now if it were one), and no more bytes for
    // half a second.
    let full = 8 * crate::extended_connect::STREAM_WINDOW as usize;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    let mut last = usize::MAX;
    loop {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        let now = flooded.load(Ordering::SeqCst);
        if now == last && now >= full {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the floods never filled their windows ({full} bytes): {now}"
        );
        last = now;
    }
    let mut resp = mux
        .send_upgrade(&addr, upgrade("websocket"), &ws, &addr, || connect(&addr))
        .await
        .expect("answer");
    let _held = Held::take(&mut resp);
    let mut live = TokioIo::new(hyper::upgrade::on(&mut resp).await.expect("upgraded"));
    let echoed = async {
        live.write_all(b"still here").await.expect("write");
        let mut got = [0u8; 10];
        live.read_exact(&mut got).await.expect("echo");
        got
    };
    let got = tokio::time::timeout(std::time::Duration::from_secs(30), echoed)
        .await
        .expect("the other stream is not stalled");
    assert_eq!(&got, b"still here");
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_stream_nobody_reads_holds_little_in_the_proxy() {
    // A browser that stopped reading while its workspace kept sending (a closed
    // laptop, or a user after the proxy's memory with many such WebSockets): every
    // byte its workspace got to write is held on the way, in the proxy's receive
    // buffer for the stream (at most its window) or in a socket.
    let (addr, _, flooded, _server) = server().await;
    let mux = Multiplexed::default();
    let _stalled = flood(&mux, &addr).await;
    // Until the writer is held back: no more bytes for half a second.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    let mut last = usize::MAX;
    loop {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        let now = flooded.load(Ordering::SeqCst);
        if now == last && now > 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still writing: {now}"
        );
        last = now;
    }
    assert!(
        last <= 256 * 1024 + 64 * 1024,
        "{last} bytes written to a stream nobody reads"
    );
}
