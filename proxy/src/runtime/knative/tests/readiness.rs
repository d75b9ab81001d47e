//! `ensure` waits until the workspace answers: the Service Ready for the
//! generation applied, then the route (through the ingress stand-in, which
//! refuses until then); a revision that cannot become ready ends it within
//! seconds with Knative's reason; a ready revision (scaled to zero or not) is
//! returned at once; a delete ends a waiting start. The fake API server plays
//! the Knative controller on a clock ([`Policy`]) or by hand.

use std::time::Duration;

use dcs_model::WorkspaceKey;

use super::contract::{FakeHarness, NS};
use super::{config_with, eventually};
use crate::error::Error;
use crate::runtime::contract;
use crate::runtime::knative::fake::Policy;
use crate::runtime::knative::route::{self, Answer};
use crate::runtime::knative::start::Waits;
use crate::runtime::{Runtime, Status, WorkspaceSpec};

/// A generous bound for what must happen "within seconds", not after a start
/// timeout (the test never waits for a timeout itself).
const PROMPTLY: Duration = Duration::from_secs(30);

fn repo_key(user: &str) -> WorkspaceKey {
    contract::key(user, "acme/hello")
}

#[tokio::test]
async fn ensure_resolves_only_once_the_service_is_ready_and_its_route_answers() {
    let h = FakeHarness::new(config_with(&[]));
    let k = repo_key("alice");
    let name = k.name().to_string();
    // The route is not programmed for a while after Ready.
    h.ingress.set_route_delay(Duration::from_secs(3600));
    let rt = std::sync::Arc::new(h.runtime);
    let start = tokio::spawn({
        let (rt, spec) = (rt.clone(), WorkspaceSpec::for_repo(k.clone()));
        async move { rt.ensure(&spec).await }
    });
    // The Service exists and is not Ready: the start waits.
    eventually("the start applied the Service", || async {
        h.server
            .object("serving.knative.dev", "services", NS, &name)
            .map(|_| ())
    })
    .await;
    assert!(!start.is_finished(), "ensure returned before Ready");
    h.server.mark_ready(NS, &name);
    // Ready, but the route refuses (404, dropped connections, 503): retried, not returned.
    eventually("the route was tried and refused", || async {
        (h.ingress.hits(&name).refused >= 2).then_some(())
    })
    .await;
    assert!(
        !start.is_finished(),
        "ensure returned before the route answered"
    );
    h.ingress.set_route_delay(Duration::ZERO);
    let up = tokio::time::timeout(PROMPTLY, start)
        .await
        .expect("ensure resolves once the route answers")
        .expect("join")
        .expect("ensure");
    assert_eq!(
        up.host.as_deref(),
        Some(format!("{name}.{NS}.svc.cluster.local").as_str())
    );
    assert_eq!(route::probe(&up).await, Answer::Ready);
    assert_eq!(rt.status(&k).await.expect("status"), Status::Running);
    assert!(h.ingress.hits(&name).served >= 1);
}

#[tokio::test]
async fn status_reads_starting_until_ensure_resolves() {
    let h = FakeHarness::new(config_with(&[]));
    let k = repo_key("alice");
    let name = k.name().to_string();
    h.ingress.set_route_delay(Duration::from_secs(3600));
    let rt = std::sync::Arc::new(h.runtime);
    let start = tokio::spawn({
        let (rt, spec) = (rt.clone(), WorkspaceSpec::for_repo(k.clone()));
        async move { rt.ensure(&spec).await }
    });
    eventually("the start applied the Service", || async {
        (rt.status(&k).await.ok()? == Status::Starting).then_some(())
    })
    .await;
    h.server.mark_ready(NS, &name);
    // Knative says Ready and Active; the route has not answered: still starting.
    eventually("the route was tried", || async {
        (h.ingress.hits(&name).refused >= 1).then_some(())
    })
    .await;
    assert_eq!(rt.status(&k).await.expect("status"), Status::Starting);
    assert_eq!(
        rt.list(None).await.expect("list")[0].status,
        Status::Starting
    );
    h.ingress.set_route_delay(Duration::ZERO);
    tokio::time::timeout(PROMPTLY, start)
        .await
        .expect("resolves")
        .expect("join")
        .expect("ensure");
    assert_eq!(rt.status(&k).await.expect("status"), Status::Running);
}

