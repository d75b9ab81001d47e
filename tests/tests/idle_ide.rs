//! The idle clock as a person meets it, with real IDEs in headless Chromium through
//! the real proxy (idle timeout shortened): typing keeps the workspace, the warning
//! shows inside the IDE and Keep working defers the stop, an untouched tab lets the
//! workspace stop (within the timeout and a reaper period), the tab then shows the
//! Resume overlay and its reconnect attempts and polls do not wake the workspace,
//! and Resume lands back in the IDE (VS Code with its unsaved edit restored). The
//! same for the `none` IDE, whose warning also offers Stop now (its page stops
//! polling with the overlay and nothing in it reconnects: the poll that told it is
//! the one turned away).

use std::time::{Duration, Instant};

use dcs_e2e::browser::{self, Script};
use dcs_e2e::{ide_support, Fixture};
use serde_json::Value;

/// Generous: the machine is shared and a CPU hog may run beside.
const STEP: Duration = Duration::from_secs(300);

/// `GET <workspace>/_dcs/idle` as background traffic: the status and the JSON body.
async fn idle(fx: &Fixture) -> anyhow::Result<(u16, Value)> {
    dcs_e2e::api::idle_report(&fx.proxy.url("/github/acme/hello/_dcs/idle")).await
}

/// The launcher's `stop_at` now (the workspace runs).
async fn stop_at(fx: &Fixture) -> anyhow::Result<u64> {
    let (status, report) = idle(fx).await?;
    anyhow::ensure!(status == 200, "the idle report: {status} {report}");
    report["stop_at"]
        .as_u64()
        .ok_or_else(|| anyhow::anyhow!("no stop_at: {report}"))
}

