//! The [`CredentialStore`](super::CredentialStore)s, and what they share.
//!
//! A change is one read-modify-write, atomic per user: two changes of one user's
//! credentials (two hosts set at once, on one replica or two) both land.
//! Within this proxy a change waits for the user's earlier ones (`UserLocks`);
//! between Knative replicas a write names the version it read and is made again
//! from a fresh read when another write came first.
//!
//! # Layout
//! - `local`: a `0600` JSON file in the user's volume (local runtime; the
//!   launcher's credential helper reads it there).
//! - `knative`: the user's credentials Secret (mounted read-only into their
//!   workspaces).

mod knative;
mod local;

use std::hash::{Hash, Hasher};

use dcs_model::UserId;

pub use self::knative::KnativeStore;
pub use self::local::{LocalStore, MAX_FILE};
use crate::api::error::ApiErr;

/// 503 `unavailable`: the store cannot be `what` (read, written) right now.
fn unavailable(what: &str) -> ApiErr {
    ApiErr::new(
        http::StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        format!("the credential store cannot be {what} right now; try again shortly"),
    )
}

/// How many users' changes may run at once (a user's always wait for each other).
const STRIPES: usize = 64;

/// Per-user mutual exclusion within this process: a fixed set of async mutexes,
/// a user's picked by a hash of their id. Two users may share one and then wait
/// for each other briefly; memory stays bounded however many users there are.
struct UserLocks {
    stripes: Vec<tokio::sync::Mutex<()>>,
}

impl UserLocks {
    fn new() -> Self {
        Self {
            stripes: (0..STRIPES).map(|_| tokio::sync::Mutex::new(())).collect(),
        }
    }

    /// Waits until no other change of `user`'s credentials runs in this process.
    async fn lock(&self, user: &UserId) -> tokio::sync::MutexGuard<'_, ()> {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        user.as_str().hash(&mut hasher);
        let stripe = usize::try_from(hasher.finish() % STRIPES as u64).unwrap_or(0);
        self.stripes[stripe].lock().await
    }
}
