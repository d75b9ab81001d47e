//! A proxy that crashes or is killed and started again on the same data dir: the
//! workspaces it ran are adopted, not duplicated; one it was still starting goes on
//! with its clone and is waited for by the new proxy, with or without a request.

use std::time::Duration;

use dcs_e2e::git_server::Mode;
use dcs_e2e::{client, wait_until, Fixture, ProxyBuilder};

const PATIENCE: Duration = Duration::from_secs(30);

/// Starts a new proxy on the fixture's data dir (the one before was killed), with
/// the fixture's flags.
fn restart(fx: &mut Fixture) -> anyhow::Result<()> {
    fx.proxy = ProxyBuilder::new(&fx.proxy.data_dir.clone(), &fx.git.base_url())
        .arg("--stop-grace")
        .arg("2s")
        .start()?;
    Ok(())
}

#[tokio::test]
async fn a_proxy_killed_with_sigkill_and_restarted_adopts_its_workspace() -> anyhow::Result<()> {
    let mut fx = Fixture::new(|b| b)?;
    let http = client();
    let resp = http
        .put(
            fx.proxy
                .url("/github/acme/hello/_dcs/files/before-crash.txt"),
        )
        .body("safe")
        .send()
        .await?;
    assert_eq!(resp.status(), 201);
    let launcher = fx.proxy.launcher_pids();
    assert_eq!(launcher.len(), 1);

    fx.proxy.sigkill();
    assert!(
        dcs_e2e::is_alive(launcher[0]),
        "the workspace outlives the proxy"
    );

    restart(&mut fx)?;
    let resp = http
        .get(
            fx.proxy
                .url("/github/acme/hello/_dcs/files/before-crash.txt"),
        )
        .send()
        .await?;
    assert_eq!(resp.status(), 200, "{}", fx.proxy.log());
    assert_eq!(resp.text().await?, "safe");
    assert_eq!(
        fx.proxy.launcher_pids(),
        launcher,
        "adopted, not duplicated: {}",
        fx.proxy.log()
    );
    let metrics = fx.proxy.metrics().await?;
    assert!(
        metrics.contains("dcs_workspace_starts_total 1\n"),
        "{metrics}"
    );

    assert!(fx.proxy.terminate(), "a graceful stop exits 0");
    assert!(
        fx.wait_for_no_launcher(PATIENCE).await,
        "and leaves no orphan"
    );
    Ok(())
}

/// A fixture whose proxy was SIGKILLed while its first open cloned (slowly) and was
/// started again on the same data dir; with the launcher the first proxy started.
async fn killed_during_a_clone() -> anyhow::Result<(Fixture, u32)> {
    let mut fx = Fixture::new(|b| b)?;
    // Answers go out 64 bytes every 100 ms: the first open's clone takes seconds.
    fx.git.set_mode(Mode::Trickle {
        chunk: 64,
        every: Duration::from_millis(100),
    });
    let first_open = tokio::spawn(
        client()
            .get(fx.proxy.url("/github/acme/hello/_dcs/files/README.md"))
            .send(),
    );
    let cloning = wait_until(PATIENCE, Duration::from_millis(20), || {
        fx.git.requests().iter().any(|r| r.is_clone()) && fx.proxy.launcher_pids().len() == 1
    })
    .await;
    assert!(cloning, "the clone never began: {}", fx.proxy.log());
    let launcher = fx.proxy.launcher_pids()[0];

    fx.proxy.sigkill();
    assert!(
        first_open.await?.is_err(),
        "the request in flight ends with its proxy"
    );
    assert!(
        dcs_e2e::is_alive(launcher),
        "the starting workspace outlives the proxy"
    );
    restart(&mut fx)?;
    Ok((fx, launcher))
}

/// The workspace's file is served by the first proxy's launcher, whose clone ran
/// once; then a graceful stop leaves no launcher.
async fn served_by_the_first_launcher(mut fx: Fixture, launcher: u32) -> anyhow::Result<()> {
    fx.readme_is_served().await?;
    assert_eq!(
        fx.proxy.launcher_pids(),
        vec![launcher],
        "the launcher of the first proxy serves: {}",
        fx.proxy.log()
    );
    let clones = fx.git.requests().iter().filter(|r| r.is_clone()).count();
    assert_eq!(clones, 1, "the clone ran once, not again");
    assert!(fx.proxy.terminate(), "a graceful stop exits 0");
    assert!(
        fx.wait_for_no_launcher(PATIENCE).await,
        "and leaves no orphan"
    );
    Ok(())
}

#[tokio::test]
async fn a_start_under_way_when_the_proxy_was_killed_ends_ready_with_no_request(
) -> anyhow::Result<()> {
    let (fx, launcher) = killed_during_a_clone().await?;
    // No request comes: the new proxy waits for the start itself and sees it ready.
    let http = client();
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let body = http
            .get(fx.proxy.url("/api/instances"))
            .send()
            .await?
            .bytes()
            .await?;
        let list: serde_json::Value = serde_json::from_slice(&body)?;
        let status = list["instances"][0]["status"].clone();
        if status == "running" {
            break;
        }
        assert!(
            status == "starting" && tokio::time::Instant::now() < deadline,
            "the adopted start did not end ready: {list}\n{}",
            fx.proxy.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    served_by_the_first_launcher(fx, launcher).await
}

#[tokio::test]
async fn a_tab_reloading_while_the_proxy_restarts_mid_clone_gets_the_workspace(
) -> anyhow::Result<()> {
    // The request comes at once, while the adopted launcher still clones: it waits
    // for that start, and no second launcher or clone is begun.
    let (fx, launcher) = killed_during_a_clone().await?;
    served_by_the_first_launcher(fx, launcher).await
}

#[tokio::test]
async fn a_launcher_whose_ready_record_was_never_written_is_adopted_and_serves(
) -> anyhow::Result<()> {
    // The record that a launcher is ready is written after the answer; a proxy that
    // dies before that write leaves it as it was during the start (no address).
    let mut fx = Fixture::new(|b| b)?;
    let resp = client()
        .get(fx.proxy.url("/github/acme/hello/_dcs/files/README.md"))
        .send()
        .await?;
    assert_eq!(resp.status(), 200, "{}", fx.proxy.log());
    let launcher = fx.proxy.launcher_pids()[0];
    fx.proxy.sigkill();
    let state = fx.proxy.data_dir.join("state");
    let mut edited = 0;
    for entry in std::fs::read_dir(&state)? {
        let path = entry?.path();
        // Records only (an atomic write's temporary file, a record set aside).
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let mut record: serde_json::Value = serde_json::from_slice(&std::fs::read(&path)?)?;
        // Written by now or not (it comes after the answer): made as if not.
        assert!(record["process"]["pid"].is_u64(), "{record}");
        record["process"]["addr"] = serde_json::Value::Null;
        std::fs::write(&path, serde_json::to_vec(&record)?)?;
        edited += 1;
    }
    assert_eq!(
        edited,
        1,
        "one workspace recorded under {}",
        state.display()
    );
    restart(&mut fx)?;
    served_by_the_first_launcher(fx, launcher).await
}
