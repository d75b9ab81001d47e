//! A log on a full disk stops nothing. When the disk holding `<data-dir>/logs` filled
//! up, every line a launcher logged failed with ENOSPC; `tracing` reported that with
//! `eprintln!`, whose own write failed too and panicked, killing the launcher's
//! start-up task silently: the workspace read `checkout` until the proxy's start
//! limit (~40 minutes), even after space was freed. The same held for the proxy's
//! own log.
//!
//! `/dev/full` stands in for the full disk: every write to it fails with ENOSPC. A
//! launcher's log is made a link to it (the proxy opens `<name>.log` following
//! links), and the proxy's stderr is it.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::Context;
use dcs_e2e::proxy::listening_addr;
use dcs_e2e::{client, Fixture, GitServer, UpstreamRepo, README};
use dcs_model::{RepoRef, UserId, WorkspaceKey};
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

/// A workspace opens although every line its launcher (and its transfer child) logs
/// fails with ENOSPC.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_launcher_whose_log_is_on_a_full_disk_still_opens_its_workspace() -> anyhow::Result<()> {
    let fx = Fixture::new(|b| b)?;
    let key = WorkspaceKey::new(UserId::new(&fx.proxy.user)?, RepoRef::parse("acme/hello")?);
    let logs = fx.proxy.data_dir.join("logs");
    std::fs::create_dir_all(&logs)?;
    let log = logs.join(format!("{}.log", key.name()));
    std::os::unix::fs::symlink("/dev/full", &log)?;

    fx.readme_is_served().await?;
    anyhow::ensure!(
        std::fs::read_link(&log)? == std::path::Path::new("/dev/full"),
        "the log stayed the full one"
    );
    Ok(())
}

/// The proxy serves (and opens a workspace) although every line it logs fails with
/// ENOSPC.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proxy_whose_log_is_on_a_full_disk_keeps_serving() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let git_root = tmp.path().join("git");
    std::fs::create_dir_all(&git_root)?;
    let _repo = UpstreamRepo::create(&git_root, "acme/hello", &[("README.md", README)])?;
    let git = GitServer::start(&git_root)?;
    let data = tmp.path().join("data");
    let home = data.join("home");
    std::fs::create_dir_all(&home)?;
    let mut child = Command::new(dcs_e2e::bin_path("dcs-proxy")?)
        .arg("serve")
        .args(["--listen", "127.0.0.1:0", "--user", "alice"])
        .args(["--git-base", &git.base_url(), "--stop-grace", "2s"])
        .arg("--data-dir")
        .arg(&data)
        .arg("--launcher-bin")
        .arg(dcs_e2e::bin_path("dcs-launcher")?)
        .args(["--log", "debug", "--launcher-log", "debug"])
        .env("HOME", &home)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::OpenOptions::new().write(true).open("/dev/full")?)
        .spawn()
        .context("spawn dcs-proxy")?;
    let announced = listening_addr(&mut child)?;
    let proxy = Stopped::on_drop(child, data.join("workspaces/alice"));
    let addr = announced
        .recv_timeout(Duration::from_secs(30))
        .context("the proxy never said where it listens (it died logging?)")?
        .addr;

    let url = |path: &str| format!("http://{addr}{path}");
    for _ in 0..3 {
        let health = client().get(url("/healthz")).send().await?;
        anyhow::ensure!(health.status() == 200, "healthz: {}", health.status());
    }
    let readme = client()
        .get(url("/github/acme/hello/_dcs/files/README.md"))
        .send()
        .await?;
    anyhow::ensure!(readme.status() == 200, "README: {}", readme.status());
    anyhow::ensure!(readme.text().await? == README, "another README was served");
    let health = client().get(url("/healthz")).send().await?;
    anyhow::ensure!(health.status() == 200, "healthz after: {}", health.status());
    drop(proxy);
    Ok(())
}

/// The proxy serves although its stdout, where it announces its address, is a full
/// disk (`println!` panicked there): the address is taken from its log instead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proxy_whose_stdout_is_a_full_disk_keeps_serving() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let data = tmp.path().join("data");
    let home = data.join("home");
    std::fs::create_dir_all(&home)?;
    let log = tmp.path().join("proxy.log");
    let child = Command::new(dcs_e2e::bin_path("dcs-proxy")?)
        .arg("serve")
        .args(["--listen", "127.0.0.1:0", "--user", "alice"])
        .args(["--git-base", "http://127.0.0.1:1", "--stop-grace", "2s"])
        .args(["--metrics-listen", "127.0.0.1:0"])
        .arg("--data-dir")
        .arg(&data)
        .arg("--launcher-bin")
        .arg(dcs_e2e::bin_path("dcs-launcher")?)
        .env("HOME", &home)
        .stdin(Stdio::null())
        .stdout(std::fs::OpenOptions::new().write(true).open("/dev/full")?)
        .stderr(std::fs::File::create(&log)?)
        .spawn()
        .context("spawn dcs-proxy")?;
    let mut proxy = Stopped::on_drop(child, data.join("workspaces/alice"));
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let addr = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let found = text
            .lines()
            .filter(|l| l.contains("listening"))
            .find_map(|l| {
                l.split("addr=")
                    .nth(1)?
                    .split_whitespace()
                    .next()?
                    .parse()
                    .ok()
            });
        if let Some(addr) = found {
            break addr;
        }
        anyhow::ensure!(
            std::time::Instant::now() < deadline,
            "the proxy never logged where it listens:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let addr: std::net::SocketAddr = addr;
    // Past its announcements, it answers, and it is still running.
    let health = client()
        .get(format!("http://{addr}/healthz"))
        .send()
        .await?;
    anyhow::ensure!(health.status() == 200, "healthz: {}", health.status());
    anyhow::ensure!(
        proxy.child.try_wait()?.is_none(),
        "the proxy ended:\n{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    Ok(())
}

/// A proxy started by hand, stopped (SIGTERM) when dropped, and the launchers of
/// `volume` ended after it.
struct Stopped {
    child: Child,
    volume: std::path::PathBuf,
}

impl Stopped {
    fn on_drop(child: Child, volume: std::path::PathBuf) -> Self {
        Self { child, volume }
    }
}

impl Drop for Stopped {
    fn drop(&mut self) {
        if let Ok(pid) = i32::try_from(self.child.id()) {
            let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGTERM);
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while std::time::Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let marker = format!("DCS_WORKSPACES_DIR={}", self.volume.display());
        for pid in dcs_e2e::processes_with_env(&marker) {
            if let Ok(pid) = i32::try_from(pid) {
                let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
            }
        }
    }
}
