//! `customizations.vscode.extensions`: installed by the IDE's binary (here a script
//! standing in for code-server, a real process) before the steps, once per list.

mod folders;

use std::os::unix::fs::PermissionsExt;

use super::*;
use crate::ide::dirs::ConfigDirs;
use crate::ide::program::IdeProgram;

/// A script standing in for code-server, installed in `dir` (its config folder under
/// `dir/config`): it appends its arguments to `<checkout>/args.txt` and its working
/// folder to `<checkout>/cwd.txt`, then fails with 5 when it installs `failing` (an
/// id, or "" for none) unless `<checkout>/fixed` exists, else appends `ext` to
/// `<checkout>/order.txt`.
fn fake_ide(dir: &Path, checkout: &Path, failing: &str) -> IdeProgram {
    let program = dir.join("fake-code-server");
    let out = checkout.display();
    let check = if failing.is_empty() {
        String::new()
    } else {
        format!("case \"$*\" in *\" {failing}\") test -f {out}/fixed || exit 5;; esac\n")
    };
    let script = format!(
        "#!/bin/sh\necho \"$@\" >> {out}/args.txt\npwd >> {out}/cwd.txt\n{check}echo ext >> {out}/order.txt\n"
    );
    std::fs::write(&program, script).expect("write");
    std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let dirs = ConfigDirs::under(&dir.join("config"), "code-server");
    std::fs::create_dir_all(&dirs.root).expect("the IDE's folder");
    IdeProgram {
        kind: "code-server",
        program,
        dirs,
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
    let program = fake_ide(bin.path(), &ws.checkout, "");
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
    assert_eq!(ws.read("order.txt"), "ext\next\npost\n");
    let root = program.dirs.root.display().to_string();
    let flags = format!(
        "--config {root}/config.yaml --user-data-dir {root}/data --extensions-dir \
         {root}/extensions"
    );
    assert_eq!(
        ws.read("args.txt"),
        format!(
            "{flags} --install-extension acme.hello\n\
             {flags} --install-extension acme.other@1.0.0\n"
        ),
        "one run per id"
    );
    // Run in the IDE's folder: an argument taken for a file finds none of the
    // checkout's (a `.vsix` the repository ships).
    let real = program.dirs.root.canonicalize().expect("the IDE's folder");
    assert_eq!(
        ws.read("cwd.txt"),
        format!("{0}\n{0}\n", real.display()),
        "installed from the IDE's folder"
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
            .any(|l| l == "== customizations.vscode.extensions: acme.other@1.0.0 =="),
        "{log}"
    );

    // The next start installs nothing again.
    let again = start(&ws.env, &program).await;
    let report = settled_all(&again).await;
    assert_eq!(report["extensions"]["state"], "done", "{report}");
    assert_eq!(ws.read("order.txt"), "ext\next\npost\n");
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
    assert_eq!(ws.read("order.txt"), "ext\next\npost\next\n");
    let args = ws.read("args.txt");
    assert!(
        args.ends_with(&format!(
            "--install-extension acme.other@1.0.0\n{flags} --install-extension acme.third\n"
        )),
        "only the new id: {args}"
    );
}

#[tokio::test]
async fn a_failed_extension_holds_up_no_command_and_is_retried_alone() {
    let mut ws = Workspace::new(
        Mode::Run,
        ".devcontainer/devcontainer.json",
        &file(r#""acme.hello", "nope.missing""#),
    );
    ws.env.ide = "code-server".into();
    let bin = tempfile::tempdir().expect("tempdir");
    let program = fake_ide(bin.path(), &ws.checkout, "nope.missing");
    let app = start(&ws.env, &program).await;
    let report = settled_all(&app).await;
    assert_eq!(
        report["extensions"],
        serde_json::json!({"ids": ["acme.hello", "nope.missing"], "state": "failed",
                           "exit_code": 5, "failed": ["nope.missing"]})
    );
    assert_eq!(
        report["steps"][0]["state"], "done",
        "the command ran: {report}"
    );
    assert_eq!(ws.read("order.txt"), "ext\npost\n");
    let folder = crate::devcontainer::extensions::folder_key(&program.dirs.extensions);
    assert_eq!(
        app.devcontainer().lock().saved.installed_in(&folder),
        ["acme.hello"],
        "the one installed is kept"
    );
    let notices = app.notices().list();
    let failed = notices
        .iter()
        .find(|n| n.id == notice::EXTENSIONS_ID)
        .expect("notice");
    assert_eq!(
        failed.text,
        "Extensions from devcontainer.json not installed: nope.missing (exit status 5); \
         the commands ran anyway. The others are installed: reload the window to use them."
    );
    assert!(failed.actions.iter().any(|a| a.label == "Show log"));
    assert!(failed.actions.iter().any(|a| a.label == "Run again"));
    assert!(
        notices.iter().all(|n| n.id != notice::ID),
        "the steps' notice cleared: {notices:?}"
    );

    // The next start retries only the failed id (still failing: the steps are done).
    let again = start(&ws.env, &program).await;
    let report = settled_all(&again).await;
    assert_eq!(
        report["extensions"]["failed"],
        serde_json::json!(["nope.missing"])
    );
    assert_eq!(ws.read("order.txt"), "ext\npost\n", "nothing more ran");
    let args = ws.read("args.txt");
    assert_eq!(
        args.matches("--install-extension acme.hello").count(),
        1,
        "{args}"
    );
    assert_eq!(
        args.matches("--install-extension nope.missing").count(),
        2,
        "{args}"
    );

    // Run again, once the gallery has it.
    std::fs::write(ws.checkout.join("fixed"), "").expect("write");
    {
        let mut inner = again.devcontainer().lock();
        assert!(lifecycle::failed(&inner));
        lifecycle::forget_failure(&mut inner);
    }
    assert!(lifecycle::start(&again));
    let report = settled_all(&again).await;
    assert_eq!(
        report["extensions"],
        serde_json::json!({"ids": ["acme.hello", "nope.missing"], "state": "done",
                           "exit_code": 0})
    );
    assert_eq!(ws.read("order.txt"), "ext\npost\next\n");
    assert_eq!(ws.read("args.txt").matches("acme.hello").count(), 1);
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
