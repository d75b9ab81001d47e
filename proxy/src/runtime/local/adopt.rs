//! Launchers an earlier proxy left behind (it crashed, was killed or restarted):
//! read from the records at open and adopted, verified by pid *and* start time, so a
//! restart loses no workspace and leaves no orphan. One that was still starting
//! (no address recorded yet) keeps its clone going: its start is waited for as if
//! this proxy had begun it, by the first request or, if none comes, by
//! [`LocalRuntime::join_adopted_starts`], which the proxy runs once it is up. The
//! records of launchers that are gone are cleared.

use std::collections::HashMap;
use std::sync::Arc;

use dcs_model::WorkspaceKey;
use dcs_os::Liveness;
use tracing::{info, warn};

use super::slot::Slot;
use super::state::StateDir;
use super::{process, LocalRuntime};

/// The slots of every record under `state`, their launchers adopted or cleared.
pub(super) fn slots(state: &StateDir) -> std::io::Result<HashMap<WorkspaceKey, Arc<Slot>>> {
    let mut slots = HashMap::new();
    for mut record in state.load_all()? {
        if let Some(p) = record.process {
            match (process::liveness(&p), p.addr) {
                (Liveness::Gone, _) => {
                    record.process = None;
                    state.save(&record)?;
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

impl LocalRuntime {
    /// Waits for the starts an earlier proxy left under way (launchers adopted
    /// without an address), as a request for each would: each ends ready and
    /// recorded, or failed and stopped, so none runs on unwatched. Starts of other
    /// workspaces are not waited on.
    pub(super) async fn join_adopted_starts(&self) {
        let all: Vec<Arc<Slot>> = self.slots().values().cloned().collect();
        let starting = all.into_iter().filter(|slot| {
            let st = slot.lock();
            st.start.is_none() && st.record.process.is_some_and(|p| p.addr.is_none())
        });
        let joins = starting.map(|slot| async move {
            let key = slot.lock().record.key.clone();
            match self.start_or_join(&slot).await {
                Ok(_) => info!(workspace = %key, "the adopted start ended ready"),
                Err(err) => warn!(workspace = %key, %err, "the adopted start failed"),
            }
        });
        futures_util::future::join_all(joins).await;
    }
}
