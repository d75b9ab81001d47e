//! The workspace's idle clock: whether anybody uses this workspace, decided here
//! because every request of the workspace passes this front, whichever proxy replica
//! forwarded it. The proxies ask (`GET /_dcs/idle`) and stop the workspace once
//! `stop_at` has passed.
//!
//! Use is human input: a key, pointer, scroll or focus reported by the IDE page's
//! script (`POST /_dcs/activity`), terminal input, an HTTP request a person makes.
//! Watched work holds the workspace too, bounded by the busy limit (`DCS_BUSY_MAX`
//! past the last input): a terminal producing output or whose foreground job uses
//! CPU (this launcher's, or the IDE's own), a request body still being received (an
//! upload), and keep-alives declared through the API. Never use: IDE keepalives and
//! acknowledgements, WebSocket pings, reconnect handshakes, requests a page marks as
//! background, the polls of this clock, an open tab. See `docs/architecture.md`.
//!
//! Every method takes the time (unix milliseconds, [`now_ms`]) from its caller, so
//! the rules are tested without sleeping.
//!
//! # Layout
//! - the WebSocket classifier is [`dcs_net::ws_classify`] (shared with the fuzz target).
//! - [`requests`]: which HTTP requests are a person's.
//! - [`work`]: terminals as watched work (output, CPU of the foreground job).
//! - [`ide_terminals`]: the IDE's own terminals (VS Code's), sampled the same way.
//! - [`endpoints`]: `GET /_dcs/idle`, `POST /_dcs/activity`, `POST /_dcs/keepalive`.

pub use dcs_net::ws_classify as classify;
pub mod endpoints;
pub mod ide_terminals;
pub mod requests;
pub mod work;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use dcs_model::api::{ActiveWork, IdleReport, LastInput};
use dcs_model::env::IdlePolicy;

/// Work seen this recently is active now (and holds `stop_at` open).
pub const ACTIVE_WINDOW_MS: u64 = 5_000;

/// Unix milliseconds now.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The clock of one workspace.
#[derive(Debug)]
pub struct Activity {
    policy: IdlePolicy,
    state: Mutex<State>,
    /// Open WebSockets (IDE tunnels and terminals).
    open: AtomicU64,
    /// Request bodies being received (uploads), as work ([`Activity::receiving`]).
    receiving: AtomicU64,
    /// The terminals, as work.
    terminals: work::Terminals,
}

#[derive(Debug)]
struct State {
    /// When the clock started, moved on while the start itself holds the workspace.
    since_ms: u64,
    /// The last human input: when, and what kind.
    last_input: Option<(u64, String)>,
    /// The last time watched work was seen.
    work_ms: Option<u64>,
    /// Until when a declared keep-alive holds.
    keepalive_until_ms: Option<u64>,
    /// When a stop was asked for ([`Activity::stop_requested`]); input or a
    /// keep-alive after it cancels it.
    stop_requested_ms: Option<u64>,
}

/// Why a keep-alive was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BeyondBusyMax {
    /// The bound, seconds.
    pub busy_max_s: u64,
}

impl std::fmt::Display for BeyondBusyMax {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.busy_max_s == 0 {
            f.write_str("keep-alives are off here (the busy limit is 0)")
        } else {
            write!(
                f,
                "a keep-alive may last at most {} s (the busy limit)",
                self.busy_max_s
            )
        }
    }
}

impl Activity {
    /// A clock under `policy`, started at `now`.
    pub fn new(policy: IdlePolicy, now: u64) -> Arc<Self> {
        Arc::new(Self {
            policy,
            state: Mutex::new(State {
                since_ms: now,
                last_input: None,
                work_ms: None,
                keepalive_until_ms: None,
                stop_requested_ms: None,
            }),
            open: AtomicU64::new(0),
            receiving: AtomicU64::new(0),
            terminals: work::Terminals::default(),
        })
    }

