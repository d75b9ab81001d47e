//! A checkout shared by two workspaces (a `/github/acme/hello` workspace and an API
//! instance of `acme/hello`, in the same config volume or each in its own, as in
//! Knative): the state kept in the checkout's git folder, the locks, and the create
//! steps run once between them.

use std::path::Path;
use std::time::Duration;

use dcs_model::InstanceId;

use super::*;

/// Another workspace (an API instance of the same repository, `config` its config
/// volume) on `ws`'s checkout.
fn instance_on(ws: &Workspace, config: &Path) -> LauncherEnv {
    let mut env = ws.env.clone();
    env.instance = Some(InstanceId::parse("inst-0123456789abcdef").expect("id"));
    env.config_dir = Some(config.to_path_buf());
    env
}

/// One launcher start of `env`: the file read, the IDE "started".
async fn start(env: &LauncherEnv) -> Arc<App> {
    let app = Arc::new(App::new(env));
    prepare(&app).await;
    ide_started(&app);
    app
}

async fn log_text(app: &App) -> String {
    String::from_utf8(app.devcontainer().log().read().await.expect("log")).expect("utf-8")
}

#[test]
fn a_git_checkout_keeps_consent_and_steps_in_its_git_folder_for_every_volume() {
    let ws = Workspace::new(Mode::Ask, ".devcontainer.json", "{}");
    let rel = Path::new("devcontainer/acme__hello-1234");
    let (one, two) = (ws._tmp.path().join("one"), ws._tmp.path().join("two"));
    // Not yet a git checkout: the config volume.
    assert_eq!(
        saved::places(&ws.checkout, &one, rel).checkout.base,
        one,
        "no .git"
    );
    git2::Repository::init(&ws.checkout).expect("git init");
    let places = saved::places(&ws.checkout, &one, rel);
    assert_eq!(
        places.checkout.file(),
        ws.checkout.join(".git/dcs/devcontainer/state.json")
    );
    assert_eq!(places.ide.file(), one.join(rel).join("state.json"));

    let mut mine = saved::Saved {
        allowed: true,
        ..saved::Saved::default()
    };
    mine.set_installed("/ext", vec!["a.b".into()]);
    mine.mark_done("onCreateCommand");
    saved::update(&places, &mine, true).expect("update");
    let in_git = std::fs::read_to_string(places.checkout.file()).expect("read");
    let in_git: serde_json::Value = serde_json::from_str(&in_git).expect("json");
    assert_eq!(
        in_git,
        serde_json::json!({"allowed": true, "done": ["onCreateCommand"]})
    );
    let in_config = std::fs::read_to_string(places.ide.file()).expect("read");
    let in_config: serde_json::Value = serde_json::from_str(&in_config).expect("json");
    assert_eq!(
        in_config,
        serde_json::json!({"installed": {"/ext": ["a.b"]}})
    );
    assert_eq!(saved::load(&places).expect("load"), mine);

    // Another volume on the same checkout: its consent and steps, not its extensions.
    let other = saved::places(&ws.checkout, &two, rel);
    let kept = saved::load(&other).expect("load");
    assert!(kept.allowed && kept.is_done("onCreateCommand"), "{kept:?}");
    assert!(
        kept.extensions.is_empty(),
        "installed in the other volume only"
    );
    // A launcher that knew less takes nothing away, and its extensions are written
    // only while it holds the steps lock.
    let mut stale = saved::Saved::default();
    stale.set_installed("/ext", vec!["x.y".into()]);
    stale.mark_done("postCreateCommand");
    let kept = saved::update(&places, &stale, false).expect("update");
    assert!(kept.allowed, "{kept:?}");
    assert_eq!(kept.done, ["onCreateCommand", "postCreateCommand"]);
    assert_eq!(kept.installed_in("/ext"), ["a.b"]);

    // The checkout removed and cloned afresh: nothing kept, asked again.
    std::fs::remove_dir_all(&ws.checkout).expect("rm");
    git2::Repository::init(&ws.checkout).expect("git init");
    let fresh = saved::load(&saved::places(&ws.checkout, &two, rel)).expect("load");
    assert_eq!(fresh, saved::Saved::default());

    // Removed while its launcher runs: no `.git` is made for it.
    std::fs::remove_dir_all(ws.checkout.join(".git")).expect("rm .git");
    let err = saved::update(&places, &mine, true).expect_err("no git folder");
    assert_eq!(err.kind(), std::io::ErrorKind::NotFound, "{err}");
    assert!(!ws.checkout.join(".git").exists());
}

