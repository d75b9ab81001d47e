//! Why a workspace runs or is about to stop: the launcher's answer to
//! `GET /_dcs/idle` ([`IdleReport`]), shown again by `GET /api/status` and
//! `dcs status`, and the bodies of the endpoints that feed the launcher's clock
//! (`POST /_dcs/activity`, `POST /_dcs/keepalive`,
//! `POST /api/instances/{id}/keepalive`). The shape is stable: the page script of the
//! IDE's warning polls it.

use serde::{Deserialize, Serialize};

/// The launcher's idle clock, as `GET /_dcs/idle` reports it. Times are unix
/// seconds (UTC).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IdleReport {
    /// The launcher's clock now (compare `stop_at` and `warn_at` with it, not with
    /// your own clock).
    pub now: u64,
    /// Seconds without use after which the workspace stops.
    pub idle_timeout_s: u64,
    /// Seconds of warning before the stop.
    pub warning_s: u64,
    /// Seconds watched work and keep-alives may hold it past the last input (0:
    /// never).
    pub busy_max_s: u64,
    /// The last human input, if any since the launcher started.
    pub last_input: Option<LastInput>,
    /// Work holding the workspace now (a busy terminal, the start itself).
    pub active_work: Vec<ActiveWork>,
    /// Until when a declared keep-alive holds it, if one does.
    pub keepalive_until: Option<u64>,
    /// Open WebSockets (IDE connections, terminals).
    pub open_connections: u64,
    /// When it stops unless used before; `None` while work holds it.
    pub stop_at: Option<u64>,
    /// When the IDE shows its warning; `None` while work holds it.
    pub warn_at: Option<u64>,
    /// Why it is not stopped now, for a person; `None` once `stop_at` passed.
    pub reason_not_stopping: Option<String>,
    /// When someone asked for a stop (the IDE warning's Stop now, the home page's
    /// Stop, `POST /api/instances/{id}/stop`, through any proxy replica) that no
    /// input or keep-alive has followed: the stop is due, `stop_at` is that time and
    /// every replica stops it. `None` otherwise (and from launchers before it).
    #[serde(default)]
    pub stop_requested_at: Option<u64>,
}

/// When and how the workspace was last used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LastInput {
    /// Unix seconds.
    pub at: u64,
    /// What kind of input: `key`, `pointer`, `scroll`, `focus`, `keep-working`,
    /// `terminal`, `request`, `start`.
    pub kind: String,
}

/// One piece of work that holds the workspace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ActiveWork {
    /// What: `terminal`, `start`, `upload`, `devcontainer` (a lifecycle step).
    pub what: String,
    /// Which, for a person (e.g. `pid 4242: make test (output)`).
    pub detail: String,
}

/// `POST /_dcs/activity` body: a person did something in the page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActivityBeacon {
    /// One of [`ActivityBeacon::KINDS`].
    pub kind: String,
    /// How long before the beacon the input happened, in milliseconds: a page sends
    /// a burst's last input when its throttle period ends (at most
    /// [`ActivityBeacon::MAX_AGO_MS`] counts).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub ago_ms: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl ActivityBeacon {
    /// The kinds of input a page reports; `keep-working` is the warning's button.
    pub const KINDS: &'static [&'static str] =
        &["key", "pointer", "scroll", "focus", "keep-working"];

    /// The longest `ago_ms` taken as it is (a page's throttle period is 30 s).
    pub const MAX_AGO_MS: u64 = 60_000;

    /// When the input happened, for a beacon received at `now` (milliseconds).
    pub fn input_at(&self, now: u64) -> u64 {
        now.saturating_sub(self.ago_ms.min(Self::MAX_AGO_MS))
    }
}

/// `POST /_dcs/keepalive` and `POST /api/instances/{id}/keepalive` body: keep the
/// workspace running for `for_s` seconds whatever its use (at most the busy bound).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct KeepaliveRequest {
    /// Seconds from now; 0 ends a keep-alive.
    pub for_s: u64,
}
