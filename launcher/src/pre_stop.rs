//! `DCS_PRE_STOP`: the operator's command run when the launcher is asked to stop
//! (SIGTERM), before the IDE is stopped, so it can still save what the IDE or a
//! build holds (commit work in progress, flush a cache).
//!
//! It runs as `/bin/sh -c <command>` in the workspace folder, with the environment
//! the user's processes get ([`crate::user_env`]: no `DCS_*`), as the leader of its
//! own process group. Each line it prints goes to the launcher's log. It is bounded
//! by the stop grace period: still running at the deadline, its whole group is
//! killed and the stop goes on; what is left of the grace is the IDE's. The stop
//! itself does not change: SIGTERM, grace, kill of the whole workspace.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Command;
use tracing::{info, warn};

/// How the command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// It exited with this code (`None`: killed by a signal).
    Exited(Option<i32>),
    /// It was still running at the deadline and was killed.
    TimedOut,
    /// It could not be started.
    NotStarted(String),
}

/// Runs `command` in `cwd`, for at most `limit`, logging its output.
pub async fn run(command: &str, cwd: &Path, limit: Duration) -> Outcome {
    let began = Instant::now();
    info!(
        limit_secs = limit.as_secs_f32(),
        "running the pre-stop command (DCS_PRE_STOP)"
    );
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c").arg(command);
    crate::user_env::prepare(&mut cmd, cwd)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = match cmd.spawn() {
        Ok(child) => child,
        Err(e) => {
            warn!(error = %e, "the pre-stop command could not be started");
            return Outcome::NotStarted(e.to_string());
        }
    };
    let pid = child.id();
    let out = child
        .stdout
        .take()
        .map(|s| tokio::spawn(log_lines(s, "stdout")));
    let err = child
        .stderr
        .take()
        .map(|s| tokio::spawn(log_lines(s, "stderr")));
    let outcome = match tokio::time::timeout(limit, child.wait()).await {
        Ok(Ok(status)) => Outcome::Exited(status.code()),
        Ok(Err(e)) => {
            warn!(error = %e, "waiting for the pre-stop command failed");
            Outcome::Exited(None)
        }
        Err(_) => Outcome::TimedOut,
    };
    // Whatever it left running (or all of it, at the deadline) ends now: its output
    // pipes close and the stop goes on.
    if let Some(pgid) = pid {
        let _ = dcs_os::group::signal(pgid, Signal::SIGKILL);
    }
    let _ = child.wait().await;
    for task in [out, err].into_iter().flatten() {
        let _ = tokio::time::timeout(Duration::from_secs(1), task).await;
    }
    let secs = began.elapsed().as_secs_f32();
    match &outcome {
        Outcome::Exited(Some(0)) => info!(secs, "the pre-stop command finished"),
        Outcome::Exited(code) => warn!(secs, ?code, "the pre-stop command failed"),
        Outcome::TimedOut => warn!(
            secs,
            "the pre-stop command was still running at the end of the stop grace period; killed"
        ),
        Outcome::NotStarted(_) => {}
    }
    outcome
}

/// Logs each line `stream` prints.
async fn log_lines(stream: impl AsyncRead + Unpin, which: &'static str) {
    let mut lines = BufReader::new(stream).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        info!(stream = which, line = %line, "pre-stop");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_command_runs_in_the_folder_without_the_contract() {
        let dir = tempfile::tempdir().expect("tempdir");
        let outcome = run(
            "pwd > where.txt; env > env.txt; echo done",
            dir.path(),
            Duration::from_secs(30),
        )
        .await;
        assert_eq!(outcome, Outcome::Exited(Some(0)));
        let here = std::fs::read_to_string(dir.path().join("where.txt")).expect("pwd");
        let real = dir.path().canonicalize().expect("canonical");
        assert_eq!(here.trim(), real.display().to_string());
        let env = std::fs::read_to_string(dir.path().join("env.txt")).expect("env");
        assert!(!env.lines().any(|l| l.starts_with("DCS_")), "{env}");
    }

    #[tokio::test]
    async fn a_stop_request_runs_it_in_the_checkout_and_a_slow_one_does_not_hold_the_stop() {
        use crate::fixtures::{env, Running, Upstream};
        let upstream = Upstream::new();
        let tmp = tempfile::tempdir().expect("tempdir");
        let mut e = env(&upstream.base(), tmp.path());
        e.pre_stop = Some("git status --porcelain > ../pre-stop.txt; echo ran".into());
        let running = Running::ready(e.clone()).await;
        std::fs::write(running.checkout.join("unsaved.txt"), "x").expect("write");
        assert_eq!(running.stop().await.expect("stops"), crate::Stopped::Clean);
        let seen = std::fs::read_to_string(tmp.path().join("acme/pre-stop.txt")).expect("ran");
        assert!(
            seen.contains("unsaved.txt"),
            "it ran in the checkout: {seen}"
        );

        // A command that never ends is killed when the grace period (2 s) is over.
        e.pre_stop = Some("sleep 600".into());
        let running = Running::ready(e).await;
        let began = Instant::now();
        assert_eq!(running.stop().await.expect("stops"), crate::Stopped::Clean);
        assert!(
            began.elapsed() >= Duration::from_secs(2),
            "it had the grace period"
        );
    }

    #[tokio::test]
    async fn a_failing_command_says_so_and_a_slow_one_is_killed_at_the_limit() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(
            run("exit 3", dir.path(), Duration::from_secs(30)).await,
            Outcome::Exited(Some(3))
        );
        // A child that outlives the shell, holding its output open, goes too. The
        // limit leaves `sh` ample time to start the child and write its pid first
        // (the outcome is a timeout all the same).
        let outcome = run(
            "sleep 600 & echo $! > child.pid; sleep 600",
            dir.path(),
            Duration::from_secs(5),
        )
        .await;
        assert_eq!(outcome, Outcome::TimedOut);
        let written = std::fs::read_to_string(dir.path().join("child.pid")).unwrap_or_default();
        let pid: i32 = written.trim().parse().unwrap_or_else(|_| {
            panic!("sh never wrote its child's pid within the 5 s limit: {written:?}")
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        let gone = || {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .map_or(true, |s| s.contains(") Z "))
        };
        while !gone() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(gone(), "the group was killed");
    }
}
