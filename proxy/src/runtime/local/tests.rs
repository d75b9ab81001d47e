//! The local runtime over a data dir an earlier proxy left: deletes it began and did
//! not finish, and the data dir's lock.

use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::time::Duration;

use dcs_model::{InstanceId, InstanceSpec, UserId, WorkspaceKey};

use super::state::{ProcessRecord, Record, StateDir, Unknown};
use super::*;

fn config(dir: &Path) -> LocalConfig {
    LocalConfig {
        data_dir: dir.to_owned(),
        launcher_bin: "/nonexistent/dcs-launcher".into(),
        git_base: "http://127.0.0.1:1".into(),
        git_token_file: None,
        ide: "none".into(),
        ide_bin: None,
        stop_grace: Duration::from_secs(2),
        start_limit: Duration::from_secs(60),
        launcher_log: None,
        git: crate::config::GitLimits::default(),
        extra_ca_file: None,
        idle: dcs_model::env::IdlePolicy::default(),
        pre_stop: None,
        devcontainer: Default::default(),
        extensions_gallery: None,
    }
}

fn key() -> WorkspaceKey {
    WorkspaceKey::instance(
        UserId::new("alice").expect("user"),
        InstanceId::parse("inst-0123456789abcdef").expect("id"),
    )
}

/// A record of `key()` an earlier proxy was deleting, its launcher `process`.
fn being_deleted(data: &Path, process: Option<ProcessRecord>) -> StateDir {
    let state = StateDir::open(data.join("state")).expect("state");
    let record = Record {
        key: key(),
        base_path: format!("/instances/{}", key().id()),
        spec: InstanceSpec::default(),
        process,
        last_error: None,
        deleting: true,
        unknown: Unknown::default(),
    };
    state.save(&record).expect("save");
    state
}

fn record_file(data: &Path) -> std::path::PathBuf {
    data.join("state").join(format!("{}.json", key().name()))
}

#[tokio::test]
async fn a_delete_an_earlier_proxy_began_is_finished_at_open() {
    let tmp = tempfile::tempdir().expect("tmp");
    // Its launcher is gone: a pid no process has (the start time never matches).
    let dead = ProcessRecord {
        pid: std::process::id(),
        start_time: 1,
        addr: Some("127.0.0.1:9".parse().expect("addr")),
    };
    being_deleted(tmp.path(), Some(dead));
    let rt = LocalRuntime::open(config(tmp.path())).expect("open");
    assert!(rt.list(None).await.expect("list").is_empty());
    assert_eq!(rt.status(&key()).await.expect("status"), Status::NotFound);
    assert!(!record_file(tmp.path()).exists(), "the record is removed");
}

#[tokio::test]
async fn a_launcher_left_running_by_an_unfinished_delete_is_stopped_never_served() {
    let tmp = tempfile::tempdir().expect("tmp");
    let mut child = std::process::Command::new("sleep")
        .arg("60")
        .process_group(0)
        .spawn()
        .expect("spawn");
    let pid = child.id();
    let launcher = ProcessRecord {
        pid,
        start_time: process::start_time(pid).expect("alive"),
        addr: Some("127.0.0.1:9".parse().expect("addr")),
    };
    being_deleted(tmp.path(), Some(launcher));
    let rt = LocalRuntime::open(config(tmp.path())).expect("open");
    assert!(rt.list(None).await.expect("list").is_empty());
    assert!(rt.running_upstream(&key()).await.is_none(), "never served");
    let spec = WorkspaceSpec::new(key(), InstanceSpec::default());
    assert!(rt.ensure(&spec).await.is_err(), "never started");

    // What the proxy runs once it is up.
    rt.join_adopted_starts().await;
    let reaped = tokio::task::spawn_blocking(move || child.wait())
        .await
        .expect("join")
        .expect("wait");
    assert!(!reaped.success(), "stopped by a signal: {reaped}");
    assert!(process::is_gone(&launcher));
    assert!(!record_file(tmp.path()).exists(), "the record is removed");
    assert!(rt.existing(&key()).is_none());
}

#[tokio::test]
async fn a_data_dir_serves_one_runtime_at_a_time() {
    let tmp = tempfile::tempdir().expect("tmp");
    let first = LocalRuntime::open(config(tmp.path())).expect("open");
    let refused = LocalRuntime::open(config(tmp.path()))
        .err()
        .expect("a second runtime on the same data dir is refused");
    let text = refused.to_string();
    let expected = format!(
        "another dcs-proxy serves {} (pid {})",
        tmp.path().display(),
        std::process::id()
    );
    assert!(text.contains(&expected), "{text}");
    drop(first);
    LocalRuntime::open(config(tmp.path())).expect("free once the first is gone");
}
