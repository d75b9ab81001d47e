//! Knative's `checkout` init container (`dcs-launcher checkout`) clones while the
//! pod is not routable; it pushes the clone's progress to the proxy's
//! `/_dcs/hop/progress/<name>` with the workspace's hop credential, so the progress
//! page shows cloning % (a loopback server stands in for the proxy), and records its
//! outcome as before.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use dcs_e2e::git_server::{GitServer, Mode};
use dcs_e2e::repos::{noise, UpstreamRepo};
use dcs_model::{LauncherEnv, RepoRef};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A stand-in for the proxy: records each request's head and body, answers 204.
async fn stand_in() -> anyhow::Result<(String, Arc<Mutex<Vec<String>>>)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let got = Arc::new(Mutex::new(Vec::new()));
    let seen = got.clone();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 8192];
                // One request per connection is enough for the launcher's client,
                // which reuses connections: read heads and bodies in a loop.
                loop {
                    let Ok(n) = conn.read(&mut chunk).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..end]).to_string();
                        let len = head
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        if buf.len() < end + 4 + len {
                            break;
                        }
                        let body =
                            String::from_utf8_lossy(&buf[end + 4..end + 4 + len]).to_string();
                        buf.drain(..end + 4 + len);
                        if let Ok(mut g) = seen.lock() {
                            g.push(format!("{head}\n\n{body}"));
                        }
                        let _ = conn
                            .write_all(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n")
                            .await;
                    }
                }
            });
        }
    });
    Ok((format!("http://{addr}/_dcs/hop/progress/ws-test"), got))
}

/// `dcs-launcher checkout` with `env` (and no other `DCS_*` variable), within `limit`.
async fn checkout(env: &LauncherEnv, limit: Duration) -> anyhow::Result<std::process::ExitStatus> {
    let mut cmd = tokio::process::Command::new(dcs_e2e::bin_path("dcs-launcher")?);
    cmd.arg("checkout").stdin(std::process::Stdio::null());
    for (k, _) in std::env::vars_os() {
        if k.to_str().is_some_and(|k| k.starts_with("DCS_")) {
            cmd.env_remove(k);
        }
    }
    Ok(tokio::time::timeout(limit, cmd.envs(env.to_vars()).status()).await??)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_checkout_container_pushes_the_clones_progress_with_the_hop_credential(
) -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let repos = tmp.path().join("git");
    UpstreamRepo::create(
        &repos,
        "acme/big",
        &[("README.md", "big\n"), ("noise.txt", &noise(1_000_000, 7))],
    )?;
    let git = GitServer::builder(&repos)
        .mode(Mode::Trickle {
            chunk: 32 * 1024,
            every: Duration::from_millis(100),
        })
        .start()?;
    let (url, got) = stand_in().await?;
    let credential = "checkout-hop-credential-0123456789";
    let hop_file = tmp.path().join("hop");
    std::fs::write(&hop_file, credential)?;
    let outcome = tmp.path().join("outcome.json");
    let mut env = LauncherEnv::new(RepoRef::new("acme", "big")?);
    env.git_base = git.base_url();
    env.workspaces_dir = tmp.path().join("workspaces");
    env.config_dir = Some(tmp.path().join("config"));
    env.checkout_outcome_file = Some(outcome.clone());
    env.hop_secret_file = Some(hop_file);
    env.progress_url = Some(url);
    std::fs::create_dir_all(&env.workspaces_dir)?;
    let status = checkout(&env, Duration::from_secs(240)).await?;
    assert!(status.success(), "{status}");
    assert!(outcome.exists(), "the outcome is recorded");

    let pushed = got.lock().map(|g| g.clone()).unwrap_or_default();
    assert!(!pushed.is_empty(), "nothing was pushed");
    for p in &pushed {
        assert!(p.starts_with("POST /_dcs/hop/progress/ws-test "), "{p}");
        assert!(
            p.to_ascii_lowercase()
                .contains(&format!("x-dcs-hop: {credential}")),
            "the hop credential: {p}"
        );
    }
    let cloning = pushed.iter().any(|p| {
        let body = p.split("\n\n").nth(1).unwrap_or_default();
        serde_json::from_str::<serde_json::Value>(body).is_ok_and(|v| {
            v["phase"] == "checkout" && v["progress"]["received_bytes"].as_u64() > Some(0)
        })
    });
    assert!(cloning, "no clone progress among {pushed:#?}");
    Ok(())
}

/// The checkout container's later starts read the roots from a hashed folder: the
/// first start that fetched makes it, the first open (which the pod waits for) not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkout_container_that_fetched_leaves_the_certificate_folder() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let repos = tmp.path().join("git");
    UpstreamRepo::create(&repos, "acme/small", &[("README.md", "small\n")])?;
    let git = GitServer::builder(&repos).start()?;
    let mut env = LauncherEnv::new(RepoRef::new("acme", "small")?);
    env.git_base = git.base_url();
    env.workspaces_dir = tmp.path().join("workspaces");
    env.config_dir = Some(tmp.path().join("config"));
    env.checkout_outcome_file = Some(tmp.path().join("outcome.json"));
    std::fs::create_dir_all(&env.workspaces_dir)?;
    let folders = || -> anyhow::Result<Vec<String>> {
        let trust = tmp.path().join("config/trust");
        let mut names = Vec::new();
        for entry in std::fs::read_dir(&trust)? {
            let name = entry?.file_name().to_string_lossy().into_owned();
            if name.starts_with("hashed-") {
                names.push(name);
            }
        }
        Ok(names)
    };
    let outcomes = ["cloned", "fetched", "fetched"];
    let mut made = Vec::new();
    for expected in outcomes {
        let status = checkout(&env, Duration::from_secs(120)).await?;
        assert!(status.success(), "{status}");
        let outcome = std::fs::read_to_string(tmp.path().join("outcome.json"))?;
        let outcome: serde_json::Value = serde_json::from_str(&outcome)?;
        assert_eq!(outcome["outcome"], expected, "{outcome}");
        made.push(folders()?);
    }
    assert!(
        made[0].is_empty(),
        "the first open makes no folder: {made:?}"
    );
    assert_eq!(made[1].len(), 1, "the first fetch makes it: {made:?}");
    assert_eq!(made[2], made[1], "later starts use it as it is: {made:?}");
    Ok(())
}
