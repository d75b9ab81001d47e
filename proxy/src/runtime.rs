//! The `Runtime` seam: how a workspace gets somewhere to run.
//!
//! The activator and (later) the management API call only this trait; they never
//! know whether processes or Knative Services are underneath. Every method is
//! idempotent. Implementations:
//! - [`local`]: a `dcs-launcher` child process per workspace on this machine.

#[doc(hidden)]
pub mod contract;
pub mod knative;
pub mod local;

use async_trait::async_trait;
use dcs_model::{K8sName, UserId, WorkspaceKey};
use serde::Serialize;

use crate::error::Result;

/// What to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkspaceSpec {
    /// Whose workspace for which repository.
    pub key: WorkspaceKey,
    /// The path prefix the proxy serves it under, e.g. `/github/acme/hello`.
    pub base_path: String,
}

impl WorkspaceSpec {
    /// The spec of a repository workspace served under `/github/<owner>/<repo>`.
    pub fn for_repo(key: WorkspaceKey) -> Self {
        let base_path = format!(
            "{}/{}/{}",
            crate::route::GITHUB_PREFIX,
            key.repo.owner(),
            key.repo.repo()
        );
        Self { key, base_path }
    }
}

/// Where to send a workspace's requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstream {
    /// `host:port` to connect to.
    pub authority: String,
    /// `Host` header to send: `None` keeps the browser's (the IDE checks Origin
    /// against it), `Some` overrides it (e.g. a Knative route's hostname).
    pub host: Option<String>,
}

/// The observable state of a workspace. Never "None means running".
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum Status {
    /// The runtime has never heard of it (or it was deleted).
    NotFound,
    /// Known, scaled to zero; the next request wakes it.
    Stopped,
    /// Being started.
    Starting,
    /// Serving.
    Running,
    /// The last start failed.
    Failed {
        /// Why, readable.
        reason: String,
    },
}

/// One workspace as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WorkspaceInfo {
    /// Its key.
    pub key: WorkspaceKey,
    /// Its object name.
    pub name: K8sName,
    /// Its state.
    pub status: Status,
}

/// Start, stop and observe workspaces.
#[async_trait]
pub trait Runtime: Send + Sync + 'static {
    /// Makes sure the workspace runs; resolves once its upstream accepts requests
    /// (or, where a platform buffers them, once it will). Safe to call concurrently.
    async fn ensure(&self, spec: &WorkspaceSpec) -> Result<Upstream>;
    /// The workspace's state.
    async fn status(&self, key: &WorkspaceKey) -> Result<Status>;
    /// The workspaces of `user`, or of everybody.
    async fn list(&self, user: Option<&UserId>) -> Result<Vec<WorkspaceInfo>>;
    /// Scales the workspace to zero. Its files are kept; the next `ensure` wakes it.
    async fn stop(&self, key: &WorkspaceKey) -> Result<()>;
    /// Stops the workspace and forgets it. The user's files are kept.
    async fn delete(&self, key: &WorkspaceKey) -> Result<()>;
    /// Called once when the proxy shuts down gracefully.
    async fn shutdown(&self) {}
}
