//! Name lookups for the egress proxy, bounded: the workspaces choose the names, and
//! `getaddrinfo` blocks a thread of tokio's blocking pool (the one the whole proxy
//! uses for state saves and `/proc` reads) for as long as DNS takes to answer, or
//! never answers. A timeout drops the waiting future, not the thread, so a
//! [`Lookups`] bounds the lookups under way across all workspaces: each holds a
//! permit inside its blocking work, released only when the lookup really ends; a
//! lookup that gets no permit in time fails with [`Busy`] (a 503). A failed lookup
//! is remembered for [`FAILURE_TTL`], so a name whose DNS does not answer is not
//! asked again at once. Answers are cached by [`CachedResolver`]. Each workspace
//! has a share of its own too ([`PER_WORKSPACE`], held the same way: see
//! `super::connect`), so one cannot take every place.

use std::collections::HashMap;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dcs_net::dns::CachedResolver;
use tokio::sync::Semaphore;

/// Name lookups under way at once, across all workspaces.
pub const MAX_LOOKUPS: usize = 16;

/// Name lookups one workspace may have under way at once: a quarter of
/// [`MAX_LOOKUPS`], so that a workspace resolving names whose DNS never answers
/// leaves the others theirs.
pub const PER_WORKSPACE: usize = MAX_LOOKUPS / 4;

/// How long a lookup waits for its turn before it fails with [`Busy`].
pub const LOOKUP_WAIT: Duration = Duration::from_secs(5);

/// How long a failed lookup's answer is reused.
pub const FAILURE_TTL: Duration = Duration::from_secs(5);

/// At most this many failed names are remembered; beyond, expired ones are dropped
/// first, then everything.
const MAX_FAILED: usize = 4096;

/// Every lookup slot was taken for [`LOOKUP_WAIT`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too many name lookups under way; try again in a moment")]
pub struct Busy;

/// A failed lookup: when, and its error's kind and text.
type Failed = (Instant, io::ErrorKind, String);

/// The bound on name lookups under way, and the failures remembered. Clones share
/// both.
#[derive(Debug, Clone)]
pub struct Lookups {
    permits: Arc<Semaphore>,
    max: usize,
    wait: Duration,
    failure_ttl: Duration,
    failed: Arc<Mutex<HashMap<String, Failed>>>,
}

impl Lookups {
    /// At most `max` lookups under way (at least one), each waiting up to
    /// [`LOOKUP_WAIT`] for its turn; failures remembered [`FAILURE_TTL`].
    pub fn new(max: usize) -> Self {
        let max = max.max(1);
        Self {
            permits: Arc::new(Semaphore::new(max)),
            max,
            wait: LOOKUP_WAIT,
            failure_ttl: FAILURE_TTL,
            failed: Arc::default(),
        }
    }

    /// Sets how long a lookup waits for its turn (default [`LOOKUP_WAIT`]).
    pub fn with_wait(mut self, wait: Duration) -> Self {
        self.wait = wait;
        self
    }

    /// Sets how long a failure is remembered (default [`FAILURE_TTL`]; zero: not).
    pub fn with_failure_ttl(mut self, ttl: Duration) -> Self {
        self.failure_ttl = ttl;
        self
    }

    /// Lookups under way now (their blocking work not yet ended).
    pub fn in_flight(&self) -> usize {
        self.max.saturating_sub(self.permits.available_permits())
    }

    /// The system resolver (`getaddrinfo`) under this bound, answers kept `ttl`.
    pub fn system(&self, ttl: Duration) -> CachedResolver {
        self.resolver(ttl, |host| {
            (host, 0).to_socket_addrs().map(Iterator::collect::<Vec<_>>)
        })
    }

    /// A resolver running the blocking `lookup` on tokio's blocking pool under this
    /// bound, answers kept `ttl` (tests inject their `lookup`).
    pub fn resolver<F>(&self, ttl: Duration, lookup: F) -> CachedResolver
    where
        F: Fn(&str) -> io::Result<Vec<SocketAddr>> + Send + Sync + 'static,
    {
        let (lookups, lookup) = (self.clone(), Arc::new(lookup));
        CachedResolver::with_lookup(ttl, move |host| {
            let (lookups, lookup) = (lookups.clone(), lookup.clone());
            Box::pin(async move { lookups.run(host, lookup).await })
        })
    }

    /// Looks `host` up once a permit is had; the permit goes into the blocking work
    /// and is dropped only when it ends, whether or not anyone still waits for it.
    async fn run<F>(self, host: String, lookup: Arc<F>) -> io::Result<Vec<SocketAddr>>
    where
        F: Fn(&str) -> io::Result<Vec<SocketAddr>> + Send + Sync + 'static,
    {
        if let Some(err) = self.failure(&host) {
            return Err(err);
        }
        let permit =
            match tokio::time::timeout(self.wait, self.permits.clone().acquire_owned()).await {
                Ok(Ok(permit)) => permit,
                // The semaphore is never closed; a timeout is the only way here.
                Ok(Err(_)) | Err(_) => return Err(io::Error::other(Busy)),
            };
        // Another lookup of the name may have failed while this one waited.
        if let Some(err) = self.failure(&host) {
            return Err(err);
        }
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let answer = lookup(&host);
            match &answer {
                Err(err) => self.remember(host, err.kind(), err.to_string()),
                Ok(addrs) if addrs.is_empty() => self.remember(
                    host.clone(),
                    io::ErrorKind::NotFound,
                    format!("{host} has no address"),
                ),
                Ok(_) => {}
            }
            answer
        })
        .await
        .map_err(io::Error::other)?
    }

    /// The failure remembered for `host`, while it is fresh.
    fn failure(&self, host: &str) -> Option<io::Error> {
        let failed = self.failed.lock().unwrap_or_else(|p| p.into_inner());
        failed
            .get(host)
            .filter(|(at, _, _)| at.elapsed() < self.failure_ttl)
            .map(|(_, kind, text)| io::Error::new(*kind, text.clone()))
    }

    fn remember(&self, host: String, kind: io::ErrorKind, text: String) {
        if self.failure_ttl.is_zero() {
            return;
        }
        let now = Instant::now();
        let mut failed = self.failed.lock().unwrap_or_else(|p| p.into_inner());
        if failed.len() >= MAX_FAILED {
            let ttl = self.failure_ttl;
            failed.retain(|_, (at, _, _)| now.saturating_duration_since(*at) < ttl);
            if failed.len() >= MAX_FAILED {
                failed.clear();
            }
        }
        failed.insert(host, (now, kind, text));
    }
}

/// Whether `err` is a lookup that got no turn ([`Busy`]).
pub(super) fn busy(err: &io::Error) -> bool {
    err.get_ref().is_some_and(|inner| inner.is::<Busy>())
}
