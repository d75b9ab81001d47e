//! The local runtime's data dir under crashes, full or read-only disks and operator
//! mistakes: a proxy killed during a delete does not bring the workspace back; a
//! second proxy on a data dir in use is refused; records that cannot be written keep
//! neither a stop from answering nor the proxy from starting; folders removed under a
//! running proxy are made again.

use std::net::SocketAddr;
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::Context;
use dcs_e2e::api::call;
use dcs_e2e::proxy::listening_addr;
use dcs_e2e::{bin_path, client, is_alive, processes_with_env, wait_until, Fixture};
use dcs_e2e::{GitServer, ProxyBuilder, UpstreamRepo};
use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::Pid;
use serde_json::Value;

const PATIENCE: Duration = Duration::from_secs(30);

fn pid_of(pid: u32) -> anyhow::Result<Pid> {
    Ok(Pid::from_raw(i32::try_from(pid)?))
}

/// `GET /api/instances` of the proxy at `base`.
async fn instances(base: &str) -> anyhow::Result<Vec<Value>> {
    let (code, list) = call(client().get(format!("{base}/api/instances"))).await?;
    anyhow::ensure!(code == 200, "list: {code}: {list}");
    Ok(list["instances"].as_array().cloned().unwrap_or_default())
}

/// The records under `data`'s `state/`.
fn records(data: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(data.join("state"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    found.sort();
    found
}

/// Whether `pid` has a SIGTERM pending (a stopped process keeps it so).
fn sigterm_pending(pid: u32) -> bool {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status.lines().any(|line| {
        line.strip_prefix("ShdPnd:")
            .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
            .is_some_and(|mask| mask & (1 << (Signal::SIGTERM as u32 - 1)) != 0)
    })
}

#[tokio::test]
async fn a_proxy_killed_during_a_delete_does_not_bring_the_workspace_back() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let git_root = tmp.path().join("git");
    let _repo = UpstreamRepo::create(&git_root, "acme/hello", &[("README.md", "hello\n")])?;
    let git = GitServer::start(&git_root)?;
    let data = tmp.path().join("data");
    // A long grace: the delete waits on the stopped launcher until the proxy is killed.
    let mut proxy = ProxyBuilder::new(&data, &git.base_url())
        .arg("--stop-grace")
        .arg("120s")
        .start()?;
    let http = client();
    let readme = proxy.url("/github/acme/hello/_dcs/files/README.md");
    let resp = http.get(&readme).send().await?;
    assert_eq!(resp.status(), 200, "{}", proxy.log());
    let launcher = proxy.launcher_pids();
    assert_eq!(launcher.len(), 1);
    let launcher = launcher[0];
    let id = instances(&proxy.url(""))
        .await?
        .first()
        .and_then(|i| i["instance_id"].as_str().map(str::to_owned))
        .context("the workspace is listed")?;

    // The launcher cannot act on SIGTERM: the delete waits out its grace.
    kill(pid_of(launcher)?, Signal::SIGSTOP)?;
    let delete = tokio::spawn(
        http.delete(proxy.url(&format!("/api/instances/{id}")))
            .send(),
    );
    assert!(
        wait_until(PATIENCE, Duration::from_millis(10), || sigterm_pending(
            launcher
        ))
        .await,
        "the delete never stopped the launcher: {}",
        proxy.log()
    );
    proxy.sigkill();
    assert!(delete.await?.is_err(), "the delete ended with its proxy");
    // The launcher may outlive the proxy or not: its process group, orphaned by the
    // proxy's death, gets SIGHUP and SIGCONT from the kernel, which delivers the
    // pending SIGTERM (a launcher still running is the unit test
    // `a_launcher_left_running_by_an_unfinished_delete_is_stopped_never_served`).
    // Either way the record on disk is the unfinished delete's.

    let proxy = ProxyBuilder::new(&data, &git.base_url())
        .arg("--stop-grace")
        .arg("2s")
        .start()?;
    let listed = instances(&proxy.url("")).await?;
    assert!(
        listed.is_empty(),
        "the deleted workspace came back: {listed:?}\n{}",
        proxy.log()
    );
    // The new proxy finishes the delete: the launcher stopped, the record gone.
    let finished = wait_until(PATIENCE, Duration::from_millis(50), || {
        !is_alive(launcher) && records(&data).is_empty()
    })
    .await;
    assert!(
        finished,
        "the delete was not finished: {:?}\n{}",
        records(&data),
        proxy.log()
    );
    assert!(instances(&proxy.url("")).await?.is_empty());
    assert_eq!(
        std::fs::read_to_string(proxy.volume().join("acme/hello/README.md"))?,
        "hello\n",
        "a delete keeps the user's files"
    );
    Ok(())
}

#[tokio::test]
async fn a_second_proxy_on_a_data_dir_in_use_is_refused() -> anyhow::Result<()> {
    let fx = Fixture::new(|b| b)?;
    let first = fx.proxy.pid().context("pid")?;
    let refused = ProxyBuilder::new(&fx.proxy.data_dir, &fx.git.base_url())
        .start()
        .err()
        .context("a second proxy on the same data dir started")?;
    let text = format!("{refused:#}");
    let expected = format!(
        "another dcs-proxy serves {} (pid {first})",
        fx.proxy.data_dir.display()
    );
    assert!(text.contains(&expected), "{text}");
    // The first one serves on, alone.
    fx.readme_is_served().await?;
    assert_eq!(fx.proxy.launcher_pids().len(), 1);
    Ok(())
}

#[tokio::test]
async fn folders_removed_under_a_running_proxy_are_made_again() -> anyhow::Result<()> {
    let fx = Fixture::new(|b| b)?;
    fx.readme_is_served().await?;
    let id = instances(&fx.proxy.url(""))
        .await?
        .first()
        .and_then(|i| i["instance_id"].as_str().map(str::to_owned))
        .context("the workspace is listed")?;
    let (code, body) =
        call(client().post(fx.proxy.url(&format!("/api/instances/{id}/stop")))).await?;
    assert_eq!(code, 200, "{body}");
    assert!(fx.wait_for_no_launcher(PATIENCE).await);

    let data = &fx.proxy.data_dir;
    for folder in ["logs", "run", "state"] {
        std::fs::remove_dir_all(data.join(folder))?;
    }
    fx.readme_is_served().await?;
    assert!(
        std::fs::read_dir(data.join("logs"))?.next().is_some(),
        "the launcher logs again"
    );
    let recorded = wait_until(PATIENCE, Duration::from_millis(20), || {
        !records(data).is_empty()
    })
    .await;
    assert!(recorded, "the workspace is recorded again");
    Ok(())
}

/// Whether this test runs as root (who writes anywhere unless told not to).
fn as_root(dir: &Path) -> anyhow::Result<bool> {
    let probe = dir.join("whoami");
    std::fs::write(&probe, "")?;
    Ok(std::fs::metadata(&probe)?.uid() == 0)
}

/// A `dcs-proxy` bound by its files' modes: as root, started without the
/// capabilities that let root write anywhere (`setpriv`); as anyone else, as it is.
/// Dropping it stops it and the launchers it left.
struct Bound {
    child: Child,
    addr: SocketAddr,
    data: PathBuf,
    log: PathBuf,
}

impl Bound {
    fn start(data: &Path, git_base: &str, n: usize) -> anyhow::Result<Self> {
        let home = data.join("home");
        std::fs::create_dir_all(&home)?;
        let log = data.join(format!("bound-proxy-{n}.log"));
        let proxy = bin_path("dcs-proxy")?;
        let mut cmd = if as_root(data)? {
            let mut cmd = Command::new("setpriv");
            cmd.args(["--bounding-set", "-dac_override,-dac_read_search", "--"])
                .arg(proxy);
            cmd
        } else {
            Command::new(proxy)
        };
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--user", "alice"])
            .args([
                "--git-base",
                git_base,
                "--stop-grace",
                "2s",
                "--log",
                "debug",
            ])
            .arg("--data-dir")
            .arg(data)
            .arg("--launcher-bin")
            .arg(bin_path("dcs-launcher")?)
            .env("HOME", &home)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log)?);
        let mut child = cmd.spawn().context("spawn dcs-proxy")?;
        let announced = listening_addr(&mut child)?.recv_timeout(PATIENCE);
        let mut bound = Self {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            data: data.to_owned(),
            log,
        };
        match announced {
            Ok(announced) => bound.addr = announced.addr,
            Err(_) => anyhow::bail!("dcs-proxy did not start:\n{}", bound.log()),
        }
        Ok(bound)
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Its live launchers: processes with a launcher's environment, less those a
    /// launcher started (they inherit it).
    fn launchers(&self) -> Vec<u32> {
        let volume = self.data.join("workspaces").join("alice");
        let with_env = processes_with_env(&format!("DCS_WORKSPACES_DIR={}", volume.display()));
        with_env
            .iter()
            .copied()
            .filter(|&p| is_alive(p))
            .filter(|&p| dcs_os::proc::stat(p).is_none_or(|s| !with_env.contains(&s.ppid)))
            .collect()
    }

    /// SIGTERM, and whether it exited cleanly in time.
    async fn terminate(&mut self) -> anyhow::Result<bool> {
        kill(pid_of(self.child.id())?, Signal::SIGTERM)?;
        let child = &mut self.child;
        let mut status = None;
        wait_until(PATIENCE, Duration::from_millis(20), || {
            status = child.try_wait().ok().flatten();
            status.is_some()
        })
        .await;
        Ok(status.is_some_and(|s| s.success()))
    }
}

