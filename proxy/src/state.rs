//! What every request handler shares.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use crate::activator::Activator;
use crate::auth::Authenticate;
use crate::config::ApiSettings;
use crate::instances::Registry;
use crate::metrics::Metrics;
use crate::policy::Policy;

/// Shared state of a running proxy.
pub struct AppState {
    /// The auth mode.
    pub auth: Arc<dyn Authenticate>,
    /// Wakes and scales workspaces.
    pub activator: Arc<Activator>,
    /// Prometheus metrics.
    pub metrics: Arc<Metrics>,
    /// Whether `/metrics` is served on its own address (`--metrics-listen`) and
    /// not on the main listener.
    pub metrics_elsewhere: bool,
    /// Whether launchers' progress pushes are taken on their own address
    /// (`--hop-listen`) and not on the main listener.
    pub pushes_elsewhere: bool,
    /// Who may open which repositories.
    pub policy: Policy,
    /// Where links pasted into the home page's box may point: the git base.
    pub links: dcs_model::repo::LinkBase,
    /// Management API settings (admin groups, bounds, cookie security).
    pub api: ApiSettings,
    /// Cache of API instances (id → owner and spec) for the token gate.
    pub instances: Registry,
    /// Limits on slow clients and stalled workspaces.
    pub limits: crate::config::Limits,
    /// How WebSockets reach a local launcher (`--websocket-streams`).
    pub websocket_streams: crate::config::hop::Streams,
    /// The edge's own rules (origins, hosts, start limits).
    pub edge: crate::config::Edge,
    /// Preview isolation and the credentials stripped at the edge.
    pub previews: crate::config::Previews,
    /// Each user's API creates, one at a time (see [`crate::quota`]).
    pub creates: crate::quota::Creates,
    /// Where users' own git credentials are kept (`/api/me/credentials`).
    pub credentials: Arc<dyn crate::api::credentials::CredentialStore>,
    /// Set once shutdown begins: `/readyz` turns 503 so balancers drain us.
    pub draining: AtomicBool,
    /// Set once anything asked `/readyz` (a kubelet, a balancer): at shutdown the
    /// proxy then goes on accepting for a while ([`crate::server::ANNOUNCE`]).
    pub readiness_asked: AtomicBool,
}
