//! The `dcs` CLI against loopback stub APIs, where it must not trust the server or
//! the command line too far: `dcs delete` forgets an instance's stored token (shown
//! once) only when the instance is certainly gone; text from the server never
//! reaches the terminal with its control characters; the API token and `create`'s
//! environment can come from files (or standard input) instead of arguments that
//! other users see in `ps`; `--repo` takes a GitHub link.

use std::sync::{Arc, Mutex};

use anyhow::Context;
use serde_json::Value;

#[path = "common/dcs.rs"]
mod dcs;

use dcs::{reply, serve, Asked, Dcs};

const JSON: (&str, &str) = ("content-type", "application/json");
const API_NOT_FOUND: &str = r#"{"error":"not_found","message":"no instance of yours"}"#;

/// Seeds the token store of `dcs` with `(instance, owner)` tokens for `server`.
fn seed(dcs: &Dcs, server: &str, tokens: &[(&str, Option<&str>)]) -> anyhow::Result<()> {
    let mut entries = serde_json::Map::new();
    for (id, owner) in tokens {
        let mut token = serde_json::json!({"access_token": format!("tok-{id}"),
            "url": format!("/instances/{id}/")});
        if let Some(owner) = owner {
            token["user_id"] = (*owner).into();
        }
        entries.insert((*id).to_owned(), token);
    }
    let store = dcs.token_store();
    std::fs::create_dir_all(store.parent().context("dir")?)?;
    let seeded = serde_json::json!({"servers": {server: entries}});
    std::fs::write(&store, serde_json::to_vec_pretty(&seeded)?)?;
    Ok(())
}

fn stored(dcs: &Dcs, server: &str, id: &str) -> anyhow::Result<bool> {
    let store: Value = serde_json::from_str(&std::fs::read_to_string(dcs.token_store())?)?;
    Ok(store["servers"][server][id].is_object())
}

