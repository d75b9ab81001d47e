//! A shell on a terminal of its own below a process is found, and a job it runs
//! in the foreground is seen using CPU: what VS Code's pty host starts.

use std::time::Duration;

use tokio::io::AsyncWriteExt;

use super::*;
use crate::fixtures::PATIENCE;

/// `check`'s first `Some`, asked until [`PATIENCE`] runs out.
async fn eventually<T, F, Fut>(mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while tokio::time::Instant::now() < deadline {
        if let Some(found) = check().await {
            return Some(found);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

#[tokio::test]
async fn a_terminal_shells_busy_foreground_job_is_found_below_its_process() {
    let (pty, pts) = pty_process::open().expect("pty");
    let home = tempfile::tempdir().expect("home");
    // node-pty's way: the shell leads a session on the terminal, job control on.
    let mut shell = pty_process::Command::new("/bin/bash")
        .args(["--norc", "--noprofile", "-i"])
        .env("HOME", home.path())
        .kill_on_drop(true)
        .spawn(pts)
        .expect("bash");
    let pid = shell.id().expect("pid");
    let (_out, mut input) = pty.into_split();
    let me = std::process::id();
    let found = eventually(|| async {
        tokio::task::spawn_blocking(move || shells(me).contains(&pid))
            .await
            .unwrap_or(false)
            .then_some(())
    })
    .await;
    assert!(
        found.is_some(),
        "the shell {pid} is not among {:?}",
        shells(me)
    );
    assert_eq!(
        tokio::task::spawn_blocking(move || work::foreground(pid))
            .await
            .expect("task"),
        None,
        "at its prompt nothing runs"
    );
    input.write_all(b"yes > /dev/null\n").await.expect("type");
    // Sampled a while apart, the same job used more CPU: watched work, as the
    // clock reports it.
    let activity = Activity::new(dcs_model::env::IdlePolicy::default(), now_ms());
    let mut open = HashMap::new();
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let busy = loop {
        for _ in 0..2 {
            let ours = sample(me).into_iter().filter(|(p, _)| *p == pid).collect();
            record(&mut open, &activity, ours, now_ms());
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        let active = activity.terminals().active(now_ms());
        if active.iter().any(|w| w.detail.contains("yes is using CPU")) {
            break Some(());
        }
        if tokio::time::Instant::now() >= deadline {
            break None;
        }
    };
    assert!(
        busy.is_some(),
        "{:?}",
        activity.terminals().active(now_ms())
    );
    // Its shell gone, it is forgotten.
    let _ = shell.start_kill();
    let _ = shell.wait().await;
    record(&mut open, &activity, sample(me), now_ms());
    assert!(!open.contains_key(&pid));
}
