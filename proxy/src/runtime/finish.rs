//! Stops and deletes that run to their end: each is carried out on a task of its
//! own, so whoever asked (an API request whose client gave up, a tab closed on
//! the home page's Delete, a request dropped with its connection) cannot leave a
//! workspace half stopped (its launcher signalled but never waited for) or half
//! deleted (gone from memory, its record still on disk and back after a restart).
//! Every stop and delete a caller asks of the [`Runtime`] goes through here.

use std::sync::Arc;

use dcs_model::WorkspaceKey;

use super::Runtime;
use crate::error::{Error, Result};

/// Stops `key`'s workspace ([`Runtime::stop`]), to the end.
pub async fn stop(runtime: &Arc<dyn Runtime>, key: &WorkspaceKey) -> Result<()> {
    let (runtime, key) = (runtime.clone(), key.clone());
    joined(tokio::spawn(async move { runtime.stop(&key).await })).await
}

/// Deletes `key`'s workspace ([`Runtime::delete`]), to the end.
pub async fn delete(runtime: &Arc<dyn Runtime>, key: &WorkspaceKey) -> Result<()> {
    let (runtime, key) = (runtime.clone(), key.clone());
    joined(tokio::spawn(async move { runtime.delete(&key).await })).await
}

async fn joined(task: tokio::task::JoinHandle<Result<()>>) -> Result<()> {
    task.await
        .unwrap_or_else(|e| Err(Error::Runtime(format!("the runtime's task ended: {e}"))))
}
