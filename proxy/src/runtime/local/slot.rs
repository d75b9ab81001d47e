//! One workspace's place in the local runtime: its record, the start under way (if
//! any) and whether it was deleted.
//!
//! Each slot is locked on its own and only for moments: no lock is held while a
//! launcher starts or stops or a record is written, so a slow or hanging start never
//! delays other workspaces, the idle reaper, the API or shutdown. Starts of one
//! workspace queue on [`Slot::start_lock`]; writes of its record queue on their own
//! lock and always write the latest state, so the file ends as the slot does.

use std::sync::{Arc, Mutex, MutexGuard};

use dcs_os::Liveness;
use tokio_util::sync::CancellationToken;

use super::process;
use super::state::{Record, StateDir};
use crate::error::{Error, Result};
use crate::runtime::Status;

/// A workspace of the local runtime.
pub(super) struct Slot {
    state: Mutex<SlotState>,
    /// Serialises starts of this workspace; only its own `ensure`s wait on it (and a
    /// `stop` waiting for a cancelled start to wind down).
    pub start_lock: tokio::sync::Mutex<()>,
    /// Serialises writes of the record.
    save_lock: tokio::sync::Mutex<()>,
}

/// What a slot's lock guards.
pub(super) struct SlotState {
    /// The persisted record.
    pub record: Record,
    /// Cancels the start under way: taken and cancelled by stop, delete, shutdown.
    pub start: Option<CancellationToken>,
    /// Ends the history step beside the running launcher (sandboxed; see
    /// `super::checkout::spawn_history`): taken and cancelled by stop, delete,
    /// shutdown and the next start.
    pub history: Option<CancellationToken>,
    /// Deleted: nothing starts it or saves its record again.
    pub deleted: bool,
    /// How far the start under way is, as its launcher last said.
    pub progress: Option<dcs_model::api::Progress>,
}

impl Slot {
    /// A slot for `record`, with no start under way; deleted if its record is marked
    /// so (an earlier proxy began deleting it).
    pub fn new(record: Record) -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(SlotState {
                deleted: record.deleting,
                record,
                start: None,
                history: None,
                progress: None,
            }),
            start_lock: tokio::sync::Mutex::new(()),
            save_lock: tokio::sync::Mutex::new(()),
        })
    }

    /// The state, for a moment (never across an `.await`).
    pub fn lock(&self) -> MutexGuard<'_, SlotState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A copy of the record.
    pub fn record(&self) -> Record {
        self.lock().record.clone()
    }

    /// The workspace's state: `Starting` while a start is under way, else what its
    /// record and its process say.
    pub fn status(&self) -> Status {
        let (starting, record) = {
            let st = self.lock();
            (st.start.is_some(), st.record.clone())
        };
        if starting {
            return Status::Starting;
        }
        status_of(&record)
    }

    /// How far its start is: what the launcher last said while a start is under
    /// way, else what its state says.
    pub fn progress(&self) -> Option<dcs_model::api::Progress> {
        let under_way = {
            let st = self.lock();
            st.start.is_some().then(|| st.progress.clone())
        };
        match under_way {
            Some(said) => Some(said.unwrap_or_else(|| {
                dcs_model::api::Progress::at(dcs_model::api::StartPhase::Starting)
            })),
            None => crate::progress::of_status(&self.status()),
        }
    }

    /// Writes the record as it is now (unless the slot was deleted), off the async
    /// threads.
    pub async fn persist(&self, dir: &StateDir) -> Result<()> {
        let _one = self.save_lock.lock().await;
        let record = {
            let st = self.lock();
            if st.deleted {
                return Ok(());
            }
            st.record.clone()
        };
        save(dir, record).await
    }

    /// Marks the slot deleted and writes its record marked [`Record::deleting`], the
    /// last write of it: a proxy that ends before [`Slot::forget`] leaves a record
    /// the next one finishes deleting (see `super::adopt`). A record marked already
    /// is not written again.
    pub async fn mark_deleting(&self, dir: &StateDir) -> Result<()> {
        // At once, before any wait: from here on nothing starts it or lists it.
        self.lock().deleted = true;
        let _one = self.save_lock.lock().await;
        let record = {
            let mut st = self.lock();
            if st.record.deleting {
                return Ok(());
            }
            st.record.deleting = true;
            st.record.clone()
        };
        save(dir, record).await
    }

    /// Removes the record's file; the slot must be marked deleted first, so no later
    /// [`Slot::persist`] writes it back.
    pub async fn forget(&self, dir: &StateDir) -> Result<()> {
        let _one = self.save_lock.lock().await;
        let key = self.lock().record.key.clone();
        let dir = dir.clone();
        tokio::task::spawn_blocking(move || dir.remove(&key))
            .await
            .map_err(|e| Error::Runtime(format!("removing workspace state failed: {e}")))?
            .map_err(|e| Error::Runtime(format!("cannot remove workspace state: {e}")))
    }
}

/// Writes `record` into `dir`, off the async threads.
async fn save(dir: &StateDir, record: Record) -> Result<()> {
    let dir = dir.clone();
    tokio::task::spawn_blocking(move || dir.save(&record))
        .await
        .map_err(|e| Error::Runtime(format!("saving workspace state failed: {e}")))?
        .map_err(|e| Error::Runtime(format!("cannot save workspace state: {e}")))
}

/// The state a record describes. A process whose liveness cannot be read counts as
/// what it was last seen as: never as dead.
pub(super) fn status_of(record: &Record) -> Status {
    if let Some(p) = &record.process {
        if process::liveness(p) != Liveness::Gone {
            return match p.addr {
                Some(_) => Status::Running,
                None => Status::Starting,
            };
        }
    }
    match &record.last_error {
        Some(reason) => Status::Failed {
            reason: reason.clone(),
        },
        None => Status::Stopped,
    }
}
