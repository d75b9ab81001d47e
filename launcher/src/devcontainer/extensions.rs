//! `customizations.vscode.extensions`: installed by the IDE's own binary
//! (`code-server` or `openvscode-server` `--install-extension <id>`, with the
//! `--extensions-dir` and `--user-data-dir` the IDE runs with: [`IdeProgram`]), as
//! the lifecycle's first step once the checkout is allowed. They come from the IDE's
//! gallery: Open VSX by default, or what `EXTENSIONS_GALLERY` in the user's
//! environment names (an operator's mirror). The run is logged like a command; once it
//! succeeded, the ids are kept in `state.json` and installed again only when the
//! file's list changes. The IDE running sees them after a window reload: a notice
//! offers it.

use std::ffi::OsString;

use dcs_model::devcontainer::customizations::EXTENSIONS_KEY;
use dcs_model::devcontainer::Command;
use serde_json::{json, Value};

use super::lifecycle::After;
use super::run::{self, Ended, Job};
use super::{notice, Devcontainer, EnvChange, Inner, Loaded, Run};
use crate::app::App;
use crate::ide::program::IdeProgram;

/// Whether `loaded` names extensions not installed yet (in this or an earlier start).
pub(crate) fn wanted(inner: &Inner, loaded: &Loaded) -> bool {
    !loaded.extensions.is_empty() && !inner.saved.has_extensions(&loaded.extensions)
}

/// Installs `loaded`'s extensions with the IDE's binary; its output goes to the log.
pub(crate) async fn install(app: &App, loaded: &Loaded) -> Ended {
    let dc = app.devcontainer();
    let program = dc.lock().ide_program.clone();
    let header = format!("{EXTENSIONS_KEY}: {}", loaded.extensions.join(" "));
    let Some(command) = program
        .as_ref()
        .and_then(|p| command(p, &loaded.extensions))
    else {
        dc.log.mark(&header).await;
        let ended = Ended::NotStarted("the IDE's program is not known".to_owned());
        dc.log.mark(&ended.describe()).await;
        return ended;
    };
    // The IDE's environment: the file's variables and the IDE's trust bundle.
    let mut env = EnvChange::clone(&loaded.env);
    if let Some(program) = &program {
        let utf8 = |s: &OsString| s.to_str().map(str::to_owned);
        env.set.extend(
            program
                .env
                .iter()
                .filter_map(|(k, v)| Some((utf8(k)?, utf8(v)?))),
        );
    }
    let job = Job {
        cwd: &dc.checkout_dir,
        env: &env,
        log: dc.log.clone(),
        drain: app.drain(),
        activity: app.activity().clone(),
    };
    run::run(&header, "", &command, &job).await
}

/// The command line that installs `ids` with `program`.
fn command(program: &IdeProgram, ids: &[String]) -> Option<Command> {
    let args = program.install_extensions_args(ids)?;
    let mut argv = vec![program.program.to_str()?.to_owned()];
    for arg in args {
        argv.push(arg.into_string().ok()?);
    }
    Some(Command::Exec(argv))
}

/// Records how the install ended; on a failure the steps not done are skipped.
pub(crate) fn record(dc: &Devcontainer, loaded: &Loaded, ended: &Ended) -> After {
    let mut inner = dc.lock();
    if *ended == Ended::Stopped {
        inner.extensions = None;
        inner.running = false;
        return After::Stop;
    }
    if ended.ok() {
        inner.extensions = Some(Run::Done);
        inner.saved.extensions = loaded.extensions.clone();
        return After::Next { save: true };
    }
    inner.extensions = Some(Run::Failed(ended.clone()));
    for (step, _) in &loaded.commands {
        if !(step.once_per_checkout() && inner.saved.is_done(step.key())) {
            inner.runs.insert(*step, Run::Skipped);
        }
    }
    inner.running = false;
    After::Failed
}

/// Sets the notice of an install that ended as `ended` (and went on, or failed).
pub(crate) fn tell(app: &App, loaded: &Loaded, ended: &Ended) {
    if ended.ok() {
        app.notices().set(notice::extensions_installed());
    } else if *ended != Ended::Stopped {
        app.notices()
            .set(notice::extensions_failed(&loaded.extensions, ended));
    }
}

/// The status's `extensions`: `null` when none are installed here, else
/// `{"ids": [...], "state": …, "exit_code": …}`.
pub(crate) fn status(inner: &Inner, allowed: bool, loaded: &Loaded) -> Value {
    if loaded.extensions.is_empty() {
        return Value::Null;
    }
    let (state, exit_code) = if !wanted(inner, loaded) {
        ("done", Some(0))
    } else {
        super::status::run_state(inner.extensions.as_ref(), allowed)
    };
    json!({"ids": loaded.extensions, "state": state, "exit_code": exit_code})
}
