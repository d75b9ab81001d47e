//! `KnativeRuntime`: each workspace is a Knative Service that scales to zero.
//!
//! **Starting.** `ensure` applies the workspace's objects (git token Secret, user
//! volume, home volume, Knative Service) and resolves once the workspace answers:
//! the Service reports `Ready` for the generation just applied *and* the launcher
//! answers `/_dcs/ready` through the Service's cluster-local route
//! `http://<name>.<ns>.svc.<domain>` (Knative makes the route and its DNS name
//! only once the first revision is Ready; DNS failures and the ingress's empty
//! 404/503 meanwhile are retried, never returned). A revision that cannot become
//! ready (image pull error, crash loop, quota, `RevisionFailed`; a pod that
//! cannot be scheduled once that has lasted a grace) ends `ensure` with Knative's
//! reason as soon as Knative reports it ([`ready`]), or its pods show it ([`pods`]: an image that cannot be pulled,
//! which Knative reports only after its progress deadline); the next `ensure`
//! starts a new revision ([`attempt`]: Knative never retries a failed one). The
//! caller bounds the wait (the activator's start timeout); `ensure` runs as long
//! as the start does. A workspace whose revision serves is returned as it is,
//! nothing applied (an open never replaces a running revision: [`start`]); one
//! already Ready and scaled to zero is returned at once too: Knative's activator
//! holds its requests while a pod starts. Until `ensure` resolves, `status`
//! reads `Starting`. The upstream is the cluster-local route, reached by its name
//! or through `--knative-ingress` with its name as `Host` (tests point it at a
//! stand-in with [`KnativeRuntime::with_route_override`]).
//!
//! **One truth across replicas.** Kubernetes objects are the source of truth.
//! Each replica keeps a watch-backed [`cache`] of the workspaces' Services and
//! Revisions and answers `status`, `list` and `find` from it, so the idle
//! reaper's `list` costs nothing and a change made through any replica reaches
//! every other one within the watch's latency. A replica reads its own writes:
//! `register`, `update_spec` and `delete` return once its cache shows them.
//!
//! **Delete is final.** An instance is created only by `register` (the API's
//! create). `ensure` of an instance that does not exist, or whose deletion is
//! under way (`deletionTimestamp`), is `NotFound`; it asks the API server (not
//! the cache) before it writes, and an instance deleted between that look and
//! the write (the apply would make it again, with a new uid) is removed again
//! at once and answered `NotFound`. A repository workspace is made again only by
//! opening it again.
//!
//! **Instances and specs.** The Knative Service records the workspace's spec in
//! its `dcs.dev/spec` annotation. `ensure` and `register` read it first: an
//! existing workspace is (re)applied from its *recorded* spec, so an `ensure`
//! with the operator's defaults never drops an instance's token hash or base
//! image; only a new workspace takes the given spec. `list` and `find` read the
//! spec back (the default, with a warning, when it is absent or unreadable).
//! `volume` reads the user's volume claim: its capacity, never its usage.
//!
//! **Stopping.** Knative scales a workspace to zero by itself once no request has
//! been in flight for its stable window (plus the scale-to-zero grace period), so
//! [`Runtime::stop`] does nothing and reports success; the workspace's status
//! turns `Stopped` when the revision goes inactive. An open WebSocket counts as
//! in flight (knative/serving#10835): the proxy's idle policy must *close* idle
//! WebSockets in Knative mode. Every replica's reaper carries out a stop that is
//! due; one of them counts it ([`stop_count`]). [`Runtime::shutdown`] leaves
//! workspaces running: they do not belong to a replica.
//!
//! # Layout
//! - [`config`]: `--knative-*` flags and their validation.
//! - [`types`]: typed Knative Service / Revision objects.
//! - [`objects`]: pure builders of every object (golden-tested).
//! - [`cache`]: the watch-backed cache every read comes from.
//! - [`ready`]: ready, pending or failed, from a Service and its latest revision.
//! - [`pods`]: what a starting revision's pods show before Knative says it.
//! - [`route`]: whether the workspace answers through its route.
//! - [`status`]: `Status` from the Service, its revisions and the verdict.
//! - [`start`], [`delete`], [`view`]: the runtime's writes and reads.
//! - [`attempt`]: a failed start tried again with a new revision.
//! - [`storage`]: what a user's volume lacks of what an instance asks for.
//! - [`error`]: errors, and what people are told.
//! - [`progress_write`]: launchers' pushed progress, recorded on their Service.
//! - [`stop_count`]: which replica counts a stop they all carry out.
//! - [`api`]: the kube-rs calls, and the API usage the RBAC Role grants.
//! - [`manifests`]: the kustomize tree `dcs-proxy manifests` prints (`knative/`).

