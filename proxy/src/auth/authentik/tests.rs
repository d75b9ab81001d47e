//! Authentik mode against a scripted outpost on loopback: caching, redirects,
//! refusals and the closed door when the outpost is down.

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use http::StatusCode;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use super::*;
use crate::body;

/// What the scripted outpost saw and answers.
#[derive(Default)]
pub(super) struct Script {
    pub(super) checks: AtomicUsize,
    pub(super) status: Mutex<Option<StatusCode>>,
    pub(super) seen: Mutex<Vec<HeaderMap>>,
}

/// Serves `/outpost.goauthentik.io/auth/nginx`: 200 + identity for the cookie
/// `authentik_proxy_t=good`, 401 otherwise (or the scripted status).
pub(super) async fn outpost() -> (String, Arc<Script>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let script = Arc::new(Script::default());
    let s = script.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let s = s.clone();
            let svc = service_fn(move |req: Request<Incoming>| {
                let s = s.clone();
                async move {
                    s.checks.fetch_add(1, Ordering::SeqCst);
                    s.seen.lock().expect("lock").push(req.headers().clone());
                    let good = req
                        .headers()
                        .get("cookie")
                        .and_then(|c| c.to_str().ok())
                        .is_some_and(|c| {
                            c.split(';').any(|p| p.trim() == "authentik_proxy_t=good")
                        });
                    let mut resp = Response::new(body::empty());
                    let forced = *s.status.lock().expect("lock");
                    *resp.status_mut() = forced.unwrap_or(if good {
                        StatusCode::OK
                    } else {
                        StatusCode::UNAUTHORIZED
                    });
                    if good {
                        let h = resp.headers_mut();
                        h.insert("x-authentik-uid", HeaderValue::from_static("uid-alice"));
                        h.insert("x-authentik-username", HeaderValue::from_static("alice"));
                        h.insert("x-authentik-groups", HeaderValue::from_static("dev|ops"));
                    }
                    Ok::<_, Infallible>(resp)
                }
            });
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc),
            );
        }
    });
    (format!("http://{addr}"), script)
}

/// The public URL of most tests (the requests' own `Host`).
const PUBLIC: &str = "http://ide.test";

fn mode(url: &str, public_url: &str) -> AuthentikAuth {
    mode_counted(url, public_url, Arc::default())
}

fn mode_counted(url: &str, public_url: &str, metrics: Arc<Metrics>) -> AuthentikAuth {
    AuthentikAuth::new(
        AuthentikConfig {
            outpost_url: url.into(),
            cache_ttl: Duration::from_secs(30),
            public_url: PublicUrl::parse(public_url).expect("url"),
        },
        metrics,
    )
}

fn parts(pairs: &[(&str, &str)]) -> Parts {
    let mut b = Request::builder().uri("/github/acme/hello/x?y=1");
    for (n, v) in pairs {
        b = b.header(*n, *v);
    }
    b.body(()).expect("request").into_parts().0
}

const PEER: &str = "127.0.0.1:5000";
const BROWSER: (&str, &str) = ("accept", "text/html,application/xhtml+xml");

#[tokio::test]
async fn a_valid_session_is_checked_once_per_ttl() {
    let (url, script) = outpost().await;
    let auth = mode(&url, PUBLIC);
    let p = parts(&[
        ("host", "ide.test"),
        ("cookie", "authentik_proxy_t=good; a=b"),
    ]);
    for _ in 0..5 {
        let id = auth
            .authenticate(&p, PEER.parse().expect("peer"))
            .await
            .expect("ok");
        assert_eq!(
            (id.user.as_str(), id.username.as_str()),
            ("uid-alice", "alice")
        );
        assert_eq!(id.groups, ["dev", "ops"]);
    }
    assert_eq!(script.checks.load(Ordering::SeqCst), 1);
    let seen = script.seen.lock().expect("lock")[0].clone();
    assert_eq!(
        seen["x-original-url"],
        "http://ide.test/github/acme/hello/x?y=1"
    );
    assert_eq!(seen["x-forwarded-host"], "ide.test");
}

