//! The Knative runtime's writes: `ensure` (apply, then wait until the workspace
//! answers), `register` and `update_spec` (`delete` is in [`super::delete`]); and
//! how a start that is waiting learns from the cache that it is ready, failed or
//! deleted.

use std::time::Duration;

use dcs_model::{InstanceSpec, WorkspaceKey, WorkspaceKind};
use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use kube::ResourceExt;
use tracing::{debug, info, warn};

use super::objects::{self, GitToken};
use super::ready::{self, Failure, Verdict};
use super::types::Ksvc;
use super::{attempt, route, KnativeError, KnativeRuntime};
use crate::error::{Error, Result, StartFailure};
use crate::runtime::{Upstream, WorkspaceSpec};

/// How long a write waits for this replica's cache to show it.
pub(super) const SETTLE: Duration = Duration::from_secs(5);
/// How long a start waits for the cache to show its Service before it asks the
/// API server whether the Service still exists.
const RECHECK: Duration = Duration::from_secs(5);

/// How often a start looks whether a volume being deleted is gone.
const VOLUME_RECHECK: Duration = Duration::from_millis(500);

/// What the cache says of a start.
enum Seen {
    Ready,
    Pending,
    /// It cannot succeed (failed, or deleted): the start's error.
    Broken(Error),
}

/// Whether the object is being deleted.
pub fn is_deleting(ksvc: &Ksvc) -> bool {
    ksvc.metadata.deletion_timestamp.is_some()
}

fn version_of(ksvc: &Ksvc) -> Option<u64> {
    ksvc.metadata.resource_version.as_deref()?.parse().ok()
}

/// The error of a start whose Service was deleted under it.
pub(super) fn gone(key: &WorkspaceKey) -> Error {
    match &key.kind {
        WorkspaceKind::Instance(id) => Error::NotFound(format!(
            "instance {id} does not exist (it was deleted); create one with POST /api/instances"
        )),
        WorkspaceKind::Repo(_) => Error::Cancelled,
    }
}

pub(super) fn failed(key: &WorkspaceKey, f: &Failure) -> Error {
    warn!(workspace = %key, reason = %f.reason, message = %f.message, "the workspace cannot start");
    Error::StartFailed {
        kind: StartFailure::Other,
        message: f.explain(),
    }
}

/// Marks a workspace's route as being probed on this replica while it lives.
struct Probing<'a> {
    rt: &'a KnativeRuntime,
    name: String,
}

impl Drop for Probing<'_> {
    fn drop(&mut self) {
        let mut probing = self.rt.probing.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = probing.get_mut(&self.name) {
            *n -= 1;
            if *n == 0 {
                probing.remove(&self.name);
            }
        }
    }
}