pub mod api;
pub mod attempt;
pub mod cache;
pub mod config;
mod delete;
pub mod error;
#[cfg(any(test, feature = "fake-api"))]
pub mod fake;
pub mod manifests;
pub mod objects;
pub mod pods;
pub mod progress_write;
pub mod ready;
pub mod route;
pub mod start;
pub mod status;
pub mod stop_count;
pub mod storage;
#[cfg(test)]
mod tests;
pub mod types;
pub mod view;

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use dcs_model::{InstanceId, InstanceSpec, UserId, WorkspaceKey};
use tracing::{debug, info};

pub use self::api::KnativeApi;
use self::cache::Cache;
pub use self::config::{KnativeArgs, KnativeConfig, LauncherSettings};
pub use self::error::KnativeError;
pub use self::storage::storage_shortfall;
use super::{Runtime, Status, Upstream, VolumeInfo, WorkspaceInfo, WorkspaceSpec};
use crate::error::Result;

/// Installs rustls' ring provider as the process default (the only one compiled
/// in). Idempotent; [`KnativeRuntime::connect`] calls it.
pub fn install_crypto_provider() {
    // Err means a provider is installed already, which is what we want.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Workspaces as Knative Services.
pub struct KnativeRuntime {
    cfg: KnativeConfig,
    api: KnativeApi,
    cache: Cache,
    /// Where the route is reached instead of the cluster-local name (tests).
    route_override: Option<String>,
    /// Workspaces whose `ensure` on this replica waits for the route: `Starting`.
    probing: Mutex<HashMap<String, usize>>,
    /// When each workspace's pushed progress was last written ([`progress_write`]).
    pushes: crate::progress::push::Pacer,
    /// When a failed look at each workspace's pods was last a warning ([`pods`]).
    pod_warnings: crate::log_pace::LogPace,
    /// How long a start waits for what it does not control ([`start::Waits`]).
    waits: start::Waits,
}

impl KnativeRuntime {
    /// A runtime using `client` (tests pass a fake API server's); starts the
    /// workspace cache's watches, so it needs a Tokio runtime.
    pub fn new(cfg: KnativeConfig, client: kube::Client) -> Self {
        let api = KnativeApi::new(client.clone(), &cfg.namespace);
        let cache = Cache::start(client, &cfg.namespace, &objects::workspace_selector(None));
        Self {
            route_override: cfg.ingress.clone(),
            cfg,
            api,
            cache,
            probing: Mutex::default(),
            pushes: Default::default(),
            pod_warnings: Default::default(),
            waits: start::Waits::default(),
        }
    }

    /// A client of the in-cluster service account, else of `KUBECONFIG`; nothing
    /// is asked of the API server yet (the cache's first list says it answers:
    /// [`Runtime::ready`]).
    pub async fn connect(cfg: KnativeConfig) -> Result<Self, KnativeError> {
        install_crypto_provider();
        let client = kube::Client::try_default()
            .await
            .map_err(KnativeError::Connect)?;
        info!(namespace = %cfg.namespace, "Kubernetes client configured; loading the workspaces");
        Ok(Self::new(cfg, client))
    }

    /// The same runtime reaching every workspace's route at `authority`
    /// (`host:port`) instead of its cluster-local name, with the same `Host`
    /// header (`--knative-ingress`; tests point it at a stand-in for Knative's
    /// networking layer).
    pub fn with_route_override(mut self, authority: impl Into<String>) -> Self {
        self.route_override = Some(authority.into());
        self
    }

    /// The configuration.
    pub fn config(&self) -> &KnativeConfig {
        &self.cfg
    }

    /// Where `key`'s requests go: its cluster-local route.
    pub fn upstream(&self, key: &WorkspaceKey) -> Upstream {
        let mut up = objects::upstream(&self.cfg, key);
        if let Some(authority) = &self.route_override {
            up.authority = authority.clone();
        }
        up
    }
}

#[async_trait]
impl Runtime for KnativeRuntime {
    /// Applies the workspace's objects and waits until it answers (see the
    /// module docs). An instance must exist already (made by `register`).
    async fn ensure(&self, spec: &WorkspaceSpec) -> Result<Upstream> {
        self.ensure_of(spec).await
    }

    /// Applies the objects like `ensure` (a new instance included) and returns
    /// without waiting: Knative starts the revision, then scales it to zero.
    async fn register(&self, spec: &WorkspaceSpec) -> Result<()> {
        self.register_of(spec).await
    }

    /// Re-applies the Service with the new spec annotation; the pod template does
    /// not change, so no new revision starts.
    async fn update_spec(&self, key: &WorkspaceKey, spec: &InstanceSpec) -> Result<()> {
        self.update_spec_of(key, spec).await
    }

    async fn find(&self, id: &InstanceId) -> Result<Option<WorkspaceInfo>> {
        self.find_of(id).await
    }

    async fn find_cached(&self, id: &InstanceId) -> Result<Option<WorkspaceInfo>> {
        self.find_cached_of(id).await
    }

    async fn volume(&self, user: &UserId) -> Result<VolumeInfo> {
        Ok(self.volume_of(user).await?)
    }

    async fn status(&self, key: &WorkspaceKey) -> Result<Status> {
        self.status_of(key).await
    }

    /// Expands the volume's claim where its storage class allows it
    /// ([`storage`]).
    async fn grow_volume(
        &self,
        user: &UserId,
        asked: &dcs_model::Quantity,
    ) -> Result<Option<String>> {
        KnativeRuntime::grow_volume(self, user, asked).await
    }

    /// Its cluster-local route while the watch cache says a revision is active
    /// (asking it then wakes nothing).
    async fn running_upstream(&self, key: &WorkspaceKey) -> Option<Upstream> {
        matches!(self.status_of(key).await, Ok(Status::Running)).then(|| self.upstream(key))
    }

    /// The phases of a start from the watch cache (see [`status::progress_of`]).
    async fn progress(&self, key: &WorkspaceKey) -> Result<Option<dcs_model::api::Progress>> {
        self.progress_of(key).await
    }

    async fn list(&self, user: Option<&UserId>) -> Result<Vec<WorkspaceInfo>> {
        self.list_of(user).await
    }

    /// Launchers' pushes become an annotation of their Service ([`progress_write`]).
    fn progress_sink(&self) -> Option<&dyn crate::progress::push::ProgressSink> {
        Some(self)
    }

    /// Ready once the watch cache has loaded (and from then on: see [`cache`]).
    fn ready(&self) -> std::result::Result<(), String> {
        match self.cache.loaded() {
            true => Ok(()),
            false => Err("the workspaces are not loaded from the Kubernetes API yet".into()),
        }
    }

    /// The replica whose note on the Service lands first ([`stop_count`]).
    async fn claim_stop(&self, key: &WorkspaceKey, due: u64) -> bool {
        self.claim_stop_of(key, due).await
    }

    /// Knative scales idle workspaces to zero by itself (see the module docs).
    async fn stop(&self, key: &WorkspaceKey) -> Result<()> {
        debug!(workspace = %key, "stop: Knative scales the workspace to zero once idle");
        Ok(())
    }

    /// Deletes the Knative Service and the home volume; keeps the user's volume
    /// and git token Secret (shared by the user's other workspaces).
    async fn delete(&self, key: &WorkspaceKey) -> Result<()> {
        self.delete_of(key).await
    }
}
