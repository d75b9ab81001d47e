//! The `none` IDE through the proxy: its web terminal over a real WebSocket, and the
//! file manager with its terminal panel in headless Chromium.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use dcs_e2e::browser::{self, Script};
use dcs_e2e::{ide_support, Fixture};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn the_terminal_runs_a_shell_over_a_websocket_through_the_proxy() -> anyhow::Result<()> {
    let fx = Fixture::new(|b| b)?;
    let stream = tokio::net::TcpStream::connect(fx.proxy.addr).await?;
    let url = format!("ws://{}/github/acme/hello/_dcs/terminal", fx.proxy.addr);
    let (mut ws, resp) = tokio_tungstenite::client_async(url, stream).await?;
    assert_eq!(resp.status(), 101, "{}", fx.proxy.log());
    ws.send(Message::text("echo hi\n")).await?;
    // `hi` alone on a line is the output (the echoed input is `echo hi`).
    let mut seen = String::new();
    while !seen.split(['\r', '\n']).any(|line| line == "hi") {
        let next = tokio::time::timeout(Duration::from_secs(60), ws.next()).await;
        match next.map_err(|_| anyhow::anyhow!("no `hi` in {seen:?}"))? {
            Some(Ok(Message::Binary(b))) => seen.push_str(&String::from_utf8_lossy(&b)),
            Some(Ok(_)) => {}
            other => anyhow::bail!("no `hi` in {seen:?}: {other:?}"),
        }
    }
    // The shell's answer, not its prompt (which may show the folder too): the marker
    // is only whole in the output, the echoed input has `$(pwd)` in it.
    ws.send(Message::text("echo \"PWD=[$(pwd)]\"\n")).await?;
    let checkout = format!("PWD=[{}]", fx.checkout().display());
    while !seen.contains(&checkout) {
        let next = tokio::time::timeout(Duration::from_secs(60), ws.next()).await;
        match next.map_err(|_| anyhow::anyhow!("not in the checkout: {seen:?}"))? {
            Some(Ok(Message::Binary(b))) => seen.push_str(&String::from_utf8_lossy(&b)),
            Some(Ok(_)) => {}
            other => anyhow::bail!("not in the checkout: {seen:?}: {other:?}"),
        }
    }
    ws.close(None).await?;
    Ok(())
}

#[tokio::test]
async fn the_file_manager_and_its_terminal_work_in_chromium() -> anyhow::Result<()> {
    let tools = browser::tools();
    let fx = Fixture::new(|b| b)?;
    let shots = run_shots("none")?;
    let mut script = Script::start(
        &tools,
        "none.mjs",
        serde_json::json!({
            "url": fx.proxy.url("/github/acme/hello/"),
            "screenshots": shots.display().to_string(),
        }),
    )?;
    script.expect("listing", Duration::from_secs(90)).await?;
    let terminal = script.expect("terminal", Duration::from_secs(90)).await?;
    assert!(
        terminal["text"].to_string().contains("from-42"),
        "{terminal}"
    );
    script.finish(Duration::from_secs(30)).await?;
    assert!(shots.join("file-manager-terminal.png").is_file());
    publish(&shots)
}

/// A folder of this run's own for the script's screenshots, in the test's: that one
/// outlives runs and is shared by the copies `make test-stress` runs at once, so an
/// old file, or another copy's, could pass for this run's. [`publish`] moves them up
/// once the test passed; a failed run's stay in it.
fn run_shots(test: &str) -> anyhow::Result<PathBuf> {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH)?.as_nanos();
    let run = format!("run-{}-{nanos}", std::process::id());
    let dir = ide_support::screenshot_dir(test)?.join(run);
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// Moves a passed run's screenshots up to its test's folder.
fn publish(run: &Path) -> anyhow::Result<()> {
    let up = run.parent().context("the test's folder")?;
    for entry in std::fs::read_dir(run)? {
        let entry = entry?;
        std::fs::rename(entry.path(), up.join(entry.file_name()))?;
    }
    Ok(std::fs::remove_dir(run)?)
}
