//! `KnativeRuntime`: each workspace is a Knative Service that scales to zero.
//!
//! `ensure` applies the workspace's objects (git token Secret, user volume, home
//! volume, Knative Service) and returns at once: the upstream is the Service's
//! cluster-local route `http://<name>.<ns>.svc.cluster.local`, reached through the
//! Knative data plane, whose activator holds requests while a pod starts. Kubernetes
//! objects are the source of truth: nothing is cached, so any number of proxy
//! replicas can share the namespace, and racing `ensure`s of one workspace apply
//! the same objects (server-side apply is idempotent).
//!
//! **Instances and specs.** The Knative Service records the workspace's spec in
//! its `dcs.dev/spec` annotation. `ensure` and `register` read it first: an
//! existing workspace is (re)applied from its *recorded* spec, so an `ensure` with
//! the operator's defaults never drops an instance's token hash or base image; only
//! a new workspace takes the given spec. `register` applies the objects like
//! `ensure` (Knative starts the revision and later scales it to zero; requests are
//! buffered meanwhile). `list` and `find` read the spec back (the default, with a
//! warning, when it is absent or unreadable); `find` GETs the Service named by the
//! id (an instance's name is its id, a repository workspace's id is its name).
//! `volume` reads the user's volume claim: its capacity, never its usage.
//!
//! **Stopping.** Knative scales a workspace to zero by itself once no request has
//! been in flight for its stable window (plus the scale-to-zero grace period), so
//! [`Runtime::stop`] does nothing and reports success; the workspace's status turns
//! `Stopped` when the revision goes inactive. An open WebSocket counts as in flight
//! (knative/serving#10835): the proxy's idle policy must *close* idle WebSockets in
//! Knative mode, or an abandoned tab keeps its pod up until `timeoutSeconds`.
//! [`Runtime::shutdown`] leaves workspaces running: they do not belong to a replica.
//!
//! # Layout
//! - [`config`]: `--knative-*` flags and their validation.
//! - [`types`]: typed Knative Service / Revision objects.
//! - [`objects`]: pure builders of every object (golden-tested).
//! - [`status`]: `Status` from the Service's `Ready` and the revision's `Active`.
//! - [`api`]: the kube-rs calls, and the API usage the RBAC Role grants.
//! - [`manifests`]: the kustomize tree `dcs-proxy manifests` prints (`knative/`).

pub mod api;
pub mod config;
#[cfg(test)]
pub mod fake;
pub mod manifests;
pub mod objects;
pub mod status;
#[cfg(test)]
mod tests;
pub mod types;

use std::collections::HashMap;
use std::path::PathBuf;

use async_trait::async_trait;
use dcs_model::names::user_volume_name;
use dcs_model::{InstanceId, InstanceSpec, UserId, WorkspaceKey, WorkspaceKind};
use tracing::{debug, info, warn};

pub use self::api::KnativeApi;
pub use self::config::{KnativeArgs, KnativeConfig, LauncherSettings};
use self::objects::{GitToken, SpecError};
use self::types::Ksvc;
use super::{Runtime, Status, Upstream, VolumeInfo, WorkspaceInfo, WorkspaceSpec};
use crate::error::{Error, Result};

