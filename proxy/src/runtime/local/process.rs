//! Launcher processes: identity via `/proc`, and stopping a whole process group
//! (SIGTERM, grace period, SIGKILL) so no IDE child is left behind.

use std::time::Duration;

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tokio::time::{sleep, Instant};
use tracing::{debug, warn};

use super::state::ProcessRecord;

/// Start time of `pid` in clock ticks since boot, if it exists and is not a zombie.
pub fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) state ...`: comm may hold spaces and parentheses; the last ')' ends it.
    let after = &stat[stat.rfind(')')? + 1..];
    let mut fields = after.split_whitespace();
    let state = fields.next()?;
    if state == "Z" || state == "X" {
        return None;
    }
    // Fields after comm start at field 3 (state); starttime is field 22.
    fields.nth(22 - 4)?.parse().ok()
}

/// Whether the recorded process is still the same live process (not a reused pid).
pub fn is_alive(p: &ProcessRecord) -> bool {
    start_time(p.pid) == Some(p.start_time)
}

fn group_exists(pgid: u32) -> bool {
    i32::try_from(pgid).is_ok_and(|pgid| killpg(Pid::from_raw(pgid), None).is_ok())
}

fn signal_group(pgid: u32, signal: Signal) {
    let Ok(raw) = i32::try_from(pgid) else { return };
    if raw <= 1 {
        return; // never signal init or "every process"
    }
    if let Err(err) = killpg(Pid::from_raw(raw), signal) {
        debug!(pgid, %err, ?signal, "signal not delivered");
    }
}

/// SIGKILLs the recorded process's group at once, if it is still that process.
pub fn kill_now(p: &ProcessRecord) {
    if is_alive(p) {
        signal_group(p.pid, Signal::SIGKILL);
    }
}

/// Stops the launcher and everything in its process group: SIGTERM, up to `grace`
/// for it to exit, then SIGKILL. Returns once the leader is gone.
pub async fn terminate(p: &ProcessRecord, grace: Duration) {
    if !is_alive(p) {
        // The leader is gone; make sure no straggler of its group survives it.
        if group_exists(p.pid) {
            signal_group(p.pid, Signal::SIGKILL);
        }
        return;
    }
    signal_group(p.pid, Signal::SIGTERM);
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if !is_alive(p) && !group_exists(p.pid) {
            return;
        }
        sleep(Duration::from_millis(25)).await;
    }
    warn!(
        pid = p.pid,
        grace_secs = grace.as_secs_f32(),
        "launcher ignored SIGTERM; killing its group"
    );
    signal_group(p.pid, Signal::SIGKILL);
    let deadline = Instant::now() + Duration::from_secs(5);
    while is_alive(p) && Instant::now() < deadline {
        sleep(Duration::from_millis(10)).await;
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

    #[test]
    fn own_process_is_alive_and_pid_reuse_is_detected() {
        let me = std::process::id();
        let st = start_time(me).expect("self");
        assert!(is_alive(&ProcessRecord {
            pid: me,
            start_time: st,
            addr: None
        }));
        assert!(!is_alive(&ProcessRecord {
            pid: me,
            start_time: st + 1,
            addr: None
        }));
    }

    #[tokio::test]
    async fn terminate_stops_the_whole_group() {
        // The leader spawns a grandchild in the same group and waits.
        let (mut child, rec) = spawn_group("sleep 30 & wait");
        let reaper = std::thread::spawn(move || child.wait());
        sleep(Duration::from_millis(100)).await;
        terminate(&rec, Duration::from_secs(5)).await;
        reaper.join().expect("join").expect("wait");
        assert!(!is_alive(&rec));
        assert!(!group_exists(rec.pid), "grandchild left behind");
    }

    #[tokio::test]
    async fn terminate_kills_after_grace_when_sigterm_is_ignored() {
        let (mut child, rec) = spawn_group("trap '' TERM; while :; do sleep 0.05; done");
        let reaper = std::thread::spawn(move || child.wait());
        sleep(Duration::from_millis(100)).await;
        let started = Instant::now();
        terminate(&rec, Duration::from_millis(300)).await;
        assert!(started.elapsed() >= Duration::from_millis(300));
        reaper.join().expect("join").expect("wait");
        assert!(!is_alive(&rec));
    }
}
