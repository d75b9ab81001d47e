//! The starts that progress pages follow: one follower task per workspace waits for
//! the activator's start (joining the one under way, or beginning one within the
//! start limits) and records how it ended, so the page can show a failure's reason
//! and a page that polls after the start timeout can follow it again.
//!
//! The board belongs to the activator it follows
//! ([`crate::activator::Activator::board`]): a follower is keyed by the workspace
//! alone.

use std::sync::{Arc, Mutex, MutexGuard};

use dcs_model::WorkspaceKey;
use tokio::sync::watch;

use crate::activator::Activator;
use crate::error::{Error, Result};
use crate::key_map::KeyMap;
use crate::runtime::WorkspaceSpec;

/// Where a followed start is.
#[derive(Debug, Clone)]
pub enum Followed {
    /// The follower still waits.
    Following,
    /// The start ended: ready, or why not.
    Ended(Result<()>),
}

type Followers = KeyMap<watch::Sender<Followed>>;

/// The starts followed, per workspace.
#[derive(Debug, Default)]
pub struct Board(Mutex<Followers>);

/// The most followers kept: beyond it the ended ones are forgotten. Each name a page
/// is opened at gets one, repositories that do not exist included (a navigation to
/// one is followed until the repository check answers 404), so without a bound a
/// client inventing names would grow the board without end.
const MAX_FOLLOWED: usize = 1024;

/// Over [`MAX_FOLLOWED`], forgets the followers whose start ended (a page still
/// polling one reads the workspace's state from the runtime instead).
fn prune(board: &mut Followers) {
    if board.len() >= MAX_FOLLOWED {
        board.retain(|_, tx| matches!(*tx.borrow(), Followed::Following));
    }
}

impl Board {
    fn followers(&self) -> MutexGuard<'_, Followers> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Follows `spec`'s start by `activator` (joining the follower under way, else
    /// beginning one) and returns a receiver of its outcome.
    pub fn follow(
        &self,
        activator: &Arc<Activator>,
        spec: &WorkspaceSpec,
    ) -> watch::Receiver<Followed> {
        let mut board = self.followers();
        if let Some(tx) = board.get(&spec.key) {
            if matches!(*tx.borrow(), Followed::Following) {
                return tx.subscribe();
            }
        }
        prune(&mut board);
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

    /// Where the start of `key` a page follows is, if one is followed.
    pub fn state(&self, key: &WorkspaceKey) -> Option<Followed> {
        self.followers().get(key).map(|tx| tx.borrow().clone())
    }

    /// Forgets what was followed of `key` (it was deleted).
    pub fn forget(&self, key: &WorkspaceKey) {
        self.followers().remove(key);
    }
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

#[cfg(test)]
mod tests {
    use dcs_model::{RepoRef, UserId};

    use super::*;

    fn key(n: usize) -> WorkspaceKey {
        WorkspaceKey::new(
            UserId::new("mallory").expect("user"),
            RepoRef::parse(&format!("acme/invented-{n}")).expect("repo"),
        )
    }

    #[test]
    fn a_full_board_forgets_ended_followers_and_keeps_those_still_waiting() {
        let mut board = Followers::default();
        for n in 0..MAX_FOLLOWED - 1 {
            let state = if n % 100 == 0 {
                Followed::Following
            } else {
                Followed::Ended(Err(Error::NotFound("no such repository".into())))
            };
            board.insert(key(n), watch::channel(state).0);
        }
        prune(&mut board);
        assert_eq!(
            board.len(),
            MAX_FOLLOWED - 1,
            "under the bound nothing goes"
        );
        board.insert(key(MAX_FOLLOWED), watch::channel(Followed::Ended(Ok(()))).0);
        prune(&mut board);
        assert_eq!(board.len(), 11, "only the followers still waiting stay");
        assert!(board
            .values()
            .all(|tx| matches!(*tx.borrow(), Followed::Following)));
        assert!(board.contains_key(&key(0)) && board.contains_key(&key(1000)));
    }
}
