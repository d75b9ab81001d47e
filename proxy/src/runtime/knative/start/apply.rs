//! What a start writes: the Secrets, the volumes and the Service ([`apply`]),
//! with the workspace's own objects (home volume, hop Secret) naming the Service
//! as their owner once it exists, so Kubernetes' garbage collector removes them
//! with it whoever deletes it; the spec to apply and the Service as the API server
//! has it ([`current`]); and `register` and `update_spec`.
//!
//! [`apply`]: KnativeRuntime::apply
//! [`current`]: KnativeRuntime::current

use std::time::Duration;

use dcs_model::{InstanceSpec, WorkspaceKey, WorkspaceKind};
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::ResourceExt;
use tokio::time::Instant;
use tracing::{debug, warn};

use super::{gone, is_deleting, still_releasing, RECHECK};
use crate::error::{Error, Result};
use crate::runtime::knative::objects::{self, GitToken};
use crate::runtime::knative::types::Ksvc;
use crate::runtime::knative::{attempt, KnativeError, KnativeRuntime};
use crate::runtime::WorkspaceSpec;

/// How often a start looks whether a volume being deleted is gone.
const VOLUME_RECHECK: Duration = Duration::from_millis(500);

impl KnativeRuntime {
    /// Applies the Secrets, the volumes and the Service (its template carrying
    /// `attempt`, see [`attempt`]) over `existing` (as read before); returns the
    /// Service as stored. The home volume and hop Secret name the Service as their
    /// owner: the one read before when there was one, else the one just made.
    pub(in crate::runtime::knative) async fn apply(
        &self,
        spec: &WorkspaceSpec,
        existing: Option<&Ksvc>,
        attempt: u64,
    ) -> Result<Ksvc> {
        let key = &spec.key;
        if let Some(path) = &self.cfg.launcher.git_token_file {
            // Read on every start, so a rotated token reaches the next workspace start.
            let token = GitToken::read(path).map_err(|source| KnativeError::Token {
                path: path.clone(),
                source,
            })?;
            let secret = objects::git_token_secret(&self.cfg, &key.user, &token);
            self.api
                .apply_secret(&secret)
                .await
                .map_err(KnativeError::from)?;
        }
        let owner = existing.and_then(objects::owned_by);
        // Before the Service: its pod mounts it and cannot start without it.
        let hop = self.cfg.hop.as_ref().map(|hop| {
            let credential = hop.credential(&key.name());
            objects::hop_secret(&self.cfg, spec, &credential)
        });
        if let Some(secret) = &hop {
            self.apply_owned(secret, owner.as_ref()).await?;
        }
        let storage = spec.instance.resources.storage.as_ref();
        let user_volume = objects::user_volume(&self.cfg, &key.user, storage);
        self.api
            .create_pvc(&user_volume)
            .await
            .map_err(KnativeError::from)?;
        let mut home = objects::home_volume(&self.cfg, spec);
        home.metadata.owner_references = owner.clone().map(|o| vec![o]);
        let home_owners = self.home_volume(key, &home).await?;
        let mut ksvc = objects::ksvc(&self.cfg, spec);
        attempt::stamp(&mut ksvc, attempt);
        let applied = self
            .api
            .apply_ksvc(&ksvc)
            .await
            .map_err(KnativeError::from)?;
        // The Service exists now: its own objects name it (a new one, or one made
        // again under them).
        if let Some(now) = objects::owned_by(&applied) {
            if let Some(secret) = hop.filter(|_| owner.as_ref().map(|o| &o.uid) != Some(&now.uid)) {
                self.apply_owned(&secret, Some(&now)).await?;
            }
            if !objects::is_owned_by(&home_owners, &now) {
                let mut owners = home_owners;
                owners.retain(|o| !(o.kind == now.kind && o.name == now.name));
                owners.push(now);
                let name = key.name();
                self.api
                    .own_pvc(name.as_str(), &owners)
                    .await
                    .map_err(KnativeError::from)?;
            }
        }
        Ok(applied)
    }

    /// Applies a workspace's own Secret, naming `owner` (a later apply that did not
    /// name it would take the reference away).
    async fn apply_owned(&self, secret: &Secret, owner: Option<&OwnerReference>) -> Result<()> {
        let mut secret = secret.clone();
        secret.metadata.owner_references = owner.map(|o| vec![o.clone()]);
        self.api
            .apply_secret(&secret)
            .await
            .map_err(KnativeError::from)?;
        Ok(())
    }

    /// Creates the workspace's home volume unless it exists; returns its owner
    /// references. One being deleted (a workspace opened again right after its
    /// delete: the claim stays while the old pod stops) is waited out first, at
    /// most [`super::Waits::release`]; a new pod bound to it would fail to
    /// schedule once it is gone.
    async fn home_volume(
        &self,
        key: &WorkspaceKey,
        pvc: &PersistentVolumeClaim,
    ) -> Result<Vec<OwnerReference>> {
        let name = pvc.metadata.name.as_deref().unwrap_or_default();
        let started = Instant::now();
        loop {
            match self.api.get_pvc(name).await.map_err(KnativeError::from)? {
                Some(p) if p.metadata.deletion_timestamp.is_some() => {
                    let waited = started.elapsed();
                    if waited >= self.waits.release {
                        return Err(still_releasing(
                            key,
                            "the previous home volume of this workspace",
                            waited,
                        ));
                    }
                    debug!(
                        pvc = name,
                        "waiting for the deleted workspace's volume to go"
                    );
                    tokio::time::sleep(VOLUME_RECHECK.min(self.waits.release - waited)).await;
                }
                Some(p) => return Ok(p.metadata.owner_references.unwrap_or_default()),
                None => {
                    self.api.create_pvc(pvc).await.map_err(KnativeError::from)?;
                    return Ok(pvc.metadata.owner_references.clone().unwrap_or_default());
                }
            }
        }
    }

