//! Launchers an earlier proxy left behind (it crashed, was killed or restarted):
//! read from the records at open and adopted, verified by pid *and* start time, so a
//! restart loses no workspace and leaves no orphan. One that was still starting
//! (no address recorded yet) keeps its clone going: its start is waited for as if
//! this proxy had begun it, by the first request or, if none comes, by
//! [`LocalRuntime::join_adopted_starts`], which the proxy runs once it is up. The
//! records of launchers that are gone are cleared; one that cannot be written (a
//! full or read-only disk) is cleared in memory only, with a warning, and never
//! keeps the proxy from starting.
//!
//! A record marked deleting is a delete an earlier proxy began and did not finish:
//! it is never listed, started or served again. Without a live launcher it is
//! removed at once; one with a launcher still running is deleted (the launcher
//! stopped, the record removed) by [`LocalRuntime::join_adopted_starts`].

use std::collections::HashMap;
use std::sync::Arc;

use dcs_model::WorkspaceKey;
use dcs_os::Liveness;
use tracing::{info, warn};

use super::slot::Slot;
use super::state::StateDir;
use super::{process, LocalRuntime};
use crate::runtime::Runtime as _;

/// The slots of every record under `state`, their launchers adopted or cleared, the
/// deletes an earlier proxy began finished or left to [`LocalRuntime::join_adopted_starts`].
pub(super) fn slots(state: &StateDir) -> std::io::Result<HashMap<WorkspaceKey, Arc<Slot>>> {
    let mut slots = HashMap::new();
    for mut record in state.load_all()? {
        let live = record
            .process
            .filter(|p| process::liveness(p) != Liveness::Gone);
        if record.deleting && live.is_none() {
            match state.remove(&record.key) {
                Ok(()) => {
                    info!(workspace = %record.key, "finished a delete an earlier proxy began")
                }
                Err(err) => {
                    warn!(workspace = %record.key, %err, "cannot remove a deleted workspace's record")
                }
            }
            continue;
        }
        if record.deleting {
            info!(workspace = %record.key, "a delete an earlier proxy began; its launcher is stopped once the proxy is up");
        } else if let Some(p) = record.process {
            match (live, p.addr) {
                (None, _) => {
                    record.process = None;
                    if let Err(err) = state.save(&record) {
                        // Cleared here all the same; the next open reads it as gone too.
                        warn!(workspace = %record.key, %err, "cannot record that the launcher is gone");
                    }
                }
                (_, Some(_)) => {
                    info!(workspace = %record.key, pid = p.pid, "adopted running launcher");
                }
                (_, None) => info!(
                    workspace = %record.key,
                    pid = p.pid,
                    "adopted a launcher that was still starting; its start is waited for"
                ),
            }
        }
        slots.insert(record.key.clone(), Slot::new(record));
    }
    Ok(slots)
}

/// Serves the way out of every adopted sandboxed launcher until it is gone
/// ([`super::egress_socket::serve_adopted`]).
pub(super) fn serve_ways_out(
    cfg: &super::LocalConfig,
    iso: &super::spawn::Isolation,
    slots: &HashMap<WorkspaceKey, Arc<Slot>>,
) {
    let (Some(egress), Some(_)) = (&iso.egress, &iso.sandbox) else {
        return;
    };
    for (key, slot) in slots {
        let launcher = {
            let st = slot.lock();
            st.record.process.filter(|_| !st.record.deleting)
        };
        if let Some(launcher) = launcher {
            let run = super::spawn::run_dir(cfg, key);
            super::egress_socket::serve_adopted(egress, &run, key.name().as_str(), launcher);
        }
    }
}

impl LocalRuntime {
    /// Waits for the starts an earlier proxy left under way (launchers adopted
    /// without an address), as a request for each would: each ends ready and
    /// recorded, or failed and stopped, so none runs on unwatched. Starts of other
    /// workspaces are not waited on. Meanwhile the deletes an earlier proxy began
    /// are finished.
    pub(super) async fn join_adopted_starts(&self) {
        let all: Vec<Arc<Slot>> = self.slots().values().cloned().collect();
        let starting = all.into_iter().filter(|slot| {
            let st = slot.lock();
            !st.deleted && st.start.is_none() && st.record.process.is_some_and(|p| p.addr.is_none())
        });
        let joins = starting.map(|slot| async move {
            let key = slot.lock().record.key.clone();
            match self.start_or_join(&slot).await {
                Ok(_) => info!(workspace = %key, "the adopted start ended ready"),
                Err(err) => warn!(workspace = %key, %err, "the adopted start failed"),
            }
        });
        futures_util::future::join(
            futures_util::future::join_all(joins),
            self.finish_adopted_deletes(),
        )
        .await;
    }

    /// Deletes the workspaces an earlier proxy began deleting whose launchers still
    /// ran at open: each launcher stopped, each record removed.
    async fn finish_adopted_deletes(&self) {
        let deleting: Vec<WorkspaceKey> = self
            .slots()
            .iter()
            .filter(|(_, slot)| slot.lock().record.deleting)
            .map(|(key, _)| key.clone())
            .collect();
        let deletes = deleting.iter().map(|key| async move {
            match self.delete(key).await {
                Ok(()) => info!(workspace = %key, "finished a delete an earlier proxy began"),
                Err(err) => {
                    warn!(workspace = %key, %err, "cannot finish a delete an earlier proxy began")
                }
            }
        });
        futures_util::future::join_all(deletes).await;
    }
}
