//! The devcontainer.json support with real files and real processes: reading, the
//! kept state ([`files`]), the lifecycle and the notices; [`flow`] drives a whole launcher over
//! HTTP (consent, routes, a second start, a stop while a command runs); [`extensions`]
//! installs the file's extensions with a stand-in IDE binary; [`shared`]: a checkout two
//! workspaces share (its state in the git folder, the create steps run once).

mod extensions;
mod files;
mod flow;
mod shared;
mod shown;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dcs_model::devcontainer::Mode;
use dcs_model::{LauncherEnv, RepoRef};
use serde_json::Value;
use tempfile::TempDir;

use super::*;
use crate::fixtures::PATIENCE;
use crate::notices::Level;

/// A workspace for `acme/hello` under a temporary folder with `file` (relative to the
/// checkout) holding `json`, and its app.
struct Workspace {
    _tmp: TempDir,
    env: LauncherEnv,
    checkout: PathBuf,
}

impl Workspace {
    fn new(mode: Mode, file: &str, json: &str) -> Self {
        let tmp = tempfile::tempdir().expect("tempdir");
        let mut env = LauncherEnv::new(RepoRef::parse("acme/hello").expect("repo"));
        env.workspaces_dir = tmp.path().to_path_buf();
        env.ide = "none".into();
        env.devcontainer = mode;
        let checkout = env.checkout_dir();
        std::fs::create_dir_all(checkout.join(".devcontainer")).expect("mkdir");
        std::fs::write(checkout.join(file), json).expect("write");
        Self {
            _tmp: tmp,
            env,
            checkout,
        }
    }

    /// One launcher start: the file read, the IDE "started".
    async fn start(&self) -> (Arc<App>, Option<Arc<EnvChange>>) {
        let app = Arc::new(App::new(&self.env));
        let ide_env = prepare(&app).await;
        ide_started(&app);
        (app, ide_env)
    }

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.checkout.join(name)).unwrap_or_default()
    }
}

/// The status once no step is pending or running (fails after [`PATIENCE`]).
async fn settled(app: &App) -> Value {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let report = status::report(app.devcontainer());
        let busy = report["steps"].as_array().is_some_and(|s| {
            s.iter()
                .any(|s| s["state"] == "pending" || s["state"] == "running")
        });
        if !busy && !app.devcontainer().lock().running {
            return report;
        }
        assert!(Instant::now() < deadline, "never settled: {report}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn states(report: &Value) -> Vec<(String, String, Value)> {
    report["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| {
            let name = s["step"].as_str().unwrap_or_default().to_owned();
            let state = s["state"].as_str().unwrap_or_default().to_owned();
            (name, state, s["exit_code"].clone())
        })
        .collect()
}

fn found_error(found: &Found) -> String {
    match found {
        Found::Unusable { file, error, .. } => format!("{file}: {error}"),
        Found::Usable(loaded) => panic!("usable: {}", loaded.file),
        _ => panic!("no file"),
    }
}

