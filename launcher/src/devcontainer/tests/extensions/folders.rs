//! Extensions folders beyond one workspace: in local mode every workspace of a user
//! shares one config volume and so the IDE's extensions folder (two repositories'
//! installs take turns in it, and a stop lets go of it), and the record of what was
//! installed holds for the folder it went to only (an IDE of another kind, or its
//! folders in another volume, gets the list too; a record from before counts for
//! none).

use super::*;
use crate::devcontainer::extensions::lock::WAITING;

/// Two repositories' workspaces in one workspaces volume, so one config volume:
/// `acme/hello` (`ws`) whose file names `hello`, `acme/other` naming `other`.
fn two_workspaces(hello: &str, other: &str) -> (Workspace, LauncherEnv) {
    let json = ".devcontainer/devcontainer.json";
    let mut ws = Workspace::new(Mode::Run, json, &file(hello));
    ws.env.ide = "code-server".into();
    let mut env = ws.env.clone();
    env.repo = Some(RepoRef::parse("acme/other").expect("repo"));
    let checkout = env.checkout_dir();
    std::fs::create_dir_all(checkout.join(".devcontainer")).expect("mkdir");
    std::fs::write(checkout.join(json), file(other)).expect("write");
    assert_eq!(ws.env.config_dir(), env.config_dir(), "one config volume");
    (ws, env)
}

/// A script standing in for code-server in `bin`, its folders in `config`: appends
/// `start <id>` to `runs`, runs `middle` (the id in `$id`), appends `end <id>`.
fn stand_in(bin: &Path, config: &Path, runs: &Path, middle: &str) -> IdeProgram {
    let program = bin.join("code-server");
    let runs = runs.display();
    let script = format!(
        "#!/bin/sh\nfor id; do :; done\necho \"start $id\" >> {runs}\n{middle}\n\
         echo \"end $id\" >> {runs}\n"
    );
    std::fs::write(&program, script).expect("write");
    std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let dirs = ConfigDirs::under(config, "code-server");
    std::fs::create_dir_all(&dirs.root).expect("the IDE's folder");
    IdeProgram {
        kind: "code-server",
        program,
        dirs,
        env: Vec::new(),
    }
}

