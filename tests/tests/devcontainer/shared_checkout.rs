//! "Once per checkout" across workspaces: a `/github/acme/hello` workspace and an API
//! instance created with `repo: acme/hello` share the checkout `<volume>/acme/hello`.
//! Opened at once, they run its create steps once between them (the second waits
//! and skips what the first finished), each with its own log; consent given in one
//! holds for the other; and a checkout removed and cloned afresh runs its create
//! steps again (what is kept lives in the checkout's git folder, written from a
//! sandboxed launcher too).

use dcs_e2e::api::{call, wait_running};
use serde_json::json;

use super::*;

/// `postCreateCommand` holds its step open until the test puts `release` in the
/// checkout, so both workspaces are up while it runs.
const HELD: &str = r#"{
  "onCreateCommand": "echo create >> created.txt",
  "postCreateCommand": "echo begin >> marks.txt; while [ ! -f release ]; do sleep 0.05; done; echo end >> marks.txt",
  "postStartCommand": "echo start >> starts.txt"
}
"#;

/// Steps that finish at once.
const QUICK: &str = r#"{
  "onCreateCommand": "echo create >> created.txt",
  "postStartCommand": "echo start >> starts.txt"
}
"#;

/// An API instance of `acme/hello`, running: its id and the cookie its link gives.
async fn instance_of_the_repo(fx: &Fixture) -> anyhow::Result<(String, String)> {
    let http = client();
    let create = http
        .post(fx.proxy.url("/api/instances"))
        .header("content-type", "application/json")
        .body(json!({"repo": "acme/hello"}).to_string());
    let (code, created) = call(create).await?;
    anyhow::ensure!(code == 201, "create: {code} {created}\n{}", recent_log(fx));
    let field = |name: &str| created[name].as_str().unwrap_or_default().to_owned();
    let (id, token) = (field("instance_id"), field("access_token"));
    let status = fx.proxy.url(&format!("/api/status?instance_id={id}"));
    wait_running(|| http.get(&status), PATIENCE).await?;
    let link = fx.proxy.url(&format!("/instances/{id}/?tkn={token}"));
    let resp = http.get(link).send().await?;
    anyhow::ensure!(resp.status() == 303, "the link: {}", resp.status());
    let cookie = resp
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .unwrap_or_default()
        .to_owned();
    Ok((id, cookie))
}

/// `GET /instances/<id>/<rel>` with the instance's cookie: 200 and its text.
async fn instance_get(fx: &Fixture, id: &str, cookie: &str, rel: &str) -> anyhow::Result<String> {
    let url = fx.proxy.url(&format!("/instances/{id}/{rel}"));
    let resp = client().get(url).header("cookie", cookie).send().await?;
    let code = resp.status();
    let text = resp.text().await?;
    anyhow::ensure!(code == 200, "{rel}: {code} {text}\n{}", recent_log(fx));
    Ok(text)
}

/// Polls the instance's `_dcs/devcontainer` until every step is done.
async fn instance_all_done(fx: &Fixture, id: &str, cookie: &str) -> anyhow::Result<Value> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let text = instance_get(fx, id, cookie, "_dcs/devcontainer").await?;
        let s: Value = serde_json::from_str(&text)?;
        if all_done(&s) {
            return Ok(s);
        }
        let failed = s["steps"]
            .as_array()
            .is_some_and(|steps| steps.iter().any(|st| st["state"] == "failed"));
        anyhow::ensure!(
            !failed && Instant::now() < deadline,
            "the instance's steps never all done: {s}\n{}",
            recent_log(fx)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_repo_workspace_and_an_instance_of_it_opened_at_once_run_the_create_steps_once(
) -> anyhow::Result<()> {
    let fx = scene(Some("run"), &[(FILE, HELD)])?;
    let (opened, instance) = tokio::join!(open(&fx), instance_of_the_repo(&fx));
    opened?;
    let (id, cookie) = instance?;
    // Both launchers are up (each read the checkout's state before its IDE started)
    // and one of them is inside postCreateCommand: let it finish.
    wait_file(&fx, "marks.txt", |m| m.starts_with("begin\n")).await?;
    std::fs::write(fx.checkout().join("release"), "")?;

    let (repo_status, instance_status) =
        tokio::join!(wait_all_done(&fx), instance_all_done(&fx, &id, &cookie));
    repo_status?;
    instance_status?;
    assert_eq!(read(&fx, "created.txt").as_deref(), Some("create\n"));
    assert_eq!(
        read(&fx, "marks.txt").as_deref(),
        Some("begin\nend\n"),
        "postCreateCommand ran once\n{}",
        recent_log(&fx)
    );
    let starts = wait_file(&fx, "starts.txt", |s| s.lines().count() == 2).await?;
    assert_eq!(
        starts, "start\nstart\n",
        "postStartCommand in each workspace"
    );

    // Each launcher its own log, whole: the create steps in one only.
    let (_, repo_log) = log(&fx).await?;
    let instance_log = instance_get(&fx, &id, &cookie, "_dcs/devcontainer/log").await?;
    let ran = |log: &str| log.contains("== postCreateCommand: ");
    assert!(
        ran(&repo_log) != ran(&instance_log),
        "the repo's log:\n{repo_log}\nthe instance's:\n{instance_log}"
    );
    for log in [&repo_log, &instance_log] {
        assert!(log.contains("== postStartCommand: "), "{log}");
    }
    Ok(())
}

#[tokio::test]
async fn a_checkout_removed_and_cloned_afresh_runs_its_create_steps_again() -> anyhow::Result<()> {
    // Sandboxed: the launcher keeps its record in the checkout's git folder there too.
    let fx = scene_with(&["--sandbox", "--devcontainer", "run"], &[(FILE, QUICK)])?;
    open(&fx).await?;
    wait_all_done(&fx).await?;
    assert_eq!(read(&fx, "created.txt").as_deref(), Some("create\n"));
    let kept = fx.checkout().join(".git/dcs/devcontainer/state.json");
    assert!(kept.is_file(), "kept in the git folder: {}", kept.display());

    stop(&fx).await?;
    std::fs::remove_dir_all(fx.checkout())?;
    open(&fx).await?;
    wait_all_done(&fx).await?;
    assert_eq!(
        read(&fx, "created.txt").as_deref(),
        Some("create\n"),
        "the fresh clone's onCreateCommand ran\n{}",
        recent_log(&fx)
    );
    assert_eq!(read(&fx, "starts.txt").as_deref(), Some("start\n"));
    Ok(())
}

#[tokio::test]
async fn consent_given_in_one_workspace_holds_for_another_on_the_checkout() -> anyhow::Result<()> {
    let fx = scene(None, &[(FILE, QUICK)])?;
    open(&fx).await?;
    let (code, body) = allow(&fx).await?;
    assert_eq!(code, 202, "{body}\n{}", recent_log(&fx));
    wait_all_done(&fx).await?;

    // An instance of the same repository: not asked, the create step not run again,
    // its own postStartCommand run.
    let (id, cookie) = instance_of_the_repo(&fx).await?;
    let s = instance_all_done(&fx, &id, &cookie).await?;
    assert_eq!(s["mode"], "ask", "{s}");
    assert_eq!(s["allowed"], true, "{s}");
    let starts = wait_file(&fx, "starts.txt", |s| s.lines().count() == 2).await?;
    assert_eq!(starts, "start\nstart\n");
    assert_eq!(read(&fx, "created.txt").as_deref(), Some("create\n"));
    let notices = instance_get(&fx, &id, &cookie, "_dcs/notices").await?;
    assert!(!notices.contains("Allow and run"), "asked again: {notices}");
    Ok(())
}
