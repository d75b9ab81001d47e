//! The egress forward proxy of sandboxed local workspaces: their only way out.
//!
//! A bubblewrap sandbox has loopback only (`runtime::local::sandbox`). For each
//! sandboxed workspace the proxy serves an HTTP/1.1 forward proxy on a unix socket
//! in that workspace's run folder ([`serve`]); inside, the launcher forwards a
//! loopback port to it and sets `HTTP_PROXY`/`HTTPS_PROXY`, so `git push`,
//! `npm install`, `pip install` and `curl` work. The proxy, not the workspace,
//! resolves names and decides where a connection may go ([`Policy`]): public
//! internet addresses, and what the operator allows (`--sandbox-egress-allow`);
//! never loopback, private, link-local (cloud metadata), and the other special
//! ranges.
//!
//! - `CONNECT host:port`: a tunnel to the first admitted address that answers.
//! - `GET http://host[:port]/path` (absolute form): forwarded on a connection of
//!   its own, hop-by-hop headers and proxy credentials removed both ways, bodies
//!   streamed.
//! - Anything else: 400, saying what this endpoint is.
//!
//! Each workspace's connections are capped ([`Egress::max_connections`]); every
//! tunnel and plain-HTTP destination connection, of all workspaces, also takes two
//! descriptors' place in the proxy's process-wide gate ([`Egress::with_gate`]),
//! 503 when it is full; name lookups under way are bounded ([`lookup`]); a
//! request head is at most 64 KiB (431); a plain-HTTP destination has
//! [`RESPONSE_TIMEOUT`] to answer (504). A [`Serving`] dropped ends its accept loop
//! and every connection and tunnel of its workspace. Every answer that is not a
//! success says why in its status line too, since tools show a failed `CONNECT`'s
//! status line, never its body.
//!
//! # Layout
//! - [`policy`]: [`Mode`], [`Allow`], [`Policy::check`], [`is_public`].
//! - `serve`: the accept loop, the cap, dispatching a request by its form.
//! - `connect`: resolving, judging and connecting to a destination (refused when
//!   it turns out to be this machine, [`Policy::check_connected`]); the answers
//!   for each way that fails.
//! - [`lookup`]: name lookups, bounded ([`Lookups`]).
//! - `tunnel`: `CONNECT`; `forward`: plain HTTP.
//! - [`counts`]: connections by outcome and open now, for `/metrics`.

use std::sync::Arc;
use std::time::Duration;

use dcs_net::dns::CachedResolver;
use dcs_net::limits::TunnelGate;

mod connect;
pub mod counts;
mod forward;
pub mod lookup;
pub mod policy;
mod serve;
mod tunnel;

pub use counts::EgressCounts;
pub use lookup::Lookups;
pub use policy::{is_public, Allow, BadAllow, Class, Mode, Policy, Refused, Special, UnknownMode};
pub use serve::{serve, Serving};

/// How long a destination has to resolve, and then to accept the connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Connections one workspace may hold open at once (each holds at most two of the
/// proxy's descriptors: the workspace's and the destination's).
pub const MAX_CONNECTIONS: usize = 256;

/// How long a request's head may take to arrive (an idle keep-alive connection is
/// closed after it too).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a plain-HTTP destination has to answer (its response head), counted
/// from when the request's body was sent whole; a request body may stall as long.
pub const RESPONSE_TIMEOUT: Duration = Duration::from_secs(60);

/// The descriptors one tunnel or destination connection holds in the proxy: the
/// workspace's side and the destination's.
const DESCRIPTORS: u64 = 2;

/// The proxy this machine's own programs are told to use (`HTTPS_PROXY`,
/// `HTTP_PROXY`, either spelling), if any: the way out does not go through it.
pub fn machine_proxy() -> Option<String> {
    ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|v| !v.trim().is_empty()))
}

