//! The Authentik sessions that admitted this replica's open tunnels, so that none
//! outlives its session:
//! - a sign-out through this replica ends the session's tunnels here at once
//!   ([`Tunnels::end`]);
//! - every [`period`] the distinct sessions of the open tunnels are checked with
//!   the outpost again, one call per session, a few at a time; a session it answers
//!   401 or 403 for (signed out through another replica, revoked, its user
//!   deactivated) has its tunnels closed and its cache entry dropped. A transport
//!   error, a timeout or a 5xx closes nothing: unknown is not gone.
//!
//! Only tunnels are registered, once each when they open; plain requests never
//! come here. The credentials a session was checked with are kept in memory for
//! its re-checks while it has tunnels, and never shown (`Debug` is redacted). The
//! re-check task runs only while some tunnel is registered.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use http::header::{HeaderMap, HeaderValue, AUTHORIZATION, COOKIE};
use http::StatusCode;
use tokio::sync::watch;
use tracing::{info, warn};

use super::cache::{SessionCache, SessionKey};
use super::client::{Origin, OutpostClient, OutpostError, Verdict};
use crate::auth::Lease;
use crate::metrics::Metrics;

/// Shortest time between two re-checks of a session.
pub const MIN_PERIOD: Duration = Duration::from_secs(10);
/// The period when nothing is cached (`--auth-cache-ttl 0`).
pub const UNCACHED_PERIOD: Duration = Duration::from_secs(30);
/// Re-checks in flight at once.
const CONCURRENCY: usize = 8;

/// How often open tunnels' sessions are checked again: every `--auth-cache-ttl`
/// (the time a session revoked elsewhere keeps working for new requests), at least
/// [`MIN_PERIOD`]; [`UNCACHED_PERIOD`] when nothing is cached.
pub fn period(cache_ttl: Duration) -> Duration {
    if cache_ttl.is_zero() {
        UNCACHED_PERIOD
    } else {
        cache_ttl.max(MIN_PERIOD)
    }
}

/// What the outpost needs to check a session again. `Debug` shows nothing of it.
#[derive(Clone)]
struct Credentials {
    /// The `Cookie` and `Authorization` headers it was checked with.
    headers: HeaderMap,
    /// `X-Original-URL` of the request that opened the first tunnel.
    url: HeaderValue,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Credentials(<redacted>)")
    }
}

/// One session with open tunnels.
#[derive(Debug)]
struct Entry {
    /// Tells this entry apart from a later one under the same key.
    id: u64,
    credentials: Credentials,
    /// Open tunnels it admitted.
    open: usize,
    /// Set to `true` to close them.
    end: watch::Sender<bool>,
}

#[derive(Debug, Default)]
struct Table {
    sessions: HashMap<SessionKey, Entry>,
    /// Whether the re-check task is running.
    checking: bool,
    next_id: u64,
}

/// What the re-check task needs.
#[derive(Debug)]
struct Shared {
    client: OutpostClient,
    origin: Option<Origin>,
    cache: Arc<SessionCache>,
    metrics: Arc<Metrics>,
    period: Duration,
    table: Mutex<Table>,
}

/// The sessions of this replica's open tunnels.
#[derive(Debug)]
pub struct Tunnels {
    shared: Arc<Shared>,
}

/// One tunnel's place in its session's entry; leaving it forgets the tunnel.
struct Hold {
    shared: Arc<Shared>,
    key: SessionKey,
    id: u64,
}

impl fmt::Debug for Hold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hold").field("id", &self.id).finish()
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        let mut table = self.shared.lock();
        if let Some(entry) = table.sessions.get_mut(&self.key) {
            if entry.id == self.id {
                entry.open = entry.open.saturating_sub(1);
                if entry.open == 0 {
                    table.sessions.remove(&self.key);
                }
            }
        }
    }
}

impl Tunnels {
    /// A registry checking with `client` as `origin` every `period` (see
    /// [`period`]); an ended session also leaves `cache`.
    pub fn new(
        client: OutpostClient,
        origin: Option<Origin>,
        cache: Arc<SessionCache>,
        metrics: Arc<Metrics>,
        period: Duration,
    ) -> Self {
        Self {
            shared: Arc::new(Shared {
                client,
                origin,
                cache,
                metrics,
                period,
                table: Mutex::default(),
            }),
        }
    }

