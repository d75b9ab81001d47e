//! Process groups on Linux: signal a whole group, and list its live members by
//! scanning `/proc` (zombies do not count: they are dead, only not yet reaped).
//!
//! The IDE is started as the leader of its own group, so its pty and file-watcher
//! children share the group id and are found (and stopped) with it.

use nix::errno::Errno;
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tracing::debug;

/// Sends `signal` to every process of group `pgid`. A group with no process left is
/// not an error.
pub fn signal(pgid: u32, signal: Signal) {
    let Ok(raw) = i32::try_from(pgid) else {
        return;
    };
    if raw <= 1 {
        // Never signal "every process" or init's group by accident.
        return;
    }
    match killpg(Pid::from_raw(raw), signal) {
        Ok(()) | Err(Errno::ESRCH) => {}
        Err(error) => debug!(pgid, %error, ?signal, "signalling the process group failed"),
    }
}

/// Pids of the live (not zombie) processes whose process group is `pgid`.
pub fn members(pgid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut pids: Vec<u32> = entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| stat(*pid).is_some_and(|s| s.pgrp == pgid && !s.dead()))
        .collect();
    pids.sort_unstable();
    pids
}

/// The fields of `/proc/<pid>/stat` this crate uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    /// State letter: `R`, `S`, `Z`, …
    pub state: char,
    /// Parent pid.
    pub ppid: u32,
    /// Process group id.
    pub pgrp: u32,
}

impl Stat {
    /// A zombie or a dead process.
    pub fn dead(&self) -> bool {
        matches!(self.state, 'Z' | 'X' | 'x')
    }
}

/// Reads `/proc/<pid>/stat`, or `None` if the process is gone.
pub fn stat(pid: u32) -> Option<Stat> {
    parse_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// Parses a `stat` line: `pid (comm) S ppid pgrp …`; `comm` may hold `)` and spaces.
pub fn parse_stat(line: &str) -> Option<Stat> {
    let rest = &line[line.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    let pgrp = fields.next()?.parse().ok()?;
    Some(Stat { state, ppid, pgrp })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_with_odd_command_names_parse() {
        let s = parse_stat("4242 (code) server) (x) S 17 4240 4240 0 -1").expect("parses");
        assert_eq!(
            s,
            Stat {
                state: 'S',
                ppid: 17,
                pgrp: 4240
            }
        );
        assert!(parse_stat("garbage").is_none());
        assert!(Stat { state: 'Z', ..s }.dead());
    }

    #[test]
    fn this_process_is_a_live_member_of_its_own_group() {
        let me = std::process::id();
        let pgrp = stat(me).expect("own stat").pgrp;
        assert!(members(pgrp).contains(&me));
    }

    #[test]
    fn init_and_the_all_processes_group_are_never_signalled() {
        // Would kill everything if it went through; returns quietly instead.
        signal(0, Signal::SIGCONT);
        signal(1, Signal::SIGCONT);
    }
}
