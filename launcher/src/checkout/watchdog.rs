//! The git limits: a transfer that takes longer than the total limit
//! (`DCS_GIT_TIMEOUT`), or whose server sends fewer than `DCS_GIT_LOW_SPEED_LIMIT`
//! bytes/s on average over `DCS_GIT_LOW_SPEED_TIME` seconds (as git's
//! `http.lowSpeedLimit`/`http.lowSpeedTime`), is given up. Sideband messages count
//! as bytes, so a server busy counting objects and saying so is not stalled; once
//! every object arrived (indexing and checking out files follow) only the total
//! limit applies.
//!
//! Pure: [`Watchdog`] is fed counters and instants, and says when a limit is hit.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use dcs_model::LauncherEnv;

/// The limits of one clone or fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest a transfer may take.
    pub total: Duration,
    /// Bytes per second below which a transfer counts as stalled; 0 disables the
    /// check.
    pub low_speed_limit: u64,
    /// How long a transfer may stay below `low_speed_limit`.
    pub low_speed_time: Duration,
}

impl Limits {
    /// The limits `env` sets.
    pub fn from_env(env: &LauncherEnv) -> Self {
        Self {
            total: Duration::from_secs(env.git_timeout_secs),
            low_speed_limit: env.git_low_speed_limit,
            low_speed_time: Duration::from_secs(env.git_low_speed_secs),
        }
    }
}

/// Which limit a transfer hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Violation {
    /// It took longer than the total limit.
    Timeout {
        /// The limit.
        limit: Duration,
    },
    /// The server sent less than `limit` bytes/s for `time`.
    LowSpeed {
        /// Bytes per second.
        limit: u64,
        /// The window.
        time: Duration,
    },
}

impl Violation {
    /// What happened and which setting changes the limit, for the user: `doing` is
    /// the transfer (`"cloning acme/big"`), `base` the git server (without
    /// user-info).
    pub fn describe(&self, doing: &str, base: &str) -> String {
        match self {
            Self::Timeout { limit } => format!(
                "{doing} from {base} took longer than {} s; gave up (DCS_GIT_TIMEOUT, proxy \
                 flag --git-timeout)",
                limit.as_secs()
            ),
            Self::LowSpeed { limit, time } => format!(
                "the git server at {base} sent less than {limit} bytes/s for {} s while \
                 {doing}; gave up (DCS_GIT_LOW_SPEED_LIMIT/DCS_GIT_LOW_SPEED_TIME, proxy \
                 flags --git-low-speed-limit/--git-low-speed-time)",
                time.as_secs()
            ),
        }
    }
}

/// Watches one transfer.
#[derive(Debug)]
pub struct Watchdog {
    limits: Limits,
    started: Instant,
    /// `(when, bytes so far)`, oldest first; the front is the latest sample at or
    /// before the start of the low-speed window.
    samples: VecDeque<(Instant, u64)>,
    bytes: u64,
    network_done: bool,
}

impl Watchdog {
    /// A transfer that started at `now` with nothing received.
    pub fn new(limits: Limits, now: Instant) -> Self {
        Self {
            limits,
            started: now,
            samples: VecDeque::from([(now, 0)]),
            bytes: 0,
            network_done: false,
        }
    }

    /// Records that `bytes` have arrived in total (pack and sideband) by `now`, and
    /// whether every object has.
    pub fn observe(&mut self, now: Instant, bytes: u64, received_all: bool) {
        self.bytes = self.bytes.max(bytes);
        self.network_done |= received_all;
        if self.samples.back().is_none_or(|(_, b)| *b != self.bytes) {
            self.samples.push_back((now, self.bytes));
        }
    }

