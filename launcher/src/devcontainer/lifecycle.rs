//! The lifecycle, once the checkout is allowed and the IDE has started, in the
//! background (readiness never waits for it): first the extensions the file names
//! not installed before (a failed one holds up nothing: [`super::extensions`]); the
//! once-per-checkout steps not yet
//! done (`onCreateCommand`, `updateContentCommand`, `postCreateCommand`), in order,
//! each recorded as done once it succeeded, one launcher on the checkout at a time
//! ([`super::once`]); then `postStartCommand`, once per start.
//! The first failure stops it (later steps are skipped) until the user runs it again
//! (`POST /_dcs/devcontainer/allow`), from the failed step. An object's named
//! commands run in parallel; the step fails if any of them does.
//!
//! While a step prints or uses CPU it is watched work for the idle clock (bounded by
//! the busy limit: [`super::work`]), so a long `npm ci` is not stopped half-way
//! while nobody types; a silent one (a dev server up and waiting) holds nothing.
//! The notice says what runs, what failed (with the log and "Run again"), and goes
//! once all is done.

use std::sync::Arc;

use dcs_model::devcontainer::{Command, Step};

use super::run::{self, Ended, Job};
use super::{extensions, notice, once, Found, Inner, Loaded, Run};
use crate::app::App;

/// Starts the lifecycle in the background if the checkout is allowed, the IDE has
/// started, nothing runs yet and something is left to run; returns whether it did.
pub fn start(app: &Arc<App>) -> bool {
    let dc = app.devcontainer();
    let loaded = {
        let mut inner = dc.lock();
        if inner.running || !inner.ide_started || !dc.allowed(&inner) {
            return false;
        }
        let Found::Usable(loaded) = &inner.found else {
            return false;
        };
        let loaded = loaded.clone();
        if next(&inner, &loaded).is_none() {
            return false;
        }
        inner.running = true;
        loaded
    };
    tokio::spawn(run_all(app.clone(), loaded));
    true
}

/// What runs next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Next {
    /// The extensions are installed.
    Extensions,
    /// The step `loaded.commands[i]` runs.
    Step(usize),
}

/// What runs next; `None` when all is done or something failed.
pub(crate) fn next(inner: &Inner, loaded: &Loaded) -> Option<Next> {
    if extensions::wanted(inner, loaded) {
        match inner.extensions {
            None => return Some(Next::Extensions),
            Some(Run::Done) => {}
            Some(_) => return None,
        }
    }
    for (i, (step, _)) in loaded.commands.iter().enumerate() {
        if step.once_per_checkout() && inner.saved.is_done(step.key()) {
            continue;
        }
        match inner.runs.get(step) {
            None => return Some(Next::Step(i)),
            Some(Run::Done) => continue,
            Some(_) => return None,
        }
    }
    None
}

/// Whether a step (or the extensions' install) failed in this start.
pub(crate) fn failed(inner: &Inner) -> bool {
    let failure = |r: &Run| matches!(r, Run::Failed(_));
    inner.runs.values().any(failure) || inner.extensions.as_ref().is_some_and(failure)
}

/// Forgets this start's failed and skipped steps, so they run again.
pub(crate) fn forget_failure(inner: &mut Inner) {
    inner
        .runs
        .retain(|_, r| !matches!(r, Run::Failed(_) | Run::Skipped));
    if matches!(inner.extensions, Some(Run::Failed(_) | Run::Skipped)) {
        inner.extensions = None;
    }
}

