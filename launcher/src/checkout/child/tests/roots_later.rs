//! A volume's first transfer over plain HTTP starts without TLS roots (OpenSSL
//! reads no bundle file), and again with them when the server redirects to HTTPS.

use super::*;
use crate::checkout::protocol::ROOTS_LATER_ENV;
use crate::trust::{SSL_CERT_DIR, SSL_CERT_FILE};

fn var<'a>(program: &'a Program, name: &str) -> Vec<&'a std::ffi::OsStr> {
    let env = program.env.iter();
    env.filter(|(k, _)| k == name)
        .map(|(_, v)| v.as_os_str())
        .collect()
}

#[tokio::test]
async fn a_first_transfer_over_plain_http_starts_without_roots() {
    let ws = tempfile::tempdir().expect("tempdir");
    let env = crate::fixtures::env("http://127.0.0.1:9", ws.path());
    let trust = ws.path().join(".dcs/trust");
    let (bundle, empty) = (trust.join("ca-bundle.pem"), trust.join("none.pem"));
    let plain = program(&env).await.expect("program");
    assert_eq!(var(&plain, SSL_CERT_FILE), [empty.as_os_str()]);
    assert_eq!(var(&plain, SSL_CERT_DIR), [empty.as_os_str()]);
    assert_eq!(var(&plain, ROOTS_LATER_ENV).len(), 1);
    let meta = std::fs::symlink_metadata(&empty).expect("the empty file is made");
    assert!(meta.is_file() && meta.len() == 0);

    // Started again, it has the roots: the bundle file, and nothing of the first.
    let again = plain.with_roots().expect("roots for later");
    assert_eq!(var(&again, SSL_CERT_FILE), [bundle.as_os_str()]);
    assert_eq!(var(&again, SSL_CERT_DIR), [bundle.as_os_str()]);
    assert!(var(&again, ROOTS_LATER_ENV).is_empty(), "{:?}", again.env);
    assert!(again.roots_later.is_none() && again.with_roots().is_none());
    assert_eq!(again.args, plain.args);

    // Over HTTPS the roots are there from the start.
    let ws = tempfile::tempdir().expect("tempdir");
    let env = crate::fixtures::env("https://127.0.0.1:9", ws.path());
    let tls = program(&env).await.expect("program");
    let bundle = ws.path().join(".dcs/trust/ca-bundle.pem");
    assert_eq!(var(&tls, SSL_CERT_FILE), [bundle.as_os_str()]);
    assert!(var(&tls, ROOTS_LATER_ENV).is_empty() && tls.roots_later.is_none());
}

#[test]
fn tls_is_expected_of_https_urls_only() {
    // (This test process has no `*_proxy` variables naming an HTTPS proxy.)
    assert!(tls_expected("https://github.com/acme/app.git"));
    assert!(tls_expected("HTTPS://github.com/acme/app.git"));
    for url in [
        "http://git.local/acme/app.git",
        "ssh://git@h/a/b.git",
        "/srv/git/a.git",
        "h",
    ] {
        assert!(!tls_expected(url), "{url}");
    }
}

#[tokio::test]
async fn a_redirect_to_https_is_followed_again_with_the_roots() {
    let ca = TestCa::new("redirect CA");
    let https = not_found_over_https(&ca).await;
    let base = redirecting_to(https).await;
    let ws = tempfile::tempdir().expect("tempdir");
    let mut env = crate::fixtures::env(&base, ws.path());
    env.extra_ca_file = Some(ca.write_ca(ws.path()));
    let job = Job::from_env(&env, Arc::new(AtomicBool::new(false))).expect("a repository");
    let plain = program(&env).await.expect("program");
    assert!(
        plain.roots_later.is_some(),
        "plain HTTP starts without roots"
    );

    // Started once more with the roots, libgit2 got past TLS to the server's 404.
    let (kind, message) = fails(&job, &plain, &env).await;
    assert_eq!(kind, FailureKind::NotFound, "past TLS: {message}");

    // Without roots to start again with, the TLS server is refused, saying why.
    let once = Program {
        roots_later: None,
        ..plain.clone()
    };
    let (kind, message) = fails(&job, &once, &env).await;
    assert_eq!(kind, FailureKind::Network, "{message}");
    assert!(message.contains("answered with TLS"), "{message}");
}

/// A plain HTTP server that redirects every request to the same path under
/// `https_base` (as `http://github.com` does). Its base URL.
async fn redirecting_to(https_base: String) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let redirect = hyper::service::service_fn(move |req: http::Request<_>| {
        let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
        let location = format!("{https_base}{path}");
        async move {
            let mut res = http::Response::new(http_body_util::Full::new(bytes::Bytes::new()));
            *res.status_mut() = http::StatusCode::MOVED_PERMANENTLY;
            let value = http::HeaderValue::from_str(&location).expect("location");
            res.headers_mut().insert(http::header::LOCATION, value);
            Ok::<_, std::convert::Infallible>(res)
        }
    });
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let io = hyper_util::rt::TokioIo::new(stream);
            tokio::spawn(
                hyper::server::conn::http1::Builder::new().serve_connection(io, redirect.clone()),
            );
        }
    });
    format!("http://{addr}")
}
