//! The operator's choice (`--devcontainer`): `run` applies the file from the first
//! start without asking (the steps in order, arrays and named commands, what is not
//! applied listed), `off` does not read it; a checkout without a file has nothing to
//! allow; and the variables reach the IDE's terminal (`.devcontainer/` first,
//! `remoteEnv` over `containerEnv`, `null` removing, defaults substituted); `run`
//! works the same in a sandboxed workspace (`--sandbox`).

use super::terminal::Terminal;
use super::*;

/// Every kind of command, and properties a workspace does not apply.
const ORDERED: &str = r#"{
  "image": "mcr.microsoft.com/devcontainers/base:bookworm",
  "forwardPorts": [3000],
  "initializeCommand": "touch initialized.txt",
  "onCreateCommand": "echo on >> order.txt",
  "updateContentCommand": ["sh", "-c", "echo update >> order.txt"],
  "postCreateCommand": {
    "one": "echo one > one.txt",
    "two": ["sh", "-c", "echo two > two.txt"]
  },
  "postStartCommand": "test -f one.txt && test -f two.txt && echo start >> order.txt",
  "postAttachCommand": "touch attached.txt"
}
"#;

/// Whether `list` has a notice asking for consent.
fn asks(list: &[Value]) -> bool {
    list.iter()
        .any(|n| labels(n).iter().any(|l| l == "Allow and run"))
}

#[tokio::test]
async fn run_applies_the_root_file_at_once_in_order_without_asking() -> anyhow::Result<()> {
    let fx = scene(Some("run"), &[(".devcontainer.json", ORDERED)])?;
    open(&fx).await?;
    assert!(!asks(&notices(&fx).await?), "asked under run");
    let s = wait_all_done(&fx).await?;
    assert_eq!(s["mode"], "run", "{s}");
    let file = s["file"].as_str().unwrap_or_default();
    assert!(
        file.ends_with(".devcontainer.json") && !file.contains(".devcontainer/"),
        "{s}"
    );
    assert_eq!(
        read(&fx, "order.txt").as_deref(),
        Some("on\nupdate\nstart\n")
    );
    assert_eq!(read(&fx, "one.txt").as_deref(), Some("one\n"));
    assert_eq!(read(&fx, "two.txt").as_deref(), Some("two\n"));
    assert_eq!(read(&fx, "initialized.txt"), None, "initializeCommand ran");
    assert_eq!(read(&fx, "attached.txt"), None, "postAttachCommand ran");
    let not_applied = s["not_applied"].to_string();
    for name in [
        "image",
        "forwardPorts",
        "initializeCommand",
        "postAttachCommand",
    ] {
        assert!(not_applied.contains(name), "{name} not applied: {s}");
    }
    let list = wait_notices(&fx, "listed what is not applied", |l| {
        notice(l, "devcontainer-config").is_some()
    })
    .await?;
    let told = notice(&list, "devcontainer-config").context("checked")?;
    assert_eq!(told["level"], "info", "{told}");
    assert!(told["text"].to_string().contains("image"), "{told}");
    assert!(!asks(&list), "asked under run: {list:?}");
    Ok(())
}