    /// Registers a tunnel of the session `key`, opened by a request with `headers`
    /// for `url`: the lease ends when the session does.
    pub fn admit(&self, key: SessionKey, headers: &HeaderMap, url: HeaderValue) -> Lease {
        let mut table = self.shared.lock();
        let id = table.next_id;
        let entry = table.sessions.entry(key).or_insert_with(|| Entry {
            id,
            credentials: Credentials {
                headers: credentials_of(headers),
                url,
            },
            open: 0,
            end: watch::channel(false).0,
        });
        entry.open += 1;
        let (rx, id) = (entry.end.subscribe(), entry.id);
        table.next_id += 1;
        if !table.checking {
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                table.checking = true;
                runtime.spawn(recheck(Arc::clone(&self.shared)));
            }
        }
        drop(table);
        let hold = Hold {
            shared: Arc::clone(&self.shared),
            key,
            id,
        };
        Lease::revocable(rx, Box::new(hold))
    }

    /// Closes the tunnels of the session `key` on this replica (a sign-out);
    /// returns how many were open.
    pub fn end(&self, key: &SessionKey) -> usize {
        self.shared.end(key)
    }

    /// Sessions with open tunnels here.
    pub fn sessions(&self) -> usize {
        self.shared.lock().sessions.len()
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Table> {
        // Every change leaves the table consistent, even one cut short by a panic.
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn end(&self, key: &SessionKey) -> usize {
        let entry = self.lock().sessions.remove(key);
        entry.map_or(0, |e| {
            e.end.send_replace(true);
            e.open
        })
    }

    /// The distinct sessions to check now, one each however many tunnels it has;
    /// `None` (and the re-check task stops) when there are none.
    fn due(&self) -> Option<Vec<(SessionKey, Credentials)>> {
        let mut table = self.lock();
        if table.sessions.is_empty() {
            // Under the lock [`Tunnels::admit`] takes: the next tunnel starts it again.
            table.checking = false;
            return None;
        }
        let due = table
            .sessions
            .iter()
            .map(|(k, e)| (*k, e.credentials.clone()))
            .collect();
        Some(due)
    }

    /// Whether the outpost says the session is gone (`Some(true)`), still there
    /// (`Some(false)`), or cannot say (`None`).
    async fn gone(&self, credentials: &Credentials) -> Option<bool> {
        let origin = self.origin.as_ref()?;
        let began = Instant::now();
        let checked = self
            .client
            .check(&credentials.headers, credentials.url.clone(), origin)
            .await;
        match &checked {
            Ok(_) => self
                .metrics
                .outpost_seconds
                .observe(began.elapsed().as_secs_f64()),
            Err(OutpostError::Status(StatusCode::FORBIDDEN)) => {}
            Err(e) => self.metrics.outpost_failed(e.kind()),
        }
        match checked {
            Ok(Verdict::Allowed(_)) => Some(false),
            Ok(Verdict::Denied) | Err(OutpostError::Status(StatusCode::FORBIDDEN)) => Some(true),
            Err(err) => {
                warn!(%err, "re-checking an open tunnel's session failed; it stays open");
                None
            }
        }
    }
}

/// Checks the sessions of the open tunnels every period, while there are any.
async fn recheck(shared: Arc<Shared>) {
    loop {
        tokio::time::sleep(shared.period).await;
        let Some(due) = shared.due() else {
            return;
        };
        let shared = &shared;
        futures_util::stream::iter(due)
            .map(|(key, credentials)| async move { (key, shared.gone(&credentials).await) })
            .buffer_unordered(CONCURRENCY)
            .for_each(|(key, gone)| async move {
                if gone == Some(true) {
                    shared.cache.remove(&key);
                    let closed = shared.end(&key);
                    info!(
                        tunnels = closed,
                        "a session ended at the sign-in service: its tunnels are closed"
                    );
                }
            })
            .await;
    }
}

/// The headers a check sends from `headers`: its cookies and `Authorization`.
fn credentials_of(headers: &HeaderMap) -> HeaderMap {
    let mut kept = HeaderMap::new();
    for name in [COOKIE, AUTHORIZATION] {
        for v in headers.get_all(&name) {
            kept.append(name.clone(), v.clone());
        }
    }
    kept
}

#[cfg(test)]
#[path = "tunnels/tests.rs"]
mod tests;
