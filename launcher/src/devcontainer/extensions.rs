//! `customizations.vscode.extensions`: installed by the IDE's own binary
//! (`code-server` or `openvscode-server` `--install-extension <id>`, with the
//! `--extensions-dir` and `--user-data-dir` the IDE runs with: [`IdeProgram`]), as
//! the lifecycle's first step once the checkout is allowed. They come from the IDE's
//! gallery: Open VSX by default, or what `EXTENSIONS_GALLERY` in the user's
//! environment names (an operator's mirror). Each id is installed by its own run
//! (the IDE's binary exits 1 when any id of a run fails), logged like a command, one
//! run at a time in the extensions folder ([`lock`]: other workspaces share it); the
//! ids that installed are kept in `state.json` for the extensions folder they went to
//! ([`folder_key`]) and not installed into it again (an IDE of another kind, or in
//! another config volume, has a folder of its own and gets them too). An id that
//! fails (not in the gallery, network down) never holds up the lifecycle commands:
//! they run anyway, the status and a notice name the failed ids, and Run again (or
//! the next start) retries only those. The IDE running sees new extensions after a
//! window reload: a notice offers it.

pub mod lock;

use std::ffi::OsString;
use std::path::Path;

use dcs_model::devcontainer::customizations::EXTENSIONS_KEY;
use dcs_model::devcontainer::Command;
use serde_json::{json, Value};

use super::lifecycle::After;
use super::run::{self, Ended, Job};
use super::{notice, Devcontainer, EnvChange, Inner, Loaded, Run};
use crate::app::App;
use crate::ide::program::IdeProgram;

/// The key of the extensions folder `folder` in the record ([`super::saved::Saved`]'s
/// `extensions`): its path, as the IDE is given it.
pub fn folder_key(folder: &Path) -> String {
    folder.to_string_lossy().into_owned()
}

/// The key of the folder this start's IDE installs extensions into; `None` before
/// the IDE's program is known.
fn folder(inner: &Inner) -> Option<String> {
    let program = inner.ide_program.as_ref()?;
    Some(folder_key(&program.dirs.extensions))
}

/// How long one extension's install may take before it is killed (and counted as
/// failed): it holds the extensions folder's lock, which every other workspace of
/// the user sharing the folder waits for, and a download from a gallery that stopped
/// answering would otherwise hold it until this workspace stops.
pub const INSTALL_LIMIT: std::time::Duration = std::time::Duration::from_secs(600);

/// The ids of `loaded` not installed yet into this start's IDE's extensions folder
/// (in this or an earlier start; all of them while the folder is not known).
pub(crate) fn missing(inner: &Inner, loaded: &Loaded) -> Vec<String> {
    let folder = folder(inner);
    loaded
        .extensions
        .iter()
        .filter(|id| {
            folder
                .as_deref()
                .is_none_or(|f| !inner.saved.is_installed(f, id))
        })
        .cloned()
        .collect()
}

/// Whether this start still has extensions to install: some are missing and this
/// start's install has not failed (a failure waits for Run again or the next start).
pub(crate) fn wanted(inner: &Inner, loaded: &Loaded) -> bool {
    !matches!(inner.extensions, Some(Run::Failed(_))) && !missing(inner, loaded).is_empty()
}

/// How an install of the missing ids ended.
#[derive(Debug, Default)]
pub(crate) struct Installed {
    /// The ids that installed.
    pub done: Vec<String>,
    /// The ids that failed.
    pub failed: Vec<String>,
    /// How the first of them failed.
    pub first_failure: Option<Ended>,
    /// The workspace stopped during the install.
    pub stopped: bool,
}

/// Installs `loaded`'s missing extensions with the IDE's binary, one run per id so
/// one failing id does not fail the others; the output goes to the log.
pub(crate) async fn install(app: &App, loaded: &Loaded) -> Installed {
    let dc = app.devcontainer();
    let (program, ids) = {
        let inner = dc.lock();
        (inner.ide_program.clone(), missing(&inner, loaded))
    };
    let mut out = Installed::default();
    for id in ids {
        let ended = install_one(app, loaded, program.as_ref(), &id).await;
        if ended == Ended::Stopped {
            out.stopped = true;
            break;
        }
        if ended.ok() {
            out.done.push(id);
        } else {
            out.failed.push(id);
            out.first_failure.get_or_insert(ended);
        }
    }
    out
}

