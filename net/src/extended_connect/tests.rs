use http::header::{CONNECTION, HOST, UPGRADE};

use super::*;

fn upgrade_request(method: Method, host: Option<&str>) -> Request<()> {
    let mut req = Request::builder()
        .method(method)
        .uri("/github/acme/web/stable-1?reconnectionToken=t")
        .header(CONNECTION, "keep-alive, Upgrade")
        .header(UPGRADE, "WebSocket")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .header("sec-websocket-version", "13")
        .header("origin", "http://ide.example:8080")
        .header("keep-alive", "timeout=5");
    if let Some(host) = host {
        req = req.header(HOST, host);
    }
    req.body(()).expect("request")
}

#[test]
fn an_upgrade_goes_over_as_a_stream_and_comes_back_as_the_same_upgrade() {
    let mut req = upgrade_request(Method::GET, Some("ide.example:8080"));
    let upgrade = HeaderValue::from_static("WebSocket");
    assert!(to_stream(&mut req, &upgrade, "127.0.0.1:1"));
    assert_eq!(req.method(), Method::CONNECT);
    assert_eq!(
        req.uri(),
        "http://ide.example:8080/github/acme/web/stable-1?reconnectionToken=t"
    );
    assert_eq!(req.version(), Version::HTTP_2);
    assert!(is_stream(&req));
    for gone in [
        HOST,
        CONNECTION,
        UPGRADE,
        http::HeaderName::from_static("keep-alive"),
    ] {
        assert!(!req.headers().contains_key(&gone), "{gone} is dropped");
    }
    assert_eq!(
        req.headers()["sec-websocket-key"],
        "dGhlIHNhbXBsZSBub25jZQ=="
    );

    assert!(from_stream(&mut req));
    assert_eq!(req.method(), Method::GET);
    assert_eq!(req.uri(), "/github/acme/web/stable-1?reconnectionToken=t");
    assert_eq!(req.version(), Version::HTTP_11);
    assert_eq!(
        req.headers()[HOST],
        "ide.example:8080",
        "the browser's Host"
    );
    assert_eq!(req.headers()["origin"], "http://ide.example:8080");
    assert_eq!(req.headers()[CONNECTION], "upgrade");
    assert_eq!(req.headers()[UPGRADE], "websocket");
    assert_eq!(req.headers()["sec-websocket-version"], "13");
    assert_eq!(
        crate::hop::upgrade_requested(req.headers()).as_ref(),
        Some(&HeaderValue::from_static("websocket"))
    );
}

#[test]
fn what_cannot_be_a_stream_is_left_alone() {
    let upgrade = HeaderValue::from_static("websocket");
    let mut post = upgrade_request(Method::POST, Some("ide.example"));
    assert!(!to_stream(&mut post, &upgrade, "127.0.0.1:1"));
    assert_eq!(post.method(), Method::POST);
    assert!(post.headers().contains_key(UPGRADE), "unchanged");

    let mut odd_host = upgrade_request(Method::GET, Some("not a host"));
    assert!(!to_stream(&mut odd_host, &upgrade, "127.0.0.1:1"));
    assert_eq!(odd_host.method(), Method::GET);

    // No Host at all: the upstream's address stands in.
    let mut bare = upgrade_request(Method::GET, None);
    assert!(to_stream(&mut bare, &upgrade, "127.0.0.1:4000"));
    assert_eq!(
        bare.uri().authority().map(|a| a.as_str()),
        Some("127.0.0.1:4000")
    );

    // A plain CONNECT (no :protocol) or GET is no stream.
    let mut get = upgrade_request(Method::GET, Some("ide.example"));
    assert!(!from_stream(&mut get));
    assert_eq!(get.method(), Method::GET);
    let mut connect = Request::builder()
        .method(Method::CONNECT)
        .uri("ide.example:443")
        .body(())
        .expect("request");
    assert!(!is_stream(&connect));
    assert!(!from_stream(&mut connect));
}

#[test]
fn answers_translate_both_ways() {
    let switching = Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(CONNECTION, "Upgrade")
        .header(UPGRADE, "websocket")
        .header("sec-websocket-accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
        .header("sec-websocket-extensions", "permessage-deflate")
        .body(String::new())
        .expect("response");
    let mut accepted = to_accepted(switching);
    assert_eq!(accepted.status(), StatusCode::OK);
    assert!(!accepted.headers().contains_key(CONNECTION));
    assert!(!accepted.headers().contains_key(UPGRADE));
    assert_eq!(
        accepted.headers()["sec-websocket-accept"],
        "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    );

    to_switching(&mut accepted, &HeaderValue::from_static("websocket"));
    assert_eq!(accepted.status(), StatusCode::SWITCHING_PROTOCOLS);
    assert_eq!(accepted.version(), Version::HTTP_11);
    assert_eq!(accepted.headers()[CONNECTION], "upgrade");
    assert_eq!(accepted.headers()[UPGRADE], "websocket");
    assert_eq!(
        accepted.headers()["sec-websocket-extensions"],
        "permessage-deflate"
    );

    // A refusal passes both ways as it is; a success that is no switch is a 502.
    let forbidden = Response::builder()
        .status(StatusCode::FORBIDDEN)
        .body("cross-origin".to_string())
        .expect("response");
    let mut forbidden = to_accepted(forbidden);
    to_switching(&mut forbidden, &HeaderValue::from_static("websocket"));
    assert_eq!(forbidden.status(), StatusCode::FORBIDDEN);
    assert_eq!(forbidden.body(), "cross-origin");
    let page = Response::builder()
        .status(StatusCode::OK)
        .body("<html>".to_string())
        .expect("response");
    assert_eq!(to_accepted(page).status(), StatusCode::BAD_GATEWAY);
}