impl KnativeRuntime {
    fn probing(&self, name: &str) -> Probing<'_> {
        let mut probing = self.probing.lock().unwrap_or_else(|p| p.into_inner());
        *probing.entry(name.to_owned()).or_default() += 1;
        Probing {
            rt: self,
            name: name.to_owned(),
        }
    }

    /// Applies the Secrets, the volumes and the Service (its template carrying
    /// `attempt`, see [`attempt`]); returns the Service as stored.
    async fn apply(&self, spec: &WorkspaceSpec, attempt: u64) -> Result<Ksvc, KnativeError> {
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
        // Before the Service: its pod mounts it and cannot start without it.
        if let Some(hop) = &self.cfg.hop {
            let credential = hop.credential(&key.name());
            let secret = objects::hop_secret(&self.cfg, spec, &credential);
            self.api.apply_secret(&secret).await?;
        }
        let storage = spec.instance.resources.storage.as_ref();
        let user_volume = objects::user_volume(&self.cfg, &key.user, storage);
        self.api.create_pvc(&user_volume).await?;
        self.home_volume(&objects::home_volume(&self.cfg, spec))
            .await?;
        let mut ksvc = objects::ksvc(&self.cfg, spec);
        attempt::stamp(&mut ksvc, attempt);
        Ok(self.api.apply_ksvc(&ksvc).await?)
    }

    /// Creates the workspace's home volume unless it exists. One being deleted
    /// (a workspace opened again right after its delete: the claim stays while
    /// the old pod stops) is waited out first; a new pod bound to it would fail
    /// to schedule once it is gone.
    async fn home_volume(&self, pvc: &PersistentVolumeClaim) -> Result<(), KnativeError> {
        let name = pvc.metadata.name.as_deref().unwrap_or_default();
        loop {
            match self.api.get_pvc(name).await? {
                Some(p) if p.metadata.deletion_timestamp.is_some() => {
                    debug!(
                        pvc = name,
                        "waiting for the deleted workspace's volume to go"
                    );
                    tokio::time::sleep(VOLUME_RECHECK).await;
                }
                Some(_) => return Ok(()),
                None => return Ok(self.api.create_pvc(pvc).await?),
            }
        }
    }

    /// The spec to apply: the recorded one of an existing workspace, else `spec`'s
    /// (stamped with its creation time, and naming a repository workspace's repo);
    /// and the Service as the API server has it now (never the cache: the caller
    /// is about to write).
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
        let mut out = WorkspaceSpec::new(spec.key.clone(), instance);
        if let Some(repo) = spec.key.repo() {
            out.instance.repo = Some(repo.clone());
        }
        Ok((out, existing))
    }

    /// The Service as the API server has it, after any deletion under way has
    /// finished (a repository workspace being deleted is started afresh).
    async fn current(&self, given: &WorkspaceSpec) -> Result<(WorkspaceSpec, Option<Ksvc>)> {
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
            let _ = tokio::time::timeout(RECHECK, rx.changed()).await;
        }
        Ok(self.recorded(given).await?)
    }

    /// `ensure`: see the module docs.
    pub(super) async fn ensure_of(&self, given: &WorkspaceSpec) -> Result<Upstream> {
        let (spec, existing) = self.current(given).await?;
        let key = &spec.key;
        if let (WorkspaceKind::Instance(_), None) = (&key.kind, &existing) {
            return Err(gone(key));
        }
        if let Some(existing) = &existing {
            self.clear_stale_progress(existing).await;
        }
        let latest = existing
            .as_ref()
            .and_then(|k| self.cache.latest_revision(k));
        let attempt = attempt::next(existing.as_ref(), latest.as_deref());
        if attempt > existing.as_ref().map_or(0, attempt::of) {
            info!(workspace = %key, attempt, "its last start failed; starting a new revision");
        }
        let applied = self.apply(&spec, attempt).await?;
        self.undo_resurrection(key, existing.as_ref(), &applied)
            .await?;
        let up = self.upstream(key);
        let generation = applied.metadata.generation.unwrap_or(1);
        // An already-ready revision of this generation: the activator holds the
        // requests while a pod starts, nothing to wait for.
        if existing
            .as_ref()
            .is_some_and(|k| ready::verdict(k, None, generation) == Verdict::Ready)
        {
            self.settle(&applied).await;
            debug!(workspace = %key, "workspace objects applied; its revision is ready");
            return Ok(up);
        }
        let name = key.name().to_string();
        let uid = applied.uid().unwrap_or_default();
        let _probing = self.probing(&name);
        self.until_ready(key, &uid, generation).await?;
        tokio::select! {
            // The launcher answers through the route (or says why it cannot).
            answered = route::until_answered(&up) => answered?,
            // The revision failed or the Service was deleted meanwhile.
            err = self.until_broken(key, &uid, generation) => return Err(err),
        }
        info!(workspace = %key, "workspace ready: its route answers");
        Ok(up)
    }

    /// What the cache says of the start of Service `uid`'s `generation`.
    fn seen(&self, key: &WorkspaceKey, uid: &str, generation: i64, sighted: &mut bool) -> Seen {
        match self.cache.ksvc(key.name().as_str()) {
            Some(k) if k.uid().as_deref() == Some(uid) => {
                *sighted = true;
                if is_deleting(&k) {
                    return Seen::Broken(gone(key));
                }
                // The launcher's own word (over the hop) is the more precise.
                if let Some(pushed) = super::status::pushed(&k) {
                    if let (Some(kind), Some(message)) = (pushed.failure, pushed.progress.reason) {
                        return Seen::Broken(Error::StartFailed { kind, message });
                    }
                }
                let latest = self.cache.latest_revision(&k);
                match ready::verdict(&k, latest.as_deref(), generation) {
                    Verdict::Ready => Seen::Ready,
                    Verdict::Pending => Seen::Pending,
                    Verdict::Failed(f) => Seen::Broken(failed(key, &f)),
                }
            }
            _ if *sighted || self.cache.was_deleted(uid) => Seen::Broken(gone(key)),
            _ => Seen::Pending,
        }
    }

    /// Waits until the cache shows the Service Ready for `generation`, or failed,
    /// or deleted. Asks the API server now and then while the cache has not
    /// shown the Service yet (it may have come and gone between two looks).
    async fn until_ready(&self, key: &WorkspaceKey, uid: &str, generation: i64) -> Result<()> {
        let name = key.name().to_string();
        let mut rx = self.cache.subscribe();
        let mut sighted = false;
        loop {
            match self.seen(key, uid, generation, &mut sighted) {
                Seen::Ready => return Ok(()),
                Seen::Broken(err) => return Err(err),
                Seen::Pending => {}
            }
            match tokio::time::timeout(RECHECK, rx.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return Err(Error::Runtime("the workspace cache stopped".into())),
                Err(_) if !sighted => {
                    let now = self.api.get_ksvc(&name).await.map_err(KnativeError::from)?;
                    if now.is_none_or(|k| k.uid().as_deref() != Some(uid) || is_deleting(&k)) {
                        return Err(gone(key));
                    }
                }
                // Quiet for a while: what Knative does not say yet, its pods may.
                Err(_) => {
                    if let Some(err) = self.pod_failure(key).await {
                        return Err(err);
                    }
                }
            }
        }
    }

    /// Resolves (with the error) once the start cannot succeed any more.
    async fn until_broken(&self, key: &WorkspaceKey, uid: &str, generation: i64) -> Error {
        let mut rx = self.cache.subscribe();
        let mut sighted = true;
        loop {
            match self.seen(key, uid, generation, &mut sighted) {
                Seen::Broken(err) => return err,
                Seen::Ready | Seen::Pending => {}
            }
            if rx.changed().await.is_err() {
                return Error::Runtime("the workspace cache stopped".into());
            }
        }
    }

    /// Waits (a little) until this replica's cache shows `applied` or newer.
    async fn settle(&self, applied: &Ksvc) {
        let (Some(name), Some(version)) = (applied.metadata.name.clone(), version_of(applied))
        else {
            return;
        };
        let shown = self
            .cache
            .until(SETTLE, |c| {
                c.ksvc(&name)
                    .is_some_and(|k| version_of(&k).is_some_and(|v| v >= version))
            })
            .await;
        if !shown {
            warn!(name, "the workspace cache did not show a write in time");
        }
    }

    /// `register`: the API's create.
    pub(super) async fn register_of(&self, given: &WorkspaceSpec) -> Result<()> {
        let (spec, existing) = self.current(given).await?;
        let applied = self
            .apply(&spec, existing.as_ref().map_or(0, attempt::of))
            .await?;
        self.settle(&applied).await;
        debug!(workspace = %spec.key, "workspace objects applied");
        Ok(())
    }

    /// `update_spec`: an existing workspace's recorded spec is replaced.
    pub(super) async fn update_spec_of(
        &self,
        key: &WorkspaceKey,
        spec: &InstanceSpec,
    ) -> Result<()> {
        let name = key.name();
        let before = self
            .api
            .get_ksvc(name.as_str())
            .await
            .map_err(KnativeError::from)?
            .filter(|k| !is_deleting(k))
            .ok_or_else(|| Error::NotFound(format!("no workspace {key}")))?;
        let spec = WorkspaceSpec::new(key.clone(), spec.clone());
        let mut ksvc = objects::ksvc(&self.cfg, &spec);
        attempt::stamp(&mut ksvc, attempt::of(&before));
        let applied = self
            .api
            .apply_ksvc(&ksvc)
            .await
            .map_err(KnativeError::from)?;
        if before.uid() != applied.uid() {
            warn!(workspace = %key, "the workspace was deleted while its spec was updated; removing it again");
            self.api
                .delete_ksvc(name.as_str())
                .await
                .map_err(KnativeError::from)?;
            return Err(Error::NotFound(format!("no workspace {key}")));
        }
        self.settle(&applied).await;
        Ok(())
    }
}
