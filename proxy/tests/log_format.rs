//! The proxy's log as `kubectl logs` and collectors see it: a real `dcs-proxy`
//! process with stderr on a pipe writes no ANSI colour codes, and with
//! `--log-format json` one JSON object per line.
//!
//! Needs the launcher binary (see `common`).

mod common;

use common::{get, Proxy};

/// Runs the proxy in `format`, makes one request, stops it; its stderr.
fn log_of(format: &str) -> String {
    let proxy = Proxy::start(&["--log-format", format, "--log", "info"]);
    let answer = get(&proxy.addr, "/healthz");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    proxy.stop()
}

#[test]
fn the_log_has_no_colour_codes_when_stderr_is_not_a_terminal() {
    let text = log_of("text");
    assert!(text.contains("request"), "{text}");
    assert!(
        !text.contains('\u{1b}'),
        "ANSI codes in a piped log: {text:?}"
    );
}

#[test]
fn json_log_lines_are_one_object_each() {
    let json = log_of("json");
    assert!(!json.contains('\u{1b}'), "{json:?}");
    let mut requests = 0;
    for line in json.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(
            v["level"].is_string() && v["timestamp"].is_string(),
            "{line}"
        );
        if v["fields"]["message"] == "request" {
            requests += 1;
            assert_eq!(v["fields"]["status"], 200, "{line}");
        }
    }
    assert_eq!(requests, 1, "{json}");
}
