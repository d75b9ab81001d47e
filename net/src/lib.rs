//! `dcs-net`: the HTTP plumbing the proxy and the launcher share, each piece written
//! once so each rule about what crosses a hop lives in one place.
//!
//! # Layout
//! - [`accept`]: accepting connections (`TCP_NODELAY`, a 503 when descriptors run out).
//! - [`addr`]: addresses as text, cheaply (the peer's, in every request and log line).
//! - [`coarse_timer`]: timeouts kept to within a tick, cheap to arm and cancel per request.
//! - [`dns`]: name resolution with answers cached for a while.
//! - [`limits`]: the descriptor limit: raised at start, shortages told apart, tunnels capped.
//! - [`upstream`]: the pooled keep-alive client to upstreams, and upgrades' own connections.
//! - [`hop`]: hop-by-hop headers and upgrade detection.
//! - [`names`]: header names read on every request, parsed once.
//! - [`cookies`]: filtering `Cookie` headers, name patterns, confining `Set-Cookie`.
//! - [`escape`]: HTML escaping.
//! - [`extended_connect`]: an upgrade as an HTTP/2 stream on the hop to a launcher.
//! - [`pace`]: progress deadlines for streamed bodies.
//! - [`preview`]: the `/ports/<n>/` grammar and the marks of a preview hop.
//! - [`query`]: taking a credential out of a query string.
//! - [`tunnel`]: carrying an upgraded connection's bytes both ways.
//! - [`ws_classify`]: what a client sends on a WebSocket: a person's input or chatter.

pub mod accept;
pub mod addr;
pub mod coarse_timer;
pub mod cookies;
pub mod dns;
pub mod escape;
pub mod extended_connect;
pub mod hop;
pub mod limits;
pub mod names;
pub mod pace;
pub mod preview;
pub mod query;
pub mod tunnel;
pub mod upstream;
pub mod ws_classify;

/// Boxed error for bodies.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
