//! The first open of a new workspace, end to end below the proxy: the fake
//! Knative makes the Service Ready after a while, the ingress stand-in refuses
//! until then and forwards to a real `dcs-launcher` (`none` IDE) after; the
//! first request after `ensure` is answered by the workspace itself.
//!
//! Needs the launcher binary next to this test's profile directory (`make
//! build`, i.e. `cargo build --bins`), or in `$DCS_BIN_DIR`.

use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};

use super::contract::{FakeHarness, NS};
use super::{config_with, eventually};
use crate::runtime::contract;
use crate::runtime::knative::fake::launcher::Launcher;
use crate::runtime::knative::fake::Policy;
use crate::runtime::{Runtime, Upstream, WorkspaceSpec};

/// `target/<profile>/dcs-launcher`, located from this test executable.
fn launcher_bin() -> PathBuf {
    let dir = match std::env::var_os("DCS_BIN_DIR").filter(|d| !d.is_empty()) {
        Some(d) => PathBuf::from(d),
        None => {
            let exe = std::env::current_exe().expect("current exe");
            let mut dir = exe.parent().expect("parent").to_path_buf();
            if dir.ends_with("deps") {
                dir.pop();
            }
            dir
        }
    };
    let bin = dir.join("dcs-launcher");
    assert!(
        bin.is_file(),
        "{} not found: run `make build` (cargo build --bins) first, or set DCS_BIN_DIR",
        bin.display()
    );
    bin
}

/// One request through the upstream, as the proxy forwards it.
async fn get(up: &Upstream, path: &str) -> (http::StatusCode, String) {
    let stream = tokio::net::TcpStream::connect(&up.authority)
        .await
        .expect("connect to the route");
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .expect("handshake");
    tokio::spawn(conn);
    let req = http::Request::get(path)
        .header(http::header::HOST, up.host.as_deref().unwrap_or_default())
        .body(Empty::<Bytes>::new())
        .expect("request");
    let resp = sender.send_request(req).await.expect("an answer");
    let status = resp.status();
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_open_is_answered_by_the_workspace_not_by_the_ingress() {
    let h = FakeHarness::new(config_with(&[]));
    let k = contract::instance_key("alice", "inst-00000000000000f1");
    let name = k.name().to_string();
    // The first revision takes a second (image pull, init, IDE start), and the
    // ingress a moment more to program the route: until the test has seen the
    // route refuse the start's probe, however long the start took to ask.
    h.server
        .set_policy(Policy::ReadyAfter(Duration::from_secs(1)));
    h.ingress.set_route_delay(Duration::from_secs(3600));
    let dir = tempfile::tempdir().expect("tmp");
    let launcher = Launcher::start(&launcher_bin(), &k, dir.path(), None)
        .await
        .expect("the launcher publishes its address");
    h.ingress.forward(&name, launcher.addr);
    h.runtime
        .register(&contract::instance_spec(&k))
        .await
        .expect("create");
    let rt = std::sync::Arc::new(h.runtime);
    let start = tokio::spawn({
        let (rt, spec) = (rt.clone(), WorkspaceSpec::for_repo(k.clone()));
        async move { rt.ensure(&spec).await }
    });
    eventually("the route refused while it was programmed", || async {
        (h.ingress.hits(&name).refused >= 1).then_some(())
    })
    .await;
    assert!(
        !start.is_finished(),
        "ensure returned before the route answered"
    );
    h.ingress.set_route_delay(Duration::ZERO);
    let up = tokio::time::timeout(Duration::from_secs(120), start)
        .await
        .expect("ensure resolves once the route answers (a hang guard)")
        .expect("join")
        .expect("ensure");
    let (status, body) = get(&up, "/_dcs/ready").await;
    assert_eq!(status, http::StatusCode::OK, "{body}");
    assert!(body.contains("\"ready\":true"), "{body}");
    let (status, body) = get(&up, "/").await;
    assert_eq!(
        status,
        http::StatusCode::OK,
        "the workspace's own page: {body}"
    );
    assert!(!body.is_empty());
    let obj = h
        .server
        .object("serving.knative.dev", "services", NS, &name)
        .expect("ksvc");
    assert_eq!(
        obj["status"]["url"],
        format!("http://{name}.{NS}.svc.cluster.local")
    );
}
