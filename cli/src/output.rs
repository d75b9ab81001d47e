//! Rendering answers for people (aligned columns, `key: value` blocks) and for
//! scripts (the API's JSON, pretty-printed). Every cell, value and printed line
//! passes [`crate::safe`]: what the server sends never reaches the terminal raw.

use dcs_model::api::{Instance, InstanceStatus, Phase, WorkspaceVolume};
use serde::Serialize;

use crate::exit::CliError;
use crate::safe::{escape, escape_lines};

/// Columns separated by two spaces, each as wide as its widest cell, no trailing
/// spaces; one line per row after the header.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|row| row.iter().map(|c| escape(c).into_owned()).collect())
        .collect();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut out = String::new();
        for (i, cell) in cells.enumerate() {
            if i > 0 {
                out.push_str("  ");
            }
            out.push_str(cell);
            let width = widths.get(i).copied().unwrap_or(0);
            out.extend(std::iter::repeat_n(
                ' ',
                width.saturating_sub(cell.chars().count()),
            ));
        }
        out.truncate(out.trim_end().len());
        out.push('\n');
        out
    };
    let mut out = line(&mut headers.iter().copied());
    for row in &rows {
        out.push_str(&line(&mut row.iter().map(String::as_str)));
    }
    out
}

/// `key: value` lines with the values aligned (each one line, escaped); empty
/// values are left out.
pub fn fields(pairs: &[(&str, String)]) -> String {
    let width = pairs
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, _)| k.chars().count() + 1)
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for (key, value) in pairs.iter().filter(|(_, v)| !v.is_empty()) {
        let value = escape(value);
        out.push_str(&format!("{:<width$} {value}\n", format!("{key}:")));
    }
    out
}

