//! Transfer progress of a clone or fetch, logged with fields at most once a second
//! and once more at the end.

use std::time::{Duration, Instant};

use tracing::info;

/// How often progress is logged at most.
pub const EVERY: Duration = Duration::from_secs(1);

/// One observation of libgit2's transfer counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    /// Objects received so far.
    pub received_objects: usize,
    /// Objects the server is sending in total.
    pub total_objects: usize,
    /// Objects indexed so far.
    pub indexed_objects: usize,
    /// Bytes received so far.
    pub received_bytes: usize,
}

impl From<&git2::Progress<'_>> for Counts {
    fn from(p: &git2::Progress<'_>) -> Self {
        Self {
            received_objects: p.received_objects(),
            total_objects: p.total_objects(),
            indexed_objects: p.indexed_objects(),
            received_bytes: p.received_bytes(),
        }
    }
}

/// Throttled progress logging for one operation.
#[derive(Debug)]
pub struct Progress {
    op: &'static str,
    last_logged: Option<Instant>,
    last: Option<Counts>,
}

impl Progress {
    /// Progress of `op` (`"clone"` or `"fetch"`).
    pub fn new(op: &'static str) -> Self {
        Self {
            op,
            last_logged: None,
            last: None,
        }
    }

    /// Records `counts` seen at `now`; logs them if a second has passed since the last
    /// line. Returns whether it logged.
    pub fn observe(&mut self, counts: Counts, now: Instant) -> bool {
        self.last = Some(counts);
        let due = self
            .last_logged
            .is_none_or(|t| now.saturating_duration_since(t) >= EVERY);
        if due {
            self.last_logged = Some(now);
            log(self.op, &counts, "progress");
        }
        due
    }

    /// Logs the final counts, if anything was transferred.
    pub fn finish(&self) {
        if let Some(counts) = &self.last {
            log(self.op, counts, "finished");
        }
    }
}

fn log(op: &'static str, c: &Counts, stage: &'static str) {
    info!(
        op,
        stage,
        received_objects = c.received_objects,
        total_objects = c.total_objects,
        indexed_objects = c.indexed_objects,
        received_bytes = c.received_bytes,
        "git transfer"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_at_most_once_a_second() {
        let mut p = Progress::new("clone");
        let t0 = Instant::now();
        let c = Counts::default();
        assert!(p.observe(c, t0), "the first observation is logged");
        assert!(!p.observe(c, t0 + Duration::from_millis(300)));
        assert!(!p.observe(c, t0 + Duration::from_millis(999)));
        assert!(p.observe(c, t0 + Duration::from_millis(1000)));
        assert!(!p.observe(c, t0 + Duration::from_millis(1500)));
        assert!(p.observe(c, t0 + Duration::from_millis(2100)));
    }
}
