//! A whole launcher running the `code-server` kind with a fake `code-server`
//! (`DCS_IDE_BIN`): a shell script that takes code-server's flags, leaves a child in
//! its group and serves the checkout over HTTP with Python.

use std::path::Path;
use std::time::{Duration, Instant};

use dcs_model::LauncherEnv;
use http::StatusCode;
use nix::sys::signal::Signal;

use crate::fixtures::{env, fake_ide, Running, Upstream, PATIENCE};
use crate::supervise::group;
use crate::Stopped;

/// Writes its pid and its child's to `<user-data-dir>/{ide,child}.pid`, then serves
/// the checkout.
const PIDS: &str = r#"sleep 300 & echo $! > "$data/child.pid"
echo $$ > "$data/ide.pid""#;

/// As [`PIDS`], but a restarted run (its pid file is there already) takes three
/// seconds before it listens, as code-server on a busy machine.
const PIDS_SLOW_RESTART: &str = r#"[ -e "$data/ide.pid" ] && restarted=1
echo $$ > "$data/ide.pid"
[ -n "$restarted" ] && sleep 3"#;

/// As [`PIDS_SLOW_RESTART`], but a restarted run listens at once and answers every
/// request `404 Cannot GET` for two seconds, as code-server before its routes exist.
const PIDS_LATE_ROUTES: &str = r#"[ -e "$data/ide.pid" ] && routes_after=2
echo $$ > "$data/ide.pid""#;

/// Writes its environment to `<user-data-dir>/env`, then serves the checkout.
const ENV_DUMP: &str = r#"env > "$data/env""#;

/// A launcher's environment for the `code-server` kind, run by `script` (written
/// into `tools`).
fn code_server_env(upstream: &Upstream, ws: &Path, tools: &Path, script: &str) -> LauncherEnv {
    let mut env = env(&upstream.base(), ws);
    env.ide = "code-server".into();
    env.ide_bin = Some(fake_ide::install(tools, script));
    env
}

fn pid_in(data: &Path, name: &str) -> u32 {
    try_pid_in(data, name).expect("a pid in the pid file")
}

