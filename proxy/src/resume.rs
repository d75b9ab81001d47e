//! The way back after an idle stop: what a request for a workspace the idle policy
//! stopped gets, so that a stale tab finds out (and shows Resume) without waking it.
//!
//! The reaper notes each idle stop ([`IdleStops::note`], its activator's) before it
//! stops the workspace, and marks it on the workspace's activity tracker after;
//! a request that wakes the workspace through this replica clears both. Until then, before the activator is asked to wake the
//! workspace ([`hold`]):
//! - a background request (`X-DCS-Background: 1`: the page script's poll of
//!   `/_dcs/idle`, its notices refresh) never wakes a workspace: while it is not
//!   running the answer is `503` `{"stopped":true,"reason":"idle","stopped_after_s":N}`
//!   (`"reason":"stopped"` and no duration when this replica did not stop it);
//! - a WebSocket upgrade (a stale tab's reconnect attempts), a beacon of human
//!   input (`/_dcs/activity`) and a browser's request for part of a page (its
//!   `Sec-Fetch-Mode` is not `navigate`, or a frame navigates) do not wake a
//!   workspace stopped for idleness: the same `503`, so the page shows its Resume
//!   overlay;
//! - `POST <workspace>/_dcs/stop` (the warning's Stop now) is answered here: the
//!   workspace is stopped now (its tunnels closed, the runtime asked to stop it),
//!   noted like an idle stop, and answered with the same `503` (`"reason":"requested"`);
//! - a top-level navigation (the Resume reload) and a request from a client that is
//!   no browser (no `Sec-Fetch-Mode`) wake it as always, and the note is forgotten;
//! - a workspace that does not exist (deleted, with a tab still open on it) is never
//!   brought back by a page's own requests: its reconnects, beacons, parts and polls
//!   get the same `503` with `"reason":"deleted"`, on every replica (no note needed:
//!   the runtime says so), and only a person (a navigation, a client that is no
//!   browser) creates it again.
//!
//! A request whose launcher refused or reset its connection (it died: killed, out of
//! memory, stopped or deleted meanwhile) is sent again only if the same rule lets it
//! wake the workspace ([`hold_again`]): a tab's background poll never restarts a
//! launcher that died, and a workspace deleted meanwhile is never made again by it.
//!
//! The notes are kept in the activator's memory, per replica: a replica that did not
//! stop the workspace (another one's reaper did, or this one restarted) has no note,
//! so there only background requests are held (they never wake anything).

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use http::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER};
use http::{Method, Response, StatusCode};

use dcs_model::WorkspaceKey;
use tracing::{debug, info, warn};

use crate::activity::Tracker;
use crate::asked::Asked;
use crate::body::{self, Body};
use crate::key_map::KeyMap;
use crate::runtime::{finish, Status};
use crate::state::AppState;

use dcs_model::plumbing::{ACTIVITY as ACTIVITY_PATH, STOP as STOP_PATH};

/// One stop this replica made, not yet followed by a wake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdleStop {
    /// When it was stopped.
    pub at: SystemTime,
    /// How long nobody had used it then; `None` when the user asked for the stop.
    pub after: Option<Duration>,
}

/// Idle stops not yet followed by a wake, per workspace: this replica's, kept by its
/// activator ([`crate::activator::Activator::idle_stops`]).
#[derive(Debug, Default)]
pub struct IdleStops(Mutex<KeyMap<IdleStop>>);

impl IdleStops {
    fn map(&self) -> MutexGuard<'_, KeyMap<IdleStop>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Notes that the idle policy stopped `key` after `after` without use (the
    /// reaper calls it when it stops a workspace).
    pub fn note(&self, key: &WorkspaceKey, after: Duration) {
        self.map().insert(
            key.clone(),
            IdleStop {
                at: SystemTime::now(),
                after: Some(after),
            },
        );
    }

    /// Notes that someone asked for `key`'s stop ([`stop_requested`] here, or through
    /// another replica: the reaper learnt it from the launcher's clock).
    pub fn note_requested(&self, key: &WorkspaceKey) -> IdleStop {
        let stop = IdleStop {
            at: SystemTime::now(),
            after: None,
        };
        self.map().insert(key.clone(), stop);
        stop
    }

    /// The stop of `key` not yet followed by a wake, if any.
    pub fn get(&self, key: &WorkspaceKey) -> Option<IdleStop> {
        self.map().get(key).copied()
    }

    /// Forgets the stop of `key` (it is being woken, or deleted).
    pub fn forget(&self, key: &WorkspaceKey) {
        self.map().remove(key);
    }
}

