//! A start that fails while the proxy cannot write its records (a full or read-only
//! disk) still tells the user why it failed. The proxy records a failed start's
//! reason in the workspace's record; when that write failed, the user was answered
//! with the write's error ("the workspace runtime failed: cannot save workspace
//! state: File exists") instead of the start's ("repository acme/missing was not
//! found").
//!
//! The git server holds every request until the test lets it answer `404`: by then
//! the launcher's process is recorded and `<data-dir>/state` has been replaced by a
//! file, so only the record of the failure cannot be written.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use dcs_e2e::{client, wait_until, ProxyBuilder};
use dcs_model::{RepoRef, UserId, WorkspaceKey};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// A git server that has no repository and says so (`404`) to every request, but only
/// once `release` turns true. The count is of requests received.
async fn held_git_server(
    release: watch::Receiver<bool>,
) -> anyhow::Result<(String, Arc<AtomicUsize>)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let received = Arc::new(AtomicUsize::new(0));
    let count = received.clone();
    tokio::spawn(async move {
        while let Ok((conn, _)) = listener.accept().await {
            let (release, count) = (release.clone(), count.clone());
            tokio::spawn(answer_when_released(conn, release, count));
        }
    });
    Ok((base, received))
}

async fn answer_when_released(
    mut conn: TcpStream,
    mut release: watch::Receiver<bool>,
    count: Arc<AtomicUsize>,
) {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match conn.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    count.fetch_add(1, Ordering::SeqCst);
    if release.wait_for(|go| *go).await.is_err() {
        return;
    }
    let answer = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    let _ = conn.write_all(answer).await;
    let _ = conn.shutdown().await;
}

/// Whether the record at `path` names a launcher process.
fn records_a_launcher(path: &Path) -> bool {
    std::fs::read(path)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
        .is_some_and(|record| record["process"]["pid"].is_u64())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_start_whose_record_cannot_be_written_names_its_reason() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let (release, held) = watch::channel(false);
    let (git_base, received) = held_git_server(held).await?;
    let data = tmp.path().join("data");
    // The proxy's own question whether the repository exists is off: the launcher's
    // clone finds it missing (as it does a repository deleted after the question).
    let proxy = ProxyBuilder::new(&data, &git_base)
        .arg("--repo-check-timeout")
        .arg("0s")
        .start()?;
    let key = WorkspaceKey::new(UserId::new(&proxy.user)?, RepoRef::parse("acme/missing")?);
    let state = data.join("state");
    let record = state.join(format!("{}.json", key.name()));

    let opened = tokio::spawn(
        client()
            .get(proxy.url("/github/acme/missing/"))
            .timeout(Duration::from_secs(120))
            .send(),
    );
    // The launcher runs and is recorded, and its clone waits on the git server.
    let started = wait_until(Duration::from_secs(60), Duration::from_millis(20), || {
        records_a_launcher(&record) && received.load(Ordering::SeqCst) > 0
    })
    .await;
    anyhow::ensure!(
        started,
        "the launcher never began its clone:\n{}",
        proxy.log()
    );
    // No record can be written from here on: the state folder is a file.
    std::fs::rename(&state, data.join("state.aside"))?;
    std::fs::write(&state, "not a folder")?;
    release.send(true)?;

    let resp = opened.await??;
    let status = resp.status();
    let body = resp.text().await?;
    assert!(
        body.contains("acme/missing") && body.contains("not found"),
        "the start's reason, not the failed write: {status} {body}"
    );
    assert_eq!(status, 404, "{body}");
    let logged = wait_until(Duration::from_secs(30), Duration::from_millis(20), || {
        proxy.log().contains("cannot record the failed start")
    })
    .await;
    assert!(logged, "the failed write is logged:\n{}", proxy.log());
    Ok(())
}
