//! A start ends with the reason a pod of its revision shows when Knative does not
//! say it yet (an init container's image that cannot be pulled: Knative reports
//! neither that nor, before its progress deadline, a container's waiting reason).

use std::time::Duration;

use serde_json::json;

use super::contract::{FakeHarness, NS};
use super::{config_with, eventually};
use crate::error::Error;
use crate::runtime::contract;
use crate::runtime::knative::fake::Policy;
use crate::runtime::{Runtime, WorkspaceSpec};

#[tokio::test]
async fn a_pod_that_cannot_pull_its_image_ends_the_start_with_the_reason() {
    let h = FakeHarness::new(config_with(&[]));
    // Knative keeps the revision deploying (the deadline is far).
    h.server
        .set_policy(Policy::ReadyAfter(Duration::from_secs(3600)));
    let k = contract::key("pull-alice", "acme/hello");
    let name = k.name().to_string();
    let revision = format!("{name}-00001");
    let healthy = |reason: &str| {
        json!({"name": "checkout", "image": "i", "imageID": "", "ready": false,
               "restartCount": 0, "state": {"waiting": {"reason": reason}}})
    };
    let pod = |init: serde_json::Value| {
        json!({"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": format!("{revision}-deployment-abc"), "namespace": NS,
                            "labels": {"serving.knative.dev/revision": revision}},
               "status": {"phase": "Pending", "initContainerStatuses": [init]}})
    };
    // Pulling is under way: the start goes on waiting.
    h.server
        .insert("", "pods", NS, pod(healthy("PodInitializing")));
    let spec = WorkspaceSpec::for_repo(k);
    let ensure = h.runtime.ensure(&spec);
    tokio::pin!(ensure);
    let looked = eventually("the start looks at its revision's pods", || async {
        let calls = h.server.calls();
        calls.iter().any(|c| c.resource == "pods").then_some(())
    });
    tokio::select! {
        got = &mut ensure => panic!("a pod still starting is no failure: {got:?}"),
        () = looked => {}
    }
    // The launcher's image cannot be pulled.
    let mut stuck = healthy("ImagePullBackOff");
    stuck["state"]["waiting"]["message"] = json!("Back-off pulling image \"dcs-launcher:nope\"");
    h.server.insert("", "pods", NS, pod(stuck));
    let got = tokio::time::timeout(Duration::from_secs(30), ensure)
        .await
        .expect("the pod's reason ends the start, not the start timeout");
    let Err(Error::StartFailed { message, .. }) = &got else {
        panic!("{got:?}");
    };
    assert!(
        message.contains("cannot be pulled") && message.contains("dcs-launcher:nope"),
        "{message}"
    );
}
