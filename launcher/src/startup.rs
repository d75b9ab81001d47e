//! Start-up, run beside the already-serving front: check out the repository, then
//! start the IDE, moving [`Readiness`](crate::ready::Readiness) through its phases.
//! Any failure parks the workspace in the failed phase with a classified error.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use dcs_model::LauncherEnv;
use tracing::{error, info};

use crate::app::App;
use crate::checkout::{self, Job, Outcome};
use crate::error::Error;
use crate::ide::{Ide, IdeContext};
use crate::ready::Phase;

/// Checks out, then starts `ide`. Returns early (leaving the phase as it is) once
/// `cancel` is set.
pub async fn start(env: LauncherEnv, app: Arc<App>, ide: Box<dyn Ide>, cancel: Arc<AtomicBool>) {
    let readiness = app.readiness();
    readiness.set_phase(Phase::Checkout);
    let job = Job::from_env(&env, cancel.clone());
    let folder = env.checkout_dir();
    let outcome = tokio::task::spawn_blocking(move || match job {
        Some(job) => checkout::checkout(&job),
        None => checkout::prepare_empty(&folder),
    })
    .await
    .unwrap_or_else(|e| Err(Error::Task(e.to_string())));
    match outcome {
        Ok(Outcome::UsedAsIs { warning }) => readiness.warn(warning),
        Ok(outcome) => info!(?outcome, "checkout done"),
        Err(err) => {
            error!(kind = ?err.failure_kind(), error = %err, "checkout failed");
            readiness.fail(&err);
            return;
        }
    }
    if cancel.load(Ordering::Relaxed) {
        return;
    }
    readiness.set_phase(Phase::StartingIde);
    let ctx = IdeContext::from_env(&env, app.drain());
    match ide.start(&ctx).await {
        Ok(running) => {
            if app.set_ide(running).is_err() {
                error!("an IDE was already running; keeping it");
            }
            info!(ide = ide.kind(), "IDE started; workspace ready");
            readiness.set_phase(Phase::Ready);
        }
        Err(err) => {
            error!(ide = ide.kind(), error = %err, "IDE failed to start");
            readiness.fail(&err);
        }
    }
}
