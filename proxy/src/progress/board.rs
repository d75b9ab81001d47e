//! The starts that progress pages follow: one follower task per workspace waits for
//! the activator's start (joining the one under way, or beginning one within the
//! start limits) and records how it ended, so the page can show a failure's reason
//! and a page that polls after the start timeout can follow it again.
//!
//! The board is one per process (like the activator it follows): a follower is
//! keyed by the workspace alone.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, MutexGuard};

use dcs_model::WorkspaceKey;
use tokio::sync::watch;

use crate::activator::Activator;
use crate::error::{Error, Result};
use crate::runtime::WorkspaceSpec;

/// Where a followed start is.
#[derive(Debug, Clone)]
pub enum Followed {
    /// The follower still waits.
    Following,
    /// The start ended: ready, or why not.
    Ended(Result<()>),
}

static BOARD: LazyLock<Mutex<HashMap<WorkspaceKey, watch::Sender<Followed>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

fn board() -> MutexGuard<'static, HashMap<WorkspaceKey, watch::Sender<Followed>>> {
    BOARD.lock().unwrap_or_else(|p| p.into_inner())
}

/// Follows `spec`'s start (joining the follower under way, else beginning one) and
/// returns a receiver of its outcome.
pub fn follow(activator: &Arc<Activator>, spec: &WorkspaceSpec) -> watch::Receiver<Followed> {
    let mut board = board();
    if let Some(tx) = board.get(&spec.key) {
        if matches!(*tx.borrow(), Followed::Following) {
            return tx.subscribe();
        }
    }
    let (tx, rx) = watch::channel(Followed::Following);
    board.insert(spec.key.clone(), tx.clone());
    let (activator, spec) = (activator.clone(), spec.clone());
    tokio::spawn(async move {
        // Bounded by the start timeout; the start itself goes on in the activator.
        let ended = activator.upstream(&spec).await.map(|_| ());
        if let Err(err) = &ended {
            tracing::info!(workspace = %spec.key, %err, "followed start ended without the workspace");
        }
        tx.send_replace(Followed::Ended(ended));
    });
    rx
}

/// Waits until the followed start ends.
pub async fn outcome(rx: &mut watch::Receiver<Followed>) -> Result<()> {
    match rx
        .wait_for(|f| matches!(f, Followed::Ended(_)))
        .await
        .map(|f| f.clone())
    {
        Ok(Followed::Ended(result)) => result,
        _ => Err(Error::Runtime("the start's follower ended".into())),
    }
}

/// Where the start of `key` a page follows is, if one is followed.
pub fn state(key: &WorkspaceKey) -> Option<Followed> {
    board().get(key).map(|tx| tx.borrow().clone())
}

/// Forgets what was followed of `key` (it was deleted).
pub fn forget(key: &WorkspaceKey) {
    board().remove(key);
}
