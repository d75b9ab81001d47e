//! Linux `/proc` helpers: find the processes a test started (by a marker
//! environment entry or by parent), read their command lines, check liveness
//! (through [`dcs_os::proc`], the project's one `/proc/<pid>/stat` parser), and
//! poll for a condition with a deadline.

use std::time::{Duration, Instant};

/// Pids whose `/proc/<pid>/environ` holds exactly the entry `var_eq`
/// (`KEY=VALUE`). Processes that vanish or cannot be read are skipped.
pub fn processes_with_env(var_eq: &str) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut pids: Vec<u32> = entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| env.split(|&b| b == 0).any(|e| e == var_eq.as_bytes()))
        })
        .collect();
    pids.sort_unstable();
    pids
}

/// The argument vector of `pid`, or `None` if it is gone or unreadable.
/// Kernel threads and zombies yield an empty vector.
pub fn cmdline(pid: u32) -> Option<Vec<String>> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let raw = raw.strip_suffix(&[0]).unwrap_or(&raw);
    if raw.is_empty() {
        return Some(Vec::new());
    }
    Some(
        raw.split(|&b| b == 0)
            .map(|arg| String::from_utf8_lossy(arg).into_owned())
            .collect(),
    )
}

/// True if `pid` exists and is not a zombie ([`dcs_os::proc::is_alive`]: an
/// unreadable `/proc` counts as alive, so a death is never concluded from a failed read).
pub fn is_alive(pid: u32) -> bool {
    dcs_os::proc::is_alive(pid)
}

/// The state letter from `/proc/<pid>/stat` (`R`, `S`, `Z`, …), or `None` if the
/// process is gone.
pub fn process_state(pid: u32) -> Option<char> {
    dcs_os::proc::stat(pid).map(|s| s.state)
}

/// The pid of the first live process whose parent is `parent` and that leads its own
/// process group (how a launcher starts its IDE: `process_group(0)`).
pub fn group_leader_child_of(parent: u32) -> Option<u32> {
    let entries = std::fs::read_dir("/proc").ok()?;
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .find(|&pid| {
            dcs_os::proc::stat(pid).is_some_and(|s| !s.dead() && s.ppid == parent && s.pgrp == pid)
        })
}

/// Polls `condition` every `poll` until it is true (returns `true`) or
/// `timeout` has passed (returns the result of one last check).
pub async fn wait_until(
    timeout: Duration,
    poll: Duration,
    mut condition: impl FnMut() -> bool,
) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return condition();
        }
        tokio::time::sleep(poll).await;
    }
}