async fn run_all(app: Arc<App>, loaded: Arc<Loaded>) {
    let dc = app.devcontainer();
    // The once-per-checkout steps, one launcher on the checkout at a time.
    let mut held = once::Hold::Free;
    loop {
        if !once::hold(&app, &loaded, &mut held).await {
            return;
        }
        let next = {
            let mut inner = dc.lock();
            let next = next(&inner, &loaded);
            if !held.covers(&loaded, next) {
                continue;
            }
            match next {
                Some(Next::Step(i)) => {
                    inner.runs.insert(loaded.commands[i].0, Run::Running);
                    Next::Step(i)
                }
                Some(Next::Extensions) => {
                    inner.extensions = Some(Run::Running);
                    Next::Extensions
                }
                None => {
                    inner.running = false;
                    break;
                }
            }
        };
        let i = match next {
            Next::Step(i) => i,
            Next::Extensions => {
                let missing = extensions::missing(&dc.lock(), &loaded);
                app.notices().set(notice::installing_extensions(&missing));
                let installed = extensions::install(&app, &loaded).await;
                let after = extensions::record(dc, &loaded, &installed);
                extensions::tell(&app, &installed);
                match after {
                    After::Next { save } if save => dc.save().await,
                    After::Next { .. } => {}
                    After::Stop | After::Failed => return,
                }
                continue;
            }
        };
        let (step, command) = &loaded.commands[i];
        let original = loaded
            .config
            .steps
            .iter()
            .find(|(s, _)| s == step)
            .map_or(command, |(_, c)| c);
        app.notices()
            .set(notice::running(*step, &original.summary()));
        let ended = run_step(&app, &loaded, *step, command, original).await;
        match record(dc, &loaded, i, &ended) {
            After::Next { save } => {
                if save {
                    dc.save().await;
                }
            }
            After::Stop => return,
            After::Failed => {
                app.notices().set(notice::failed(*step, &ended));
                return;
            }
        }
    }
    app.notices().clear(notice::ID);
}

/// What the lifecycle does after a step.
pub(crate) enum After {
    /// Goes on (after keeping the state, if `save`).
    Next { save: bool },
    /// Ends: the workspace is stopping.
    Stop,
    /// Ends: the step failed.
    Failed,
}

/// Records how the step `loaded.commands[i]` ended.
fn record(dc: &super::Devcontainer, loaded: &Loaded, i: usize, ended: &Ended) -> After {
    let step = loaded.commands[i].0;
    let mut inner = dc.lock();
    if *ended == Ended::Stopped {
        inner.runs.remove(&step);
        inner.running = false;
        return After::Stop;
    }
    if ended.ok() {
        inner.runs.insert(step, Run::Done);
        if step.once_per_checkout() {
            inner.saved.mark_done(step.key());
        }
        return After::Next {
            save: step.once_per_checkout(),
        };
    }
    inner.runs.insert(step, Run::Failed(ended.clone()));
    for (later, _) in &loaded.commands[i + 1..] {
        if !(later.once_per_checkout() && inner.saved.is_done(later.key())) {
            inner.runs.insert(*later, Run::Skipped);
        }
    }
    inner.running = false;
    After::Failed
}

/// Runs one step's `command` (`original`: as written, for the log's headers).
async fn run_step(
    app: &App,
    loaded: &Loaded,
    step: Step,
    command: &Command,
    original: &Command,
) -> Ended {
    let dc = app.devcontainer();
    let job = Job {
        cwd: &dc.checkout_dir,
        env: &loaded.env,
        log: dc.log.clone(),
        drain: app.drain(),
        activity: app.activity().clone(),
        // A lifecycle command may run as long as it takes (a server, a long build).
        limit: None,
    };
    let Command::Parallel(members) = command else {
        let header = format!("{}: {}", step.key(), original.summary());
        return run::run(&header, "", command, &job).await;
    };
    let originals = match original {
        Command::Parallel(members) => members.as_slice(),
        _ => &[],
    };
    let runs = members.iter().enumerate().map(|(k, (name, member))| {
        let shown = originals
            .get(k)
            .map_or_else(|| member.summary(), |(_, m)| m.summary());
        let name = dcs_model::text::one_line(name, 64);
        let header = format!("{} ({name}): {shown}", step.key());
        let prefix = format!("{} ({name}): ", step.key());
        let job = &job;
        async move { run::run(&header, &prefix, member, job).await }
    });
    let ended = futures_util::future::join_all(runs).await;
    if ended.contains(&Ended::Stopped) {
        return Ended::Stopped;
    }
    ended
        .into_iter()
        .find(|e| !e.ok())
        .unwrap_or(Ended::Exit(0))
}
