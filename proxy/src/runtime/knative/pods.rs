//! What a starting workspace's pod shows before Knative says it. Knative puts a
//! container's waiting reason (an image that cannot be pulled, a configuration
//! the kubelet cannot apply) on the revision only once the progress deadline has
//! passed, and never an init container's, so a start would read "starting" for
//! up to that deadline. A start that has heard nothing for a while looks at the
//! pods of the revision it waits for ([`KnativeRuntime::pod_failure`]); a reason
//! the kubelet will not get past on its own ends the start, with that reason.
//! Best effort: a pod list that fails (an RBAC Role without `list` on pods, an API
//! server that cannot be reached) is a warning, once per workspace per
//! [`crate::log_pace::EVERY`], and the start keeps waiting.

use k8s_openapi::api::core::v1::{ContainerStatus, Pod};
use tracing::{debug, warn};

use super::ready::Failure;
use super::start::failed;
use super::KnativeRuntime;
use crate::error::Error;
use dcs_model::WorkspaceKey;

/// Waiting reasons the kubelet only retries (or never gets past) without a change
/// by someone: `ErrImagePull` is left out (a registry hiccup; its retries show as
/// `ImagePullBackOff`).
const STUCK: &[&str] = &[
    "ImagePullBackOff",
    "InvalidImageName",
    "ErrImageNeverPull",
    "CreateContainerConfigError",
    "CreateContainerError",
    "CrashLoopBackOff",
];

/// The reason `pod` cannot run, if one of its containers (init containers first,
/// as they run first) waits for something it will not get past on its own.
pub fn failure_of(pod: &Pod) -> Option<Failure> {
    let status = pod.status.as_ref()?;
    let init = status.init_container_statuses.iter().flatten();
    let main = status.container_statuses.iter().flatten();
    init.chain(main).find_map(stuck)
}

fn stuck(container: &ContainerStatus) -> Option<Failure> {
    let waiting = container.state.as_ref()?.waiting.as_ref()?;
    let reason = waiting.reason.as_deref().filter(|r| STUCK.contains(r))?;
    let detail = waiting.message.as_deref().unwrap_or_default();
    Some(Failure {
        reason: reason.to_owned(),
        message: format!("container {}: {detail}", container.name),
    })
}

impl KnativeRuntime {
    /// The error a pod of `key`'s latest revision shows, if any (see the module).
    pub(crate) async fn pod_failure(&self, key: &WorkspaceKey) -> Option<Error> {
        let ksvc = self.cache.ksvc(key.name().as_str())?;
        let revision = super::types::latest_created(&ksvc)?;
        let pods = match self.api.revision_pods(revision).await {
            Ok(pods) => pods,
            Err(error) => {
                if self.pod_warnings.warn_now(key) {
                    warn!(
                        workspace = %key, %error,
                        "cannot look at the workspace's pods (may the proxy's Role list pods?); \
                         its start waits for Knative to report a failure (said at most every \
                         {} min)",
                        self.pod_warnings.every().as_secs() / 60
                    );
                } else {
                    debug!(workspace = %key, %error, "cannot look at the workspace's pods");
                }
                return None;
            }
        };
        let failure = pods.iter().find_map(failure_of)?;
        Some(failed(key, &failure))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(status: serde_json::Value) -> Pod {
        serde_json::from_value(json!({"metadata": {"name": "p"}, "status": status})).expect("pod")
    }

    fn waiting(name: &str, reason: &str) -> serde_json::Value {
        json!({"name": name, "image": "i", "imageID": "", "ready": false, "restartCount": 0,
               "state": {"waiting": {"reason": reason, "message": "why"}}})
    }

    #[test]
    fn only_reasons_the_kubelet_will_not_get_past_are_failures() {
        let init = pod(json!({"initContainerStatuses": [waiting("checkout", "ImagePullBackOff")]}));
        let f = failure_of(&init).expect("a failure");
        assert_eq!(f.reason, "ImagePullBackOff");
        assert!(
            f.message.contains("checkout") && f.message.contains("why"),
            "{f:?}"
        );
        let main =
            pod(json!({"containerStatuses": [waiting("workspace", "CreateContainerConfigError")]}));
        assert_eq!(
            failure_of(&main).expect("a failure").reason,
            "CreateContainerConfigError"
        );
        for going in ["ContainerCreating", "PodInitializing", "ErrImagePull"] {
            let p = pod(
                json!({"initContainerStatuses": [waiting("checkout", going)],
                               "containerStatuses": [waiting("workspace", "PodInitializing")]}),
            );
            assert_eq!(failure_of(&p), None, "{going}");
        }
        assert_eq!(failure_of(&pod(json!({}))), None);
    }
}
