//! Supervision of real processes: a fake IDE (Python's `http.server`, behind a shell
//! that leaves a child in the group) is started, crashed, restarted and stopped.

use std::path::Path;

use super::*;
use crate::fixtures::fake_ide::shell;
use crate::forward::probe;

fn quick() -> Policy {
    Policy {
        backoff_min: Duration::from_millis(20),
        backoff_max: Duration::from_millis(200),
        stable_after: Duration::from_secs(60),
        max_crashes: 3,
    }
}

/// A fake IDE: a background `sleep` (its pid written to `child.pid`, as an IDE's pty
/// or watcher child), then an HTTP server as the group leader.
const FAKE_IDE: &str = "sleep 300 & echo $! > child.pid; \
                        exec python3 -m http.server --bind 127.0.0.1 \"$PORT\" >/dev/null 2>&1";

async fn wait_running_and_answering(sup: &Supervisor, not_pid: Option<u32>) -> (u32, SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let State::Running { pid, addr } = sup.state() {
            if Some(pid) != not_pid && probe(addr, "/", Duration::from_secs(1)).await {
                return (pid, addr);
            }
        }
        assert!(
            Instant::now() < deadline,
            "never answered: {:?}",
            sup.state()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Alive and not a zombie (an unreadable `/proc` counts as alive: never conclude a
/// death from a failed read).
fn alive(pid: u32) -> bool {
    dcs_os::proc::is_alive(pid)
}

fn read_pid(file: &Path) -> u32 {
    std::fs::read_to_string(file)
        .expect("pid file")
        .trim()
        .parse()
        .expect("pid")
}

#[tokio::test]
async fn a_crashed_ide_is_restarted_and_the_workspace_is_untouched() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("work.txt"), "unsaved? no: saved").expect("write");
    let sup = Supervisor::spawn("fake", shell(dir.path(), FAKE_IDE), quick());
    let (pid, _) = wait_running_and_answering(&sup, None).await;
    let first_child = read_pid(&dir.path().join("child.pid"));
    assert_eq!(sup.starts(), 1, "one start so far");

    group::signal(pid, Signal::SIGKILL);
    let (new_pid, _) = wait_running_and_answering(&sup, Some(pid)).await;
    assert_ne!(new_pid, pid);
    assert_eq!(
        sup.starts(),
        2,
        "the restart is counted: pages of the first start are told"
    );
    assert!(
        !alive(first_child),
        "the crashed IDE's children were cleaned up"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("work.txt")).expect("read"),
        "unsaved? no: saved"
    );
    assert!(!sup.stop(Duration::from_secs(5)).await.forced);
}

#[tokio::test]
async fn stop_takes_the_whole_group_down_and_leaves_no_orphan() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sup = Supervisor::spawn("fake", shell(dir.path(), FAKE_IDE), quick());
    let (pid, addr) = wait_running_and_answering(&sup, None).await;
    let child = read_pid(&dir.path().join("child.pid"));
    assert!(alive(child));
    assert_eq!(
        group::stat(child).map(|s| s.pgrp),
        Some(pid),
        "same group as the IDE"
    );

    let ending = sup.stop(Duration::from_secs(5)).await;
    assert!(!ending.forced, "SIGTERM was enough");
    assert!(!alive(pid) && !alive(child), "no orphan left behind");
    assert!(group::is_empty(pid));
    assert_eq!(sup.state(), State::Stopped);
    assert!(!probe(addr, "/", Duration::from_millis(500)).await);
    // A second stop is a no-op.
    assert_eq!(sup.stop(Duration::from_secs(1)).await, Ending::default());
}