#[tokio::test]
async fn delete_keeps_the_token_unless_the_instance_is_certainly_gone() -> anyhow::Result<()> {
    // Signed in as bob (no admin). The API's own 404 is `not_found` JSON.
    let server = serve(|asked: Asked| async move {
        match (asked.method.as_str(), asked.path.as_str()) {
            // An ingress's page during a rollout: not the API's answer.
            ("DELETE", "/api/instances/inst-ingress") => reply(
                404,
                &[("content-type", "text/plain")],
                "default backend - 404",
            ),
            ("DELETE", "/api/instances/inst-gone") => reply(204, &[], ""),
            ("DELETE", _) => reply(404, &[JSON], API_NOT_FOUND),
            ("GET", "/api/me") => reply(200, &[JSON], r#"{"user_id":"bob","admin":false}"#),
            _ => reply(500, &[], "unexpected"),
        }
    })
    .await?;
    let dcs = Dcs::new(&server)?;
    seed(
        &dcs,
        &server,
        &[
            ("inst-ingress", Some("bob")),
            ("inst-alices", Some("alice")),
            ("inst-bobs", Some("bob")),
            ("inst-old", None),
            ("inst-gone", Some("bob")),
        ],
    )?;
    let before = std::fs::read(dcs.token_store())?;

    let run = dcs.exits(4, &["delete", "inst-ingress"]).await?;
    assert!(run.stderr.contains("default backend - 404"), "{run:?}");
    assert!(run.stderr.contains("is kept"), "{run:?}");
    assert!(
        std::fs::read(dcs.token_store())? == before,
        "tokens.json unchanged"
    );

    // The API's not_found to someone who would not see alice's instance anyway.
    let run = dcs.exits(4, &["delete", "inst-alices"]).await?;
    assert!(run.stderr.contains("is kept"), "{run:?}");
    assert!(stored(&dcs, &server, "inst-alices")?, "{run:?}");

    // The API's not_found to its owner (or for a token stored without one): gone.
    for id in ["inst-bobs", "inst-old"] {
        let run = dcs.exits(4, &["delete", id]).await?;
        assert!(!stored(&dcs, &server, id)?, "{id}: {run:?}");
    }
    let run = dcs.exits(0, &["delete", "inst-gone"]).await?;
    assert!(!stored(&dcs, &server, "inst-gone")?, "{run:?}");
    assert!(stored(&dcs, &server, "inst-ingress")? && stored(&dcs, &server, "inst-alices")?);
    Ok(())
}

#[tokio::test]
async fn the_servers_text_reaches_the_terminal_escaped() -> anyhow::Result<()> {
    // A workspace process named `ESC ]0;x BEL` (prctl PR_SET_NAME) shows in the idle
    // report; an error message carries a C1 CSI.
    let status = serde_json::json!({"instance_id": "inst-x", "phase": "running",
        "ready": true, "reason": "fine\u{9b}2J", "idle_timeout_seconds": 60,
        "idle": {"now": 100, "idle_timeout_s": 60, "warning_s": 10, "busy_max_s": 600,
            "active_work": [{"what": "terminal",
                "detail": "shell pid 7: \u{1b}]0;x\u{7} is using CPU"}],
            "open_connections": 1}});
    let server = serve(move |asked: Asked| {
        let status = status.to_string();
        async move {
            match asked.path.as_str() {
                "/api/status" => reply(200, &[JSON], status),
                _ => reply(
                    404,
                    &[JSON],
                    r#"{"error":"not_found","message":"no \u001b]0;pwned\u0007 \u009b2J here"}"#,
                ),
            }
        }
    })
    .await?;
    let dcs = Dcs::new(&server)?;
    let raw = |text: &str| text.chars().any(|c| c.is_control() && c != '\n');
    let run = dcs.exits(0, &["status", "inst-x"]).await?;
    assert!(!raw(&run.stdout), "{run:?}");
    assert!(
        run.stdout.contains(r"\u{1b}]0;x\u{7} is using CPU"),
        "{run:?}"
    );
    let run = dcs
        .exits(0, &["status", "inst-x", "--output", "json"])
        .await?;
    assert!(!raw(&run.stdout), "{run:?}");
    assert_eq!(run.json()?["reason"], "fine\u{9b}2J", "the same JSON");
    let run = dcs.exits(4, &["get", "inst-x"]).await?;
    assert!(!raw(&run.stderr), "{run:?}");
    assert!(run.stderr.contains(r"no \u{1b}]0;pwned\u{7}"), "{run:?}");
    Ok(())
}

#[tokio::test]
async fn the_api_token_comes_from_a_file_and_an_argument_warns() -> anyhow::Result<()> {
    // /api/me says whose token came.
    let server = serve(|asked: Asked| async move {
        let user = match asked.authorization.as_deref() {
            Some("Bearer tok-file") => "from-file",
            Some("Bearer tok-env") => "from-env",
            Some("Bearer tok-arg") => "from-arg",
            _ => return reply(401, &[JSON], r#"{"error":"unauthorized","message":"who?"}"#),
        };
        reply(200, &[JSON], format!(r#"{{"user_id":"{user}"}}"#))
    })
    .await?;
    let dcs = Dcs::new(&server)?;
    let file = dcs.home.path().join("api-token");
    std::fs::write(&file, "  tok-file\n")?;
    let file = file.to_str().context("path")?;
    let warning = "visible to other users";

    for (args, env, user) in [
        (vec!["whoami", "--token-file", file], vec![], "from-file"),
        (vec!["whoami"], vec![("DCS_TOKEN_FILE", file)], "from-file"),
        (vec!["whoami"], vec![("DCS_TOKEN", "tok-env")], "from-env"),
        (
            vec!["whoami", "--token-file", file],
            vec![("DCS_TOKEN", "tok-env")],
            "from-file",
        ),
    ] {
        let run = dcs.run_with(&args, &env, None).await?.expect(0)?;
        assert!(run.stdout.contains(user), "{args:?} {env:?}: {run:?}");
        assert!(!run.stderr.contains(warning), "{run:?}");
    }
    let run = dcs
        .run(&["whoami", "--token", "tok-arg"])
        .await?
        .expect(0)?;
    assert!(run.stdout.contains("from-arg"), "{run:?}");
    assert_eq!(run.stderr.matches(warning).count(), 1, "{run:?}");
    assert!(!run.stderr.contains("tok-arg"), "{run:?}");

    let empty = dcs.home.path().join("empty");
    std::fs::write(&empty, "\n")?;
    let empty = empty.to_str().context("path")?;
    let run = dcs.exits(2, &["whoami", "--token-file", empty]).await?;
    assert!(run.stderr.contains("is empty"), "{run:?}");
    let missing = dcs.home.path().join("missing");
    let missing = missing.to_str().context("path")?;
    let run = dcs.exits(1, &["whoami", "--token-file", missing]).await?;
    assert!(run.stderr.contains("cannot read the API token"), "{run:?}");
    Ok(())
}

#[tokio::test]
async fn create_takes_env_from_a_file_or_stdin_and_a_github_link() -> anyhow::Result<()> {
    let bodies: Arc<Mutex<Vec<Value>>> = Arc::default();
    let seen = bodies.clone();
    let server = serve(move |asked: Asked| {
        let seen = seen.clone();
        async move {
            let body: Value = serde_json::from_slice(&asked.body).unwrap_or_default();
            seen.lock().unwrap_or_else(|p| p.into_inner()).push(body);
            let created = serde_json::json!({"instance_id": "inst-1", "user_id": "alice",
                "kind": "instance", "url": "/instances/inst-1/", "status": "starting",
                "env": [], "access_token": "tok", "warnings": []});
            reply(201, &[JSON], created.to_string())
        }
    })
    .await?;
    let dcs = Dcs::new(&server)?;
    let file = dcs.home.path().join("env");
    std::fs::write(&file, "# for the app\nAPI_KEY=s3cret=x\n\n")?;
    let file = file.to_str().context("path")?;
    let link = "https://github.com/acme/hello/tree/main";
    let args = ["create", "--repo", link, "--env-file", file, "--env", "A=1"];
    dcs.exits(0, &args).await?;
    let stdin = b"FROM_STDIN=yes\r\n";
    let args = ["create", "--env-file", "-"];
    dcs.run_with(&args, &[], Some(stdin)).await?.expect(0)?;

    // A bad line: a usage error naming the line, never its content; nothing sent.
    std::fs::write(dcs.home.path().join("bad"), "A=1\nhunter2\n")?;
    let bad = dcs.home.path().join("bad");
    let args = ["create", "--env-file", bad.to_str().context("path")?];
    let run = dcs.exits(2, &args).await?;
    assert!(run.stderr.contains("line 2: expected KEY=VALUE"), "{run:?}");
    assert!(!run.stderr.contains("hunter2"), "{run:?}");

    let bodies = bodies.lock().unwrap_or_else(|p| p.into_inner()).clone();
    assert_eq!(bodies.len(), 2, "{bodies:?}");
    assert_eq!(
        bodies[0]["repo"], link,
        "the server reads the link: {bodies:?}"
    );
    let env = serde_json::json!({"API_KEY": "s3cret=x", "A": "1"});
    assert_eq!(bodies[0]["env"], env, "{bodies:?}");
    assert_eq!(bodies[1]["env"], serde_json::json!({"FROM_STDIN": "yes"}));
    Ok(())
}
