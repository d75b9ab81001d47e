//! Support for the IDE end-to-end tests: the code-server `make ide-deps` installed,
//! the screenshot folder, the proxy's `--ide-bin` flag, and finding the IDE process
//! a launcher supervises.

use std::path::PathBuf;

use crate::browser::{repo_root, required};

/// The code-server executable (`DCS_TEST_CODE_SERVER`, default
/// `.cache/bin/code-server`); the test fails naming `make code-server` without it.
pub fn code_server() -> PathBuf {
    required(
        "DCS_TEST_CODE_SERVER",
        repo_root().join(".cache/bin/code-server"),
        "code-server",
        "code-server",
    )
}

/// `target/<profile>/ide-screenshots/<test>`, created.
pub fn screenshot_dir(test: &str) -> anyhow::Result<PathBuf> {
    let dir = crate::bin_dir()?.join("ide-screenshots").join(test);
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// True if this `dcs-proxy` takes `--ide-bin` (passing `DCS_IDE_BIN` to its
/// launchers; local mode scrubs `DCS_*` from the launcher's environment otherwise).
pub fn proxy_has_ide_bin() -> bool {
    let Ok(proxy) = crate::bin_path("dcs-proxy") else {
        return false;
    };
    std::process::Command::new(proxy)
        .args(["serve", "--help"])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("--ide-bin"))
}

/// The IDE process `launcher` supervises: its child that leads its own process
/// group (the launcher starts the IDE with `process_group(0)`).
pub fn ide_pid_of(launcher: u32) -> Option<u32> {
    crate::procs::group_leader_child_of(launcher)
}

/// A `dcs-launcher` started directly (no proxy) for `acme/hello` from `git_base`,
/// with extra `DCS_*` variables; stopped with SIGTERM when dropped.
pub struct DirectLauncher {
    child: std::process::Child,
    /// Where it listens.
    pub addr: std::net::SocketAddr,
    /// Its workspaces volume.
    pub workspaces: PathBuf,
}

impl DirectLauncher {
    /// Starts it under `dir` and waits until it publishes its address.
    pub fn start(
        dir: &std::path::Path,
        git_base: &str,
        vars: &[(&str, &str)],
    ) -> anyhow::Result<Self> {
        use anyhow::Context;
        let workspaces = dir.join("workspaces");
        let addr_file = dir.join("launcher.addr");
        let log = std::fs::File::create(dir.join("launcher.log"))?;
        let child = std::process::Command::new(crate::bin_path("dcs-launcher")?)
            .arg("run")
            .env("DCS_REPO", "acme/hello")
            .env("DCS_GIT_BASE", git_base)
            .env("DCS_WORKSPACES_DIR", &workspaces)
            .env("DCS_LISTEN", "127.0.0.1:0")
            .env("DCS_ADDR_FILE", &addr_file)
            .env("DCS_BASE_PATH", "/github/acme/hello")
            .env("DCS_STOP_GRACE", "3")
            .envs(vars.iter().copied())
            .stdin(std::process::Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("starting dcs-launcher")?;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let addr = loop {
            if let Some(addr) = std::fs::read_to_string(&addr_file)
                .ok()
                .and_then(|a| a.trim().parse().ok())
            {
                break addr;
            }
            anyhow::ensure!(
                std::time::Instant::now() < deadline,
                "the launcher never listened"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        Ok(Self {
            child,
            addr,
            workspaces,
        })
    }

    /// `http://<addr><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Its pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM, then waits up to 30 s; returns the exit code.
    pub fn terminate(&mut self) -> Option<i32> {
        if let Ok(pid) = i32::try_from(self.child.id()) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while std::time::Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let _ = self.child.kill();
        self.child.wait().ok().and_then(|s| s.code())
    }
}

impl Drop for DirectLauncher {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            self.terminate();
        }
    }
}
