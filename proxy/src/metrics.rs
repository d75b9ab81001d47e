//! Prometheus metrics of the proxy, rendered in the OpenMetrics text format at `/metrics`.
//!
//! `dcs_workspaces{state}` counts the workspaces the runtime knows by state (from
//! Knative's watch cache, or the local runtime's table): whoever lists them
//! regularly (the idle reaper) reports the list with [`Metrics::set_workspaces`].
//! `dcs_tunnels_open` counts open upgraded connections: each tunnel holds a
//! [`TunnelGuard`] from [`Metrics::tunnel_opened`] while it lives.
//! `dcs_idle_stops_total{reason}` counts idle stops by why ([`IDLE_STOP_REASONS`]).
//! `dcs_upstream_seconds` and `dcs_upstream_errors_total{kind}` time and count
//! exchanges with workspaces ([`UPSTREAM_ERRORS`]); `dcs_outpost_seconds` and
//! `dcs_outpost_errors_total{kind}` the sign-in checks asked of the Authentik
//! outpost ([`OUTPOST_ERRORS`]).
//! `dcs_workspace_start_seconds{phase}` says when successful starts reached each
//! phase the progress page shows, `ready` being the whole start
//! ([`Metrics::observe_start`]).

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::runtime::Status;

/// The states `dcs_workspaces{state}` reports, always all of them.
pub const WORKSPACE_STATES: &[&str] = &["starting", "running", "stopped", "failed"];

/// The reasons `dcs_idle_stops_total{reason}` reports, always all of them: nobody
/// used it for the idle timeout; watched work or a keep-alive ran past the busy
/// limit; its launcher could not be asked and no request passed this proxy for the
/// idle timeout; someone asked for the stop through another replica (its launcher
/// said so), and this one carried it out.
pub const IDLE_STOP_REASONS: &[&str] = &["idle", "busy_max", "unanswered", "requested"];

/// The kinds `dcs_upstream_errors_total{kind}` reports, always all of them: nothing
/// listened, the connection was reset, the proxy ran out of descriptors or ports,
/// connecting timed out, the name did not resolve, the answer did not begin within
/// the upstream timeout, anything else.
pub const UPSTREAM_ERRORS: &[&str] = &[
    "refused",
    "reset",
    "exhausted",
    "timeout",
    "resolve",
    "closed",
    "stalled",
    "other",
];

/// The [`UPSTREAM_ERRORS`] label of a failed exchange of that kind (`stalled` is
/// the proxy's own: no answer within the upstream timeout).
pub fn upstream_kind(kind: dcs_net::upstream::Kind) -> &'static str {
    use dcs_net::upstream::Kind;
    match kind {
        Kind::Refused => "refused",
        Kind::Reset => "reset",
        Kind::Exhausted => "exhausted",
        Kind::Timeout => "timeout",
        Kind::Resolve => "resolve",
        Kind::Closed => "closed",
        Kind::Other => "other",
    }
}

/// The kinds `dcs_outpost_errors_total{kind}` reports, always all of them: not
/// reachable, an answer that is neither 200 nor 401, no answer in time.
pub const OUTPOST_ERRORS: &[&str] = &["unreachable", "status", "timeout"];

/// Histograms by label set, made with the same buckets.
pub type HistogramFamily = Family<Vec<(String, String)>, Histogram, fn() -> Histogram>;

