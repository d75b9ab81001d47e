//! Readiness: the workspace's phase (checkout → starting the IDE → ready, or failed),
//! held in a [`Readiness`] cell, and the `GET /_dcs/ready` report built from it.
//!
//! The starter polls this endpoint: 200 only when the checkout is done and the IDE is
//! up and healthy, 503 otherwise. A failure carries a [`FailureKind`] so the proxy can
//! show the user a clear page (not found, refused, auth, network). While the
//! checkout runs, [`Progress`] says how far it is (for a live progress page). While
//! the IDE is being downloaded and installed the report's phase reads
//! `installing_ide` (within [`Phase::StartingIde`]). [`Readiness::subscribe`] tells of
//! every change (for [`crate::progress_push`]).
//!
//! **Held answers.** `GET /_dcs/ready?wait=<ms>` ([`wait_of`]) is answered when the
//! start moves on ([`ReadyReport::moved_on`]: it ended, or reached a new phase, or —
//! at most every [`PROGRESS_EVERY`] — its progress changed) or when `<ms>` passed, so
//! the local runtime learns of readiness the moment it happens, with one request per
//! step instead of a poll every few milliseconds.

use std::time::Duration;

use http::{HeaderValue, Response, StatusCode};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::body::Body;
use crate::error::{Error, FailureKind};
use crate::pages;

/// Where the workspace is in its start-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Cloning or fetching the repository.
    Checkout,
    /// The checkout is done; the IDE is starting (or is not healthy right now).
    StartingIde,
    /// The checkout is done and the IDE is up and healthy.
    Ready,
    /// Start-up stopped; `error` says why. The launcher keeps serving this report.
    Failed,
}

/// Why start-up failed, as shown in the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// Classification for the proxy.
    pub kind: FailureKind,
    /// A message for the user.
    pub message: String,
}

/// What the checkout is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// Waiting for another workspace that checks out into the same folder.
    Waiting,
    /// Cloning.
    Clone,
    /// Fetching into an existing checkout.
    Fetch,
}

/// How far the checkout is, in `/_dcs/ready`'s `progress`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// What it is doing.
    pub phase: Step,
    /// Bytes received so far (pack and the server's progress messages).
    pub received_bytes: u64,
    /// Objects received so far.
    pub objects_done: u64,
    /// Objects the server is sending (0 until it says).
    pub objects_total: u64,
    /// Objects indexed so far.
    pub objects_indexed: u64,
    /// A sentence for people, if there is something to say.
    pub note: Option<String>,
}

/// The body of `GET /_dcs/ready`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "Wire", from = "Wire")]
pub struct ReadyReport {
    /// Current phase.
    pub phase: Phase,
    /// Within [`Phase::StartingIde`]: the IDE is being installed (the report's
    /// `phase` then reads `installing_ide`).
    pub installing_ide: bool,
    /// True exactly when the response status is 200.
    pub ready: bool,
    /// Set when `phase` is `failed`.
    pub error: Option<Failure>,
    /// Something the user should know that did not stop the workspace (e.g. the fetch
    /// failed and the existing checkout is used as it is).
    pub warning: Option<String>,
    /// How far the checkout is, while it runs.
    pub progress: Option<Progress>,
}

/// [`ReadyReport`] as it is sent: the phase, with `installing_ide` spelled out.
#[derive(Serialize, Deserialize)]
struct Wire {
    phase: WirePhase,
    ready: bool,
    error: Option<Failure>,
    warning: Option<String>,
    progress: Option<Progress>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum WirePhase {
    Checkout,
    InstallingIde,
    StartingIde,
    Ready,
    Failed,
}

impl From<ReadyReport> for Wire {
    fn from(r: ReadyReport) -> Self {
        let phase = match r.phase {
            Phase::Checkout => WirePhase::Checkout,
            Phase::StartingIde if r.installing_ide => WirePhase::InstallingIde,
            Phase::StartingIde => WirePhase::StartingIde,
            Phase::Ready => WirePhase::Ready,
            Phase::Failed => WirePhase::Failed,
        };
        Self {
            phase,
            ready: r.ready,
            error: r.error,
            warning: r.warning,
            progress: r.progress,
        }
    }
}

impl From<Wire> for ReadyReport {
    fn from(w: Wire) -> Self {
        let (phase, installing_ide) = match w.phase {
            WirePhase::Checkout => (Phase::Checkout, false),
            WirePhase::InstallingIde => (Phase::StartingIde, true),
            WirePhase::StartingIde => (Phase::StartingIde, false),
            WirePhase::Ready => (Phase::Ready, false),
            WirePhase::Failed => (Phase::Failed, false),
        };
        Self {
            phase,
            installing_ide,
            ready: w.ready,
            error: w.error,
            warning: w.warning,
            progress: w.progress,
        }
    }
}

#[derive(Debug, Clone)]
struct State {
    phase: Phase,
    installing_ide: bool,
    error: Option<Failure>,
    warning: Option<String>,
    progress: Option<Progress>,
}

/// The shared, observable start-up state.
#[derive(Debug)]
pub struct Readiness {
    state: watch::Sender<State>,
}

impl Default for Readiness {
    fn default() -> Self {
        Self::new()
    }
}

impl Readiness {
    /// Starts in [`Phase::Checkout`] with no error or warning.
    pub fn new() -> Self {
        let (state, _) = watch::channel(State {
            phase: Phase::Checkout,
            installing_ide: false,
            error: None,
            warning: None,
            progress: None,
        });
        Self { state }
    }

