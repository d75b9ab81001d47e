//! Where a workspace's launcher answers, under the workspace's start lock: the
//! launcher its record names if it serves; the one an earlier proxy was still
//! starting, waited for as a start is; else a new start. A recorded one that is
//! gone is forgotten (and any straggler of its group stopped).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use dcs_model::{WorkspaceKey, WorkspaceKind};
use dcs_os::Liveness;
use tokio_util::sync::CancellationToken;

use super::slot::Slot;
use super::state::ProcessRecord;
use super::{not_registered, process, spawn, start, LocalRuntime};
use crate::error::{Error, Result};
use crate::runtime::Upstream;

/// What a slot's record says of its launcher.
enum Found {
    /// It serves at this address.
    Serving(Upstream),
    /// It runs but never said where it answers: an earlier proxy started it and
    /// ended before it was ready.
    Starting(ProcessRecord),
    /// It is gone; stragglers of its group may not be.
    Gone(ProcessRecord),
    /// None was recorded.
    Nothing,
}

impl LocalRuntime {
    /// Where `slot`'s launcher answers once it is ready: the one running, the one an
    /// earlier proxy left starting, or a new one. Starts of one workspace queue here.
    pub(super) async fn start_or_join(&self, slot: &Arc<Slot>) -> Result<Upstream> {
        let _one = slot.start_lock.lock().await;
        // Being deleted (by this proxy or, adopted, by an earlier one): its launcher
        // may still run, and is never served again.
        {
            let st = slot.lock();
            if st.deleted {
                return Err(deleted(&st.record.key));
            }
        }
        let started = match self.found(slot)? {
            Found::Serving(up) => return Ok(up),
            Found::Starting(p) => Some(p),
            Found::Gone(p) => {
                process::terminate(&p, self.cfg.stop_grace).await;
                let mut st = slot.lock();
                if st.record.process.is_some_and(|q| q.pid == p.pid) {
                    st.record.process = None;
                }
                None
            }
            Found::Nothing => None,
        };
        let cancel = {
            let mut st = slot.lock();
            if st.deleted {
                return Err(deleted(&st.record.key));
            }
            // Checked under the slot's lock, which `shutdown` takes after setting
            // the flag: a start either sees it or is seen (and cancelled) by it.
            if self.shutting_down.load(Ordering::SeqCst) {
                return Err(Error::Runtime("the proxy is shutting down".into()));
            }
            let cancel = CancellationToken::new();
            st.start = Some(cancel.clone());
            cancel
        };
        let result = match started {
            Some(p) => start::join(&self.cfg, &self.iso, &self.state, slot, &cancel, p).await,
            None => start::run(&self.cfg, &self.iso, &self.state, slot, &cancel).await,
        };
        slot.lock().start = None;
        result
    }

    /// What `slot`'s record says of its launcher.
    fn found(&self, slot: &Slot) -> Result<Found> {
        let st = slot.lock();
        let Some(p) = st.record.process else {
            return Ok(Found::Nothing);
        };
        match (process::liveness(&p), p.addr) {
            (Liveness::Alive | Liveness::Unknown, Some(addr)) => Ok(Found::Serving(
                spawn::upstream(&self.cfg, &self.iso, &st.record.key, addr),
            )),
            (Liveness::Alive, None) => Ok(Found::Starting(p)),
            // Nothing can be told of it, so nothing may be done to it.
            (Liveness::Unknown, None) => Err(Error::Runtime(
                "the machine is out of resources (cannot read /proc); try again shortly".into(),
            )),
            (Liveness::Gone, _) => Ok(Found::Gone(p)),
        }
    }
}

/// Why a deleted workspace does not start: an instance does not exist; a
/// repository's start was cancelled (the next request makes it anew).
fn deleted(key: &WorkspaceKey) -> Error {
    match &key.kind {
        WorkspaceKind::Instance(id) => not_registered(id),
        WorkspaceKind::Repo(_) => Error::Cancelled,
    }
}