/// Waits until `stop_at` is later than `before` (Keep working moved it).
async fn stop_at_moves_past(fx: &Fixture, before: u64) -> anyhow::Result<u64> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let now = stop_at(fx).await?;
        if now > before {
            return Ok(now);
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "Keep working did not move stop_at ({before} → {now})"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The only launcher running now.
fn launcher(fx: &Fixture) -> anyhow::Result<u32> {
    let pids = fx.proxy.launcher_pids();
    anyhow::ensure!(pids.len() == 1, "one launcher runs: {pids:?}");
    Ok(pids[0])
}

/// The proxy's count of `5xx` answers: a stopped workspace's `503` among them.
const REFUSED: &str = "dcs_requests_total{code=\"5xx\"}";

/// The stale tab does not wake the workspace: no launcher starts for `period`
/// (sampled throughout, not once), nor before the proxy has turned the tab away at
/// least once meanwhile (VS Code's reconnect attempts get the stopped workspace's
/// `503`), so the tab did knock in that time.
async fn stays_stopped(fx: &Fixture, period: Duration) -> anyhow::Result<()> {
    let refused = || async { anyhow::Ok(dcs_e2e::metric(&fx.proxy.metrics().await?, REFUSED)) };
    let (before, began) = (refused().await?, Instant::now());
    let mut knocked = false;
    loop {
        let woke = !fx.proxy.launcher_pids().is_empty();
        anyhow::ensure!(
            !woke,
            "the stale tab woke the workspace: {}",
            fx.proxy.log()
        );
        knocked = knocked || refused().await? > before;
        if knocked && began.elapsed() >= period {
            return Ok(());
        }
        anyhow::ensure!(
            began.elapsed() < STEP,
            "the stale tab asked the stopped workspace nothing: {}",
            fx.proxy.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// What a stopped workspace answers a page's background poll, and a WebSocket:
/// `503` without waking it.
async fn stopped_answers(fx: &Fixture) -> anyhow::Result<()> {
    let (status, body) = idle(fx).await?;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["stopped"], true, "{body}");
    assert_eq!(body["reason"], "idle", "{body}");
    let stream = tokio::net::TcpStream::connect(fx.proxy.addr).await?;
    let url = format!("ws://{}/github/acme/hello/_dcs/ws-echo", fx.proxy.addr);
    match tokio_tungstenite::client_async(url, stream).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
            assert_eq!(resp.status(), 503, "a reconnect is refused, not served")
        }
        other => panic!(
            "a WebSocket to a stopped workspace: {:?}",
            other.map(|r| r.1)
        ),
    }
    assert!(fx.proxy.launcher_pids().is_empty(), "nothing woke it");
    Ok(())
}

#[tokio::test]
async fn vscode_warns_stops_when_untouched_and_resumes_with_the_unsaved_edit() -> anyhow::Result<()>
{
    let (tools, code_server) = (browser::tools(), ide_support::code_server());
    let shots = ide_support::screenshot_dir("idle_vscode")?;
    // The warning shows 65 s before the stop: time for the page, the test and a slow
    // Chromium to see it, report it and click Keep working (this costs the test
    // about a minute more than a shorter clock).
    let (timeout, warning) = (80u64, 65u64);
    let fx = Fixture::new(|b| {
        b.code_server(&code_server)
            .arg("--idle-timeout")
            .arg(format!("{timeout}s"))
            .arg("--idle-warning")
            .arg(format!("{warning}s"))
    })?;
    // VS Code for the web saves a second after each edit (`files.autoSave`
    // `afterDelay`); with that off, only hot exit can bring an unsaved edit back.
    let user = ide_support::code_server_settings(
        &fx.proxy.volume(),
        "{\n  \"files.autoSave\": \"off\"\n}\n",
    )?;
    let text = "typed but never saved";
    let mut script = Script::start(
        &tools,
        "idle_vscode.mjs",
        serde_json::json!({
            "url": fx.proxy.url("/github/acme/hello/"),
            "screenshots": shots.display().to_string(),
            "file": "README.md",
            "text": text,
            // Longer than the idle timeout.
            "typing_ms": (timeout + 10) * 1000,
        }),
    )?;
    script.expect("loaded", STEP).await?;
    let first = launcher(&fx)?;
    script.expect("edited", STEP).await?;

    // Typing every few seconds for longer than the timeout: it did not stop.
    let typed = script.expect("typed", STEP).await?;
    assert!(typed["text"].to_string().contains(text), "{typed}");
    let settings = std::fs::read_to_string(user.join("settings.json"))?;
    assert!(
        settings.contains("\"files.hotExit\": \"onExitAndWindowClose\"")
            && settings.contains("\"files.autoSave\": \"off\""),
        "the launcher turned hot exit on beside the user's settings: {settings}"
    );
    assert_eq!(launcher(&fx)?, first, "typing kept the workspace");

    // The warning, on top of VS Code; Keep working moves the stop.
    let warned = script.expect("warning", STEP).await?;
    let words = warned["text"].as_str().unwrap_or_default();
    assert!(
        words.contains("This workspace stops in") && words.contains("nobody has used it for"),
        "{warned}"
    );
    assert_eq!(warned["on_top"], true, "{warned}");
    let before = stop_at(&fx).await?;
    script.send("keep").await?;
    script.expect("kept", STEP).await?;
    stop_at_moves_past(&fx, before).await?;
    let (_, report) = idle(&fx).await?;
    assert_eq!(launcher(&fx)?, first, "still the same workspace");

    // Untouched from now on: it stops (no upper bound asserted but the deadline).
    let last_input = report["last_input"]["at"].as_u64().unwrap_or_default();
    assert!(
        fx.wait_for_no_launcher(STEP).await,
        "the untouched tab's workspace never stopped: {}",
        fx.proxy.log()
    );
    let stopped_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    eprintln!(
        "NOTICE: idle-to-stop {} s (timeout {timeout} s)",
        stopped_at.saturating_sub(last_input)
    );

    // The tab shows Resume, above whatever VS Code shows.
    let overlay = script.expect("overlay", STEP).await?;
    let words = overlay["text"].as_str().unwrap_or_default();
    assert!(
        words.contains("Stopped after") && words.contains("without use. Your files are saved."),
        "{overlay}"
    );
    assert!(!words.contains("Cannot reconnect"), "{overlay}");
    assert_eq!(overlay["on_top"], true, "{overlay}");

    // VS Code keeps trying to reconnect (the page's polling ended with the overlay):
    // that wakes nothing.
    stays_stopped(&fx, Duration::from_secs(20)).await?;
    stopped_answers(&fx).await?;

    // Resume: back in VS Code, the unsaved edit restored.
    script.send("resume").await?;
    let resumed = script.expect("resumed", STEP).await?;
    assert!(
        resumed["text"].to_string().contains(text),
        "the unsaved edit came back: {resumed}"
    );
    // From VS Code's backup, not from the disk: it was never saved, and still is not.
    assert!(resumed["dirty"].as_u64() >= Some(1), "{resumed}");
    let on_disk = std::fs::read_to_string(fx.checkout().join("README.md"))?;
    assert!(!on_disk.contains(text), "never saved: {on_disk}");
    assert_ne!(launcher(&fx)?, first, "Resume woke the workspace again");
    script.finish(STEP).await?;
    Ok(())
}

#[tokio::test]
async fn the_none_ide_warns_stops_resumes_and_stops_now() -> anyhow::Result<()> {
    let tools = browser::tools();
    let shots = ide_support::screenshot_dir("idle_none")?;
    // The warning shows 65 s before the stop (see above; about a minute more).
    let fx = Fixture::new(|b| {
        b.arg("--idle-timeout")
            .arg("75s")
            .arg("--idle-warning")
            .arg("65s")
    })?;
    let mut script = Script::start(
        &tools,
        "idle_none.mjs",
        serde_json::json!({
            "url": fx.proxy.url("/github/acme/hello/"),
            "screenshots": shots.display().to_string(),
        }),
    )?;
    script.expect("loaded", STEP).await?;
    let first = launcher(&fx)?;

    let warned = script.expect("warning", STEP).await?;
    let words = warned["text"].as_str().unwrap_or_default();
    assert!(
        words.contains("This workspace stops in") && words.contains("nobody has used it for"),
        "{warned}"
    );
    let before = stop_at(&fx).await?;
    script.send("keep").await?;
    script.expect("kept", STEP).await?;
    stop_at_moves_past(&fx, before).await?;
    assert_eq!(launcher(&fx)?, first);

    assert!(
        fx.wait_for_no_launcher(STEP).await,
        "the untouched tab's workspace never stopped: {}",
        fx.proxy.log()
    );
    let overlay = script.expect("overlay", STEP).await?;
    let words = overlay["text"].as_str().unwrap_or_default();
    assert!(
        words.contains("Stopped after") && words.contains("Your files are saved."),
        "{overlay}"
    );
    assert_eq!(overlay["on_top"], true, "{overlay}");
    // The page learnt it from its poll, turned away (`503`), and asks no more: its
    // polling ends with the overlay, and this IDE has no client that reconnects (a
    // window here would see nothing come). What such a tab could send is tried.
    let metrics = fx.proxy.metrics().await?;
    let turned_away = dcs_e2e::metric(&metrics, REFUSED);
    assert!(
        turned_away >= 1,
        "the page's poll was answered 503: {metrics}"
    );
    stopped_answers(&fx).await?;

    script.send("resume").await?;
    script.expect("resumed", STEP).await?;
    assert_ne!(launcher(&fx)?, first, "Resume woke the workspace again");

    // Stop now, from the next warning: stopped at once, and the tab says so.
    script.send("stop").await?;
    script.expect("stopping", STEP).await?;
    let now = script.expect("stopped-now", STEP).await?;
    assert!(
        now["text"]
            .as_str()
            .unwrap_or_default()
            .contains("Your files are saved."),
        "{now}"
    );
    assert!(
        fx.wait_for_no_launcher(STEP).await,
        "Stop now did not stop it: {}",
        fx.proxy.log()
    );
    script.finish(STEP).await?;
    Ok(())
}
