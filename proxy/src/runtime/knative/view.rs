//! The Knative runtime's reads: `status`, `list` and `find` from the workspace
//! cache (no API call; `find` asks the API server only for an id the cache does
//! not know, which another replica may have created a moment ago, and
//! `find_cached`, for requests before sign-in, never does), and `volume` from the
//! user's volume claim.

use std::time::Duration;

use dcs_model::names::user_volume_name;
use dcs_model::{InstanceId, InstanceSpec, UserId, WorkspaceKey};
use tracing::warn;

use super::objects::{self, SpecError};
use super::start::is_deleting;
use super::types::Ksvc;
use super::{status, KnativeError, KnativeRuntime};
use crate::error::Result;
use crate::runtime::{Status, VolumeInfo, WorkspaceInfo};

/// How long a read waits for the cache's first list.
pub(super) const SYNC_LIMIT: Duration = Duration::from_secs(10);

/// How long `find_cached` waits for the watch to bring a Service it has not seen
/// (one created through another replica a moment ago) before it answers `None`.
const UNSEEN_GRACE: Duration = Duration::from_secs(1);

impl KnativeRuntime {
    pub(super) async fn synced(&self) -> Result<(), KnativeError> {
        Ok(self.cache.synced(SYNC_LIMIT).await?)
    }

    /// The status of a cached Service: from its serving and latest revisions,
    /// and `Starting` while this replica's `ensure` waits for its route.
    fn status_from_cache(&self, ksvc: &Ksvc) -> Status {
        if is_deleting(ksvc) {
            return Status::NotFound;
        }
        let serving = status::serving_revision(ksvc).and_then(|n| self.cache.revision(n));
        let latest = self.cache.latest_revision(ksvc);
        let status = status::status_within(
            Some(ksvc),
            serving.as_deref(),
            latest.as_deref(),
            self.waits.scheduling,
        );
        let name = ksvc.metadata.name.as_deref().unwrap_or_default();
        let probing = self
            .probing
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(name);
        match status {
            Status::Running | Status::Stopped if probing => Status::Starting,
            other => other,
        }
    }

    /// A listed workspace from its Service.
    fn info_of(&self, ksvc: &Ksvc) -> Option<WorkspaceInfo> {
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
            status: self.status_from_cache(ksvc),
            key,
            spec,
        })
    }

    pub(super) async fn status_of(&self, key: &WorkspaceKey) -> Result<Status> {
        self.synced().await?;
        Ok(match self.cache.ksvc(key.name().as_str()) {
            Some(ksvc) => self.status_from_cache(&ksvc),
            None => Status::NotFound,
        })
    }

    pub(super) async fn list_of(&self, user: Option<&UserId>) -> Result<Vec<WorkspaceInfo>> {
        self.synced().await?;
        let mut out: Vec<WorkspaceInfo> = self
            .cache
            .ksvcs()
            .iter()
            .filter(|k| !is_deleting(k))
            .filter_map(|k| self.info_of(k))
            .filter(|w| user.is_none_or(|u| u == &w.key.user))
            .collect();
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    pub(super) async fn find_of(&self, id: &InstanceId) -> Result<Option<WorkspaceInfo>> {
        self.synced().await?;
        let ksvc = match self.cache.ksvc(id.as_str()) {
            Some(k) => (*k).clone(),
            // Not seen yet here: perhaps created through another replica a moment ago.
            None => match self
                .api
                .get_ksvc(id.as_str())
                .await
                .map_err(KnativeError::from)?
            {
                Some(k) => k,
                None => return Ok(None),
            },
        };
        Ok(self.instance_of(&ksvc, id))
    }

    /// `find` from the cache alone: an id it has not seen is given a moment for the
    /// watch to bring it, never an API call (anyone may name any id).
    pub(super) async fn find_cached_of(&self, id: &InstanceId) -> Result<Option<WorkspaceInfo>> {
        self.synced().await?;
        let name = id.as_str();
        self.cache
            .until(UNSEEN_GRACE, |c| c.ksvc(name).is_some())
            .await;
        Ok(self
            .cache
            .ksvc(name)
            .and_then(|ksvc| self.instance_of(&ksvc, id)))
    }

    /// The workspace `id` if `ksvc` is ours, not being deleted, and named for it.
    fn instance_of(&self, ksvc: &Ksvc, id: &InstanceId) -> Option<WorkspaceInfo> {
        let ours = ksvc.metadata.labels.as_ref().is_some_and(|l| {
            l.get(objects::LABEL_MANAGED_BY).map(String::as_str) == Some(objects::MANAGED_BY)
                && l.get(objects::LABEL_NAME).map(String::as_str) == Some(objects::APP_WORKSPACE)
        });
        if !ours || is_deleting(ksvc) {
            return None;
        }
        self.info_of(ksvc).filter(|w| &w.key.id() == id)
    }

    pub(super) async fn volume_of(&self, user: &UserId) -> Result<VolumeInfo, KnativeError> {
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
}
