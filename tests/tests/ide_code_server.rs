//! VS Code in the browser, for real: code-server (from `make ide-deps`) started by
//! the launcher behind the proxy in local mode (`--ide code-server --ide-bin …`),
//! driven by headless Chromium. The workbench loads and lists the README, an edit
//! saved in the IDE is on disk, and after the IDE process is killed the launcher
//! restarts it, the launcher's bar tells the page so, and the page works again
//! (reloaded); killed again and reloaded at once, the page
//! waits for the restarted IDE and works; stopped from elsewhere (another tab's Stop
//! now), the page shows Resume and VS Code's reconnect attempts (one at least, seen
//! by the page) do not wake it. The page's periodic poll is set minutes apart
//! (`--tab-poll`), longer than any wait here: the bar and Resume come from the page
//! asking when VS Code's connection closes. VS Code's WebSockets here are streams of
//! one HTTP/2 connection to the launcher (`--websocket-streams always`), the way the
//! proxy carries them once descriptors get scarce; the other browser tests take the
//! default (a connection each). Without a browser: a page asked for the instant the
//! IDE died gets the workbench of the new run, never the error code-server answers
//! in the second it listens before its routes exist.

use std::path::{Path, PathBuf};
use std::time::Duration;

use dcs_e2e::browser::{self, Script};
use dcs_e2e::{client, ide_support, location, procs};
use dcs_e2e::{Fixture, README};

/// How long the script may take to report one step (its own deadlines for each wait
/// are shorter, so that it reports what the page showed; a reload during a restart
/// waits for the page, the workbench, the Explorer and the save in turn).
const STEP: Duration = Duration::from_secs(420);

#[tokio::test]
async fn code_server_in_chromium_edits_and_survives_an_ide_crash() -> anyhow::Result<()> {
    let (tools, code_server) = (browser::tools(), ide_support::code_server());
    let shots = ide_support::run_shots("code_server")?;
    let fx = Fixture::new(|b| {
        b.code_server(&code_server)
            .arg("--websocket-streams")
            .arg("always")
            // Polls every 10 min at most (a long timeout and no warning, so nothing
            // shortens that): only a closed connection makes the page look sooner.
            .arg("--tab-poll")
            .arg("10m")
            .arg("--idle-timeout")
            .arg("4h")
            .arg("--idle-warning")
            .arg("0s")
    })?;
    let (url, checkout) = (fx.proxy.url("/github/acme/hello/"), fx.checkout());

    let mut script = Script::start(
        &tools,
        "ide.mjs",
        serde_json::json!({
            "url": url,
            "screenshots": shots.display().to_string(),
            "file": "README.md",
            "text": "edited in the browser",
            "text2": "edited after the IDE restarted",
            "text3": "edited after a reload",
        }),
    )?;
    let explorer = script.expect("explorer", STEP).await?;
    assert!(
        explorer["rows"].to_string().contains("README.md"),
        "{explorer}"
    );
    assert!(
        shots.join("workbench.png").is_file(),
        "a screenshot was written"
    );

    // The page's poll period is the proxy's `--tab-poll`, as the idle report says.
    let report = client()
        .get(fx.proxy.url("/github/acme/hello/_dcs/idle"))
        .header("x-dcs-background", "1")
        .send()
        .await?
        .bytes()
        .await?;
    let report: serde_json::Value = serde_json::from_slice(&report)?;
    assert_eq!(report["poll_s"], 600, "{report}");

    script.expect("saved", STEP).await?;
    let readme = checkout.join("README.md");
    holds(&readme, &["edited in the browser"]).await?;

    // VS Code notices the lost server by itself (reconnects, or asks for a reload).
    let launcher = *fx.proxy.launcher_pids().first().expect("a launcher runs");
    let ide = kill_the_ide(&mut script, launcher).await?;
    // The launcher tells the page that the IDE under it restarted (VS Code does not
    // always: see ide.mjs), and the page reloads from there if VS Code did not ask.
    let told = script.expect("restart-told", STEP).await?;
    assert!(
        told["text"]
            .as_str()
            .unwrap_or("")
            .contains("started again"),
        "{told}"
    );
    script.expect("saved-again", STEP).await?;
    holds(
        &readme,
        &["edited in the browser", "edited after the IDE restarted"],
    )
    .await?;
    let restarted = ide_support::ide_pid_of(launcher).expect("a new IDE process");
    assert_ne!(restarted, ide);

    // The page is reloaded at once, while the IDE restarts: it waits and opens.
    kill_the_ide(&mut script, launcher).await?;
    script.expect("saved-after-reload", STEP).await?;
    holds(
        &readme,
        &["edited after the IDE restarted", "edited after a reload"],
    )
    .await?;

    // Another tab's Stop now: this page shows Resume, and VS Code's reconnect
    // attempts are refused without waking the workspace.
    script.expect("ready-for-stop", STEP).await?;
    let stopped = client()
        .post(fx.proxy.url("/github/acme/hello/_dcs/stop"))
        .header("origin", format!("http://{}", fx.proxy.addr))
        .send()
        .await?;
    anyhow::ensure!(stopped.status() == 503, "{}", fx.proxy.log());
    script.send("stopped").await?;
    let shown = script.expect("resume-shown", STEP).await?;
    assert!(
        shown["text"].as_str().unwrap_or("").contains("was stopped"),
        "{shown}"
    );
    let gone = procs::wait_until(STEP, Duration::from_millis(50), || {
        fx.proxy.launcher_pids().is_empty()
    });
    anyhow::ensure!(gone.await, "the launcher stopped: {}", fx.proxy.log());
    // VS Code tried to reconnect since (and was answered): that woke nothing, then
    // or in the seconds after.
    script.send("gone").await?;
    let tried = script.expect("reconnected", STEP).await?;
    anyhow::ensure!(tried["ended"].as_u64() >= Some(1), "{tried}");
    let woke = procs::wait_until(Duration::from_secs(5), Duration::from_millis(50), || {
        !fx.proxy.launcher_pids().is_empty()
    });
    anyhow::ensure!(!woke.await, "nothing woke it: {}", fx.proxy.log());
    script.finish(STEP).await?;
    ide_support::publish(&shots)?;
    // Every WebSocket VS Code opened went as a stream.
    let metrics = fx.proxy.metrics().await?;
    let upgrades = dcs_e2e::metric(&metrics, "dcs_upgrades_total");
    let streams = dcs_e2e::metric(&metrics, "dcs_upgrade_streams_total");
    assert!(
        upgrades > 0 && streams == upgrades,
        "{upgrades} upgrades, {streams} streams"
    );
    Ok(())
}

