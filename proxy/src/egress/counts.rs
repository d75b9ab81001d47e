//! What the way out did, for `/metrics`: connections opened, by outcome
//! (`dcs_egress_connections_total{outcome}`), and those open now
//! (`dcs_egress_open`). An operator watches `refused` for code trying to reach
//! what it may not (cloud metadata, the host's services), `overloaded` for the caps.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;

use super::connect::Failure;
use crate::metrics::{by_kind, TunnelGuard};

/// The outcomes counted, each present from the start.
pub const OUTCOMES: &[&str] = &["connected", "refused", "failed", "overloaded"];

/// The way out's series; clones count into the same ones.
#[derive(Debug, Clone)]
pub struct EgressCounts {
    /// Connections asked for, by outcome ([`OUTCOMES`]).
    pub connections: Family<Vec<(String, String)>, Counter>,
    /// Tunnels and destination connections open now.
    pub open: Gauge,
}

impl Default for EgressCounts {
    fn default() -> Self {
        Self {
            connections: by_kind("outcome", OUTCOMES),
            open: Gauge::default(),
        }
    }
}

/// A connection counted as open until dropped.
pub type Open = TunnelGuard;

impl EgressCounts {
    /// Counts one connection that opened; it is open until the value is dropped.
    pub(super) fn opened(&self) -> Open {
        self.count("connected");
        TunnelGuard::counting(&self.open)
    }

    /// Counts one connection that did not open, by why.
    pub(super) fn failed(&self, failure: &Failure) {
        self.count(match failure {
            Failure::Refused(_) => "refused",
            Failure::Exhausted | Failure::Full(_) | Failure::LookupsBusy => "overloaded",
            _ => "failed",
        });
    }

    /// Counts one connection turned away for the workspace's own cap.
    pub(super) fn over_cap(&self) {
        self.count("overloaded");
    }

    fn count(&self, outcome: &str) {
        self.connections
            .get_or_create(&vec![("outcome".to_owned(), outcome.to_owned())])
            .inc();
    }
}
