//! A sandboxed workspace's history: its checkout step (outside the sandbox, with the
//! operator's token) clones shallow and exits, so the rest of the history is fetched
//! by the step's history mode, which the proxy runs beside the ready workspace and
//! ends with it. A start never waits for a history: a checkout left shallow opens
//! again at once (a fetch that keeps it shallow), however long its history takes.
//!
//! A relay in front of the git server holds every request for the rest of a
//! history (libgit2's unshallow, `deepen 2147483647`) until the test lets it go, so
//! the shallow state is seen for certain and a history transfer can be stalled.

use std::path::Path;
use std::time::{Duration, Instant};

use dcs_e2e::api::call;
use dcs_e2e::{client, cmdline, processes_with_env, run_git, GitServer, Proxy, ProxyBuilder};
use dcs_e2e::{UpstreamRepo, README};

#[path = "common/git_relay.rs"]
mod git_relay;

/// Commits in the upstream repository.
const COMMITS: usize = 6;

/// How long a start may take here (`--start-timeout`): a start that waited for the
/// stalled history would take the git limit (`--git-low-speed-time`, far longer).
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// How long anything in the background may take on a busy machine.
const PATIENCE: Duration = Duration::from_secs(120);

/// An upstream `acme/hello` with [`COMMITS`] commits.
fn upstream(root: &Path) -> anyhow::Result<UpstreamRepo> {
    let repo = UpstreamRepo::create(root, "acme/hello", &[("README.md", README)])?;
    for i in 1..COMMITS {
        repo.commit(
            &[(&format!("src/{i}.txt"), &format!("{i}\n"))],
            &format!("commit {i}"),
        )?;
    }
    Ok(repo)
}

/// A sandboxed proxy cloning through `relay`, never idle on its own.
fn sandboxed(data: &Path, relay: &git_relay::Relay) -> anyhow::Result<Proxy> {
    ProxyBuilder::new(data, &relay.base)
        .arg("--sandbox")
        .arg("--idle-timeout")
        .arg("1h")
        .arg("--stop-grace")
        .arg("2s")
        .arg("--start-timeout")
        .arg(format!("{}s", START_TIMEOUT.as_secs()))
        .arg("--git-low-speed-time")
        .arg("600s")
        .start()
}

fn is_shallow(checkout: &Path) -> anyhow::Result<bool> {
    Ok(run_git(checkout, &["rev-parse", "--is-shallow-repository"])? == "true")
}

fn count(checkout: &Path, rev: &str) -> anyhow::Result<usize> {
    Ok(run_git(checkout, &["rev-list", "--count", rev])?.parse()?)
}

/// The README through the proxy (starting the workspace as needed).
async fn readme(proxy: &Proxy) -> anyhow::Result<()> {
    let url = proxy.url("/github/acme/hello/_dcs/files/README.md");
    let resp = client().get(url).send().await?;
    anyhow::ensure!(resp.status() == 200, "{}\n{}", resp.status(), proxy.log());
    anyhow::ensure!(resp.text().await? == README, "another README");
    Ok(())
}

/// The history steps (`dcs-launcher checkout --history`) of the proxy's user.
fn history_steps(proxy: &Proxy) -> Vec<u32> {
    let marker = format!("DCS_WORKSPACES_DIR={}", proxy.volume().display());
    let steps = processes_with_env(&marker).into_iter();
    steps
        .filter(|&p| {
            let args = cmdline(p).unwrap_or_default();
            args.get(1..3)
                .is_some_and(|a| a == ["checkout", "--history"])
        })
        .collect()
}