    /// Moves to `phase`. A failed workspace stays failed.
    pub fn set_phase(&self, phase: Phase) {
        self.state.send_modify(|s| {
            if s.phase != Phase::Failed {
                s.phase = phase;
                s.installing_ide = false;
            }
        });
    }

    /// Says the IDE is being installed (until the next phase).
    pub fn installing_ide(&self) {
        self.state.send_modify(|s| {
            if s.phase == Phase::StartingIde {
                s.installing_ide = true;
            }
        });
    }

    /// Tells of every change from now on.
    pub fn subscribe(&self) -> Changes {
        Changes(self.state.subscribe())
    }

    /// Records `err` and moves to [`Phase::Failed`].
    pub fn fail(&self, err: &Error) {
        let failure = Failure {
            kind: err.failure_kind(),
            message: err.to_string(),
        };
        self.state.send_modify(|s| {
            s.phase = Phase::Failed;
            s.error = Some(failure);
        });
    }

    /// Records a warning shown alongside the phase.
    pub fn warn(&self, warning: String) {
        self.state.send_modify(|s| s.warning = Some(warning));
    }

    /// Records how far the checkout is (`None` once it is done).
    pub fn set_progress(&self, progress: Option<Progress>) {
        self.state.send_modify(|s| s.progress = progress);
    }

    /// The current phase.
    pub fn phase(&self) -> Phase {
        self.state.borrow().phase
    }

    /// The report, given whether the running IDE (if any) answers its health check.
    pub fn report(&self, ide_healthy: bool) -> ReadyReport {
        let s = self.state.borrow().clone();
        let phase = match s.phase {
            Phase::Ready if !ide_healthy => Phase::StartingIde,
            p => p,
        };
        ReadyReport {
            phase,
            installing_ide: phase == Phase::StartingIde && s.installing_ide,
            ready: phase == Phase::Ready,
            error: s.error,
            warning: s.warning,
            progress: s.progress,
        }
    }
}

/// Changes of a [`Readiness`] ([`Readiness::subscribe`]).
#[derive(Debug)]
pub struct Changes(watch::Receiver<State>);

impl Changes {
    /// Waits for the next change; `false` once the [`Readiness`] is gone.
    pub async fn changed(&mut self) -> bool {
        self.0.changed().await.is_ok()
    }
}

/// Progress alone answers a held report only this long after it was asked for: a
/// page following the clone sees it move, without a request per transfer callback.
pub const PROGRESS_EVERY: Duration = Duration::from_millis(250);

/// While only the IDE's health is missing, how often a held report looks again (the
/// health is asked, not told).
pub const HEALTH_EVERY: Duration = Duration::from_millis(10);

/// The `wait` of a `/_dcs/ready` query: zero without one, at most
/// [`dcs_model::env::READY_MAX_WAIT_MS`]; `Err` when it is not a number of
/// milliseconds.
pub fn wait_of(query: Option<&str>) -> std::result::Result<Duration, String> {
    match dcs_net::query::take(query, "wait").0 {
        None => Ok(Duration::ZERO),
        Some(ms) => ms
            .parse::<u64>()
            .map(|ms| Duration::from_millis(ms.min(dcs_model::env::READY_MAX_WAIT_MS)))
            .map_err(|_| format!("wait must be a number of milliseconds, not {ms:?}")),
    }
}

impl ReadyReport {
    /// Whether the start ended (ready, or failed): nothing more to wait for.
    pub fn is_final(&self) -> bool {
        self.ready || self.phase == Phase::Failed
    }

    /// Whether `self`, seen `held` after `first` was, answers a held request: the
    /// start ended or reached another phase, or its progress changed and
    /// [`PROGRESS_EVERY`] passed.
    pub fn moved_on(&self, first: &ReadyReport, held: Duration) -> bool {
        self.is_final()
            || self.phase != first.phase
            || self.installing_ide != first.installing_ide
            || (self.progress != first.progress && held >= PROGRESS_EVERY)
    }
}

/// The `/_dcs/ready` response for `report`; `waited` is how long the request was
/// willing to wait (said in [`dcs_model::env::READY_WAIT_HEADER`]).
pub fn respond(report: &ReadyReport, waited: Option<Duration>) -> Response<Body> {
    let status = if report.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let value = serde_json::to_value(report).unwrap_or(serde_json::Value::Null);
    let mut resp = pages::json(status, &value);
    if let Some(waited) = waited {
        resp.headers_mut().insert(
            dcs_model::env::READY_WAIT_HEADER,
            HeaderValue::from(waited.as_millis() as u64),
        );
    }
    resp
}

#[cfg(test)]
mod tests;
