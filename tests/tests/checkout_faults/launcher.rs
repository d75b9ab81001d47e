//! A `dcs-launcher run` process started by a test: its own process group, its log
//! in a file, its `/_dcs/ready` polled with a deadline.

use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use dcs_e2e::{bin_path, client};
use serde_json::Value;

/// How long anything a test waits for may take.
pub const PATIENCE: Duration = Duration::from_secs(120);

/// A `dcs-launcher run` process of the test's, in its own process group.
pub struct Launcher {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    log: PathBuf,
}

impl Launcher {
    /// Starts a launcher for `repo` from `git_base` on the volume `workspaces`, with
    /// `extra` variables, and waits until it listens.
    pub fn start(
        workspaces: &Path,
        repo: &str,
        git_base: &str,
        extra: &[(&str, &str)],
    ) -> anyhow::Result<Self> {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let dir = workspaces.parent().context("a volume with a parent")?;
        let addr_file = dir.join(format!("launcher-{n}.addr"));
        let log = dir.join(format!("launcher-{n}.log"));
        let child = Command::new(bin_path("dcs-launcher")?)
            .arg("run")
            .env("DCS_REPO", repo)
            .env("DCS_GIT_BASE", git_base)
            .env("DCS_WORKSPACES_DIR", workspaces)
            .env("DCS_LISTEN", "127.0.0.1:0")
            .env("DCS_ADDR_FILE", &addr_file)
            .env("DCS_STOP_GRACE", "2")
            .envs(extra.iter().copied())
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log)?)
            .spawn()
            .context("starting dcs-launcher")?;
        let deadline = Instant::now() + PATIENCE;
        let addr = loop {
            if let Some(addr) = std::fs::read_to_string(&addr_file)
                .ok()
                .and_then(|a| a.trim().parse().ok())
            {
                break addr;
            }
            anyhow::ensure!(Instant::now() < deadline, "the launcher never listened");
            std::thread::sleep(Duration::from_millis(20));
        };
        Ok(Self { child, addr, log })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `GET /_dcs/ready` as JSON.
    pub async fn ready(&self) -> anyhow::Result<Value> {
        let url = format!("http://{}/_dcs/ready", self.addr);
        let text = client().get(url).send().await?.text().await?;
        serde_json::from_str(&text).with_context(|| format!("not JSON: {text}"))
    }

    /// Polls `/_dcs/ready` until `done` says so; fails after [`PATIENCE`].
    pub async fn wait_for(
        &self,
        what: &str,
        done: impl Fn(&Value) -> bool,
    ) -> anyhow::Result<Value> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let report = self.ready().await?;
            if done(&report) {
                return Ok(report);
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "never {what}: {report}\nlog:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Kills the launcher alone with SIGKILL (its transfer child is left to notice).
    pub fn sigkill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Launcher {
    fn drop(&mut self) {
        if let Ok(pgid) = i32::try_from(self.child.id()) {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(pgid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let _ = self.child.wait();
    }
}
