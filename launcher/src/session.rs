//! `dcs-launcher terminal-session <shell>` (hidden): the parent of a terminal
//! session's shell, and the session's kill domain. It makes itself a child
//! subreaper, so whatever the shell's commands leave behind (`setsid nohup server
//! &`, daemons that double-fork) is re-parented to it rather than to the launcher;
//! it passes a hang-up (SIGHUP, SIGTERM) on to the shell; and once the shell is
//! gone, for whatever reason, it ends everything left under it (SIGTERM, a second,
//! SIGKILL) and exits with the shell's status. So a session's whole process tree
//! ends with the session, whoever ends it.

use std::ffi::OsString;
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use tokio::signal::unix::{signal, SignalKind};

use crate::reap;

/// The subcommand.
pub const SUBCOMMAND: &str = "terminal-session";

/// How long what the shell left behind may take to end on SIGTERM.
const LEFTOVER_GRACE: Duration = Duration::from_secs(1);

/// Runs `program` (the shell and its arguments) as the session; returns the exit
/// status.
pub async fn run(program: Vec<OsString>) -> u8 {
    let Some((exe, args)) = program.split_first() else {
        eprintln!("dcs-launcher {SUBCOMMAND}: no program");
        return 2;
    };
    reap::become_subreaper();
    reap::run_if_init();
    let (Ok(mut hup), Ok(mut term)) = (
        signal(SignalKind::hangup()),
        signal(SignalKind::terminate()),
    ) else {
        eprintln!("dcs-launcher {SUBCOMMAND}: cannot handle signals");
        return 1;
    };
    let mut cmd = tokio::process::Command::new(exe);
    cmd.args(args);
    let mut child = match reap::spawn(&mut cmd) {
        Ok(child) => child,
        Err(e) => {
            eprintln!("dcs-launcher {SUBCOMMAND}: cannot run {exe:?}: {e}");
            return 127;
        }
    };
    let pid = child.id().and_then(|p| i32::try_from(p).ok());
    let status = loop {
        tokio::select! {
            // The shell ended.
            status = child.wait() => break status,
            // The terminal hung up, or the session is being stopped: tell the shell.
            _ = hup.recv() => hang_up(pid),
            _ = term.recv() => hang_up(pid),
        }
    };
    if let Some(pid) = child.id() {
        reap::forget(pid);
    }
    let _ = tokio::task::spawn_blocking(|| reap::sweep(LEFTOVER_GRACE)).await;
    match status {
        Ok(s) => s.code().and_then(|c| u8::try_from(c).ok()).unwrap_or(128),
        Err(_) => 1,
    }
}

fn hang_up(pid: Option<i32>) {
    if let Some(pid) = pid {
        let _ = kill(Pid::from_raw(pid), Signal::SIGHUP);
        let _ = kill(Pid::from_raw(pid), Signal::SIGCONT);
    }
}