/// The pid in `<data>/<name>`, or `None` while the file is missing or half written
/// (the fake writes it with `echo $$ > file`, not atomically).
fn try_pid_in(data: &Path, name: &str) -> Option<u32> {
    std::fs::read_to_string(data.join(name))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Alive and not a zombie (an unreadable `/proc` counts as alive).
fn alive(pid: u32) -> bool {
    dcs_os::proc::is_alive(pid)
}

#[tokio::test]
async fn code_server_is_started_forwarded_to_restarted_and_stopped_with_its_group() {
    let upstream = Upstream::new();
    let ws = tempfile::tempdir().expect("tempdir");
    let tools = tempfile::tempdir().expect("tempdir");
    let script = fake_ide::code_server(PIDS);
    let env = code_server_env(&upstream, ws.path(), tools.path(), &script);
    let data = env.config_dir().join("code-server/data");
    let l = Running::ready(env).await;

    // Every non-/_dcs/ path is the IDE's: here, the fake serves the checkout.
    let readme = l.get("/README.md").await;
    assert_eq!(
        (readme.status, readme.text().as_str()),
        (StatusCode::OK, "hello\n")
    );
    let ide = pid_in(&data, "ide.pid");
    let child = pid_in(&data, "child.pid");
    assert_eq!(
        group::stat(child).map(|s| s.pgrp),
        Some(ide),
        "own process group"
    );
    assert_ne!(
        group::stat(ide).map(|s| s.pgrp),
        group::stat(std::process::id()).map(|s| s.pgrp)
    );

    // Crash: ready drops, then the IDE is back on a new process; the checkout is as it was.
    group::signal(ide, Signal::SIGKILL);
    let deadline = Instant::now() + PATIENCE;
    while try_pid_in(&data, "ide.pid").is_none_or(|p| p == ide)
        || l.get("/_dcs/ready").await.status != StatusCode::OK
    {
        assert!(Instant::now() < deadline, "the IDE never came back");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!alive(child), "the crashed IDE's child was cleaned up");
    assert_eq!(l.get("/README.md").await.text(), "hello\n");
    assert_eq!(
        std::fs::read_to_string(l.checkout.join("README.md")).expect("read"),
        "hello\n"
    );

    let ide = pid_in(&data, "ide.pid");
    let child = pid_in(&data, "child.pid");
    assert_eq!(l.stop().await.expect("stops"), Stopped::Clean);
    assert!(!alive(ide) && !alive(child), "no orphan after the stop");
}

#[tokio::test]
async fn a_page_opened_while_the_ide_restarts_waits_for_it_instead_of_failing() {
    held_through_a_restart(PIDS_SLOW_RESTART).await;
}

#[tokio::test]
async fn a_page_opened_while_the_restarted_ide_has_no_routes_yet_waits_for_them() {
    held_through_a_restart(PIDS_LATE_ROUTES).await;
}

/// Crashes the fake IDE run by `body` and opens two pages once the next run has
/// begun: both are held until the restarted IDE answers, and then answered by it.
async fn held_through_a_restart(body: &str) {
    let upstream = Upstream::new();
    let ws = tempfile::tempdir().expect("tempdir");
    let tools = tempfile::tempdir().expect("tempdir");
    let script = fake_ide::code_server(body);
    let env = code_server_env(&upstream, ws.path(), tools.path(), &script);
    let data = env.config_dir().join("code-server/data");
    let l = Running::ready(env).await;
    assert_eq!(l.get("/README.md").await.status, StatusCode::OK);
    let ide = pid_in(&data, "ide.pid");

    // Crash, and wait until the next run has begun (it has written its pid and is
    // still seconds away from answering): a page opened now waits for it.
    group::signal(ide, Signal::SIGKILL);
    let deadline = Instant::now() + PATIENCE;
    while try_pid_in(&data, "ide.pid").is_none_or(|p| p == ide) {
        assert!(Instant::now() < deadline, "the IDE was never restarted");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (first, second) = tokio::join!(l.get("/README.md"), l.get("/README.md"));
    for page in [first, second] {
        assert_eq!(
            (page.status, page.text().as_str()),
            (StatusCode::OK, "hello\n"),
            "held until the restarted IDE answered"
        );
    }
    assert_eq!(l.stop().await.expect("stops"), Stopped::Clean);
}

#[tokio::test]
async fn an_ide_that_exits_at_once_fails_start_up_with_its_exit_status() {
    let upstream = Upstream::new();
    let ws = tempfile::tempdir().expect("tempdir");
    let tools = tempfile::tempdir().expect("tempdir");
    let env = code_server_env(&upstream, ws.path(), tools.path(), "#!/bin/sh\nexit 9\n");
    let l = Running::start(env).await;
    let failed = l.wait_for_phase("failed").await;
    let message = failed.json()["error"]["message"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    assert!(
        message.contains("code-server")
            && message.contains("exited 3 times")
            && message.contains('9'),
        "{message}"
    );
    assert!(matches!(l.stop().await.expect("stops"), Stopped::Failed(_)));
}

#[tokio::test]
async fn a_missing_ide_binary_is_explained() {
    let upstream = Upstream::new();
    let ws = tempfile::tempdir().expect("tempdir");
    let mut env = env(&upstream.base(), ws.path());
    env.ide = "code-server".into();
    env.ide_bin = Some("/nonexistent/bin/code-server".into());
    let l = Running::start(env).await;
    let failed = l.wait_for_phase("failed").await;
    let message = failed.json()["error"]["message"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    assert!(
        message.contains("DCS_IDE_BIN=/nonexistent/bin/code-server"),
        "{message}"
    );
    l.stop().await.expect("stops");
}

#[tokio::test]
async fn the_ide_trusts_the_launchers_bundle_extra_ca_included() {
    let upstream = Upstream::new();
    let ws = tempfile::tempdir().expect("tempdir");
    let tools = tempfile::tempdir().expect("tempdir");
    let ca = crate::trust::test_ca::TestCa::new("operator CA");
    let script = fake_ide::code_server(ENV_DUMP);
    let mut env = code_server_env(&upstream, ws.path(), tools.path(), &script);
    env.extra_ca_file = Some(ca.write_ca(tools.path()));
    let bundle = env.config_dir().join("trust/ca-bundle.pem");
    let data = env.config_dir().join("code-server/data");
    let l = Running::ready(env).await;
    let seen = std::fs::read_to_string(data.join("env")).expect("the fake wrote its env");
    l.stop().await.expect("stops");
    for var in ["SSL_CERT_FILE", "NODE_EXTRA_CA_CERTS"] {
        assert!(
            seen.lines()
                .any(|l| l == format!("{var}={}", bundle.display())),
            "{var} in {seen}"
        );
    }
    let pem = std::fs::read_to_string(&bundle).expect("bundle");
    assert!(pem.contains(ca.ca_pem.lines().nth(1).expect("base64")));
}
