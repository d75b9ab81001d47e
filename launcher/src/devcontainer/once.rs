//! The once-per-checkout part of the lifecycle, one launcher at a time. Two
//! workspaces can share a checkout (a `/github/acme/hello` workspace and an API
//! instance of `acme/hello` both use `<workspaces>/acme/hello`), so before the
//! extensions' install or a create step (`onCreateCommand`, `updateContentCommand`,
//! `postCreateCommand`) a launcher takes the checkout's steps lock
//! ([`saved::lock_steps`]), waiting while another launcher holds it (its steps stay
//! `pending`; its log says it waits), and then reads the kept state again: what the
//! other finished is skipped, not run twice. It lets go before `postStartCommand`
//! (each workspace runs its own) and whenever the lifecycle ends (a failure, a stop):
//! [`Hold`] is dropped with it.

use std::sync::Arc;
use std::time::Duration;

use dcs_os::FileLock;
use tracing::{info, warn};

use super::lifecycle::{self, Next};
use super::{saved, Loaded};
use crate::app::App;

/// How often a waiting launcher tries the steps lock again.
const POLL: Duration = Duration::from_millis(200);

/// The log's line while another launcher runs the create steps.
pub const WAITING: &str =
    "waiting for another workspace on this checkout to finish its devcontainer.json steps";

/// Whether this lifecycle holds the steps lock.
pub(crate) enum Hold {
    /// Not held.
    Free,
    /// Held until dropped.
    Held {
        /// Lets go when dropped.
        _guard: Guard,
    },
    /// The lock cannot be had (a read-only git folder): the steps run without it.
    Without,
}

/// The steps lock, held; dropping it lets go.
pub(crate) struct Guard {
    app: Arc<App>,
    _lock: FileLock,
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.app.devcontainer().lock().steps_locked = false;
    }
}

impl Hold {
    /// Whether `next` may run as things are held.
    pub(crate) fn covers(&self, loaded: &Loaded, next: Option<Next>) -> bool {
        !needs(loaded, next) || !matches!(self, Hold::Free)
    }
}

/// Whether `next` is once per checkout (and so runs under the steps lock).
fn needs(loaded: &Loaded, next: Option<Next>) -> bool {
    match next {
        Some(Next::Extensions) => true,
        Some(Next::Step(i)) => loaded.commands[i].0.once_per_checkout(),
        None => false,
    }
}

/// Takes the steps lock when what runs next is once per checkout (then reads the kept
/// state again), lets go of it when not. `false` when the workspace stopped while
/// waiting: the lifecycle ends.
pub(crate) async fn hold(app: &Arc<App>, loaded: &Loaded, hold: &mut Hold) -> bool {
    let dc = app.devcontainer();
    loop {
        let wanted = needs(loaded, lifecycle::next(&dc.lock(), loaded));
        match (wanted, &*hold) {
            (true, Hold::Free) => {}
            (false, Hold::Held { .. }) => {
                *hold = Hold::Free;
                return true;
            }
            _ => return true,
        }
        let Some(places) = dc.lock().places.clone() else {
            *hold = Hold::Without;
            return true;
        };
        match take(app, places).await {
            Ok(Some((lock, kept))) => {
                let mut inner = dc.lock();
                inner.steps_locked = true;
                match kept {
                    Ok(kept) => inner.saved.absorb(&kept),
                    Err(error) => warn!(%error, "cannot read the devcontainer.json state again"),
                }
                drop(inner);
                *hold = Hold::Held {
                    _guard: Guard {
                        app: app.clone(),
                        _lock: lock,
                    },
                };
            }
            Ok(None) => {
                dc.lock().running = false;
                return false;
            }
            Err(error) => {
                warn!(%error, "no lock for the devcontainer.json steps; running them without");
                *hold = Hold::Without;
                return true;
            }
        }
    }
}

/// The steps lock and the state kept, read with it held; `None` when the workspace
/// stops while another launcher holds it.
async fn take(
    app: &App,
    places: saved::Places,
) -> std::io::Result<Option<(FileLock, std::io::Result<saved::Saved>)>> {
    let first = places.clone();
    let now = tokio::task::spawn_blocking(move || saved::lock_steps(&first, POLL, || false))
        .await
        .map_err(std::io::Error::other)??;
    let lock = match now {
        Some(lock) => lock,
        None => {
            let file = places.checkout.file();
            info!(state = %file.display(), "another launcher runs this checkout's steps; waiting");
            app.devcontainer().log().mark(WAITING).await;
            let draining = app.drain().watch();
            let wait = {
                let places = places.clone();
                move || saved::lock_steps(&places, POLL, || !*draining.borrow())
            };
            let waited = tokio::task::spawn_blocking(wait)
                .await
                .map_err(std::io::Error::other)??;
            match waited {
                Some(lock) => lock,
                None => return Ok(None),
            }
        }
    };
    let kept = tokio::task::spawn_blocking(move || saved::load(&places))
        .await
        .map_err(std::io::Error::other)?;
    Ok(Some((lock, kept)))
}