    /// The limit hit by `now`, if any.
    pub fn check(&mut self, now: Instant) -> Option<Violation> {
        let elapsed = now.saturating_duration_since(self.started);
        if elapsed >= self.limits.total {
            return Some(Violation::Timeout {
                limit: self.limits.total,
            });
        }
        let Limits {
            low_speed_limit: limit,
            low_speed_time: time,
            ..
        } = self.limits;
        if limit == 0 || self.network_done || elapsed < time {
            return None;
        }
        let window_start = now.checked_sub(time)?;
        while self
            .samples
            .get(1)
            .is_some_and(|(at, _)| *at <= window_start)
        {
            self.samples.pop_front();
        }
        let (_, then) = *self.samples.front()?;
        let needed = limit.saturating_mul(time.as_secs().max(1));
        (self.bytes.saturating_sub(then) < needed).then_some(Violation::LowSpeed { limit, time })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            total: Duration::from_secs(100),
            low_speed_limit: 1000,
            low_speed_time: Duration::from_secs(10),
        }
    }

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn a_silent_server_is_given_up_after_the_low_speed_time() {
        let t0 = Instant::now();
        let mut w = Watchdog::new(limits(), t0);
        assert_eq!(w.check(t0 + secs(9)), None);
        assert_eq!(
            w.check(t0 + secs(10)),
            Some(Violation::LowSpeed {
                limit: 1000,
                time: secs(10)
            })
        );
    }

    #[test]
    fn a_trickle_below_the_limit_is_given_up_and_one_above_it_is_not() {
        let t0 = Instant::now();
        let mut slow = Watchdog::new(limits(), t0);
        let mut fast = Watchdog::new(limits(), t0);
        for s in 1..=30 {
            let now = t0 + secs(s);
            slow.observe(now, 900 * s, false);
            fast.observe(now, 1100 * s, false);
            assert_eq!(fast.check(now), None, "at {s} s");
            let hit = slow.check(now);
            assert_eq!(hit.is_some(), s >= 10, "at {s} s: {hit:?}");
        }
    }

    #[test]
    fn bursts_count_on_average_over_the_window() {
        let t0 = Instant::now();
        let mut w = Watchdog::new(limits(), t0);
        // 6 KB every 5 s is 1200 B/s on average: fine, though most seconds are silent.
        for s in 1..=60 {
            let now = t0 + secs(s);
            w.observe(now, 6000 * (s / 5), false);
            assert_eq!(w.check(now), None, "at {s} s");
        }
        // Then a burst of 1001 bytes every 2 s (500 B/s): given up.
        let base = 6000 * 12;
        let hit = (61..=80).find_map(|s| {
            let now = t0 + secs(s);
            w.observe(now, base + 1001 * ((s - 60) / 2), false);
            w.check(now)
        });
        assert!(hit.is_some(), "a steady 500 B/s trickle is given up");
    }

    #[test]
    fn once_every_object_arrived_only_the_total_limit_applies() {
        let t0 = Instant::now();
        let mut w = Watchdog::new(limits(), t0);
        w.observe(t0 + secs(1), 50_000, true);
        assert_eq!(w.check(t0 + secs(60)), None, "indexing a big pack");
        assert_eq!(
            w.check(t0 + secs(100)),
            Some(Violation::Timeout { limit: secs(100) })
        );
    }

    #[test]
    fn a_zero_speed_limit_disables_the_low_speed_check() {
        let t0 = Instant::now();
        let mut w = Watchdog::new(
            Limits {
                low_speed_limit: 0,
                ..limits()
            },
            t0,
        );
        assert_eq!(w.check(t0 + secs(99)), None);
        assert!(w.check(t0 + secs(100)).is_some());
    }

    #[test]
    fn messages_name_the_limit_and_how_to_change_it() {
        let low = Violation::LowSpeed {
            limit: 1000,
            time: secs(60),
        }
        .describe("cloning acme/big", "https://git.example");
        assert_eq!(
            low,
            "the git server at https://git.example sent less than 1000 bytes/s for 60 s \
             while cloning acme/big; gave up (DCS_GIT_LOW_SPEED_LIMIT/DCS_GIT_LOW_SPEED_TIME, \
             proxy flags --git-low-speed-limit/--git-low-speed-time)"
        );
        let total = Violation::Timeout { limit: secs(1800) }
            .describe("fetching acme/big", "https://git.example");
        assert!(
            total.starts_with("fetching acme/big from https://git.example took longer than 1800 s"),
            "{total}"
        );
        assert!(total.contains("DCS_GIT_TIMEOUT"), "{total}");
        assert!(total.contains("--git-timeout"), "{total}");
    }
}
