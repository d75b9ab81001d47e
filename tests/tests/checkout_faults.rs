//! Checkouts that go wrong, with the real `dcs-launcher` (and the proxy): git servers
//! that never answer or trickle give up at the git limits with a readable reason; a
//! launcher SIGKILLed mid-clone or mid-upload leaves nothing once it starts again;
//! two starts that share a checkout folder clone once (the other waits and reuses the
//! checkout) and both get ready, and the history completes behind them.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use dcs_e2e::api::{call, wait_running};
use dcs_e2e::git_server::Mode;
use dcs_e2e::repos::noise;
use dcs_e2e::{client, cmdline, is_alive, run_git, wait_until, Fixture, GitServer, UpstreamRepo};
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;

#[path = "checkout_faults/launcher.rs"]
mod launcher;

#[path = "checkout_faults/shared.rs"]
mod shared;

use launcher::{Launcher, PATIENCE};
use shared::{clones, shallow};

/// A git server over `<tmp>/git` holding `acme/big` (`size` bytes of noise) in `mode`.
fn big_repo_server(
    tmp: &Path,
    size: usize,
    mode: Mode,
) -> anyhow::Result<(UpstreamRepo, GitServer)> {
    let root = tmp.join("git");
    let repo = UpstreamRepo::create(
        &root,
        "acme/big",
        &[("README.md", "big\n"), ("noise.txt", &noise(size, 7))],
    )?;
    Ok((repo, GitServer::builder(&root).mode(mode).start()?))
}

/// Names in `dir` (empty if it does not exist).
fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn partials(owner_dir: &Path) -> Vec<String> {
    names(owner_dir)
        .into_iter()
        .filter(|n| n.contains(".dcs-partial-"))
        .collect()
}

/// The launcher's transfer child (`dcs-launcher git-transfer`), if it has one.
fn transfer_child(launcher: u32) -> Option<u32> {
    let entries = std::fs::read_dir("/proc").ok()?;
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .find(|&pid| {
            dcs_os::proc::stat(pid).is_some_and(|s| s.ppid == launcher && !s.dead())
                && cmdline(pid).is_some_and(|c| c.iter().any(|a| a == "git-transfer"))
        })
}

fn failure_message(report: &Value) -> String {
    report["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn a_git_server_that_never_answers_fails_the_start_naming_the_limit() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let (_repo, git) = big_repo_server(tmp.path(), 1000, Mode::Hang)?;
    // The low-speed limit fires first; with it off, the total limit does.
    for (limits, names_it) in [
        (
            [
                ("DCS_GIT_TIMEOUT", "3"),
                ("DCS_GIT_LOW_SPEED_LIMIT", "1000"),
                ("DCS_GIT_LOW_SPEED_TIME", "2"),
            ],
            "sent less than 1000 bytes/s for 2 s while cloning acme/big; gave up \
             (DCS_GIT_LOW_SPEED_LIMIT/DCS_GIT_LOW_SPEED_TIME",
        ),
        (
            [
                ("DCS_GIT_TIMEOUT", "3"),
                ("DCS_GIT_LOW_SPEED_LIMIT", "0"),
                ("DCS_GIT_LOW_SPEED_TIME", "2"),
            ],
            "took longer than 3 s; gave up (DCS_GIT_TIMEOUT",
        ),
    ] {
        let ws = tempfile::tempdir_in(tmp.path())?;
        let volume = ws.path().join("workspaces");
        let launcher = Launcher::start(&volume, "acme/big", &git.base_url(), &limits)?;
        let failed = launcher
            .wait_for("failed", |r| r["phase"] == "failed")
            .await?;
        let message = failure_message(&failed);
        assert!(message.contains(names_it), "{message}");
        assert!(message.contains(&git.base_url()), "{message}");
        assert_eq!(failed["error"]["kind"], "network", "{failed}");
        // The launcher lives on and keeps reporting the failure.
        assert!(is_alive(launcher.pid()));
        assert_eq!(
            launcher.ready().await?["error"]["message"],
            message.as_str()
        );
        assert!(
            transfer_child(launcher.pid()).is_none(),
            "the transfer child was killed"
        );
        assert!(partials(&volume.join("acme")).is_empty());
        assert!(!volume.join("acme/big").exists());
    }
    Ok(())
}

#[tokio::test]
async fn a_git_server_trickling_below_the_low_speed_limit_fails_the_start() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    // 100 bytes every 200 ms: 500 bytes/s, half the limit.
    let trickle = Mode::Trickle {
        chunk: 100,
        every: Duration::from_millis(200),
    };
    let (_repo, git) = big_repo_server(tmp.path(), 200_000, trickle)?;
    let volume = tmp.path().join("workspaces");
    let limits = [
        ("DCS_GIT_TIMEOUT", "600"),
        ("DCS_GIT_LOW_SPEED_LIMIT", "1000"),
        ("DCS_GIT_LOW_SPEED_TIME", "2"),
    ];
    let launcher = Launcher::start(&volume, "acme/big", &git.base_url(), &limits)?;
    let failed = launcher
        .wait_for("failed", |r| r["phase"] == "failed")
        .await?;
    let message = failure_message(&failed);
    assert!(
        message.contains(&format!(
            "the git server at {} sent less than 1000 bytes/s for 2 s",
            git.base_url()
        )),
        "{message}"
    );
    assert!(partials(&volume.join("acme")).is_empty());
    Ok(())
}

