//! A whole launcher (the `none` IDE) cloning a repository with a `.devcontainer.json`:
//! consent over HTTP, the routes, a second start, mode `off`, a parse error, and a
//! stop while a command runs.

use std::time::{Duration, Instant};

use http::Method;
use serde_json::Value;

use crate::fixtures::{env, Running, Upstream, PATIENCE};
use dcs_model::devcontainer::Mode;
use dcs_model::LauncherEnv;

/// An upstream whose root holds `.devcontainer.json` = `json`, and a contract for it.
fn repo(json: &str, mode: Mode) -> (Upstream, tempfile::TempDir, LauncherEnv) {
    let upstream = Upstream::new();
    upstream.commit(".devcontainer.json", json);
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut e = env(&upstream.base(), tmp.path());
    e.ide = "none".into();
    e.devcontainer = mode;
    (upstream, tmp, e)
}

/// `GET /_dcs/devcontainer` until `done` holds for it.
async fn status_until(running: &Running, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let status = running.get("/_dcs/devcontainer").await.json();
        if done(&status) {
            return status;
        }
        assert!(Instant::now() < deadline, "never: {status}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn all_done(status: &Value) -> bool {
    status["steps"]
        .as_array()
        .is_some_and(|s| !s.is_empty() && s.iter().all(|s| s["state"] == "done"))
}

async fn notice_ids(running: &Running) -> Vec<String> {
    let list = running.get("/_dcs/notices").await.json();
    list["notices"]
        .as_array()
        .expect("list")
        .iter()
        .map(|n| n["id"].as_str().unwrap_or_default().to_owned())
        .collect()
}

async fn post(running: &Running, path: &str) -> crate::fixtures::Reply {
    running.send(Method::POST, path, &[], b"").await
}

#[tokio::test]
async fn consent_over_http_runs_the_steps_and_is_kept_for_the_next_start() {
    let json = r#"{"postCreateCommand": "echo created >> ../marks.txt",
                   "postStartCommand": "echo started >> ../marks.txt",
                   "containerEnv": {"GREETING": "hi"}}"#;
    let (_upstream, tmp, e) = repo(json, Mode::Ask);
    let marks = tmp.path().join("acme/marks.txt");
    let running = Running::ready(e.clone()).await;
    let status = running.get("/_dcs/devcontainer").await.json();
    assert_eq!(status["mode"], "ask");
    assert_eq!(status["file"], ".devcontainer.json");
    assert_eq!(status["allowed"], false);
    assert_eq!(status["error"], Value::Null);
    assert_eq!(status["env"], serde_json::json!(["GREETING"]));
    assert_eq!(
        status["steps"][0],
        serde_json::json!({"step": "postCreateCommand", "command": "echo created >> ../marks.txt",
                           "state": "waiting_for_consent", "exit_code": null})
    );
    assert!(notice_ids(&running)
        .await
        .contains(&"devcontainer".to_owned()));

    // "Not now": the notice goes for this run; still nothing allowed.
    assert_eq!(
        post(&running, "/_dcs/devcontainer/dismiss").await.status,
        200
    );
    assert!(!notice_ids(&running)
        .await
        .contains(&"devcontainer".to_owned()));
    assert!(!marks.exists(), "nothing ran before consent");

    // Other methods, unknown paths.
    let wrong = running.get("/_dcs/devcontainer/allow").await;
    assert_eq!(wrong.status, 405);
    assert_eq!(wrong.headers["allow"], "POST");
    assert_eq!(running.get("/_dcs/devcontainer/nope").await.status, 404);

    let allowed = post(&running, "/_dcs/devcontainer/allow").await;
    assert_eq!(allowed.status, 202, "{}", allowed.text());
    assert_eq!(allowed.json(), serde_json::json!({"allowed": true}));
    let status = status_until(&running, all_done).await;
    assert_eq!(status["allowed"], true);
    assert_eq!(
        std::fs::read_to_string(&marks).expect("ran"),
        "created\nstarted\n"
    );
    let ids = notice_ids(&running).await;
    assert!(ids.contains(&"devcontainer-env".to_owned()), "{ids:?}");
    assert!(
        !ids.contains(&"devcontainer".to_owned()),
        "all done: {ids:?}"
    );
    assert_eq!(post(&running, "/_dcs/devcontainer/allow").await.status, 200);

    let log = running.get("/_dcs/devcontainer/log").await;
    assert_eq!(log.status, 200);
    assert_eq!(log.headers["content-type"], "text/plain; charset=utf-8");
    assert_eq!(log.headers["x-content-type-options"], "nosniff");
    assert_eq!(log.headers["content-security-policy"], "sandbox");
    assert_eq!(log.headers["cache-control"], "no-store");
    let text = log.text();
    assert!(
        text.contains(
            "== postCreateCommand: echo created >> ../marks.txt ==\n== exit status 0 ==\n"
        ),
        "{text}"
    );
    running.stop().await.expect("stops");

    // The next start: allowed already, postStartCommand runs without asking.
    let running = Running::ready(e).await;
    let status = status_until(&running, all_done).await;
    assert_eq!(status["allowed"], true);
    assert_eq!(
        std::fs::read_to_string(&marks).expect("ran"),
        "created\nstarted\nstarted\n"
    );
    assert!(!notice_ids(&running)
        .await
        .contains(&"devcontainer".to_owned()));
    running.stop().await.expect("stops");
}

