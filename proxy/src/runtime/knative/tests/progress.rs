//! The phases of a Knative start as the watch cache shows them (what the progress
//! page and `GET /api/status` read through `Runtime::progress`): a Service that
//! becomes Ready after a while walks from created/scheduled to ready; an image that
//! cannot be pulled shows its reason and what to do within seconds.

use std::sync::Arc;
use std::time::{Duration, Instant};

use dcs_model::api::StartPhase;

use super::config_with;
use super::contract::FakeHarness;
use crate::runtime::contract;
use crate::runtime::knative::fake::Policy;
use crate::runtime::{Runtime, WorkspaceSpec};

/// Polls `progress` until `done`; returns the phases seen, in order, without
/// repeats, and how long it took.
async fn walk(
    rt: &dyn Runtime,
    key: &dcs_model::WorkspaceKey,
    limit: Duration,
    done: impl Fn(StartPhase) -> bool,
) -> (Vec<StartPhase>, Option<dcs_model::api::Progress>, Duration) {
    let began = Instant::now();
    let mut seen: Vec<StartPhase> = Vec::new();
    loop {
        let p = rt.progress(key).await.expect("progress");
        if let Some(p) = &p {
            if seen.last() != Some(&p.phase) {
                seen.push(p.phase);
            }
            if done(p.phase) {
                return (seen, Some(p.clone()), began.elapsed());
            }
        }
        assert!(
            began.elapsed() < limit,
            "not done within {limit:?}: {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_service_ready_after_a_while_walks_through_its_phases_to_ready() {
    let h = FakeHarness::new(config_with(&[]));
    let k = contract::key("alice", "acme/hello");
    h.server.set_policy_for(
        k.name().as_str(),
        Policy::ReadyAfter(Duration::from_secs(2)),
    );
    let rt = Arc::new(h.runtime);
    assert_eq!(
        rt.progress(&k).await.expect("progress"),
        None,
        "nothing yet"
    );
    let start = tokio::spawn({
        let (rt, spec) = (rt.clone(), WorkspaceSpec::for_repo(k.clone()));
        async move { rt.ensure(&spec).await }
    });
    let (seen, _, _) = walk(rt.as_ref(), &k, Duration::from_secs(60), |p| {
        p == StartPhase::Ready
    })
    .await;
    start.await.expect("join").expect("ensure");
    let first = seen.first().copied();
    assert!(
        matches!(first, Some(StartPhase::Created | StartPhase::Scheduled)),
        "{seen:?}"
    );
    assert_eq!(seen.last(), Some(&StartPhase::Ready), "{seen:?}");
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted, "phases go forward only: {seen:?}");
}

#[tokio::test]
async fn an_image_that_cannot_be_pulled_shows_its_reason_and_what_to_do_within_seconds() {
    let h = FakeHarness::new(config_with(&[]));
    let k = contract::key("alice", "acme/hello");
    h.server.set_policy_for(
        k.name().as_str(),
        Policy::FailAfter {
            after: Duration::from_millis(200),
            condition: "ResourcesAvailable",
            reason: "ImagePullBackOff".into(),
            message: "Back-off pulling image \"nope:1\"".into(),
            service: false,
        },
    );
    let rt = Arc::new(h.runtime);
    let start = tokio::spawn({
        let (rt, spec) = (rt.clone(), WorkspaceSpec::for_repo(k.clone()));
        async move { rt.ensure(&spec).await }
    });
    // The bound: the reason shows in under 5 s (the fake fails it at 0.2 s).
    let (seen, failed, _) = walk(rt.as_ref(), &k, Duration::from_secs(5), |p| {
        p == StartPhase::Failed
    })
    .await;
    let failed = failed.expect("failed");
    let reason = failed.reason.unwrap_or_default();
    let hint = failed.hint.unwrap_or_default();
    assert!(reason.starts_with("ImagePullBackOff"), "{reason} {seen:?}");
    assert!(hint.contains("Check the image name"), "{hint}");
    assert!(start.await.expect("join").is_err());
}
