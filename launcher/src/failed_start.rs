//! A start that cannot succeed, when Knative runs the workspace: the launcher ends
//! with the reason as its container's termination message, so Knative reports the
//! revision as failed at once (`ContainerHealthy=False`, "Container failed with:
//! <reason>") and the proxy shows that reason within seconds, instead of a pod that
//! stays up not-ready until Knative's progress deadline. The pod spec asks for
//! `terminationMessagePolicy: FallbackToLogsOnError`, so the last log lines stand in
//! should the message file not be writable.
//!
//! Locally (no `K_SERVICE`) a failed launcher keeps serving: the proxy reads the
//! failure from `/_dcs/ready` and shows the matching page.

use std::time::Duration;

use tracing::error;

/// The file the kubelet reads as the container's termination message (the pod's
/// default `terminationMessagePath`).
pub const TERMINATION_LOG: &str = "/dev/termination-log";

/// Names another file for the message (tests outside a container).
pub const TERMINATION_LOG_ENV: &str = "DCS_TERMINATION_LOG";

/// The longest message kept (the kubelet keeps 4096 bytes).
const MAX_MESSAGE: usize = 4000;

/// How long the launcher still serves after the failure, so a poll of
/// `/_dcs/ready` in flight can read it.
const LINGER: Duration = Duration::from_secs(2);

/// Whether this launcher runs as a Knative workspace.
pub fn under_knative() -> bool {
    std::env::var_os("K_SERVICE").is_some()
}

/// The termination message for `reason`: one line per line of it, cut at a
/// character boundary below the kubelet's limit.
pub fn message(reason: &str) -> String {
    let mut text = reason.trim().to_owned();
    if text.len() > MAX_MESSAGE {
        let mut end = MAX_MESSAGE;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

/// Under Knative: writes `reason` to [`TERMINATION_LOG`] (or [`TERMINATION_LOG_ENV`]'s file) and ends the process with
/// status 1 after [`LINGER`]. Elsewhere: nothing.
pub async fn end_if_knative(reason: &str) {
    if !under_knative() {
        return;
    }
    let text = message(reason);
    let path = std::env::var_os(TERMINATION_LOG_ENV)
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| TERMINATION_LOG.into());
    if let Err(e) = tokio::fs::write(&path, text.as_bytes()).await {
        error!(error = %e, "cannot write the termination message; the log stands in");
    }
    error!(reason = %text, "the start failed; ending so Knative reports it");
    tokio::time::sleep(LINGER).await;
    std::process::exit(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_reason_is_cut_at_a_character_boundary_below_the_limit() {
        let reason = "é".repeat(3000);
        let m = message(&reason);
        assert!(m.len() <= MAX_MESSAGE);
        assert!(m.chars().all(|c| c == 'é'));
        assert_eq!(
            message("  cannot clone: not found \n"),
            "cannot clone: not found"
        );
    }
}
