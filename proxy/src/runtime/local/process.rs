//! Launcher processes: identity (pid + start time, via [`dcs_os::proc`]) and stopping
//! a whole process group (SIGTERM, grace period, SIGKILL) so no IDE child is left
//! behind.
//!
//! Liveness has three answers: a `/proc` that cannot be read (out of descriptors)
//! says [`Liveness::Unknown`], and nothing here ever stops a process on that answer.

use std::time::Duration;

use dcs_os::{group, proc, Liveness};
use nix::sys::signal::Signal;
use tokio::time::{sleep, Instant};
use tracing::{debug, warn};

use super::state::ProcessRecord;

/// Start time of `pid` in clock ticks since boot, if it exists and is not a zombie.
pub fn start_time(pid: u32) -> Option<u64> {
    proc::stat(pid).filter(|s| !s.dead()).map(|s| s.start_time)
}

/// Whether the recorded process is still the same live process (not a reused pid).
pub fn liveness(p: &ProcessRecord) -> Liveness {
    proc::liveness(p.pid, Some(p.start_time))
}

/// Whether the recorded process is certainly gone.
pub fn is_gone(p: &ProcessRecord) -> bool {
    liveness(p) == Liveness::Gone
}

fn signal_group(pgid: u32, signal: Signal) {
    if let Err(err) = group::signal(pgid, signal) {
        debug!(pgid, %err, ?signal, "signal not delivered");
    }
}

/// Stops the launcher and everything in its process group: SIGTERM, up to `grace`
/// for the group to exit, then SIGKILL. Returns once the group is gone (or, after
/// SIGKILL, at most 10 s later).
pub async fn terminate(p: &ProcessRecord, grace: Duration) {
    if is_gone(p) {
        // The leader is gone; make sure no straggler of its group survives it.
        if group::exists(p.pid) {
            signal_group(p.pid, Signal::SIGKILL);
            wait_gone(p, KILL_WAIT).await;
        }
        return;
    }
    signal_group(p.pid, Signal::SIGTERM);
    if wait_gone(p, grace).await {
        return;
    }
    warn!(
        pid = p.pid,
        grace_secs = grace.as_secs_f32(),
        "launcher ignored SIGTERM; killing its group"
    );
    signal_group(p.pid, Signal::SIGKILL);
    if !wait_gone(p, KILL_WAIT).await {
        warn!(pid = p.pid, "the launcher's group survived SIGKILL");
    }
}

/// How long a killed group may take to disappear.
const KILL_WAIT: Duration = Duration::from_secs(10);

/// Waits up to `limit` until the leader and every member of its group are gone
/// (`/proc` scans off the async threads). True if they are.
async fn wait_gone(p: &ProcessRecord, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        let p = *p;
        let gone = tokio::task::spawn_blocking(move || is_gone(&p) && group::is_empty(p.pid))
            .await
            .unwrap_or(false);
        if gone {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        sleep(Duration::from_millis(25)).await;
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::process::CommandExt;

    use super::*;

    fn spawn_group(script: &str) -> (std::process::Child, ProcessRecord) {
        let child = std::process::Command::new("sh")
            .args(["-c", script])
            .process_group(0)
            .spawn()
            .expect("spawn");
        let pid = child.id();
        let start_time = start_time(pid).expect("alive");
        (
            child,
            ProcessRecord {
                pid,
                start_time,
                addr: None,
            },
        )
    }

    /// Waits (bounded) until the group has `n` live members: the script has started
    /// its children.
    async fn wait_members(pgid: u32, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while group::members(pgid).map_or(0, |m| m.len()) < n {
            assert!(Instant::now() < deadline, "the group never had {n} members");
            sleep(Duration::from_millis(10)).await;
        }
    }

    #[test]
    fn own_process_is_alive_and_pid_reuse_is_detected() {
        let me = std::process::id();
        let st = start_time(me).expect("self");
        let rec = |start_time| ProcessRecord {
            pid: me,
            start_time,
            addr: None,
        };
        assert_eq!(liveness(&rec(st)), Liveness::Alive);
        assert_eq!(liveness(&rec(st + 1)), Liveness::Gone);
    }

    #[tokio::test]
    async fn terminate_stops_the_whole_group() {
        // The leader spawns a grandchild in the same group and waits.
        let (mut child, rec) = spawn_group("sleep 30 & wait");
        let reaper = std::thread::spawn(move || child.wait());
        wait_members(rec.pid, 2).await;
        terminate(&rec, Duration::from_secs(5)).await;
        reaper.join().expect("join").expect("wait");
        assert!(is_gone(&rec));
        assert!(group::is_empty(rec.pid), "grandchild left behind");
    }

    #[tokio::test]
    async fn terminate_kills_after_grace_when_sigterm_is_ignored() {
        let (mut child, rec) = spawn_group("trap '' TERM; sleep 30 & while :; do sleep 0.05; done");
        let reaper = std::thread::spawn(move || child.wait());
        wait_members(rec.pid, 2).await;
        let started = Instant::now();
        terminate(&rec, Duration::from_millis(300)).await;
        assert!(started.elapsed() >= Duration::from_millis(300));
        reaper.join().expect("join").expect("wait");
        assert!(is_gone(&rec));
        assert!(group::is_empty(rec.pid), "the ignoring child was killed");
    }
}