    /// The policy.
    pub fn policy(&self) -> IdlePolicy {
        self.policy
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records human input of `kind` at `now`.
    pub fn input(&self, kind: &str, now: u64) {
        let mut state = self.state();
        if state.last_input.as_ref().is_none_or(|(at, _)| *at <= now) {
            state.last_input = Some((now, kind.to_owned()));
        }
    }

    /// Records a request that is `what` to the clock ([`requests::of`]) at `now`.
    pub fn request(&self, what: requests::Use, now: u64) {
        match what {
            requests::Use::Input => self.input("request", now),
            requests::Use::Work => self.work_seen(now),
            requests::Use::None => {}
        }
    }

    /// Records watched work seen at `now` (it counts only within the busy limit).
    pub fn work_seen(&self, now: u64) {
        let mut state = self.state();
        state.work_ms = Some(state.work_ms.map_or(now, |w| w.max(now)));
    }

    /// Holds the clock while the workspace is still starting (no stop mid-start, and
    /// the idle time counts from its end).
    pub fn starting(&self, now: u64) {
        let mut state = self.state();
        state.since_ms = state.since_ms.max(now);
    }

    /// Declares work for `for_s` seconds from `now` (0 ends a keep-alive); refused
    /// beyond the busy limit.
    pub fn keepalive(&self, for_s: u64, now: u64) -> Result<(), BeyondBusyMax> {
        if for_s > self.policy.busy_max_secs {
            return Err(BeyondBusyMax {
                busy_max_s: self.policy.busy_max_secs,
            });
        }
        let mut state = self.state();
        state.keepalive_until_ms = (for_s > 0).then(|| now.saturating_add(for_s * 1000));
        state.stop_requested_ms = None;
        Ok(())
    }

    /// Someone asked at `now` for the workspace to stop (through whichever proxy
    /// replica): the stop is due from then, whatever work or keep-alive held it,
    /// until input after it (a person came back) or a new keep-alive cancels it. So
    /// every replica's reaper stops it, and closes the connections it carries.
    pub fn stop_requested(&self, now: u64) {
        self.state().stop_requested_ms = Some(now);
    }

    /// Counts an open WebSocket for as long as the guard lives.
    pub fn connection(self: &Arc<Self>) -> Connection {
        self.open.fetch_add(1, Ordering::Relaxed);
        Connection(self.clone())
    }

    /// Counts a person's request whose body is still being received (an upload) as
    /// watched work for as long as the guard lives (until it is answered), and as
    /// seen when it ends: a large upload over a slow link is no idle workspace.
    pub fn receiving(self: &Arc<Self>) -> Receiving {
        self.receiving.fetch_add(1, Ordering::Relaxed);
        Receiving(self.clone())
    }

    /// The terminals.
    pub fn terminals(&self) -> &work::Terminals {
        &self.terminals
    }

    /// The clock at `now`, with `start` (the start-up phase) as work while the
    /// workspace is starting.
    pub fn report(&self, now: u64, start: Option<&str>) -> IdleReport {
        if start.is_some() {
            self.starting(now);
        }
        let mut active: Vec<ActiveWork> = Vec::new();
        if let Some(phase) = start {
            active.push(ActiveWork {
                what: "start".into(),
                detail: phase.to_owned(),
            });
        }
        let busy_max_ms = self.policy.busy_max_secs.saturating_mul(1000);
        if busy_max_ms > 0 {
            active.extend(self.terminals.active(now));
            let uploads = self.receiving.load(Ordering::Relaxed);
            if uploads > 0 {
                active.push(ActiveWork {
                    what: "upload".into(),
                    detail: format!("{uploads} being received"),
                });
            }
        }
        let state = self.state();
        let requested = state
            .stop_requested_ms
            .filter(|r| state.last_input.as_ref().is_none_or(|(at, _)| at <= r));
        let keepalive = self.keepalive_in_force(&state, now);
        let (stop_at, warn_at, reason) = match requested {
            // Asked for and not undone: due since then, whatever held it.
            Some(r) => (Some(r / 1000), Some(r / 1000), None),
            None => self.deadlines(now, start.is_some(), &active, &state),
        };
        IdleReport {
            now: now / 1000,
            idle_timeout_s: self.policy.idle_timeout_secs,
            warning_s: self.policy.warning_secs,
            busy_max_s: self.policy.busy_max_secs,
            last_input: state.last_input.as_ref().map(|(at, kind)| LastInput {
                at: at / 1000,
                kind: kind.clone(),
            }),
            active_work: active,
            keepalive_until: keepalive.map(|k| k / 1000),
            open_connections: self.open.load(Ordering::Relaxed),
            stop_at,
            warn_at,
            reason_not_stopping: reason,
            stop_requested_at: requested.map(|r| r / 1000),
        }
    }

    /// The keep-alive in force at `now`: however often it was renewed, at most the
    /// busy limit past the last input (or the end of the start), like watched work.
    fn keepalive_in_force(&self, state: &State, now: u64) -> Option<u64> {
        let busy_max_ms = self.policy.busy_max_secs.saturating_mul(1000);
        let cap = base(state).saturating_add(busy_max_ms);
        state
            .keepalive_until_ms
            .map(|k| k.min(cap))
            .filter(|k| *k > now)
    }

    /// When the workspace stops unless used, when it warns, and why it has not
    /// stopped: from the last input, watched work (`active`, the start when
    /// `starting`) within the busy limit, and a keep-alive.
    fn deadlines(
        &self,
        now: u64,
        starting: bool,
        active: &[ActiveWork],
        state: &State,
    ) -> (Option<u64>, Option<u64>, Option<String>) {
        let busy_max_ms = self.policy.busy_max_secs.saturating_mul(1000);
        let idle_ms = self.policy.idle_timeout_secs.saturating_mul(1000);
        let base = base(state);
        let cap = base.saturating_add(busy_max_ms);
        let input_deadline = base.saturating_add(idle_ms);
        let work_deadline = match state.work_ms {
            Some(w) if busy_max_ms > 0 => w.saturating_add(idle_ms).min(cap),
            _ => 0,
        };
        let keepalive = self.keepalive_in_force(state, now);
        let stop_ms = input_deadline
            .max(work_deadline)
            .max(keepalive.unwrap_or(0));
        let work_holds = starting || (!active.is_empty() && now < cap);
        let (stop_at, warn_at) = if work_holds {
            (None, None)
        } else {
            let stop = stop_ms.div_ceil(1000);
            (
                Some(stop),
                Some(stop.saturating_sub(self.policy.warning_secs)),
            )
        };
        let reason = reason(
            now,
            work_holds,
            active,
            keepalive.filter(|k| *k >= stop_ms),
            state.last_input.as_ref(),
            stop_ms,
            work_deadline,
        );
        (stop_at, warn_at, reason)
    }
}

/// Where the idle time counts from: the last input, or the end of the start.
fn base(state: &State) -> u64 {
    state
        .last_input
        .as_ref()
        .map_or(state.since_ms, |(at, _)| (*at).max(state.since_ms))
}

/// Why the workspace is not stopped at `now`, for a person (`None`: it is due).
fn reason(
    now: u64,
    work_holds: bool,
    active: &[ActiveWork],
    keepalive: Option<u64>,
    last_input: Option<&(u64, String)>,
    stop_ms: u64,
    work_deadline: u64,
) -> Option<String> {
    if work_holds {
        let what: Vec<String> = active
            .iter()
            .map(|w| format!("{} ({})", w.what, w.detail))
            .collect();
        return Some(format!("work holds it: {}", what.join(", ")));
    }
    if now >= stop_ms {
        return None;
    }
    let left = (stop_ms - now).div_ceil(1000);
    Some(match (keepalive, last_input) {
        (Some(_), _) => format!("a keep-alive holds it for {left} s more"),
        _ if work_deadline == stop_ms => {
            format!("work ended recently; it stops in {left} s unless used")
        }
        (None, Some((at, kind))) => format!(
            "used {} s ago ({kind}); it stops in {left} s unless used",
            now.saturating_sub(*at) / 1000
        ),
        (None, None) => format!("started recently; it stops in {left} s unless used"),
    })
}

/// A request body being received ([`Activity::receiving`]), counted while it lives.
#[derive(Debug)]
pub struct Receiving(Arc<Activity>);

impl Drop for Receiving {
    fn drop(&mut self) {
        self.0.receiving.fetch_sub(1, Ordering::Relaxed);
        self.0.work_seen(now_ms());
    }
}

/// An open WebSocket, counted while it lives.
#[derive(Debug)]
pub struct Connection(Arc<Activity>);

impl Drop for Connection {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod corpus;
#[cfg(test)]
mod tests;
