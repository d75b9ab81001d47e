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
//!
//! **Progress** ([`progress_of`]): while a workspace starts, the phase the watch
//! cache shows: no revision yet → `created`; a revision being deployed → `scheduled`;
//! a revision whose conditions say its image is being pulled → `pulling_image`;
//! its pod created or initialising (or replicas up, not yet healthy) → `starting`;
//! then what its launcher last reported on the Service ([`PROGRESS_ANNOTATION`]:
//! cloning with figures, the IDE starting). A failure carries its reason and what
//! to do: the launcher's own when it reported one (a repository that does not
//! exist, a credential refused), else Knative's ([`super::ready::Failure::explain`]).

use dcs_model::api::{Progress, StartPhase};
use dcs_model::WorkspaceKey;

use super::ready::{revision_failure, verdict_within, Verdict, SCHEDULING_GRACE};
use super::types::{condition, Ksvc, Revision};
use super::KnativeRuntime;
use crate::error::Result;
use crate::progress::push::Pushed;
use crate::runtime::Status;

/// The annotation on a workspace's Knative Service holding the launcher's last
/// reported progress (a [`Progress`] as JSON), so every replica sees it through its
/// watch cache.
pub const PROGRESS_ANNOTATION: &str = "dcs.dev/progress";

impl KnativeRuntime {
    /// The progress of `key`'s start as this replica's cache shows it.
    pub(super) async fn progress_of(&self, key: &WorkspaceKey) -> Result<Option<Progress>> {
        let status = self.status_of(key).await?;
        let Some(ksvc) = self.cache.ksvc(key.name().as_str()) else {
            return Ok(None);
        };
        let latest = self.cache.latest_revision(&ksvc);
        Ok(progress_of(&status, &ksvc, latest.as_deref()))
    }
}

/// The progress of a start: `status` (from [`status_of`]) made finer with the
/// Service's latest created revision and its launcher's annotation.
pub fn progress_of(status: &Status, ksvc: &Ksvc, latest: Option<&Revision>) -> Option<Progress> {
    let launcher = pushed(ksvc);
    let launcher_failed = launcher
        .as_ref()
        .filter(|p| p.failure.is_some())
        .map(|p| p.progress.clone());
    match status {
        Status::NotFound => return None,
        Status::Running => return Some(Progress::at(StartPhase::Ready)),
        Status::Stopped => return Some(Progress::at(StartPhase::Stopped)),
        Status::Failed { .. } | Status::Starting if launcher_failed.is_some() => {
            return launcher_failed;
        }
        Status::Failed { reason } => {
            let failure = latest.and_then(revision_failure);
            return Some(match failure {
                Some(f) => Progress::failed(f.detail(), f.explain()),
                None => Progress::failed(
                    reason.clone(),
                    "Open the workspace again to retry; if it keeps failing, ask an operator.",
                ),
            });
        }
        Status::Starting => {}
    }
    let launcher = launcher
        .map(|p| p.progress)
        .filter(|p| !matches!(p.phase, StartPhase::Failed | StartPhase::Stopped));
    let pod = pod_phase(latest);
    Some(match (launcher, pod) {
        // The launcher reports only once its container runs.
        (Some(said), StartPhase::Starting) => said,
        (_, phase) => Progress::at(phase),
    })
}

/// What the Service's launcher last reported ([`PROGRESS_ANNOTATION`]), if
/// anything readable.
pub fn pushed(ksvc: &Ksvc) -> Option<Pushed> {
    let value = ksvc
        .metadata
        .annotations
        .as_ref()?
        .get(PROGRESS_ANNOTATION)?;
    serde_json::from_str(value).ok()
}