/// The proxy's metrics.
pub struct Metrics {
    registry: Registry,
    /// Workspace starts that succeeded.
    pub starts: Counter,
    /// Workspace starts that failed.
    pub start_failures: Counter,
    /// Seconds from the start's beginning to each of its phases, `ready` last.
    pub start_seconds: HistogramFamily,
    /// Workspaces stopped for being idle.
    pub idle_stops: Counter,
    /// Workspaces the activator currently routes to.
    pub running: Gauge,
    /// Requests answered, by status class (`2xx`, `4xx`, …).
    pub requests: Family<Vec<(String, String)>, Counter>,
    /// `requests`' counters of the classes 1xx–5xx, looked up once: every request
    /// is counted, and a look-up in the family formats and hashes its label.
    request_classes: [Counter; 5],
    /// WebSocket (and other upgrade) tunnels opened.
    pub upgrades: Counter,
    /// Of those, the ones that were streams of a launcher's HTTP/2 connection.
    pub upgrade_streams: Counter,
    /// Workspaces known to the runtime, by state.
    pub workspaces: Family<Vec<(String, String)>, Gauge>,
    /// Upgraded connections open now.
    pub tunnels_open: Gauge,
    /// Workspaces this replica keeps an activity record for (set when scraped).
    pub tracked: Gauge,
    /// Idle stops by reason ([`IDLE_STOP_REASONS`]).
    pub idle_stops_by_reason: Family<Vec<(String, String)>, Counter>,
    /// Seconds until a workspace's answer began.
    pub upstream_seconds: Histogram,
    /// Failed exchanges with workspaces, by kind ([`UPSTREAM_ERRORS`]).
    pub upstream_errors: Family<Vec<(String, String)>, Counter>,
    /// Seconds a sign-in check by the outpost took.
    pub outpost_seconds: Histogram,
    /// Sign-in checks the outpost gave no answer to, by kind ([`OUTPOST_ERRORS`]).
    pub outpost_errors: Family<Vec<(String, String)>, Counter>,
    /// Sandboxes' way out: connections by outcome, and open now.
    pub egress: crate::egress::EgressCounts,
}

/// The status classes counted without a look-up (see `request_classes`).
const REQUEST_CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

/// A counter family with every label of `kinds` present (at zero).
pub(crate) fn by_kind(label: &str, kinds: &[&str]) -> Family<Vec<(String, String)>, Counter> {
    let family = Family::<Vec<(String, String)>, Counter>::default();
    for kind in kinds {
        let _ = family.get_or_create(&vec![(label.to_owned(), (*kind).to_owned())]);
    }
    family
}

/// Counts one open tunnel in `dcs_tunnels_open` (or another gauge of open
/// connections) until dropped.
#[derive(Debug)]
pub struct TunnelGuard(Gauge);

impl TunnelGuard {
    /// One more open in `gauge`, until the guard is dropped.
    pub fn counting(gauge: &Gauge) -> Self {
        gauge.inc();
        Self(gauge.clone())
    }
}

impl Drop for TunnelGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("dcs");
        let starts = Counter::default();
        let start_failures = Counter::default();
        let start_seconds: HistogramFamily =
            Family::new_with_constructor(|| Histogram::new(exponential_buckets(0.05, 2.0, 14)));
        let idle_stops = Counter::default();
        let running = Gauge::default();
        let requests = by_kind("code", &REQUEST_CLASSES);
        let request_classes = REQUEST_CLASSES.map(|class| {
            requests
                .get_or_create(&vec![("code".to_owned(), class.to_owned())])
                .clone()
        });
        let upgrades = Counter::default();
        let upgrade_streams = Counter::default();
        let workspaces = Family::default();
        let tunnels_open = Gauge::default();
        let tracked = Gauge::default();
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
            "Time from a start's beginning to each of its phases (ready: the whole start)",
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
        registry.register(
            "upgrade_streams",
            "Upgraded connections tunnelled as streams of a launcher's HTTP/2 connection",
            upgrade_streams.clone(),
        );
        registry.register(
            "workspaces",
            "Workspaces known to the runtime, by state",
            workspaces.clone(),
        );
        registry.register(
            "tunnels_open",
            "Upgraded connections open now",
            tunnels_open.clone(),
        );
        registry.register(
            "workspaces_tracked",
            "Workspaces this replica keeps an activity record for",
            tracked.clone(),
        );
        let idle_stops_by_reason = by_kind("reason", IDLE_STOP_REASONS);
        registry.register(
            "idle_stops",
            "Idle stops by reason",
            idle_stops_by_reason.clone(),
        );
        let upstream_seconds = Histogram::new(exponential_buckets(0.000_5, 2.0, 16));
        registry.register(
            "upstream_seconds",
            "Time until a workspace's answer began",
            upstream_seconds.clone(),
        );
        let upstream_errors = by_kind("kind", UPSTREAM_ERRORS);
        registry.register(
            "upstream_errors",
            "Failed exchanges with workspaces, by kind",
            upstream_errors.clone(),
        );
        let outpost_seconds = Histogram::new(exponential_buckets(0.000_5, 2.0, 14));
        registry.register(
            "outpost_seconds",
            "Time a sign-in check by the Authentik outpost took",
            outpost_seconds.clone(),
        );
        let outpost_errors = by_kind("kind", OUTPOST_ERRORS);
        registry.register(
            "outpost_errors",
            "Sign-in checks the outpost gave no answer to, by kind",
            outpost_errors.clone(),
        );
        let egress = crate::egress::EgressCounts::default();
        registry.register(
            "egress_connections",
            "Connections sandboxes asked their way out for, by outcome",
            egress.connections.clone(),
        );
        registry.register(
            "egress_open",
            "Connections through sandboxes' way out open now",
            egress.open.clone(),
        );
        Self {
            registry,
            starts,
            start_failures,
            start_seconds,
            idle_stops,
            running,
            requests,
            request_classes,
            upgrades,
            upgrade_streams,
            workspaces,
            tunnels_open,
            tracked,
            idle_stops_by_reason,
            upstream_seconds,
            upstream_errors,
            outpost_seconds,
            outpost_errors,
            egress,
        }
    }
}

