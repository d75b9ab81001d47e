//! Whether a workspace's start is done, still going, or cannot succeed, read
//! from its Knative Service and the Service's latest created Revision; and what
//! a failure means for the person waiting.
//!
//! - **Ready**: the Service has observed its current generation (at least the
//!   one the proxy applied) and reports `Ready=True`.
//! - **Failed**, within seconds rather than after the progress deadline: the
//!   Service's `Ready=False` (e.g. `RevisionFailed`), a `False` `Ready`,
//!   `ContainerHealthy` or `ResourcesAvailable` on the latest revision (an exit
//!   code, a quota that forbids the pod, a missing image), or any condition not
//!   `True` whose reason says the pod cannot run ([`FATAL_REASONS`]: image pull
//!   errors, crash loops, …).
//! - **Pending** otherwise, and while a pod that cannot be *scheduled* has not
//!   been so for the grace ([`SCHEDULING_GRACE`], from the condition's
//!   `lastTransitionTime`): Knative reports `ResourcesAvailable=False`
//!   (`Unschedulable`) as soon as a starting pod waits for the scheduler, and sets
//!   it back once the pod runs, so a node the cluster autoscaler is adding or a
//!   volume still being provisioned is a wait, not a failure. A condition without
//!   a time fails at once.

use std::time::Duration;

use dcs_model::text::one_line;
use k8s_openapi::jiff::Timestamp;

use super::types::{condition, Condition, Ksvc, Revision};

/// How long a pod that cannot be scheduled counts as still starting.
pub const SCHEDULING_GRACE: Duration = Duration::from_secs(120);

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

/// The condition of the latest revision that says it failed, if any.
fn revision_failing(revision: &Revision) -> Option<&Condition> {
    let conditions = revision.status.as_ref().map(|s| &s.conditions[..])?;
    let explicit = ["ContainerHealthy", "ResourcesAvailable", "Ready"]
        .into_iter()
        .filter_map(|t| condition(conditions, t))
        .find(|c| c.status == "False");
    explicit.or_else(|| {
        conditions
            .iter()
            .find(|c| c.status != "True" && c.reason.as_deref().is_some_and(is_fatal))
    })
}

/// A failure reported by the latest revision's conditions.
pub fn revision_failure(revision: &Revision) -> Option<Failure> {
    revision_failing(revision).map(failure)
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

/// What the conditions say, before the scheduling grace: the condition that
/// says the start failed, if one does.
enum Said<'a> {
    Ready,
    Pending,
    Failed(&'a Condition),
}

fn said<'a>(ksvc: &'a Ksvc, latest: Option<&'a Revision>, generation: i64) -> Said<'a> {
    if !is_current(ksvc, generation) {
        return Said::Pending;
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
    let latest_failing = latest
        .filter(|r| latest_name.is_some() && r.metadata.name.as_deref() == latest_name)
        .and_then(revision_failing);
    match condition(conditions, "Ready") {
        Some(c) if c.status == "True" => return Said::Ready,
        // The revision's own reason is the more precise one.
        Some(c) if c.status == "False" => return Said::Failed(latest_failing.unwrap_or(c)),
        _ => {}
    }
    if let Some(c) = conditions
        .iter()
        .find(|c| c.status != "True" && c.reason.as_deref().is_some_and(is_fatal))
    {
        return Said::Failed(c);
    }
    latest_failing.map_or(Said::Pending, Said::Failed)
}

/// Words of the scheduler's messages (as Knative copies them onto the revision,
/// and into the Service's `RevisionFailed` message).
const SCHEDULER_WORDS: &[&str] = &["nodes are available", "no nodes available"];
/// The scheduler's words for claims no volume is bound to yet.
const UNBOUND_CLAIMS: &str = "unbound immediate persistentvolumeclaims";
/// The scheduler's words for a pod affinity no node satisfies.
const AFFINITY: &str = "didn't match pod affinity";

/// Whether `c` says a pod cannot be scheduled (yet).
fn is_scheduling(c: &Condition) -> bool {
    let m = c
        .message
        .as_deref()
        .unwrap_or_default()
        .to_ascii_lowercase();
    matches!(
        c.reason.as_deref(),
        Some("Unschedulable" | "FailedScheduling")
    ) || SCHEDULER_WORDS.iter().any(|w| m.contains(w))
}

/// Whether `c` changed less than `grace` ago (a time in the future: just now).
fn is_younger(c: &Condition, grace: Duration) -> bool {
    let Some(since) = &c.last_transition_time else {
        return false;
    };
    let age_ms = Timestamp::now()
        .as_millisecond()
        .saturating_sub(since.0.as_millisecond());
    u128::try_from(age_ms).map_or(true, |age| age < grace.as_millis())
}

/// The verdict on the start of the Service's `generation` (or a later one),
/// given the Service's latest created revision if it is known; a pod that
/// cannot be scheduled is pending for [`SCHEDULING_GRACE`].
pub fn verdict(ksvc: &Ksvc, latest: Option<&Revision>, generation: i64) -> Verdict {
    verdict_within(ksvc, latest, generation, SCHEDULING_GRACE)
}

/// [`verdict`], a pod that cannot be scheduled pending for `grace`.
pub fn verdict_within(
    ksvc: &Ksvc,
    latest: Option<&Revision>,
    generation: i64,
    grace: Duration,
) -> Verdict {
    match said(ksvc, latest, generation) {
        Said::Ready => Verdict::Ready,
        Said::Pending => Verdict::Pending,
        Said::Failed(c) if is_scheduling(c) && is_younger(c, grace) => Verdict::Pending,
        Said::Failed(c) => Verdict::Failed(failure(c)),
    }
}

/// The longest Knative detail shown to a person.
const MAX_DETAIL: usize = 400;
/// The longest Knative reason shown to a person (reasons are CamelCase words).
const MAX_REASON: usize = 100;

impl Failure {
    /// `reason: message` on one line, the message shortened: the message may quote
    /// a container's termination message, which the workspace's code writes, so its
    /// control and bidi characters are made visible ([`dcs_model::text::one_line`]).
    pub fn detail(&self) -> String {
        let message = one_line(self.message.trim(), MAX_DETAIL);
        let reason = one_line(&self.reason, MAX_REASON);
        if message.is_empty() {
            reason
        } else {
            format!("{reason}: {message}")
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
        } else if matches!(r, "Unschedulable" | "FailedScheduling")
            || SCHEDULER_WORDS.iter().any(|w| m.contains(w))
        {
            unschedulable(&m)
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

/// What a pod the scheduler cannot place means, by the scheduler's `message`
/// (lowercase), and what to do.
fn unschedulable(message: &str) -> (&'static str, &'static str) {
    if message.contains(UNBOUND_CLAIMS) {
        (
            "Kubernetes has not provided the workspace's volumes yet (their claims are still unbound)",
            "Ask an operator to check the storage class and its provisioner (kubectl get pvc); then open the workspace again.",
        )
    } else if message.contains(AFFINITY) {
        (
            "The workspace must run on the node that holds your workspace volume (it attaches to one node at a time), and that node has no room for it",
            "Close another of your workspaces, or ask an operator to add room on that node or to give users volumes that many nodes can mount; then open the workspace again.",
        )
    } else {
        (
            "No node in the cluster has room for the workspace",
            "Ask for less CPU or memory, or ask an operator to add capacity; then open the workspace again.",
        )
    }
}

#[cfg(test)]
mod tests;
