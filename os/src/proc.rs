//! `/proc/<pid>/stat`: the fields this project reads, and what they say about a
//! process's life.
//!
//! A zombie is dead (only not yet reaped). A `stat` that cannot be read for a reason
//! other than "no such process" (too many open files, say) says nothing: callers get
//! [`Liveness::Unknown`] and must never treat it as a death.

use std::io;

/// The fields of `/proc/<pid>/stat` this project uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    /// State letter: `R`, `S`, `Z`, …
    pub state: char,
    /// Parent pid.
    pub ppid: u32,
    /// Process group id.
    pub pgrp: u32,
    /// Nice value (field 19), -20 to 19: of the thread, when read from a thread's
    /// `stat` (Linux sets it per thread).
    pub nice: i32,
    /// Start time in clock ticks since boot (field 22): with the pid, a process's
    /// identity that survives pid reuse.
    pub start_time: u64,
}

impl Stat {
    /// A zombie or a dead process.
    pub fn dead(&self) -> bool {
        matches!(self.state, 'Z' | 'X' | 'x')
    }
}

/// Parses a `stat` line: `pid (comm) S ppid pgrp …`; `comm` may hold `)` and spaces,
/// so the last `)` ends it.
pub fn parse_stat(line: &str) -> Option<Stat> {
    let rest = &line[line.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    let pgrp = fields.next()?.parse().ok()?;
    // Fields 6..=18 (session … priority) lie between pgrp (5) and nice (19), and
    // 20..=21 (num_threads, itrealvalue) between nice and starttime (22).
    let nice = fields.nth(19 - 6)?.parse().ok()?;
    let start_time = fields.nth(22 - 20)?.parse().ok()?;
    Some(Stat {
        state,
        ppid,
        pgrp,
        nice,
        start_time,
    })
}

/// What `/proc/<pid>/stat` says of a process's CPU use and its terminal: read by the
/// launcher's idle clock (is the job in the foreground of a terminal busy?).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuStat {
    /// The command name (`comm`, at most 15 bytes).
    pub comm: String,
    /// Process group id.
    pub pgrp: u32,
    /// Session id (field 6).
    pub session: u32,
    /// Its controlling terminal's device number (field 7; 0 without one).
    pub tty_nr: i64,
    /// The foreground process group of its controlling terminal (field 8; `-1`
    /// without a terminal).
    pub tpgid: i64,
    /// User plus system time, clock ticks (fields 14 and 15).
    pub ticks: u64,
}

/// Parses the CPU fields of a `stat` line (see [`parse_stat`] for its shape).
pub fn parse_cpu(line: &str) -> Option<CpuStat> {
    let open = line.find('(')?;
    let close = line.rfind(')')?;
    let comm = line.get(open + 1..close)?.to_owned();
    let fields: Vec<&str> = line.get(close + 1..)?.split_whitespace().collect();
    // Index 0 is field 3 (state): field n is at n - 3.
    let field = |n: usize| fields.get(n - 3).copied();
    Some(CpuStat {
        comm,
        pgrp: field(5)?.parse().ok()?,
        session: field(6)?.parse().ok()?,
        tty_nr: field(7)?.parse().ok()?,
        tpgid: field(8)?.parse().ok()?,
        ticks: field(14)?
            .parse::<u64>()
            .ok()?
            .saturating_add(field(15)?.parse().ok()?),
    })
}

/// [`parse_cpu`] of `/proc/<pid>/stat`, or `None` if it is gone or unreadable.
pub fn cpu(pid: u32) -> Option<CpuStat> {
    parse_cpu(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// Reads `/proc/<pid>/stat`: `Ok(None)` if the process does not exist, `Err` if
/// `/proc` could not answer.
pub fn read_stat(pid: u32) -> io::Result<Option<Stat>> {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(line) => parse_stat(&line)
            .map(Some)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "unparsable stat line")),
        // ESRCH: the process went away between open and read.
        Err(e) if e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(3) => Ok(None),
        Err(e) => Err(e),
    }
}

/// `stat(pid)`, or `None` if it is gone or unreadable.
pub fn stat(pid: u32) -> Option<Stat> {
    read_stat(pid).ok().flatten()
}

/// What can be said of a process's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    /// It runs (and, where a start time was given, it is the same process).
    Alive,
    /// It exited, is a zombie, or its pid now belongs to another process.
    Gone,
    /// `/proc` could not be read: nothing is known, nothing may be concluded.
    Unknown,
}

/// The liveness of `pid`, which must have started at `start_time` (clock ticks since
/// boot) if one is given: a pid reused by another process reads [`Liveness::Gone`].
pub fn liveness(pid: u32, start_time: Option<u64>) -> Liveness {
    match read_stat(pid) {
        Ok(Some(s)) if s.dead() => Liveness::Gone,
        Ok(Some(s)) if start_time.is_some_and(|t| t != s.start_time) => Liveness::Gone,
        Ok(Some(_)) => Liveness::Alive,
        Ok(None) => Liveness::Gone,
        Err(_) => Liveness::Unknown,
    }
}

