//! Plain HTTP through the egress proxy, with hyper on both sides.

use std::convert::Infallible;

use bytes::Bytes;
use http::{HeaderMap, Request, Response, Uri};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use super::fixtures::{status, Proxy, DEADLINE};
use super::{allowing, Policy};

/// What the web server saw of a request.
struct Seen {
    uri: Uri,
    headers: HeaderMap,
}

/// A web server on 127.0.0.1 that reports each request and answers with its body
/// as it comes, with a header named by its `Connection` and one that stays.
async fn web() -> (u16, mpsc::UnboundedReceiver<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind web");
    let port = listener.local_addr().expect("web address").port();
    let (seen_tx, seen) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let seen_tx = seen_tx.clone();
            let svc = service_fn(move |req: Request<Incoming>| {
                let _ = seen_tx.send(Seen {
                    uri: req.uri().clone(),
                    headers: req.headers().clone(),
                });
                async move {
                    let resp = Response::builder()
                        .header("connection", "x-down-hop")
                        .header("x-down-hop", "for the proxy only")
                        .header("x-down-kept", "yes")
                        .body(req.into_body())
                        .expect("a response");
                    Ok::<_, Infallible>(resp)
                }
            });
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc),
            );
        }
    });
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
