//! `LocalRuntime`: each workspace is a `dcs-launcher` child process on a loopback
//! port of this machine.
//!
//! The user's workspace volume is `<data-dir>/workspaces/<user>/`; the launcher
//! checks the repo out at `<owner>/<repo>` inside it. Each launcher leads its own
//! process group so stopping it (SIGTERM, grace, SIGKILL) takes its IDE children too.
//! Records under `<data-dir>/state/` survive a proxy crash: on start the runtime
//! adopts launchers that still run (verified by pid *and* start time) and forgets the
//! rest, so a restart leaves no orphan and loses no workspace.
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
//! # Layout
//! - [`state`]: persisted records (and the spec a new one records), atomic writes.
//! - [`process`]: process identity and group termination.
//! - [`ready`]: the `/_dcs/ready` probe.
//! - [`spawn`]: building the launcher's command from the `DCS_*` contract.
//! - [`volume`]: how much of a user's volume is used.

pub mod process;
pub mod ready;
pub mod spawn;
pub mod state;
pub mod volume;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use dcs_model::{UserId, WorkspaceKey};
use tokio::time::{sleep, Instant};
use tracing::{info, warn};

use self::ready::Readiness;
use self::state::{ProcessRecord, Record, StateDir};
use super::{Runtime, Status, Upstream, VolumeInfo, WorkspaceInfo, WorkspaceSpec};
use crate::error::{Error, Result, StartFailure};

/// How the local runtime starts launchers.
#[derive(Debug, Clone)]
pub struct LocalConfig {
    /// Root of all local state: `workspaces/`, `state/`, `run/`, `logs/`.
    pub data_dir: PathBuf,
    /// The `dcs-launcher` binary.
    pub launcher_bin: PathBuf,
    /// Git base URL handed to launchers.
    pub git_base: String,
    /// File holding a git token for private repos (the path is passed, never the token).
    pub git_token_file: Option<PathBuf>,
    /// IDE kind.
    pub ide: String,
    /// An installed IDE binary the launcher runs as is (`DCS_IDE_BIN`).
    pub ide_bin: Option<PathBuf>,
    /// SIGTERM → SIGKILL grace when stopping a launcher.
    pub stop_grace: Duration,
    /// Upper bound on one start (clone included), independent of any request's wait.
    pub start_limit: Duration,
    /// Log filter for launchers.
    pub launcher_log: Option<String>,
}

struct Slot {
    record: tokio::sync::Mutex<Record>,
    starting: AtomicBool,
}

/// Workspaces as local processes.
pub struct LocalRuntime {
    cfg: LocalConfig,
    state: StateDir,
    slots: Mutex<HashMap<WorkspaceKey, Arc<Slot>>>,
}

impl LocalRuntime {
    /// Opens the data dir, adopting launchers that survived a previous proxy.
    pub fn open(cfg: LocalConfig) -> std::io::Result<Self> {
        for sub in ["workspaces", "run", "logs"] {
            std::fs::create_dir_all(cfg.data_dir.join(sub))?;
        }
        let state = StateDir::open(cfg.data_dir.join("state"))?;
        let mut slots = HashMap::new();
        for mut record in state.load_all()? {
            if let Some(p) = record.process {
                if process::is_alive(&p) && p.addr.is_some() {
                    info!(workspace = %record.key, pid = p.pid, "adopted running launcher");
                } else {
                    if process::is_alive(&p) {
                        // It was still starting when the last proxy died; we cannot
                        // know its readiness, so stop it rather than orphan it.
                        warn!(workspace = %record.key, pid = p.pid, "stopping half-started launcher");
                        process::kill_now(&p);
                    }
                    record.process = None;
                    state.save(&record)?;
                }
            }
            let slot = Slot {
                record: tokio::sync::Mutex::new(record.clone()),
                starting: AtomicBool::new(false),
            };
            slots.insert(record.key, Arc::new(slot));
        }
        Ok(Self {
            cfg,
            state,
            slots: Mutex::new(slots),
        })
    }

