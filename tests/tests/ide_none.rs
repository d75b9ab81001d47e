//! The `none` IDE through the proxy: its web terminal over a real WebSocket, and the
//! file manager with its terminal panel in headless Chromium.

use std::time::Duration;

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
    let shots = ide_support::run_shots("none")?;
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
    ide_support::publish(&shots)
}
