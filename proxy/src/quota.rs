//! Limits on how far one user, and everyone together, can make the platform grow:
//! API instances per user, and workspaces starting at once per user and in total
//! (`--max-instances-per-user`, `--max-starts-per-user`, `--max-starts`).
//!
//! Each limit is a pure function of counts here. The activator asks [`start`]
//! where starts begin (under the lock of its table of starts, so concurrent
//! requests cannot slip past); the API's create asks [`admit_instance`] before it
//! registers anything, in its user's [`Creates`] turn, so that concurrent creates
//! cannot all pass a count of what exists and then all register. Over a limit:
//! 429 with `Retry-After` and what to do. The counts of starts are this
//! replica's; instances are counted in the runtime (every replica's).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dcs_model::{UserId, WorkspaceKind};
use dcs_os::mutex::lock;
use tokio::sync::OwnedMutexGuard;

use crate::config::edge::Quotas;
use crate::error::{Error, Result};
use crate::state::AppState;

/// When to try a start again: starts take seconds.
pub const START_RETRY: Duration = Duration::from_secs(10);
/// When to try a create again: once an instance is deleted.
pub const INSTANCE_RETRY: Duration = Duration::from_secs(60);

/// Whether `user`, with `user_starting` of their workspaces starting and
/// `all_starting` in total, may begin one more start.
pub fn start(
    quotas: &Quotas,
    user: &UserId,
    user_starting: usize,
    all_starting: usize,
) -> Result<()> {
    if let Some(max) = quotas.starts_per_user {
        if user_starting >= max as usize {
            return Err(Error::TooManyRequests {
                message: format!(
                    "{user} already has {user_starting} workspace(s) starting, the most one user \
                     may start at once; wait for one to be ready and try again in {} s",
                    START_RETRY.as_secs()
                ),
                retry_after: START_RETRY,
            });
        }
    }
    if let Some(max) = quotas.starts_total {
        if all_starting >= max as usize {
            return Err(Error::TooManyRequests {
                message: format!(
                    "this server is starting {all_starting} workspaces at once, its limit; \
                     try again in {} s",
                    START_RETRY.as_secs()
                ),
                retry_after: START_RETRY,
            });
        }
    }
    Ok(())
}

/// Whether `owner`, who has `have` API instances, may get one more.
pub fn instance(quotas: &Quotas, owner: &UserId, have: usize) -> Result<()> {
    match quotas.instances_per_user {
        Some(max) if have >= max as usize => Err(Error::TooManyRequests {
            message: format!(
                "{owner} has {have} instance(s), the most one user may have; delete one \
                 (DELETE /api/instances/<id>, or `dcs delete <id>`) and create again"
            ),
            retry_after: INSTANCE_RETRY,
        }),
        _ => Ok(()),
    }
}

/// Before an API create for `owner`: their instances, and a free start (the
/// create starts the instance at once).
pub async fn admit_instance(state: &AppState, owner: &UserId) -> Result<()> {
    if state.edge.quotas.instances_per_user.is_some() {
        let have = state
            .activator
            .runtime()
            .list(Some(owner))
            .await?
            .iter()
            .filter(|w| matches!(w.key.kind, WorkspaceKind::Instance(_)))
            .count();
        instance(&state.edge.quotas, owner, have)?;
    }
    state.activator.admit_start(owner)
}

/// Each user's API creates, one at a time on this replica: from the check of the
/// limits to the start the create begins (which the next check then counts).
#[derive(Default)]
pub struct Creates(Mutex<HashMap<UserId, Arc<tokio::sync::Mutex<()>>>>);

/// A user's turn to create; the next one's begins when it is dropped.
pub struct Turn<'a> {
    creates: &'a Creates,
    user: UserId,
    _held: OwnedMutexGuard<()>,
}

impl Creates {
    /// Waits for `user`'s turn.
    pub async fn turn(&self, user: &UserId) -> Turn<'_> {
        let mutex = lock(&self.0).entry(user.clone()).or_default().clone();
        Turn {
            creates: self,
            user: user.clone(),
            _held: mutex.lock_owned().await,
        }
    }

    /// How many users have a turn held or awaited.
    pub fn users(&self) -> usize {
        lock(&self.0).len()
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        let mut map = lock(&self.creates.0);
        // Only the table and this turn hold it: nobody waits, forget the user.
        if map
            .get(&self.user)
            .is_some_and(|m| Arc::strong_count(m) <= 2)
        {
            map.remove(&self.user);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alice() -> UserId {
        UserId::new("alice").expect("user")
    }

    fn quotas(per_user: u32, total: u32, instances: u32) -> Quotas {
        let limit = |n: u32| (n > 0).then_some(n);
        Quotas {
            instances_per_user: limit(instances),
            starts_per_user: limit(per_user),
            starts_total: limit(total),
        }
    }

    #[tokio::test]
    async fn a_users_creates_take_turns_and_leave_nothing_behind() {
        let creates = Arc::new(Creates::default());
        let first = creates.turn(&alice()).await;
        let bob = UserId::new("bob").expect("user");
        drop(creates.turn(&bob).await); // another user's turn is not held up
        let waiting = tokio::spawn({
            let creates = creates.clone();
            async move {
                let _turn = creates.turn(&alice()).await;
            }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "alice's second create waits");
        drop(first);
        waiting.await.expect("her second turn came");
        assert_eq!(creates.users(), 0);
    }

    #[test]
    fn starts_beyond_either_limit_are_429_with_retry_after() {
        let q = quotas(2, 3, 0);
        assert!(start(&q, &alice(), 1, 2).is_ok());
        let err = start(&q, &alice(), 2, 2).expect_err("per user");
        assert_eq!(err.status(), 429);
        assert!(err.to_string().contains("alice already has 2"), "{err}");
        let err = start(&q, &alice(), 0, 3).expect_err("total");
        assert!(err.to_string().contains("starting 3 workspaces"), "{err}");
        match err {
            Error::TooManyRequests { retry_after, .. } => assert_eq!(retry_after, START_RETRY),
            other => panic!("{other:?}"),
        }
        assert!(
            start(&quotas(0, 0, 0), &alice(), 100, 1000).is_ok(),
            "0: no limit"
        );
    }

    #[test]
    fn one_instance_beyond_the_limit_is_429() {
        let q = quotas(0, 0, 2);
        assert!(instance(&q, &alice(), 1).is_ok());
        let err = instance(&q, &alice(), 2).expect_err("limit");
        assert_eq!(err.status(), 429);
        assert!(err.to_string().contains("delete one"), "{err}");
        assert!(instance(&quotas(0, 0, 0), &alice(), 99).is_ok());
    }
}
