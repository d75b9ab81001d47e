//! Previews through a whole launcher (`none` IDE) to servers on loopback ports.

use std::convert::Infallible;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;

use super::*;
use crate::fixtures::{env, Running, Upstream};

#[test]
fn preview_paths_parse_and_bad_ports_are_refused() {
    assert_eq!(parse("/3000", None).expect("ok"), Target::AddSlash(3000));
    assert_eq!(
        parse("/3000/", Some("a=1")).expect("ok"),
        Target::Forward(3000, "/?a=1".into())
    );
    assert_eq!(
        parse("/65535/x/y", None).expect("ok"),
        Target::Forward(65535, "/x/y".into())
    );
    for bad in [
        "/0/", "/65536/", "/abc/", "/-1/", "//", "/", "/+80/", "/123456/", "x/1/",
    ] {
        let err = parse(bad, None).expect_err(bad);
        assert_eq!(err.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
}

#[test]
fn an_apps_own_address_is_its_previews_and_other_hosts_are_not() {
    for (loc, want) in [
        ("http://localhost:3000/login", Some("/login")),
        ("https://LOCALHOST:3000", Some("/")),
        ("http://127.0.0.1:3000?next=1", Some("/?next=1")),
        ("http://[::1]:3000/a#b", Some("/a#b")),
        ("http://localhost:3001/login", None),
        ("http://localhost/login", None),
        ("http://example.com:3000/login", None),
        ("http://localhost.example.com:3000/", None),
        ("http://u@localhost:3000/", None),
        ("http://localhost:3000//evil.example/", None),
        ("/login", None),
        ("ws://localhost:3000/", None),
    ] {
        assert_eq!(own_address::own_path(loc, 3000).as_deref(), want, "{loc}");
    }
    assert_eq!(
        own_address::own_path("http://localhost/x", 80).as_deref(),
        Some("/x")
    );
    assert_eq!(
        own_address::own_path("https://[::1]/x", 443).as_deref(),
        Some("/x")
    );
    let mut h = HeaderMap::new();
    h.insert(
        LOCATION,
        HeaderValue::from_static("http://127.0.0.1:3000/in"),
    );
    own_address::relocate(&mut h, 3000, "/github/acme/hello/ports/3000");
    assert_eq!(h[LOCATION], "/github/acme/hello/ports/3000/in");
}

/// A preview server: reports the path and prefix it saw; upgrades `/ws` and echoes.
async fn preview_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let mut peek = [0u8; 16];
            let n = stream.peek(&mut peek).await.unwrap_or(0);
            if peek[..n].starts_with(b"GET /ws") {
                tokio::spawn(async move {
                    let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
                        return;
                    };
                    while let Some(Ok(m)) = ws.next().await {
                        if m.is_text() && ws.send(m).await.is_err() {
                            break;
                        }
                    }
                });
                continue;
            }
            let service = service_fn(|req: Request<hyper::body::Incoming>| async move {
                let prefix = req.headers().get("x-forwarded-prefix").cloned();
                let text = format!(
                    "{} {}",
                    req.uri(),
                    prefix.as_ref().and_then(|p| p.to_str().ok()).unwrap_or("-")
                );
                Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(text))))
            });
            tokio::spawn(http1::Builder::new().serve_connection(TokioIo::new(stream), service));
        }
    });
    port
}

#[tokio::test]
async fn a_preview_forwards_http_and_websocket_to_the_port() {
    let upstream = Upstream::new();
    let ws = tempfile::tempdir().expect("tempdir");
    let l = Running::ready(env(&upstream.base(), ws.path())).await;
    let port = preview_server().await;

    let reply = l
        .send(
            Method::GET,
            &format!("/ports/{port}/app/page?x=1"),
            &[("x-forwarded-prefix", "/github/acme/hello")],
            b"",
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.text(),
        format!("/app/page?x=1 /github/acme/hello/ports/{port}")
    );

    let bare = l.get(&format!("/ports/{port}")).await;
    assert_eq!(bare.status, StatusCode::PERMANENT_REDIRECT);
    assert_eq!(bare.headers["location"], format!("{port}/"));
    assert_eq!(l.get("/ports/99999/").await.status, StatusCode::BAD_REQUEST);

    let stream = tokio::net::TcpStream::connect(l.addr)
        .await
        .expect("connect");
    let url = format!("ws://{}/ports/{port}/ws", l.addr);
    let (mut socket, _) = tokio_tungstenite::client_async(url, stream)
        .await
        .expect("upgrade");
    socket
        .send(Message::text("preview ping"))
        .await
        .expect("send");
    let echoed = socket.next().await.expect("frame").expect("ok");
    assert_eq!(echoed, Message::text("preview ping"));
    l.stop().await.expect("stops");
}

#[tokio::test]
async fn a_port_with_nothing_listening_says_so() {
    let upstream = Upstream::new();
    let ws = tempfile::tempdir().expect("tempdir");
    let l = Running::ready(env(&upstream.base(), ws.path())).await;
    let closed = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);
    let reply = l
        .send(
            Method::GET,
            &format!("/ports/{port}/"),
            &[("accept", "application/json")],
            b"",
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_GATEWAY);
    assert!(
        reply
            .text()
            .contains(&format!("nothing answers on port {port}")),
        "{}",
        reply.text()
    );
    assert!(!reply.headers.contains_key("refresh"), "a script's request");
    // A browser's navigation gets a page that reloads itself until the app answers.
    let navigate = [("accept", "text/html"), ("sec-fetch-mode", "navigate")];
    let path = format!("/ports/{port}/");
    let reply = l.send(Method::GET, &path, &navigate, b"").await;
    assert_eq!(reply.status, StatusCode::BAD_GATEWAY);
    assert_eq!(reply.headers["refresh"], "1");
    assert!(reply.text().contains("reloads itself"), "{}", reply.text());
    l.stop().await.expect("stops");
}

#[tokio::test]
async fn a_preview_of_the_launchers_own_port_is_refused_not_nested() {
    let upstream = Upstream::new();
    let ws = tempfile::tempdir().expect("tempdir");
    let l = Running::ready(env(&upstream.base(), ws.path())).await;
    let own = l.addr.port();
    // Without the mark the inner request would be served (and /ports/<own>/… could nest
    // once per segment); marked, it is turned away at the first repetition.
    let reply = l
        .send(
            Method::GET,
            &format!("/ports/{own}/ports/{own}/"),
            &[("accept", "application/json")],
            b"",
        )
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.text());
    assert!(reply.text().contains("preview"), "{}", reply.text());
    let marked = l
        .send(
            Method::GET,
            "/ports/1/",
            &[("via", "1.1 ingress, 1.1 dcs-preview")],
            b"",
        )
        .await;
    assert_eq!(marked.status, StatusCode::FORBIDDEN);
    l.stop().await.expect("stops");
}

#[tokio::test]
async fn a_preview_at_the_root_of_its_own_host_gets_no_prefix() {
    let upstream = Upstream::new();
    let ws = tempfile::tempdir().expect("tempdir");
    let l = Running::ready(env(&upstream.base(), ws.path())).await;
    let port = preview_server().await;
    let reply = l
        .send(
            Method::GET,
            &format!("/ports/{port}/x"),
            &[
                ("x-forwarded-prefix", "/github/acme/hello"),
                ("x-dcs-preview-root", "1"),
            ],
            b"",
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.text(), "/x -");
    l.stop().await.expect("stops");
}
