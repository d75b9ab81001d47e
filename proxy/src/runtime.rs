//! The `Runtime` seam: how a workspace gets somewhere to run.
//!
//! The activator and the management API call only this trait; they never know
//! whether processes or Knative Services are underneath. Every method is
//! idempotent. Implementations:
//! - [`local`]: a `dcs-launcher` child process per workspace on this machine.
//! - [`knative`]: a Knative Service per workspace.
//!
//! A workspace is either a repository workspace (`/github/<owner>/<repo>`) or an
//! instance made through the API (`/instances/<id>`); see [`WorkspaceKind`]. What
//! it runs (image, IDE, resources, env, token hash) travels as its
//! [`InstanceSpec`], which the runtime records with it.

#[doc(hidden)]
pub mod contract;
pub mod finish;
pub mod knative;
pub mod local;

use async_trait::async_trait;
use dcs_model::{InstanceId, InstanceSpec, K8sName, UserId, WorkspaceKey, WorkspaceKind};
use serde::Serialize;

use crate::error::Result;

/// What to run.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkspaceSpec {
    /// Whose workspace for which repository.
    pub key: WorkspaceKey,
    /// What it runs. For repository workspaces, `instance.repo` is the key's repo.
    pub instance: InstanceSpec,
}

/// The path prefix of API instances.
pub const INSTANCES_PREFIX: &str = "/instances";

impl WorkspaceSpec {
    /// The spec of a workspace with the operator's defaults, served under
    /// `/github/<owner>/<repo>` (repository) or `/instances/<id>` (instance).
    pub fn for_repo(key: WorkspaceKey) -> Self {
        let instance = InstanceSpec {
            repo: key.repo().cloned(),
            ..InstanceSpec::default()
        };
        Self::new(key, instance)
    }

    /// The spec of `key` running `instance`.
    pub fn new(key: WorkspaceKey, instance: InstanceSpec) -> Self {
        Self { key, instance }
    }

    /// The path prefix the proxy serves it under, e.g. `/github/acme/hello` (made
    /// when asked: only starting a workspace needs it, not each request).
    pub fn base_path(&self) -> String {
        base_path(&self.key)
    }
}

/// Where the proxy serves a workspace: `/github/<owner>/<repo>` or `/instances/<id>`.
pub fn base_path(key: &WorkspaceKey) -> String {
    match &key.kind {
        WorkspaceKind::Repo(repo) => [crate::route::GITHUB_PREFIX, "/", repo.as_str()].concat(),
        WorkspaceKind::Instance(id) => format!("{INSTANCES_PREFIX}/{id}"),
    }
}

/// Where to send a workspace's requests, and the hop credential they carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstream {
    /// `host:port` to connect to (with `socket`: only what `Host` says when the
    /// client sent none).
    pub authority: String,
    /// `Host` header to send: `None` keeps the browser's (the IDE checks Origin
    /// against it), `Some` overrides it (e.g. a Knative route's hostname).
    pub host: Option<String>,
    /// Connect to this unix socket instead of `authority` (a sandboxed launcher).
    pub socket: Option<std::path::PathBuf>,
    /// The workspace's hop credential, sent with every request ([`crate::hop`]).
    pub hop: Option<crate::hop::Credential>,
    /// Whether WebSockets may go as HTTP/2 streams on one connection to the
    /// launcher ([`dcs_net::extended_connect`]), as they do once descriptors get
    /// scarce ([`crate::accept::admit_tunnel`]): it is reached directly (local mode).
    /// `false` where something else is in between (Knative's ingress and
    /// activator): each upgrade on an HTTP/1.1 connection of its own.
    pub multiplexed: bool,
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
#[derive(Debug, Clone, PartialEq)]
pub struct WorkspaceInfo {
    /// Its key.
    pub key: WorkspaceKey,
    /// Its object name.
    pub name: K8sName,
    /// Its state.
    pub status: Status,
    /// What it runs, as recorded when it was registered or first started.
    pub spec: InstanceSpec,
}

/// A user's persistent workspace volume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeInfo {
    /// Its name: a PVC name, or a directory.
    pub name: String,
    /// Whether it exists yet.
    pub exists: bool,
    /// Bytes in use, where the runtime can tell.
    pub used_bytes: Option<u64>,
    /// Capacity as a quantity (`10Gi`), where the runtime sets one.
    pub capacity: Option<String>,
}