#[tokio::test]
async fn an_ide_ignoring_sigterm_is_killed_after_the_grace_period() {
    let dir = tempfile::tempdir().expect("tempdir");
    let stubborn = "trap '' TERM; sleep 300 & echo $! > child.pid; \
                    exec python3 -m http.server --bind 127.0.0.1 \"$PORT\" >/dev/null 2>&1";
    let sup = Supervisor::spawn("stubborn", shell(dir.path(), stubborn), quick());
    // Python resets SIGTERM to its default on start; the sleep inherits the ignore.
    let (pid, _) = wait_running_and_answering(&sup, None).await;
    let child = read_pid(&dir.path().join("child.pid"));
    let started = Instant::now();
    let ending = sup.stop(Duration::from_millis(500)).await;
    assert!(ending.forced, "the group had to be killed");
    assert!(started.elapsed() >= Duration::from_millis(500));
    // `stop` waits until the group is gone: no polling here, it must already be so.
    assert!(!alive(pid), "the leader is gone when stop returns");
    assert!(
        !alive(child),
        "the ignoring child is gone when stop returns"
    );
    assert_eq!(group::members(pid).expect("scan"), Vec::<u32>::new());
    assert_eq!(sup.state(), State::Stopped);
}

#[tokio::test]
async fn a_crashed_ides_group_is_gone_before_the_restart_is_scheduled() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A long backoff, so the `Restarting` state is seen before the next start.
    let slow = Policy {
        backoff_min: Duration::from_secs(30),
        backoff_max: Duration::from_secs(30),
        ..quick()
    };
    let sup = Supervisor::spawn("fake", shell(dir.path(), FAKE_IDE), slow);
    let (pid, _) = wait_running_and_answering(&sup, None).await;
    let child = read_pid(&dir.path().join("child.pid"));
    let mut watch = sup.watch();

    group::signal(pid, Signal::SIGKILL);
    tokio::time::timeout(
        Duration::from_secs(60),
        watch.wait_for(|s| matches!(s, State::Restarting { .. })),
    )
    .await
    .expect("the crash is noticed")
    .expect("supervisor alive");
    // No polling: the supervisor waits for the old group before it restarts anything.
    assert!(!alive(child), "the crashed IDE's child is gone");
    assert_eq!(group::members(pid).expect("scan"), Vec::<u32>::new());
    // A stop during the backoff returns at once: nothing runs.
    assert_eq!(sup.stop(Duration::from_secs(1)).await, Ending::default());
    assert_eq!(sup.state(), State::Stopped);
}

#[tokio::test]
async fn an_ide_that_keeps_crashing_is_given_up_with_a_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sup = Supervisor::spawn("crashy", shell(dir.path(), "exit 7"), quick());
    // What the launcher waits on to end itself.
    let why = tokio::time::timeout(Duration::from_secs(60), sup.gave_up())
        .await
        .expect("gives up in time");
    assert!(
        why.contains("crashy exited 4 times in a row") && why.contains("7"),
        "{why}"
    );
    assert_eq!(sup.state(), State::Failed(why));
    sup.stop(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn a_stopped_ide_was_never_given_up() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sup = Supervisor::spawn("fake", shell(dir.path(), FAKE_IDE), quick());
    wait_running_and_answering(&sup, None).await;
    sup.stop(Duration::from_secs(5)).await;
    let gave_up = tokio::select! {
        biased;
        why = sup.gave_up() => Some(why),
        () = std::future::ready(()) => None,
    };
    assert_eq!(gave_up, None, "a stop is no give-up");
}

#[tokio::test]
async fn a_missing_program_fails_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cwd = dir.path().to_path_buf();
    let make: MakeLaunch = Arc::new(move |_| Launch {
        program: "/nonexistent/code-server".into(),
        cwd: cwd.clone(),
        ..Launch::default()
    });
    let sup = Supervisor::spawn("missing", make, quick());
    let mut watch = sup.watch();
    let state = tokio::time::timeout(
        Duration::from_secs(60),
        watch.wait_for(|s| matches!(s, State::Failed(_))),
    )
    .await
    .expect("fails without restarts")
    .expect("alive")
    .clone();
    assert!(
        matches!(&state, State::Failed(why) if why.contains("cannot start missing")),
        "{state:?}"
    );
}

#[test]
fn backoff_doubles_from_the_minimum_up_to_the_maximum() {
    let p = Policy::default();
    assert_eq!(p.backoff(1), Duration::from_millis(500));
    assert_eq!(p.backoff(2), Duration::from_secs(1));
    assert_eq!(p.backoff(4), Duration::from_secs(4));
    assert_eq!(p.backoff(40), Duration::from_secs(30));
}