/// What the latest revision says of its pod (no revision yet: `created`).
fn pod_phase(latest: Option<&Revision>) -> StartPhase {
    let Some(status) = latest.and_then(|r| r.status.as_ref()) else {
        return StartPhase::Created;
    };
    let said = |words: &[&str]| {
        status.conditions.iter().any(|c| {
            let text = format!(
                "{} {}",
                c.reason.as_deref().unwrap_or_default(),
                c.message.as_deref().unwrap_or_default()
            )
            .to_ascii_lowercase();
            words.iter().any(|w| text.contains(w))
        })
    };
    let resources = condition(&status.conditions, "ResourcesAvailable").map(|c| c.status.as_str());
    if said(&["pulling", "pull image", "pullimage"]) {
        StartPhase::PullingImage
    } else if said(&["containercreating", "podinitializing", "init:"])
        || status.actual_replicas.is_some_and(|n| n > 0)
        || resources == Some("True")
    {
        StartPhase::Starting
    } else {
        StartPhase::Scheduled
    }
}

/// Status of `ksvc`, given its serving revision and its latest created revision
/// (each if it was found).
pub fn status_of(
    ksvc: Option<&Ksvc>,
    serving: Option<&Revision>,
    latest: Option<&Revision>,
) -> Status {
    status_within(ksvc, serving, latest, SCHEDULING_GRACE)
}

/// [`status_of`], a pod that cannot be scheduled starting for `grace` (see
/// [`super::ready`]).
pub fn status_within(
    ksvc: Option<&Ksvc>,
    serving: Option<&Revision>,
    latest: Option<&Revision>,
    grace: std::time::Duration,
) -> Status {
    let Some(ksvc) = ksvc else {
        return Status::NotFound;
    };
    if ksvc.metadata.deletion_timestamp.is_some() {
        return Status::NotFound;
    }
    let generation = ksvc.metadata.generation.unwrap_or(1);
    match verdict_within(ksvc, latest, generation, grace) {
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

/// Whether the revision is scaled to zero: `Active=False` (`NoTraffic`), or no
/// pods where it says nothing of activity. A revision waking up (`Active` neither
/// `True` nor `False`) is not.
pub fn is_scaled_to_zero(revision: &Revision) -> bool {
    let Some(status) = revision.status.as_ref() else {
        return false;
    };
    match condition(&status.conditions, "Active") {
        Some(c) => c.status == "False",
        None => status.actual_replicas == Some(0),
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
    fn a_start_reads_as_the_phases_its_revision_and_its_launcher_report() {
        let k = ksvc(
            json!({"observedGeneration": 1, "latestCreatedRevisionName": "ws-00001",
            "conditions": [{"type": "Ready", "status": "Unknown"}]}),
        );
        let phase =
            |k: &Ksvc, r: Option<&Revision>| progress_of(&Status::Starting, k, r).map(|p| p.phase);
        assert_eq!(phase(&k, None), Some(StartPhase::Created));
        let deploying = rev(json!({"conditions": [
            {"type": "ResourcesAvailable", "status": "Unknown", "reason": "Deploying"}]}));
        assert_eq!(phase(&k, Some(&deploying)), Some(StartPhase::Scheduled));
        let pulling = rev(json!({"conditions": [
            {"type": "ContainerHealthy", "status": "Unknown", "reason": "Pulling",
             "message": "Pulling image \"base:1\""}]}));
        assert_eq!(phase(&k, Some(&pulling)), Some(StartPhase::PullingImage));
        let running = rev(json!({"actualReplicas": 1, "conditions": [
            {"type": "ContainerHealthy", "status": "Unknown", "reason": "Deploying"}]}));
        assert_eq!(phase(&k, Some(&running)), Some(StartPhase::Starting));
        // Once its container runs, the launcher's own report on the Service counts.
        let mut said = k.clone();
        said.metadata.annotations = Some(
            [(
                PROGRESS_ANNOTATION.to_owned(),
                serde_json::to_string(&Progress::cloning(5, 10, 2048)).expect("json"),
            )]
            .into(),
        );
        let p = progress_of(&Status::Starting, &said, Some(&running)).expect("progress");
        assert_eq!((p.phase, p.percent), (StartPhase::Cloning, Some(50)));
        assert_eq!(phase(&said, Some(&deploying)), Some(StartPhase::Scheduled));
        assert_eq!(
            progress_of(&Status::Running, &said, Some(&running)).map(|p| p.phase),
            Some(StartPhase::Ready)
        );
        assert_eq!(progress_of(&Status::NotFound, &said, None), None);
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
