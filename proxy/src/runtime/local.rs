//! `LocalRuntime`: each workspace is a `dcs-launcher` child process on a loopback
//! port of this machine.
//!
//! The user's workspace volume is `<data-dir>/workspaces/<user>/`; the launcher
//! checks the repo out at `<owner>/<repo>` inside it. Each launcher leads its own
//! process group so stopping it (SIGTERM, grace, SIGKILL) takes its IDE children too.
//! Records under `<data-dir>/state/` survive a proxy crash: on start the runtime
//! adopts launchers that still run (verified by pid *and* start time) and forgets the
//! rest, so a restart leaves no orphan and loses no workspace. One proxy serves a
//! data dir: a second one started on it is refused ([`data_dir`]). A record that
//! cannot be written (a full or read-only disk) never keeps the proxy from starting
//! or a stop from answering once its launcher is gone: it is logged, and the next
//! open reads the launcher it names as gone.
//!
//! **Instances.** Each record holds the workspace's [`InstanceSpec`], recorded by
//! the first `register` or `ensure` and kept from then on (a later `ensure` with
//! the operator's defaults never replaces it, so a token hash is never lost); the
//! launcher always starts from the recorded spec. `register` writes a record and
//! starts nothing (status `Stopped`). An instance without a repository works in
//! `<user volume>/_instances/<id>`. Local processes cannot apply a base image or
//! CPU/memory/storage figures: they are recorded and listed, not applied
//! ([`Runtime::applies_containers`] is `false`). [`Runtime::volume`] measures the
//! user's volume directory with a bounded walk.
//!
//! **Nothing waits on another workspace.** Each workspace has its own slot, locked
//! only for moments; a start runs without holding any lock others need, so a clone
//! that hangs delays neither other workspaces nor `list`, `status`, the reaper or
//! shutdown. `stop`, `delete` and `shutdown` cancel a start under way and stop its
//! launcher. A deleted instance is never started again: `ensure` starts only
//! instances that were registered (created through the API). A delete marks the
//! record first, then stops the launcher, then removes the record (the user's files
//! are kept): a proxy that ends in between leaves the mark, and the next one
//! finishes the delete (`adopt`), so the instance never comes back.
//!
//! # Layout
//! - [`data_dir`]: the data dir's lock (one proxy per folder) and folders.
//! - [`state`]: persisted records (and the spec a new one records).
//! - `adopt`: launchers an earlier proxy left: adopted at open, those it was still
//!   starting waited for as a start is, the deletes it began finished.
//! - `running`: where a recorded launcher answers, leftovers stopped; one start or
//!   the wait for one, under the workspace's start lock.
//! - `slot`: one workspace's record, start under way and deletion, each locked alone.
//! - `start`: one start: spawn, wait for ready, commit or clean up; cancellable.
//! - [`process`]: process identity and group termination.
//! - [`ready`]: the `/_dcs/ready` probe.
//! - [`spawn`]: building the launcher's command from the `DCS_*` contract, its
//!   secrets on its stdin.
//! - [`sandbox`]: the bubblewrap sandbox of a machine several users share.
//! - [`checkout`]: a sandboxed workspace's clone, before and outside its sandbox,
//!   and the rest of its history, beside it.
//! - [`stdin`]: the secrets a launcher is handed on its stdin.
//! - [`volume`]: how much of a user's volume is used.

mod adopt;
pub mod checkout;
mod config;
pub use config::LocalConfig;
pub mod data_dir;
pub mod egress_socket;
pub mod process;
pub mod ready;
mod running;
pub mod sandbox;
mod slot;
pub mod spawn;
mod start;
pub mod state;
pub mod stdin;
pub mod volume;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use dcs_model::{UserId, WorkspaceKey, WorkspaceKind};
use dcs_os::Liveness;
use tracing::{info, warn};

use self::slot::Slot;
use self::spawn::Isolation;
use self::state::{Record, StateDir};
use super::{Runtime, Status, Upstream, VolumeInfo, WorkspaceInfo, WorkspaceSpec};
use crate::error::{Error, Result};

/// Workspaces as local processes.
pub struct LocalRuntime {
    cfg: LocalConfig,
    /// The hop secret and the sandbox.
    iso: Isolation,
    state: StateDir,
    /// Every workspace's slot; locked only to find or add one.
    slots: Mutex<HashMap<WorkspaceKey, Arc<Slot>>>,
    /// Set by `shutdown`: no start begins after it.
    shutting_down: AtomicBool,
    /// `<data-dir>/proxy.lock`, held for the runtime's life (see [`data_dir`]).
    _lock: Option<dcs_os::FileLock>,
}

