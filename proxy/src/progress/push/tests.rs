//! The push handler where no Knative is needed: the route's method, the local
//! runtime (which asks its launchers itself), and the pacing.

use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::Full;

use super::*;
use crate::runtime::local::{LocalConfig, LocalRuntime};

#[test]
fn the_url_names_the_workspace_under_the_proxy() {
    assert_eq!(
        url("http://dcs-proxy.dcs.svc.cluster.local/", "ws-1"),
        "http://dcs-proxy.dcs.svc.cluster.local/_dcs/hop/progress/ws-1"
    );
}

fn local(dir: &std::path::Path) -> LocalRuntime {
    LocalRuntime::open(LocalConfig {
        data_dir: dir.to_owned(),
        launcher_bin: "/nonexistent/dcs-launcher".into(),
        git_base: "http://127.0.0.1:1".into(),
        git_token_file: None,
        ide: "none".into(),
        ide_bin: None,
        stop_grace: Duration::from_secs(3),
        start_limit: Duration::from_secs(60),
        launcher_log: None,
        git: crate::config::GitLimits::default(),
        extra_ca_file: None,
        idle: dcs_model::env::IdlePolicy::default(),
        pre_stop: None,
        devcontainer: Default::default(),
        extensions_gallery: None,
    })
    .expect("local runtime")
}

fn push(method: Method, credential: &str) -> Request<Full<Bytes>> {
    Request::builder()
        .method(method)
        .uri("/_dcs/hop/progress/ws-1")
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(crate::hop::HEADER, credential)
        .body(Full::new(Bytes::from_static(
            br#"{"ready": false, "phase": "checkout"}"#,
        )))
        .expect("request")
}

#[tokio::test]
async fn the_local_runtime_records_no_pushes_404_whatever_the_credential() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rt = local(dir.path());
    let key = HopKey::load(&dir.path().join("secrets/hop.key")).expect("the generated key");
    let right = key.credential_for("ws-1");
    let resp = handle(&rt, push(Method::POST, right.expose()), "ws-1").await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let resp = handle(&rt, push(Method::POST, "nope"), "ws-1").await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn only_post_is_accepted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rt = local(dir.path());
    for method in [Method::GET, Method::PUT, Method::DELETE] {
        let resp = handle(&rt, push(method.clone(), "x"), "ws-1").await;
        assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED, "{method}");
        assert_eq!(
            resp.headers()
                .get(http::header::ALLOW)
                .map(|v| v.as_bytes()),
            Some(&b"POST"[..])
        );
    }
}

#[test]
fn one_write_per_second_per_workspace_but_a_final_one_always() {
    let pacer = Pacer::default();
    let t0 = std::time::Instant::now();
    let at = |ms: u64| t0 + Duration::from_millis(ms);
    assert_eq!(pacer.admit_at("a", false, at(0)), Ok(()));
    assert_eq!(
        pacer.admit_at("a", false, at(400)),
        Err(Duration::from_millis(600)),
        "too soon"
    );
    assert_eq!(
        pacer.admit_at("b", false, at(400)),
        Ok(()),
        "another workspace"
    );
    assert_eq!(
        pacer.admit_at("a", false, at(1000)),
        Ok(()),
        "a second later"
    );
    assert_eq!(
        pacer.admit_at("a", true, at(1001)),
        Ok(()),
        "a final report"
    );
    assert_eq!(
        pacer.admit_at("a", false, at(1002)),
        Ok(()),
        "a new start after it"
    );
}
