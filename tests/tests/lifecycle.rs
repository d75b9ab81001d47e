//! A workspace's life: single-flight start, idle stop (even with an open but
//! silent WebSocket), the operator's pre-stop command before it, wake with nothing
//! lost (also when woken during the stop: idle again, it stops again), start
//! timeout; what `--check-config` refuses before anything starts. A proxy's crash
//! and restart: `proxy_restart.rs`.

use std::time::Duration;

use dcs_e2e::{client, run_git, Fixture, ProxyBuilder, README};
use futures_util::SinkExt;
use tokio_tungstenite::tungstenite::Message;

const PATIENCE: Duration = Duration::from_secs(30);

async fn open(fx: &Fixture) -> anyhow::Result<()> {
    let url = fx.proxy.url("/github/acme/hello/");
    fx.expect_ok(client().get(url)).await.map(drop)
}

#[tokio::test]
async fn fifty_concurrent_first_requests_start_exactly_one_launcher() -> anyhow::Result<()> {
    let fx = Fixture::new(|b| b)?;
    let http = client();
    let requests = (0..50).map(|_| {
        let http = http.clone();
        let url = fx.proxy.url("/github/acme/hello/_dcs/files/README.md");
        async move { http.get(url).send().await?.error_for_status()?.text().await }
    });
    let bodies = futures_util::future::join_all(requests).await;
    for body in bodies {
        assert_eq!(body?, README);
    }
    assert_eq!(fx.proxy.launcher_pids().len(), 1);
    let metrics = fx.proxy.metrics().await?;
    assert!(
        metrics.contains("dcs_workspace_starts_total 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("dcs_requests_total{code=\"2xx\"} 50"),
        "{metrics}"
    );
    Ok(())
}

#[tokio::test]
async fn an_idle_workspace_stops_even_with_a_silent_websocket_and_wakes_with_nothing_lost(
) -> anyhow::Result<()> {
    let fx = Fixture::new(|b| b.arg("--idle-timeout").arg("2s"))?;
    let http = client();
    let resp = http
        .put(fx.proxy.url("/github/acme/hello/_dcs/files/kept.txt"))
        .body("still here")
        .send()
        .await?;
    assert_eq!(resp.status(), 201);
    let pid = fx.proxy.launcher_pids()[0];

    // An abandoned tab: the socket stays open, the browser only answers pings.
    let stream = tokio::net::TcpStream::connect(fx.proxy.addr).await?;
    let url = format!("ws://{}/github/acme/hello/_dcs/ws-echo", fx.proxy.addr);
    let (mut ws, _) = tokio_tungstenite::client_async(url, stream).await?;
    // Pings until aborted (or the socket closes): never a gap the idle stop could
    // hide in, however long the stop takes.
    let pinger = tokio::spawn(async move {
        while ws.send(Message::Ping(vec![1].into())).await.is_ok() {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });

    assert!(
        fx.wait_for_no_launcher(PATIENCE).await,
        "the idle launcher was stopped"
    );
    assert!(!dcs_e2e::is_alive(pid));
    pinger.abort();

    let resp = http
        .get(fx.proxy.url("/github/acme/hello/_dcs/files/kept.txt"))
        .send()
        .await?;
    assert_eq!(resp.status(), 200, "the next request wakes it");
    assert_eq!(resp.text().await?, "still here");
    let metrics = fx.proxy.metrics().await?;
    // At least: with a 2 s idle timeout a slow machine may idle-stop once more between
    // two steps of this test (each stop is followed by a start).
    let stops = dcs_e2e::metric(&metrics, "dcs_workspace_idle_stops_total");
    let starts = dcs_e2e::metric(&metrics, "dcs_workspace_starts_total");
    assert!(stops >= 1 && starts >= 2, "{metrics}");
    Ok(())
}

#[tokio::test]
async fn the_operators_pre_stop_command_runs_in_the_checkout_before_an_idle_stop(
) -> anyhow::Result<()> {
    let fx = Fixture::new(|b| {
        b.arg("--idle-timeout")
            .arg("2s")
            .arg("--pre-stop")
            .arg("git status --porcelain > pre-stop.txt; echo saved >> pre-stop.txt")
    })?;
    open(&fx).await?;
    assert!(
        !fx.checkout().join("pre-stop.txt").exists(),
        "not before a stop"
    );
    assert!(
        fx.wait_for_no_launcher(PATIENCE).await,
        "the idle launcher was stopped"
    );
    let written = std::fs::read_to_string(fx.checkout().join("pre-stop.txt"))?;
    assert!(
        written.ends_with("saved\n"),
        "it ran in the checkout: {written:?}\n{}",
        fx.proxy.log()
    );
    Ok(())
}

#[tokio::test]
async fn a_workspace_woken_while_it_was_being_stopped_is_stopped_again_once_idle(
) -> anyhow::Result<()> {
    // The stop takes a while: the pre-stop command says it began, then holds it.
    let fx = Fixture::new(|b| {
        b.arg("--idle-timeout")
            .arg("1s")
            .arg("--pre-stop")
            .arg("touch stopping; sleep 2")
    })?;
    open(&fx).await?;
    let first = fx.proxy.launcher_pids();
    let stopping = fx.checkout().join("stopping");
    let began = dcs_e2e::wait_until(PATIENCE, Duration::from_millis(20), || stopping.exists());
    assert!(began.await, "the idle stop began: {}", fx.proxy.log());
    std::fs::remove_file(&stopping)?;
    // Someone comes back while it stops: the request waits for the stop and starts
    // the workspace again.
    open(&fx).await?;
    let woken = fx.proxy.launcher_pids();
    assert!(
        !woken.is_empty() && woken != first,
        "started again: {first:?} then {woken:?}"
    );
    // Left alone again, it is stopped again (the stop that was under way when the
    // request came must not count as this idle period's).
    assert!(
        fx.wait_for_no_launcher(PATIENCE).await,
        "the woken workspace was never stopped again: {}",
        fx.proxy.log()
    );
    Ok(())
}

#[tokio::test]
async fn stop_now_stops_a_running_workspace_and_keeps_nothing_for_an_invented_one(
) -> anyhow::Result<()> {
    let fx = Fixture::new(|b| b)?;
    let http = client();
    let origin = format!("http://{}", fx.proxy.addr);
    let stop = |repo: &str| {
        http.post(fx.proxy.url(&format!("/github/acme/{repo}/_dcs/stop")))
            .header("origin", &origin)
            .send()
    };
    let background = |repo: &str| {
        http.get(fx.proxy.url(&format!("/github/acme/{repo}/poll")))
            .header("x-dcs-background", "1")
            .send()
    };
    // A name nobody has: nothing to stop (404, saying so), and no note of a stop kept
    // for it (a page's poll of it then reads that it does not exist, "deleted", not
    // "requested").
    for n in 0..3 {
        let resp = stop(&format!("invented-{n}")).await?;
        assert_eq!(resp.status(), 404, "{}", fx.proxy.log());
        let body = resp.text().await?;
        assert!(body.contains("no workspace"), "{body}");
        let resp = background(&format!("invented-{n}")).await?;
        assert_eq!(resp.status(), 503);
        let body: serde_json::Value = serde_json::from_str(&resp.text().await?)?;
        assert_eq!(body["reason"], "deleted", "{body}");
    }
    // A running workspace: stopped at once, and its page's poll says it was asked to.
    open(&fx).await?;
    let resp = stop("hello").await?;
    assert_eq!(resp.status(), 503, "{}", fx.proxy.log());
    let body: serde_json::Value = serde_json::from_str(&resp.text().await?)?;
    assert_eq!(body["reason"], "requested", "{body}");
    let body: serde_json::Value = serde_json::from_str(&background("hello").await?.text().await?)?;
    assert_eq!(body["reason"], "requested", "{body}");
    Ok(())
}

#[tokio::test]
async fn requests_for_repositories_that_do_not_exist_leave_no_record_in_the_proxy(
) -> anyhow::Result<()> {
    let fx = Fixture::new(|b| b)?;
    let http = client();
    let tracked = || async {
        anyhow::Ok(dcs_e2e::metric(
            &fx.proxy.metrics().await?,
            "dcs_workspaces_tracked",
        ))
    };
    // Mistyped or invented names: each a 404, and nothing kept for it.
    for n in 0..10 {
        let resp = http
            .get(fx.proxy.url(&format!("/github/acme/invented-{n}/")))
            .send()
            .await?;
        assert_eq!(resp.status(), 404, "{}", fx.proxy.log());
    }
    assert_eq!(tracked().await?, 0, "{}", fx.proxy.log());
    // A workspace that exists and was used: one record.
    open(&fx).await?;
    assert_eq!(tracked().await?, 1);
    Ok(())
}

#[tokio::test]
async fn uncommitted_edits_survive_a_wake_with_a_new_upstream_commit() -> anyhow::Result<()> {
    let fx = Fixture::new(|b| b.arg("--idle-timeout").arg("1s"))?;
    open(&fx).await?;
    let checkout = fx.checkout();
    std::fs::write(checkout.join("README.md"), "my uncommitted edit\n")?;
    std::fs::write(checkout.join("scratch.txt"), "untracked\n")?;
    run_git(&checkout, &["add", "scratch.txt"])?;
    let head_before = run_git(&checkout, &["rev-parse", "HEAD"])?;
    assert!(fx.wait_for_no_launcher(PATIENCE).await);

    let new_sha = fx
        .repo
        .commit(&[("NEW.md", "upstream moved on\n")], "upstream change")?;
    open(&fx).await?;

    assert_eq!(
        std::fs::read_to_string(checkout.join("README.md"))?,
        "my uncommitted edit\n"
    );
    assert_eq!(
        std::fs::read_to_string(checkout.join("scratch.txt"))?,
        "untracked\n"
    );
    assert!(
        !checkout.join("NEW.md").exists(),
        "the working tree is not touched"
    );
    assert_eq!(
        run_git(&checkout, &["rev-parse", "HEAD"])?,
        head_before,
        "HEAD is not moved"
    );
    assert_eq!(
        run_git(&checkout, &["rev-parse", "origin/main"])?,
        new_sha,
        "but the fetch happened"
    );
    assert_eq!(
        run_git(&checkout, &["diff", "--name-only"])?,
        "README.md",
        "edit still unstaged"
    );
    assert_eq!(
        run_git(&checkout, &["diff", "--cached", "--name-only"])?,
        "scratch.txt",
        "index untouched"
    );
    Ok(())
}

#[tokio::test]
async fn a_workspace_that_does_not_start_in_time_gets_a_504_page() -> anyhow::Result<()> {
    // A "git server" that accepts connections and never answers.
    let blackhole = std::net::TcpListener::bind("127.0.0.1:0")?;
    let base = format!("http://{}", blackhole.local_addr()?);
    let tmp = tempfile::tempdir()?;
    let proxy = ProxyBuilder::new(tmp.path(), &base)
        .arg("--start-timeout")
        .arg("2s")
        .start()?;
    let resp = client()
        .get(proxy.url("/github/acme/hello/"))
        .header("accept", "text/html")
        .send()
        .await?;
    assert_eq!(resp.status(), 504);
    let page = resp.text().await?;
    assert!(page.contains("did not become ready within 2s"), "{page}");
    drop(blackhole);
    Ok(())
}

#[tokio::test]
async fn auth_none_is_refused_on_a_non_loopback_address() -> anyhow::Result<()> {
    let out = std::process::Command::new(dcs_e2e::bin_path("dcs-proxy")?)
        .args(["serve", "--listen", "0.0.0.0:0", "--check-config"])
        .output()?;
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("loopback"));
    let out = std::process::Command::new(dcs_e2e::bin_path("dcs-proxy")?)
        .args(["serve", "--check-config", "--data-dir"])
        .arg(tempfile::tempdir()?.path())
        .arg("--launcher-bin")
        .arg(dcs_e2e::bin_path("dcs-launcher")?)
        .output()?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("configuration OK"));
    Ok(())
}

/// The site's devcontainer mode comes from its flag's variable too, and a value no
/// launcher would take is refused before anything starts, with the choices.
#[test]
fn check_config_refuses_an_unknown_devcontainer_mode_and_lists_the_modes() -> anyhow::Result<()> {
    let data = tempfile::tempdir()?;
    let check = |mode: &str| -> anyhow::Result<std::process::Output> {
        Ok(std::process::Command::new(dcs_e2e::bin_path("dcs-proxy")?)
            .args(["serve", "--check-config", "--data-dir"])
            .arg(data.path())
            .arg("--launcher-bin")
            .arg(dcs_e2e::bin_path("dcs-launcher")?)
            .env("DCS_PROXY_DEVCONTAINER", mode)
            .output()?)
    };
    let refused = check("always")?;
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--devcontainer \"always\" is not known; choose one of: ask, run, off"),
        "{stderr}"
    );
    for mode in ["ask", "run", "off"] {
        let ok = check(mode)?;
        let stderr = String::from_utf8_lossy(&ok.stderr);
        assert!(ok.status.success(), "{mode}: {stderr}");
        assert!(String::from_utf8_lossy(&ok.stdout).contains("configuration OK"));
    }
    Ok(())
}
