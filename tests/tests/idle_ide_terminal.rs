//! VS Code's integrated terminal as work the user watches, with code-server in
//! headless Chromium through the real proxy (idle timeout shortened): a CPU-bound
//! job started in the IDE's own terminal (not the launcher's `/_dcs/terminal`)
//! holds the workspace past the idle timeout while the page is never touched again,
//! and the launcher's idle report names it; once Ctrl+C ends it, the untouched
//! workspace stops, and the job's shell with it.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use dcs_e2e::browser::{self, Script};
use dcs_e2e::{ide_support, procs, Fixture};
use serde_json::Value;

/// Generous: the machine is shared and a CPU hog may run beside.
const STEP: Duration = Duration::from_secs(300);

/// The launcher's idle report, asked as background traffic (which never counts).
async fn idle(fx: &Fixture) -> anyhow::Result<Value> {
    let url = fx.proxy.url("/github/acme/hello/_dcs/idle");
    let (status, report) = dcs_e2e::api::idle_report(&url).await?;
    anyhow::ensure!(
        status == 200,
        "the idle report: {status} {report} (the workspace stopped under a running job?)"
    );
    Ok(report)
}

/// The report's terminal work naming `comm`, if any.
fn terminal_work(report: &Value, comm: &str) -> Option<String> {
    report["active_work"].as_array()?.iter().find_map(|w| {
        let detail = w["detail"].as_str().unwrap_or_default();
        (w["what"] == "terminal" && detail.contains(comm)).then(|| detail.to_owned())
    })
}

fn now_s() -> anyhow::Result<u64> {
    Ok(SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs())
}

/// The only launcher running now.
fn launcher(fx: &Fixture) -> anyhow::Result<u32> {
    let pids = fx.proxy.launcher_pids();
    anyhow::ensure!(pids.len() == 1, "one launcher runs: {pids:?}");
    Ok(pids[0])
}

#[tokio::test]
async fn a_job_in_the_ide_terminal_holds_the_workspace_until_it_ends() -> anyhow::Result<()> {
    let (tools, code_server) = (browser::tools(), ide_support::code_server());
    let shots = ide_support::run_shots("idle_terminal")?;
    let timeout = 40u64;
    let fx = Fixture::new(|b| {
        b.code_server(&code_server)
            .arg("--idle-timeout")
            .arg(format!("{timeout}s"))
            // No warning before the stop: an overlay shown while a slow machine
            // opens the terminal would take the keys typed for the shell.
            .arg("--idle-warning")
            .arg("0s")
    })?;
    // The terminal drawn in the page's DOM (not WebGL), so the script can read it.
    ide_support::code_server_settings(
        &fx.proxy.volume(),
        "{\n  \"terminal.integrated.gpuAcceleration\": \"off\"\n}\n",
    )?;
    // A job burning CPU (one core, for about a minute), found again by its
    // environment once the workspace stopped. At its own priority: niced, it got too
    // few ticks between two samples beside `make test-stress`'s CPU hogs.
    let marker = format!("DCS_TEST_BUSY=idle-terminal-{}", std::process::id());
    // In the volume, two folders above the checkout the terminal opens in: the line
    // typed is short.
    std::fs::write(
        fx.proxy.volume().join("busy.sh"),
        format!("export {marker}\nexec sh -c 'while :; do :; done'\n"),
    )?;
    let command = "sh ../../busy.sh";
    let mut script = Script::start(
        &tools,
        "idle_terminal.mjs",
        serde_json::json!({
            "url": fx.proxy.url("/github/acme/hello/"),
            "screenshots": shots.display().to_string(),
            "command": command,
        }),
    )?;
    script.expect("loaded", STEP).await?;
    let first = launcher(&fx)?;
    let started = script.expect("started", STEP).await?;
    assert!(
        procs::wait_until(STEP, Duration::from_millis(200), || {
            !procs::processes_with_env(&marker).is_empty()
        })
        .await,
        "the command typed into the IDE's terminal never ran: {started}"
    );

    // The launcher sees the job in the IDE's terminal as work.
    let deadline = Instant::now() + STEP;
    let (seen, report) = loop {
        let report = idle(&fx).await?;
        if let Some(detail) = terminal_work(&report, "sh") {
            break (detail, report);
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the IDE terminal's job never counted as work: {report}; the page: {started}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    eprintln!("NOTICE: watched work: {seen}");

    // Hands off: a whole timeout after the last input and a reaper period more,
    // the same workspace still runs, and no stop is due.
    let last_input = report["last_input"]["at"]
        .as_u64()
        .unwrap_or_else(|| now_s().unwrap_or(0));
    let until = last_input + timeout + 15;
    while now_s()? < until {
        assert_eq!(
            launcher(&fx)?,
            first,
            "the workspace stopped under a running job: {}",
            fx.proxy.log()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let report = idle(&fx).await?;
    assert_eq!(report["stop_at"], Value::Null, "work holds it: {report}");
    assert!(terminal_work(&report, "sh").is_some(), "{report}");

    // Ctrl+C ends the job; untouched again, the workspace stops, the shell with it.
    script.send("interrupt").await?;
    script.expect("interrupted", STEP).await?;
    assert!(
        procs::wait_until(STEP, Duration::from_millis(200), || {
            procs::processes_with_env(&marker).is_empty()
        })
        .await,
        "Ctrl+C in the IDE's terminal did not end the job"
    );
    assert!(
        fx.wait_for_no_launcher(STEP).await,
        "the workspace never stopped after the job ended: {}",
        fx.proxy.log()
    );
    script.send("finish").await?;
    script.finish(STEP).await?;
    ide_support::publish(&shots)?;
    Ok(())
}
