//! Linux `/proc` helpers: find the processes a test started (by a marker
//! environment entry), read their command lines, check liveness, and poll
//! for a condition with a deadline.

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

/// True if `pid` exists and is not a zombie.
pub fn is_alive(pid: u32) -> bool {
    process_state(pid).is_some_and(|state| state != 'Z' && state != 'X')
}

/// The state letter from `/proc/<pid>/stat` (`R`, `S`, `Z`, …).
pub fn process_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) S …`; comm may itself contain `)` or spaces.
    let after_comm = &stat[stat.rfind(')')? + 1..];
    after_comm.trim_start().chars().next()
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
