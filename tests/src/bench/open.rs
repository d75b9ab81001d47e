//! Opening workspaces: wake from zero (a workspace stopped for idleness, woken by
//! the next request) with the `none` IDE and with code-server, bare code-server's
//! own start for comparison, and the first open of a repository against
//! `git clone --depth 1` and `git clone` of it.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use super::scene::{self, Git};

/// Waits (bounded) until no launcher runs under `data`.
pub async fn stopped(data: &Path) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !scene::launchers(data).is_empty() {
        if Instant::now() > deadline {
            bail!("the idle workspace was never stopped");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

/// A proxy whose workspace is stopped after a second of idleness, to be woken.
pub struct Waker {
    proxy: scene::Proc,
    http: reqwest::Client,
    url: String,
    data: std::path::PathBuf,
}

impl Waker {
    /// A proxy over `data` started with `extra` flags, its workspace opened once at
    /// `path`.
    pub async fn start(git: &Git, data: &Path, extra: &[&str], path: &str) -> anyhow::Result<Self> {
        let mut flags = vec!["--idle-timeout", "1s"];
        flags.extend_from_slice(extra);
        let proxy = scene::proxy(data, &git.server.base_url(), &flags)?;
        let http = dcs_e2e::client();
        let url = format!("http://{}{path}", proxy.addr);
        scene::open(&http, &url).await?;
        Ok(Self {
            proxy,
            http,
            url,
            data: data.to_path_buf(),
        })
    }

    /// Waits until the workspace was stopped for idleness, then times request →
    /// response head.
    pub async fn wake(&self) -> anyhow::Result<Duration> {
        stopped(&self.data).await?;
        let began = Instant::now();
        let resp = self.http.get(&self.url).send().await?;
        let took = began.elapsed();
        let status = resp.status();
        resp.bytes().await?;
        if status.as_u16() >= 500 {
            bail!(
                "{} answered {status} on wake (proxy {})",
                self.url,
                self.proxy.addr
            );
        }
        Ok(took)
    }
}

/// Bare code-server (`code_server`) started on `folder` with the flags the launcher
/// gives it: spawn → response head of `GET /`, then stopped.
pub async fn bare_code_server(
    code_server: &Path,
    folder: &Path,
    dir: &Path,
) -> anyhow::Result<Duration> {
    let port = scene::free_port()?;
    std::fs::create_dir_all(dir)?;
    let config = dir.join("config.yaml");
    std::fs::write(&config, "")?;
    let began = Instant::now();
    let mut child = Command::new(code_server)
        .args(["--bind-addr", &format!("127.0.0.1:{port}")])
        .args(["--auth", "none", "--disable-telemetry", "--disable-proxy"])
        .args(["--disable-update-check", "--disable-workspace-trust"])
        .args(["--disable-getting-started-override", "--ignore-last-opened"])
        .arg("--user-data-dir")
        .arg(dir.join("data"))
        .arg("--extensions-dir")
        .arg(dir.join("extensions"))
        .arg("--config")
        .arg(&config)
        .arg(folder)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .context("spawn code-server")?;
    let http = dcs_e2e::client();
    let url = format!("http://127.0.0.1:{port}/");
    let deadline = Instant::now() + Duration::from_secs(60);
    let took = loop {
        if let Ok(resp) = http.get(&url).send().await {
            if resp.status().as_u16() < 500 {
                break began.elapsed();
            }
        }
        if Instant::now() > deadline {
            bail!("code-server never answered");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let group = nix::unistd::Pid::from_raw(-(child.id() as i32));
    let _ = nix::sys::signal::kill(group, nix::sys::signal::Signal::SIGTERM);
    let _ = child.wait();
    Ok(took)
}

/// First opens and `git clone`s of the same repository, timed.
pub struct Opens {
    /// First opens through the proxy (shallow clone and start, `none`).
    pub first_open: Vec<Duration>,
    /// `git clone --depth 1`.
    pub clone_shallow: Vec<Duration>,
    /// `git clone`.
    pub clone_full: Vec<Duration>,
}

/// `rounds` of a first open (each on a data dir of its own under `dir`), a
/// `git clone --depth 1` and a `git clone`. Which goes first rotates per round, and
/// nothing made is removed until all have run: removing a tree makes the next files
/// created on the volume slower (ext4 checks recently freed inodes), and it was
/// always the first open that came right after the removal of a full clone.
pub async fn first_opens_and_clones(git: &Git, dir: &Path, rounds: usize) -> anyhow::Result<Opens> {
    let clones = dir.join("clones");
    std::fs::create_dir_all(&clones)?;
    let mut opens = Opens {
        first_open: Vec::new(),
        clone_shallow: Vec::new(),
        clone_full: Vec::new(),
    };
    for round in 0..rounds {
        for step in 0..3 {
            match (round + step) % 3 {
                0 => {
                    let data = dir.join(format!("open-{round}"));
                    opens.first_open.push(first_open(git, &data).await?);
                }
                1 => opens
                    .clone_shallow
                    .push(git_clone(&git.url(), &clones, &["--depth", "1"])?),
                _ => opens.clone_full.push(git_clone(&git.url(), &clones, &[])?),
            }
        }
    }
    let _ = std::fs::remove_dir_all(&clones);
    Ok(opens)
}

/// One first open of `acme/bench` on a fresh data dir (request → `200`), after
/// which the background fetch is awaited so the next measurement has the machine.
pub async fn first_open(git: &Git, data: &Path) -> anyhow::Result<Duration> {
    let proxy = scene::proxy(data, &git.server.base_url(), &[])?;
    let http = dcs_e2e::client();
    let url = format!(
        "http://{}/github/acme/bench/_dcs/files/README.md",
        proxy.addr
    );
    let took = scene::open(&http, &url).await?;
    let checkout = data.join("workspaces/alice/acme/bench");
    let deadline = Instant::now() + Duration::from_secs(120);
    while std::fs::metadata(checkout.join(".git/shallow")).is_ok_and(|m| m.len() > 0) {
        if Instant::now() > deadline {
            bail!("the background fetch never completed");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(proxy);
    Ok(took)
}

/// `git clone [args] <url>` into a fresh directory under `dir`, timed (the clone is
/// left there: removing it belongs outside what is timed).
pub fn git_clone(url: &str, dir: &Path, args: &[&str]) -> anyhow::Result<Duration> {
    let target = dir.join(format!(
        "clone-{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_nanos()
    ));
    let began = Instant::now();
    let out = dcs_e2e::git_command()
        .arg("clone")
        .arg("--quiet")
        .args(args)
        .arg(url)
        .arg(&target)
        .output()?;
    let took = began.elapsed();
    if !out.status.success() {
        bail!("git clone failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(took)
}
