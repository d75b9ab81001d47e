//! `dcs keepalive` and the idle explanation `dcs status` prints: the workspace
//! launcher's idle report (last input, work, open connections, when it stops and why
//! it has not).

use std::time::{Duration, UNIX_EPOCH};

use dcs_model::api::IdleReport;

/// A unix time as RFC 3339 (UTC).
fn at(secs: u64) -> String {
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(secs)).to_string()
}

/// The report as `key: value` pairs.
pub fn lines(r: &IdleReport) -> Vec<(&'static str, String)> {
    let work: Vec<String> = r
        .active_work
        .iter()
        .map(|w| format!("{}: {}", w.what, w.detail))
        .collect();
    vec![
        (
            "last input",
            r.last_input.as_ref().map_or_else(
                || "none since it started".to_owned(),
                |l| {
                    format!(
                        "{} ({}, {} s ago)",
                        at(l.at),
                        l.kind,
                        r.now.saturating_sub(l.at)
                    )
                },
            ),
        ),
        (
            "active work",
            if work.is_empty() {
                "none".to_owned()
            } else {
                work.join("; ")
            },
        ),
        (
            "keep-alive until",
            r.keepalive_until.map(at).unwrap_or_default(),
        ),
        ("open connections", r.open_connections.to_string()),
        (
            "stops at",
            r.stop_at
                .map_or_else(|| "not while work holds it".to_owned(), at),
        ),
        (
            "why not stopped",
            r.reason_not_stopping.clone().unwrap_or_default(),
        ),
        ("busy limit", format!("{}s", r.busy_max_s)),
        (
            "stop asked for",
            r.stop_requested_at.map(at).unwrap_or_default(),
        ),
    ]
}

/// The answer to `dcs keepalive`.
pub fn kept(r: &IdleReport) -> String {
    crate::output::fields(&lines(r))
}

/// Parses `--for` (`2h`, `90m`, `1h30m`, `3600s`) into whole seconds.
pub fn parse_for(value: &str) -> Result<u64, String> {
    humantime::parse_duration(value)
        .map(|d| d.as_secs())
        .map_err(|e| format!("{value:?} is not a duration like 2h or 90m: {e}"))
}

#[cfg(test)]
mod tests {
    use dcs_model::api::{ActiveWork, LastInput};

    use super::*;

    #[test]
    fn the_explanation_says_what_holds_it() {
        let r = IdleReport {
            now: 1_800_000_100,
            idle_timeout_s: 1800,
            warning_s: 300,
            busy_max_s: 14400,
            last_input: Some(LastInput {
                at: 1_800_000_000,
                kind: "key".into(),
            }),
            active_work: vec![ActiveWork {
                what: "terminal".into(),
                detail: "shell pid 7: printing output".into(),
            }],
            keepalive_until: None,
            open_connections: 2,
            stop_at: None,
            warn_at: None,
            reason_not_stopping: Some("work holds it".into()),
            stop_requested_at: None,
        };
        let text = kept(&r);
        for want in [
            "key, 100 s ago",
            "printing output",
            "not while work holds it",
            "2",
        ] {
            assert!(text.contains(want), "{want}: {text}");
        }
        assert_eq!(parse_for("2h"), Ok(7200));
        assert!(parse_for("soon").is_err());
    }
}
