//! What the launcher confirms survives a power loss. A power loss cannot be made
//! here, so the order of the system calls that decide it is read from `strace`:
//!
//! - a first clone: libgit2 and the working-tree writer do not sync, so the clone is
//!   synced (`syncfs`) before it is renamed into place and its folder (`fsync`)
//!   after; without that, a power loss could keep the name with empty contents
//!   (empty `HEAD`, `config`, objects) and the next open failed;
//! - an upload: after its hard link the target's folder is synced before the answer
//!   and before the temporary's name is removed; without that, a power loss could
//!   lose the new name while the temporary (removed as abandoned at the next start)
//!   held the only copy.

use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::Context;
use dcs_e2e::{raw_request, GitServer, UpstreamRepo, README};
use dcs_model::{LauncherEnv, RepoRef};

/// The calls traced: syncs, renames, links and unlinks (with `-y`: the path of
/// every descriptor argument).
const TRACED: &str =
    "trace=syncfs,fsync,fdatasync,rename,renameat,renameat2,link,linkat,unlink,unlinkat";

/// A launcher for `acme/hello` from `git`, under `strace` writing to `trace`; its
/// group is killed when dropped.
struct Traced {
    child: Child,
    dir: PathBuf,
    trace: PathBuf,
}

impl Traced {
    fn start(git: &GitServer, dir: &Path) -> anyhow::Result<Self> {
        let mut env = LauncherEnv::new(RepoRef::new("acme", "hello")?);
        env.git_base = git.base_url();
        env.workspaces_dir = dir.join("workspaces");
        env.config_dir = Some(dir.join("config"));
        env.listen = std::net::SocketAddr::from(([127, 0, 0, 1], 0)).into();
        env.addr_file = Some(dir.join("addr"));
        std::fs::create_dir_all(&env.workspaces_dir)?;
        let trace = dir.join("trace");
        let mut cmd = Command::new("strace");
        cmd.args(["-f", "-qq", "-y", "-s", "4096", "-e", TRACED, "-o"])
            .arg(&trace)
            .arg(dcs_e2e::bin_path("dcs-launcher")?)
            .arg("run")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0);
        dcs_e2e::bins::launcher_contract(&mut cmd, &env);
        let child = cmd
            .spawn()
            .context("strace is needed by this test (apt-get install strace)")?;
        Ok(Self {
            child,
            dir: dir.to_path_buf(),
            trace,
        })
    }

    /// The launcher's address, once its workspace is ready.
    async fn ready(&mut self) -> anyhow::Result<std::net::SocketAddr> {
        let addr_file = self.dir.join("addr");
        let mut phase = String::new();
        let mut addr = None;
        let ok = dcs_e2e::wait_until(Duration::from_secs(120), Duration::from_millis(50), || {
            addr = std::fs::read_to_string(&addr_file)
                .ok()
                .and_then(|a| a.trim().parse().ok());
            phase = addr
                .and_then(|a: std::net::SocketAddr| dcs_e2e::bins::ready_phase(&a.to_string()))
                .unwrap_or_default();
            phase == "ready" || phase == "failed"
        })
        .await;
        let exited = self.child.try_wait()?;
        anyhow::ensure!(
            ok && phase == "ready",
            "not ready: {phase:?} (exited: {exited:?})"
        );
        addr.context("no address")
    }

    /// The trace's lines once one says `until`, for at most a minute (strace writes
    /// a call's line as it sees it).
    async fn trace_until(&self, until: impl Fn(&str) -> bool) -> Vec<String> {
        let mut lines = Vec::new();
        dcs_e2e::wait_until(Duration::from_secs(60), Duration::from_millis(50), || {
            let text = std::fs::read_to_string(&self.trace).unwrap_or_default();
            lines = text.lines().map(str::to_owned).collect();
            lines.iter().any(|l| until(l))
        })
        .await;
        lines
    }
}

impl Drop for Traced {
    fn drop(&mut self) {
        let _ = dcs_os::group::signal(self.child.id(), nix::sys::signal::Signal::SIGKILL);
        let _ = self.child.wait();
    }
}

