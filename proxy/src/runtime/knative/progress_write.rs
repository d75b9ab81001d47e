//! Recording the progress a workspace's launcher pushes
//! ([`crate::progress::push`]) on its Knative Service: the
//! [`PROGRESS_ANNOTATION`] annotation, set by a JSON merge patch, which never
//! creates, so every replica's watch cache sees it ([`super::status::progress_of`]
//! reads it). A final report removes it, so a later wake does not show the last
//! run's state.
//!
//! Only a Service this replica's cache holds, and not being deleted, is written:
//! a deleted workspace stays deleted (the patch of one deleted meanwhile is a 404
//! of the API server, answered the same). At most one write per workspace per
//! [`crate::progress::push::PACE`] on a replica, a final one always.

use async_trait::async_trait;
use dcs_model::api::Progress;
use tracing::debug;

use super::status::PROGRESS_ANNOTATION;
use super::{KnativeError, KnativeRuntime};
use crate::error::{Error, Result};
use crate::hop::HopKey;
use crate::progress::push::ProgressSink;

fn gone(name: &str) -> Error {
    Error::NotFound(format!("there is no workspace {name}"))
}

#[async_trait]
impl ProgressSink for KnativeRuntime {
    fn hop_key(&self) -> Option<&HopKey> {
        self.cfg.hop.as_ref()
    }

    async fn record(&self, name: &str, progress: Option<&Progress>, last: bool) -> Result<()> {
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
        let value = match progress {
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
        debug!(workspace = name, phase = ?progress.map(|p| p.phase), "launcher progress recorded");
        Ok(())
    }
}