impl Metrics {
    /// Counts one answered request.
    pub fn count_request(&self, status: http::StatusCode) {
        let class = status.as_u16() / 100;
        if let Some(counter) = usize::from(class)
            .checked_sub(1)
            .and_then(|i| self.request_classes.get(i))
        {
            counter.inc();
        } else {
            // 6xx–9xx: valid codes, rare, with a series of their own.
            self.requests
                .get_or_create(&vec![("code".to_owned(), format!("{class}xx"))])
                .inc();
        }
    }

    /// Sets `dcs_workspaces{state}` from the runtime's list (every state, zeros
    /// included; workspaces it does not know are not counted).
    pub fn set_workspaces<'a>(&self, states: impl IntoIterator<Item = &'a Status>) {
        let mut counts = [0i64; 4];
        for status in states {
            let i = match status {
                Status::Starting => 0,
                Status::Running => 1,
                Status::Stopped => 2,
                Status::Failed { .. } => 3,
                Status::NotFound => continue,
            };
            counts[i] += 1;
        }
        for (state, n) in WORKSPACE_STATES.iter().zip(counts) {
            self.workspaces
                .get_or_create(&vec![("state".to_owned(), (*state).to_owned())])
                .set(n);
        }
    }

    /// Counts one idle stop for `reason` (one of [`IDLE_STOP_REASONS`]), in both
    /// `dcs_idle_stops_total{reason}` and `dcs_workspace_idle_stops_total`.
    pub fn idle_stop(&self, reason: &str) {
        self.idle_stops.inc();
        self.idle_stops_by_reason
            .get_or_create(&vec![("reason".to_owned(), reason.to_owned())])
            .inc();
    }

    /// Observes one successful start: when it reached each phase it was seen in.
    pub fn observe_start(&self, times: &crate::activator::phases::PhaseTimes) {
        for (phase, secs) in times.seen() {
            let Ok(serde_json::Value::String(name)) = serde_json::to_value(phase) else {
                continue;
            };
            self.start_seconds
                .get_or_create(&vec![("phase".to_owned(), name)])
                .observe(*secs);
        }
    }

    /// Counts one failed exchange with a workspace (`kind`: one of [`UPSTREAM_ERRORS`]).
    pub fn upstream_failed(&self, kind: &str) {
        self.upstream_errors
            .get_or_create(&vec![("kind".to_owned(), kind.to_owned())])
            .inc();
    }

    /// Counts one sign-in check the outpost gave no answer to (`kind`: one of
    /// [`OUTPOST_ERRORS`]).
    pub fn outpost_failed(&self, kind: &str) {
        self.outpost_errors
            .get_or_create(&vec![("kind".to_owned(), kind.to_owned())])
            .inc();
    }

    /// Counts a tunnel open until the guard is dropped.
    pub fn tunnel_opened(&self) -> TunnelGuard {
        TunnelGuard::counting(&self.tunnels_open)
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
mod tests;