#[tokio::test]
async fn a_launcher_killed_mid_clone_leaves_no_partial_clone_after_the_next_start(
) -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    // About 4 MB of pack at 160 KB/s: the clone takes a while.
    let trickle = Mode::Trickle {
        chunk: 16 * 1024,
        every: Duration::from_millis(100),
    };
    let (_repo, git) = big_repo_server(tmp.path(), 8_000_000, trickle)?;
    let volume = tmp.path().join("workspaces");
    let owner = volume.join("acme");
    let mut first = Launcher::start(&volume, "acme/big", &git.base_url(), &[])?;

    // Wait until the partial clone holds part of the pack.
    let receiving = || {
        partials(&owner)
            .iter()
            .any(|p| !names(&owner.join(p).join(".git/objects/pack")).is_empty())
    };
    assert!(
        wait_until(PATIENCE, Duration::from_millis(50), receiving).await,
        "the clone never started: {:?}\n{}",
        names(&owner),
        first.log()
    );
    // The clone runs in the launcher's transfer child; SIGKILL the launcher alone:
    // the child notices (its stdin closes) and ends too.
    let child = transfer_child(first.pid()).context("a transfer child clones")?;
    first.sigkill();
    assert!(
        wait_until(PATIENCE, Duration::from_millis(50), || !is_alive(child)).await,
        "the transfer child outlived its launcher"
    );
    let left = partials(&owner);
    assert_eq!(
        left.len(),
        1,
        "the killed launcher left its partial clone: {left:?}"
    );

    git.set_mode(Mode::Normal);
    let second = Launcher::start(&volume, "acme/big", &git.base_url(), &[])?;
    let ready = second
        .wait_for("ready", |r| r["ready"] == true || r["phase"] == "failed")
        .await?;
    assert_eq!(ready["ready"], true, "{ready}\n{}", second.log());
    assert_eq!(partials(&owner), Vec::<String>::new());
    assert_eq!(
        std::fs::read_to_string(owner.join("big/README.md"))?,
        "big\n"
    );
    assert_eq!(
        std::fs::metadata(owner.join("big/noise.txt"))?.len(),
        8_000_000
    );
    Ok(())
}

/// Every upload temporary below `dir`.
fn upload_temporaries(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if entry.file_name().to_string_lossy().contains(".dcs-upload-") {
            found.push(path.clone());
        }
        if path.is_dir() && !path.is_symlink() && entry.file_name() != ".git" {
            found.extend(upload_temporaries(&path));
        }
    }
    found
}

#[tokio::test]
async fn a_launcher_killed_mid_upload_leaves_no_temporary_after_the_next_start(
) -> anyhow::Result<()> {
    let fx_tmp = tempfile::tempdir()?;
    let root = fx_tmp.path().join("git");
    let _repo = UpstreamRepo::create(&root, "acme/hello", &[("README.md", "hello\n")])?;
    let git = GitServer::start(&root)?;
    let volume = fx_tmp.path().join("workspaces");
    let mut first = Launcher::start(&volume, "acme/hello", &git.base_url(), &[])?;
    first.wait_for("ready", |r| r["ready"] == true).await?;

    // A slow upload: 10 MB announced, 256 KB sent, then nothing.
    let mut upload = tokio::net::TcpStream::connect(first.addr).await?;
    let head = format!(
        "PUT /_dcs/files/big.iso HTTP/1.1\r\nhost: {}\r\ncontent-length: 10485760\r\n\r\n",
        first.addr
    );
    upload.write_all(head.as_bytes()).await?;
    upload.write_all(&vec![b'x'; 256 * 1024]).await?;
    let written = || {
        upload_temporaries(&volume)
            .iter()
            .any(|p| std::fs::metadata(p).is_ok_and(|m| m.len() > 0))
    };
    assert!(
        wait_until(PATIENCE, Duration::from_millis(50), written).await,
        "the upload never reached the disk"
    );
    first.sigkill();
    assert!(
        !upload_temporaries(&volume).is_empty(),
        "the killed launcher left its temporary"
    );
    drop(upload);

    let second = Launcher::start(&volume, "acme/hello", &git.base_url(), &[])?;
    second.wait_for("ready", |r| r["ready"] == true).await?;
    assert_eq!(upload_temporaries(&volume), Vec::<PathBuf>::new());
    assert!(!volume.join("acme/hello/big.iso").exists());
    Ok(())
}

