//! What every request handler shares.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use crate::activator::Activator;
use crate::auth::Authenticate;
use crate::metrics::Metrics;

/// Shared state of a running proxy.
pub struct AppState {
    /// The auth mode.
    pub auth: Arc<dyn Authenticate>,
    /// Wakes and scales workspaces.
    pub activator: Arc<Activator>,
    /// Prometheus metrics.
    pub metrics: Arc<Metrics>,
    /// Set once shutdown begins: `/readyz` turns 503 so balancers drain us.
    pub draining: AtomicBool,
}