/// What a request is, as far as waking goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `X-DCS-Background: 1`: never wakes.
    Background,
    /// A WebSocket (or other) upgrade: does not wake an idle-stopped workspace.
    Upgrade,
    /// A beacon of human input from an open page: does not wake an idle-stopped
    /// workspace (its page shows Resume instead).
    Beacon,
    /// Stop now: stops the workspace.
    Stop,
    /// A browser's request for a part of a page (`Sec-Fetch-Mode` other than
    /// `navigate`, or a frame's navigation): a stale page's, so it does not wake an
    /// idle-stopped workspace.
    Subresource,
    /// Anything else, navigations above all: wakes.
    Wakes,
}

/// Classifies a request by its method, path (prefix stripped, query included) and
/// what its headers ask.
pub fn classify(method: &Method, rest: &str, asked: &Asked) -> Kind {
    let posted_to = (method == Method::POST).then(|| dcs_net::query::split_target(rest).0);
    if asked.is_background() {
        Kind::Background
    } else if asked.upgrade().is_some() {
        Kind::Upgrade
    } else if posted_to == Some(ACTIVITY_PATH) {
        Kind::Beacon
    } else if posted_to == Some(STOP_PATH) {
        Kind::Stop
    } else if !asked.may_be_a_person() {
        Kind::Subresource
    } else {
        Kind::Wakes
    }
}

/// What decides whether a request may wake its workspace ([`hold`]), kept with the
/// request for a second try ([`hold_again`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Waking {
    /// What the request is ([`classify`]).
    pub kind: Kind,
    /// The request is a browser page's own ([`Asked::is_a_pages_own`]).
    pub from_a_page: bool,
}

impl Waking {
    /// What a request with `method`, `rest` (prefix stripped, query included) and
    /// `asked` is, as far as waking goes.
    pub fn of(method: &Method, rest: &str, asked: &Asked) -> Self {
        Self {
            kind: classify(method, rest, asked),
            from_a_page: asked.is_a_pages_own(),
        }
    }
}

/// The answer for a request (`waking`) to `key` (whose activity `tracker` this is,
/// if it has one) that must not wake it, or `None` to go on (and wake it if needed).
/// Asks the runtime only for requests that may be held.
pub async fn hold(
    state: &AppState,
    key: &WorkspaceKey,
    tracker: Option<&Tracker>,
    waking: Waking,
) -> Option<Response<Body>> {
    let Waking { kind, from_a_page } = waking;
    let stops = &state.activator.idle_stops;
    let noted = stops
        .get(key)
        .or_else(|| reaped(tracker, state.activator.idle_timeout()));
    match kind {
        Kind::Stop => return Some(stop_now(state, key).await),
        Kind::Wakes => {
            if noted.is_some() {
                stops.forget(key);
            }
            return None;
        }
        Kind::Upgrade | Kind::Beacon | Kind::Subresource if noted.is_none() && !from_a_page => {
            return None
        }
        _ => {}
    }
    // A note stands until something wakes the workspace through this replica: a
    // runtime that scales by itself (Knative) still lists it as running for a while,
    // and forwarding the poll would keep it there.
    if noted.is_none() {
        if state.activator.ready_upstream(key).is_some() {
            return None;
        }
        match state.activator.status(key).await {
            Ok(Status::Running | Status::Starting) | Err(_) => return None,
            // Deleted under an open page: only a person brings it back.
            Ok(Status::NotFound) => return Some(deleted()),
            // Stopped with no note here: only the background poll is held.
            Ok(Status::Stopped | Status::Failed { .. }) if kind != Kind::Background => return None,
            Ok(Status::Stopped | Status::Failed { .. }) => {}
        }
    }
    Some(stopped(noted))
}

/// Before a request is sent again because its workspace's launcher refused or reset
/// the connection (it went away: killed, crashed, stopped or deleted meanwhile): the
/// same rule as for its first try ([`hold`]), so a background poll of a workspace
/// whose launcher died gets the stopped answer instead of starting it again; and a
/// workspace that no longer exists is never made again by it, whatever the request
/// (`NotFound`: it was deleted while the request was on its way). `Ok(None)`: go on.
pub async fn hold_again(
    state: &AppState,
    key: &WorkspaceKey,
    waking: Waking,
) -> crate::error::Result<Option<Response<Body>>> {
    let tracker = state.activator.activity.peek(key);
    if let Some(held) = hold(state, key, tracker.as_deref(), waking).await {
        return Ok(Some(held));
    }
    match state.activator.status(key).await {
        Ok(Status::NotFound) => Err(crate::error::Error::NotFound(
            "this workspace was deleted while the request was on its way; open its \
             address again to make it anew"
                .into(),
        )),
        _ => Ok(None),
    }
}