/// What every workspace's egress proxy shares: the policy, the resolver and the
/// limits. One per server, behind an [`Arc`].
#[derive(Debug)]
pub struct Egress {
    policy: Policy,
    resolver: CachedResolver,
    connect_timeout: Duration,
    max_connections: usize,
    header_read_timeout: Duration,
    response_timeout: Duration,
    gate: TunnelGate,
    counts: EgressCounts,
    lookups_per_workspace: usize,
}

impl Egress {
    /// `policy` with the system resolver (answers kept [`dcs_net::dns::DEFAULT_TTL`]),
    /// at most [`lookup::MAX_LOOKUPS`] lookups under way, a gate of its own and the
    /// default limits.
    pub fn new(policy: Policy) -> Self {
        let lookups = Lookups::new(lookup::MAX_LOOKUPS);
        Self::with_resolver(policy, lookups.system(dcs_net::dns::DEFAULT_TTL))
    }

    /// `policy` with `resolver` (tests inject their names; [`Lookups::resolver`]
    /// bounds its lookups), a gate of its own and the default limits.
    pub fn with_resolver(policy: Policy, resolver: CachedResolver) -> Self {
        Self {
            policy,
            resolver,
            connect_timeout: CONNECT_TIMEOUT,
            max_connections: MAX_CONNECTIONS,
            header_read_timeout: HEADER_READ_TIMEOUT,
            response_timeout: RESPONSE_TIMEOUT,
            gate: TunnelGate::new(),
            counts: EgressCounts::default(),
            lookups_per_workspace: lookup::PER_WORKSPACE,
        }
    }

    /// Counts every tunnel and destination connection (two descriptors each) in
    /// `gate`, the proxy's process-wide one (default: a gate of its own).
    pub fn with_gate(mut self, gate: TunnelGate) -> Self {
        self.gate = gate;
        self
    }

    /// Counts connections into `counts` (the proxy's `/metrics`; default: series of
    /// its own, shown nowhere).
    pub fn with_counts(mut self, counts: EgressCounts) -> Self {
        self.counts = counts;
        self
    }

    /// Sets how many name lookups one workspace may have under way (default
    /// [`lookup::PER_WORKSPACE`], at least one), so that no workspace takes every
    /// lookup the proxy runs at once.
    pub fn with_lookups_per_workspace(mut self, max: usize) -> Self {
        self.lookups_per_workspace = max.max(1);
        self
    }

    /// Sets how long resolving, then connecting, may take (default
    /// [`CONNECT_TIMEOUT`]).
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets the connections one workspace may hold open (default
    /// [`MAX_CONNECTIONS`]; at least one).
    pub fn with_max_connections(mut self, max: usize) -> Self {
        self.max_connections = max.max(1);
        self
    }

    /// Sets how long a request head may take (default [`HEADER_READ_TIMEOUT`]).
    pub fn with_header_read_timeout(mut self, timeout: Duration) -> Self {
        self.header_read_timeout = timeout;
        self
    }

    /// Sets how long a plain-HTTP destination has to answer (default
    /// [`RESPONSE_TIMEOUT`]).
    pub fn with_response_timeout(mut self, timeout: Duration) -> Self {
        self.response_timeout = timeout;
        self
    }
}

/// What one workspace's proxy needs in each of its tasks.
struct Ctx {
    egress: Arc<Egress>,
    workspace: Arc<str>,
    /// Cancelled when the workspace's [`Serving`] goes: every task ends.
    stop: tokio_util::sync::CancellationToken,
    /// This workspace's share of the name lookups under way
    /// ([`Egress::with_lookups_per_workspace`]), each held until its lookup ends.
    lookups: Arc<tokio::sync::Semaphore>,
}

impl Ctx {
    /// Runs `task` until it ends or the workspace's proxy stops.
    fn spawn<F>(&self, task: F)
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        tokio::spawn(self.stop.clone().run_until_cancelled_owned(task));
    }
}

#[cfg(test)]
mod tests;
