//! Under Knative (`K_SERVICE` set, as Knative sets it) a launcher whose start
//! cannot succeed ends with status 1 and leaves the reason as its termination
//! message, so Knative reports the revision failed within seconds; outside Knative
//! the same launcher keeps serving and reports the failure on `/_dcs/ready`.

use std::os::unix::process::CommandExt as _;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use dcs_e2e::git_server::GitServer;
use dcs_model::{LauncherEnv, RepoRef};

/// A launcher asked to clone `acme/missing` from `git`, which does not have it.
fn launcher(git: &GitServer, dir: &std::path::Path, knative: bool) -> anyhow::Result<Child> {
    let mut env = LauncherEnv::new(RepoRef::new("acme", "missing")?);
    env.git_base = git.base_url();
    env.workspaces_dir = dir.join("workspaces");
    env.config_dir = Some(dir.join("config"));
    env.listen = std::net::SocketAddr::from(([127, 0, 0, 1], 0)).into();
    env.addr_file = Some(dir.join("addr"));
    std::fs::create_dir_all(&env.workspaces_dir)?;
    let mut cmd = Command::new(dcs_e2e::bin_path("dcs-launcher")?);
    cmd.arg("run")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0);
    dcs_e2e::bins::launcher_contract(&mut cmd, &env);
    if knative {
        cmd.env("K_SERVICE", "dcs-ws-test")
            .env("DCS_TERMINATION_LOG", dir.join("termination-log"));
    }
    Ok(cmd.spawn()?)
}

fn kill(child: &mut Child) {
    let _ = dcs_os::group::signal(child.id(), nix::sys::signal::Signal::SIGKILL);
    let _ = child.wait();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_knative_a_failed_clone_ends_the_launcher_with_its_reason() -> anyhow::Result<()> {
    let repos = tempfile::tempdir()?;
    let git = GitServer::start(repos.path())?;
    let dir = tempfile::tempdir()?;
    let mut child = launcher(&git, dir.path(), true)?;
    let mut status = None;
    dcs_e2e::wait_until(Duration::from_secs(90), Duration::from_millis(50), || {
        status = child.try_wait().ok().flatten();
        status.is_some()
    })
    .await;
    let Some(status) = status else {
        kill(&mut child);
        anyhow::bail!("the launcher kept running after its clone failed");
    };
    assert_eq!(status.code(), Some(1), "{status:?}");
    let message = std::fs::read_to_string(dir.path().join("termination-log"))?;
    assert!(
        message.contains("acme/missing") || message.to_lowercase().contains("not found"),
        "the termination message names the failure: {message:?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outside_knative_a_failed_clone_keeps_serving_its_reason() -> anyhow::Result<()> {
    let repos = tempfile::tempdir()?;
    let git = GitServer::start(repos.path())?;
    let dir = tempfile::tempdir()?;
    let mut child = launcher(&git, dir.path(), false)?;
    let addr_file = dir.path().join("addr");
    let mut failed = false;
    dcs_e2e::wait_until(Duration::from_secs(90), Duration::from_millis(50), || {
        let Some(addr) = std::fs::read_to_string(&addr_file).ok() else {
            return false;
        };
        failed = dcs_e2e::bins::ready_phase(addr.trim()).is_some_and(|p| p == "failed");
        failed
    })
    .await;
    let alive = child.try_wait()?.is_none();
    kill(&mut child);
    assert!(failed, "/_dcs/ready never reported the failed clone");
    assert!(
        alive,
        "the launcher ended although it does not run under Knative"
    );
    Ok(())
}
