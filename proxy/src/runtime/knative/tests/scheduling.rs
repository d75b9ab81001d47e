//! A pod that cannot be scheduled yet (a node being added, a volume being
//! provisioned) is a start still going, for a grace: the start succeeds once the
//! pod gets its node, no new revision is made meanwhile; past the grace the start
//! fails with what the scheduler said, in words that fit its cause.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::contract::{FakeHarness, NS};
use super::{config_with, eventually};
use crate::error::Error;
use crate::runtime::contract;
use crate::runtime::knative::start::Waits;
use crate::runtime::knative::types::condition;
use crate::runtime::knative::KnativeRuntime;
use crate::runtime::{Runtime, WorkspaceSpec};

const PROMPTLY: Duration = Duration::from_secs(30);

/// Waits until `rt`'s cache shows the latest revision of `name` unschedulable.
async fn heard_unschedulable(rt: &KnativeRuntime, name: &str) {
    eventually("the cache hears the pod is unschedulable", || async {
        let ksvc = rt.cache.ksvc(name)?;
        let rev = rt.cache.latest_revision(&ksvc)?;
        let conditions = &rev.status.as_ref()?.conditions;
        let c = condition(conditions, "ResourcesAvailable")?;
        (c.status == "False").then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_pod_that_gets_its_node_after_a_while_starts() {
    let h = FakeHarness::new(config_with(&[]));
    let k = contract::key("sched-alice", "acme/hello");
    let name = k.name().to_string();
    let rt = Arc::new(h.runtime);
    let spec = WorkspaceSpec::for_repo(k.clone());
    let start = tokio::spawn({
        let (rt, spec) = (rt.clone(), spec.clone());
        async move { rt.ensure(&spec).await }
    });
    eventually("the start applied the Service", || async {
        h.server
            .object("serving.knative.dev", "services", NS, &name)
            .map(|_| ())
    })
    .await;
    h.server.unschedulable(
        NS,
        &name,
        "0/3 nodes are available: 3 Insufficient memory. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.",
    );
    heard_unschedulable(&rt, &name).await;
    // Another replica opens it meanwhile: it waits too, no new revision.
    let other = Arc::new(
        KnativeRuntime::new(config_with(&[]), h.server.client())
            .with_route_override(h.ingress.addr().to_string()),
    );
    heard_unschedulable(&other, &name).await;
    let second = tokio::spawn({
        let (rt, spec) = (other.clone(), spec.clone());
        async move { rt.ensure(&spec).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!start.is_finished(), "{:?}", start.await);
    assert!(!second.is_finished(), "{:?}", second.await);
    // The cluster autoscaler's node is up: the pod runs.
    h.server.mark_ready(NS, &name);
    for start in [start, second] {
        tokio::time::timeout(PROMPTLY, start)
            .await
            .expect("resolves")
            .expect("join")
            .expect("the start succeeds");
    }
    let obj = h
        .server
        .object("serving.knative.dev", "services", NS, &name)
        .expect("the Service");
    assert_eq!(obj["metadata"]["generation"], 1, "no new revision: {obj}");
}

#[tokio::test]
async fn a_pod_unschedulable_past_the_grace_fails_with_what_the_scheduler_said() {
    let grace = Duration::from_secs(1);
    let h = FakeHarness::new(config_with(&[]));
    let h = FakeHarness {
        runtime: h.runtime.with_waits(Waits {
            scheduling: grace,
            ..Waits::default()
        }),
        ..h
    };
    let rt = Arc::new(h.runtime);
    let cases = [
        (
            "0/3 nodes are available: 3 Insufficient cpu.",
            "No node in the cluster has room",
        ),
        (
            "0/3 nodes are available: 1 Insufficient memory, 2 node(s) didn't match pod affinity rules.",
            "the node that holds your workspace volume",
        ),
        (
            "0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: not eligible.",
            "has not provided the workspace's volumes",
        ),
    ];
    for (i, (message, says)) in cases.into_iter().enumerate() {
        let k = contract::key(&format!("sched{i}-alice"), "acme/hello");
        let name = k.name().to_string();
        let start = tokio::spawn({
            let (rt, spec) = (rt.clone(), WorkspaceSpec::for_repo(k.clone()));
            async move { rt.ensure(&spec).await }
        });
        eventually("the start applied the Service", || async {
            h.server
                .object("serving.knative.dev", "services", NS, &name)
                .map(|_| ())
        })
        .await;
        let since = Instant::now();
        h.server.unschedulable(NS, &name, message);
        let got = tokio::time::timeout(PROMPTLY, start)
            .await
            .expect("the start ends after the grace")
            .expect("join");
        let waited = since.elapsed();
        let Err(Error::StartFailed { message: shown, .. }) = &got else {
            panic!("{message}: {got:?}");
        };
        assert!(shown.contains(says), "{message}: {shown}");
        assert!(shown.contains("Unschedulable"), "{shown}");
        // The fake's condition times have sub-second precision.
        assert!(waited >= grace - Duration::from_millis(100), "{waited:?}");
    }
}
