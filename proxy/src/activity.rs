//! This proxy's own record of each workspace: when a request last passed it (or the
//! launcher last vouched that the workspace is used), how many HTTP exchanges are in
//! flight, and the switch that closes its tunnels. Whether a workspace is used is
//! decided by its launcher (`dcs-launcher`'s idle clock, asked by
//! [`crate::activator::reaper`]); this record is only the reaper's fallback when a
//! launcher cannot be asked. WebSocket frames are no part of it: an IDE sends
//! keepalives on its own, so counting them would keep an abandoned tab alive.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use dcs_model::WorkspaceKey;

use crate::key_map::KeyMap;

/// One idle period of a workspace, named by its last use as this replica saw it
/// ([`Tracker::period`]): what a stop is marked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period(u64);

/// One workspace's activity.
#[derive(Debug)]
pub struct Tracker {
    epoch: Instant,
    last_ms: AtomicU64,
    in_flight: AtomicUsize,
    /// Bumped to close every open tunnel of the workspace (idle policy).
    close: tokio::sync::watch::Sender<u64>,
    /// `last_ms` as it was when the idle policy last stopped the workspace
    /// (`u64::MAX`: never), so one idle period is acted on once.
    stopped_at_ms: AtomicU64,
}

impl Tracker {
    fn new(epoch: Instant) -> Self {
        let t = Self {
            epoch,
            last_ms: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            close: tokio::sync::watch::channel(0).0,
            stopped_at_ms: AtomicU64::new(u64::MAX),
        };
        t.touch();
        t
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Records that the workspace was used now (a request passed, or its launcher
    /// said so).
    pub fn touch(&self) {
        self.last_ms.fetch_max(self.now_ms(), Ordering::Relaxed);
    }

    /// Time since the last client activity.
    pub fn idle_for(&self) -> Duration {
        Duration::from_millis(
            self.now_ms()
                .saturating_sub(self.last_ms.load(Ordering::Relaxed)),
        )
    }

    /// HTTP exchanges currently in flight.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// The current idle period: taken before a stop begins, and marked once it is
    /// done ([`Tracker::mark_idle_stopped`]).
    pub fn period(&self) -> Period {
        Period(self.last_ms.load(Ordering::Relaxed))
    }

    /// Records that the workspace was stopped (by the idle policy, or as someone
    /// asked) for the idle period `period`, taken before the stop began: a request
    /// that passed while it stopped (and woke it again) began a new period, which
    /// this leaves unmarked.
    pub fn mark_idle_stopped(&self, period: Period) {
        self.stopped_at_ms.store(period.0, Ordering::Relaxed);
    }

    /// Whether the idle policy already stopped the workspace since its last activity
    /// (a runtime that scales by itself may still list it as running for a while).
    pub fn idle_stopped(&self) -> bool {
        self.stopped_at_ms.load(Ordering::Relaxed) == self.last_ms.load(Ordering::Relaxed)
    }

    /// Closes every tunnel (WebSocket) of this workspace that is open now. The idle
    /// policy uses it: an open socket must not keep a workspace from scaling to zero,
    /// and on Knative an open socket counts as a request in flight.
    pub fn close_tunnels(&self) {
        self.close.send_modify(|generation| *generation += 1);
    }

    /// A receiver that changes when [`Tracker::close_tunnels`] is called.
    pub fn on_close(&self) -> tokio::sync::watch::Receiver<u64> {
        self.close.subscribe()
    }

    /// Marks an exchange as started; it ends (and counts as activity) when the
    /// guard drops, i.e. when the response body has been sent or abandoned.
    pub fn begin(self: &Arc<Self>) -> InFlight {
        self.touch();
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(self.clone())
    }
}

/// Guard for one in-flight exchange.
#[derive(Debug)]
pub struct InFlight(Arc<Tracker>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.touch();
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// All workspaces' trackers.
#[derive(Debug)]
pub struct Activity {
    epoch: Instant,
    trackers: Mutex<KeyMap<Arc<Tracker>>>,
}

impl Default for Activity {
    fn default() -> Self {
        Self {
            epoch: Instant::now(),
            trackers: Mutex::default(),
        }
    }
}

impl Activity {
    /// The tracker of `key`, if it has one (never creates it).
    pub fn peek(&self, key: &WorkspaceKey) -> Option<Arc<Tracker>> {
        let trackers = self.trackers.lock().unwrap_or_else(|p| p.into_inner());
        trackers.get(key).cloned()
    }

    /// How many workspaces have a tracker (`dcs_workspaces_tracked`).
    pub(crate) fn tracked(&self) -> usize {
        self.trackers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .len()
    }

    /// Forgets `key`'s tracker (the workspace was deleted).
    pub fn remove(&self, key: &WorkspaceKey) {
        let mut trackers = self.trackers.lock().unwrap_or_else(|p| p.into_inner());
        trackers.remove(key);
    }

    /// The tracker of `key`, created (as active now) on first use.
    pub fn tracker(&self, key: &WorkspaceKey) -> Arc<Tracker> {
        let mut trackers = self.trackers.lock().unwrap_or_else(|p| p.into_inner());
        // Looked up before `entry`, which takes an owned key: no clone of the key
        // per request.
        if let Some(tracker) = trackers.get(key) {
            return tracker.clone();
        }
        trackers
            .entry(key.clone())
            .or_insert_with(|| Arc::new(Tracker::new(self.epoch)))
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use dcs_model::{RepoRef, UserId};

    use super::*;

    fn key() -> WorkspaceKey {
        WorkspaceKey::new(
            UserId::new("a").expect("u"),
            RepoRef::parse("o/r").expect("r"),
        )
    }

    #[test]
    fn in_flight_guards_count_and_touch() {
        let activity = Activity::default();
        let key = key();
        let t = activity.tracker(&key);
        let g1 = t.begin();
        let g2 = t.begin();
        assert_eq!(t.in_flight(), 2);
        drop(g1);
        drop(g2);
        assert_eq!(t.in_flight(), 0);
        assert!(t.idle_for() < Duration::from_secs(1));
        assert!(Arc::ptr_eq(&t, &activity.tracker(&key)));
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_stop_is_remembered_until_the_next_activity() {
        let activity = Activity::default();
        let key = key();
        let t = activity.tracker(&key);
        assert!(!t.idle_stopped());
        t.mark_idle_stopped(t.period());
        assert!(t.idle_stopped());
        tokio::time::advance(Duration::from_millis(5)).await;
        t.touch();
        assert!(!t.idle_stopped(), "new activity starts a new idle period");
    }

    #[tokio::test(start_paused = true)]
    async fn a_use_while_the_stop_was_under_way_is_a_new_period_left_unmarked() {
        let activity = Activity::default();
        let key = key();
        let t = activity.tracker(&key);
        let stopping = t.period();
        tokio::time::advance(Duration::from_millis(5)).await;
        // A request passed during the stop (and woke the workspace again).
        drop(t.begin());
        t.mark_idle_stopped(stopping);
        assert!(
            !t.idle_stopped(),
            "the woken workspace is reaped as any other"
        );
    }
}
