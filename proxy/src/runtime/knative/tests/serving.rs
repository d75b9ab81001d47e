//! A serving workspace is left alone by an open: a replica with other settings
//! (a restarted or upgraded proxy) or another spelling of the repository changes
//! nothing it runs, until its next start from zero; and a start outlives an API
//! server that fails to answer once.

use std::sync::Arc;
use std::time::Duration;

use super::contract::{FakeHarness, NS};
use super::{config_with, eventually};
use crate::runtime::contract;
use crate::runtime::knative::KnativeRuntime;
use crate::runtime::{Runtime, Status, WorkspaceSpec};

const PROMPTLY: Duration = Duration::from_secs(30);

fn generation(h: &FakeHarness, name: &str) -> serde_json::Value {
    let obj = h.server.object("serving.knative.dev", "services", NS, name);
    obj.expect("the Service")["metadata"]["generation"].clone()
}

#[tokio::test]
async fn a_running_workspace_keeps_its_revision_when_a_replica_with_other_settings_opens_it() {
    let h = FakeHarness::new(config_with(&[]));
    let k = contract::key("serving-alice", "acme/hello");
    let name = k.name().to_string();
    h.ensure_ready(&k).await;
    let before = h
        .server
        .object("serving.knative.dev", "services", NS, &name);
    // A restarted replica with a new launcher image opens it: nothing to wait
    // for (the route would not even answer), nothing changed.
    let cfg = config_with(&["--knative-launcher-image", "dcs-launcher:next"]);
    let next = KnativeRuntime::new(cfg, h.server.client())
        .with_route_override(h.ingress.addr().to_string());
    let next = Arc::new(next);
    h.ingress.set_route_delay(Duration::from_secs(3600));
    let spec = WorkspaceSpec::for_repo(k.clone());
    let up = tokio::time::timeout(PROMPTLY, next.ensure(&spec))
        .await
        .expect("returned at once")
        .expect("ensure");
    assert_eq!(up, next.upstream(&k));
    assert_eq!(generation(&h, &name), 1);
    let after = h
        .server
        .object("serving.knative.dev", "services", NS, &name);
    assert_eq!(
        before.map(|o| o["spec"].clone()),
        after.map(|o| o["spec"].clone())
    );
    // Scaled to zero: the next start takes the new settings, and waits for them.
    h.server.scale_to_zero(NS, &name);
    eventually("the new replica hears of the scale to zero", || async {
        (next.status(&k).await.ok()? == Status::Stopped).then_some(())
    })
    .await;
    h.ingress.set_route_delay(Duration::ZERO);
    let start = tokio::spawn({
        let (rt, spec) = (next.clone(), spec.clone());
        async move { rt.ensure(&spec).await }
    });
    eventually("generation 2 applied", || async {
        (generation(&h, &name) == 2).then_some(())
    })
    .await;
    let obj = h
        .server
        .object("serving.knative.dev", "services", NS, &name)
        .expect("the Service");
    assert!(
        obj["spec"].to_string().contains("dcs-launcher:next"),
        "{obj}"
    );
    assert!(!start.is_finished(), "generation 2 is not ready yet");
    h.server.mark_ready(NS, &name);
    tokio::time::timeout(PROMPTLY, start)
        .await
        .expect("resolves")
        .expect("join")
        .expect("ensure");
}

#[tokio::test]
async fn another_spelling_of_the_repository_changes_nothing_it_runs() {
    let h = FakeHarness::new(config_with(&[]));
    let k = contract::key("spelling-alice", "acme/hello");
    let name = k.name().to_string();
    h.ensure_ready(&k).await;
    let other = contract::key("spelling-alice", "Acme/Hello");
    assert_eq!(other.name(), k.name(), "one workspace");
    let recorded = |h: &FakeHarness| {
        let obj = h
            .server
            .object("serving.knative.dev", "services", NS, &name);
        obj.expect("the Service")["metadata"]["annotations"]["dcs.dev/repo"].clone()
    };
    let spec = WorkspaceSpec::for_repo(other.clone());
    // Running, then scaled to zero: neither makes a new revision.
    for _ in 0..2 {
        tokio::time::timeout(PROMPTLY, h.runtime.ensure(&spec))
            .await
            .expect("returned at once")
            .expect("ensure");
        assert_eq!(generation(&h, &name), 1);
        assert_eq!(recorded(&h), "acme/hello");
        h.server.scale_to_zero(NS, &name);
        eventually("the scale to zero is heard", || async {
            (h.runtime.status(&k).await.ok()? == Status::Stopped).then_some(())
        })
        .await;
    }
}

#[tokio::test]
async fn a_start_outlives_an_api_server_that_fails_to_answer_once() {
    let h = FakeHarness::new(config_with(&[]));
    let k = contract::key("hiccup-alice", "acme/hello");
    let name = k.name().to_string();
    // The watch lags: after a while the start asks the API server itself, which
    // fails that once.
    h.server.hold_watches("services");
    let rt = Arc::new(h.runtime);
    let start = tokio::spawn({
        let (rt, spec) = (rt.clone(), WorkspaceSpec::for_repo(k.clone()));
        async move { rt.ensure(&spec).await }
    });
    eventually("the start applied the Service", || async {
        (h.server.count("patch", "services") >= 1).then_some(())
    })
    .await;
    h.server.fail_next("get", "services");
    eventually("the start asked the API server", || async {
        (h.server.count("get", "services") >= 2).then_some(())
    })
    .await;
    // The answer was a 500; give the start a moment to act on it.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!start.is_finished(), "{:?}", start.await);
    h.server.release_watches("services");
    h.server.mark_ready(NS, &name);
    tokio::time::timeout(PROMPTLY, start)
        .await
        .expect("resolves")
        .expect("join")
        .expect("the start went on");
}
