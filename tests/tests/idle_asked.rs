//! A stop asked for elsewhere, as an open tab meets it (Chromium, the `none` IDE):
//! with several proxy replicas, a stop asked through one (the home page, the API,
//! a tab's Stop now) reaches the workspace's clock at once and every other replica
//! at its next reaper pass (up to 15 s). A tab whose requests go through another
//! replica reads the clock meanwhile: its warning says the stop was asked for (not
//! that nobody used it), and Keep working undoes it. A poll the page sent that is
//! never answered does not end the tab's clock: it is given up and asked again.
//!
//! The tab talks to a real launcher directly (no hop credential installed, as its
//! own unit tests run it): with a proxy in front, that proxy's reaper carries the
//! stop out at its next pass, and whether the tab polls before it is chance. What a
//! replica forwards and when it stops is `knative_replicas.rs`'s.

use std::time::Duration;

use dcs_e2e::browser::{self, Script};
use dcs_e2e::{bin_path, client};
use dcs_model::{InstanceId, UserId, WorkspaceKey};
use dcs_proxy::runtime::knative::fake::launcher::Launcher;
use serde_json::Value;

/// Generous: the machine is shared and a CPU hog may run beside.
const STEP: Duration = Duration::from_secs(180);

/// Waits until the launcher at `base` is ready: a held `/_dcs/ready` is answered at
/// every change of phase (the first one may come before the ready), so ask again.
async fn ready(base: &str) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + STEP;
    loop {
        let answer = client()
            .get(format!("{base}/_dcs/ready?wait=10000"))
            .send()
            .await?;
        if answer.status() == 200 {
            return Ok(());
        }
        let report: Value = serde_json::from_slice(&answer.bytes().await?).unwrap_or_default();
        anyhow::ensure!(report["phase"] != "failed", "the start failed: {report}");
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "never ready: {report}"
        );
    }
}

/// A launcher of its own (the `none` IDE) and a Chromium tab on it running `script`,
/// past its `loaded`: the folder and launcher (kept for the test's life), the
/// launcher's address and the script.
async fn tab(script: &str) -> anyhow::Result<(tempfile::TempDir, Launcher, String, Script)> {
    let tools = browser::tools();
    let dir = tempfile::tempdir()?;
    let key = WorkspaceKey::instance(
        UserId::new("alice")?,
        InstanceId::parse("inst-0123456789abcdef")?,
    );
    let launcher = Launcher::start(&bin_path("dcs-launcher")?, &key, dir.path(), None).await?;
    let base = format!("http://{}", launcher.addr);
    ready(&base).await?;
    let mut script = Script::start(
        &tools,
        script,
        serde_json::json!({ "url": format!("{base}/") }),
    )?;
    script.expect("loaded", STEP).await?;
    Ok((dir, launcher, base, script))
}

async fn idle(base: &str) -> anyhow::Result<Value> {
    let (status, report) = dcs_e2e::api::idle_report(&format!("{base}/_dcs/idle")).await?;
    anyhow::ensure!(status == 200, "{status} {report}");
    Ok(report)
}

#[tokio::test]
async fn a_tab_says_a_stop_was_asked_for_and_keep_working_undoes_it() -> anyhow::Result<()> {
    let (_dir, _launcher, base, mut script) = tab("idle_asked.mjs").await?;
    // As a replica asks it (`activator::ask::stop`).
    let asked = client().post(format!("{base}/_dcs/stop")).send().await?;
    anyhow::ensure!(asked.status() == 200, "asked: {}", asked.status());
    let report = idle(&base).await?;
    assert!(report["stop_requested_at"].is_u64(), "{report}");
    script.send("asked").await?;

    let warned = script.expect("warning", STEP).await?;
    let text = warned["text"].as_str().unwrap_or_default();
    assert!(
        text.contains("being stopped: someone asked for it") && !text.contains("nobody has used"),
        "{warned}"
    );
    script.send("keep").await?;
    script.expect("kept", STEP).await?;
    // The warning goes at the click; its beacons (the click itself, a `pointer`,
    // and the `keep-working`) reach the clock just after.
    let deadline = tokio::time::Instant::now() + STEP;
    let report = loop {
        let report = idle(&base).await?;
        if report["stop_requested_at"].is_null() {
            break report;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "Keep working never undid the ask: {report}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        report["stop_at"].as_u64() > report["now"].as_u64(),
        "no stop due: {report}"
    );
    script.finish(STEP).await?;
    Ok(())
}

#[tokio::test]
async fn a_poll_never_answered_is_given_up_and_the_warning_still_comes() -> anyhow::Result<()> {
    let (_dir, _launcher, base, mut script) = tab("idle_hung_poll.mjs").await?;
    // The page's next poll (a tab period after its load) hangs for good.
    script.expect("held", STEP).await?;
    let asked = client().post(format!("{base}/_dcs/stop")).send().await?;
    anyhow::ensure!(asked.status() == 200, "asked: {}", asked.status());
    script.send("asked").await?;
    // Only a poll after the held one can bring it: the page gave that one up.
    let warned = script.expect("warning", STEP).await?;
    let text = warned["text"].as_str().unwrap_or_default();
    assert!(
        text.contains("being stopped: someone asked for it"),
        "{warned}"
    );
    script.finish(STEP).await?;
    Ok(())
}
