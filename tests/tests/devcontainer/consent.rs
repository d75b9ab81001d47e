//! `--devcontainer ask` (the default): a repository's `devcontainer.json` applies only
//! once the workspace's user allows it for that checkout. Until then nothing runs and
//! the IDE gets none of its variables; allowed, the create steps run once per checkout
//! and `postStartCommand` at every start, and the consent lasts across stops.

use super::terminal::Terminal;
use super::*;

/// JSONC (comments, trailing commas), a variable, a string and an array command.
const CONFIG: &str = r#"{
  // The greeter.
  "name": "greeter",
  "containerEnv": {
    "GREETING": "hi ${containerWorkspaceFolderBasename}",
  },
  /* Output on both streams, for the log. */
  "postCreateCommand": "echo \"$GREETING\" >> created.txt && echo said-hi && echo to-stderr >&2",
  "postStartCommand": ["sh", "-c", "echo start >> started.txt"],
}
"#;

/// `echo "[$GREETING]"` in a new terminal of the workspace.
async fn greeting_in_terminal(fx: &Fixture) -> anyhow::Result<String> {
    let mut term = Terminal::open(fx.proxy.addr, TERMINAL, &[]).await?;
    let out = term.run("echo \"[$GREETING]\"").await?;
    term.close().await;
    Ok(first_line(&out))
}

#[tokio::test]
async fn nothing_runs_until_allowed_then_create_steps_run_once_and_post_start_every_start(
) -> anyhow::Result<()> {
    let fx = scene(None, &[(FILE, CONFIG)])?;
    open(&fx).await?;

    // Asked: a warning naming what would run and what would be set, with the two
    // buttons.
    let list = notices(&fx).await?;
    let asked = notice(&list, "devcontainer")
        .with_context(|| format!("no consent notice: {list:?}\n{}", recent_log(&fx)))?;
    assert_eq!(asked["level"], "warning", "{asked}");
    let text = asked["text"].as_str().unwrap_or_default();
    for named in ["postCreateCommand", "postStartCommand", "GREETING"] {
        assert!(text.contains(named), "the notice names {named}: {asked}");
    }
    let actions = asked["actions"].as_array().cloned().unwrap_or_default();
    let action = |label: &str| actions.iter().find(|a| a["label"] == label).cloned();
    let allow_button = action("Allow and run").with_context(|| format!("{asked}"))?;
    assert_eq!(allow_button["method"], "POST", "{asked}");
    assert_eq!(allow_button["href"], "_dcs/devcontainer/allow", "{asked}");
    let not_now = action("Not now").with_context(|| format!("{asked}"))?;
    assert_eq!(not_now["method"], "POST", "{asked}");
    assert_eq!(not_now["href"], "_dcs/devcontainer/dismiss", "{asked}");

    let s = status(&fx).await?;
    assert_eq!(s["mode"], "ask", "{s}");
    assert_eq!(s["allowed"], false, "{s}");
    assert!(s["file"].as_str().is_some_and(|f| f.ends_with(FILE)), "{s}");
    assert!(s["error"].is_null(), "{s}");
    assert_eq!(names(&s, "env"), ["GREETING"], "{s}");
    for name in ["postCreateCommand", "postStartCommand"] {
        assert_eq!(state(&s, name), "waiting_for_consent", "{s}");
    }
    // The IDE started unallowed: its terminal has none of the variables. A round
    // trip through a shell of the workspace, and the status read again after it:
    // still nothing ran.
    assert_eq!(greeting_in_terminal(&fx).await?, "[]");
    let s = status(&fx).await?;
    assert_eq!(state(&s, "postCreateCommand"), "waiting_for_consent", "{s}");
    assert_eq!(read(&fx, "created.txt"), None, "ran before it was allowed");
    assert_eq!(read(&fx, "started.txt"), None, "ran before it was allowed");

    // Allowed: 202, and the steps run in the background.
    let (code, body) = allow(&fx).await?;
    assert_eq!(code, 202, "{body}\n{}", recent_log(&fx));
    assert_eq!(body["allowed"], true, "{body}");
    let s = wait_all_done(&fx).await?;
    assert_eq!(s["allowed"], true, "{s}");
    for name in ["postCreateCommand", "postStartCommand"] {
        assert_eq!(step(&s, name)["exit_code"], 0, "{s}");
    }
    assert_eq!(read(&fx, "created.txt").as_deref(), Some("hi hello\n"));
    assert_eq!(read(&fx, "started.txt").as_deref(), Some("start\n"));
    let (_, text) = log(&fx).await?;
    for line in [
        "== postCreateCommand",
        "== postStartCommand",
        "== exit status 0 ==",
        "said-hi",
        "to-stderr",
    ] {
        assert!(text.contains(line), "the log has {line:?}: {text}");
    }
    wait_notices(&fx, "cleared the notice once all was done", |l| {
        notice(l, "devcontainer").is_none()
    })
    .await?;
    // Nothing left to do: 200, and nothing runs again.
    let (code, body) = allow(&fx).await?;
    assert_eq!(code, 200, "{body}");
    assert_eq!(read(&fx, "created.txt").as_deref(), Some("hi hello\n"));

    // The next start: not asked again, the create step not run again, the start step
    // run again, and the IDE (started allowed) has the variable.
    stop(&fx).await?;
    open(&fx).await?;
    wait_file(&fx, "started.txt", |c| c == "start\nstart\n").await?;
    let s = wait_status(&fx, "postStartCommand done again", |s| {
        state(s, "postStartCommand") == "done"
    })
    .await?;
    assert_eq!(s["allowed"], true, "{s}");
    assert_eq!(read(&fx, "created.txt").as_deref(), Some("hi hello\n"));
    let list = notices(&fx).await?;
    let asked_again = list
        .iter()
        .any(|n| labels(n).iter().any(|l| l == "Allow and run"));
    assert!(!asked_again, "asked again after a stop: {list:?}");
    assert_eq!(greeting_in_terminal(&fx).await?, "[hi hello]");
    Ok(())
}

#[tokio::test]
async fn not_now_puts_the_question_away_until_the_next_start_and_runs_nothing() -> anyhow::Result<()>
{
    let fx = scene(None, &[(FILE, CONFIG)])?;
    open(&fx).await?;
    wait_notices(&fx, "asked", |l| notice(l, "devcontainer").is_some()).await?;
    let origin = origin(&fx);
    let (code, body) = post(&fx, "_dcs/devcontainer/dismiss", &[("origin", &origin)]).await?;
    assert!((200..300).contains(&code), "{code} {body}");
    let list = notices(&fx).await?;
    assert!(notice(&list, "devcontainer").is_none(), "{list:?}");
    let s = status(&fx).await?;
    assert_eq!(s["allowed"], false, "{s}");
    assert_eq!(state(&s, "postCreateCommand"), "waiting_for_consent", "{s}");
    assert_eq!(read(&fx, "created.txt"), None);
    // Not now is not never: the next start asks again, and the user may allow then.
    stop(&fx).await?;
    open(&fx).await?;
    let list = wait_notices(&fx, "asked again at the next start", |l| {
        notice(l, "devcontainer").is_some_and(|n| labels(n).iter().any(|l| l == "Allow and run"))
    })
    .await?;
    assert_eq!(read(&fx, "created.txt"), None, "{list:?}");
    let (code, body) = allow(&fx).await?;
    assert_eq!(code, 202, "{body}");
    wait_all_done(&fx).await?;
    assert_eq!(read(&fx, "created.txt").as_deref(), Some("hi hello\n"));
    Ok(())
}