/// Waits until `done` says so, failing with `what` and the proxy's log after `limit`.
async fn wait_for(
    proxy: &Proxy,
    what: &str,
    limit: Duration,
    mut done: impl FnMut() -> anyhow::Result<bool>,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + limit;
    while !done()? {
        anyhow::ensure!(Instant::now() < deadline, "never: {what}\n{}", proxy.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sandboxed_first_open_gets_its_whole_history_beside_the_workspace() -> anyhow::Result<()>
{
    let tmp = tempfile::tempdir()?;
    let git_root = tmp.path().join("git");
    let _repo = upstream(&git_root)?;
    let git = GitServer::start(&git_root)?;
    let relay = git_relay::start(git.base_url(), git_relay::unshallows).await?;
    let proxy = sandboxed(&tmp.path().join("data"), &relay)?;
    let checkout = proxy.volume().join("acme/hello");

    readme(&proxy).await?;
    // The history step beside the workspace asks for the rest and waits at the relay.
    wait_for(&proxy, "a history fetch began", PATIENCE, || {
        Ok(relay.held() > 0)
    })
    .await?;
    assert!(is_shallow(&checkout)?, "the first open cloned shallow");
    assert_eq!(count(&checkout, "HEAD")?, 1);
    // Its transfer runs below the step's priority: nobody waits for it.
    let steps = history_steps(&proxy);
    assert_eq!(steps.len(), 1, "one history step: {steps:?}");
    let step = dcs_os::proc::stat(steps[0]).expect("the history step");
    let transfers: Vec<_> = processes_with_env("DCS_TRANSFER_BACKGROUND=1")
        .into_iter()
        .filter_map(dcs_os::proc::stat)
        .filter(|s| s.ppid == steps[0])
        .collect();
    assert_eq!(transfers.len(), 1, "{transfers:?}");
    assert_eq!(transfers[0].nice, (step.nice + 10).min(19));
    // The workspace serves meanwhile.
    readme(&proxy).await?;

    relay.open();
    wait_for(&proxy, "the history completed", PATIENCE, || {
        Ok(!is_shallow(&checkout)? && count(&checkout, "HEAD")? == COMMITS)
    })
    .await?;
    readme(&proxy).await?;
    wait_for(&proxy, "the history step ended", PATIENCE, || {
        Ok(history_steps(&proxy).is_empty())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_start_of_a_shallow_checkout_does_not_wait_for_its_history() -> anyhow::Result<()>
{
    let tmp = tempfile::tempdir()?;
    let git_root = tmp.path().join("git");
    let repo = upstream(&git_root)?;
    let git = GitServer::start(&git_root)?;
    let relay = git_relay::start(git.base_url(), git_relay::unshallows).await?;
    let proxy = sandboxed(&tmp.path().join("data"), &relay)?;
    let checkout = proxy.volume().join("acme/hello");

    readme(&proxy).await?;
    wait_for(&proxy, "a history fetch began", PATIENCE, || {
        Ok(relay.held() > 0)
    })
    .await?;
    // Stopped while its history is stalled: the history step ends with it.
    let (code, list) = call(client().get(proxy.url("/api/instances"))).await?;
    assert_eq!(code, 200, "{list}");
    let id = list["instances"][0]["instance_id"]
        .as_str()
        .unwrap_or_default();
    let stop = client().post(proxy.url(&format!("/api/instances/{id}/stop")));
    let (code, stopped) = call(stop).await?;
    assert_eq!(code, 200, "{stopped}\n{}", proxy.log());
    wait_for(
        &proxy,
        "the workspace and its history step ended",
        PATIENCE,
        || Ok(proxy.launcher_pids().is_empty() && history_steps(&proxy).is_empty()),
    )
    .await?;
    assert!(is_shallow(&checkout)?);
    repo.commit(&[("later.txt", "later\n")], "a later commit")?;
    let held_before = relay.held();

    // The next start fetches the new commit and opens, the history still stalled.
    let began = Instant::now();
    readme(&proxy).await?;
    assert!(
        began.elapsed() < START_TIMEOUT,
        "{:?}\n{}",
        began.elapsed(),
        proxy.log()
    );
    assert!(is_shallow(&checkout)?, "the start left the history alone");
    assert_eq!(
        count(&checkout, "origin/main")?,
        2,
        "the new commit was fetched"
    );
    // The history step beside it tries again, and completes it once let through.
    wait_for(&proxy, "the history fetch began again", PATIENCE, || {
        Ok(relay.held() > held_before)
    })
    .await?;
    relay.open();
    wait_for(&proxy, "the history completed", PATIENCE, || {
        Ok(!is_shallow(&checkout)? && count(&checkout, "origin/main")? == COMMITS + 1)
    })
    .await?;
    readme(&proxy).await
}
