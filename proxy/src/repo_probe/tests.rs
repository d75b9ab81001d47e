//! Tests of [`super::RepoProbe`] against a scripted git server on `127.0.0.1:0`
//! and against `file://` bases.

use std::convert::Infallible;
use std::sync::atomic::{AtomicU16, Ordering};

use http::Response;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;

use super::*;

/// Each request's path and `Authorization`, in order.
type Seen = Arc<Mutex<Vec<(String, Option<String>)>>>;

/// A git server answering every request with `status` (0: never), recording
/// each request's path and `Authorization`.
struct Scripted {
    base: String,
    status: Arc<AtomicU16>,
    seen: Seen,
}

async fn scripted(status: u16) -> Scripted {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let status = Arc::new(AtomicU16::new(status));
    let seen: Seen = Arc::new(Mutex::new(Vec::new()));
    let (s, r) = (status.clone(), seen.clone());
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (s, r) = (s.clone(), r.clone());
            tokio::spawn(async move {
                let svc = service_fn(move |req: Request<hyper::body::Incoming>| {
                    let (s, r) = (s.clone(), r.clone());
                    async move {
                        let auth = req
                            .headers()
                            .get(AUTHORIZATION)
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_owned);
                        r.lock().expect("lock").push((req.uri().to_string(), auth));
                        let code = s.load(Ordering::SeqCst);
                        if code == 0 {
                            std::future::pending::<()>().await;
                        }
                        let mut resp = Response::new(Full::new(Bytes::from_static(b"x")));
                        *resp.status_mut() = StatusCode::from_u16(code).expect("status");
                        Ok::<_, Infallible>(resp)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    Scripted { base, status, seen }
}

fn check(timeout_ms: u64) -> RepoCheck {
    RepoCheck {
        timeout: Some(Duration::from_millis(timeout_ms)),
        miss_ttl: Duration::from_secs(30),
    }
}

fn repo(s: &str) -> RepoRef {
    RepoRef::parse(s).expect("repo")
}

fn status_of(err: &Error) -> u16 {
    err.status().as_u16()
}

#[test]
fn statuses_are_judged_as_git_would() {
    assert_eq!(judge(StatusCode::OK, false), Judged::Exists);
    assert_eq!(judge(StatusCode::MOVED_PERMANENTLY, false), Judged::Exists);
    assert_eq!(judge(StatusCode::NOT_FOUND, true), Judged::Missing);
    assert_eq!(judge(StatusCode::UNAUTHORIZED, false), Judged::Missing);
    assert_eq!(judge(StatusCode::UNAUTHORIZED, true), Judged::Refused);
    assert_eq!(judge(StatusCode::FORBIDDEN, true), Judged::Refused);
    assert_eq!(judge(StatusCode::BAD_GATEWAY, false), Judged::Trouble);
    assert_eq!(judge(StatusCode::TOO_MANY_REQUESTS, false), Judged::Trouble);
}

#[tokio::test]
async fn a_missing_repository_is_404_and_remembered_and_a_present_one_is_not() {
    let server = scripted(404).await;
    let probe = RepoProbe::new(&server.base, None, check(5_000));
    let err = probe.require(&repo("x/y")).await.expect_err("missing");
    assert_eq!(status_of(&err), 404);
    assert!(
        err.to_string().contains("repository x/y was not found"),
        "{err}"
    );
    let again = probe.require(&repo("x/y")).await.expect_err("remembered");
    assert!(
        again.to_string().contains("next attempt starts in"),
        "{again}"
    );
    {
        let seen = server.seen.lock().expect("lock");
        assert_eq!(seen.len(), 1, "the miss is answered from memory");
        assert_eq!(seen[0].0, "/x/y.git/info/refs?service=git-upload-pack");
        assert_eq!(seen[0].1, None, "no token configured, none sent");
    }
    server.status.store(200, Ordering::SeqCst);
    probe.require(&repo("acme/hello")).await.expect("exists");
    probe.require(&repo("acme/hello")).await.expect("exists");
    assert_eq!(
        server.seen.lock().expect("lock").len(),
        3,
        "hits are asked each time"
    );
}

#[tokio::test]
async fn the_token_goes_as_basic_auth_and_a_refusal_is_403() {
    let server = scripted(401).await;
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("token");
    std::fs::write(&file, "s3cret\n").expect("write");
    let probe = RepoProbe::new(&server.base, Some(file), check(5_000));
    let err = probe
        .require(&repo("acme/private"))
        .await
        .expect_err("refused");
    assert_eq!(status_of(&err), 403);
    assert!(!err.to_string().contains("s3cret"));
    assert!(!format!("{probe:?}").contains("s3cret"));
    let seen = server.seen.lock().expect("lock").clone();
    assert_eq!(
        seen[0].1.as_deref(),
        Some("Basic eC1hY2Nlc3MtdG9rZW46czNjcmV0")
    );
    // Without a token, 401 means "missing or private".
    let anonymous = RepoProbe::new(&server.base, None, check(5_000));
    let err = anonymous
        .require(&repo("acme/private"))
        .await
        .expect_err("missing");
    assert_eq!(status_of(&err), 404);
    assert!(err.to_string().contains("private"), "{err}");
}

#[tokio::test]
async fn trouble_silence_and_no_server_are_502_and_not_remembered() {
    let server = scripted(500).await;
    let probe = RepoProbe::new(&server.base, None, check(5_000));
    let err = probe.require(&repo("acme/hello")).await.expect_err("500");
    assert_eq!(status_of(&err), 502);
    assert!(err.to_string().contains("answered 500"), "{err}");
    server.status.store(0, Ordering::SeqCst);
    let quick = RepoProbe::new(&server.base, None, check(300));
    let err = quick
        .require(&repo("acme/hello"))
        .await
        .expect_err("silent");
    assert_eq!(status_of(&err), 502);
    assert!(err.to_string().contains("did not answer within"), "{err}");
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr")
    };
    let gone = RepoProbe::new(&format!("http://{closed}"), None, check(5_000));
    let err = gone
        .require(&repo("acme/hello"))
        .await
        .expect_err("refused");
    assert_eq!(status_of(&err), 502);
    assert!(err.to_string().contains("cannot reach"), "{err}");
    server.status.store(200, Ordering::SeqCst);
    probe
        .require(&repo("acme/hello"))
        .await
        .expect("no miss was remembered");
}

#[tokio::test]
async fn file_bases_check_the_directory_and_checks_can_be_off() {
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::create_dir_all(dir.path().join("acme/hello.git")).expect("mkdir");
    let base = format!("file://{}", dir.path().display());
    let probe = RepoProbe::new(&base, None, check(5_000));
    probe.require(&repo("acme/hello")).await.expect("exists");
    let err = probe
        .require(&repo("acme/nope"))
        .await
        .expect_err("missing");
    assert_eq!(status_of(&err), 404);
    let off = RepoProbe::new(
        "http://127.0.0.1:9",
        None,
        RepoCheck {
            timeout: None,
            miss_ttl: Duration::from_secs(1),
        },
    );
    off.require(&repo("acme/nope")).await.expect("not checked");
}

#[test]
fn https_bases_get_a_tls_client_and_user_info_is_never_shown() {
    let probe = RepoProbe::new("https://github.com", None, check(5_000));
    assert!(probe.client.is_ok(), "{:?}", probe.client.as_ref().err());
    assert_eq!(
        shown_base("https://u:pw@git.example/x"),
        "https://git.example/x"
    );
    assert_eq!(shown_base("http://git.example"), "http://git.example");
}