    /// The spec to apply: the recorded one of an existing workspace, else `spec`'s
    /// (stamped with its creation time, and naming a repository workspace's repo);
    /// and the Service as the API server has it now (never the cache: the caller
    /// is about to write). A repository workspace keeps the key its Service
    /// records: another spelling of the repository (`Acme/Hello` after
    /// `acme/hello`, one name) changes nothing it runs.
    async fn recorded(
        &self,
        spec: &WorkspaceSpec,
    ) -> Result<(WorkspaceSpec, Option<Ksvc>), KnativeError> {
        let existing = self.api.get_ksvc(spec.key.name().as_str()).await?;
        let recorded = existing.as_ref().and_then(|ksvc| match objects::spec_of(&ksvc.metadata) {
            Ok(recorded) => Some(recorded),
            Err(err) => {
                warn!(workspace = %spec.key, ?err, "the workspace's recorded spec cannot be read; applying the given one");
                None
            }
        });
        let instance = recorded.unwrap_or_else(|| {
            let mut fresh = spec.instance.clone();
            if fresh.created_unix == 0 {
                fresh.created_unix = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or_default();
            }
            fresh
        });
        let key = existing
            .as_ref()
            .and_then(|k| objects::key_of(&k.metadata))
            .filter(|k| matches!(k.kind, WorkspaceKind::Repo(_)) && k.name() == spec.key.name())
            .unwrap_or_else(|| spec.key.clone());
        let mut out = WorkspaceSpec::new(key, instance);
        if let Some(repo) = out.key.repo() {
            out.instance.repo = Some(repo.clone());
        }
        Ok((out, existing))
    }

    /// The Service as the API server has it, after any deletion under way has
    /// finished (a repository workspace being deleted is started afresh), waited
    /// for at most [`super::Waits::release`].
    pub(in crate::runtime::knative) async fn current(
        &self,
        given: &WorkspaceSpec,
    ) -> Result<(WorkspaceSpec, Option<Ksvc>)> {
        let (spec, existing) = self.recorded(given).await?;
        let Some(deleting) = existing.as_ref().filter(|k| is_deleting(k)) else {
            return Ok((spec, existing));
        };
        if let WorkspaceKind::Instance(_) = &given.key.kind {
            return Err(gone(&given.key));
        }
        let (name, uid) = (given.key.name().to_string(), deleting.uid());
        debug!(workspace = %given.key, "waiting for the workspace's deletion to finish");
        let mut rx = self.cache.subscribe();
        let started = Instant::now();
        loop {
            // Gone from the cache: make sure with the API server.
            let cached_gone = self.cache.ksvc(&name).is_none_or(|k| k.uid() != uid);
            if cached_gone
                && self
                    .api
                    .get_ksvc(&name)
                    .await
                    .map_err(KnativeError::from)?
                    .is_none()
            {
                break;
            }
            let waited = started.elapsed();
            if waited >= self.waits.release {
                return Err(still_releasing(
                    &given.key,
                    "the previous Knative Service of this workspace",
                    waited,
                ));
            }
            let _ =
                tokio::time::timeout(RECHECK.min(self.waits.release - waited), rx.changed()).await;
        }
        Ok(self.recorded(given).await?)
    }

    /// `register`: the API's create.
    pub(in crate::runtime::knative) async fn register_of(
        &self,
        given: &WorkspaceSpec,
    ) -> Result<()> {
        let (spec, existing) = self.current(given).await?;
        let attempt = existing.as_ref().map_or(0, attempt::of);
        let applied = self.apply(&spec, existing.as_ref(), attempt).await?;
        self.settle(&applied).await;
        debug!(workspace = %spec.key, "workspace objects applied");
        Ok(())
    }

    /// Records `spec` on `existing` if it has no readable one (made by an older
    /// version), by the annotation alone: its template stays as it runs.
    pub(in crate::runtime::knative) async fn record_spec(
        &self,
        spec: &WorkspaceSpec,
        existing: &Ksvc,
    ) -> Result<()> {
        if objects::spec_of(&existing.metadata).is_ok() {
            return Ok(());
        }
        let (Some(name), Ok(json)) = (
            existing.metadata.name.as_deref(),
            serde_json::to_string(&spec.instance),
        ) else {
            return Ok(());
        };
        let annotated = self
            .api
            .annotate_ksvc(name, objects::SPEC_KEY, Some(&json))
            .await
            .map_err(KnativeError::from)?;
        if let Some(annotated) = annotated {
            self.settle(&annotated).await;
        }
        Ok(())
    }

    /// `update_spec`: an existing workspace's recorded spec is replaced. Only the
    /// annotation changes (a JSON merge patch, which never creates): the pod
    /// template stays as it runs, so no new revision starts.
    pub(in crate::runtime::knative) async fn update_spec_of(
        &self,
        key: &WorkspaceKey,
        spec: &InstanceSpec,
    ) -> Result<()> {
        let name = key.name();
        let missing = || Error::NotFound(format!("no workspace {key}"));
        self.api
            .get_ksvc(name.as_str())
            .await
            .map_err(KnativeError::from)?
            .filter(|k| !is_deleting(k))
            .ok_or_else(missing)?;
        let json = serde_json::to_string(spec)
            .map_err(|e| Error::Runtime(format!("the spec cannot be recorded: {e}")))?;
        let applied = self
            .api
            .annotate_ksvc(name.as_str(), objects::SPEC_KEY, Some(&json))
            .await
            .map_err(KnativeError::from)?
            .ok_or_else(missing)?;
        self.settle(&applied).await;
        Ok(())
    }
}
