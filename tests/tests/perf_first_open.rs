//! The first open is fast and complete: the workspace opens on a shallow clone (the
//! last commit, as `git clone --depth 1`) and the rest of the history follows in the
//! background, without blocking the workspace and without touching the working
//! tree; an existing checkout is never made shallow.
//!
//! The background fetch is made observable by a relay in front of the git server
//! that holds every fetch *from a shallow repository* (its request names the
//! repository's shallow commits: `shallow <sha>` lines) until the test lets it go.
//! So the shallow state is seen for certain, a file is edited while the fetch waits,
//! and the fetch then completes the history around the edit.

use std::path::Path;
use std::time::{Duration, Instant};

use dcs_e2e::api::call;
use dcs_e2e::procs::processes_with_env;
use dcs_e2e::{client, run_git, GitServer, Proxy, ProxyBuilder, UpstreamRepo};
use dcs_os::proc::Stat;

/// Commits in the upstream repository.
const COMMITS: usize = 5;

#[path = "common/git_relay.rs"]
mod git_relay;

/// Whether an upload-pack request comes from a shallow repository: it has a
/// `shallow <sha>` pkt-line (`0035` is its length; the capability word `shallow` in
/// a clone's first `want` line is not one).
fn from_shallow(body: &[u8]) -> bool {
    body.windows(12).any(|w| w == b"0035shallow ")
}

/// A relay to the git server at `to` that holds fetches from shallow repositories
/// while closed.
async fn relay(to: String) -> anyhow::Result<git_relay::Relay> {
    git_relay::start(to, from_shallow).await
}

/// An upstream `acme/hello` with [`COMMITS`] commits.
fn upstream(root: &Path) -> anyhow::Result<UpstreamRepo> {
    let repo = UpstreamRepo::create(root, "acme/hello", &[("README.md", "# hello\n")])?;
    for i in 1..COMMITS {
        repo.commit(
            &[(&format!("src/{i}.txt"), &format!("{i}\n"))],
            &format!("commit {i}"),
        )?;
    }
    Ok(repo)
}

fn commits(checkout: &Path) -> anyhow::Result<usize> {
    Ok(run_git(checkout, &["rev-list", "--count", "HEAD"])?.parse()?)
}

fn shallow(checkout: &Path) -> bool {
    std::fs::metadata(checkout.join(".git/shallow")).is_ok_and(|m| m.len() > 0)
}

async fn open(proxy: &Proxy) -> anyhow::Result<()> {
    let resp = client()
        .get(proxy.url("/github/acme/hello/_dcs/files/README.md"))
        .send()
        .await?;
    anyhow::ensure!(resp.status() == 200, "{}", proxy.log());
    Ok(())
}

