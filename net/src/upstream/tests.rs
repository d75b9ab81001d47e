//! The pool against real servers on loopback: connections reused, sockets with
//! `TCP_NODELAY`, upgrades on connections of their own, failures classified.

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use http::StatusCode;
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper::service::service_fn;
use tokio::net::TcpListener;

use super::*;

/// A hyper server answering `ok` (and `101` to upgrades), counting accepts.
async fn counting_server() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let accepts = Arc::new(AtomicUsize::new(0));
    let count = accepts.clone();
    let me = addr.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            count.fetch_add(1, Ordering::SeqCst);
            let name = me.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |mut req: Request<Incoming>| {
                    let name = name.clone();
                    async move {
                        if crate::hop::upgrade_requested(req.headers()).is_some() {
                            tokio::spawn(async move {
                                let _ = hyper::upgrade::on(&mut req).await;
                            });
                            let resp = Response::builder()
                                .status(StatusCode::SWITCHING_PROTOCOLS)
                                .header("connection", "upgrade")
                                .header("upgrade", "echo")
                                .body(Empty::<Bytes>::new())
                                .expect("response");
                            return Ok::<_, Infallible>(resp);
                        }
                        let resp = Response::builder()
                            .header("x-server", name)
                            .header("x-target", req.uri().to_string())
                            .body(Empty::<Bytes>::new())
                            .expect("response");
                        Ok(resp)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .with_upgrades()
                    .await;
            });
        }
    });
    (addr, accepts)
}

fn get(path: &str) -> Request<Empty<Bytes>> {
    Request::get(path)
        .header("host", "workspace.example")
        .body(Empty::new())
        .expect("request")
}

#[tokio::test]
async fn sequential_requests_share_one_kept_alive_connection() {
    let (addr, accepts) = counting_server().await;
    let pool = Pool::new(&PoolConfig::default());
    for i in 0..100 {
        let resp = pool
            .send(&addr, get(&format!("/r/{i}")))
            .await
            .expect("sent");
        assert_eq!(resp.status(), 200);
        resp.into_body().collect().await.expect("body");
    }
    let opened = accepts.load(Ordering::SeqCst);
    assert!(opened <= 2, "100 requests opened {opened} connections");
}

/// Requests to two upstreams, interleaved, each reach their own, over a kept-alive
/// connection of their own; an address that is none is refused and leaves no record.
#[tokio::test]
async fn each_upstream_gets_its_own_requests_over_its_own_connections() {
    let (a, accepts_a) = counting_server().await;
    let (b, accepts_b) = counting_server().await;
    let pool = Pool::new(&PoolConfig::default());
    for i in 0..60 {
        let to = if i % 2 == 0 { &a } else { &b };
        let resp = pool.send(to, get(&format!("/r/{i}"))).await.expect("sent");
        assert_eq!(resp.headers()["x-server"], to.as_str(), "request {i}");
        resp.into_body().collect().await.expect("body");
    }
    for (name, accepts) in [(&a, &accepts_a), (&b, &accepts_b)] {
        let opened = accepts.load(Ordering::SeqCst);
        assert!((1..=2).contains(&opened), "{name}: {opened} connections");
    }
    let bad = pool.send("not an address", get("/")).await;
    assert!(bad.is_err_and(|f| f.message.contains("unusable upstream address")));
    assert_eq!(pool.kept.upstreams(), 2);
}

/// Concurrent load (a bench's 256 connections, a page loading its assets at once)
/// keeps its connections between waves: the idle pool holds as many as were busy,
/// so later waves reuse them instead of connecting again and again (a descriptor,
/// a handshake and a close each). At most one connection per concurrent request
/// is ever opened, however many waves follow.
#[tokio::test]
async fn waves_of_concurrent_requests_reuse_their_connections() {
    const CONCURRENT: usize = 256;
    const WAVES: usize = 6;
    let (addr, accepts) = counting_server().await;
    let pool = Arc::new(Pool::new(&PoolConfig::default()));
    for _ in 0..WAVES {
        let mut tasks = Vec::new();
        for i in 0..CONCURRENT {
            let (pool, addr) = (pool.clone(), addr.clone());
            tasks.push(tokio::spawn(async move {
                let resp = pool
                    .send(&addr, get(&format!("/w/{i}")))
                    .await
                    .expect("sent");
                resp.into_body().collect().await.expect("body");
            }));
        }
        for task in tasks {
            task.await.expect("task");
        }
    }
    let opened = accepts.load(Ordering::SeqCst);
    assert!(
        opened <= CONCURRENT + CONCURRENT / 16,
        "{WAVES} waves of {CONCURRENT} concurrent requests opened {opened} connections"
    );
}