/// What can go wrong in the Knative runtime.
#[derive(Debug, thiserror::Error)]
pub enum KnativeError {
    /// No Kubernetes client could be configured (in-cluster or `KUBECONFIG`).
    #[error("cannot connect to Kubernetes (in-cluster config or KUBECONFIG): {0}")]
    Connect(#[source] kube::Error),
    /// An API call failed.
    #[error(transparent)]
    Api(#[from] api::ApiError),
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

impl From<KnativeError> for Error {
    fn from(e: KnativeError) -> Self {
        Error::Runtime(e.to_string())
    }
}

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
}

impl KnativeRuntime {
    /// A runtime using `client` (tests pass a scripted or fake API server).
    pub fn new(cfg: KnativeConfig, client: kube::Client) -> Self {
        let api = KnativeApi::new(client, &cfg.namespace);
        Self { cfg, api }
    }

    /// Connects with the in-cluster service account, else `KUBECONFIG`.
    pub async fn connect(cfg: KnativeConfig) -> Result<Self, KnativeError> {
        install_crypto_provider();
        let client = kube::Client::try_default()
            .await
            .map_err(KnativeError::Connect)?;
        info!(namespace = %cfg.namespace, "connected to Kubernetes");
        Ok(Self::new(cfg, client))
    }

    /// The configuration.
    pub fn config(&self) -> &KnativeConfig {
        &self.cfg
    }

    async fn apply(&self, spec: &WorkspaceSpec) -> Result<(), KnativeError> {
        let key = &spec.key;
        if let Some(path) = &self.cfg.launcher.git_token_file {
            // Read on every start, so a rotated token reaches the next workspace start.
            let token = GitToken::read(path).map_err(|source| KnativeError::Token {
                path: path.clone(),
                source,
            })?;
            let secret = objects::git_token_secret(&self.cfg, &key.user, &token);
            self.api.apply_secret(&secret).await?;
        }
        let storage = spec.instance.resources.storage.as_ref();
        let user_volume = objects::user_volume(&self.cfg, &key.user, storage);
        self.api.create_pvc(&user_volume).await?;
        self.api
            .create_pvc(&objects::home_volume(&self.cfg, spec))
            .await?;
        self.api.apply_ksvc(&objects::ksvc(&self.cfg, spec)).await?;
        Ok(())
    }

    /// The spec to apply: the recorded one of an existing workspace, else `spec`'s
    /// (stamped with its creation time, and naming a repository workspace's repo);
    /// and whether the workspace existed.
    async fn recorded(&self, spec: &WorkspaceSpec) -> Result<(WorkspaceSpec, bool), KnativeError> {
        let existing = self.api.get_ksvc(spec.key.name().as_str()).await?;
        let existed = existing.is_some();
        let recorded = existing.and_then(|ksvc| match objects::spec_of(&ksvc.metadata) {
            Ok(recorded) => Some(recorded),
            Err(err) => {
                warn!(workspace = %spec.key, ?err, "the workspace's recorded spec cannot be read; applying the given one");
                None
            }
        });
        let instance = match recorded {
            Some(recorded) => recorded,
            None => {
                let mut fresh = spec.instance.clone();
                if fresh.created_unix == 0 {
                    fresh.created_unix = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map(|d| d.as_secs())
                        .unwrap_or_default();
                }
                fresh
            }
        };
        let mut out = WorkspaceSpec::new(spec.key.clone(), instance);
        if let Some(repo) = spec.key.repo() {
            out.instance.repo = Some(repo.clone());
        }
        Ok((out, existed))
    }

    /// A listed workspace from its Service (and the Service's serving revision).
    fn info_of(&self, ksvc: &Ksvc, revision: Option<&types::Revision>) -> Option<WorkspaceInfo> {
        let Some(key) = objects::key_of(&ksvc.metadata) else {
            warn!(name = ?ksvc.metadata.name, "a workspace Knative Service without a readable user/repo annotation; ignored");
            return None;
        };
        if ksvc.metadata.name.as_deref() != Some(key.name().as_str()) {
            warn!(name = ?ksvc.metadata.name, workspace = %key, "a Knative Service whose name does not match its annotations; ignored");
            return None;
        }
        let spec = match objects::spec_of(&ksvc.metadata) {
            Ok(spec) => spec,
            Err(err) => {
                if err != SpecError::Absent {
                    warn!(workspace = %key, ?err, "unreadable recorded spec; listed with the defaults");
                } else {
                    warn!(workspace = %key, "no recorded spec (made by an older version); listed with the defaults");
                }
                InstanceSpec {
                    repo: key.repo().cloned(),
                    ..InstanceSpec::default()
                }
            }
        };
        Some(WorkspaceInfo {
            name: key.name(),
            status: status::status_of(Some(ksvc), revision),
            key,
            spec,
        })
    }

    async fn find_of(&self, id: &InstanceId) -> Result<Option<WorkspaceInfo>, KnativeError> {
        let Some(ksvc) = self.api.get_ksvc(id.as_str()).await? else {
            return Ok(None);
        };
        let ours = ksvc.metadata.labels.as_ref().is_some_and(|l| {
            l.get(objects::LABEL_MANAGED_BY).map(String::as_str) == Some(objects::MANAGED_BY)
                && l.get(objects::LABEL_NAME).map(String::as_str) == Some(objects::APP_WORKSPACE)
        });
        if !ours {
            return Ok(None);
        }
        let revision = match status::serving_revision(&ksvc) {
            Some(rev) => self.api.get_revision(rev).await?,
            None => None,
        };
        Ok(self
            .info_of(&ksvc, revision.as_ref())
            .filter(|w| &w.key.id() == id))
    }

    async fn volume_of(&self, user: &UserId) -> Result<VolumeInfo, KnativeError> {
        let name = user_volume_name(user).to_string();
        let pvc = self.api.get_pvc(&name).await?;
        let capacity = pvc.as_ref().and_then(|pvc| {
            let from_status = pvc
                .status
                .as_ref()
                .and_then(|s| s.capacity.as_ref())
                .and_then(|c| c.get("storage"));
            let requested = pvc
                .spec
                .as_ref()
                .and_then(|s| s.resources.as_ref())
                .and_then(|r| r.requests.as_ref())
                .and_then(|r| r.get("storage"));
            from_status.or(requested).map(|q| q.0.clone())
        });
        Ok(VolumeInfo {
            name,
            exists: pvc.is_some(),
            used_bytes: None,
            capacity,
        })
    }

    async fn status_of(&self, key: &WorkspaceKey) -> Result<Status, KnativeError> {
        let name = key.name();
        let Some(ksvc) = self.api.get_ksvc(name.as_str()).await? else {
            return Ok(Status::NotFound);
        };
        let revision = match status::serving_revision(&ksvc) {
            Some(rev) => self.api.get_revision(rev).await?,
            None => None,
        };
        Ok(status::status_of(Some(&ksvc), revision.as_ref()))
    }

    async fn list_of(&self, user: Option<&UserId>) -> Result<Vec<WorkspaceInfo>, KnativeError> {
        let selector = objects::workspace_selector(user);
        let ksvcs = self.api.list_ksvcs(&selector).await?;
        let revisions: HashMap<String, _> = self
            .api
            .list_revisions(&selector)
            .await?
            .into_iter()
            .filter_map(|r| Some((r.metadata.name.clone()?, r)))
            .collect();
        let mut out = Vec::with_capacity(ksvcs.len());
        for ksvc in &ksvcs {
            let revision = status::serving_revision(ksvc).and_then(|r| revisions.get(r));
            let Some(info) = self.info_of(ksvc, revision) else {
                continue;
            };
            if user.is_some_and(|u| u != &info.key.user) {
                continue;
            }
            out.push(info);
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }
}

#[async_trait]
impl Runtime for KnativeRuntime {
    /// Applies the workspace's objects. An instance must exist already (made by
    /// `register`): a deleted one is never recreated by a late request.
    async fn ensure(&self, spec: &WorkspaceSpec) -> Result<Upstream> {
        let (spec, existed) = self.recorded(spec).await?;
        if let (WorkspaceKind::Instance(id), false) = (&spec.key.kind, existed) {
            return Err(Error::NotFound(format!(
                "instance {id} does not exist (it may have been deleted); create one with POST /api/instances"
            )));
        }
        self.apply(&spec).await?;
        debug!(workspace = %spec.key, "workspace objects applied");
        Ok(objects::upstream(&self.cfg, &spec.key))
    }

    /// Applies the objects like `ensure` (a new instance included); Knative buffers
    /// requests until the revision is up, so there is nothing to wait for.
    async fn register(&self, spec: &WorkspaceSpec) -> Result<()> {
        let (spec, _) = self.recorded(spec).await?;
        self.apply(&spec).await?;
        debug!(workspace = %spec.key, "workspace objects applied");
        Ok(())
    }

    async fn find(&self, id: &InstanceId) -> Result<Option<WorkspaceInfo>> {
        Ok(self.find_of(id).await?)
    }

    async fn volume(&self, user: &UserId) -> Result<VolumeInfo> {
        Ok(self.volume_of(user).await?)
    }

    async fn status(&self, key: &WorkspaceKey) -> Result<Status> {
        Ok(self.status_of(key).await?)
    }

    async fn list(&self, user: Option<&UserId>) -> Result<Vec<WorkspaceInfo>> {
        Ok(self.list_of(user).await?)
    }

    /// Knative scales idle workspaces to zero by itself (see the module docs).
    async fn stop(&self, key: &WorkspaceKey) -> Result<()> {
        debug!(workspace = %key, "stop: Knative scales the workspace to zero once idle");
        Ok(())
    }

    /// Deletes the Knative Service and the home volume; keeps the user's volume
    /// and git token Secret (shared by the user's other workspaces).
    async fn delete(&self, key: &WorkspaceKey) -> Result<()> {
        let name = key.name();
        self.api
            .delete_ksvc(name.as_str())
            .await
            .map_err(KnativeError::from)?;
        self.api
            .delete_pvc(name.as_str())
            .await
            .map_err(KnativeError::from)?;
        info!(workspace = %key, "workspace deleted");
        Ok(())
    }
}
