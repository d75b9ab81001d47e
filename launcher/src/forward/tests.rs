//! The forwarder between two real sockets: a front that forwards everything, and
//! upstream servers that report what reached them.

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::handshake::server::{
    Request as WsRequest, Response as WsResponse,
};
use tokio_tungstenite::tungstenite::Message;

use super::*;
use crate::app::Drain;
use crate::fixtures::send;

/// A front forwarding every request to `to` (with `/ports/<n>`-style rewriting when
/// `path` is given).
async fn front(to: SocketAddr, path: Option<&'static str>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    // Lives as long as the front, like the app's drain sender.
    let drain = Drain::never();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let drain = drain.clone();
            let service = service_fn(move |req: Request<Incoming>| {
                let watch = drain.watch();
                async move {
                    let path = path.map(PathAndQuery::from_static);
                    let res = forward(req, to, path, watch).await;
                    Ok::<_, Infallible>(res.unwrap_or_else(|e| crate::pages::rescue(&e, true)))
                }
            });
            tokio::spawn(
                http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .with_upgrades(),
            );
        }
    });
    addr
}

/// An upstream answering every request with a JSON report of what it received.
async fn reporting_upstream() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let service = service_fn(|req: Request<Incoming>| async move {
                let (parts, body) = req.into_parts();
                let body = body
                    .collect()
                    .await
                    .map(|b| b.to_bytes())
                    .unwrap_or_default();
                let headers: serde_json::Map<String, serde_json::Value> = parts
                    .headers
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("?").into()))
                    .collect();
                let report = serde_json::json!({
                    "method": parts.method.as_str(),
                    "uri": parts.uri.to_string(),
                    "headers": headers,
                    "body_len": body.len(),
                });
                let res = Response::builder()
                    .header("connection", "keep-alive, x-upstream-hop")
                    .header("x-upstream-hop", "1")
                    .header("keep-alive", "timeout=5")
                    .body(Full::new(Bytes::from(report.to_string())))
                    .expect("response");
                Ok::<_, Infallible>(res)
            });
            tokio::spawn(http1::Builder::new().serve_connection(TokioIo::new(stream), service));
        }
    });
    addr
}

