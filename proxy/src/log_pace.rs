//! [`LogPace`]: which of a recurring problem's log lines about one workspace are
//! warnings. A failure the reaper or a start meets on every pass (a pod list the
//! RBAC Role does not allow, a launcher that refuses a rotated hop secret) is a
//! warning once per workspace per [`LogPace::every`], and a debug line in between,
//! so the log says it without repeating it every few seconds.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use dcs_model::WorkspaceKey;

use crate::key_map::KeyMap;
use dcs_os::mutex::lock;

/// How often a recurring problem of one workspace is a warning.
pub const EVERY: Duration = Duration::from_secs(10 * 60);

/// Workspaces remembered at most (those warned about longest ago are dropped beyond).
const ROOM: usize = 4096;

/// When each workspace's problem was last a warning.
pub struct LogPace {
    every: Duration,
    last: Mutex<KeyMap<Instant>>,
}

impl Default for LogPace {
    fn default() -> Self {
        Self::new(EVERY)
    }
}

impl LogPace {
    /// A pace of one warning per workspace per `every`.
    pub fn new(every: Duration) -> Self {
        Self {
            every,
            last: Mutex::default(),
        }
    }

    /// How often a workspace's problem is a warning.
    pub fn every(&self) -> Duration {
        self.every
    }

    /// Whether `key`'s problem is a warning now (if so, noted as warned now);
    /// otherwise it is logged at debug.
    pub fn warn_now(&self, key: &WorkspaceKey) -> bool {
        self.warn_at(key, Instant::now())
    }

    fn warn_at(&self, key: &WorkspaceKey, now: Instant) -> bool {
        let mut last = lock(&self.last);
        if let Some(at) = last.get(key) {
            if now.saturating_duration_since(*at) < self.every {
                return false;
            }
        }
        if last.len() >= ROOM {
            last.retain(|_, at| now.saturating_duration_since(*at) < self.every);
            if last.len() >= ROOM {
                last.clear();
            }
        }
        last.insert(key.clone(), now);
        true
    }
}

#[cfg(test)]
mod tests {
    use dcs_model::{RepoRef, UserId};

    use super::*;

    fn key(repo: &str) -> WorkspaceKey {
        WorkspaceKey::new(
            UserId::new("alice").expect("user"),
            RepoRef::parse(repo).expect("repo"),
        )
    }

    #[test]
    fn a_workspaces_problem_is_a_warning_once_per_period() {
        let pace = LogPace::new(Duration::from_secs(600));
        let t0 = Instant::now();
        let (a, b) = (key("acme/a"), key("acme/b"));
        assert!(pace.warn_at(&a, t0), "the first time");
        assert!(!pace.warn_at(&a, t0 + Duration::from_secs(5)), "again soon");
        assert!(
            pace.warn_at(&b, t0 + Duration::from_secs(5)),
            "another workspace"
        );
        assert!(!pace.warn_at(&a, t0 + Duration::from_secs(599)));
        assert!(
            pace.warn_at(&a, t0 + Duration::from_secs(600)),
            "a period on"
        );
        assert!(!pace.warn_at(&a, t0 + Duration::from_secs(601)));
    }

    #[test]
    fn its_memory_is_bounded() {
        let pace = LogPace::new(Duration::from_secs(600));
        let t0 = Instant::now();
        for n in 0..ROOM + 10 {
            assert!(pace.warn_at(&key(&format!("acme/r{n}")), t0));
        }
        assert!(lock(&pace.last).len() <= ROOM);
    }
}
