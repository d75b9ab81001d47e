//! Plain HTTP through the egress proxy, with hyper on both sides.

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request, Response, Uri};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use super::fixtures::{status, Proxy, DEADLINE};
use super::{allowing, Policy};

/// What the web server saw of a request.
struct Seen {
    uri: Uri,
    headers: HeaderMap,
}

/// Serves HTTP/1.1 on a port of 127.0.0.1, answering each request with `handle`;
/// the port.
async fn http_server<F, Fut, B>(handle: F) -> u16
where
    F: Fn(Request<Incoming>) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Response<B>> + Send + 'static,
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("address").port();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let handle = handle.clone();
            let svc = service_fn(move |req| {
                let answer = handle(req);
                async move { Ok::<_, Infallible>(answer.await) }
            });
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc),
            );
        }
    });
    port
}

/// A web server on 127.0.0.1 that reports each request and answers with its body
/// as it comes, with a header named by its `Connection` and one that stays.
async fn web() -> (u16, mpsc::UnboundedReceiver<Seen>) {
    let (seen_tx, seen) = mpsc::unbounded_channel();
    let port = http_server(move |req: Request<Incoming>| {
        let _ = seen_tx.send(Seen {
            uri: req.uri().clone(),
            headers: req.headers().clone(),
        });
        async move {
            Response::builder()
                .header("connection", "x-down-hop")
                .header("x-down-hop", "for the proxy only")
                .header("x-down-kept", "yes")
                .body(req.into_body())
                .expect("a response")
        }
    })
    .await;
    (port, seen)
}

#[tokio::test]
async fn plain_http_reaches_the_server_without_proxy_headers_and_streams_both_ways() {
    let (port, mut seen) = web().await;
    let proxy = Proxy::start(allowing(&[format!("127.0.0.1:{port}")]), |e| e);

    let stream = proxy.connect().await;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake with the proxy");
    tokio::spawn(conn);
    let (chunks, rx) = mpsc::unbounded_channel::<Bytes>();
    let body = StreamBody::new(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|chunk| (Ok::<_, Infallible>(Frame::data(chunk)), rx))
    }));
    let url = format!("http://web.example:{port}/echo?token=secret");
    let req = Request::post(url.as_str())
        .header("host", format!("web.example:{port}"))
        .header("proxy-authorization", "Basic d29ya3NwYWNlOnB3")
        .header("proxy-connection", "keep-alive")
        .header("connection", "x-up-hop")
        .header("x-up-hop", "for the proxy only")
        .header("x-up-kept", "yes")
        .body(body)
        .expect("a request");
    chunks.send(Bytes::from_static(b"one")).expect("send");
    let resp = tokio::time::timeout(DEADLINE, sender.send_request(req))
        .await
        .expect("an answer in time")
        .expect("an answer");
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-down-kept"], "yes");
    assert!(!resp.headers().contains_key("x-down-hop"), "{resp:?}");

    let seen = seen.recv().await.expect("the server saw the request");
    assert_eq!(seen.uri, "/echo?token=secret", "origin form");
    assert_eq!(seen.headers["host"], format!("web.example:{port}"));
    assert_eq!(seen.headers["x-up-kept"], "yes");
    for gone in [
        "proxy-authorization",
        "proxy-connection",
        "connection",
        "x-up-hop",
    ] {
        assert!(
            !seen.headers.contains_key(gone),
            "{gone}: {:?}",
            seen.headers
        );
    }

    // Each chunk comes back before the next is sent: nothing is buffered.
    let mut body = resp.into_body();
    for chunk in [&b"one"[..], b"two", b"three"] {
        if chunk != b"one" {
            chunks.send(Bytes::copy_from_slice(chunk)).expect("send");
        }
        let frame = tokio::time::timeout(DEADLINE, body.frame())
            .await
            .expect("the chunk comes back in time")
            .expect("a frame")
            .expect("no error");
        assert_eq!(frame.into_data().expect("data"), chunk);
    }
    drop(chunks);
    let end = tokio::time::timeout(DEADLINE, body.frame())
        .await
        .expect("the body ends in time");
    assert!(end.is_none(), "the body ends with the request's");
}

