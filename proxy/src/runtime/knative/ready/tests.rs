//! Verdicts from Knative's conditions, and what people are told.

use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use kube::core::{NotUsed, Object};
use serde_json::{json, Value};

use super::*;
use crate::runtime::knative::types::{ksvc_resource, revision_resource, KsvcSpec};

fn ksvc(generation: i64, status: Value) -> Ksvc {
    let mut k = Object::new("ws", &ksvc_resource(), KsvcSpec::default());
    k.metadata.generation = Some(generation);
    k.status = Some(serde_json::from_value(status).expect("status"));
    k
}

fn rev(name: &str, conditions: Value) -> Revision {
    let mut r = Object::new(name, &revision_resource(), NotUsed {});
    r.status = Some(serde_json::from_value(json!({ "conditions": conditions })).expect("status"));
    r
}

fn waiting(observed: i64) -> Ksvc {
    ksvc(
        observed,
        json!({"observedGeneration": observed, "latestCreatedRevisionName": "ws-00001",
               "conditions": [{"type": "Ready", "status": "Unknown", "reason": "RevisionMissing"}]}),
    )
}

#[test]
fn ready_needs_the_applied_generation_observed() {
    let ready = |observed: i64, generation: i64| {
        ksvc(
            generation,
            json!({"observedGeneration": observed,
                   "conditions": [{"type": "Ready", "status": "True"}]}),
        )
    };
    assert_eq!(verdict(&ready(2, 2), None, 2), Verdict::Ready);
    assert_eq!(
        verdict(&ready(2, 2), None, 1),
        Verdict::Ready,
        "a later one"
    );
    assert_eq!(
        verdict(&ready(1, 2), None, 2),
        Verdict::Pending,
        "not observed"
    );
    assert_eq!(
        verdict(&ready(1, 1), None, 2),
        Verdict::Pending,
        "stale cache"
    );
    assert_eq!(verdict(&waiting(1), None, 1), Verdict::Pending);
}

#[test]
fn knatives_failures_are_failed_at_once() {
    let failed = ksvc(
        1,
        json!({"observedGeneration": 1, "conditions": [{"type": "Ready", "status": "False",
            "reason": "RevisionFailed",
            "message": "Revision \"ws-00001\" failed with message: Unable to fetch image \"nope\": not found."}]}),
    );
    let Verdict::Failed(f) = verdict(&failed, None, 1) else {
        panic!("not failed")
    };
    assert_eq!(f.reason, "RevisionFailed");
    assert!(
        f.explain()
            .starts_with("The workspace's container image cannot be pulled"),
        "{}",
        f.explain()
    );

    let cases = [
        (
            json!([{"type": "ContainerHealthy", "status": "False", "reason": "ExitCode1",
                  "message": "Container failed with: boom"}]),
            "keeps stopping",
        ),
        (
            json!([{"type": "ResourcesAvailable", "status": "False", "reason": "Unschedulable",
                  "message": "0/3 nodes are available: 3 Insufficient cpu."}]),
            "has room",
        ),
        (
            json!([{"type": "ResourcesAvailable", "status": "False", "reason": "FailedCreate",
                  "message": "pods \"ws-00001-deployment-x\" is forbidden: exceeded quota: q"}]),
            "quota is used up",
        ),
        (
            json!([{"type": "ResourcesAvailable", "status": "Unknown", "reason": "ErrImagePull",
                  "message": "rpc error: pulling image"}]),
            "cannot be pulled",
        ),
        (
            json!([{"type": "Ready", "status": "Unknown", "reason": "CrashLoopBackOff"}]),
            "keeps stopping",
        ),
        (
            json!([{"type": "ResourcesAvailable", "status": "False", "reason": "ProgressDeadlineExceeded",
                  "message": "Initial scale was never achieved"}]),
            "progress deadline",
        ),
    ];
    for (conditions, says) in cases {
        let r = rev("ws-00001", conditions.clone());
        match verdict(&waiting(1), Some(&r), 1) {
            Verdict::Failed(f) => {
                assert!(f.explain().contains(says), "{conditions}: {}", f.explain())
            }
            other => panic!("{conditions}: {other:?}"),
        }
        // An older revision's trouble says nothing about the latest one.
        let old = rev("ws-00000", conditions.clone());
        assert_eq!(verdict(&waiting(1), Some(&old), 1), Verdict::Pending);
    }
}

