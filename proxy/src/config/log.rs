//! The log's format (`--log-format`), and [`check`]: what would pass every other
//! check yet break the proxy or its workspaces once they run, refused with the rest
//! of the configuration (and by `--check-config`):
//!
//! - `--log` and `--launcher-log` must be filters (tracing env-filter syntax, parsed
//!   as the proxy and the launcher parse them): a bad `--log` was replaced by `info`
//!   unsaid, a bad `--launcher-log` (`DCS_LOG`) made every launcher refuse to start.
//! - `--listen`, `--metrics-listen` and `--hop-listen` need addresses of their own
//!   (port 0 excepted: each gets a free one): the second bind failed once the proxy
//!   had announced itself.

use std::net::{IpAddr, SocketAddr};

use clap::Args;
use tracing_subscriber::EnvFilter;

use crate::telemetry::LogFormat;

/// Flags of the proxy's own log.
#[derive(Debug, Clone, Args)]
pub struct LogArgs {
    /// How log lines are written: `text` (coloured only on a terminal) or `json`
    /// (one object per line).
    #[arg(long, env = "DCS_PROXY_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,
}

/// Adds to `problems` what is wrong with the log filters and the listen addresses
/// of `args` (see the module docs).
pub(super) fn check(args: &super::ServeArgs, problems: &mut Vec<String>) {
    filter("--log", &args.log, problems);
    // Empty is no `DCS_LOG` for the launcher (its default, `info`).
    if let Some(f) = args.launcher_log.as_deref().filter(|f| !f.is_empty()) {
        filter("--launcher-log", f, problems);
    }
    distinct_listeners(
        &[
            ("--listen", Some(args.listen)),
            ("--metrics-listen", args.metrics_listen),
            ("--hop-listen", args.hop.hop_listen),
        ],
        problems,
    );
}

/// `value` of `flag` must parse as the proxy's and the launcher's
/// `EnvFilter::try_new` parse it.
fn filter(flag: &str, value: &str, problems: &mut Vec<String>) {
    if let Err(e) = EnvFilter::try_new(value) {
        problems.push(format!(
            "{flag} {value:?} is not a log filter ({e}); the syntax is tracing's \
             env-filter, e.g. `info` or `warn,<crate>::<module>=debug`"
        ));
    }
}

/// No two of the given listeners may bind the same address.
fn distinct_listeners(listeners: &[(&str, Option<SocketAddr>)], problems: &mut Vec<String>) {
    let given: Vec<(&str, SocketAddr)> = listeners
        .iter()
        .filter_map(|(flag, addr)| addr.map(|a| (*flag, a)))
        .collect();
    for (i, (flag, addr)) in given.iter().enumerate() {
        for (earlier, taken) in &given[..i] {
            if addr.port() != 0 && addr.port() == taken.port() && overlap(addr.ip(), taken.ip()) {
                problems.push(format!(
                    "{flag} {addr} takes the address of {earlier} {taken}: each listener \
                     needs a port of its own"
                ));
            }
        }
    }
}

/// Whether binding `a` and `b` on one port would clash: the same address, or one of
/// them the unspecified address of its family (`[::]` takes IPv4 too).
fn overlap(a: IpAddr, b: IpAddr) -> bool {
    let (a, b) = (a.to_canonical(), b.to_canonical());
    let covers =
        |wild: IpAddr, other: IpAddr| wild.is_unspecified() && (wild.is_ipv6() || other.is_ipv4());
    a == b || covers(a, b) || covers(b, a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listeners_clash_on_one_port_of_overlapping_addresses() {
        let ip = |s: &str| s.parse::<IpAddr>().expect("ip");
        for (a, b, clash) in [
            ("127.0.0.1", "127.0.0.1", true),
            ("0.0.0.0", "127.0.0.1", true),
            ("::", "127.0.0.1", true),
            ("::", "0.0.0.0", true),
            ("::ffff:127.0.0.1", "127.0.0.1", true),
            ("::", "::1", true),
            ("127.0.0.1", "10.0.0.1", false),
            ("0.0.0.0", "::1", false),
            ("127.0.0.1", "::1", false),
        ] {
            assert_eq!(overlap(ip(a), ip(b)), clash, "{a} {b}");
            assert_eq!(overlap(ip(b), ip(a)), clash, "{b} {a}");
        }
    }
}