/// Writes `text` to stdout, each line escaped ([`escape_lines`]); a closed pipe
/// (`dcs list | head`) is not an error.
pub fn print(text: &str) {
    use std::io::Write;
    let text = escape_lines(text);
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

/// Pretty JSON with a final newline. serde_json writes C0 controls in strings as
/// escapes but DEL and C1 raw; those are escaped (`\u009b`) too, which is the
/// same JSON (they only occur inside strings).
pub fn json<T: Serialize>(value: &T) -> Result<String, CliError> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| CliError::local(format!("encoding JSON: {e}")))?;
    let mut out = String::with_capacity(text.len() + 1);
    for c in text.chars() {
        if c.is_control() && c != '\n' {
            out.push_str(&format!("\\u{:04x}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out.push('\n');
    Ok(out)
}

/// A phase as a word.
pub fn phase(p: Phase) -> &'static str {
    match p {
        Phase::Stopped => "stopped",
        Phase::Starting => "starting",
        Phase::Running => "running",
        Phase::Failed => "failed",
    }
}

/// What `--wait` shows of a status: the start's progress (`cloning 42% (…)`) when
/// the proxy reports one, else the phase.
pub fn progress_line(s: &InstanceStatus) -> String {
    match &s.progress {
        Some(p) => p.line(),
        None => phase(s.phase).to_owned(),
    }
}

fn opt(v: &Option<String>) -> String {
    v.clone().unwrap_or_default()
}

/// One instance as `key: value` lines.
pub fn instance(i: &Instance) -> String {
    let kind = match i.kind {
        dcs_model::api::InstanceKind::Repo => "repo",
        dcs_model::api::InstanceKind::Instance => "instance",
    };
    fields(&[
        ("instance", i.instance_id.clone()),
        ("user", i.user_id.clone()),
        ("kind", kind.to_owned()),
        ("repo", opt(&i.repo)),
        ("status", phase(i.status).to_owned()),
        ("reason", opt(&i.reason)),
        ("url", i.url.clone()),
        ("image", opt(&i.base_image)),
        ("ide", opt(&i.ide)),
        ("ide version", opt(&i.ide_version)),
        ("storage", opt(&i.storage)),
        ("cpu", pair(&i.cpu_request, &i.cpu_limit)),
        ("memory", pair(&i.memory_request, &i.memory_limit)),
        ("env", i.env.join(", ")),
        ("created", opt(&i.created_at)),
        ("shared", shared(&i.shared_with)),
    ])
}

fn shared(s: &dcs_model::api::SharedWith) -> String {
    let users = s.users.iter().map(|u| format!("user {u}"));
    let groups = s.groups.iter().map(|g| format!("group {g}"));
    users.chain(groups).collect::<Vec<_>>().join(", ")
}

fn pair(request: &Option<String>, limit: &Option<String>) -> String {
    match (request, limit) {
        (None, None) => String::new(),
        (r, l) => format!(
            "request {}, limit {}",
            r.as_deref().unwrap_or("-"),
            l.as_deref().unwrap_or("-")
        ),
    }
}

/// Instances as a table.
pub fn instances(list: &[Instance]) -> String {
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|i| {
            vec![
                i.instance_id.clone(),
                i.user_id.clone(),
                i.repo.clone().unwrap_or_else(|| "-".into()),
                phase(i.status).to_owned(),
                i.ide.clone().unwrap_or_else(|| "-".into()),
                i.created_at.clone().unwrap_or_else(|| "-".into()),
                i.url.clone(),
            ]
        })
        .collect();
    table(
        &[
            "INSTANCE", "USER", "REPO", "STATUS", "IDE", "CREATED", "URL",
        ],
        &rows,
    )
}

/// A status as `key: value` lines.
pub fn status(s: &InstanceStatus) -> String {
    let mut pairs = vec![
        ("instance", s.instance_id.clone()),
        ("phase", phase(s.phase).to_owned()),
        ("ready", if s.ready { "yes" } else { "no" }.to_owned()),
        ("reason", opt(&s.reason)),
        (
            "progress",
            s.progress.as_ref().map(|p| p.line()).unwrap_or_default(),
        ),
        ("last activity", opt(&s.last_activity)),
        ("idle stop at", opt(&s.idle_stop_at)),
        ("idle timeout", format!("{}s", s.idle_timeout_seconds)),
    ];
    // The launcher's explanation: last input, work, connections, stop time.
    if let Some(idle) = &s.idle {
        pairs.extend(crate::idle::lines(idle));
    }
    fields(&pairs)
}

/// A workspace volume as `key: value` lines.
pub fn workspace(w: &WorkspaceVolume) -> String {
    fields(&[
        ("user", w.user_id.clone()),
        ("volume", w.volume.clone()),
        ("exists", if w.exists { "yes" } else { "no" }.to_owned()),
        ("used", w.used_bytes.map(bytes).unwrap_or_default()),
        ("capacity", opt(&w.capacity)),
        ("instances", w.instances.join(", ")),
    ])
}

/// A byte count for people (`1.5 GiB`).
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_columns_without_trailing_spaces() {
        let out = table(
            &["ID", "STATUS", "URL"],
            &[
                vec![
                    "inst-1".into(),
                    "running".into(),
                    "/instances/inst-1/".into(),
                ],
                vec!["i2".into(), "".into(), "/x/".into()],
            ],
        );
        assert_eq!(
            out,
            "ID      STATUS   URL\n\
             inst-1  running  /instances/inst-1/\n\
             i2               /x/\n"
        );
    }

    #[test]
    fn tables_count_characters_not_bytes() {
        let out = table(&["A", "B"], &[vec!["é".into(), "x".into()]]);
        assert_eq!(out, "A  B\né  x\n");
    }

    #[test]
    fn fields_align_and_skip_empty_values() {
        let out = fields(&[
            ("instance", "inst-1".into()),
            ("reason", String::new()),
            ("ide", "none".into()),
        ]);
        assert_eq!(out, "instance: inst-1\nide:      none\n");
    }

    #[test]
    fn byte_counts_read_well() {
        assert_eq!(bytes(12), "12 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(3 * 1024 * 1024 * 1024), "3.0 GiB");
    }

    #[test]
    fn an_instance_renders_as_fields() {
        let i = Instance {
            instance_id: "inst-1".into(),
            user_id: "alice".into(),
            kind: dcs_model::api::InstanceKind::Instance,
            repo: Some("acme/hello".into()),
            url: "/instances/inst-1/".into(),
            status: Phase::Starting,
            reason: None,
            base_image: None,
            ide: Some("none".into()),
            ide_version: None,
            storage: None,
            cpu_request: None,
            cpu_limit: Some("2".into()),
            memory_request: None,
            memory_limit: None,
            env: vec!["A".into(), "B".into()],
            created_at: None,
            shared_with: dcs_model::api::SharedWith {
                users: vec!["bob".into()],
                groups: vec!["team".into()],
            },
        };
        let out = instance(&i);
        assert!(out.contains("status:   starting\n"), "{out}");
        assert!(out.contains("cpu:      request -, limit 2\n"), "{out}");
        assert!(out.contains("env:      A, B\n"), "{out}");
        assert!(out.contains("shared:   user bob, group team\n"), "{out}");
        assert!(!out.contains("reason"), "{out}");
        let list = instances(&[i]);
        assert!(
            list.starts_with("INSTANCE  USER   REPO        STATUS"),
            "{list}"
        );
    }

    #[test]
    fn server_text_reaches_the_terminal_escaped() -> Result<(), Box<dyn std::error::Error>> {
        // A workspace process named with an escape sequence (prctl PR_SET_NAME), and
        // a reason with a C1 CSI and a line break that would forge a line.
        let s: InstanceStatus = serde_json::from_value(serde_json::json!({
            "instance_id": "inst-1", "phase": "running", "ready": true,
            "reason": "ok\u{9b}2J\nready: no", "idle_timeout_seconds": 60,
            "idle": {"now": 100, "idle_timeout_s": 60, "warning_s": 10, "busy_max_s": 600,
                "active_work": [{"what": "terminal",
                    "detail": "shell pid 7: \u{1b}]0;x\u{7} is using CPU"}],
                "open_connections": 1}
        }))?;
        let out = status(&s);
        for bad in ['\u{1b}', '\u{7}', '\u{9b}'] {
            assert!(!out.contains(bad), "{bad:?} in {out:?}");
        }
        assert!(
            out.contains("shell pid 7: \\u{1b}]0;x\\u{7} is using CPU"),
            "{out}"
        );
        assert!(out.contains("ok\\u{9b}2J\\u{a}ready: no\n"), "{out}");
        assert_eq!(out.matches("ready:").count(), 2, "no forged line: {out}");

        let cells = table(&["A"], &[vec!["x\u{1b}[31m".into()]]);
        assert_eq!(cells, "A\nx\\u{1b}[31m\n");

        let text = json(&serde_json::json!({"d": "\u{1b}]0;x\u{7}\u{9b}"}))?;
        assert!(
            !text.chars().any(|c| c.is_control() && c != '\n'),
            "{text:?}"
        );
        let back: serde_json::Value = serde_json::from_str(&text)?;
        assert_eq!(back["d"], "\u{1b}]0;x\u{7}\u{9b}", "the same JSON");
        Ok(())
    }
}
