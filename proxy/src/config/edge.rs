//! The edge's own rules: which origins and hosts count as this proxy's own
//! (cross-site requests and DNS rebinding), how much one user and everyone
//! together may start at once, and the check that a repository exists before
//! anything is made for it.

use std::time::Duration;

use clap::Args;

use super::AuthConfig;
use crate::edge::{Origin, Site};

/// Flags for the edge rules.
#[derive(Debug, Clone, Args)]
pub struct EdgeArgs {
    /// Most API instances one user may have (0: no limit); one more is refused (429).
    #[arg(long, env = "DCS_PROXY_MAX_INSTANCES_PER_USER", default_value_t = 10)]
    pub max_instances_per_user: u32,
    /// Most workspaces one user may have starting at once (0: no limit); a start
    /// beyond it is refused (429, retry later).
    #[arg(long, env = "DCS_PROXY_MAX_STARTS_PER_USER", default_value_t = 3)]
    pub max_starts_per_user: u32,
    /// Most workspaces starting at once on this proxy, all users together (0: no limit).
    #[arg(long, env = "DCS_PROXY_MAX_STARTS", default_value_t = 10)]
    pub max_starts: u32,
    /// How long asking the git base whether a repository exists may take before a
    /// new workspace or instance of it is made (0s: do not ask).
    #[arg(long, env = "DCS_PROXY_REPO_CHECK_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub repo_check_timeout: Duration,
    /// How long "no such repository" is remembered (answered without asking again).
    #[arg(long, env = "DCS_PROXY_REPO_MISS_TTL", default_value = "30s", value_parser = humantime::parse_duration)]
    pub repo_miss_ttl: Duration,
}

impl Default for EdgeArgs {
    fn default() -> Self {
        Self {
            max_instances_per_user: 10,
            max_starts_per_user: 3,
            max_starts: 10,
            repo_check_timeout: Duration::from_secs(10),
            repo_miss_ttl: Duration::from_secs(30),
        }
    }
}

/// Validated edge rules.
#[derive(Debug, Clone, Default)]
pub struct Edge {
    /// What counts as this proxy's own site (see [`Edge::bind`]).
    pub site: Site,
    /// How much one user and everyone together may make.
    pub quotas: Quotas,
    /// The existence check of repositories.
    pub repo_check: RepoCheck,
}

/// Limits on what users make (`None`: no limit).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Quotas {
    /// API instances per user.
    pub instances_per_user: Option<u32>,
    /// Workspaces starting at once per user.
    pub starts_per_user: Option<u32>,
    /// Workspaces starting at once in total.
    pub starts_total: Option<u32>,
}

/// How the git base is asked whether a repository exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RepoCheck {
    /// The longest one check may take; `None`: repositories are not checked.
    pub timeout: Option<Duration>,
    /// How long a miss is remembered.
    pub miss_ttl: Duration,
}

impl Default for RepoCheck {
    fn default() -> Self {
        Self {
            timeout: Some(Duration::from_secs(10)),
            miss_ttl: Duration::from_secs(30),
        }
    }
}

impl EdgeArgs {
    /// The edge rules, adding every problem to `problems`. The site is bound to
    /// the sign-in mode afterwards ([`Edge::bind`]).
    pub fn validate(&self, problems: &mut Vec<String>) -> Edge {
        let limit = |n: u32| (n > 0).then_some(n);
        if self.repo_check_timeout > Duration::ZERO
            && self.repo_check_timeout < Duration::from_millis(100)
        {
            problems.push("--repo-check-timeout must be 0s (off) or at least 100ms".into());
        }
        Edge {
            site: Site::default(),
            quotas: Quotas {
                instances_per_user: limit(self.max_instances_per_user),
                starts_per_user: limit(self.max_starts_per_user),
                starts_total: limit(self.max_starts),
            },
            repo_check: RepoCheck {
                timeout: (self.repo_check_timeout > Duration::ZERO)
                    .then_some(self.repo_check_timeout),
                miss_ttl: self.repo_miss_ttl,
            },
        }
    }
}

impl Edge {
    /// These rules with the site the sign-in mode implies: `--auth none` answers
    /// only to its own hosts; `--public-url` (any mode) is the own origin;
    /// `trusted_proxies` may say the scheme was https.
    pub fn bind(
        mut self,
        auth: &AuthConfig,
        public_url: Option<&crate::auth::authentik::PublicUrl>,
        trusted_proxies: &[ipnet::IpNet],
    ) -> Self {
        let public = public_url.and_then(|p| Origin::parse(&format!("{}://{}", p.scheme, p.host)));
        self.site = Site {
            public,
            guard_host: matches!(auth, AuthConfig::None { .. }),
            trusted_proxies: trusted_proxies.to_vec(),
        };
        self
    }
}
