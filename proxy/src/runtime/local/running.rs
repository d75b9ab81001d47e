//! Where a launcher recorded in a slot answers, if it runs: a leftover that is
//! dead, or that never published its address, is stopped instead.

use dcs_os::Liveness;

use super::slot::Slot;
use super::{process, spawn, LocalRuntime};
use crate::error::{Error, Result};
use crate::runtime::Upstream;

impl LocalRuntime {
    /// Where a running launcher of `slot` answers, or `None` after stopping a
    /// leftover that is dead or never became ready.
    pub(super) async fn running(&self, slot: &Slot) -> Result<Option<Upstream>> {
        let Some(p) = slot.lock().record.process else {
            return Ok(None);
        };
        match (process::liveness(&p), p.addr) {
            (Liveness::Alive | Liveness::Unknown, Some(addr)) => {
                let key = slot.lock().record.key.clone();
                return Ok(Some(spawn::upstream(&self.cfg, &self.iso, &key, addr)));
            }
            // Nothing can be told of it, so nothing may be done to it.
            (Liveness::Unknown, None) => {
                return Err(Error::Runtime(
                    "the machine is out of resources (cannot read /proc); try again shortly".into(),
                ))
            }
            (Liveness::Gone, _) | (Liveness::Alive, None) => {}
        }
        process::terminate(&p, self.cfg.stop_grace).await;
        let mut st = slot.lock();
        if st.record.process.is_some_and(|q| q.pid == p.pid) {
            st.record.process = None;
        }
        Ok(None)
    }
}
