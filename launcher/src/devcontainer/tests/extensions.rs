//! `customizations.vscode.extensions`: installed by the IDE's binary (here a script
//! standing in for code-server, a real process) before the steps, once per list.

use std::os::unix::fs::PermissionsExt;

use super::*;
use crate::ide::dirs::ConfigDirs;
use crate::ide::program::IdeProgram;

/// A script standing in for code-server: it writes its arguments to `args.txt` and
/// `ext` to `order.txt` in its working folder, and fails with 5 unless `fixed` is
/// there when `must_fix`.
fn fake_ide(dir: &Path, must_fix: bool) -> IdeProgram {
    let program = dir.join("fake-code-server");
    let check = if must_fix {
        "test -f fixed || exit 5\n"
    } else {
        ""
    };
    let script = format!("#!/bin/sh\n{check}echo \"$@\" > args.txt\necho ext >> order.txt\n");
    std::fs::write(&program, script).expect("write");
    std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    IdeProgram {
        kind: "code-server",
        program,
        dirs: ConfigDirs::under(Path::new("/config"), "code-server"),
        env: vec![("FROM_IDE".into(), "1".into())],
    }
}

/// One start of a launcher whose IDE is `ide` (its program `program`).
async fn start(env: &LauncherEnv, program: &IdeProgram) -> Arc<App> {
    let app = Arc::new(App::new(env));
    prepare(&app).await;
    ide_program(&app, program.clone());
    ide_started(&app);
    app
}

/// The status once neither the extensions nor a step are pending or running.
async fn settled_all(app: &App) -> Value {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let report = settled(app).await;
        let state = &report["extensions"]["state"];
        if state != "pending" && state != "running" {
            return report;
        }
        assert!(Instant::now() < deadline, "never settled: {report}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn file(ids: &str) -> String {
    format!(
        r#"{{"customizations": {{"vscode": {{"extensions": [{ids}], "settings": {{}}}}}},
            "postCreateCommand": "echo post >> order.txt"}}"#
    )
}

