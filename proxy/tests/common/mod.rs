//! A real `dcs-proxy serve` process for the proxy's own integration tests: started
//! in local mode with `--auth none` on a free loopback port, its stdout read for
//! the addresses it announces, stopped with SIGTERM.
//!
//! Needs the launcher binary next to this test's profile directory (`make build`,
//! i.e. `cargo build --bins`), or in `$DCS_BIN_DIR`.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Lines, Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Stdio};

/// The launcher binary the proxy starts.
pub fn launcher_bin() -> PathBuf {
    let dir = match std::env::var_os("DCS_BIN_DIR").filter(|d| !d.is_empty()) {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_BIN_EXE_dcs-proxy"))
            .parent()
            .expect("parent")
            .to_path_buf(),
    };
    let bin = dir.join("dcs-launcher");
    assert!(
        bin.is_file(),
        "{} not found: run `make build` (cargo build --bins) first, or set DCS_BIN_DIR",
        bin.display()
    );
    bin
}

/// A running proxy.
pub struct Proxy {
    /// The process (stderr piped).
    pub child: Child,
    /// The main listener, `host:port`.
    pub addr: String,
    /// The rest of its stdout.
    pub stdout: Lines<BufReader<ChildStdout>>,
    _data: tempfile::TempDir,
}

impl Proxy {
    /// Starts `dcs-proxy serve` with `extra` flags after the defaults.
    pub fn start(extra: &[&str]) -> Self {
        let data = tempfile::tempdir().expect("tmp");
        let mut child = Command::new(env!("CARGO_BIN_EXE_dcs-proxy"))
            .args([
                "serve",
                "--runtime",
                "local",
                "--auth",
                "none",
                "--listen",
                "127.0.0.1:0",
            ])
            .arg("--data-dir")
            .arg(data.path())
            .arg("--launcher-bin")
            .arg(launcher_bin())
            .args(extra)
            .env_remove("DCS_PROXY_LOG_FORMAT")
            .env_remove("DCS_PROXY_METRICS_LISTEN")
            .env_remove("NO_COLOR")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("dcs-proxy");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let addr = next_with(&mut stdout, "dcs-proxy listening on http://");
        Proxy {
            child,
            addr,
            stdout,
            _data: data,
        }
    }

    /// Stops the proxy (SIGTERM) and returns its stderr.
    pub fn stop(mut self) -> String {
        let pid = nix::unistd::Pid::from_raw(i32::try_from(self.child.id()).expect("pid"));
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("SIGTERM");
        let mut err = String::new();
        self.child
            .stderr
            .take()
            .expect("stderr")
            .read_to_string(&mut err)
            .expect("stderr");
        self.child.wait().expect("exit");
        err
    }
}

/// A proxy left running by a test that failed before stopping it is killed.
impl Drop for Proxy {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The rest of the first line of `lines` that starts with `prefix`, trimmed.
pub fn next_with(lines: &mut Lines<BufReader<ChildStdout>>, prefix: &str) -> String {
    loop {
        let line = lines
            .next()
            .unwrap_or_else(|| panic!("the proxy never printed {prefix:?}"))
            .expect("stdout");
        if let Some(rest) = line.strip_prefix(prefix) {
            return rest.trim().to_owned();
        }
    }
}

/// `GET path` on `addr` over a fresh connection; the whole answer.
pub fn get(addr: &str, path: &str) -> String {
    get_with(addr, path, "")
}

/// [`get`] with `extra` header lines (each ending in `\r\n`).
pub fn get_with(addr: &str, path: &str, extra: &str) -> String {
    let mut conn = std::net::TcpStream::connect(addr).expect("connect");
    write!(
        conn,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\n{extra}Connection: close\r\n\r\n"
    )
    .expect("send");
    let mut answer = String::new();
    conn.read_to_string(&mut answer).expect("answer");
    answer
}