    /// The workspace's slot; a new one records `spec` (see [`state::recorded_spec`]).
    /// The second value says whether it is new (not yet saved).
    fn slot(&self, spec: &WorkspaceSpec) -> (Arc<Slot>, bool) {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(slot) = slots.get(&spec.key) {
            return (slot.clone(), false);
        }
        let slot = Arc::new(Slot {
            record: tokio::sync::Mutex::new(Record {
                key: spec.key.clone(),
                base_path: spec.base_path.clone(),
                spec: state::recorded_spec(spec),
                process: None,
                last_error: None,
            }),
            starting: AtomicBool::new(false),
        });
        slots.insert(spec.key.clone(), slot.clone());
        (slot, true)
    }

    fn existing(&self, key: &WorkspaceKey) -> Option<Arc<Slot>> {
        self.slots
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(key)
            .cloned()
    }

    fn save(&self, record: &Record) -> Result<()> {
        self.state
            .save(record)
            .map_err(|e| Error::Runtime(format!("cannot save workspace state: {e}")))
    }

    /// Starts a launcher for `record` and waits until it is ready or has failed.
    async fn start(&self, record: &mut Record) -> Result<Upstream> {
        let key = record.key.clone();
        let plan = spawn::Plan::new(&self.cfg, &key, &record.base_path, &record.spec);
        let mut child = plan.spawn()?;
        let pid = child
            .id()
            .ok_or_else(|| Error::Runtime("launcher exited at once".into()))?;
        let start_time = process::start_time(pid).unwrap_or_default();
        let mut proc_rec = ProcessRecord {
            pid,
            start_time,
            addr: None,
        };
        record.process = Some(proc_rec);
        self.save(record)?;
        info!(workspace = %key, pid, log = %plan.log_path.display(), "launcher started");
        tokio::spawn(async move {
            // Reap it whenever it exits, so it never lingers as a zombie.
            match child.wait().await {
                Ok(status) => info!(pid, %status, "launcher exited"),
                Err(err) => warn!(pid, %err, "cannot wait for launcher"),
            }
        });

        let outcome = self.await_ready(&plan, &mut proc_rec).await;
        match outcome {
            Ok(addr) => {
                record.process = Some(proc_rec);
                record.last_error = None;
                self.save(record)?;
                Ok(Upstream {
                    authority: addr.to_string(),
                    host: None,
                })
            }
            Err(err) => {
                process::terminate(&proc_rec, self.cfg.stop_grace).await;
                record.process = None;
                record.last_error = Some(err.to_string());
                self.save(record)?;
                Err(err)
            }
        }
    }

    async fn await_ready(
        &self,
        plan: &spawn::Plan,
        p: &mut ProcessRecord,
    ) -> Result<std::net::SocketAddr> {
        let deadline = Instant::now() + self.cfg.start_limit;
        let exited = || Error::StartFailed {
            kind: StartFailure::Other,
            message: format!(
                "the workspace launcher exited during start; its log is {}",
                plan.log_path.display()
            ),
        };
        let addr = loop {
            if let Some(addr) = plan.published_addr() {
                break addr;
            }
            if !process::is_alive(p) {
                return Err(exited());
            }
            if Instant::now() > deadline {
                return Err(Error::Runtime(
                    "the launcher never started listening".into(),
                ));
            }
            sleep(Duration::from_millis(10)).await;
        };
        p.addr = Some(addr);
        loop {
            match ready::probe(addr, Duration::from_secs(2)).await {
                Readiness::Ready => return Ok(addr),
                Readiness::Failed { kind, message } => {
                    return Err(Error::StartFailed { kind, message })
                }
                Readiness::NotYet if !process::is_alive(p) => return Err(exited()),
                Readiness::NotYet if Instant::now() > deadline => {
                    return Err(Error::Runtime(format!(
                        "the workspace was not ready after {}s",
                        self.cfg.start_limit.as_secs()
                    )))
                }
                Readiness::NotYet => sleep(Duration::from_millis(20)).await,
            }
        }
    }
}

