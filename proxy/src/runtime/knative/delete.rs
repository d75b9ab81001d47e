//! Removing a workspace's objects: `delete` (its Service, home volume and hop
//! Secret; never the user's volume or Secrets, which their other workspaces use),
//! and undoing a start that made a deleted instance again.
//!
//! The Service goes last: while it exists the workspace is found (the API's
//! `DELETE` looks it up first), so a delete that failed part-way (an API error, a
//! proxy killed) is finished by the next one. What a killed proxy left behind
//! goes anyway: the home volume and hop Secret name the Service as their owner,
//! and Kubernetes' garbage collector removes them with it (as after
//! `kubectl delete ksvc`).

use dcs_model::{WorkspaceKey, WorkspaceKind};
use kube::ResourceExt;
use tracing::{info, warn};

use super::objects;
use super::start::{gone, is_deleting, SETTLE};
use super::types::Ksvc;
use super::{KnativeError, KnativeRuntime};
use crate::error::Result;

impl KnativeRuntime {
    /// `delete`: the workspace's objects; returns once this replica's cache no
    /// longer shows the workspace.
    pub(super) async fn delete_of(&self, key: &WorkspaceKey) -> Result<()> {
        self.remove_objects(key).await?;
        let name = key.name().to_string();
        let gone = self
            .cache
            .until(SETTLE, |c| c.ksvc(&name).is_none_or(|k| is_deleting(&k)))
            .await;
        if !gone {
            warn!(workspace = %key, "the workspace cache did not show the delete in time");
        }
        info!(workspace = %key, "workspace deleted");
        Ok(())
    }

    /// An instance deleted between the look and the write was made again by the
    /// apply (a new uid): remove it again, answer `NotFound`.
    pub(super) async fn undo_resurrection(
        &self,
        key: &WorkspaceKey,
        before: Option<&Ksvc>,
        applied: &Ksvc,
    ) -> Result<()> {
        let (WorkspaceKind::Instance(_), Some(before)) = (&key.kind, before) else {
            return Ok(());
        };
        if before.uid() == applied.uid() {
            return Ok(());
        }
        warn!(workspace = %key, "the instance was deleted while it was being started; removing what the start made again");
        self.remove_objects(key).await?;
        Err(gone(key))
    }

    /// Deletes the hop Secret, the home volume and then the Service (each absent
    /// is fine; see the module docs).
    async fn remove_objects(&self, key: &WorkspaceKey) -> Result<(), KnativeError> {
        let name = key.name();
        let hop = objects::hop_secret_name(key);
        self.api.delete_secret(hop.as_str()).await?;
        self.api.delete_pvc(name.as_str()).await?;
        self.api.delete_ksvc(name.as_str()).await?;
        Ok(())
    }
}