#[tokio::test]
async fn failures_are_never_cached_and_browsers_are_sent_to_sign_in() {
    let (url, script) = outpost().await;
    let auth = mode(&url, PUBLIC);
    let peer = PEER.parse().expect("peer");
    let nav = parts(&[
        ("host", "ide.test"),
        ("cookie", "authentik_proxy_t=bad"),
        BROWSER,
    ]);
    for _ in 0..3 {
        match auth.authenticate(&nav, peer).await {
            Err(Error::SignIn { location }) => assert_eq!(
                location,
                "/outpost.goauthentik.io/start?rd=http%3A%2F%2Fide.test%2Fgithub%2Facme%2Fhello%2Fx%3Fy%3D1"
            ),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(script.checks.load(Ordering::SeqCst), 3);
    let xhr = parts(&[
        ("host", "ide.test"),
        BROWSER,
        ("x-requested-with", "XMLHttpRequest"),
    ]);
    let fetch = parts(&[("host", "ide.test"), BROWSER, ("sec-fetch-mode", "cors")]);
    let api = parts(&[("host", "ide.test"), ("accept", "application/json")]);
    for p in [xhr, fetch, api] {
        assert!(matches!(
            auth.authenticate(&p, peer).await,
            Err(Error::Unauthorized(_))
        ));
    }
}

#[tokio::test]
async fn an_unreachable_or_failing_outpost_is_a_closed_door_and_counted() {
    let (url, script) = outpost().await;
    let metrics = Arc::new(Metrics::default());
    let auth = mode_counted(&url, PUBLIC, metrics.clone());
    let peer = PEER.parse().expect("peer");
    let p = parts(&[("host", "ide.test"), ("cookie", "authentik_proxy_t=good")]);
    *script.status.lock().expect("lock") = Some(StatusCode::INTERNAL_SERVER_ERROR);
    assert!(matches!(
        auth.authenticate(&p, peer).await,
        Err(Error::AuthUnavailable)
    ));
    *script.status.lock().expect("lock") = None;
    auth.authenticate(&p, peer).await.expect("a good session");
    // Nothing listens on a port just freed.
    let closed = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let dead = format!("http://{}", closed.local_addr().expect("addr"));
    drop(closed);
    let auth = mode_counted(&dead, PUBLIC, metrics.clone());
    assert!(matches!(
        auth.authenticate(&p, peer).await,
        Err(Error::AuthUnavailable)
    ));
    let text = metrics.render();
    for line in [
        "dcs_outpost_seconds_count 1",
        "dcs_outpost_errors_total{kind=\"status\"} 1",
        "dcs_outpost_errors_total{kind=\"unreachable\"} 1",
        "dcs_outpost_errors_total{kind=\"timeout\"} 0",
    ] {
        assert!(text.contains(line), "{line}: {text}");
    }
}

#[tokio::test]
async fn a_pinned_public_url_overrides_what_the_client_says() {
    let (url, script) = outpost().await;
    let auth = mode(&url, "https://ide.example.com/");
    let p = parts(&[
        ("host", "evil.test"),
        ("x-forwarded-host", "other-app.example.com"),
        ("x-forwarded-proto", "http"),
        ("cookie", "authentik_proxy_t=good"),
    ]);
    auth.authenticate(&p, PEER.parse().expect("peer"))
        .await
        .expect("ok");
    let seen = script.seen.lock().expect("lock")[0].clone();
    assert_eq!(seen["x-forwarded-host"], "ide.example.com");
    assert_eq!(
        seen["x-original-url"],
        "https://ide.example.com/github/acme/hello/x?y=1"
    );
}

#[test]
fn navigation_is_told_apart_from_scripts() {
    let h = |pairs: &[(&str, &str)]| parts(pairs).headers;
    assert!(is_navigation(&h(&[BROWSER])));
    assert!(is_navigation(&h(&[
        BROWSER,
        ("sec-fetch-mode", "navigate")
    ])));
    assert!(!is_navigation(&h(&[])));
    assert!(!is_navigation(&h(&[
        BROWSER,
        ("sec-fetch-mode", "no-cors")
    ])));
    assert!(!is_navigation(&h(&[
        BROWSER,
        ("x-requested-with", "XMLHttpRequest")
    ])));
    // Only a top-level navigation: a frame (a VS Code webview) gets the 401.
    let top = [BROWSER, ("sec-fetch-mode", "navigate")];
    assert!(is_navigation(&h(&[
        top[0],
        top[1],
        ("sec-fetch-dest", "document")
    ])));
    assert!(is_navigation(&h(&[
        top[0],
        top[1],
        ("sec-fetch-dest", "Document")
    ])));
    for frame in ["iframe", "frame", "embed", "object", "empty"] {
        assert!(
            !is_navigation(&h(&[top[0], top[1], ("sec-fetch-dest", frame)])),
            "{frame}"
        );
    }
}

#[tokio::test]
async fn a_frame_is_refused_not_sent_to_sign_in_and_a_session_admits_by_its_key() {
    let (url, _script) = outpost().await;
    let auth = mode(&url, PUBLIC);
    let peer = PEER.parse().expect("peer");
    let frame = parts(&[
        ("host", "ide.test"),
        BROWSER,
        ("sec-fetch-mode", "navigate"),
        ("sec-fetch-dest", "iframe"),
    ]);
    assert!(matches!(
        auth.authenticate(&frame, peer).await,
        Err(Error::Unauthorized(_))
    ));
    let top = parts(&[
        ("host", "ide.test"),
        BROWSER,
        ("sec-fetch-mode", "navigate"),
        ("sec-fetch-dest", "document"),
    ]);
    assert!(matches!(
        auth.authenticate(&top, peer).await,
        Err(Error::SignIn { .. })
    ));

    let p = parts(&[("host", "ide.test"), ("cookie", "authentik_proxy_t=good")]);
    let id = auth.authenticate(&p, peer).await.expect("signed in");
    let origin = auth.origin().expect("origin");
    let key = session_key(&p.headers, &origin).expect("key");
    assert_eq!(id.admission, Admission::Session(key));
    let mut lease = auth.lease(&id, &p.headers, &p.uri);
    assert!(lease.ends(), "a session's tunnel ends with it");
    assert_eq!(auth.tunnels.sessions(), 1);
    assert_eq!(auth.tunnels.end(&key), 1);
    tokio::time::timeout(Duration::from_secs(5), lease.ended())
        .await
        .expect("ended by the sign-out");
}

#[test]
fn public_urls_are_origins_only() {
    assert_eq!(
        PublicUrl::parse("https://ide.example.com:8443").expect("ok"),
        PublicUrl {
            scheme: "https".into(),
            host: "ide.example.com:8443".into()
        }
    );
    for bad in [
        "ide.example.com",
        "ftp://x",
        "https://x/path",
        "https://u@x",
        "https://x/?q",
    ] {
        assert!(PublicUrl::parse(bad).is_err(), "{bad}");
    }
}