/// Each way a revision cannot become ready, as Knative reports it.
fn failures() -> Vec<(Policy, &'static str)> {
    let fail = |condition, reason: &str, message: &str, service| Policy::FailAfter {
        after: Duration::from_millis(200),
        condition,
        reason: reason.into(),
        message: message.into(),
        service,
    };
    vec![
        (
            fail(
                "ResourcesAvailable",
                "ImagePullBackOff",
                "Back-off pulling image \"nope:1\"",
                false,
            ),
            "cannot be pulled",
        ),
        (
            fail(
                "ResourcesAvailable",
                "ErrImagePull",
                "rpc error: manifest unknown",
                false,
            ),
            "cannot be pulled",
        ),
        (
            fail(
                "ContainerHealthy",
                "ContainerMissing",
                "Unable to fetch image \"nope:1\": not found",
                true,
            ),
            "cannot be pulled",
        ),
        (
            fail(
                "ContainerHealthy",
                "ExitCode1",
                "Container failed with: launcher exited",
                false,
            ),
            "keeps stopping",
        ),
        (
            fail(
                "ResourcesAvailable",
                "Unschedulable",
                "0/3 nodes are available: 3 Insufficient memory.",
                false,
            ),
            "has room",
        ),
        (
            fail(
                "ResourcesAvailable",
                "FailedCreate",
                "pods \"x\" is forbidden: exceeded quota: compute",
                false,
            ),
            "quota is used up",
        ),
    ]
}

#[tokio::test]
async fn a_revision_that_cannot_become_ready_fails_ensure_with_knatives_reason() {
    let h = FakeHarness::new(config_with(&[]));
    // A pod that cannot be scheduled fails once it has been so for the grace.
    let waits = Waits {
        scheduling: Duration::from_millis(500),
        ..Waits::default()
    };
    let h = FakeHarness {
        runtime: h.runtime.with_waits(waits),
        ..h
    };
    for (i, (policy, says)) in failures().into_iter().enumerate() {
        let k = repo_key(&format!("f{i}-alice"));
        h.server.set_policy_for(k.name().as_str(), policy.clone());
        let got = tokio::time::timeout(
            PROMPTLY,
            h.runtime.ensure(&WorkspaceSpec::for_repo(k.clone())),
        )
        .await
        .expect("the failure ends the start, not a timeout");
        let Err(Error::StartFailed { message, .. }) = &got else {
            panic!("{policy:?}: {got:?}");
        };
        let Policy::FailAfter { reason, .. } = &policy else {
            unreachable!()
        };
        assert!(
            message.contains(says) && message.contains(reason.as_str()),
            "{message}"
        );
        assert!(!message.contains(NS), "{message}");
        let status = h.runtime.status(&k).await.expect("status");
        assert!(
            matches!(&status, Status::Failed { reason: r } if r.starts_with(reason.as_str()) || r.starts_with("RevisionFailed")),
            "{status:?}"
        );
    }
}

#[tokio::test]
async fn the_next_ensure_after_a_failed_start_starts_a_new_revision() {
    let h = FakeHarness::new(config_with(&[]));
    let k = repo_key("retry-alice");
    let name = k.name().to_string();
    let spec = WorkspaceSpec::for_repo(k.clone());
    // The first revision cannot pull its image; Knative reports it on the
    // revision only (the Service stays Unknown until the progress deadline).
    let (policy, _) = failures().remove(0);
    h.server.set_policy_for(&name, policy);
    let first = tokio::time::timeout(PROMPTLY, h.runtime.ensure(&spec))
        .await
        .expect("the failure ends the start");
    assert!(matches!(first, Err(Error::StartFailed { .. })), "{first:?}");
    // The cause is gone (the image pushed, the quota raised): opening it again
    // starts afresh, as Knative never retries a failed revision by itself.
    h.server
        .set_policy_for(&name, Policy::ReadyAfter(Duration::from_millis(100)));
    let again = tokio::time::timeout(PROMPTLY, h.runtime.ensure(&spec))
        .await
        .expect("the second start ends");
    assert!(again.is_ok(), "{again:?}");
    let obj = h
        .server
        .object("serving.knative.dev", "services", NS, &name)
        .expect("ksvc");
    assert_eq!(obj["metadata"]["generation"], 2);
    assert_eq!(
        obj["spec"]["template"]["metadata"]["annotations"]["dcs.dev/attempt"],
        "1"
    );
    // Ready now: the next ensure applies the same attempt (no new revision).
    h.runtime.ensure(&spec).await.expect("ensure");
    let obj = h
        .server
        .object("serving.knative.dev", "services", NS, &name)
        .expect("ksvc");
    assert_eq!(obj["metadata"]["generation"], 2);
}

#[tokio::test]
async fn a_ready_revision_scaled_to_zero_is_returned_without_waiting() {
    let h = FakeHarness::new(config_with(&[]));
    let k = repo_key("alice");
    let name = k.name().to_string();
    h.ensure_ready(&k).await;
    h.server.scale_to_zero(NS, &name);
    let before = h.ingress.hits(&name);
    // The route would refuse now: a wake must not probe it (the activator holds
    // the request while the pod starts).
    h.ingress.set_route_delay(Duration::from_secs(3600));
    let up = tokio::time::timeout(
        PROMPTLY,
        h.runtime.ensure(&WorkspaceSpec::for_repo(k.clone())),
    )
    .await
    .expect("no wait")
    .expect("ensure");
    assert_eq!(up, h.runtime.upstream(&k));
    assert_eq!(h.ingress.hits(&name), before, "no probe on the fast path");
}

