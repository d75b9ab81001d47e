//! The idle reaper: each pass asks every running workspace's launcher whether it is
//! used (`GET /_dcs/idle`, [`super::ask`]) and stops those whose `stop_at` has
//! passed. The launcher decides, because every request of its workspace passes it,
//! whichever replica forwarded it (see `docs/architecture.md`, "Idle").
//!
//! A workspace this replica never routed to (adopted after a restart, or served by
//! another replica) is asked too, at the address its runtime knows
//! ([`crate::runtime::Runtime::running_upstream`]), so every replica reaches the
//! same verdict from the same clock. When a launcher cannot be asked (an older
//! launcher, an error, no address), the reaper falls back on its own record: it stops
//! the workspace only if no request passed this proxy, and no launcher answer vouched
//! for it, for the whole idle timeout. Client WebSocket frames are no part of that
//! record: an IDE's keepalives would keep it alive forever. A launcher that cannot
//! be asked is a warning once per workspace per [`crate::log_pace::EVERY`].
//!
//! `dcs_idle_stops_total` counts each stop once across replicas: where the runtime
//! scales by itself (Knative) every replica carries out a stop that is due, and the
//! runtime says which of them counts it ([`crate::runtime::Runtime::claim_stop`]); a
//! stop this replica decided from its own record (`unanswered`) is counted here.

use std::collections::HashSet;
use std::sync::Arc;

use dcs_model::api::IdleReport;
use dcs_model::WorkspaceKey;
use tracing::{debug, info, warn};

use super::{ask, lock, Activator};
use crate::activity::Tracker;
use crate::runtime::{Status, Upstream};

/// What the reaper concluded about one workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Used, or held by work: keep it.
    Keep,
    /// Stop it, for this reason.
    Stop(StopReason),
}

/// Why the reaper stops a workspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// Nobody used it for the idle timeout.
    Idle,
    /// Work held it for the longest it may.
    BusyMax,
    /// Its launcher did not answer and this replica saw no use for the idle timeout.
    Unanswered,
    /// Someone asked for the stop (through any replica).
    Requested,
}

impl StopReason {
    /// Every reason, in the order the metric lists them.
    pub const ALL: [StopReason; 4] = [
        StopReason::Idle,
        StopReason::BusyMax,
        StopReason::Unanswered,
        StopReason::Requested,
    ];

    /// Its `reason` label (one of [`crate::metrics::IDLE_STOP_REASONS`]) and log text.
    pub fn label(self) -> &'static str {
        match self {
            StopReason::Idle => "idle",
            StopReason::BusyMax => "busy_max",
            StopReason::Unanswered => "unanswered",
            StopReason::Requested => "requested",
        }
    }
}

/// The verdict of a launcher's report: stop once `stop_at` has passed on the
/// launcher's own clock; `requested` when someone asked for the stop (through any
/// replica), `busy_max` when work was still going on.
pub fn of_report(report: &IdleReport) -> Verdict {
    match report.stop_at {
        Some(stop_at) if stop_at <= report.now => {
            Verdict::Stop(if report.stop_requested_at.is_some() {
                StopReason::Requested
            } else if report.active_work.is_empty() {
                StopReason::Idle
            } else {
                StopReason::BusyMax
            })
        }
        _ => Verdict::Keep,
    }
}

impl Activator {
    /// One reaper pass: asks every running workspace's launcher and stops the idle
    /// ones.
    pub async fn reap_idle(&self) {
        let mut candidates: Vec<WorkspaceKey> = lock(&self.ready).keys().cloned().collect();
        let mut running: Option<HashSet<WorkspaceKey>> = None;
        // Workspaces running without having been routed to by this process (adopted
        // after a restart, or served by another replica) are reaped too.
        if let Ok(all) = self.runtime.list(None).await {
            // `dcs_workspaces{state}`: the runtime's view (Knative: its watch cache).
            self.metrics.set_workspaces(all.iter().map(|w| &w.status));
            let up: HashSet<WorkspaceKey> = all
                .into_iter()
                .filter(|w| w.status == Status::Running)
                .map(|w| w.key)
                .collect();
            candidates.extend(up.iter().cloned());
            running = Some(up);
        }
        candidates.sort();
        candidates.dedup();
        for key in candidates {
            if lock(&self.starting).contains_key(&key) {
                continue;
            }
            let tracker = self.activity.tracker(&key);
            // Stopped by this replica, and nothing passed it since: a runtime that
            // scales by itself (Knative) lists it running a while longer, and stopping
            // it again would count the stop twice. Its tunnels here are closed.
            if tracker.idle_stopped() {
                continue;
            }
            // Asked only while the runtime says it runs: asking a workspace another
            // replica stopped would wake it (Knative routes through its activator).
            let listed = running.as_ref().is_none_or(|r| r.contains(&key));
            let upstream = match listed {
                true => self.running_upstream(&key).await,
                false => None,
            };
            let answer = match &upstream {
                Some(up) => Some(ask::idle(up).await),
                None => None,
            };
            // The verdict, and when the launcher's clock made the stop due.
            let (verdict, due) = match answer {
                Some(Ok(report)) => {
                    let verdict = of_report(&report);
                    if verdict == Verdict::Keep {
                        // The launcher vouched for it: the fallback counts from now.
                        tracker.touch();
                    }
                    (verdict, report.stop_at)
                }
                Some(Err(why)) => {
                    self.unreadable_clock(&key, &why);
                    (self.fallback(&tracker), None)
                }
                None => (self.fallback(&tracker), None),
            };
            if let Verdict::Stop(reason) = verdict {
                self.stop_idle(&key, &tracker, reason, due).await;
            }
        }
    }

