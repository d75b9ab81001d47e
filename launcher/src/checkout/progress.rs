//! Transfer progress of a clone or fetch: libgit2's counters plus the bytes of the
//! server's sideband messages ("Counting objects…"), logged with fields at most once
//! a second and once more at the end, and handed to an optional [`Observer`] (the
//! transfer child reports them to the launcher, which enforces the git limits and
//! shows them in `/_dcs/ready`).

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tracing::info;

/// How often progress is logged at most.
pub const EVERY: Duration = Duration::from_secs(1);

/// Which transfer runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// A fresh clone.
    Clone,
    /// A fetch into an existing checkout.
    Fetch,
}

impl Op {
    /// `"clone"` or `"fetch"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Clone => "clone",
            Self::Fetch => "fetch",
        }
    }
}

/// One observation of a transfer's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Counts {
    /// Objects received so far.
    pub received_objects: u64,
    /// Objects the server is sending in total (0 until it says).
    pub total_objects: u64,
    /// Objects indexed so far.
    pub indexed_objects: u64,
    /// Pack bytes received so far.
    pub received_bytes: u64,
    /// Bytes of sideband progress messages received so far.
    #[serde(default)]
    pub sideband_bytes: u64,
}

impl Counts {
    /// Everything the server sent: pack bytes and sideband messages. The low-speed
    /// limit is measured on this.
    pub fn bytes(&self) -> u64 {
        self.received_bytes.saturating_add(self.sideband_bytes)
    }

    /// True once every object the server announced has arrived: the network part of
    /// the transfer is over (indexing and checking out files follow).
    pub fn received_all(&self) -> bool {
        self.total_objects > 0 && self.received_objects >= self.total_objects
    }
}

impl From<&git2::Progress<'_>> for Counts {
    fn from(p: &git2::Progress<'_>) -> Self {
        let n = |v: usize| u64::try_from(v).unwrap_or(u64::MAX);
        Self {
            received_objects: n(p.received_objects()),
            total_objects: n(p.total_objects()),
            indexed_objects: n(p.indexed_objects()),
            received_bytes: n(p.received_bytes()),
            sideband_bytes: 0,
        }
    }
}

/// The function an [`Observer`] calls.
type Tell = dyn Fn(Op, &Counts) + Send + Sync;

/// Something told about every change of a transfer's state.
#[derive(Clone)]
pub struct Observer(Arc<Tell>);

impl Observer {
    /// Calls `f` with the operation and its counters.
    pub fn new(f: impl Fn(Op, &Counts) + Send + Sync + 'static) -> Self {
        Self(Arc::new(f))
    }

    fn tell(&self, op: Op, counts: &Counts) {
        (self.0)(op, counts);
    }
}

impl fmt::Debug for Observer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Observer")
    }
}

/// Throttled progress logging for one operation.
#[derive(Debug)]
pub struct Progress {
    op: Op,
    last_logged: Option<Instant>,
    counts: Counts,
    seen: bool,
    observer: Option<Observer>,
}

impl Progress {
    /// Progress of `op`, told to `observer` (if any) as it changes; the observer
    /// hears about the start at once.
    pub fn new(op: Op, observer: Option<Observer>) -> Self {
        let progress = Self {
            op,
            last_logged: None,
            counts: Counts::default(),
            seen: false,
            observer,
        };
        if let Some(o) = &progress.observer {
            o.tell(op, &progress.counts);
        }
        progress
    }

    /// Records libgit2's `counts` seen at `now`; logs them if a second has passed
    /// since the last line. Returns whether it logged.
    pub fn observe(&mut self, counts: Counts, now: Instant) -> bool {
        self.counts = Counts {
            sideband_bytes: self.counts.sideband_bytes,
            ..counts
        };
        self.changed(now)
    }

    /// Records `len` bytes of a sideband message seen at `now`.
    pub fn sideband(&mut self, len: usize, now: Instant) {
        let len = u64::try_from(len).unwrap_or(u64::MAX);
        self.counts.sideband_bytes = self.counts.sideband_bytes.saturating_add(len);
        self.changed(now);
    }

    /// The counters so far.
    pub fn counts(&self) -> Counts {
        self.counts
    }

    fn changed(&mut self, now: Instant) -> bool {
        self.seen = true;
        if let Some(o) = &self.observer {
            o.tell(self.op, &self.counts);
        }
        let due = self
            .last_logged
            .is_none_or(|t| now.saturating_duration_since(t) >= EVERY);
        if due {
            self.last_logged = Some(now);
            log(self.op, &self.counts, "progress");
        }
        due
    }

    /// Logs the final counts, if anything was transferred.
    pub fn finish(&self) {
        if self.seen {
            log(self.op, &self.counts, "finished");
        }
    }
}

fn log(op: Op, c: &Counts, stage: &'static str) {
    info!(
        op = op.as_str(),
        stage,
        received_objects = c.received_objects,
        total_objects = c.total_objects,
        indexed_objects = c.indexed_objects,
        received_bytes = c.received_bytes,
        sideband_bytes = c.sideband_bytes,
        "git transfer"
    );
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    #[test]
    fn logs_at_most_once_a_second() {
        let mut p = Progress::new(Op::Clone, None);
        let t0 = Instant::now();
        let c = Counts::default();
        assert!(p.observe(c, t0), "the first observation is logged");
        assert!(!p.observe(c, t0 + Duration::from_millis(300)));
        assert!(!p.observe(c, t0 + Duration::from_millis(999)));
        assert!(p.observe(c, t0 + Duration::from_millis(1000)));
        assert!(!p.observe(c, t0 + Duration::from_millis(1500)));
        assert!(p.observe(c, t0 + Duration::from_millis(2100)));
    }

    #[test]
    fn sideband_bytes_add_up_and_survive_counter_updates() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        let observer = Observer::new(move |op, c| {
            sink.lock().expect("lock").push((op, *c));
        });
        let mut p = Progress::new(Op::Fetch, Some(observer));
        let t0 = Instant::now();
        p.sideband(30, t0);
        p.sideband(12, t0);
        p.observe(
            Counts {
                received_bytes: 100,
                total_objects: 3,
                received_objects: 3,
                ..Counts::default()
            },
            t0,
        );
        let last = p.counts();
        assert_eq!((last.sideband_bytes, last.bytes()), (42, 142));
        assert!(last.received_all());
        let seen = seen.lock().expect("lock");
        assert_eq!(seen.len(), 4, "the start and every change: {seen:?}");
        assert!(seen.iter().all(|(op, _)| *op == Op::Fetch));
        assert_eq!(seen[0].1, Counts::default());
    }
}