#[tokio::test]
async fn a_new_generation_waits_for_its_own_readiness() {
    let h = FakeHarness::new(config_with(&[]));
    let k = repo_key("alice");
    let name = k.name().to_string();
    h.ensure_ready(&k).await;
    // A proxy with another launcher image: once the workspace scaled to zero, its
    // next start is a new revision (generation 2); the Service still says Ready
    // for generation 1.
    let cfg = config_with(&["--knative-launcher-image", "dcs-launcher:next"]);
    let next = crate::runtime::knative::KnativeRuntime::new(cfg, h.server.client())
        .with_route_override(h.ingress.addr().to_string());
    let next = std::sync::Arc::new(next);
    h.server.scale_to_zero(NS, &name);
    eventually("the other replica hears of the scale to zero", || async {
        (next.status(&k).await.ok()? == Status::Stopped).then_some(())
    })
    .await;
    let start = tokio::spawn({
        let (rt, spec) = (next.clone(), WorkspaceSpec::for_repo(k.clone()));
        async move { rt.ensure(&spec).await }
    });
    eventually("generation 2 applied and seen", || async {
        let obj = h
            .server
            .object("serving.knative.dev", "services", NS, &name)?;
        (obj["metadata"]["generation"] == 2 && next.status(&k).await.ok()? == Status::Starting)
            .then_some(())
    })
    .await;
    assert!(
        !start.is_finished(),
        "the old generation's Ready does not count"
    );
    h.server.mark_ready(NS, &name);
    tokio::time::timeout(PROMPTLY, start)
        .await
        .expect("resolves")
        .expect("join")
        .expect("ensure");
}

#[tokio::test]
async fn a_delete_ends_a_waiting_start_and_a_deletion_under_way_is_not_found() {
    let h = FakeHarness::new(config_with(&[]));
    let k = contract::instance_key("alice", "inst-00000000000000a1");
    let name = k.name().to_string();
    h.server.set_delete_grace(Duration::from_secs(3600));
    h.runtime
        .register(&contract::instance_spec(&k))
        .await
        .expect("register");
    let rt = std::sync::Arc::new(h.runtime);
    let start = tokio::spawn({
        let (rt, spec) = (rt.clone(), WorkspaceSpec::for_repo(k.clone()));
        async move { rt.ensure(&spec).await }
    });
    eventually("the start applied the Service", || async {
        (h.server.count("patch", "services") >= 2).then_some(())
    })
    .await;
    rt.delete(&k).await.expect("delete");
    let ended = tokio::time::timeout(PROMPTLY, start)
        .await
        .expect("the delete ends the start")
        .expect("join");
    assert!(matches!(ended, Err(Error::NotFound(_))), "{ended:?}");
    // The Service is still there, marked for deletion: gone to everyone.
    let marked = h
        .server
        .object("serving.knative.dev", "services", NS, &name)
        .expect("finalizers hold it");
    assert!(marked["metadata"]["deletionTimestamp"].is_string());
    assert_eq!(rt.status(&k).await.expect("status"), Status::NotFound);
    assert_eq!(rt.find(&k.id()).await.expect("find"), None);
    assert!(rt.list(None).await.expect("list").is_empty());
    let late = rt.ensure(&WorkspaceSpec::for_repo(k.clone())).await;
    assert!(matches!(late, Err(Error::NotFound(_))), "{late:?}");
    assert_eq!(h.server.created("services"), vec![name]);
}

#[tokio::test]
async fn an_instance_deleted_between_the_look_and_the_write_is_not_made_again() {
    let h = FakeHarness::new(config_with(&[]));
    let k = contract::instance_key("alice", "inst-00000000000000a2");
    let name = k.name().to_string();
    h.runtime
        .register(&contract::instance_spec(&k))
        .await
        .expect("register");
    // Another replica's delete lands after this ensure's GET, before its apply.
    h.server.delete_before_next_apply(&name);
    let got = tokio::time::timeout(
        PROMPTLY,
        h.runtime.ensure(&WorkspaceSpec::for_repo(k.clone())),
    )
    .await
    .expect("no wait");
    assert!(matches!(got, Err(Error::NotFound(_))), "{got:?}");
    assert_eq!(
        h.server
            .object("serving.knative.dev", "services", NS, &name),
        None,
        "what the apply made again was removed"
    );
    assert_eq!(
        h.server.object("", "persistentvolumeclaims", NS, &name),
        None,
        "the home volume too"
    );
    assert_eq!(
        h.runtime.status(&k).await.expect("status"),
        Status::NotFound
    );
}