#[tokio::test]
async fn the_browsers_host_arrives_unchanged_and_hop_by_hop_headers_do_not() {
    let upstream = reporting_upstream().await;
    let front = front(upstream, None).await;
    let reply = send(
        front,
        Method::GET,
        "/static/app.js?v=1",
        &[
            ("host", "ide.example:8443"),
            ("connection", "keep-alive, x-client-hop"),
            ("x-client-hop", "secret"),
            ("keep-alive", "timeout=9"),
            ("x-forwarded-prefix", "/github/acme/hello"),
        ],
        Bytes::new(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    let seen = reply.json();
    assert_eq!(seen["uri"], "/static/app.js?v=1");
    assert_eq!(seen["headers"]["host"], "ide.example:8443");
    assert_eq!(seen["headers"]["x-forwarded-prefix"], "/github/acme/hello");
    for gone in ["x-client-hop", "keep-alive"] {
        assert!(seen["headers"].get(gone).is_none(), "{gone}: {seen}");
    }
    assert!(reply.headers.get("x-upstream-hop").is_none());
    assert!(reply.headers.get("keep-alive").is_none());
}

#[tokio::test]
async fn bodies_stream_through_and_the_path_can_be_rewritten() {
    let upstream = reporting_upstream().await;
    let front = front(upstream, Some("/rewritten?q=1")).await;
    let big = vec![b'x'; 3 * 1024 * 1024 + 5];
    let reply = send(
        front,
        Method::PUT,
        "/ports/1/x",
        &[],
        Bytes::from(big.clone()),
    )
    .await;
    let seen = reply.json();
    assert_eq!(seen["method"], "PUT");
    assert_eq!(seen["uri"], "/rewritten?q=1");
    assert_eq!(seen["body_len"], big.len());
}

#[tokio::test]
async fn nothing_listening_is_a_502_with_a_message() {
    let closed = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let dead = closed.local_addr().expect("addr");
    drop(closed);
    let front = front(dead, None).await;
    let reply = send(
        front,
        Method::GET,
        "/",
        &[("accept", "application/json")],
        Bytes::new(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_GATEWAY);
    assert!(reply.text().contains("nothing answers"), "{}", reply.text());
}

#[tokio::test]
async fn a_websocket_is_tunnelled_with_origin_and_host_as_the_browser_sent_them() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let upstream = listener.local_addr().expect("addr");
    let (seen_tx, seen_rx) = oneshot::channel::<(String, String, String)>();
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.expect("accept");
        #[allow(clippy::result_large_err)] // tungstenite's callback signature
        let record = |req: &WsRequest, res: WsResponse| {
            let h = |n: &str| {
                req.headers()
                    .get(n)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_owned()
            };
            let _ = seen_tx.send((h("host"), h("origin"), req.uri().to_string()));
            Ok(res)
        };
        let mut ws = tokio_tungstenite::accept_hdr_async(stream, record)
            .await
            .expect("handshake");
        while let Some(Ok(msg)) = ws.next().await {
            if msg.is_text() || msg.is_binary() {
                ws.send(msg).await.expect("echo");
            }
        }
    });
    let front = front(upstream, None).await;
    let stream = tokio::net::TcpStream::connect(front)
        .await
        .expect("connect");
    let req = Request::get(format!("ws://{front}/stable/socket?reconnection=false"))
        .header("host", "ide.example:8443")
        .header("origin", "http://ide.example:8443")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .header("sec-websocket-version", "13")
        .header("connection", "Upgrade")
        .header("upgrade", "websocket")
        .body(())
        .expect("request");
    let (mut ws, res) = tokio_tungstenite::client_async(req, stream)
        .await
        .expect("upgrade");
    assert_eq!(res.status(), StatusCode::SWITCHING_PROTOCOLS);
    ws.send(Message::text("ping through the front"))
        .await
        .expect("send");
    let echoed = ws.next().await.expect("frame").expect("ok");
    assert_eq!(echoed, Message::text("ping through the front"));
    let (host, origin, uri) = seen_rx.await.expect("upstream saw the handshake");
    assert_eq!(
        (host.as_str(), origin.as_str()),
        ("ide.example:8443", "http://ide.example:8443")
    );
    assert_eq!(uri, "/stable/socket?reconnection=false");
}

/// An upstream answering `statuses` in turn, one per request, then the last forever.
async fn answering_in_turn(statuses: &'static [u16]) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let asked = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let asked = asked.clone();
            let service = service_fn(move |_req: Request<Incoming>| {
                let n = asked.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let status = statuses[n.min(statuses.len() - 1)];
                async move {
                    let mut res = Response::new(Full::new(Bytes::from_static(b"Cannot GET")));
                    *res.status_mut() = StatusCode::from_u16(status).expect("status");
                    Ok::<_, Infallible>(res)
                }
            });
            tokio::spawn(http1::Builder::new().serve_connection(TokioIo::new(stream), service));
        }
    });
    addr
}

#[tokio::test]
async fn the_probe_says_whether_a_server_answers_its_health_path() {
    let upstream = reporting_upstream().await;
    assert!(probe(upstream, "/healthz", Duration::from_secs(2)).await);
    let closed = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let dead = closed.local_addr().expect("addr");
    drop(closed);
    assert!(!probe(dead, "/healthz", Duration::from_secs(2)).await);
    // A redirect is an answer (an IDE's root sends a browser on to its folder).
    let redirects = answering_in_turn(&[302]).await;
    assert!(probe(redirects, "/", Duration::from_secs(2)).await);
    let failing = answering_in_turn(&[503]).await;
    assert!(!probe(failing, "/healthz", Duration::from_secs(2)).await);
}

/// code-server listens about a second before its routes exist and answers "404 Cannot
/// GET" in that window: a request forwarded then lands a person on an error page.
#[tokio::test]
async fn a_server_that_listens_before_its_routes_exist_is_not_yet_answering() {
    let starting = answering_in_turn(&[404, 404, 200]).await;
    assert!(!probe(starting, "/healthz", Duration::from_secs(2)).await);
    assert!(!probe(starting, "/healthz", Duration::from_secs(2)).await);
    assert!(probe(starting, "/healthz", Duration::from_secs(2)).await);
}