#[async_trait]
impl Runtime for LocalRuntime {
    async fn ensure(&self, spec: &WorkspaceSpec) -> Result<Upstream> {
        let (slot, _) = self.slot(spec);
        let mut record = slot.record.lock().await;
        if let Some(p) = record.process {
            if let (true, Some(addr)) = (process::is_alive(&p), p.addr) {
                return Ok(Upstream {
                    authority: addr.to_string(),
                    host: None,
                });
            }
            process::terminate(&p, self.cfg.stop_grace).await;
            record.process = None;
        }
        slot.starting.store(true, Ordering::SeqCst);
        let result = self.start(&mut record).await;
        slot.starting.store(false, Ordering::SeqCst);
        result
    }

    /// Saves a record without a process (`Stopped`); an existing record is kept
    /// as it is, whatever it runs.
    async fn register(&self, spec: &WorkspaceSpec) -> Result<()> {
        let (slot, new) = self.slot(spec);
        if new {
            let record = slot.record.lock().await;
            self.save(&record)?;
            info!(workspace = %spec.key, "workspace registered");
        }
        Ok(())
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
        let Some(slot) = self.existing(key) else {
            return Ok(Status::NotFound);
        };
        if slot.starting.load(Ordering::SeqCst) {
            return Ok(Status::Starting);
        }
        let record = slot.record.lock().await;
        Ok(status_of(&record))
    }

    async fn list(&self, user: Option<&UserId>) -> Result<Vec<WorkspaceInfo>> {
        let slots: Vec<(WorkspaceKey, Arc<Slot>)> = {
            let slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
            slots
                .iter()
                .filter(|(k, _)| user.is_none_or(|u| &k.user == u))
                .map(|(k, s)| (k.clone(), s.clone()))
                .collect()
        };
        let mut out = Vec::with_capacity(slots.len());
        for (key, slot) in slots {
            let starting = slot.starting.load(Ordering::SeqCst);
            let record = slot.record.lock().await;
            let status = if starting {
                Status::Starting
            } else {
                status_of(&record)
            };
            out.push(WorkspaceInfo {
                name: key.name(),
                key,
                status,
                spec: record.spec.clone(),
            });
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    async fn stop(&self, key: &WorkspaceKey) -> Result<()> {
        let Some(slot) = self.existing(key) else {
            return Ok(());
        };
        let mut record = slot.record.lock().await;
        if let Some(p) = record.process.take() {
            info!(workspace = %key, pid = p.pid, "stopping launcher");
            process::terminate(&p, self.cfg.stop_grace).await;
            self.save(&record)?;
        }
        Ok(())
    }

    async fn delete(&self, key: &WorkspaceKey) -> Result<()> {
        self.stop(key).await?;
        self.slots
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
        self.state
            .remove(key)
            .map_err(|e| Error::Runtime(format!("cannot remove workspace state: {e}")))
    }

    async fn shutdown(&self) {
        let keys: Vec<WorkspaceKey> = self
            .slots
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .keys()
            .cloned()
            .collect();
        let stops = keys.iter().map(|k| self.stop(k));
        for result in futures_util::future::join_all(stops).await {
            if let Err(err) = result {
                warn!(%err, "stopping a workspace at shutdown failed");
            }
        }
    }
}

fn status_of(record: &Record) -> Status {
    match (&record.process, &record.last_error) {
        (Some(p), _) if process::is_alive(p) && p.addr.is_some() => Status::Running,
        (Some(p), _) if process::is_alive(p) => Status::Starting,
        (_, Some(reason)) => Status::Failed {
            reason: reason.clone(),
        },
        _ => Status::Stopped,
    }
}