impl Drop for Bound {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        for pid in self.launchers() {
            if let Ok(pid) = pid_of(pid) {
                let _ = killpg(pid, Signal::SIGKILL);
            }
        }
    }
}

/// Makes `dir` writable again however the test ends (the temp dir is removed).
struct Writable(PathBuf);

impl Writable {
    fn read_only(dir: PathBuf) -> anyhow::Result<Self> {
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o555))?;
        Ok(Self(dir))
    }
}

impl Drop for Writable {
    fn drop(&mut self) {
        let _ = std::fs::set_permissions(&self.0, std::fs::Permissions::from_mode(0o755));
    }
}

/// A scene of `acme/hello` on a git server; the data dir is `<tmp>/data`.
fn scene() -> anyhow::Result<(tempfile::TempDir, GitServer)> {
    let tmp = tempfile::tempdir()?;
    let git_root = tmp.path().join("git");
    UpstreamRepo::create(&git_root, "acme/hello", &[("README.md", "hello\n")])?;
    let git = GitServer::start(&git_root)?;
    std::fs::create_dir_all(tmp.path().join("data"))?;
    Ok((tmp, git))
}

#[tokio::test]
async fn a_stop_whose_record_cannot_be_written_still_answers_stopped() -> anyhow::Result<()> {
    let (tmp, git) = scene()?;
    let data = tmp.path().join("data");
    let proxy = Bound::start(&data, &git.base_url(), 1)?;
    let http = client();
    let resp = http
        .get(proxy.url("/github/acme/hello/_dcs/files/README.md"))
        .send()
        .await?;
    assert_eq!(resp.status(), 200, "{}", proxy.log());
    let launcher = proxy.launchers();
    assert_eq!(launcher.len(), 1, "{}", proxy.log());
    let id = instances(&proxy.url(""))
        .await?
        .first()
        .and_then(|i| i["instance_id"].as_str().map(str::to_owned))
        .context("the workspace is listed")?;

    let _state = Writable::read_only(data.join("state"))?;
    let (code, body) = call(http.post(proxy.url(&format!("/api/instances/{id}/stop")))).await?;
    assert_eq!(code, 200, "{body}\n{}", proxy.log());
    assert!(!is_alive(launcher[0]), "stopped when the answer came");
    assert_eq!(body["status"], "stopped", "{body}");
    Ok(())
}