    /// Where the running workspace `key` answers: this replica's route to it, else
    /// (never routed here: adopted, or another replica's) where the runtime knows it
    /// answers, without waking it. Ask it only while the runtime lists it running.
    pub async fn running_upstream(&self, key: &WorkspaceKey) -> Option<Arc<Upstream>> {
        if let Some(up) = lock(&self.ready).get(key).cloned() {
            return Some(up);
        }
        self.runtime.running_upstream(key).await.map(Arc::new)
    }

    /// Logs a launcher that cannot be asked (a hop secret rotated under it: 401, an
    /// older launcher, a network fault): a warning once per workspace per
    /// [`crate::log_pace::EVERY`], as it recurs every pass.
    fn unreadable_clock(&self, key: &WorkspaceKey, why: &str) {
        if self.clock_warnings.warn_now(key) {
            warn!(
                workspace = %key, %why,
                "the launcher's idle clock could not be read; this replica's own record \
                 decides its idle stop (said at most every {} min)",
                self.clock_warnings.every().as_secs() / 60
            );
        } else {
            debug!(workspace = %key, %why, "the launcher's idle clock could not be read");
        }
    }

    /// The verdict from this proxy's own record, when the launcher cannot say.
    fn fallback(&self, tracker: &Tracker) -> Verdict {
        if tracker.in_flight() > 0
            || tracker.idle_for() < self.idle_timeout
            || tracker.idle_stopped()
        {
            Verdict::Keep
        } else {
            Verdict::Stop(StopReason::Unanswered)
        }
    }

    /// Stops `key` for `reason`; the stop is counted here unless another replica
    /// counted the one its launcher's clock made `due` ([`Runtime::claim_stop`]:
    /// every replica carries it out where the runtime scales by itself).
    ///
    /// [`Runtime::claim_stop`]: crate::runtime::Runtime::claim_stop
    async fn stop_idle(
        &self,
        key: &WorkspaceKey,
        tracker: &Tracker,
        reason: StopReason,
        due: Option<u64>,
    ) {
        info!(workspace = %key, reason = reason.label(), "stopping idle workspace");
        // The period this stop ends: a request while it stops begins the next one.
        let period = tracker.period();
        // Before the stop: a stale tab's polls and reconnects must not wake it.
        if reason == StopReason::Requested {
            self.idle_stops.note_requested(key);
        } else {
            self.idle_stops.note(key, self.idle_timeout);
        }
        self.invalidate(key);
        // Runtimes that scale on their own (Knative) count open sockets as
        // requests in flight; close them so the workspace can reach zero.
        tracker.close_tunnels();
        match crate::runtime::finish::stop(&self.runtime, key).await {
            Ok(()) => {
                tracker.mark_idle_stopped(period);
                let ours = match due {
                    Some(due) => self.runtime.claim_stop(key, due).await,
                    None => true,
                };
                if ours {
                    self.metrics.idle_stop(reason.label());
                    debug!(workspace = %key, reason = reason.label(), "idle stop counted here");
                } else {
                    debug!(workspace = %key, reason = reason.label(), "idle stop counted by another replica");
                }
            }
            Err(err) => warn!(workspace = %key, %err, "idle stop failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use dcs_model::api::ActiveWork;

    use super::*;

    fn report(stop_at: Option<u64>, busy: bool) -> IdleReport {
        IdleReport {
            now: 1000,
            idle_timeout_s: 60,
            warning_s: 10,
            busy_max_s: 3600,
            last_input: None,
            active_work: if busy {
                vec![ActiveWork {
                    what: "terminal".into(),
                    detail: "pid 1".into(),
                }]
            } else {
                Vec::new()
            },
            keepalive_until: None,
            open_connections: 3,
            stop_at,
            warn_at: None,
            reason_not_stopping: None,
            stop_requested_at: None,
        }
    }

    #[test]
    fn the_launchers_clock_decides() {
        assert_eq!(of_report(&report(Some(1001), false)), Verdict::Keep);
        assert_eq!(
            of_report(&report(None, true)),
            Verdict::Keep,
            "work holds it"
        );
        assert_eq!(
            of_report(&report(Some(1000), false)),
            Verdict::Stop(StopReason::Idle)
        );
        assert_eq!(
            of_report(&report(Some(900), true)),
            Verdict::Stop(StopReason::BusyMax)
        );
        let asked = IdleReport {
            stop_requested_at: Some(990),
            ..report(Some(990), true)
        };
        assert_eq!(of_report(&asked), Verdict::Stop(StopReason::Requested));
    }

    #[test]
    fn every_reason_is_a_label_the_metric_lists() {
        let labels: Vec<&str> = StopReason::ALL.iter().map(|r| r.label()).collect();
        assert_eq!(labels, crate::metrics::IDLE_STOP_REASONS);
    }
}
