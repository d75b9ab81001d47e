//! Short stand-ins for upstream addresses, as the pool's key. hyper-util's pool keys
//! its connections by the request URI's scheme and authority, and hashes the
//! authority one byte at a time (SipHash, three times per request): ~3,100
//! instructions per request for `127.0.0.1:port`, ~8,000 for a Knative service name.
//! The pool is given `http://u<n>/…` instead, where `u<n>` stands for one upstream
//! address, and its connector ([`Connector`]) connects to the address it stands for.
//! The proxy's pool of unix-socket launchers uses a table of its own the same way
//! ([`Aliases::of_any`]: the address is the socket's path).
//!
//! An alias stands for one address for the life of the process (numbers are never
//! reused), so a pooled connection is never handed to a request for another
//! upstream. Aliases unused for [`FORGET_AFTER`] are forgotten once the table holds
//! [`PRUNE_ABOVE`] (a local launcher listens on a new port at every start); by then
//! the pool has closed their idle connections, and a request that asks again gets a
//! new alias.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http::uri::Authority;
use http::Uri;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tower_service::Service;

use crate::dns::CachedResolver;
use crate::BoxError;

/// How long an alias is kept unused (well above the pool's idle timeout).
pub const FORGET_AFTER: Duration = Duration::from_secs(600);

/// Aliases are pruned only when there are more than this many.
pub const PRUNE_ABOVE: usize = 1024;

/// The table of aliases, shared by the pool and its connector.
#[derive(Debug)]
pub struct Aliases {
    table: RwLock<Table>,
    epoch: Instant,
}

#[derive(Debug, Default)]
struct Table {
    by_address: HashMap<Box<str>, Entry>,
    by_number: HashMap<u64, Box<str>>,
    next: u64,
}

#[derive(Debug)]
struct Entry {
    alias: Authority,
    number: u64,
    /// Seconds since `epoch` of the last use.
    used: AtomicU64,
}

impl Default for Aliases {
    fn default() -> Self {
        Self {
            table: RwLock::new(Table::default()),
            epoch: Instant::now(),
        }
    }
}

impl Aliases {
    /// The alias standing for `address` (`host:port`), made on first use; `None` if
    /// `address` is not an authority.
    pub fn of(&self, address: &str) -> Option<Authority> {
        self.of_checked(address, |a| a.parse::<Authority>().is_ok())
    }

    /// The alias standing for `address`, whatever its form (a unix socket's path),
    /// made on first use.
    pub fn of_any(&self, address: &str) -> Option<Authority> {
        self.of_checked(address, |_| true)
    }

    /// The alias standing for `address`, made on first use if `valid` accepts it (it
    /// is asked only then: a known address costs one look-up).
    fn of_checked(&self, address: &str, valid: impl FnOnce(&str) -> bool) -> Option<Authority> {
        let now = self.epoch.elapsed().as_secs();
        {
            let table = self.table.read().unwrap_or_else(PoisonError::into_inner);
            if let Some(entry) = table.by_address.get(address) {
                entry.used.store(now, Ordering::Relaxed);
                return Some(entry.alias.clone());
            }
        }
        if !valid(address) {
            return None;
        }
        let mut table = self.table.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(entry) = table.by_address.get(address) {
            return Some(entry.alias.clone());
        }
        if table.by_address.len() >= PRUNE_ABOVE {
            table.forget_unused(now.saturating_sub(FORGET_AFTER.as_secs()));
        }
        let number = table.next;
        table.next += 1;
        let mut text = String::with_capacity(18);
        text.push('u');
        text.push_str(itoa::Buffer::new().format(number));
        let alias = Authority::try_from(text).ok()?;
        table.by_number.insert(number, address.into());
        table.by_address.insert(
            address.into(),
            Entry {
                alias: alias.clone(),
                number,
                used: AtomicU64::new(now),
            },
        );
        Some(alias)
    }

    /// The address `alias` (a host `u<n>`) stands for.
    pub fn address(&self, alias: &str) -> Option<Box<str>> {
        let number = alias.strip_prefix('u')?.parse::<u64>().ok()?;
        let table = self.table.read().unwrap_or_else(PoisonError::into_inner);
        table.by_number.get(&number).cloned()
    }

    /// How many aliases are known.
    pub fn len(&self) -> usize {
        let table = self.table.read().unwrap_or_else(PoisonError::into_inner);
        table.by_address.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Table {
    /// Forgets the aliases last used before `cutoff` (seconds since the epoch).
    fn forget_unused(&mut self, cutoff: u64) {
        let by_number = &mut self.by_number;
        self.by_address.retain(|_, entry| {
            let keep = entry.used.load(Ordering::Relaxed) >= cutoff;
            if !keep {
                by_number.remove(&entry.number);
            }
            keep
        });
    }
}

/// The pool's connector: connects to the address an alias stands for, through the
/// [`HttpConnector`] (cached DNS, connect timeout, `TCP_NODELAY`).
#[derive(Debug, Clone)]
pub struct Connector {
    pub(super) inner: HttpConnector<CachedResolver>,
    pub(super) aliases: Arc<Aliases>,
}

/// A connection being made.
type Connecting = Pin<Box<dyn Future<Output = Result<TokioIo<TcpStream>, BoxError>> + Send>>;

impl Service<Uri> for Connector {
    type Response = TokioIo<TcpStream>;
    type Error = BoxError;
    type Future = Connecting;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let target = uri
            .host()
            .and_then(|alias| self.aliases.address(alias))
            .and_then(|address| super::absolute(&address, &Uri::from_static("/")).ok());
        let Some(target) = target else {
            let unknown = format!("no upstream address for {uri}");
            return Box::pin(async move { Err(unknown.into()) });
        };
        let connecting = self.inner.call(target);
        Box::pin(async move { connecting.await.map_err(Into::into) })
    }
}

#[cfg(test)]
mod tests;
