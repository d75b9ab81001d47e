//! The Knative runtime's writes: `ensure` (apply, then wait until the workspace
//! answers), `register` and `update_spec` ([`apply`]; `delete` is in
//! [`super::delete`]); and how a start that is waiting learns from the cache that
//! it is ready, failed or deleted.
//!
//! **A serving workspace is left alone.** A replica remembers the workspaces it
//! routed to in memory only, so after a proxy restart or upgrade its first
//! request to each running workspace comes through `ensure`. Re-applying the
//! Service from this replica's settings then would start a new revision (a new
//! launcher image, any changed pod setting, another spelling of the repository)
//! and scale the user's pod, terminals and builds away. So a Service Ready for
//! its generation whose revision is not scaled to zero is returned as it is,
//! nothing applied; new settings reach it at its next start from zero.
//!
//! **Waits are bounded** ([`Waits`]): a pod that cannot be scheduled is a start
//! still going for a grace (a node being added, a volume being provisioned), and
//! a start waits for the previous Service or home volume of its name to finish
//! being deleted only so long, then says why it cannot start.

mod apply;

use std::time::Duration;

use dcs_model::{WorkspaceKey, WorkspaceKind};
use kube::ResourceExt;
use tracing::{debug, info, warn};

use super::ready::{self, Failure, Verdict};
use super::types::Ksvc;
use super::{attempt, route, status, KnativeRuntime};
use crate::error::{Error, Result, StartFailure};
use crate::runtime::{Upstream, WorkspaceSpec};

/// How long a write waits for this replica's cache to show it.
pub(super) const SETTLE: Duration = Duration::from_secs(5);
/// How long a start waits for the cache to show its Service before it asks the
/// API server whether the Service still exists.
const RECHECK: Duration = Duration::from_secs(5);

/// How long a start waits, by default, for the previous Service or home volume
/// of its name to be gone.
pub const RELEASE_LIMIT: Duration = Duration::from_secs(120);

/// How long a start waits for what it does not control.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Waits {
    /// How long a pod that cannot be scheduled counts as still starting, from
    /// when Knative first said so ([`ready::SCHEDULING_GRACE`]).
    pub scheduling: Duration,
    /// How long a start waits for the previous Service or home volume of its
    /// name to finish being deleted ([`RELEASE_LIMIT`]).
    pub release: Duration,
}

impl Default for Waits {
    fn default() -> Self {
        Self {
            scheduling: ready::SCHEDULING_GRACE,
            release: RELEASE_LIMIT,
        }
    }
}

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

/// The error of a start whose previous `what` (of the same name) is still being
/// deleted after `waited`.
fn still_releasing(key: &WorkspaceKey, what: &str, waited: Duration) -> Error {
    warn!(workspace = %key, what, waited_secs = waited.as_secs(), "the previous objects of the workspace are not gone; the start gives up");
    Error::StartFailed {
        kind: StartFailure::Other,
        message: format!(
            "The workspace cannot start yet: {what} is still being released after its \
             delete ({} s so far). An operator should check the old pod or its node \
             (kubectl describe pvc, kubectl get pods); then open the workspace again.",
            waited.as_secs()
        ),
    }
}

impl KnativeRuntime {
    /// The same runtime waiting `waits` instead of the defaults (tests: moments
    /// instead of minutes).
    pub fn with_waits(mut self, waits: Waits) -> Self {
        self.waits = waits;
        self
    }

    fn probing(&self, name: &str) -> Probing<'_> {
        let mut probing = self.probing.lock().unwrap_or_else(|p| p.into_inner());
        *probing.entry(name.to_owned()).or_default() += 1;
        Probing {
            rt: self,
            name: name.to_owned(),
        }
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
            if self.serves(existing).await {
                debug!(workspace = %key, "its revision serves: its template is kept (new settings reach it at its next start)");
                self.record_spec(&spec, existing).await?;
                return Ok(self.upstream(key));
            }
        }
        let latest = existing
            .as_ref()
            .and_then(|k| self.cache.latest_revision(k));
        let attempt = attempt::next(existing.as_ref(), latest.as_deref(), self.waits.scheduling);
        if attempt > existing.as_ref().map_or(0, attempt::of) {
            info!(workspace = %key, attempt, "its last start failed; starting a new revision");
        }
        let applied = self.apply(&spec, existing.as_ref(), attempt).await?;
        self.undo_resurrection(key, existing.as_ref(), &applied)
            .await?;
        let up = self.upstream(key);
        let generation = applied.metadata.generation.unwrap_or(1);
        // An already-ready revision of this generation (scaled to zero: the
        // template applied was its own): the activator holds the requests while a
        // pod starts, nothing to wait for.
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

    /// Whether `existing` serves now (see the module docs): Ready for its
    /// generation, and its serving revision not scaled to zero. A revision this
    /// replica's cache does not know counts as serving: an open never replaces
    /// what may be running.
    async fn serves(&self, existing: &Ksvc) -> bool {
        let generation = existing.metadata.generation.unwrap_or(1);
        if ready::verdict_within(existing, None, generation, self.waits.scheduling)
            != Verdict::Ready
        {
            return false;
        }
        if let Err(error) = self.synced().await {
            debug!(%error, "the workspace cache is not loaded; a Ready workspace counts as serving");
        }
        let serving = status::serving_revision(existing).and_then(|n| self.cache.revision(n));
        !serving.is_some_and(|r| status::is_scaled_to_zero(&r))
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
                match ready::verdict_within(
                    &k,
                    latest.as_deref(),
                    generation,
                    self.waits.scheduling,
                ) {
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
    /// shown the Service yet (it may have come and gone between two looks); an
    /// API server that does not answer then is no reason to end the start.
    /// Looks again at least as often as the scheduling grace, which may run out
    /// without a change.
    async fn until_ready(&self, key: &WorkspaceKey, uid: &str, generation: i64) -> Result<()> {
        let name = key.name().to_string();
        let mut rx = self.cache.subscribe();
        let mut sighted = false;
        let recheck = RECHECK.min(self.waits.scheduling);
        loop {
            match self.seen(key, uid, generation, &mut sighted) {
                Seen::Ready => return Ok(()),
                Seen::Broken(err) => return Err(err),
                Seen::Pending => {}
            }
            match tokio::time::timeout(recheck, rx.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return Err(Error::Runtime("the workspace cache stopped".into())),
                Err(_) if !sighted => match self.api.get_ksvc(&name).await {
                    Ok(now) => {
                        if now.is_none_or(|k| k.uid().as_deref() != Some(uid) || is_deleting(&k)) {
                            return Err(gone(key));
                        }
                    }
                    Err(error) => {
                        debug!(workspace = %key, %error, "cannot ask whether the workspace exists; waiting on");
                    }
                },
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
}
