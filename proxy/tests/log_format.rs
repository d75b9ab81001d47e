//! The proxy's log as `kubectl logs` and collectors see it: a real `dcs-proxy`
//! process with stderr on a pipe writes no ANSI colour codes, and with
//! `--log-format json` one JSON object per line.
//!
//! Needs the launcher binary next to this test's profile directory (`make
//! build`, i.e. `cargo build --bins`), or in `$DCS_BIN_DIR`.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};

fn launcher_bin() -> PathBuf {
    let dir = match std::env::var_os("DCS_BIN_DIR").filter(|d| !d.is_empty()) {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_BIN_EXE_dcs-proxy"))
            .parent()
            .expect("parent")
            .to_path_buf(),
    };
    let bin = dir.join("dcs-launcher");
    assert!(
        bin.is_file(),
        "{} not found: run `make build` (cargo build --bins) first, or set DCS_BIN_DIR",
        bin.display()
    );
    bin
}

/// Runs the proxy in `format`, makes one request, stops it; its stderr.
fn log_of(format: &str) -> String {
    let tmp = tempfile::tempdir().expect("tmp");
    let mut child = Command::new(env!("CARGO_BIN_EXE_dcs-proxy"))
        .args([
            "serve",
            "--runtime",
            "local",
            "--auth",
            "none",
            "--listen",
            "127.0.0.1:0",
        ])
        .arg("--data-dir")
        .arg(tmp.path())
        .arg("--launcher-bin")
        .arg(launcher_bin())
        .args(["--log-format", format, "--log", "info"])
        .env_remove("DCS_PROXY_LOG_FORMAT")
        .env_remove("NO_COLOR")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("dcs-proxy");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let addr = loop {
        let line = lines
            .next()
            .expect("the proxy says where it listens")
            .expect("stdout");
        if let Some(rest) = line.strip_prefix("dcs-proxy listening on http://") {
            break rest.trim().to_owned();
        }
    };
    let mut conn = std::net::TcpStream::connect(&addr).expect("connect");
    write!(
        conn,
        "GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut answer = String::new();
    conn.read_to_string(&mut answer).expect("answer");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).expect("pid"));
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("SIGTERM");
    let mut err = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut err)
        .expect("stderr");
    child.wait().expect("exit");
    err
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
