//! The log's format (`--log-format`); the filter is `--log`.

use clap::Args;

use crate::telemetry::LogFormat;

/// Flags of the proxy's own log.
#[derive(Debug, Clone, Args)]
pub struct LogArgs {
    /// How log lines are written: `text` (coloured only on a terminal) or `json`
    /// (one object per line).
    #[arg(long, env = "DCS_PROXY_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,
}