/// Start, stop and observe workspaces.
#[async_trait]
pub trait Runtime: Send + Sync + 'static {
    /// Makes sure the workspace runs; resolves once its upstream accepts requests
    /// (or, where a platform buffers them, once it will). Safe to call concurrently.
    /// Records `spec` if the workspace is new.
    async fn ensure(&self, spec: &WorkspaceSpec) -> Result<Upstream>;
    /// Records a workspace without waiting for it to start (the management API's
    /// create), so that `status`, `list` and `find` see it at once. Idempotent.
    async fn register(&self, spec: &WorkspaceSpec) -> Result<()>;
    /// The workspace with this id, whoever owns it.
    async fn find(&self, id: &InstanceId) -> Result<Option<WorkspaceInfo>> {
        Ok(self
            .list(None)
            .await?
            .into_iter()
            .find(|w| &w.key.id() == id))
    }
    /// [`Runtime::find`] from what this replica holds already, asking no one else
    /// (no API server): all that a request before sign-in may cause. By default
    /// `find`, for a runtime whose `find` reads only its own state (local).
    async fn find_cached(&self, id: &InstanceId) -> Result<Option<WorkspaceInfo>> {
        self.find(id).await
    }
    /// `user`'s persistent workspace volume.
    async fn volume(&self, user: &UserId) -> Result<VolumeInfo>;
    /// Whether base images and CPU/memory/storage figures take effect. `false`
    /// (local processes): they are recorded and shown, and the API warns.
    fn applies_containers(&self) -> bool {
        true
    }
    /// Replaces the recorded spec of an existing workspace with `spec`. Only what
    /// does not change what runs may differ (who it is shared with): the workspace
    /// is not restarted. `NotFound` if it does not exist.
    async fn update_spec(&self, key: &WorkspaceKey, spec: &InstanceSpec) -> Result<()>;
    /// The workspace's state.
    async fn status(&self, key: &WorkspaceKey) -> Result<Status>;
    /// How far its start is, as finely as the runtime can tell (see
    /// [`crate::progress`]); by default only what [`Runtime::status`] says.
    async fn progress(&self, key: &WorkspaceKey) -> Result<Option<dcs_model::api::Progress>> {
        Ok(crate::progress::of_status(&self.status(key).await?))
    }
    /// Grows `user`'s existing volume to `asked` where the runtime can; `Some`
    /// warning for the API's answer when it stays smaller. By default only says so.
    async fn grow_volume(
        &self,
        user: &UserId,
        asked: &dcs_model::Quantity,
    ) -> Result<Option<String>> {
        let volume = self.volume(user).await?;
        Ok(knative::storage_shortfall(
            volume.capacity.as_deref(),
            asked,
        ))
    }
    /// Where a workspace that runs now answers, without starting or waking it
    /// (`None` if it does not run, or the runtime cannot tell): the idle reaper asks
    /// launchers this replica never routed to (adopted, or served by another
    /// replica).
    async fn running_upstream(&self, _key: &WorkspaceKey) -> Option<Upstream> {
        None
    }
    /// Where launchers' pushed progress is recorded (`None`: the runtime asks its
    /// launchers itself, and pushes are answered 404). See [`crate::progress::push`].
    fn progress_sink(&self) -> Option<&dyn crate::progress::push::ProgressSink> {
        None
    }
    /// The workspaces of `user`, or of everybody.
    async fn list(&self, user: Option<&UserId>) -> Result<Vec<WorkspaceInfo>>;
    /// Scales the workspace to zero. Its files are kept; the next `ensure` wakes it.
    async fn stop(&self, key: &WorkspaceKey) -> Result<()>;
    /// Stops the workspace and forgets it. The user's files are kept.
    async fn delete(&self, key: &WorkspaceKey) -> Result<()>;
    /// Whether the runtime can serve yet (`/readyz`), or a short reason why not
    /// (no internals: anyone may ask). Knative: once its watch cache has loaded.
    fn ready(&self) -> std::result::Result<(), String> {
        Ok(())
    }
    /// Whether this replica is the one to count the stop that the workspace's clock
    /// made due at `due` (its launcher's `stop_at`): every replica's reaper carries
    /// out that stop, and one of them counts it. By default yes (one proxy).
    async fn claim_stop(&self, _key: &WorkspaceKey, _due: u64) -> bool {
        true
    }
    /// Called once when the proxy shuts down gracefully.
    async fn shutdown(&self) {}
    /// Run once when the proxy starts: waits for the starts an earlier proxy left
    /// under way (the local runtime's half-started launchers), so each ends ready or
    /// stopped even if no request comes for it. Knative's revisions need no one.
    async fn join_adopted_starts(&self) {}
}
