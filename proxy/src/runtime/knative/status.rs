//! A workspace's [`Status`] from its Knative Service and serving revision.
//!
//! - no Knative Service → `NotFound`;
//! - Service `Ready=False` → `Failed` with the reason and message;
//! - Service `Ready=Unknown` (or not reported yet) → `Starting`;
//! - Service `Ready=True`: the ksvc stays ready when scaled to zero, so the latest
//!   ready Revision's `Active` condition decides: `False` (reason `NoTraffic`) →
//!   `Stopped`, `Unknown` (activating) → `Starting`, `True` → `Running`; without
//!   that condition its `actualReplicas` (0 → `Stopped`).

use super::types::{condition, Ksvc, Revision};
use crate::runtime::Status;

/// Status of `ksvc`, given its latest ready revision (if it was found).
pub fn status_of(ksvc: Option<&Ksvc>, revision: Option<&Revision>) -> Status {
    let Some(ksvc) = ksvc else {
        return Status::NotFound;
    };
    let conditions = ksvc
        .status
        .as_ref()
        .map(|s| &s.conditions[..])
        .unwrap_or(&[]);
    let ready = condition(conditions, "Ready");
    match ready.map(|c| c.status.as_str()) {
        Some("True") => {}
        Some("False") => {
            let c = ready.map(|c| (c.reason.as_deref(), c.message.as_deref()));
            let reason = match c {
                Some((Some(r), Some(m))) => format!("{r}: {m}"),
                Some((Some(s), None)) | Some((None, Some(s))) => s.to_owned(),
                _ => "the Knative Service is not ready".to_owned(),
            };
            return Status::Failed { reason };
        }
        _ => return Status::Starting,
    }
    let Some(rev) = revision.and_then(|r| r.status.as_ref()) else {
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
            "latestReadyRevisionName": "ws-00001"})
    }

    #[test]
    fn ready_condition_and_revision_activity_map_to_status() {
        let active = |s: &str| {
            rev(json!({"conditions": [{"type": "Active", "status": s, "reason": "NoTraffic"}]}))
        };
        assert_eq!(status_of(None, None), Status::NotFound);
        assert_eq!(status_of(Some(&ksvc(json!({}))), None), Status::Starting);
        assert_eq!(
            status_of(Some(&ksvc(ready("Unknown"))), None),
            Status::Starting
        );
        assert_eq!(
            status_of(Some(&ksvc(ready("False"))), None),
            Status::Failed {
                reason: "RevisionMissing: Configuration \"ws\" does not have any ready Revision."
                    .into()
            }
        );
        let k = ksvc(ready("True"));
        assert_eq!(status_of(Some(&k), None), Status::Starting);
        assert_eq!(status_of(Some(&k), Some(&active("True"))), Status::Running);
        assert_eq!(status_of(Some(&k), Some(&active("False"))), Status::Stopped);
        assert_eq!(
            status_of(Some(&k), Some(&active("Unknown"))),
            Status::Starting
        );
        assert_eq!(
            status_of(Some(&k), Some(&rev(json!({"actualReplicas": 0})))),
            Status::Stopped
        );
        assert_eq!(
            status_of(Some(&k), Some(&rev(json!({"actualReplicas": 1})))),
            Status::Running
        );
        assert_eq!(serving_revision(&k), Some("ws-00001"));
    }
}