#[tokio::test]
async fn steps_run_in_order_once_per_checkout_and_post_start_every_start() {
    let json = r#"{
        "containerEnv": {"FROM_DC": "x-${containerWorkspaceFolderBasename}", "PORT": "1"},
        "remoteEnv": {"AGAIN": "${containerEnv:FROM_DC}!", "HOME": null},
        "onCreateCommand": "echo create >> order.txt",
        "updateContentCommand": ["sh", "-c", "echo update >> order.txt"],
        "postCreateCommand": {"a": "echo a > a.txt", "b": ["touch", "b; not a shell"]},
        "postStartCommand": "echo start >> starts.txt; env > env.txt; pwd > pwd.txt; echo ${containerEnv:AGAIN} > sub.txt",
        "image": "ubuntu"
    }"#;
    let ws = Workspace::new(Mode::Run, ".devcontainer/devcontainer.json", json);
    let (app, ide_env) = ws.start().await;
    let ide_env = ide_env.expect("mode run: the IDE gets the variables");
    assert_eq!(ide_env.names(), ["FROM_DC", "AGAIN", "HOME"]);
    let report = settled(&app).await;
    let done = |k: &str| (k.to_owned(), "done".to_owned(), Value::from(0));
    let all_done = vec![
        done("onCreateCommand"),
        done("updateContentCommand"),
        done("postCreateCommand"),
        done("postStartCommand"),
    ];
    assert_eq!(states(&report), all_done, "{report}");
    assert_eq!(ws.read("order.txt"), "create\nupdate\n");
    assert_eq!(ws.read("a.txt"), "a\n");
    assert!(
        ws.checkout.join("b; not a shell").exists(),
        "argv, no shell"
    );
    let env = ws.read("env.txt");
    assert!(env.lines().any(|l| l == "FROM_DC=x-hello"), "{env}");
    assert!(env.lines().any(|l| l == "AGAIN=x-hello!"), "{env}");
    assert!(!env.lines().any(|l| l == "PORT=1"), "refused: {env}");
    assert!(
        !env.lines().any(|l| l.starts_with("HOME=")),
        "removed: {env}"
    );
    assert!(!env.lines().any(|l| l.starts_with("DCS_")), "{env}");
    assert_eq!(
        ws.read("sub.txt"),
        "x-hello!\n",
        "a command sees the file's variables"
    );
    let real = ws.checkout.canonicalize().expect("canonical");
    assert_eq!(ws.read("pwd.txt").trim(), real.display().to_string());
    assert_eq!(
        report["refused_env"],
        serde_json::json!([{"name": "PORT", "why": "set by the platform"}])
    );
    assert_eq!(report["not_applied"], serde_json::json!(["image"]));
    let log =
        String::from_utf8(app.devcontainer().log().read().await.expect("log")).expect("utf-8");
    for line in [
        "== onCreateCommand: echo create >> order.txt ==",
        "== updateContentCommand: sh -c echo update >> order.txt ==",
        "== postCreateCommand (a): echo a > a.txt ==",
        "== postCreateCommand (b): exit status 0 ==",
        "== exit status 0 ==",
    ] {
        assert!(log.lines().any(|l| l == line), "{line} in {log}");
    }
    assert!(
        app.notices().list().iter().all(|n| n.id != notice::ID),
        "all done: no notice"
    );

    // The next start: postStartCommand again, the rest never; a new log.
    let (again, _) = ws.start().await;
    let report = settled(&again).await;
    assert_eq!(states(&report), all_done, "{report}");
    assert_eq!(ws.read("starts.txt"), "start\nstart\n");
    assert_eq!(ws.read("order.txt"), "create\nupdate\n");
    let log =
        String::from_utf8(again.devcontainer().log().read().await.expect("log")).expect("utf-8");
    assert!(log.starts_with("== postStartCommand: "), "{log}");
    assert!(!log.contains("onCreateCommand"), "{log}");
}

#[tokio::test]
async fn the_first_failure_stops_the_rest_until_run_again_from_it() {
    let json = r#"{
        "onCreateCommand": "echo create >> order.txt",
        "updateContentCommand": {"ok": "true", "check": "test -f fixed || exit 3"},
        "postCreateCommand": "echo post >> order.txt",
        "postStartCommand": ["no-such-program-anywhere"]
    }"#;
    let ws = Workspace::new(Mode::Run, ".devcontainer/devcontainer.json", json);
    let (app, _) = ws.start().await;
    let report = settled(&app).await;
    let s = |k: &str, st: &str, code: Value| (k.to_owned(), st.to_owned(), code);
    assert_eq!(
        states(&report),
        [
            s("onCreateCommand", "done", 0.into()),
            s("updateContentCommand", "failed", 3.into()),
            s("postCreateCommand", "skipped", Value::Null),
            s("postStartCommand", "skipped", Value::Null),
        ]
    );
    let failed = app
        .notices()
        .list()
        .into_iter()
        .find(|n| n.id == notice::ID)
        .expect("notice");
    assert_eq!(failed.level, Level::Error);
    assert_eq!(
        failed.text,
        "updateContentCommand from devcontainer.json failed (exit status 3)."
    );
    let actions: Vec<_> = failed
        .actions
        .iter()
        .map(|a| (a.label.as_str(), a.open))
        .collect();
    assert_eq!(actions, [("Show log", true), ("Run again", false)]);

    // Run again (what `POST …/allow` does): from the failed step; onCreate stays done.
    std::fs::write(ws.checkout.join("fixed"), "").expect("write");
    lifecycle::forget_failure(&mut app.devcontainer().lock());
    assert!(lifecycle::start(&app));
    let report = settled(&app).await;
    let states = states(&report);
    assert_eq!(states[1].1, "done");
    assert_eq!(states[2].1, "done");
    assert_eq!(states[3], s("postStartCommand", "failed", Value::Null));
    assert_eq!(ws.read("order.txt"), "create\npost\n");
    let failed = app
        .notices()
        .list()
        .into_iter()
        .find(|n| n.id == notice::ID)
        .expect("notice");
    assert!(
        failed
            .text
            .starts_with("postStartCommand from devcontainer.json failed (could not start: "),
        "{}",
        failed.text
    );
}

