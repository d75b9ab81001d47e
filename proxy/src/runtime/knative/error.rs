//! What can go wrong in the Knative runtime, and what a person is told.
//!
//! [`KnativeError`]'s `Display` is for the log: the Kubernetes call, the object
//! and the API server's whole answer. People get [`KnativeError::readable`]
//! instead: what happened and what to do, without the proxy's ServiceAccount,
//! namespaces, paths or Rust debug output. Converting into the proxy's
//! [`Error`] logs the details once (the request's log line carries them) and
//! keeps only the readable text.

use std::path::PathBuf;

use tracing::warn;

use super::api::ApiError;
use super::cache::CacheError;
use crate::error::Error;

/// What can go wrong in the Knative runtime.
#[derive(Debug, thiserror::Error)]
pub enum KnativeError {
    /// No Kubernetes client could be configured (in-cluster or `KUBECONFIG`).
    #[error("cannot connect to Kubernetes (in-cluster config or KUBECONFIG): {0}")]
    Connect(#[source] kube::Error),
    /// An API call failed.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// The workspace cache cannot answer.
    #[error(transparent)]
    Cache(#[from] CacheError),
    /// The git token file could not be read (its content is never shown).
    #[error("cannot read the git token file {}: {source}", path.display())]
    Token {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// What a failed API call means, without naming anything of the cluster.
fn readable_api(e: &kube::Error) -> String {
    let kube::Error::Api(status) = e else {
        return "Kubernetes cannot be reached right now; try again in a moment".into();
    };
    let quota = status
        .message
        .to_ascii_lowercase()
        .contains("exceeded quota");
    if status.is_forbidden() && quota {
        "the workspaces' quota is used up (no room for another workspace or volume); delete a workspace you no longer need, or ask an operator to raise the quota".into()
    } else if status.is_forbidden() {
        "the proxy is not allowed to manage workspaces in Kubernetes; an operator should check its RBAC Role (details in the proxy's log)".into()
    } else if status.is_not_found() {
        "something the workspaces need is missing in Kubernetes (is Knative Serving installed, does the workspace namespace exist?); an operator should check the proxy's log".into()
    } else if status.is_conflict() || status.is_already_exists() {
        "another change to this workspace happened at the same moment; try again".into()
    } else if status.is_invalid() || status.reason == "BadRequest" {
        "Kubernetes or Knative refused the workspace's definition (a Knative feature flag may be off); an operator should check the proxy's log".into()
    } else if status.reason == "Unauthorized" {
        "Kubernetes did not accept the proxy's credentials; an operator should check the proxy's service account".into()
    } else {
        "Kubernetes failed to answer; try again in a moment".into()
    }
}

impl KnativeError {
    /// What happened and what to do, for people (pages and `/api` errors).
    pub fn readable(&self) -> String {
        match self {
            KnativeError::Connect(_) => "the proxy cannot connect to Kubernetes; an operator should check its in-cluster configuration or KUBECONFIG".into(),
            KnativeError::Api(e) => readable_api(&e.source),
            KnativeError::Cache(CacheError::Watch(_)) => "the proxy cannot read the list of workspaces from Kubernetes right now; try again in a moment (details in the proxy's log)".into(),
            KnativeError::Cache(CacheError::NotSynced) => "the list of workspaces is still loading from Kubernetes; try again in a moment".into(),
            KnativeError::Token { .. } => "the proxy cannot read its git token; an operator should check --git-token-file".into(),
        }
    }
}

impl From<KnativeError> for Error {
    fn from(e: KnativeError) -> Self {
        warn!(error = %e, "Knative runtime error");
        Error::Runtime(e.readable())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(code: u16, reason: &str, message: &str) -> KnativeError {
        KnativeError::Api(ApiError {
            op: "get",
            kind: "Knative Service",
            name: "ws-alice".into(),
            source: kube::Error::Api(
                kube::core::Status::failure(message, reason)
                    .with_code(code)
                    .boxed(),
            ),
        })
    }

    #[test]
    fn people_never_see_service_accounts_namespaces_or_debug_output() {
        let forbidden = api(
            403,
            "Forbidden",
            "services.serving.knative.dev \"ws-alice\" is forbidden: User \"system:serviceaccount:dcs:dcs-proxy\" cannot get resource \"services\" in API group \"serving.knative.dev\" in the namespace \"dcs-workspaces\"",
        );
        let quota = api(
            403,
            "Forbidden",
            "persistentvolumeclaims \"home-x\" is forbidden: exceeded quota: storage, requested: requests.storage=10Gi",
        );
        let cases = [
            forbidden,
            quota,
            api(404, "NotFound", "namespaces \"dcs-workspaces\" not found"),
            api(
                422,
                "Invalid",
                "admission webhook \"validation.webhook.serving.knative.dev\" denied the request",
            ),
            api(409, "Conflict", "the object has been modified"),
            api(500, "InternalError", "etcdserver: request timed out"),
            KnativeError::Token {
                path: "/etc/dcs/git-token".into(),
                source: std::io::Error::other("denied"),
            },
            KnativeError::Cache(CacheError::Watch(
                "forbidden: system:serviceaccount:dcs:dcs-proxy".into(),
            )),
        ];
        for e in cases {
            let logged = e.to_string();
            let shown = Error::from(e).to_string();
            for secret in [
                "serviceaccount",
                "dcs-workspaces",
                "dcs-proxy",
                "/etc/dcs",
                "Error {",
                "Status {",
                "ws-alice",
            ] {
                assert!(!shown.contains(secret), "{shown:?} shows {secret:?}");
            }
            assert_ne!(shown, logged);
            assert!(shown.len() > 40, "{shown}");
        }
        let quota =
            Error::from(api(403, "Forbidden", "x is forbidden: exceeded quota: q")).to_string();
        assert!(quota.contains("quota is used up"), "{quota}");
    }
}