/// True if `pid` exists and is not a zombie (unknown reads as alive: never conclude
/// a death from a failed read).
pub fn is_alive(pid: u32) -> bool {
    liveness(pid, None) != Liveness::Gone
}

/// Every live process (zombies excluded) whose parent chain leads to `pid`:
/// children, grandchildren and so on, `pid` itself excluded; sorted. An error when
/// `/proc` cannot be listed (out of descriptors, say), which says nothing about them.
///
/// A snapshot: processes may start or end while it is taken. Callers that must end a
/// whole tree signal what they found and look again until nothing is left.
pub fn descendants(pid: u32) -> io::Result<Vec<u32>> {
    let table: Vec<(u32, Stat)> = std::fs::read_dir("/proc")?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|p| Some((p, stat(p)?)))
        .collect();
    Ok(descendants_in(pid, &table))
}

/// The live descendants of `root` in a process table of `(pid, stat)` pairs.
pub fn descendants_in(root: u32, table: &[(u32, Stat)]) -> Vec<u32> {
    let mut found: Vec<u32> = Vec::new();
    let mut frontier = vec![root];
    while let Some(parent) = frontier.pop() {
        for (pid, st) in table {
            // A pid is never its own parent, but a garbled table must not loop.
            if st.ppid == parent && *pid != root && !found.contains(pid) {
                found.push(*pid);
                frontier.push(*pid);
            }
        }
    }
    found.retain(|p| table.iter().any(|(q, s)| q == p && !s.dead()));
    found.sort_unstable();
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: &str = "4242 (code) server) (x) S 17 4240 4240 0 -1 4194560 \
                        100 0 0 0 1 2 0 0 30 10 1 0 987654 1000 10";

    #[test]
    fn cpu_fields_and_the_foreground_group_parse() {
        let c = parse_cpu(LINE).expect("parses");
        assert_eq!(c.comm, "code) server) (x");
        assert_eq!((c.pgrp, c.tpgid, c.ticks), (4240, -1, 3));
        assert_eq!((c.session, c.tty_nr), (4240, 0));
        assert!(parse_cpu("1 (x) S 0 1").is_none());
    }

    #[test]
    fn stat_lines_with_odd_command_names_parse() {
        let s = parse_stat(LINE).expect("parses");
        assert_eq!(
            s,
            Stat {
                state: 'S',
                ppid: 17,
                pgrp: 4240,
                nice: 10,
                start_time: 987654
            }
        );
        assert!(parse_stat("garbage").is_none());
        assert!(
            parse_stat("1 (x) S 0 1").is_none(),
            "too short for a start time"
        );
        assert!(Stat { state: 'Z', ..s }.dead());
    }

    #[test]
    fn this_process_is_alive_and_a_reused_pid_is_gone() {
        let me = std::process::id();
        let st = stat(me).expect("own stat");
        assert_eq!(liveness(me, Some(st.start_time)), Liveness::Alive);
        assert_eq!(liveness(me, Some(st.start_time + 1)), Liveness::Gone);
        assert!(is_alive(me));
    }

    #[test]
    fn a_pid_that_does_not_exist_is_gone() {
        // Above the kernel's pid_max limit (4194304), so it can never exist.
        assert_eq!(liveness(4_194_305, None), Liveness::Gone);
        assert!(!is_alive(4_194_305));
    }

    #[test]
    fn descendants_are_children_and_theirs_but_not_zombies_or_strangers() {
        let st = |state, ppid| Stat {
            state,
            ppid,
            pgrp: 1,
            nice: 0,
            start_time: 0,
        };
        let table = [
            (10, st('S', 1)),  // the root
            (11, st('S', 10)), // child
            (12, st('S', 11)), // grandchild (e.g. a setsid'd server under a shell)
            (13, st('Z', 10)), // a zombie child: dead already
            (14, st('S', 13)), // under the zombie: still alive, still ours
            (20, st('S', 1)),  // a stranger
            (21, st('S', 20)),
        ];
        assert_eq!(descendants_in(10, &table), vec![11, 12, 14]);
        assert_eq!(descendants_in(12, &table), Vec::<u32>::new());
    }

    #[test]
    fn a_real_child_and_its_child_are_descendants_of_this_process() {
        let mut child = std::process::Command::new("sh")
            .args(["-c", "sleep 30 & wait"])
            .spawn()
            .expect("spawn sh");
        let me = std::process::id();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let found = loop {
            let found = descendants(me).expect("scan");
            if found.len() >= 2 || std::time::Instant::now() > deadline {
                break found;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        for pid in &found {
            let pid = nix::unistd::Pid::from_raw(i32::try_from(*pid).expect("pid"));
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
        }
        let _ = child.kill();
        let _ = child.wait();
        assert!(found.contains(&child.id()), "{found:?}");
        assert!(found.len() >= 2, "the shell's sleep too: {found:?}");
        assert!(!found.contains(&me));
    }
}
