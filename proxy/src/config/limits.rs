//! Limits on slow peers: how fast a client must send a request body, how long a
//! workspace may stall a response, and how long a clone or fetch may take or crawl
//! before the launcher gives it up.

use std::time::Duration;

use clap::Args;

use dcs_net::pace::Pace;

/// Flags for slow clients, stalled workspaces and stuck git transfers.
#[derive(Debug, Clone, Args)]
pub struct LimitArgs {
    /// A request body must send its first byte within this long and never stall
    /// longer (with `--body-min-rate`); a slower one is cut (408, connection closed).
    #[arg(long, env = "DCS_PROXY_BODY_TIMEOUT", default_value = "20s", value_parser = humantime::parse_duration)]
    pub body_timeout: Duration,
    /// Bytes per second a request body must average; each byte buys `1/rate` s more
    /// (0: only stalls count).
    #[arg(long, env = "DCS_PROXY_BODY_MIN_RATE", default_value_t = 500)]
    pub body_min_rate: u64,
    /// The longest a workspace may take to start its answer once the request is
    /// sent, or stall in the middle of one; then the exchange is cut (504).
    #[arg(long, env = "DCS_PROXY_UPSTREAM_TIMEOUT", default_value = "5m", value_parser = humantime::parse_duration)]
    pub upstream_timeout: Duration,
    /// The longest one clone or fetch of a workspace's repository may take.
    #[arg(long, env = "DCS_PROXY_GIT_TIMEOUT", default_value = "30m", value_parser = humantime::parse_duration)]
    pub git_timeout: Duration,
    /// A clone or fetch slower than this many bytes/s for `--git-low-speed-time`
    /// is given up (0: never), as git's `http.lowSpeedLimit`.
    #[arg(long, env = "DCS_PROXY_GIT_LOW_SPEED_LIMIT", default_value_t = 1000)]
    pub git_low_speed_limit: u64,
    /// See `--git-low-speed-limit`.
    #[arg(long, env = "DCS_PROXY_GIT_LOW_SPEED_TIME", default_value = "60s", value_parser = humantime::parse_duration)]
    pub git_low_speed_time: Duration,
}

/// Validated limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The pace every request body forwarded to a workspace must keep.
    pub request_body: Pace,
    /// How long a workspace may stall an answer.
    pub upstream_timeout: Duration,
    /// The launchers' git transfer limits.
    pub git: GitLimits,
}

/// What a launcher gives a clone or fetch (its `DCS_GIT_*` variables).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GitLimits {
    /// Total seconds for one clone or fetch.
    pub timeout_secs: u64,
    /// Bytes per second below which a transfer is slow (0: never).
    pub low_speed_limit: u64,
    /// Seconds a transfer may stay slow.
    pub low_speed_secs: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            request_body: Pace {
                timeout: Duration::from_secs(20),
                min_rate: 500,
            },
            upstream_timeout: Duration::from_secs(300),
            git: GitLimits::default(),
        }
    }
}

impl Default for GitLimits {
    fn default() -> Self {
        Self {
            timeout_secs: 1800,
            low_speed_limit: 1000,
            low_speed_secs: 60,
        }
    }
}

/// What a local start may take besides its clone: installing and starting the IDE.
const START_BESIDES_CLONE: Duration = Duration::from_secs(10 * 60);

impl GitLimits {
    /// The bound of one local start (clone included), whatever a request waits
    /// (`start_timeout`): at least 30 minutes, and never less than a clone may take
    /// (`--git-timeout`) and the IDE's start after it, so a longer git timeout is
    /// not cut short by the start's.
    pub fn start_limit(&self, start_timeout: Duration) -> Duration {
        let clone = Duration::from_secs(self.timeout_secs) + START_BESIDES_CLONE;
        start_timeout.max(Duration::from_secs(30 * 60)).max(clone)
    }

    /// Sets them on a launcher's contract.
    pub fn apply(&self, env: &mut dcs_model::LauncherEnv) {
        env.git_timeout_secs = self.timeout_secs;
        env.git_low_speed_limit = self.low_speed_limit;
        env.git_low_speed_secs = self.low_speed_secs;
    }
}

impl LimitArgs {
    /// The limits, adding every problem to `problems`.
    pub fn validate(&self, problems: &mut Vec<String>) -> Limits {
        for (flag, d) in [
            ("--body-timeout", self.body_timeout),
            ("--upstream-timeout", self.upstream_timeout),
            ("--git-timeout", self.git_timeout),
            ("--git-low-speed-time", self.git_low_speed_time),
        ] {
            if d < Duration::from_secs(1) {
                problems.push(format!("{flag} must be at least 1s"));
            }
        }
        Limits {
            request_body: Pace {
                timeout: self.body_timeout,
                min_rate: self.body_min_rate,
            },
            upstream_timeout: self.upstream_timeout,
            git: GitLimits {
                timeout_secs: self.git_timeout.as_secs().max(1),
                low_speed_limit: self.git_low_speed_limit,
                low_speed_secs: self.git_low_speed_time.as_secs().max(1),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_start_may_take_its_whole_clone_and_the_ides_start() {
        let git = |secs| GitLimits {
            timeout_secs: secs,
            ..GitLimits::default()
        };
        let five_min = Duration::from_secs(300);
        assert_eq!(
            git(1800).start_limit(five_min),
            Duration::from_secs(40 * 60)
        );
        assert_eq!(git(60).start_limit(five_min), Duration::from_secs(30 * 60));
        let two_hours = git(2 * 3600).start_limit(five_min);
        assert_eq!(
            two_hours,
            Duration::from_secs(2 * 3600 + 600),
            "--git-timeout 2h"
        );
        let long_wait = Duration::from_secs(3 * 3600);
        assert_eq!(git(60).start_limit(long_wait), long_wait);
    }
}