/// The call a trace line shows (`1234 syncfs(5</a/b>) = 0` → `syncfs`).
fn call(line: &str) -> &str {
    let rest = line.split_once(' ').map_or(line, |(_, r)| r).trim_start();
    rest.split('(').next().unwrap_or_default()
}

/// The index of the first line after `from` that is a call in `calls` naming
/// `with`.
fn find(lines: &[String], from: usize, calls: &[&str], with: &str) -> Option<usize> {
    (from..lines.len()).find(|&i| calls.contains(&call(&lines[i])) && lines[i].contains(with))
}

const RENAMES: &[&str] = &["rename", "renameat", "renameat2"];

fn world() -> anyhow::Result<(tempfile::TempDir, GitServer)> {
    let tmp = tempfile::tempdir()?;
    let git_root = tmp.path().join("git");
    std::fs::create_dir_all(&git_root)?;
    UpstreamRepo::create(&git_root, "acme/hello", &[("README.md", README)])?;
    let git = GitServer::start(&git_root)?;
    Ok((tmp, git))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_clone_is_on_the_disk_before_its_name_is() -> anyhow::Result<()> {
    let (tmp, git) = world()?;
    let mut launcher = Traced::start(&git, tmp.path())?;
    launcher.ready().await?;
    let owner = tmp.path().join("workspaces/acme");
    let target = format!("\"{}\"", owner.join("hello").display());
    let lines = launcher
        .trace_until(|l| RENAMES.contains(&call(l)) && l.contains(&target))
        .await;
    let shown = || lines.join("\n");

    let rename = find(&lines, 0, RENAMES, &target)
        .with_context(|| format!("no rename into {target}:\n{}", shown()))?;
    let partial = format!("{}/.hello.dcs-partial-", owner.display());
    anyhow::ensure!(lines[rename].contains(&partial), "{}", lines[rename]);
    let synced = find(&lines, 0, &["syncfs"], &partial);
    anyhow::ensure!(
        synced.is_some_and(|s| s < rename),
        "the clone was not synced before it was moved into place:\n{}",
        shown()
    );
    let folder = format!("<{}>", owner.display());
    anyhow::ensure!(
        find(&lines, rename, &["fsync"], &folder).is_some(),
        "the folder of the new name was not synced after the rename:\n{}",
        shown()
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_confirmed_upload_is_on_the_disk_before_its_temporary_goes() -> anyhow::Result<()> {
    let (tmp, git) = world()?;
    let mut launcher = Traced::start(&git, tmp.path())?;
    let addr = launcher.ready().await?;
    let body = "kept through a power cut\n";
    let put = format!(
        "PUT /_dcs/files/notes.txt HTTP/1.1\r\nHost: {addr}\r\nAccept: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let answer = raw_request(addr, put.as_bytes()).await?;
    anyhow::ensure!(answer.status == 201, "upload: {}", answer.status);

    let checkout = tmp.path().join("workspaces/acme/hello");
    let target = format!("\"{}\"", checkout.join("notes.txt").display());
    let unlinked =
        |l: &str| ["unlink", "unlinkat"].contains(&call(l)) && l.contains("notes.txt.dcs-upload-");
    let lines = launcher.trace_until(unlinked).await;
    let shown = || lines.join("\n");
    let link = find(&lines, 0, &["link", "linkat"], &target)
        .with_context(|| format!("no link to {target}:\n{}", shown()))?;
    let folder = format!("<{}>", checkout.display());
    let synced = find(&lines, link, &["fsync"], &folder)
        .with_context(|| format!("the folder was not synced after the link:\n{}", shown()))?;
    let gone = (link..lines.len())
        .find(|&i| unlinked(&lines[i]))
        .with_context(|| format!("the temporary was never removed:\n{}", shown()))?;
    anyhow::ensure!(
        synced < gone,
        "the temporary went before the new name was synced:\n{}",
        shown()
    );
    anyhow::ensure!(std::fs::read_to_string(checkout.join("notes.txt"))? == body);
    Ok(())
}