impl LocalRuntime {
    /// Opens the data dir, adopting launchers that survived a previous proxy.
    /// Launchers are not sandboxed, and their hop credentials derive from
    /// `<data-dir>/secrets/hop.key` (generated once); see [`Self::open_with`].
    /// Refused while another proxy serves the data dir ([`data_dir`]).
    pub fn open(cfg: LocalConfig) -> std::io::Result<Self> {
        let lock = data_dir::open(&cfg.data_dir)?;
        let key = crate::hop::HopKey::load_or_generate(&default_hop_key(&cfg.data_dir))
            .map_err(std::io::Error::other)?;
        let iso = Isolation {
            hop: key,
            sandbox: None,
            egress: None,
        };
        Self::open_locked(cfg, iso, lock)
    }

    /// Like [`Self::open`], with the given hop secret and sandbox.
    pub fn open_with(cfg: LocalConfig, iso: Isolation) -> std::io::Result<Self> {
        let lock = data_dir::open(&cfg.data_dir)?;
        Self::open_locked(cfg, iso, lock)
    }

    fn open_locked(
        cfg: LocalConfig,
        iso: Isolation,
        lock: Option<dcs_os::FileLock>,
    ) -> std::io::Result<Self> {
        let state = StateDir::open(cfg.data_dir.join("state"))?;
        let slots = adopt::slots(&state)?;
        adopt::serve_ways_out(&cfg, &iso, &slots);
        Ok(Self {
            cfg,
            iso,
            state,
            slots: Mutex::new(slots),
            shutting_down: AtomicBool::new(false),
            _lock: lock,
        })
    }

    fn slots(&self) -> MutexGuard<'_, HashMap<WorkspaceKey, Arc<Slot>>> {
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The workspace's slot; a new one records `spec` (see [`state::recorded_spec`]).
    /// The second value says whether it is new (not yet saved).
    fn slot(&self, spec: &WorkspaceSpec) -> (Arc<Slot>, bool) {
        let mut slots = self.slots();
        if let Some(slot) = slots.get(&spec.key) {
            return (slot.clone(), false);
        }
        let slot = Slot::new(Record {
            key: spec.key.clone(),
            base_path: spec.base_path(),
            spec: state::recorded_spec(spec),
            process: None,
            last_error: None,
            deleting: false,
            unknown: state::Unknown::default(),
        });
        slots.insert(spec.key.clone(), slot.clone());
        (slot, true)
    }

    fn existing(&self, key: &WorkspaceKey) -> Option<Arc<Slot>> {
        self.slots().get(key).cloned()
    }
}

#[async_trait]
impl Runtime for LocalRuntime {
    /// Starts the workspace unless it runs. An instance must have been registered
    /// (created through the API): a deleted one is never started again.
    async fn ensure(&self, spec: &WorkspaceSpec) -> Result<Upstream> {
        let slot = match (&spec.key.kind, self.existing(&spec.key)) {
            (_, Some(slot)) => slot,
            (WorkspaceKind::Repo(_), None) => self.slot(spec).0,
            (WorkspaceKind::Instance(id), None) => return Err(not_registered(id)),
        };
        self.start_or_join(&slot).await
    }

    /// Saves a record without a process (`Stopped`); an existing record is kept
    /// as it is, whatever it runs.
    async fn register(&self, spec: &WorkspaceSpec) -> Result<()> {
        let (slot, new) = self.slot(spec);
        if new {
            slot.persist(&self.state).await?;
            info!(workspace = %spec.key, "workspace registered");
        }
        Ok(())
    }
    async fn update_spec(&self, key: &WorkspaceKey, spec: &dcs_model::InstanceSpec) -> Result<()> {
        let slot = self
            .existing(key)
            .filter(|s| !s.lock().deleted)
            .ok_or_else(|| Error::NotFound(format!("no workspace {key}")))?;
        slot.lock().record.spec = spec.clone();
        slot.persist(&self.state).await
    }

    /// `<data-dir>/workspaces/<user>`: whether it exists and its disk usage.
    async fn volume(&self, user: &UserId) -> Result<VolumeInfo> {
        let dir = spawn::user_volume(&self.cfg, user);
        let name = dir.display().to_string();
        let (exists, used_bytes) = tokio::task::spawn_blocking(move || {
            let exists = dir.is_dir();
            (
                exists,
                exists
                    .then(|| volume::disk_usage(&dir, volume::MAX_WALK))
                    .flatten(),
            )
        })
        .await
        .map_err(|e| Error::Runtime(format!("measuring the workspace volume failed: {e}")))?;
        Ok(VolumeInfo {
            name,
            exists,
            used_bytes,
            capacity: None,
        })
    }

    /// Processes run on this machine as they are: no image, no resource limits.
    fn applies_containers(&self) -> bool {
        false
    }

    async fn status(&self, key: &WorkspaceKey) -> Result<Status> {
        Ok(self
            .existing(key)
            .filter(|slot| !slot.lock().deleted)
            .map_or(Status::NotFound, |slot| slot.status()))
    }

