//! Name resolution for upstream connections, with answers cached for a while: a
//! Knative workspace's upstream is a cluster-local service name, and resolving it
//! for every new connection costs a `getaddrinfo` on a blocking thread each time.
//!
//! IP literals never get here (the connector parses them). Failures are not cached.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use hyper_util::client::legacy::connect::dns::Name;

/// How long an answer is used.
pub const DEFAULT_TTL: Duration = Duration::from_secs(30);

/// At most this many names are remembered; beyond, expired ones are dropped first,
/// then everything.
const MAX_NAMES: usize = 4096;

/// Answers by name, each with when it was asked.
type Cache = Mutex<HashMap<String, (Instant, Vec<SocketAddr>)>>;

type Lookup = Arc<
    dyn Fn(String) -> Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>> + Send>>
        + Send
        + Sync,
>;

/// A resolver (a `tower::Service<Name>` for hyper-util's `HttpConnector`) that
/// remembers each answer for its TTL.
#[derive(Clone)]
pub struct CachedResolver {
    lookup: Lookup,
    ttl: Duration,
    cache: Arc<Cache>,
}

impl std::fmt::Debug for CachedResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedResolver")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl CachedResolver {
    /// The system resolver (`getaddrinfo` on a blocking thread), answers kept `ttl`.
    pub fn system(ttl: Duration) -> Self {
        Self::with_lookup(ttl, |host| {
            Box::pin(async move {
                tokio::task::spawn_blocking(move || {
                    (host.as_str(), 0)
                        .to_socket_addrs()
                        .map(Iterator::collect::<Vec<_>>)
                })
                .await
                .map_err(io::Error::other)?
            })
        })
    }

    /// A resolver asking `lookup` (tests count the questions).
    pub fn with_lookup<F>(ttl: Duration, lookup: F) -> Self
    where
        F: Fn(String) -> Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>> + Send>>
            + Send
            + Sync
            + 'static,
    {
        Self {
            lookup: Arc::new(lookup),
            ttl,
            cache: Arc::default(),
        }
    }

    fn cached(&self, host: &str, now: Instant) -> Option<Vec<SocketAddr>> {
        let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache
            .get(host)
            .filter(|(at, _)| now.saturating_duration_since(*at) < self.ttl)
            .map(|(_, addrs)| addrs.clone())
    }
}

fn remember(cache: &Cache, ttl: Duration, host: String, addrs: Vec<SocketAddr>) {
    let now = Instant::now();
    let mut cache = cache.lock().unwrap_or_else(|p| p.into_inner());
    if cache.len() >= MAX_NAMES {
        cache.retain(|_, (at, _)| now.saturating_duration_since(*at) < ttl);
        if cache.len() >= MAX_NAMES {
            cache.clear();
        }
    }
    cache.insert(host, (now, addrs));
}

/// The addresses of a name.
pub type Addrs = std::vec::IntoIter<SocketAddr>;

impl tower_service::Service<Name> for CachedResolver {
    type Response = Addrs;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<Addrs>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let host = name.as_str().to_owned();
        if let Some(addrs) = self.cached(&host, Instant::now()) {
            return Box::pin(std::future::ready(Ok(addrs.into_iter())));
        }
        let (lookup, cache, ttl) = (self.lookup.clone(), self.cache.clone(), self.ttl);
        Box::pin(async move {
            let addrs = lookup(host.clone()).await?;
            if addrs.is_empty() {
                return Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("{host} has no address"),
                ));
            }
            remember(&cache, ttl, host, addrs.clone());
            Ok(addrs.into_iter())
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tower_service::Service;

    use super::*;

    fn counting(ttl: Duration) -> (CachedResolver, Arc<AtomicUsize>) {
        let asked = Arc::new(AtomicUsize::new(0));
        let count = asked.clone();
        let resolver = CachedResolver::with_lookup(ttl, move |host| {
            count.fetch_add(1, Ordering::SeqCst);
            Box::pin(async move {
                match host.as_str() {
                    "ws.ns.svc.cluster.local" => Ok(vec![SocketAddr::from(([127, 0, 0, 1], 0))]),
                    _ => Err(io::Error::new(io::ErrorKind::NotFound, "no such name")),
                }
            })
        });
        (resolver, asked)
    }

    fn name(s: &str) -> Name {
        s.parse().expect("name")
    }

    #[tokio::test]
    async fn answers_are_reused_within_their_ttl_and_failures_are_not_kept() {
        let (mut resolver, asked) = counting(Duration::from_secs(60));
        for _ in 0..5 {
            let addrs: Vec<_> = resolver
                .call(name("ws.ns.svc.cluster.local"))
                .await
                .expect("resolves")
                .collect();
            assert_eq!(addrs, [SocketAddr::from(([127, 0, 0, 1], 0))]);
        }
        assert_eq!(asked.load(Ordering::SeqCst), 1, "asked once");
        assert!(resolver.call(name("missing.example")).await.is_err());
        assert!(resolver.call(name("missing.example")).await.is_err());
        assert_eq!(asked.load(Ordering::SeqCst), 3, "failures are asked again");
    }

    #[tokio::test]
    async fn expired_answers_are_asked_again() {
        let (mut resolver, asked) = counting(Duration::ZERO);
        for _ in 0..2 {
            resolver
                .call(name("ws.ns.svc.cluster.local"))
                .await
                .expect("resolves");
        }
        assert_eq!(asked.load(Ordering::SeqCst), 2);
    }
}
