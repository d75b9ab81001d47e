//! `dcs-launcher checkout --history --stay`, as Knative's `history` container runs
//! it beside the workspace: it completes a shallow checkout's history, then stays
//! (a container that exits is restarted) until SIGTERM, which ends it with status 0
//! at any moment, mid-fetch included; a fetch killed that way loses nothing, and the
//! next one completes the history.

use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use dcs_e2e::{bin_path, processes_with_env, run_git, GitServer, UpstreamRepo};
use dcs_model::{LauncherEnv, RepoRef};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

#[path = "common/git_relay.rs"]
mod git_relay;

/// Commits in the upstream repository.
const COMMITS: usize = 4;

/// How long anything may take on a busy machine.
const PATIENCE: Duration = Duration::from_secs(120);

/// `dcs-launcher checkout --history --stay` for `acme/hello` under `dir`, from `base`;
/// its log in `log`.
fn history_step(dir: &Path, base: &str, log: &Path) -> anyhow::Result<Child> {
    let mut env = LauncherEnv::new(RepoRef::parse("acme/hello")?);
    env.git_base = base.to_owned();
    env.workspaces_dir = dir.join("workspaces");
    env.config_dir = Some(dir.join("config"));
    let mut cmd = Command::new(bin_path("dcs-launcher")?);
    for (key, _) in std::env::vars_os() {
        if key.to_str().is_some_and(|k| k.starts_with("DCS_")) {
            cmd.env_remove(key);
        }
    }
    Ok(cmd
        .args(["checkout", "--history", "--stay"])
        .envs(env.to_vars())
        .stdin(Stdio::null())
        .stderr(std::fs::File::create(log)?)
        .spawn()?)
}

fn is_shallow(checkout: &Path) -> anyhow::Result<bool> {
    Ok(run_git(checkout, &["rev-parse", "--is-shallow-repository"])? == "true")
}

async fn until(what: &str, mut done: impl FnMut() -> anyhow::Result<bool>) -> anyhow::Result<()> {
    let deadline = Instant::now() + PATIENCE;
    while !done()? {
        anyhow::ensure!(Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// Sends SIGTERM to `child` and waits for its exit.
async fn terminate(child: &mut Child) -> anyhow::Result<ExitStatus> {
    kill(Pid::from_raw(i32::try_from(child.id())?), Signal::SIGTERM)?;
    let mut status = None;
    until("the history step exited", || {
        status = child.try_wait()?;
        Ok(status.is_some())
    })
    .await?;
    status.ok_or_else(|| anyhow::anyhow!("no status"))
}

// The relay runs on the test's runtime while `git clone` blocks a thread of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_history_step_stays_until_sigterm_which_ends_it_cleanly_even_mid_fetch(
) -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let git_root = tmp.path().join("git");
    let repo = UpstreamRepo::create(&git_root, "acme/hello", &[("README.md", "# hello\n")])?;
    for i in 1..COMMITS {
        repo.commit(&[(&format!("{i}.txt"), "x\n")], &format!("commit {i}"))?;
    }
    let git = GitServer::start(&git_root)?;
    let relay = git_relay::start(git.base_url(), git_relay::unshallows).await?;
    // A first open's shallow clone.
    let checkout = tmp.path().join("workspaces/acme/hello");
    std::fs::create_dir_all(tmp.path().join("workspaces/acme"))?;
    let url = format!("{}/acme/hello.git", relay.base);
    let target = checkout.to_str().unwrap_or_default();
    run_git(
        tmp.path(),
        &["clone", "--quiet", "--depth", "1", &url, target],
    )?;
    assert!(is_shallow(&checkout)?);

    // SIGTERM mid-fetch: status 0, its transfer child gone, the checkout as it was.
    let log = tmp.path().join("history.log");
    let mut step = history_step(tmp.path(), &relay.base, &log)?;
    until("the history fetch began", || Ok(relay.held() > 0)).await?;
    let transfers: Vec<u32> = processes_with_env("DCS_TRANSFER_BACKGROUND=1")
        .into_iter()
        .filter(|&p| dcs_os::proc::stat(p).is_some_and(|s| s.ppid == step.id()))
        .collect();
    assert_eq!(transfers.len(), 1, "one transfer child: {transfers:?}");
    let status = terminate(&mut step).await?;
    assert_eq!(status.code(), Some(0), "{status}");
    until("its transfer child is gone", || {
        Ok(!dcs_os::proc::is_alive(transfers[0]))
    })
    .await?;
    assert!(is_shallow(&checkout)?);
    assert_eq!(run_git(&checkout, &["status", "--porcelain"])?, "");

    // The next one completes the history, then stays until SIGTERM.
    relay.open();
    let mut step = history_step(tmp.path(), &relay.base, &log)?;
    until("the history step did its work", || {
        Ok(std::fs::read_to_string(&log)?.contains("staying until SIGTERM"))
    })
    .await?;
    assert!(
        !is_shallow(&checkout)?,
        "{}",
        std::fs::read_to_string(&log)?
    );
    let count = run_git(&checkout, &["rev-list", "--count", "HEAD"])?;
    assert_eq!(count, COMMITS.to_string());
    assert!(step.try_wait()?.is_none(), "it stays after its work");
    let status = terminate(&mut step).await?;
    assert_eq!(status.code(), Some(0), "{status}");
    Ok(())
}