#[test]
fn deploying_is_pending_and_details_are_bounded() {
    let deploying = rev(
        "ws-00001",
        json!([{"type": "ResourcesAvailable", "status": "Unknown", "reason": "Deploying"},
               {"type": "ContainerHealthy", "status": "Unknown", "reason": "Deploying"},
               {"type": "Active", "status": "Unknown", "reason": "Deploying"}]),
    );
    assert_eq!(verdict(&waiting(1), Some(&deploying), 1), Verdict::Pending);
    let long = Failure {
        reason: "ExitCode2".into(),
        message: "x".repeat(5000),
    };
    assert!(long.detail().chars().count() < 500);
    // A termination message is the workspace's own text: one line, nothing hidden.
    let forged = Failure {
        reason: "Error".into(),
        message: "exit 1\n\u{1b}]0;owned\u{7}\u{202e}gnp.exe".into(),
    };
    assert_eq!(
        forged.detail(),
        "Error: exit 1⏎\u{fffd}]0;owned\u{fffd}\u{fffd}gnp.exe"
    );
    assert!(!Failure {
        reason: "ExitCode0".into(),
        message: String::new()
    }
    .reason
    .is_empty());
    assert!(!is_fatal("ExitCode0") && is_fatal("ExitCode137") && !is_fatal("Deploying"));
}

#[test]
fn a_pod_that_cannot_be_scheduled_is_pending_for_the_grace() {
    let ago = |secs: i64| {
        let t = Timestamp::now() - k8s_openapi::jiff::SignedDuration::from_secs(secs);
        t.to_string()
    };
    let unschedulable = |message: &str, since: Option<String>| {
        let mut c = json!({"type": "ResourcesAvailable", "status": "False",
                           "reason": "Unschedulable", "message": message});
        if let Some(t) = since {
            c["lastTransitionTime"] = json!(t);
        }
        rev("ws-00001", json!([c]))
    };
    let grace = Duration::from_secs(120);
    let insufficient = "0/3 nodes are available: 3 Insufficient cpu.";
    let young = unschedulable(insufficient, Some(ago(10)));
    assert_eq!(
        verdict_within(&waiting(1), Some(&young), 1, grace),
        Verdict::Pending
    );
    let old = unschedulable(insufficient, Some(ago(130)));
    assert!(matches!(
        verdict_within(&waiting(1), Some(&old), 1, grace),
        Verdict::Failed(_)
    ));
    // A condition without a time: no telling how long, final.
    let timeless = unschedulable(insufficient, None);
    assert!(matches!(
        verdict_within(&waiting(1), Some(&timeless), 1, grace),
        Verdict::Failed(_)
    ));
    // The Service's own word (its revision not seen yet) counts the same.
    let failed = |since: String| {
        ksvc(
            1,
            json!({"observedGeneration": 1, "conditions": [{"type": "Ready", "status": "False",
                "reason": "RevisionFailed", "lastTransitionTime": since,
                "message": format!("Revision \"ws-00001\" failed with message: {insufficient}.")}]}),
        )
    };
    assert_eq!(
        verdict_within(&failed(ago(5)), None, 1, grace),
        Verdict::Pending
    );
    let Verdict::Failed(f) = verdict_within(&failed(ago(500)), None, 1, grace) else {
        panic!("not failed")
    };
    assert!(
        f.explain().starts_with("No node in the cluster has room"),
        "{}",
        f.explain()
    );
    // Other failures are final at once, however young.
    let crash = rev(
        "ws-00001",
        json!([{"type": "ContainerHealthy", "status": "False", "reason": "ExitCode1",
                "lastTransitionTime": ago(1)}]),
    );
    assert!(matches!(
        verdict_within(&waiting(1), Some(&crash), 1, grace),
        Verdict::Failed(_)
    ));
}

#[test]
fn what_the_scheduler_said_decides_what_people_are_told() {
    let explain = |message: &str| {
        Failure {
            reason: "Unschedulable".into(),
            message: message.into(),
        }
        .explain()
    };
    let affinity = explain(
        "0/3 nodes are available: 1 Insufficient memory, 2 node(s) didn't match pod affinity rules.",
    );
    assert!(
        affinity.contains("the node that holds your workspace volume"),
        "{affinity}"
    );
    let unbound =
        explain("0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims.");
    assert!(
        unbound.contains("has not provided the workspace's volumes"),
        "{unbound}"
    );
    assert!(!unbound.contains("CPU"), "{unbound}");
    let room = explain("0/3 nodes are available: 3 Insufficient cpu.");
    assert!(
        room.contains("has room") && room.contains("less CPU"),
        "{room}"
    );
}
