//! When a start reached each of its phases, for `dcs_workspace_start_seconds{phase}`.
//!
//! The phases are the ones the progress page shows ([`crate::runtime::Runtime::progress`]:
//! the Knative Service's status and its launcher's pushed report, or the local
//! launcher's `/_dcs/ready`), so the metric and the page never disagree. While a
//! start runs, [`timed`] looks at its progress every [`LOOK_EVERY`] and remembers
//! the first moment each phase was seen; `ready` is when the start returned, which
//! in Knative mode is when the Service reported Ready and its route answered.

use std::future::Future;
use std::time::{Duration, Instant};

use dcs_model::api::StartPhase;
use dcs_model::WorkspaceKey;

use crate::runtime::Runtime;

/// How often a running start's progress is looked at. Phases shorter than this may
/// be missed (they then have no sample); `ready` never is.
pub const LOOK_EVERY: Duration = Duration::from_millis(250);

/// The first moment each phase of one start was seen, in seconds since it began.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct PhaseTimes(Vec<(StartPhase, f64)>);

impl PhaseTimes {
    /// Notes `phase` at `secs`, unless it was seen before. `stopped` and `failed`
    /// are not steps of a start and are not noted.
    pub fn note(&mut self, phase: StartPhase, secs: f64) {
        if matches!(phase, StartPhase::Stopped | StartPhase::Failed) {
            return;
        }
        if !self.0.iter().any(|(p, _)| *p == phase) {
            self.0.push((phase, secs));
        }
    }

    /// Each phase seen and when, in the order they were first seen.
    pub fn seen(&self) -> &[(StartPhase, f64)] {
        &self.0
    }
}

/// Runs `start` (the runtime's `ensure` of `key`) while noting the phases its
/// progress goes through; `ready` is noted when it succeeds.
pub async fn timed<T, E>(
    runtime: &dyn Runtime,
    key: &WorkspaceKey,
    start: impl Future<Output = Result<T, E>>,
) -> (Result<T, E>, PhaseTimes) {
    let began = Instant::now();
    let mut times = PhaseTimes::default();
    tokio::pin!(start);
    let mut look = tokio::time::interval(LOOK_EVERY);
    look.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let result = loop {
        tokio::select! {
            result = &mut start => break result,
            _ = look.tick() => {
                if let Ok(Some(progress)) = runtime.progress(key).await {
                    times.note(progress.phase, began.elapsed().as_secs_f64());
                }
            }
        }
    };
    if result.is_ok() {
        times.note(StartPhase::Ready, began.elapsed().as_secs_f64());
    }
    (result, times)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_phase_is_noted_once_at_its_first_sighting_and_end_states_never() {
        let mut t = PhaseTimes::default();
        t.note(StartPhase::Stopped, 0.0);
        t.note(StartPhase::Created, 0.1);
        t.note(StartPhase::Cloning, 1.0);
        t.note(StartPhase::Cloning, 2.0);
        t.note(StartPhase::Failed, 2.5);
        t.note(StartPhase::Ready, 3.0);
        assert_eq!(
            t.seen(),
            &[
                (StartPhase::Created, 0.1),
                (StartPhase::Cloning, 1.0),
                (StartPhase::Ready, 3.0)
            ]
        );
    }
}