#[test]
fn the_steps_lock_waits_for_its_holder_and_a_link_in_its_place_is_refused() {
    let ws = Workspace::new(Mode::Run, ".devcontainer.json", "{}");
    git2::Repository::init(&ws.checkout).expect("git init");
    let config = ws._tmp.path().join("config");
    let places = saved::places(&ws.checkout, &config, Path::new("devcontainer/k"));
    let poll = Duration::from_millis(1);
    let held = saved::lock_steps(&places, poll, || false)
        .expect("lock")
        .expect("free");
    let dir = ws.checkout.join(saved::IN_GIT);
    assert!(dir.join(saved::STEPS_LOCK).is_file());
    let mut polls = 0;
    let waited = saved::lock_steps(&places, poll, || {
        polls += 1;
        polls < 3
    })
    .expect("poll");
    assert!(waited.is_none(), "held by the other launcher");
    assert_eq!(polls, 3);
    drop(held);
    assert!(saved::lock_steps(&places, poll, || false)
        .expect("lock")
        .is_some());

    // A link in place of the lock (or of the record) is not followed.
    let target = ws._tmp.path().join("elsewhere");
    std::fs::remove_file(dir.join(saved::STEPS_LOCK)).expect("rm");
    std::os::unix::fs::symlink(&target, dir.join(saved::STEPS_LOCK)).expect("link");
    let err = saved::lock_steps(&places, poll, || false).expect_err("a link");
    assert!(err.to_string().contains("symbolic link"), "{err}");
    assert!(!target.exists(), "nothing made through the link");
    std::os::unix::fs::symlink(&target, dir.join(saved::FILE)).expect("link");
    let err = saved::load(&places).expect_err("a link");
    assert!(dcs_os::confined::is_refusal(&err), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workspaces_on_one_checkout_run_its_create_steps_once() {
    let json = r#"{
        "onCreateCommand": "echo create >> created.txt",
        "postCreateCommand": "echo begin >> marks.txt; sleep 1; echo end >> marks.txt",
        "postStartCommand": "echo start >> starts.txt"
    }"#;
    let ws = Workspace::new(Mode::Run, ".devcontainer.json", json);
    git2::Repository::init(&ws.checkout).expect("git init");
    // The instance in a volume of its own (Knative), then, on the checkout cloned
    // afresh, one in the same volume (local): each time the steps run once between
    // the two.
    let volume = ws._tmp.path().join("instance-home");
    for (round, instance) in [
        instance_on(&ws, &volume),
        instance_on(&ws, &ws.env.config_dir()),
    ]
    .iter()
    .enumerate()
    {
        if round > 0 {
            std::fs::remove_dir_all(&ws.checkout).expect("rm");
            git2::Repository::init(&ws.checkout).expect("git init");
            std::fs::write(ws.checkout.join(".devcontainer.json"), json).expect("write");
        }
        let (a, b) = tokio::join!(start(&ws.env), start(instance));
        let (a_report, b_report) = tokio::join!(settled(&a), settled(&b));
        for report in [&a_report, &b_report] {
            assert!(
                states(report).iter().all(|(_, s, _)| s == "done"),
                "{report}"
            );
        }
        assert_eq!(ws.read("created.txt"), "create\n", "round {round}");
        assert_eq!(ws.read("marks.txt"), "begin\nend\n", "round {round}");
        assert_eq!(ws.read("starts.txt"), "start\nstart\n", "round {round}");
        // Each its own log; the create steps in one of them only.
        let (a_log, b_log) = (log_text(&a).await, log_text(&b).await);
        assert_ne!(a.devcontainer().log().path(), b.devcontainer().log().path());
        let ran = |log: &str| log.contains("== postCreateCommand: ");
        assert!(ran(&a_log) != ran(&b_log), "A:\n{a_log}\nB:\n{b_log}");
        for log in [&a_log, &b_log] {
            assert!(log.contains("== postStartCommand: "), "{log}");
        }
    }
}

#[tokio::test]
async fn consent_holds_for_every_workspace_on_the_checkout_until_it_is_cloned_afresh() {
    let json = r#"{"postCreateCommand": "echo post >> marks.txt", "containerEnv": {"A": "1"}}"#;
    let ws = Workspace::new(Mode::Ask, ".devcontainer.json", json);
    git2::Repository::init(&ws.checkout).expect("git init");
    let (app, ide_env) = ws.start().await;
    assert_eq!(ide_env, None);
    // What `POST …/allow` does.
    app.devcontainer().lock().saved.allowed = true;
    app.devcontainer().save().await;
    assert!(lifecycle::start(&app));
    settled(&app).await;
    assert_eq!(ws.read("marks.txt"), "post\n");

    // An instance in a volume of its own (Knative's home): allowed, nothing to run.
    let other = instance_on(&ws, &ws._tmp.path().join("instance-home"));
    let app = Arc::new(App::new(&other));
    let ide_env = prepare(&app)
        .await
        .expect("allowed: the IDE gets the variables");
    assert_eq!(ide_env.names(), ["A"]);
    let report = status::report(app.devcontainer());
    assert_eq!(report["allowed"], true, "{report}");
    assert_eq!(states(&report)[0].1, "done", "{report}");

    // Removed and cloned afresh: asked again.
    std::fs::remove_dir_all(&ws.checkout).expect("rm");
    git2::Repository::init(&ws.checkout).expect("git init");
    std::fs::write(ws.checkout.join(".devcontainer.json"), json).expect("write");
    let (app, ide_env) = ws.start().await;
    assert_eq!(ide_env, None);
    let report = status::report(app.devcontainer());
    assert_eq!(report["allowed"], false, "{report}");
    assert_eq!(states(&report)[0].1, "waiting_for_consent", "{report}");
}