#[tokio::test]
async fn plain_http_to_a_refused_address_is_403_and_upgrades_are_400() {
    let (port, _seen) = web().await;
    let proxy = Proxy::start(Policy::default(), |e| e);
    let answer = proxy
        .exchange(&format!(
            "GET http://web.example:{port}/?q=1 HTTP/1.1\r\nHost: web.example:{port}\r\n\
             Connection: close\r\n\r\n"
        ))
        .await;
    assert_eq!(status(&answer), 403, "{answer}");
    assert!(
        answer.contains("127.0.0.1 is a loopback address"),
        "{answer}"
    );

    let answer = proxy
        .exchange(&format!(
            "GET http://web.example:{port}/ HTTP/1.1\r\nHost: web.example:{port}\r\n\
             Connection: upgrade, close\r\nUpgrade: websocket\r\n\r\n"
        ))
        .await;
    assert_eq!(status(&answer), 400, "{answer}");
    assert!(answer.contains("goes through CONNECT"), "{answer}");
}

/// A TCP server on 127.0.0.1 that reads requests and never answers; a message each
/// time one of its connections ends.
async fn silent() -> (u16, mpsc::UnboundedReceiver<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("address").port();
    let (ended_tx, ended) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let ended = ended_tx.clone();
            tokio::spawn(async move {
                let mut sink = Vec::new();
                let _ = stream.read_to_end(&mut sink).await;
                let _ = ended.send(());
            });
        }
    });
    (port, ended)
}

/// A web server on 127.0.0.1 that answers only once it has a request's whole body
/// (with its length), reporting the first chunk as it comes.
async fn uploads() -> (u16, mpsc::UnboundedReceiver<()>) {
    let (first_tx, first) = mpsc::unbounded_channel();
    let port = http_server(move |req: Request<Incoming>| {
        let first_tx = first_tx.clone();
        async move {
            let mut body = req.into_body();
            let mut len = 0;
            while let Some(Ok(frame)) = body.frame().await {
                if len == 0 {
                    let _ = first_tx.send(());
                }
                len += frame.data_ref().map_or(0, Bytes::len);
            }
            Response::new(format!("got {len} bytes"))
        }
    })
    .await;
    (port, first)
}

#[tokio::test]
async fn a_destination_that_never_answers_is_504_but_a_long_upload_is_not_cut() {
    let (quiet, mut ended) = silent().await;
    let (busy, mut first) = uploads().await;
    let deadline = Duration::from_millis(300);
    let entries = [format!("127.0.0.1:{quiet}"), format!("127.0.0.1:{busy}")];
    let proxy = Proxy::start(allowing(&entries), |e| e.with_response_timeout(deadline));

    // An upload begins (its answer comes only once its body is whole).
    let stream = proxy.connect().await;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake with the proxy");
    tokio::spawn(conn);
    let (chunks, rx) = mpsc::unbounded_channel::<Bytes>();
    let body = StreamBody::new(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|chunk| (Ok::<_, Infallible>(Frame::data(chunk)), rx))
    }));
    let req = Request::put(format!("http://127.0.0.1:{busy}/upload"))
        .header("host", format!("127.0.0.1:{busy}"))
        .body(body)
        .expect("a request");
    let upload = tokio::spawn(sender.send_request(req));
    // It keeps moving (a chunk every 50 ms) until told to end.
    let (end_tx, mut end) = tokio::sync::oneshot::channel::<()>();
    let feeder = tokio::spawn(async move {
        let mut sent = 0;
        while end.try_recv().is_err() {
            if chunks.send(Bytes::from_static(b"chunk")).is_err() {
                break;
            }
            sent += 5;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        sent
    });
    tokio::time::timeout(DEADLINE, first.recv())
        .await
        .expect("the upload reaches the server in time")
        .expect("the server runs");

    // Meanwhile, the silent destination: 504 after the deadline, its connection closed.
    let started = std::time::Instant::now();
    let answer = proxy
        .exchange(&format!(
            "GET http://127.0.0.1:{quiet}/ HTTP/1.1\r\nHost: 127.0.0.1:{quiet}\r\n\
             Connection: close\r\n\r\n"
        ))
        .await;
    assert_eq!(status(&answer), 504, "{answer}");
    assert!(started.elapsed() >= deadline, "{:?}", started.elapsed());
    let line = answer.lines().next().unwrap_or_default();
    assert!(
        line.contains("did not answer the egress proxy within 0.3 s"),
        "{line}"
    );
    tokio::time::timeout(DEADLINE, ended.recv())
        .await
        .expect("the destination's connection is closed in time");

    // The upload has been under way longer than the deadline: it is answered.
    end_tx.send(()).expect("the feeder runs");
    let sent = feeder.await.expect("the feeder ends");
    let resp = tokio::time::timeout(DEADLINE, upload)
        .await
        .expect("the upload is answered in time")
        .expect("the task runs")
        .expect("an answer");
    assert_eq!(resp.status(), 200);
    let body = resp
        .into_body()
        .collect()
        .await
        .expect("the body")
        .to_bytes();
    assert_eq!(body, format!("got {sent} bytes"));
}