#[tokio::test]
async fn extensions_install_after_consent_first_and_once_per_list() {
    let mut ws = Workspace::new(
        Mode::Ask,
        ".devcontainer/devcontainer.json",
        &file(r#""acme.hello", "-acme.never", "acme.other@1.0.0""#),
    );
    ws.env.ide = "code-server".into();
    let bin = tempfile::tempdir().expect("tempdir");
    let program = fake_ide(bin.path(), false);
    let app = start(&ws.env, &program).await;
    let report = status::report(app.devcontainer());
    assert_eq!(
        report["extensions"],
        serde_json::json!({"ids": ["acme.hello", "acme.other@1.0.0"],
                           "state": "waiting_for_consent", "exit_code": null})
    );
    assert_eq!(
        report["not_applied"],
        serde_json::json!(["customizations.vscode.settings"])
    );
    let consent = app.notices().list();
    let consent = consent
        .iter()
        .find(|n| n.id == notice::ID)
        .expect("consent");
    assert_eq!(
        consent.text,
        "acme/hello's devcontainer.json asks to run postCreateCommand (echo post >> order.txt) \
         and to install extensions acme.hello, acme.other@1.0.0. Allow it only if you trust \
         this repository."
    );
    assert!(!lifecycle::start(&app), "nothing before consent");
    assert_eq!(ws.read("args.txt"), "", "nothing installed before consent");

    // Allowed: the extensions first, then the step.
    app.devcontainer().lock().saved.allowed = true;
    assert!(lifecycle::start(&app));
    let report = settled_all(&app).await;
    assert_eq!(report["extensions"]["state"], "done", "{report}");
    assert_eq!(report["extensions"]["exit_code"], 0);
    assert_eq!(ws.read("order.txt"), "ext\npost\n");
    assert_eq!(
        ws.read("args.txt").trim(),
        "--config /config/code-server/config.yaml --user-data-dir /config/code-server/data \
         --extensions-dir /config/code-server/extensions --install-extension acme.hello \
         --install-extension acme.other@1.0.0"
    );
    let notices = app.notices().list();
    let reload = notices
        .iter()
        .find(|n| n.id == notice::EXTENSIONS_ID)
        .expect("reload notice");
    assert_eq!(
        reload.text,
        "Extensions from devcontainer.json are installed: reload the window to use them."
    );
    assert!(reload.actions.iter().any(|a| a.reload), "{reload:?}");
    let log =
        String::from_utf8(app.devcontainer().log().read().await.expect("log")).expect("utf-8");
    assert!(
        log.lines()
            .any(|l| l == "== customizations.vscode.extensions: acme.hello acme.other@1.0.0 =="),
        "{log}"
    );

    // The next start installs nothing again.
    let again = start(&ws.env, &program).await;
    let report = settled_all(&again).await;
    assert_eq!(report["extensions"]["state"], "done", "{report}");
    assert_eq!(ws.read("order.txt"), "ext\npost\n");
    assert!(again
        .notices()
        .list()
        .iter()
        .all(|n| n.id != notice::EXTENSIONS_ID));

    // A changed list is installed at the next start.
    std::fs::write(
        ws.checkout.join(".devcontainer/devcontainer.json"),
        file(r#""acme.hello", "acme.third""#),
    )
    .expect("write");
    let third = start(&ws.env, &program).await;
    let report = settled_all(&third).await;
    assert_eq!(report["extensions"]["state"], "done", "{report}");
    assert_eq!(ws.read("order.txt"), "ext\npost\next\n");
    assert!(ws
        .read("args.txt")
        .ends_with("--install-extension acme.hello --install-extension acme.third\n"));
}

#[tokio::test]
async fn a_failed_install_stops_the_steps_until_run_again() {
    let mut ws = Workspace::new(
        Mode::Run,
        ".devcontainer/devcontainer.json",
        &file(r#""acme.hello""#),
    );
    ws.env.ide = "code-server".into();
    let bin = tempfile::tempdir().expect("tempdir");
    let program = fake_ide(bin.path(), true);
    let app = start(&ws.env, &program).await;
    let report = settled_all(&app).await;
    assert_eq!(
        report["extensions"],
        serde_json::json!({"ids": ["acme.hello"], "state": "failed", "exit_code": 5})
    );
    assert_eq!(report["steps"][0]["state"], "skipped", "{report}");
    let failed = app.notices().list();
    let failed = failed.iter().find(|n| n.id == notice::ID).expect("notice");
    assert_eq!(
        failed.text,
        "Installing extensions from devcontainer.json (acme.hello) failed (exit status 5)."
    );
    assert!(failed.actions.iter().any(|a| a.label == "Run again"));

    std::fs::write(ws.checkout.join("fixed"), "").expect("write");
    lifecycle::forget_failure(&mut app.devcontainer().lock());
    assert!(lifecycle::start(&app));
    let report = settled_all(&app).await;
    assert_eq!(report["extensions"]["state"], "done", "{report}");
    assert_eq!(report["steps"][0]["state"], "done", "{report}");
    assert_eq!(ws.read("order.txt"), "ext\npost\n");
}

#[tokio::test]
async fn an_ide_that_installs_none_lists_them_as_not_applied() {
    let ws = Workspace::new(
        Mode::Ask,
        ".devcontainer/devcontainer.json",
        r#"{"customizations": {"vscode": {"extensions": ["acme.hello"]}}}"#,
    );
    let (app, _) = ws.start().await;
    let report = status::report(app.devcontainer());
    assert_eq!(report["extensions"], Value::Null);
    assert_eq!(
        report["not_applied"],
        serde_json::json!(["customizations.vscode.extensions (this IDE installs none)"])
    );
    assert!(
        app.notices().list().iter().all(|n| n.id != notice::ID),
        "nothing to ask for"
    );
}
