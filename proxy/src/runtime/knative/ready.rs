//! Whether a workspace's start is done, still going, or cannot succeed, read
//! from its Knative Service and the Service's latest created Revision; and what
//! a failure means for the person waiting.
//!
//! - **Ready**: the Service has observed its current generation (at least the
//!   one the proxy applied) and reports `Ready=True`.
//! - **Failed**, within seconds rather than after the progress deadline: the
//!   Service's `Ready=False` (e.g. `RevisionFailed`), a `False` `Ready`,
//!   `ContainerHealthy` or `ResourcesAvailable` on the latest revision (an exit
//!   code, an unschedulable pod, a quota that forbids the pod, a missing image), or
//!   any condition not `True` whose reason says the pod cannot run
//!   ([`FATAL_REASONS`]: image pull errors, crash loops, …).
//! - **Pending** otherwise.

use super::types::{condition, Condition, Ksvc, Revision};

/// Reasons that say a revision cannot become ready without a change.
pub const FATAL_REASONS: &[&str] = &[
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
    "ErrImageNeverPull",
    "RegistryUnavailable",
    "ContainerMissing",
    "CrashLoopBackOff",
    "CreateContainerConfigError",
    "CreateContainerError",
    "RunContainerError",
    "Unschedulable",
    "FailedScheduling",
    "FailedCreate",
    "ExceededQuota",
    "ProgressDeadlineExceeded",
    "RevisionFailed",
];

/// A revision that cannot become ready: Knative's reason and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// One word (`ImagePullBackOff`, `RevisionFailed`, `ExitCode1`, …).
    pub reason: String,
    /// Knative's or Kubernetes' detail (may be empty).
    pub message: String,
}

/// Where a start stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Ready for requests.
    Ready,
    /// Still going.
    Pending,
    /// Cannot succeed.
    Failed(Failure),
}

fn is_fatal(reason: &str) -> bool {
    FATAL_REASONS.contains(&reason)
        || reason
            .strip_prefix("ExitCode")
            .is_some_and(|n| !n.is_empty() && n != "0")
}

fn failure(c: &Condition) -> Failure {
    Failure {
        reason: c.reason.clone().unwrap_or_else(|| c.type_.clone()),
        message: c.message.clone().unwrap_or_default(),
    }
}

/// A failure reported by the latest revision's conditions.
pub fn revision_failure(revision: &Revision) -> Option<Failure> {
    let conditions = revision.status.as_ref().map(|s| &s.conditions[..])?;
    let explicit = ["ContainerHealthy", "ResourcesAvailable", "Ready"]
        .into_iter()
        .filter_map(|t| condition(conditions, t))
        .find(|c| c.status == "False");
    explicit
        .or_else(|| {
            conditions
                .iter()
                .find(|c| c.status != "True" && c.reason.as_deref().is_some_and(is_fatal))
        })
        .map(failure)
}

/// Whether the Service has observed its current generation, and that one is at
/// least `generation`.
pub fn is_current(ksvc: &Ksvc, generation: i64) -> bool {
    let current = ksvc.metadata.generation.unwrap_or(1);
    let observed = ksvc
        .status
        .as_ref()
        .and_then(|s| s.observed_generation)
        .unwrap_or(0);
    current >= generation && observed >= current
}

/// The verdict on the start of the Service's `generation` (or a later one),
/// given the Service's latest created revision if it is known.
pub fn verdict(ksvc: &Ksvc, latest: Option<&Revision>, generation: i64) -> Verdict {
    if !is_current(ksvc, generation) {
        return Verdict::Pending;
    }
    let conditions = ksvc
        .status
        .as_ref()
        .map(|s| &s.conditions[..])
        .unwrap_or(&[]);
    let latest_name = ksvc
        .status
        .as_ref()
        .and_then(|s| s.latest_created_revision_name.as_deref());
    let latest_failure = latest
        .filter(|r| latest_name.is_some() && r.metadata.name.as_deref() == latest_name)
        .and_then(revision_failure);
    let ready = condition(conditions, "Ready");
    match ready.map(|c| c.status.as_str()) {
        Some("True") => return Verdict::Ready,
        // The revision's own reason is the more precise one.
        Some("False") => {
            return Verdict::Failed(latest_failure.or(ready.map(failure)).unwrap_or(Failure {
                reason: "NotReady".into(),
                message: String::new(),
            }))
        }
        _ => {}
    }
    if let Some(c) = conditions
        .iter()
        .find(|c| c.status != "True" && c.reason.as_deref().is_some_and(is_fatal))
    {
        return Verdict::Failed(failure(c));
    }
    latest_failure.map_or(Verdict::Pending, Verdict::Failed)
}

/// The longest Knative detail shown to a person.
const MAX_DETAIL: usize = 400;

impl Failure {
    /// `reason: message`, the message shortened.
    pub fn detail(&self) -> String {
        let mut message = self.message.trim().to_owned();
        if message.chars().count() > MAX_DETAIL {
            message = message.chars().take(MAX_DETAIL).collect::<String>() + "…";
        }
        if message.is_empty() {
            self.reason.clone()
        } else {
            format!("{}: {message}", self.reason)
        }
    }

    /// What happened and what to do, for the person waiting.
    pub fn explain(&self) -> String {
        let r = self.reason.as_str();
        let m = self.message.to_ascii_lowercase();
        let (what, todo) = if matches!(
            r,
            "ErrImagePull"
                | "ImagePullBackOff"
                | "InvalidImageName"
                | "ErrImageNeverPull"
                | "RegistryUnavailable"
                | "ContainerMissing"
        ) || m.contains("unable to fetch image")
            || m.contains("pulling image")
            || m.contains("image pull")
        {
            (
                "The workspace's container image cannot be pulled",
                "Check the image name (and, for a private registry, the image pull secret), then open the workspace again.",
            )
        } else if r == "ExceededQuota" || m.contains("exceeded quota") {
            (
                "The workspaces' resource quota is used up",
                "Delete a workspace you no longer need, or ask an operator to raise the quota; then open the workspace again.",
            )
        } else if matches!(r, "Unschedulable" | "FailedScheduling") {
            (
                "No node in the cluster has room for the workspace",
                "Ask for less CPU or memory, or ask an operator to add capacity; then open the workspace again.",
            )
        } else if r == "CrashLoopBackOff" || r.starts_with("ExitCode") {
            (
                "The workspace's container keeps stopping",
                "Ask an operator to look at the workspace's log; open the workspace again once it is fixed.",
            )
        } else if r == "ProgressDeadlineExceeded" {
            (
                "The workspace did not become ready within Knative's progress deadline",
                "Open the workspace again to retry; if it keeps failing, ask an operator to look at its log.",
            )
        } else {
            (
                "Knative cannot start the workspace",
                "Open the workspace again to retry; if it keeps failing, ask an operator.",
            )
        };
        format!("{what} ({}). {todo}", self.detail())
    }
}

#[cfg(test)]
mod tests;
