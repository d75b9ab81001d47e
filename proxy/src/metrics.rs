//! Prometheus metrics of the proxy, rendered in the OpenMetrics text format at `/metrics`.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// The proxy's metrics.
pub struct Metrics {
    registry: Registry,
    /// Workspace starts that succeeded.
    pub starts: Counter,
    /// Workspace starts that failed.
    pub start_failures: Counter,
    /// Seconds from first request to a ready workspace.
    pub start_seconds: Histogram,
    /// Workspaces stopped for being idle.
    pub idle_stops: Counter,
    /// Workspaces the activator currently routes to.
    pub running: Gauge,
    /// Requests answered, by status class (`2xx`, `4xx`, …).
    pub requests: Family<Vec<(String, String)>, Counter>,
    /// WebSocket (and other upgrade) tunnels opened.
    pub upgrades: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("dcs");
        let starts = Counter::default();
        let start_failures = Counter::default();
        let start_seconds = Histogram::new(exponential_buckets(0.05, 2.0, 14));
        let idle_stops = Counter::default();
        let running = Gauge::default();
        let requests = Family::default();
        let upgrades = Counter::default();
        registry.register(
            "workspace_starts",
            "Workspace starts that succeeded",
            starts.clone(),
        );
        registry.register(
            "workspace_start_failures",
            "Workspace starts that failed",
            start_failures.clone(),
        );
        registry.register(
            "workspace_start_seconds",
            "Time to a ready workspace",
            start_seconds.clone(),
        );
        registry.register(
            "workspace_idle_stops",
            "Workspaces stopped for idleness",
            idle_stops.clone(),
        );
        registry.register(
            "workspaces_running",
            "Workspaces being routed to",
            running.clone(),
        );
        registry.register(
            "requests",
            "Requests answered by status class",
            requests.clone(),
        );
        registry.register(
            "upgrades",
            "Upgraded connections tunnelled",
            upgrades.clone(),
        );
        Self {
            registry,
            starts,
            start_failures,
            start_seconds,
            idle_stops,
            running,
            requests,
            upgrades,
        }
    }
}

impl Metrics {
    /// Counts one answered request.
    pub fn count_request(&self, status: http::StatusCode) {
        let class = format!("{}xx", status.as_u16() / 100);
        self.requests
            .get_or_create(&vec![("code".to_owned(), class)])
            .inc();
    }

    /// The text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters() {
        let m = Metrics::default();
        m.starts.inc();
        m.count_request(http::StatusCode::NOT_FOUND);
        let text = m.render();
        assert!(text.contains("dcs_workspace_starts_total 1"), "{text}");
        assert!(
            text.contains("dcs_requests_total{code=\"4xx\"} 1"),
            "{text}"
        );
    }
}