#[tokio::test]
async fn mode_off_reads_nothing_and_a_parse_error_applies_nothing() {
    let (_upstream, _tmp, e) = repo(r#"{"postStartCommand": "touch ran"}"#, Mode::Off);
    let running = Running::ready(e).await;
    let status = running.get("/_dcs/devcontainer").await.json();
    assert_eq!(status["mode"], "off");
    assert_eq!(status["file"], Value::Null);
    assert_eq!(status["steps"], serde_json::json!([]));
    let refused = post(&running, "/_dcs/devcontainer/allow").await;
    assert_eq!(refused.status, 404);
    assert!(refused.json()["error"]
        .as_str()
        .is_some_and(|e| e.contains("off")));
    assert!(notice_ids(&running).await.is_empty());
    running.stop().await.expect("stops");

    let (_upstream, _tmp, e) = repo("{\"postStartCommand\": \"touch ran\",,}", Mode::Run);
    let running = Running::ready(e).await;
    let status = running.get("/_dcs/devcontainer").await.json();
    let error = status["error"].as_str().expect("an error");
    assert!(error.starts_with("line 1, column "), "{error}");
    let refused = post(&running, "/_dcs/devcontainer/allow").await;
    assert_eq!(refused.status, 409);
    assert!(refused.json()["error"]
        .as_str()
        .is_some_and(|e| e.contains(error)));
    let list = running.get("/_dcs/notices").await.json();
    let config = &list["notices"][0];
    assert_eq!(config["id"], "devcontainer-config");
    assert_eq!(config["level"], "warning");
    assert!(!running.checkout.join("ran").exists());
    running.stop().await.expect("stops");
}

#[tokio::test]
async fn a_command_still_running_does_not_hold_the_stop() {
    let json = r#"{"postStartCommand": "echo $$ > ../sleeper.pid; exec sleep 600"}"#;
    let (_upstream, tmp, e) = repo(json, Mode::Run);
    let running = Running::ready(e).await;
    let status = status_until(&running, |s| s["steps"][0]["state"] == "running").await;
    assert_eq!(status["allowed"], true);
    let list = running.get("/_dcs/notices").await.json();
    assert_eq!(
        list["notices"][0]["text"],
        "Running postStartCommand from devcontainer.json: echo $$ > ../sleeper.pid; exec sleep 600"
    );
    assert_eq!(list["notices"][0]["actions"][0]["open"], true);
    let pid_file = tmp.path().join("acme/sleeper.pid");
    let deadline = Instant::now() + PATIENCE;
    let pid = loop {
        if let Some(pid) = std::fs::read_to_string(&pid_file)
            .ok()
            .and_then(|p| p.trim().parse::<u32>().ok())
        {
            break pid;
        }
        assert!(Instant::now() < deadline, "the command never wrote its pid");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(running.stop().await.expect("stops"), crate::Stopped::Clean);
    let gone = || {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |s| s.contains(") Z "))
    };
    let deadline = Instant::now() + PATIENCE;
    while !gone() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(gone(), "the command ended with the workspace");
}