#[tokio::test]
async fn in_ask_mode_nothing_applies_before_consent() {
    let json = r#"{"postCreateCommand": "npm ci", "postStartCommand": "touch started",
                   "containerEnv": {"A": "1"}, "remoteEnv": {"B": "2", "PORT": "9"}}"#;
    let ws = Workspace::new(Mode::Ask, ".devcontainer/devcontainer.json", json);
    let (app, ide_env) = ws.start().await;
    assert_eq!(ide_env, None, "no variable before consent");
    assert_eq!(app.devcontainer().ide_env(), None, "nor in the terminals");
    let report = status::report(app.devcontainer());
    assert_eq!(report["allowed"], false);
    assert!(
        states(&report)
            .iter()
            .all(|(_, s, _)| s == "waiting_for_consent"),
        "{report}"
    );
    assert!(!lifecycle::start(&app), "nothing starts");
    let notices = app.notices().list();
    let consent = notices
        .iter()
        .find(|n| n.id == notice::ID)
        .expect("consent");
    assert_eq!(consent.level, Level::Warning);
    assert_eq!(
        consent.text,
        "acme/hello's devcontainer.json asks to run postCreateCommand (npm ci), postStartCommand \
         (touch started) and to set A, B. Allow it only if you trust this repository."
    );
    let actions: Vec<_> = consent
        .actions
        .iter()
        .map(|a| (a.label.as_str(), a.method.as_str(), a.href.as_str()))
        .collect();
    assert_eq!(
        actions,
        [
            ("Allow and run", "POST", "_dcs/devcontainer/allow"),
            ("Show the file", "GET", "_dcs/devcontainer/file"),
            ("Not now", "POST", "_dcs/devcontainer/dismiss")
        ]
    );
    let config = notices
        .iter()
        .find(|n| n.id == notice::CONFIG_ID)
        .expect("config notice");
    assert_eq!(config.level, Level::Info);
    assert_eq!(
        config.text,
        "devcontainer.json: set by the platform, left as they are: PORT."
    );
    assert!(!ws.checkout.join("started").exists());
}

#[test]
fn the_notice_about_the_file_names_what_does_not_apply_or_why_it_cannot() {
    let loaded = |json: &str| {
        let ws = Workspace::new(Mode::Run, ".devcontainer.json", json);
        read::load(&ws.checkout, "id")
    };
    let n = notice::config(&loaded(
        r#"{"image": "x", "features": {}, "forwardPorts": [3000],
        "containerEnv": {"A=B": "1"}}"#,
    ))
    .expect("notice");
    assert_eq!(
        n.text,
        "devcontainer.json: not applied here: image, features, forwardPorts (this workspace runs \
         the platform's image); skipped: containerEnv.A=B: not a valid variable name."
    );
    let n = notice::config(&loaded("{\"a\": }")).expect("notice");
    assert_eq!(n.level, Level::Warning);
    assert!(
        n.text.starts_with("devcontainer.json: line 1, column "),
        "{}",
        n.text
    );
    assert!(n.text.ends_with("; nothing of it applies."), "{}", n.text);
    assert!(notice::config(&loaded(r#"{"name": "fine", "postStartCommand": "x"}"#)).is_none());
}

#[test]
fn the_ides_own_variables_win_over_the_files() {
    let change = EnvChange {
        set: vec![
            ("VSCODE_PROXY_URI".into(), "mine".into()),
            ("A".into(), "1".into()),
        ],
        unset: vec!["HOME".into()],
    };
    let mut launch = crate::supervise::Launch {
        env: vec![("VSCODE_PROXY_URI".into(), "./ports/{{port}}/".into())],
        ..Default::default()
    };
    change.apply_under(&mut launch);
    let last = |k: &str| {
        launch
            .env
            .iter()
            .rev()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(last("VSCODE_PROXY_URI"), Some("./ports/{{port}}/".into()));
    assert_eq!(last("A"), Some("1".into()));
    assert_eq!(launch.unset, ["HOME"]);
}