#[tokio::test]
async fn a_shallow_first_open_gets_its_history_later_around_the_users_edits() -> anyhow::Result<()>
{
    let tmp = tempfile::tempdir()?;
    let git_root = tmp.path().join("git");
    let _repo = upstream(&git_root)?;
    let git = GitServer::start(&git_root)?;
    let relay = relay(git.base_url()).await?;
    let proxy = ProxyBuilder::new(&tmp.path().join("data"), &relay.base).start()?;
    let checkout = proxy.volume().join("acme/hello");

    open(&proxy).await?;
    // The background fetch has begun and waits at the relay; the workspace serves.
    let deadline = Instant::now() + Duration::from_secs(60);
    while relay.held() == 0 {
        assert!(
            Instant::now() < deadline,
            "no background fetch began\n{}",
            proxy.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Nobody waits for it: it runs at a lower CPU priority than its launcher.
    let launchers = proxy.launcher_pids();
    let fetchers: Vec<Stat> = processes_with_env("DCS_TRANSFER_BACKGROUND=1")
        .into_iter()
        .filter_map(dcs_os::proc::stat)
        .filter(|s| launchers.contains(&s.ppid))
        .collect();
    assert_eq!(fetchers.len(), 1, "one background transfer: {fetchers:?}");
    let launcher = dcs_os::proc::stat(fetchers[0].ppid).expect("the launcher");
    assert_eq!(
        fetchers[0].nice,
        (launcher.nice + 10).min(19),
        "{fetchers:?}"
    );
    open(&proxy).await?;
    assert!(shallow(&checkout), "the first open cloned shallow");
    assert_eq!(commits(&checkout)?, 1, "only the last commit so far");

    // The user edits a tracked file and adds one while the history is on its way.
    std::fs::write(checkout.join("README.md"), "# hello\nedited meanwhile\n")?;
    std::fs::write(checkout.join("notes.txt"), "mine\n")?;
    let head = run_git(&checkout, &["rev-parse", "HEAD"])?;
    relay.open();

    let deadline = Instant::now() + Duration::from_secs(60);
    while shallow(&checkout) || commits(&checkout)? != COMMITS {
        assert!(
            Instant::now() < deadline,
            "the history never completed ({} commits)",
            commits(&checkout)?
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        std::fs::read_to_string(checkout.join("README.md"))?,
        "# hello\nedited meanwhile\n",
        "the edit stays"
    );
    assert_eq!(
        run_git(&checkout, &["rev-parse", "HEAD"])?,
        head,
        "HEAD unmoved"
    );
    assert_eq!(
        run_git(&checkout, &["status", "--porcelain"])?,
        "M README.md\n?? notes.txt",
        "the working tree is the user's"
    );
    open(&proxy).await?;
    Ok(())
}

#[tokio::test]
async fn an_existing_complete_checkout_is_never_made_shallow() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let git_root = tmp.path().join("git");
    let repo = upstream(&git_root)?;
    let git = GitServer::start(&git_root)?;
    let proxy = ProxyBuilder::new(&tmp.path().join("data"), &git.base_url()).start()?;
    let checkout = proxy.volume().join("acme/hello");
    std::fs::create_dir_all(checkout.parent().expect("parent"))?;
    let url = repo.url(&git.base_url());
    let target = checkout.to_str().expect("utf-8");
    run_git(tmp.path(), &["clone", "--quiet", &url, target])?;
    repo.commit(&[("later.txt", "later\n")], "a later commit")?;

    open(&proxy).await?;
    assert!(!shallow(&checkout), "a complete checkout stays complete");
    assert_eq!(commits(&checkout)?, COMMITS);
    let fetched = run_git(&checkout, &["rev-list", "--count", "origin/main"])?;
    assert_eq!(
        fetched,
        (COMMITS + 1).to_string(),
        "the new commit was fetched"
    );
    Ok(())
}

#[tokio::test]
async fn a_checkout_left_shallow_opens_again_and_completes_later() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let git_root = tmp.path().join("git");
    let repo = upstream(&git_root)?;
    let git = GitServer::start(&git_root)?;
    let relay = relay(git.base_url()).await?;
    // Never idle here: the test stops it itself, once the fetch waits.
    let proxy = ProxyBuilder::new(&tmp.path().join("data"), &relay.base)
        .arg("--idle-timeout")
        .arg("1h")
        .arg("--stop-grace")
        .arg("2s")
        .start()?;
    let checkout = proxy.volume().join("acme/hello");

    open(&proxy).await?;
    let deadline = Instant::now() + Duration::from_secs(60);
    while relay.held() == 0 {
        assert!(Instant::now() < deadline, "no background fetch began");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Stopped (as when nobody uses it) while the rest of the history waits: the
    // checkout stays shallow.
    let (code, list) = call(client().get(proxy.url("/api/instances"))).await?;
    assert_eq!(code, 200, "{list}");
    let id = list["instances"][0]["instance_id"]
        .as_str()
        .unwrap_or_default();
    let stop = client().post(proxy.url(&format!("/api/instances/{id}/stop")));
    let (code, stopped) = call(stop).await?;
    assert_eq!(code, 200, "{stopped}\n{}", proxy.log());
    let deadline = Instant::now() + Duration::from_secs(60);
    while !proxy.launcher_pids().is_empty() {
        assert!(Instant::now() < deadline, "the workspace never stopped");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(shallow(&checkout));
    repo.commit(&[("later.txt", "later\n")], "a later commit")?;
    relay.open();

    // It opens again (a fetch that keeps it shallow), then completes in the background.
    open(&proxy).await?;
    let deadline = Instant::now() + Duration::from_secs(60);
    while shallow(&checkout) || commits(&checkout)? != COMMITS {
        assert!(
            Instant::now() < deadline,
            "the history never completed ({} commits)\n{}",
            commits(&checkout)?,
            proxy.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let fetched = run_git(&checkout, &["rev-list", "--count", "origin/main"])?;
    assert_eq!(fetched, (COMMITS + 1).to_string());
    Ok(())
}