/// Waits until `file` holds the README and every one of `texts` (nothing lost).
/// The script saw them through the launcher's file API, but VS Code saves again by
/// itself (`files.autoSave`), and a save truncates the file before it writes it: a
/// single read may land in between and find it empty.
async fn holds(file: &Path, texts: &[&str]) -> anyhow::Result<()> {
    let read = || std::fs::read_to_string(file).unwrap_or_default();
    let all = |s: &str| s.starts_with(README) && texts.iter().all(|t| s.contains(t));
    let held = procs::wait_until(STEP, Duration::from_millis(50), || all(&read())).await;
    anyhow::ensure!(held, "nothing lost: {texts:?} in {}", read());
    Ok(())
}

/// Kills the IDE process of `launcher` once the script is ready for it, and tells
/// the script once the launcher has reaped it (requests sent in the instant between
/// the two reach the dead process and fail, as any in flight at a crash do); its pid.
async fn kill_the_ide(script: &mut Script, launcher: u32) -> anyhow::Result<u32> {
    script.expect("ready-for-kill", STEP).await?;
    let ide = kill_and_reap(launcher).await?;
    script.send("killed").await?;
    Ok(ide)
}

/// SIGKILLs the IDE process `launcher` supervises and waits until the launcher has
/// reaped it; its pid.
async fn kill_and_reap(launcher: u32) -> anyhow::Result<u32> {
    let ide = ide_support::ide_pid_of(launcher).expect("the launcher supervises an IDE");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(ide)?),
        nix::sys::signal::Signal::SIGKILL,
    )?;
    let proc_entry = PathBuf::from(format!("/proc/{ide}"));
    let reaped = procs::wait_until(STEP, Duration::from_millis(5), || !proc_entry.exists());
    anyhow::ensure!(
        reaped.await,
        "the launcher never reaped the killed IDE {ide}"
    );
    Ok(ide)
}

#[tokio::test]
async fn a_page_asked_for_while_the_ide_restarts_is_the_new_runs_workbench() -> anyhow::Result<()> {
    let code_server = ide_support::code_server();
    let fx = Fixture::new(|b| b.code_server(&code_server))?;
    let http = client();
    let root = fx.proxy.url("/github/acme/hello/");
    // The launcher sends `/` on to the checkout's folder (the IDE's own URL).
    let landing = http.get(&root).send().await?;
    anyhow::ensure!(landing.status() == 302, "{}", landing.status());
    let to = location(&landing);
    let page = fx.proxy.url(&format!(
        "/github/acme/hello/{}",
        to.trim_start_matches("./")
    ));
    let launcher = *fx.proxy.launcher_pids().first().expect("a launcher runs");
    for kill in 1..=3 {
        kill_and_reap(launcher).await?;
        // As a person who reloads at once: the request waits for the new run (on a
        // machine so busy that the restart takes longer than the launcher holds a
        // request, the answer is its "Restarting" page that reloads itself: ask again).
        let deadline = std::time::Instant::now() + STEP;
        let (status, body) = loop {
            let resp = http
                .get(&page)
                .header("accept", "text/html,application/xhtml+xml")
                .send()
                .await?;
            let (status, body) = (resp.status(), resp.text().await?);
            if status != 503 || !body.contains("Restarting") {
                break (status, body);
            }
            anyhow::ensure!(std::time::Instant::now() < deadline, "kill {kill}: {body}");
        };
        assert!(
            status == 200 && body.contains(WORKBENCH) && !body.contains("Cannot GET"),
            "kill {kill}: {status} {page}\n{body}"
        );
    }
    Ok(())
}

/// What only VS Code's workbench page holds (the configuration it starts from).
const WORKBENCH: &str = "vscode-workbench-web-configuration";