#[tokio::test]
async fn two_launchers_sharing_a_checkout_folder_clone_once_and_both_get_ready(
) -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    // Slow enough that the two starts overlap.
    let trickle = Mode::Trickle {
        chunk: 16 * 1024,
        every: Duration::from_millis(100),
    };
    let (repo, git) = big_repo_server(tmp.path(), 2_000_000, trickle)?;
    // A second commit: the first open's shallow clone (the last commit) is not the
    // whole history.
    repo.commit(&[("CHANGES.md", "two\n")], "second")?;
    let volume = tmp.path().join("workspaces");
    let workspace = Launcher::start(&volume, "acme/big", &git.base_url(), &[])?;
    let instance = Launcher::start(
        &volume,
        "acme/big",
        &git.base_url(),
        &[("DCS_INSTANCE", "inst-0123456789abcdef")],
    )?;
    let settled = |r: &Value| r["ready"] == true || r["phase"] == "failed";
    let (a, b) = tokio::join!(
        workspace.wait_for("settled", settled),
        instance.wait_for("settled", settled)
    );
    let (a, b) = (a?, b?);
    assert_eq!(a["ready"], true, "{a}\n{}", workspace.log());
    assert_eq!(b["ready"], true, "{b}\n{}", instance.log());
    let (cloned, asked) = clones(&git);
    assert_eq!(
        cloned, 1,
        "one start cloned, the other reused it: {asked:?}"
    );
    assert_eq!(partials(&volume.join("acme")), Vec::<String>::new());
    let checkout = volume.join("acme/big");
    assert_eq!(
        std::fs::read_to_string(checkout.join("README.md"))?,
        "big\n"
    );

    // The rest of the history follows in the background (either launcher, or both,
    // may fetch it): complete in the end, and the working tree as the clone left it.
    let complete = wait_until(PATIENCE, Duration::from_millis(100), || {
        !shallow(&checkout)
            && run_git(&checkout, &["rev-list", "--count", "HEAD"]).is_ok_and(|n| n == "2")
    })
    .await;
    assert!(
        complete,
        "the history never completed\n{}\n{}",
        workspace.log(),
        instance.log()
    );
    assert_eq!(run_git(&checkout, &["status", "--porcelain"])?, "");
    assert_eq!(
        std::fs::read_to_string(checkout.join("README.md"))?,
        "big\n"
    );
    let (cloned, asked) = clones(&git);
    assert_eq!(cloned, 1, "completing the history is no clone: {asked:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workspace_and_an_instance_of_one_repository_opened_at_once_both_start(
) -> anyhow::Result<()> {
    let fx = Fixture::new(|b| b)?;
    let _big = UpstreamRepo::create(
        &fx.tmp.path().join("git"),
        "acme/big",
        &[("README.md", "big\n"), ("noise.txt", &noise(2_000_000, 11))],
    )?;
    fx.git.set_mode(Mode::Trickle {
        chunk: 16 * 1024,
        every: Duration::from_millis(100),
    });
    let http = client();
    let workspace_url = fx.proxy.url("/github/acme/big/_dcs/files/README.md");
    let create = http
        .post(fx.proxy.url("/api/instances"))
        .header("content-type", "application/json")
        .body(json!({"repo": "acme/big"}).to_string());
    let (opened, created) = tokio::join!(http.get(&workspace_url).send(), call(create));
    let (code, created) = created?;
    assert_eq!(code, 201, "{created}");
    let id = created["instance_id"].as_str().context("an id")?.to_owned();
    let status_url = fx.proxy.url(&format!("/api/status?instance_id={id}"));
    let running = wait_running(|| http.get(&status_url), PATIENCE).await;
    assert!(running.is_ok(), "{running:?}\n{}", fx.proxy.log());

    // The workspace: its first answer may have been a wait; it serves the file now.
    let first = opened?.status().as_u16();
    let deadline = Instant::now() + PATIENCE;
    loop {
        let resp = http.get(&workspace_url).send().await?;
        let status = resp.status().as_u16();
        let text = resp.text().await?;
        if status == 200 {
            assert_eq!(text, "big\n");
            break;
        }
        assert!(
            status == 503 || status == 504,
            "the workspace failed ({status}, first {first}): {text}\n{}",
            fx.proxy.log()
        );
        assert!(
            Instant::now() < deadline,
            "the workspace never started: {text}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let owner = fx.proxy.volume().join("acme");
    assert_eq!(partials(&owner), Vec::<String>::new());
    let (cloned, asked) = clones(&fx.git);
    assert_eq!(
        cloned, 1,
        "one start cloned, the other reused it: {asked:?}"
    );
    Ok(())
}
