//! Recording the progress a workspace's launcher pushes
//! ([`crate::progress::push`]) on its Knative Service: the
//! [`PROGRESS_ANNOTATION`] annotation, set by a JSON merge patch, which never
//! creates, so every replica's watch cache sees it ([`super::status::progress_of`]
//! reads it). A ready report removes it, so a later wake does not show the last
//! run's state; a failure stays until the next start begins
//! ([`KnativeRuntime::clear_stale_progress`]).
//!
//! Only a Service this replica's cache holds, and not being deleted, is written:
//! a deleted workspace stays deleted (the patch of one deleted meanwhile is a 404
//! of the API server, answered the same). At most one write per workspace per
//! [`crate::progress::push::PACE`] on a replica, a final one always.

use async_trait::async_trait;
use tracing::{debug, warn};

use super::ready::{verdict, Verdict};
use super::status::{self, PROGRESS_ANNOTATION};
use super::types::Ksvc;
use super::{KnativeError, KnativeRuntime};
use crate::error::{Error, Result};
use crate::hop::HopKey;
use crate::progress::push::{ProgressSink, Pushed};

impl KnativeRuntime {
    /// Before a start: what a launcher recorded on `existing` and nobody cleared
    /// (a pod killed mid-clone, a failure of an earlier attempt) is removed, so the
    /// page does not show it and the start does not end on it. Not while another
    /// start of it is under way (its launcher's word is current). Best effort.
    pub(super) async fn clear_stale_progress(&self, existing: &Ksvc) {
        let generation = existing.metadata.generation.unwrap_or(1);
        if status::pushed(existing).is_none()
            || verdict(existing, None, generation) == Verdict::Pending
        {
            return;
        }
        let Some(name) = existing.metadata.name.as_deref() else {
            return;
        };
        match self
            .api
            .annotate_ksvc(name, PROGRESS_ANNOTATION, None)
            .await
        {
            Ok(_) => debug!(workspace = name, "an earlier start's progress was cleared"),
            Err(e) => {
                warn!(workspace = name, error = %e, "cannot clear an earlier start's progress")
            }
        }
    }
}

fn gone(name: &str) -> Error {
    Error::NotFound(format!("there is no workspace {name}"))
}

#[async_trait]
impl ProgressSink for KnativeRuntime {
    fn hop_key(&self) -> Option<&HopKey> {
        self.cfg.hop.as_ref()
    }

    async fn record(&self, name: &str, pushed: Option<&Pushed>, last: bool) -> Result<()> {
        let live = self
            .cache
            .ksvc(name)
            .is_some_and(|k| k.metadata.deletion_timestamp.is_none());
        if !live {
            return Err(gone(name));
        }
        if let Err(wait) = self.pushes.admit(name, last) {
            return Err(Error::TooManyRequests {
                message: "progress of this workspace was recorded less than a second ago".into(),
                retry_after: wait,
            });
        }
        let value = match pushed {
            Some(p) => Some(
                serde_json::to_string(p)
                    .map_err(|e| Error::Runtime(format!("cannot encode progress: {e}")))?,
            ),
            None => None,
        };
        let written = self
            .api
            .annotate_ksvc(name, PROGRESS_ANNOTATION, value.as_deref())
            .await
            .map_err(KnativeError::from)?;
        if written.is_none() {
            return Err(gone(name));
        }
        debug!(workspace = name, phase = ?pushed.map(|p| p.progress.phase), "launcher progress recorded");
        Ok(())
    }
}
