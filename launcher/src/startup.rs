//! Start-up, run beside the already-serving front: check out the repository, read
//! its `devcontainer.json` ([`crate::devcontainer`]: the working tree is there, and a
//! wake's fetch never changes it), then start the IDE, moving
//! [`Readiness`](crate::ready::Readiness) through its phases; once the IDE runs, the
//! file's lifecycle commands start in the background if the checkout is allowed.
//! Any failure parks the workspace in the failed phase with a classified error; a
//! checkout used as it is (not fetched) becomes a warning and a notice.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use dcs_model::LauncherEnv;
use tracing::{error, info, warn};

use crate::app::App;
use crate::checkout::run::Status;
use crate::checkout::watchdog::Limits;
use crate::checkout::{self, progress::Op, Job, Outcome};
use crate::error::Error;
use crate::ide::{Ide, IdeContext};
use crate::notices::{self, Notice};
use crate::ready::{Phase, Progress, Step};

/// Checks out, then starts `ide`; when the checkout exists already (a wake: its
/// fetch only moves remote-tracking refs, never the working tree) the IDE starts
/// beside the fetch, and the workspace is ready once both are done. Returns early
/// (leaving the phase as it is) once `cancel` is set.
pub async fn start(env: LauncherEnv, app: Arc<App>, ide: Box<dyn Ide>, cancel: Arc<AtomicBool>) {
    let readiness = app.readiness();
    readiness.set_phase(Phase::Checkout);
    // Before any user process: they all get its port.
    if let Some(socket) = &env.egress_socket {
        crate::egress::start(socket).await;
    }
    let folder = env.checkout_dir();
    let wake = env.repo.is_some()
        && tokio::fs::try_exists(folder.join(".git"))
            .await
            .unwrap_or(false);
    let started = if wake {
        let fetched = async {
            let ok = checkout(&env, &app, &cancel).await;
            if ok && readiness.phase() == Phase::Checkout {
                readiness.set_phase(Phase::StartingIde);
            }
            ok
        };
        let starting = async {
            trust_for_users(&env).await;
            start_ide(&env, &app, ide.as_ref(), true).await
        };
        let (checked, started) = tokio::join!(fetched, starting);
        if !checked || cancel.load(Ordering::Relaxed) {
            if let Ok(running) = started {
                running.stop(std::time::Duration::from_secs(2)).await;
            }
            return;
        }
        started
    } else {
        // What the user's processes trust is written beside the clone, not after it.
        let (checked, ()) = tokio::join!(checkout(&env, &app, &cancel), trust_for_users(&env));
        if !checked || cancel.load(Ordering::Relaxed) {
            return;
        }
        start_ide(&env, &app, ide.as_ref(), false).await
    };
    match started {
        Ok(running) => {
            if app.set_ide(running).is_err() {
                error!("an IDE was already running; keeping it");
            }
            // Its own terminals (VS Code's) are watched work as this launcher's are.
            tokio::spawn(crate::activity::ide_terminals::watch(app.clone()));
            info!(ide = ide.kind(), "IDE started; workspace ready");
            readiness.set_phase(Phase::Ready);
            // In the background: readiness never waits for it.
            crate::devcontainer::ide_started(&app);
            if env.repo.is_some() && env.checkout_outcome_file.is_none() {
                let (config, extra) = (env.config_dir(), env.extra_ca_file.clone());
                // Nobody waits for it: at a lower priority than the IDE's start.
                crate::background::spawn_blocking("trust-folder", move || {
                    crate::trust::make_folder_for_next_start(&config, extra.as_deref())
                });
            }
        }
        Err(err) => {
            error!(ide = ide.kind(), error = %err, "IDE failed to start");
            readiness.fail(&err);
            crate::failed_start::end_if_knative(&err.to_string()).await;
        }
    }
}

/// The checkout `env` asks for, its progress in the readiness report; `false` when
/// it failed (the workspace is then parked in the failed phase).
async fn checkout(env: &LauncherEnv, app: &App, cancel: &Arc<AtomicBool>) -> bool {
    let readiness = app.readiness();
    let outcome = match Job::from_env(env, cancel.clone()) {
        Some(job) => {
            let status = |s: Status| readiness.set_progress(Some(progress(&s, &job)));
            let limits = Limits::from_env(env);
            // The child gets the launcher's trust bundle (see `checkout::child`).
            match checkout::child::program(env).await {
                Ok(program) => checkout::run::run(&job, &program, limits, &status).await,
                Err(err) => Err(err),
            }
        }
        None => checkout::prepare_empty_off_runtime(env.checkout_dir()).await,
    };
    readiness.set_progress(None);
    match outcome {
        Ok(Outcome::UsedAsIs { warning }) => {
            app.notices()
                .set(Notice::warning(notices::CHECKOUT, warning.clone()));
            readiness.warn(warning);
            true
        }
        Ok(outcome) => {
            info!(?outcome, "checkout done");
            true
        }
        Err(err) => {
            error!(kind = ?err.failure_kind(), error = %err, "checkout failed");
            readiness.fail(&err);
            crate::failed_start::end_if_knative(&err.to_string()).await;
            false
        }
    }
}

/// Writes what the user's processes trust (the IDE's, its terminals'), before the IDE
/// starts.
async fn trust_for_users(env: &LauncherEnv) {
    match crate::trust::for_users::prepare(env.config_dir(), env.extra_ca_file.clone()).await {
        Ok(file) => info!(file = %file.display(), "trusted certificates for the workspace"),
        Err(e) => warn!(error = %e, "no trust bundle for the workspace's processes"),
    }
}

/// The IDE, once [`trust_for_users`] is done (`beside_checkout`: while the
/// checkout's fetch still runs, whose phase the readiness report keeps showing), with
/// the checkout's `devcontainer.json` read first.
async fn start_ide(
    env: &LauncherEnv,
    app: &Arc<App>,
    ide: &dyn Ide,
    beside_checkout: bool,
) -> Result<Box<dyn crate::ide::RunningIde>, Error> {
    if !beside_checkout {
        app.readiness().set_phase(Phase::StartingIde);
    }
    let mut ctx = IdeContext::from_env(env, app.drain());
    ctx.devcontainer_env = crate::devcontainer::prepare(app).await;
    ctx.on_program = crate::ide::program::OnProgram::new({
        let app = app.clone();
        move |program| crate::devcontainer::ide_program(&app, program)
    });
    ctx.on_install = crate::ide::OnInstall::new({
        let app = app.clone();
        move || app.readiness().installing_ide()
    });
    ide.start(&ctx).await
}

/// The readiness form of a checkout status (also the checkout container's).
pub(crate) fn progress(status: &Status, job: &Job) -> Progress {
    match status {
        Status::Waiting => Progress {
            phase: Step::Waiting,
            received_bytes: 0,
            objects_done: 0,
            objects_total: 0,
            objects_indexed: 0,
            note: Some(format!(
                "waiting for another workspace to finish checking out {} into {}",
                job.repo,
                job.target.display()
            )),
        },
        Status::Transfer { op, counts } => Progress {
            phase: match op {
                Op::Clone => Step::Clone,
                Op::Fetch => Step::Fetch,
            },
            received_bytes: counts.bytes(),
            objects_done: counts.received_objects,
            objects_total: counts.total_objects,
            objects_indexed: counts.indexed_objects,
            note: None,
        },
    }
}