/// The reaper's own mark of an idle stop not followed by any request through this
/// replica (on the workspace's activity `tracker`, if it has one), when no note says
/// more: stopped after about the `idle_timeout`.
fn reaped(tracker: Option<&Tracker>, idle_timeout: Duration) -> Option<IdleStop> {
    tracker?.idle_stopped().then(|| IdleStop {
        at: SystemTime::now(),
        after: Some(idle_timeout),
    })
}

/// Stop now (the warning's Stop now): the same answer as for a stopped workspace
/// once [`stop_requested`] stopped it; a workspace that does not exist: 404.
async fn stop_now(state: &AppState, key: &WorkspaceKey) -> Response<Body> {
    match stop_requested(state, key, "the IDE's warning").await {
        Ok(stop) => stopped(Some(stop)),
        Err(err) => crate::api::ApiErr::from(err).into_response(),
    }
}

/// A stop someone asked for (`by`: where): the workspace's tunnels are closed, the
/// runtime asked to stop it, and the stop noted like an idle stop, so its open tabs
/// show Resume and do not wake it. Every requested stop goes through here (the
/// warning's Stop now, `POST /api/instances/{id}/stop`). A workspace that does not
/// exist: `NotFound`, and nothing noted (a made-up name must not grow this
/// replica's memory of stops); a runtime that failed to stop it: its error.
pub async fn stop_requested(
    state: &AppState,
    key: &WorkspaceKey,
    by: &'static str,
) -> Result<IdleStop, crate::error::Error> {
    let status = state.activator.status(key).await;
    if let Ok(Status::NotFound) = status {
        return Err(crate::error::Error::NotFound(format!(
            "there is no workspace {key} to stop"
        )));
    }
    info!(workspace = %key, by, "stop requested");
    // Where it answers, while it runs (asking a stopped one would wake it), taken
    // before the route is forgotten below.
    let upstream = match status {
        Ok(Status::Running) => state.activator.running_upstream(key).await,
        _ => None,
    };
    let stop = state.activator.idle_stops.note_requested(key);
    state.activator.invalidate(key);
    let tracker = state.activator.activity.peek(key);
    // The period this stop ends: a request while it stops begins the next one.
    let period = tracker.as_ref().map(|t| t.period());
    if let Some(tracker) = &tracker {
        tracker.close_tunnels();
    }
    // The workspace hears of it while the runtime stops it: other replicas carry
    // tunnels of it too, and their reapers stop it once its clock says so (a runtime
    // that scales by itself, Knative, stops it only when none is left). Both at
    // once: the answer waits for the longer, the launcher's at most `ASK_TIMEOUT`.
    let tell = async {
        if let Some(up) = upstream {
            if let Err(why) = crate::activator::ask::stop(&up).await {
                debug!(workspace = %key, %why, "the launcher could not be told of the stop");
            }
        }
    };
    let ((), stopped) = tokio::join!(tell, finish::stop(state.activator.runtime(), key));
    if let Err(err) = stopped {
        warn!(workspace = %key, %err, "the requested stop failed");
        return Err(err);
    }
    // Done here: this replica's reaper leaves it until something passes it again
    // (a runtime that scales by itself lists it running a while longer).
    if let (Some(tracker), Some(period)) = (tracker, period) {
        tracker.mark_idle_stopped(period);
    }
    Ok(stop)
}

/// The `503` JSON that tells a page its workspace is stopped.
pub fn stopped(noted: Option<IdleStop>) -> Response<Body> {
    let at = |stop: &IdleStop| {
        stop.at
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    };
    let json = match noted {
        Some(
            stop @ IdleStop {
                after: Some(after), ..
            },
        ) => serde_json::json!({
            "stopped": true,
            "reason": "idle",
            "stopped_after_s": after.as_secs(),
            "stopped_at": at(&stop),
        }),
        Some(stop) => serde_json::json!({
            "stopped": true,
            "reason": "requested",
            "stopped_after_s": null,
            "stopped_at": at(&stop),
        }),
        None => serde_json::json!({
            "stopped": true,
            "reason": "stopped",
            "stopped_after_s": null,
        }),
    };
    told(&json)
}

/// The `503` JSON that tells a page its workspace no longer exists (deleted).
pub fn deleted() -> Response<Body> {
    told(&serde_json::json!({
        "stopped": true,
        "reason": "deleted",
        "stopped_after_s": null,
    }))
}

/// `json`, answered `503` to a page that must not wake its workspace.
fn told(json: &serde_json::Value) -> Response<Body> {
    let mut res = Response::new(body::full(json.to_string()));
    *res.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    let headers = res.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(RETRY_AFTER, HeaderValue::from_static("60"));
    res
}

#[cfg(test)]
mod tests;
