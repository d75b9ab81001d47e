//! The consent question where the user sees it: VS Code (code-server) in Chromium
//! shows the `devcontainer` notice over the workbench, and its "Allow and run" (the
//! page's own request, through the proxy's origin check) makes the steps run; and
//! code-server itself gets the file's variables only from a start at which the
//! checkout is already allowed (read from its `/proc/<pid>/environ`).

use dcs_e2e::browser::{self, Script};
use dcs_e2e::ide_support;

use super::*;

/// One create step, writing a marker.
const CONFIG: &str = r#"{
  "containerEnv": { "GREETING": "hi from vs code" },
  "postCreateCommand": "echo \"$GREETING\" > created.txt"
}
"#;

#[tokio::test]
async fn vs_code_asks_and_allow_and_run_runs_the_steps() -> anyhow::Result<()> {
    let tools = browser::tools();
    let code_server = ide_support::code_server();
    let fx = Fixture::new(|b| b.code_server(&code_server))?;
    fx.repo.commit(&[(FILE, CONFIG)], "a dev container")?;
    let shots = ide_support::run_shots("devcontainer")?;
    let mut script = Script::start(
        &tools,
        "devcontainer.mjs",
        serde_json::json!({
            "url": fx.proxy.url(ROOT),
            "screenshots": shots.display().to_string(),
        }),
    )?;
    let asked = script.expect("asked", Duration::from_secs(300)).await?;
    let text = asked["text"].as_str().unwrap_or_default();
    assert!(
        text.contains("postCreateCommand") && text.contains("GREETING"),
        "{asked}"
    );
    let buttons = asked["buttons"].to_string();
    assert!(
        buttons.contains("Allow and run") && buttons.contains("Not now"),
        "{asked}"
    );
    assert_eq!(asked["csp_errors"], serde_json::json!([]), "{asked}");
    assert_eq!(read(&fx, "created.txt"), None, "ran before the click");
    script.expect("clicked", Duration::from_secs(60)).await?;
    wait_file(&fx, "created.txt", |c| c == "hi from vs code\n").await?;
    script.expect("answered", PATIENCE).await?;
    script.finish(Duration::from_secs(60)).await?;
    let s = status(&fx).await?;
    assert_eq!(s["allowed"], true, "{s}");
    ide_support::publish(&shots)
}

/// The value of `name` in the environment of the IDE process of the workspace's
/// launcher (`None` when unset; an error when there is no IDE process).
fn ide_var(fx: &Fixture, name: &str) -> anyhow::Result<Option<String>> {
    let launchers = fx.proxy.launcher_pids();
    let launcher = launchers
        .first()
        .with_context(|| format!("no launcher: {launchers:?}"))?;
    let ide = ide_support::ide_pid_of(*launcher).context("no IDE process")?;
    let environ = std::fs::read(format!("/proc/{ide}/environ"))?;
    let prefix = format!("{name}=");
    Ok(environ
        .split(|&b| b == 0)
        .filter_map(|e| std::str::from_utf8(e).ok())
        .find_map(|e| e.strip_prefix(&prefix).map(str::to_owned)))
}

#[tokio::test]
async fn code_server_gets_the_variables_from_the_first_start_after_allowing() -> anyhow::Result<()>
{
    let code_server = ide_support::code_server();
    let fx = Fixture::new(|b| b.code_server(&code_server))?;
    fx.repo.commit(&[(FILE, CONFIG)], "a dev container")?;
    open(&fx).await?;
    assert_eq!(ide_var(&fx, "GREETING")?, None, "set before it was allowed");
    let (code, body) = allow(&fx).await?;
    assert_eq!(code, 202, "{body}");
    wait_all_done(&fx).await?;
    // Allowed while the IDE ran: it learns so, and gets them at its next start.
    let list = notices(&fx).await?;
    assert!(notice(&list, "devcontainer-env").is_some(), "{list:?}");
    assert_eq!(ide_var(&fx, "GREETING")?, None, "the running IDE's changed");
    stop(&fx).await?;
    open(&fx).await?;
    assert_eq!(
        ide_var(&fx, "GREETING")?.as_deref(),
        Some("hi from vs code"),
        "{}",
        recent_log(&fx)
    );
    Ok(())
}