/// The upstream is sent the target's path and query only, however the request
/// named it: an absolute target would name a host the connection does not go to.
#[tokio::test]
async fn requests_reach_the_upstream_in_origin_form() {
    let (addr, _) = counting_server().await;
    let pool = Pool::new(&PoolConfig::default());
    for (given, sent) in [
        ("/x?y=1", "/x?y=1"),
        ("http://other.example/x?y=1", "/x?y=1"),
        ("http://other.example", "/"),
    ] {
        let resp = pool.send(&addr, get(given)).await.expect("sent");
        assert_eq!(resp.headers()["x-target"], sent, "{given}");
        resp.into_body().collect().await.expect("body");
    }
}

#[tokio::test]
async fn connections_have_nodelay_and_upgrades_get_their_own() {
    let (addr, accepts) = counting_server().await;
    let pool = Pool::new(&PoolConfig::default());
    let stream = pool.connect(&addr).await.expect("connect");
    assert!(stream.nodelay().expect("getsockopt"), "TCP_NODELAY set");
    drop(stream);

    let resp = pool.send(&addr, get("/")).await.expect("sent");
    resp.into_body().collect().await.expect("body");
    let before = accepts.load(Ordering::SeqCst);
    let upgrade = Request::get("/ws")
        .header("host", "workspace.example")
        .header("connection", "upgrade")
        .header("upgrade", "echo")
        .body(Empty::<Bytes>::new())
        .expect("request");
    let mut resp = pool.send_upgrade(&addr, upgrade).await.expect("sent");
    assert_eq!(resp.status(), StatusCode::SWITCHING_PROTOCOLS);
    assert_eq!(
        accepts.load(Ordering::SeqCst),
        before + 1,
        "an upgrade takes a connection of its own"
    );
    let upgraded = hyper::upgrade::on(&mut resp).await.expect("upgraded");
    let parts = upgraded
        .downcast::<TokioIo<TcpStream>>()
        .unwrap_or_else(|_| panic!("a TCP socket"));
    assert!(
        parts.io.inner().nodelay().expect("getsockopt"),
        "the tunnel's upstream socket has TCP_NODELAY"
    );
}

#[tokio::test]
async fn refused_connections_are_told_from_shortages() {
    let free = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = free.local_addr().expect("addr").to_string();
    drop(free);
    let pool = Pool::<Empty<Bytes>>::new(&PoolConfig::default());
    let err = pool.send(&addr, get("/")).await.expect_err("refused");
    assert_eq!(err.kind, Kind::Refused, "{err}");
    assert!(err.connecting);
    let err = pool.connect(&addr).await.expect_err("refused");
    assert_eq!(err.kind, Kind::Refused, "{err}");

    #[derive(Debug, thiserror::Error)]
    #[error("tcp open error")]
    struct Wrapped(#[source] io::Error);
    let emfile = Wrapped(io::Error::from_raw_os_error(libc_errno::EMFILE));
    assert_eq!(classify(&emfile), Kind::Exhausted);
    let reset = Wrapped(io::Error::from_raw_os_error(libc_errno::ECONNRESET));
    assert_eq!(classify(&reset), Kind::Reset);
}

#[tokio::test]
async fn a_connection_closed_before_the_answer_is_told_apart() {
    // An upstream that reads the request and closes without answering (a launcher
    // killed as the request arrived).
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.expect("accept");
        let mut buf = [0u8; 1024];
        let _ = tokio::io::AsyncReadExt::read(&mut stream, &mut buf).await;
    });
    let pool = Pool::<Empty<Bytes>>::new(&PoolConfig::default());
    let err = pool.send(&addr, get("/")).await.expect_err("no answer");
    assert_eq!(err.kind, Kind::Closed, "{err}");
    assert!(!err.connecting, "the request went out");
}