#[tokio::test]
async fn off_reads_nothing_and_no_file_has_nothing_to_allow() -> anyhow::Result<()> {
    let fx = scene(Some("off"), &[(FILE, ORDERED)])?;
    open(&fx).await?;
    let s = status(&fx).await?;
    assert_eq!(s["mode"], "off", "{s}");
    let (code, body) = allow(&fx).await?;
    assert_eq!(code, 404, "{body}");
    let list = notices(&fx).await?;
    let ours: Vec<&Value> = list
        .iter()
        .filter(|n| {
            n["id"]
                .as_str()
                .is_some_and(|i| i.starts_with("devcontainer"))
        })
        .collect();
    assert!(ours.is_empty(), "{ours:?}");
    // A shell of the workspace answered since, and the status says the same.
    let mut term = Terminal::open(fx.proxy.addr, TERMINAL, &[]).await?;
    let out = term.run("echo \"[${GREETING-unset}]\"").await?;
    term.close().await;
    assert_eq!(first_line(&out), "[unset]");
    assert_eq!(status(&fx).await?["mode"], "off");
    for marker in ["order.txt", "one.txt", "two.txt"] {
        assert_eq!(read(&fx, marker), None, "{marker} under off");
    }

    // Asked mode, no file: nothing to allow, nothing asked.
    let plain = scene(None, &[])?;
    open(&plain).await?;
    let s = status(&plain).await?;
    assert_eq!(s["mode"], "ask", "{s}");
    assert!(s["file"].is_null(), "{s}");
    let (code, body) = allow(&plain).await?;
    assert_eq!(code, 404, "{body}");
    let list = notices(&plain).await?;
    assert!(notice(&list, "devcontainer").is_none(), "{list:?}");
    Ok(())
}

/// The variables, in the file that counts.
const ENV: &str = r#"{
  "containerEnv": {
    "GREETING": "hi ${containerWorkspaceFolderBasename}",
    "GONE": "here",
    "FOLDER": "${containerWorkspaceFolder}"
  },
  "remoteEnv": {
    "GONE": null,
    "DEF": "${localEnv:DCS_E2E_SURELY_UNSET:fallback}",
    "GREETING": "${localWorkspaceFolderBasename} says hi"
  }
}
"#;

#[tokio::test]
async fn the_ides_terminal_gets_the_variables_of_the_file_that_counts() -> anyhow::Result<()> {
    let fx = scene(
        Some("run"),
        &[
            (FILE, ENV),
            (
                ".devcontainer.json",
                r#"{ "containerEnv": { "WRONG": "1" } }"#,
            ),
        ],
    )?;
    open(&fx).await?;
    let mut term = Terminal::open(fx.proxy.addr, TERMINAL, &[]).await?;
    let out = term
        .run("echo \"[$GREETING|${GONE-unset}|$FOLDER|$DEF|${WRONG-unset}]\"")
        .await?;
    term.close().await;
    let want = format!(
        "[hello says hi|unset|{}|fallback|unset]",
        fx.checkout().display()
    );
    assert_eq!(first_line(&out), want, "{}", recent_log(&fx));
    let s = status(&fx).await?;
    assert!(s["file"].as_str().is_some_and(|f| f.ends_with(FILE)), "{s}");
    // The names the file changes (`GONE`, which it removes, may be listed too).
    let env = names(&s, "env");
    for name in ["DEF", "FOLDER", "GREETING"] {
        assert!(env.iter().any(|n| n == name), "{name} listed: {s}");
    }
    assert!(!env.iter().any(|n| n == "WRONG"), "{s}");
    Ok(())
}

/// A step and a variable, in a sandboxed workspace.
const SANDBOXED: &str = r#"{
  "containerEnv": { "GREETING": "hi ${containerWorkspaceFolderBasename}" },
  "postCreateCommand": ["sh", "-c", "echo \"$GREETING\" > created.txt"],
  "postStartCommand": "echo start >> started.txt"
}
"#;

#[tokio::test]
async fn run_applies_inside_a_sandboxed_workspace_too() -> anyhow::Result<()> {
    let fx = scene_with(
        &["--sandbox", "--devcontainer", "run"],
        &[(FILE, SANDBOXED)],
    )?;
    open(&fx).await?;
    wait_all_done(&fx).await?;
    assert_eq!(read(&fx, "created.txt").as_deref(), Some("hi hello\n"));
    assert_eq!(read(&fx, "started.txt").as_deref(), Some("start\n"));
    let mut term = Terminal::open(fx.proxy.addr, TERMINAL, &[]).await?;
    let out = term.run("echo \"[$GREETING]\"").await?;
    term.close().await;
    assert_eq!(first_line(&out), "[hi hello]");
    Ok(())
}