/// Installs one extension `id` with `program`.
async fn install_one(app: &App, loaded: &Loaded, program: Option<&IdeProgram>, id: &str) -> Ended {
    let dc = app.devcontainer();
    let header = format!("{EXTENSIONS_KEY}: {id}");
    let Some((program, command)) = program.and_then(|p| Some((p, command(p, id)?))) else {
        dc.log.mark(&header).await;
        let ended = Ended::NotStarted("the IDE's program is not known".to_owned());
        dc.log.mark(&ended.describe()).await;
        return ended;
    };
    // One run at a time in the folder; let go when this run ends, however it ends.
    let _held = match lock::hold(app, &program.dirs.extensions).await {
        lock::Held::Stopped => return Ended::Stopped,
        held => held,
    };
    // The IDE's environment: the file's variables and the IDE's trust bundle.
    let mut env = EnvChange::clone(&loaded.env);
    let utf8 = |s: &OsString| s.to_str().map(str::to_owned);
    env.set.extend(
        program
            .env
            .iter()
            .filter_map(|(k, v)| Some((utf8(k)?, utf8(v)?))),
    );
    // In the IDE's own folder, never the checkout: an argument the IDE would take
    // for a file (`*.vsix`, refused by the model too) must find none of the
    // repository's.
    let job = Job {
        cwd: &program.dirs.root,
        env: &env,
        log: dc.log.clone(),
        drain: app.drain(),
        activity: app.activity().clone(),
        // It holds the folder's lock, which the user's other workspaces wait for.
        limit: Some(INSTALL_LIMIT),
    };
    run::run(&header, "", &command, &job).await
}

/// The command line that installs `id` with `program`.
fn command(program: &IdeProgram, id: &str) -> Option<Command> {
    let args = program.install_extensions_args(&[id.to_owned()])?;
    let mut argv = vec![program.program.to_str()?.to_owned()];
    for arg in args {
        argv.push(arg.into_string().ok()?);
    }
    Some(Command::Exec(argv))
}

/// Records how the install ended: the ids that installed are kept for the folder they
/// went to; failed ones are told, and the steps go on either way.
pub(crate) fn record(dc: &Devcontainer, loaded: &Loaded, out: &Installed) -> After {
    let mut inner = dc.lock();
    let mut save = false;
    if let Some(folder) = folder(&inner) {
        // Kept: the ids of the file's list installed before into this folder, and
        // those installed now (other folders' records are theirs).
        let before = inner.saved.installed_in(&folder);
        let mut kept: Vec<String> = before
            .iter()
            .filter(|done| {
                loaded
                    .extensions
                    .iter()
                    .any(|id| id.eq_ignore_ascii_case(done))
            })
            .cloned()
            .collect();
        kept.extend(out.done.iter().cloned());
        save = kept != before;
        inner.saved.set_installed(&folder, kept);
    }
    if out.stopped {
        inner.extensions = None;
        inner.running = false;
        return After::Stop;
    }
    inner.extensions = Some(match &out.first_failure {
        Some(ended) => Run::Failed(ended.clone()),
        None => Run::Done,
    });
    After::Next { save }
}

/// Sets the notice of an install that ended as `out` says.
pub(crate) fn tell(app: &App, out: &Installed) {
    if out.stopped {
        return;
    }
    match &out.first_failure {
        Some(ended) => app.notices().set(notice::extensions_failed(
            &out.failed,
            ended,
            !out.done.is_empty(),
        )),
        None if !out.done.is_empty() => app.notices().set(notice::extensions_installed()),
        None => {}
    }
}

/// The status's `extensions`: `null` when none are installed here, else
/// `{"ids": [...], "state": …, "exit_code": …}`, with `"failed": [...]` (the ids not
/// installed) when the state is `failed`.
pub(crate) fn status(inner: &Inner, allowed: bool, loaded: &Loaded) -> Value {
    if loaded.extensions.is_empty() {
        return Value::Null;
    }
    let missing = missing(inner, loaded);
    let (state, exit_code) = if missing.is_empty() {
        ("done", Some(0))
    } else {
        super::status::run_state(inner.extensions.as_ref(), allowed)
    };
    let mut out = json!({"ids": loaded.extensions, "state": state, "exit_code": exit_code});
    if state == "failed" {
        out["failed"] = json!(missing);
    }
    out
}
