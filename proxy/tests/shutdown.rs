//! Stopping a real `dcs-proxy` process: once it has said it listens, SIGTERM and
//! SIGINT are already caught, so a stop asked for at any moment after (a pod
//! terminated the instant it started) is the graceful one: it logs, drains and exits
//! 0, its log complete. The handlers had been installed only when the server first
//! waited for the signal, which left an instant in which SIGTERM killed the process
//! outright; the caught-signal mask read right at the announcement shows the rule
//! without depending on that instant.
//!
//! Needs the launcher binary (see `common`).

mod common;

use std::os::unix::process::ExitStatusExt;

use common::Proxy;

/// The signals `pid` catches (`SigCgt` of `/proc/<pid>/status`).
fn caught(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    let mask = status
        .lines()
        .find_map(|l| l.strip_prefix("SigCgt:"))
        .expect("SigCgt");
    u64::from_str_radix(mask.trim(), 16).expect("hex")
}

#[test]
fn sigterm_right_after_the_announcement_is_a_graceful_stop() {
    let proxy = Proxy::start(&["--log", "info"]);
    let pid = proxy.child.id();
    let mask = caught(pid);
    for (name, signo) in [("SIGTERM", 15), ("SIGINT", 2)] {
        assert_ne!(
            mask & (1 << (signo - 1)),
            0,
            "{name} caught when the proxy says it listens (SigCgt {mask:x})"
        );
    }
    let mut proxy = proxy;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(pid).expect("pid")),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("SIGTERM");
    let status = proxy.child.wait().expect("exit");
    let mut log = String::new();
    std::io::Read::read_to_string(proxy.child.stderr.as_mut().expect("stderr"), &mut log)
        .expect("stderr");
    assert_eq!(status.signal(), None, "not killed by the signal: {log}");
    assert!(status.success(), "{status:?}: {log}");
    assert!(log.contains("shutting down"), "{log}");
}
