//! When a workspace counts as unused, the flags of its idle policy: the idle
//! timeout, the warning before a stop, how long watched work may hold it, and how
//! often an open tab asks for the idle state. The launchers apply the policy (see
//! docs/architecture.md, "Idle"); the proxy only hands it to them.

use std::time::Duration;

use clap::Args;

use dcs_model::env::IdlePolicy;

/// The idle policy's flags.
#[derive(Debug, Clone, Args)]
pub struct IdleArgs {
    /// Stop a workspace after this long without use: human input (keys, pointer,
    /// focus, terminal input, a person's requests), not IDE keepalives or an open tab.
    /// Each workspace's launcher decides (see docs/architecture.md, "Idle").
    #[arg(long, env = "DCS_PROXY_IDLE_TIMEOUT", default_value = "30m", value_parser = humantime::parse_duration)]
    pub idle_timeout: Duration,
    /// How long before an idle stop the IDE shows its warning.
    #[arg(long, env = "DCS_PROXY_IDLE_WARNING", default_value = "5m", value_parser = humantime::parse_duration)]
    pub idle_warning: Duration,
    /// How long watched work (a terminal producing output or using CPU) and
    /// keep-alives (`POST /api/instances/{id}/keepalive`) may hold a workspace past the
    /// last input; 0 turns that off (only input counts).
    #[arg(long, env = "DCS_PROXY_BUSY_MAX", default_value = "4h", value_parser = humantime::parse_duration)]
    pub busy_max: Duration,
    /// How often an open IDE tab asks its workspace whether a warning is due, the
    /// workspace stopped or its IDE was started again, when nothing else makes it
    /// look (it also asks whenever one of the IDE's connections closes, and when a
    /// warning or stop is due). Every open tab polls at this period.
    #[arg(long, env = "DCS_PROXY_TAB_POLL", default_value = "15s", value_parser = humantime::parse_duration)]
    pub tab_poll: Duration,
}

impl IdleArgs {
    /// The policy handed to launchers (whole seconds), or a problem for each flag
    /// below its minimum (1 s for the timeout and the tab's poll).
    pub fn validate(&self, problems: &mut Vec<String>) -> IdlePolicy {
        for (flag, d) in [
            ("--idle-timeout", self.idle_timeout),
            ("--tab-poll", self.tab_poll),
        ] {
            if d < Duration::from_secs(1) {
                problems.push(format!("{flag} must be at least 1s"));
            }
        }
        IdlePolicy {
            idle_timeout_secs: self.idle_timeout.as_secs().max(1),
            warning_secs: self.idle_warning.as_secs(),
            busy_max_secs: self.busy_max.as_secs(),
            tab_poll_secs: self.tab_poll.as_secs().max(1),
        }
    }
}