#[tokio::test]
async fn a_proxy_starts_over_records_it_cannot_write() -> anyhow::Result<()> {
    let (tmp, git) = scene()?;
    let data = tmp.path().join("data");
    // A workspace recorded running, whose launcher is gone (as after a reboot).
    let mut first = ProxyBuilder::new(&data, &git.base_url()).start()?;
    let resp = client()
        .get(first.url("/github/acme/hello/_dcs/files/README.md"))
        .send()
        .await?;
    assert_eq!(resp.status(), 200, "{}", first.log());
    let launcher = first.launcher_pids();
    assert_eq!(launcher.len(), 1);
    let recorded = wait_until(PATIENCE, Duration::from_millis(20), || {
        records(&data)
            .first()
            .and_then(|p| std::fs::read_to_string(p).ok())
            .is_some_and(|text| text.contains("\"addr\": \"127.0.0.1:"))
    })
    .await;
    assert!(
        recorded,
        "the running launcher is recorded: {}",
        first.log()
    );
    first.sigkill();
    killpg(pid_of(launcher[0])?, Signal::SIGKILL)?;
    assert!(
        wait_until(PATIENCE, Duration::from_millis(20), || !is_alive(
            launcher[0]
        ))
        .await
    );

    let _state = Writable::read_only(data.join("state"))?;
    let mut proxy = Bound::start(&data, &git.base_url(), 2)?;
    let listed = instances(&proxy.url("")).await?;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["status"], "stopped", "{listed:?}");
    assert!(proxy.terminate().await?, "{}", proxy.log());
    // Every line is written once it ended.
    assert!(
        proxy
            .log()
            .contains("cannot record that the launcher is gone"),
        "{}",
        proxy.log()
    );
    Ok(())
}