    /// A launcher this process adopted (or started) that is alive and published its
    /// address; nothing is started, stopped or cleaned up here.
    async fn running_upstream(&self, key: &WorkspaceKey) -> Option<Upstream> {
        let slot = self.existing(key)?;
        let p = {
            let st = slot.lock();
            // Being deleted: gone for every request already.
            if st.deleted {
                return None;
            }
            st.record.process?
        };
        let addr = p.addr?;
        (slot.status() == Status::Running && process::liveness(&p) == Liveness::Alive)
            .then(|| spawn::upstream(&self.cfg, &self.iso, key, addr))
    }

    /// While a start runs: what its launcher's `/_dcs/ready` last said.
    async fn progress(&self, key: &WorkspaceKey) -> Result<Option<dcs_model::api::Progress>> {
        Ok(self.existing(key).and_then(|slot| slot.progress()))
    }

    async fn list(&self, user: Option<&UserId>) -> Result<Vec<WorkspaceInfo>> {
        // A workspace being deleted is gone already for everyone who asks.
        let slots: Vec<(WorkspaceKey, Arc<Slot>)> = self
            .slots()
            .iter()
            .filter(|(k, s)| user.is_none_or(|u| &k.user == u) && !s.lock().deleted)
            .map(|(k, s)| (k.clone(), s.clone()))
            .collect();
        let mut out: Vec<WorkspaceInfo> = slots
            .into_iter()
            .map(|(key, slot)| WorkspaceInfo {
                name: key.name(),
                status: slot.status(),
                spec: slot.lock().record.spec.clone(),
                key,
            })
            .collect();
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    /// Stops the launcher, cancelling a start under way, and returns once it and
    /// that start are gone.
    async fn stop(&self, key: &WorkspaceKey) -> Result<()> {
        let Some(slot) = self.existing(key) else {
            return Ok(());
        };
        let (start, process, history) = {
            let mut st = slot.lock();
            (st.start.take(), st.record.process.take(), st.history.take())
        };
        if let Some(history) = history {
            // Not waited for: it ends within its grace.
            history.cancel();
        }
        if let Some(start) = &start {
            info!(workspace = %key, "cancelling the start under way");
            start.cancel();
        }
        if let Some(p) = process {
            info!(workspace = %key, pid = p.pid, "stopping launcher");
            process::terminate(&p, self.cfg.stop_grace).await;
            // Stopped is stopped: a record that cannot say so (a full disk) names a
            // launcher the next open reads as gone.
            if let Err(err) = slot.persist(&self.state).await {
                warn!(workspace = %key, %err, "the launcher stopped; its record was not updated");
            }
        }
        if start.is_some() {
            // The start stops its own launcher when it sees the cancel; wait for it.
            drop(slot.start_lock.lock().await);
        }
        Ok(())
    }

    /// Stops the workspace (a start under way included) and forgets it for good: a
    /// request still on its way cannot bring an instance back, nor a proxy that ends
    /// before the delete did (its record is marked first, see `adopt`). The user's
    /// files are kept; only the record goes.
    async fn delete(&self, key: &WorkspaceKey) -> Result<()> {
        let Some(slot) = self.existing(key) else {
            return Ok(());
        };
        if let Err(err) = slot.mark_deleting(&self.state).await {
            // Deleted all the same; only a proxy ending before the record is removed
            // would find it again.
            warn!(workspace = %key, %err, "cannot mark the record deleted before the stop");
        }
        self.stop(key).await?;
        {
            let mut slots = self.slots();
            if slots.get(key).is_some_and(|s| Arc::ptr_eq(s, &slot)) {
                slots.remove(key);
            }
        }
        slot.forget(&self.state).await
    }

    async fn join_adopted_starts(&self) {
        LocalRuntime::join_adopted_starts(self).await;
    }

    /// Stops every launcher, starting ones included; no start begins afterwards.
    async fn shutdown(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
        let keys: Vec<WorkspaceKey> = self.slots().keys().cloned().collect();
        let stops = keys.iter().map(|k| self.stop(k));
        for result in futures_util::future::join_all(stops).await {
            if let Err(err) = result {
                warn!(%err, "stopping a workspace at shutdown failed");
            }
        }
    }
}

/// The hop secret generated for a data dir when none is given:
/// `<data-dir>/secrets/hop.key` (never inside a sandbox).
pub fn default_hop_key(data_dir: &std::path::Path) -> PathBuf {
    data_dir.join("secrets").join("hop.key")
}

fn not_registered(id: &dcs_model::InstanceId) -> Error {
    Error::NotFound(format!(
        "instance {id} does not exist (it may have been deleted); create one with POST /api/instances"
    ))
}

#[cfg(test)]
mod tests;
