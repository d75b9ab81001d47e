//! Lifecycle commands and the idle clock, through the real proxy with a short idle
//! timeout and a long busy limit: a `postStartCommand` that runs on without a word
//! (a dev server once up; here `sleep`) does not hold the workspace, which stops at
//! the idle timeout with the command still running; one that prints holds it while
//! it prints, named in `/_dcs/idle`'s `active_work`, and the workspace stops once it
//! ended. The clock is only ever read as an open tab's background poll (which never
//! counts as use).

use super::*;

/// The idle timeout: short, yet several times the step's output interval.
const IDLE: &str = "10s";

/// Far beyond any wait here: a workspace stopped did not run into it.
const BUSY_MAX: &str = "900s";

/// A `postStartCommand` that only waits: writes its pid, then sleeps ten minutes.
const SILENT: &str = r#"{ "postStartCommand": "echo $$ > silent.pid; exec sleep 600" }"#;

/// A `postStartCommand` printing every second for about 30 s (three idle
/// timeouts), then leaving a mark.
const PRINTING: &str = r#"{
  "postStartCommand": "for i in $(seq 1 30); do echo tick $i; sleep 1; done; touch printed.done"
}"#;

fn short_idle(files: &[(&str, &str)]) -> anyhow::Result<Fixture> {
    let flags = ["--devcontainer", "run", "--idle-timeout", IDLE];
    scene_with(&[&flags[..], &["--busy-max", BUSY_MAX]].concat(), files)
}

/// The launcher's idle report, asked as background traffic; `None` once the
/// workspace no longer answers it (stopped).
async fn idle(fx: &Fixture) -> anyhow::Result<Option<Value>> {
    let (code, report) = dcs_e2e::api::idle_report(&url(fx, "_dcs/idle")).await?;
    Ok((code == 200).then_some(report))
}

/// The report's lifecycle command entries.
fn commands(report: &Value) -> Vec<Value> {
    report["active_work"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|w| w["what"] == "devcontainer")
        .cloned()
        .collect()
}

#[tokio::test]
async fn a_silent_post_start_command_does_not_hold_the_workspace() -> anyhow::Result<()> {
    let fx = short_idle(&[(FILE, SILENT)])?;
    open(&fx).await?;
    let pid = wait_file(&fx, "silent.pid", |c| c.trim().parse::<u32>().is_ok()).await?;
    let pid: u32 = pid.trim().parse()?;
    let s = wait_status(&fx, "postStartCommand running", |s| {
        state(s, "postStartCommand") == "running"
    })
    .await?;
    let launcher = fx.proxy.launcher_pids();
    anyhow::ensure!(launcher.len() == 1, "one launcher: {launcher:?}\n{s}");
    anyhow::ensure!(dcs_e2e::is_alive(pid), "the command ended: {s}");
    // Nobody touches it from here: it stops at the idle timeout (the busy limit
    // is 90 times that), the command still running until then.
    let stopped = fx.wait_for_no_launcher(PATIENCE).await;
    let report = idle(&fx).await?;
    assert!(
        stopped,
        "a sleeping postStartCommand held the workspace: {report:?}\n{}",
        recent_log(&fx)
    );
    // A ten-minute sleep: the stop ended it (the workspace's kill domain).
    let gone = dcs_e2e::wait_until(PATIENCE, Duration::from_millis(100), || {
        !dcs_e2e::is_alive(pid)
    })
    .await;
    assert!(gone, "the command outlived its workspace");
    Ok(())
}

#[tokio::test]
async fn a_printing_post_start_command_holds_the_workspace_and_is_named() -> anyhow::Result<()> {
    let fx = short_idle(&[(FILE, PRINTING)])?;
    open(&fx).await?;
    let deadline = Instant::now() + PATIENCE;
    let report = loop {
        let report = idle(&fx)
            .await?
            .context("stopped, the step never shown as work")?;
        if !commands(&report).is_empty() {
            break report;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the step never showed as work: {report}\n{}",
            recent_log(&fx)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let named = commands(&report);
    let detail = named[0]["detail"].as_str().unwrap_or_default();
    assert!(
        detail.starts_with("postStartCommand: for i in $(seq 1 30)"),
        "{report}"
    );
    assert!(report["stop_at"].is_null(), "work holds it: {report}");
    let reason = report["reason_not_stopping"].as_str().unwrap_or_default();
    assert!(
        reason.contains("devcontainer (postStartCommand"),
        "{report}"
    );
    // Held while it prints (three idle timeouts), however long the machine takes.
    let launcher = fx.proxy.launcher_pids();
    let deadline = Instant::now() + Duration::from_secs(240);
    while read(&fx, "printed.done").is_none() {
        assert_eq!(
            fx.proxy.launcher_pids(),
            launcher,
            "stopped while the step printed: {}",
            recent_log(&fx)
        );
        assert!(Instant::now() < deadline, "the step never ended");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Then, nobody using it, it stops.
    assert!(
        fx.wait_for_no_launcher(PATIENCE).await,
        "not stopped after the step: {}",
        recent_log(&fx)
    );
    Ok(())
}
