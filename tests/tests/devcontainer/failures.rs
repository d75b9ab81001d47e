//! When the file or its commands go wrong, the workspace still works and says so: a
//! file that does not parse opens the workspace with a notice naming the line (and
//! nothing to allow); a step that fails stops the steps after it, says so with Run
//! again, and once the user fixed the file in the checkout runs again from that step;
//! a `postStartCommand` that never ends does not keep the workspace from stopping,
//! and ends with it.

use super::*;

/// A missing closing brace; no newline at the end, so the error is on line 3.
const BROKEN: &str = "{\n  \"name\": \"broken\",\n  \"postCreateCommand\": \"touch created.txt\"";

#[tokio::test]
async fn a_file_that_does_not_parse_opens_the_workspace_with_a_notice_naming_the_line(
) -> anyhow::Result<()> {
    let fx = scene(None, &[(FILE, BROKEN)])?;
    open(&fx).await?;
    let list = wait_notices(&fx, "told about the file", |l| {
        notice(l, "devcontainer-config").is_some()
    })
    .await?;
    let told = notice(&list, "devcontainer-config").context("checked")?;
    assert_eq!(told["level"], "warning", "{told}");
    let text = told["text"].as_str().unwrap_or_default();
    assert!(text.contains("line 3"), "names the line: {told}");
    let s = status(&fx).await?;
    assert!(
        s["error"].as_str().is_some_and(|e| !e.is_empty()),
        "the status has the error: {s}"
    );
    let (code, body) = allow(&fx).await?;
    assert_eq!(code, 409, "{body}");
    let s = status(&fx).await?;
    assert_eq!(s["allowed"], false, "{s}");
    assert_eq!(read(&fx, "created.txt"), None);
    Ok(())
}

/// `postCreateCommand` fails with exit status 3 (after `onCreateCommand` ran).
const FAILING: &str = r#"{
  "onCreateCommand": "echo on >> order.txt",
  "postCreateCommand": "echo failing; exit 3",
  "postStartCommand": "echo start >> started.txt"
}
"#;

/// [`FAILING`] as the user fixed it.
const FIXED: &str = r#"{
  "onCreateCommand": "echo on >> order.txt",
  "postCreateCommand": "echo fixed > created.txt",
  "postStartCommand": "echo start >> started.txt"
}
"#;

#[tokio::test]
async fn a_failed_step_stops_the_rest_and_runs_again_from_it_once_fixed() -> anyhow::Result<()> {
    let fx = scene(None, &[(FILE, FAILING)])?;
    open(&fx).await?;
    let (code, body) = allow(&fx).await?;
    assert_eq!(code, 202, "{body}\n{}", recent_log(&fx));
    let s = wait_status(&fx, "postCreateCommand failed", |s| {
        state(s, "postCreateCommand") == "failed"
    })
    .await?;
    assert_eq!(step(&s, "postCreateCommand")["exit_code"], 3, "{s}");
    assert_eq!(state(&s, "onCreateCommand"), "done", "{s}");
    let after = state(&s, "postStartCommand");
    assert!(after != "running" && after != "done", "ran on: {s}");
    assert_eq!(read(&fx, "started.txt"), None, "ran after the failure");
    assert_eq!(read(&fx, "order.txt").as_deref(), Some("on\n"));

    let list = wait_notices(&fx, "told about the failure", |l| {
        notice(l, "devcontainer").is_some_and(|n| n["level"] == "error")
    })
    .await?;
    let failed = notice(&list, "devcontainer").context("checked")?;
    let text = failed["text"].as_str().unwrap_or_default();
    assert!(
        text.contains("postCreateCommand") && text.contains("exit status 3"),
        "{failed}"
    );
    let again = failed["actions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|a| a["label"] == "Run again")
        .cloned()
        .with_context(|| format!("no Run again: {failed}"))?;
    let (_, text) = log(&fx).await?;
    assert!(text.contains("failing"), "{text}");
    assert!(text.contains("== exit status 3 =="), "{text}");

    // The user fixes the file in their checkout and presses Run again.
    std::fs::write(fx.checkout().join(FILE), FIXED)?;
    assert_eq!(again["method"], "POST", "{again}");
    let href = again["href"].as_str().unwrap_or_default();
    let origin = origin(&fx);
    let (code, body) = post(&fx, href, &[("origin", &origin)]).await?;
    assert_eq!(code, 202, "{href}: {body}\n{}", recent_log(&fx));
    // Ran again: a second header for the step in the log, and the step ended.
    let (s, text) = ran_again(&fx).await?;
    assert_eq!(
        state(&s, "postCreateCommand"),
        "done",
        "Run again did not run the fixed file: {s}\nthe log:\n{text}"
    );
    let s = wait_status(&fx, "every step done after Run again", all_done).await?;
    assert_eq!(read(&fx, "created.txt").as_deref(), Some("fixed\n"), "{s}");
    assert_eq!(
        read(&fx, "order.txt").as_deref(),
        Some("on\n"),
        "the steps before the failed one ran once"
    );
    assert_eq!(read(&fx, "started.txt").as_deref(), Some("start\n"));
    wait_notices(&fx, "cleared the failure", |l| {
        notice(l, "devcontainer").is_none()
    })
    .await?;
    Ok(())
}

/// Waits until the log shows `postCreateCommand` started a second time and the
/// status shows it ended: that status and the log.
async fn ran_again(fx: &Fixture) -> anyhow::Result<(Value, String)> {
    let deadline = std::time::Instant::now() + PATIENCE;
    loop {
        let (_, text) = log(fx).await?;
        let s = status(fx).await?;
        let started = text.matches("== postCreateCommand").count();
        let ended = !["running", "pending"].contains(&state(&s, "postCreateCommand"));
        if started >= 2 && ended {
            return Ok((s, text));
        }
        anyhow::ensure!(
            std::time::Instant::now() < deadline,
            "Run again never ran the step: {s}\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Writes its pid, then sleeps for ten minutes.
const HANGING: &str = r#"{ "postStartCommand": "echo $$ > hang.pid; exec sleep 600" }"#;

#[tokio::test]
async fn a_post_start_command_that_hangs_ends_with_the_workspace() -> anyhow::Result<()> {
    let fx = scene(Some("run"), &[(FILE, HANGING)])?;
    open(&fx).await?;
    let pid = wait_file(&fx, "hang.pid", |c| c.trim().parse::<u32>().is_ok()).await?;
    let pid: u32 = pid.trim().parse()?;
    let sleeping = dcs_e2e::wait_until(PATIENCE, Duration::from_millis(50), || {
        dcs_e2e::cmdline(pid).is_some_and(|c| c.iter().any(|a| a == "sleep"))
    })
    .await;
    assert!(
        sleeping,
        "{pid} is not the sleep: {:?}",
        dcs_e2e::cmdline(pid)
    );
    let s = status(&fx).await?;
    assert_eq!(state(&s, "postStartCommand"), "running", "{s}");
    let list = wait_notices(&fx, "said what runs", |l| {
        notice(l, "devcontainer").is_some_and(|n| n["level"] == "info")
    })
    .await?;
    let running = notice(&list, "devcontainer").context("checked")?;
    assert!(
        running["text"]
            .as_str()
            .is_some_and(|t| t.contains("Running postStartCommand")),
        "{running}"
    );

    stop(&fx).await?;
    let gone = dcs_e2e::wait_until(Duration::from_secs(30), Duration::from_millis(50), || {
        !dcs_e2e::is_alive(pid)
    })
    .await;
    assert!(gone, "the hanging command outlived its workspace");
    Ok(())
}
