//! A workspace's [`Status`] from its Knative Service, serving revision and
//! latest created revision.
//!
//! - no Knative Service, or one being deleted → `NotFound`;
//! - the start cannot succeed ([`super::ready`]: the Service's `Ready=False`, a
//!   failed or crash-looping latest revision, an image that cannot be pulled) →
//!   `Failed` with Knative's reason and message;
//! - the Service has not reported `Ready=True` for its current generation →
//!   `Starting`;
//! - `Ready=True`: the ksvc stays ready when scaled to zero, so the serving
//!   revision's `Active` condition decides: `False` (reason `NoTraffic`) →
//!   `Stopped`, `Unknown` (activating) → `Starting`, `True` → `Running`; without
//!   that condition its `actualReplicas` (0 → `Stopped`).

use super::ready::{verdict, Verdict};
use super::types::{condition, Ksvc, Revision};
use crate::runtime::Status;

/// Status of `ksvc`, given its serving revision and its latest created revision
/// (each if it was found).
pub fn status_of(
    ksvc: Option<&Ksvc>,
    serving: Option<&Revision>,
    latest: Option<&Revision>,
) -> Status {
    let Some(ksvc) = ksvc else {
        return Status::NotFound;
    };
    if ksvc.metadata.deletion_timestamp.is_some() {
        return Status::NotFound;
    }
    let generation = ksvc.metadata.generation.unwrap_or(1);
    match verdict(ksvc, latest, generation) {
        Verdict::Failed(f) => return Status::Failed { reason: f.detail() },
        Verdict::Pending => return Status::Starting,
        Verdict::Ready => {}
    }
    let Some(rev) = serving.and_then(|r| r.status.as_ref()) else {
        // Ready, but its revision not seen (yet): a moment in a rollout.
        return Status::Starting;
    };
    match condition(&rev.conditions, "Active").map(|c| c.status.as_str()) {
        Some("True") => Status::Running,
        Some("False") => Status::Stopped,
        Some(_) => Status::Starting,
        None => match rev.actual_replicas {
            Some(0) => Status::Stopped,
            _ => Status::Running,
        },
    }
}

/// The name of the revision that serves `ksvc` (its latest ready one).
pub fn serving_revision(ksvc: &Ksvc) -> Option<&str> {
    ksvc.status
        .as_ref()
        .and_then(|s| s.latest_ready_revision_name.as_deref())
}

#[cfg(test)]
mod tests {
    use kube::core::{NotUsed, Object};
    use serde_json::json;

    use super::*;
    use crate::runtime::knative::types::{ksvc_resource, revision_resource, KsvcSpec};

    fn ksvc(status: serde_json::Value) -> Ksvc {
        let mut k = Object::new("ws", &ksvc_resource(), KsvcSpec::default());
        k.status = Some(serde_json::from_value(status).expect("status"));
        k
    }

    fn rev(status: serde_json::Value) -> Revision {
        let mut r = Object::new("ws-00001", &revision_resource(), NotUsed {});
        r.status = Some(serde_json::from_value(status).expect("status"));
        r
    }

    fn ready(status: &str) -> serde_json::Value {
        json!({"conditions": [{"type": "Ready", "status": status,
            "reason": "RevisionMissing", "message": "Configuration \"ws\" does not have any ready Revision."}],
            "observedGeneration": 1, "latestReadyRevisionName": "ws-00001"})
    }

    #[test]
    fn ready_condition_and_revision_activity_map_to_status() {
        let active = |s: &str| {
            rev(json!({"conditions": [{"type": "Active", "status": s, "reason": "NoTraffic"}]}))
        };
        assert_eq!(status_of(None, None, None), Status::NotFound);
        assert_eq!(
            status_of(Some(&ksvc(json!({}))), None, None),
            Status::Starting
        );
        assert_eq!(
            status_of(Some(&ksvc(ready("Unknown"))), None, None),
            Status::Starting
        );
        assert_eq!(
            status_of(Some(&ksvc(ready("False"))), None, None),
            Status::Failed {
                reason: "RevisionMissing: Configuration \"ws\" does not have any ready Revision."
                    .into()
            }
        );
        let k = ksvc(ready("True"));
        let serving = |r: &Revision| status_of(Some(&k), Some(r), None);
        assert_eq!(status_of(Some(&k), None, None), Status::Starting);
        assert_eq!(serving(&active("True")), Status::Running);
        assert_eq!(serving(&active("False")), Status::Stopped);
        assert_eq!(serving(&active("Unknown")), Status::Starting);
        assert_eq!(serving(&rev(json!({"actualReplicas": 0}))), Status::Stopped);
        assert_eq!(serving(&rev(json!({"actualReplicas": 1}))), Status::Running);
        assert_eq!(serving_revision(&k), Some("ws-00001"));
    }

    #[test]
    fn a_failing_latest_revision_a_new_generation_and_a_deletion_read_as_such() {
        // The Service still waits (Unknown), its latest revision cannot pull.
        let mut k = ksvc(
            json!({"observedGeneration": 1, "latestCreatedRevisionName": "ws-00001",
            "conditions": [{"type": "Ready", "status": "Unknown", "reason": "RevisionMissing"}]}),
        );
        let pulling = rev(json!({"conditions": [
            {"type": "ResourcesAvailable", "status": "Unknown", "reason": "ImagePullBackOff",
             "message": "Back-off pulling image \"nope:1\""}]}));
        assert_eq!(
            status_of(Some(&k), None, Some(&pulling)),
            Status::Failed {
                reason: "ImagePullBackOff: Back-off pulling image \"nope:1\"".into()
            }
        );
        // A revision of another name is not the latest: no verdict from it.
        let mut other = pulling.clone();
        other.metadata.name = Some("ws-00000".into());
        assert_eq!(status_of(Some(&k), None, Some(&other)), Status::Starting);
        // Ready for an older generation than the current one: starting.
        let mut ready_old = ksvc(ready("True"));
        ready_old.metadata.generation = Some(2);
        assert_eq!(status_of(Some(&ready_old), None, None), Status::Starting);
        // Being deleted: gone already.
        k.metadata.deletion_timestamp =
            Some(serde_json::from_value(json!("2024-01-01T00:00:00Z")).expect("time"));
        assert_eq!(status_of(Some(&k), None, Some(&pulling)), Status::NotFound);
    }
}