/// Waits until `ready` holds (fails after [`PATIENCE`], saying `what`).
async fn until(what: &str, mut ready: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !ready().await {
        assert!(Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn text(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

async fn log_of(app: &App) -> String {
    let bytes = app.devcontainer().log().read().await.unwrap_or_default();
    String::from_utf8_lossy(&bytes).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workspaces_installing_into_one_folder_take_turns() {
    let (ws, other) = two_workspaces(r#""a.one", "a.two""#, r#""b.one", "b.two""#);
    let bin = tempfile::tempdir().expect("tempdir");
    let runs = bin.path().join("runs.txt");
    let program = stand_in(bin.path(), &ws.env.config_dir(), &runs, "sleep 0.2");
    let (a, b) = tokio::join!(start(&ws.env, &program), start(&other, &program));
    let (a_report, b_report) = tokio::join!(settled_all(&a), settled_all(&b));
    for report in [&a_report, &b_report] {
        assert_eq!(report["extensions"]["state"], "done", "{report}");
    }
    let runs = text(&runs);
    let lines: Vec<&str> = runs.lines().collect();
    assert_eq!(lines.len(), 8, "four runs:\n{runs}");
    for pair in lines.chunks(2) {
        let id = pair[0].strip_prefix("start ").expect("a run starts");
        assert_eq!(pair[1], format!("end {id}"), "runs interleaved:\n{runs}");
    }
    let mut ids: Vec<&str> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("start "))
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, ["a.one", "a.two", "b.one", "b.two"]);
    assert!(program.dirs.root.join("extensions.lock").is_file());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_mid_install_lets_the_folder_go_and_a_waiting_one_can_stop() {
    let (ws, other) = two_workspaces(r#""a.slow""#, r#""b.quick""#);
    let bin = tempfile::tempdir().expect("tempdir");
    let runs = bin.path().join("runs.txt");
    let middle = r#"case "$id" in a.*) sleep 60;; esac"#;
    let program = stand_in(bin.path(), &ws.env.config_dir(), &runs, middle);
    let a = start(&ws.env, &program).await;
    until("a.slow runs", async || text(&runs).contains("start a.slow")).await;

    // Another workspace waits for the folder; stopped while it waits, it ends.
    let b = start(&other, &program).await;
    until("b waits", async || log_of(&b).await.contains(WAITING)).await;
    b.start_drain();
    until("b ends", async || !b.devcontainer().lock().running).await;
    assert_eq!(text(&runs), "start a.slow\n", "b installed nothing");

    // Started again, it waits until the holder stops mid-install.
    std::fs::remove_file(b.devcontainer().log().path()).expect("b's last log");
    let b = start(&other, &program).await;
    until("b waits again", async || log_of(&b).await.contains(WAITING)).await;
    assert_eq!(
        text(&runs),
        "start a.slow\n",
        "not while a holds the folder"
    );
    a.start_drain();
    let report = settled_all(&b).await;
    assert_eq!(report["extensions"]["state"], "done", "{report}");
    assert_eq!(text(&runs), "start a.slow\nstart b.quick\nend b.quick\n");
    until("a ends", async || !a.devcontainer().lock().running).await;
}

/// One start of `env` with `program`, until the extensions and steps settled.
async fn start_settled(env: &LauncherEnv, program: &IdeProgram) -> Value {
    let app = start(env, program).await;
    settled_all(&app).await
}

/// The `--extensions-dir` of each install `args.txt` (by [`fake_ide`]) lists.
fn folders(ws: &Workspace) -> Vec<String> {
    ws.read("args.txt")
        .lines()
        .filter_map(|line| {
            let (_, rest) = line.split_once("--extensions-dir ")?;
            Some(rest.split(' ').next()?.to_owned())
        })
        .collect()
}

#[tokio::test]
async fn each_extensions_folder_gets_the_list_and_an_old_record_counts_for_none() {
    let json = ".devcontainer/devcontainer.json";
    let mut ws = Workspace::new(Mode::Run, json, &file(r#""acme.hello""#));
    ws.env.ide = "code-server".into();
    let bin = tempfile::tempdir().expect("tempdir");
    let code_server = fake_ide(bin.path(), &ws.checkout, "");
    let shown = |p: &IdeProgram| p.dirs.extensions.display().to_string();
    let app = start(&ws.env, &code_server).await;
    settled_all(&app).await;
    start_settled(&ws.env, &code_server).await;
    assert_eq!(folders(&ws), [shown(&code_server)], "once into its folder");

    // The checkout opened with another IDE kind: its own folder gets them.
    let mut env = ws.env.clone();
    env.ide = "openvscode".into();
    let openvscode = IdeProgram {
        kind: "openvscode",
        dirs: ConfigDirs::under(&bin.path().join("config"), "openvscode"),
        ..code_server.clone()
    };
    std::fs::create_dir_all(&openvscode.dirs.root).expect("mkdir");
    let report = start_settled(&env, &openvscode).await;
    assert_eq!(report["extensions"]["state"], "done", "{report}");
    // The same kind with its folders in another volume too.
    let elsewhere = IdeProgram {
        dirs: ConfigDirs::under(&bin.path().join("volume-2"), "code-server"),
        ..code_server.clone()
    };
    std::fs::create_dir_all(&elsewhere.dirs.root).expect("mkdir");
    start_settled(&ws.env, &elsewhere).await;
    let each = [shown(&code_server), shown(&openvscode), shown(&elsewhere)];
    assert_eq!(folders(&ws), each);
    // Each folder's record holds for it.
    for program in [&code_server, &openvscode, &elsewhere] {
        start_settled(&ws.env, program).await;
    }
    assert_eq!(folders(&ws), each, "nothing installed again");

    // A record from before (one list, whatever the folder) reads, its steps kept;
    // its list counts for no folder: installed again (the IDE says it has it).
    let record = app.devcontainer().lock().places.clone().expect("read");
    let record = record.ide.file();
    let old = r#"{"done": ["postCreateCommand"], "extensions": ["acme.hello"]}"#;
    std::fs::write(&record, old).expect("write");
    let before = folders(&ws).len();
    let report = start_settled(&ws.env, &code_server).await;
    assert_eq!(report["steps"][0]["state"], "done", "{report}");
    assert_eq!(ws.read("order.txt").matches("post").count(), 1, "not again");
    assert_eq!(
        folders(&ws)[before..],
        [shown(&code_server)],
        "installed again"
    );
    let now: Value = serde_json::from_str(&text(&record)).expect("json");
    assert_eq!(
        now["installed"][shown(&code_server)],
        serde_json::json!(["acme.hello"])
    );
    assert_eq!(
        now["extensions"],
        Value::Null,
        "the old list dropped: {now}"
    );
}
