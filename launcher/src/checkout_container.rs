//! `dcs-launcher checkout`: the checkout container's whole life (Knative's init
//! container `checkout`). It clones or fetches exactly as a launcher does (checkout
//! lock, transfer child, git limits), with the operator's token, which is mounted
//! into this container only; records the outcome in `DCS_CHECKOUT_OUTCOME_FILE`; and
//! exits, so the workspace container starts. Its launcher replays the recorded
//! outcome instead of transferring (see [`crate::checkout::child`]), so the user's
//! processes never share a container with the token.
//!
//! A failed checkout still exits 0: the launcher reports the recorded failure
//! through `/_dcs/ready` (the proxy shows the matching page). Progress goes to this
//! container's log (`kubectl logs <pod> -c checkout`) while it runs.
//!
//! Nothing below the workspaces folder is followed if it is a link
//! ([`checkout::links`]; checked before the checkout lock is taken and again by the
//! transfer child under it), nor a `.git` that leads to another repository
//! ([`checkout::gitdir`]): this step runs outside the workspace, with the token.
//!
//! It never waits for history: the first open clones shallow, and every later start
//! fetches as a first open does ([`History::FirstOpen`]: a shallow checkout stays
//! shallow), so the workspace starts as fast as a fetch allows however large the
//! history. The rest of the history is fetched beside the running workspace by
//! `dcs-launcher checkout --history` ([`crate::checkout_history`]). The first start
//! that fetched leaves the roots as a hashed folder for the next ones' transfers
//! ([`crate::trust::make_folder_for_next_start`]).

use std::io::Write as _;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use dcs_model::LauncherEnv;
use tokio::task::JoinHandle;
use tracing::{error, info, warn};

use crate::checkout::protocol::{History, HISTORY_ENV};
use crate::checkout::run::Status;
use crate::checkout::watchdog::Limits;
use crate::checkout::{self, child, Job, Outcome};
use crate::ready::{Phase, Readiness};

/// How often progress is logged at most.
const LOG_EVERY: Duration = Duration::from_secs(2);

/// Checks out what `env` names and records the outcome; returns the exit status
/// (0 once the outcome is recorded, 1 if it cannot be, 2 without an outcome file).
pub async fn run(env: LauncherEnv) -> u8 {
    let Some(out) = env.checkout_outcome_file.clone() else {
        // Never `eprintln!`: it panics when stderr (a log on a full disk) fails.
        let _ = writeln!(
            std::io::stderr(),
            "dcs-launcher checkout: {} is required",
            dcs_model::env::DCS_CHECKOUT_OUTCOME_FILE
        );
        return 2;
    };
    let cancel = Arc::new(AtomicBool::new(false));
    // The proxy shows this clone's progress live (Knative: the pod is not routable
    // yet, so it is pushed; see `crate::progress_push`).
    let readiness = Arc::new(Readiness::new());
    readiness.set_phase(Phase::Checkout);
    let push = push_progress(&env, readiness.clone());
    let links = {
        let env = env.clone();
        tokio::task::spawn_blocking(move || checkout::links::refuse_links(&env))
            .await
            .unwrap_or_else(|e| Err(crate::error::Error::Task(e.to_string())))
    };
    let job = Job::from_env(&env, cancel).map(|job| Job {
        // Checked again by the transfer child, under the checkout lock.
        confined: Some(env.workspaces_dir.clone()),
        ..job
    });
    let result = match (links, job) {
        (Err(refused), _) => Err(refused),
        (Ok(()), Some(job)) => match child::transfer_program(&env).await {
            Ok(mut program) => {
                program
                    .env
                    .push((HISTORY_ENV.into(), History::FirstOpen.env_value().into()));
                let last = Mutex::new(None::<Instant>);
                let status = |s: Status| {
                    readiness.set_progress(Some(crate::startup::progress(&s, &job)));
                    log_progress(&last, s);
                };
                // Not `run`: its history fetch would die with this process.
                checkout::run::run_alone(&job, &program, Limits::from_env(&env), &status).await
            }
            Err(err) => Err(err),
        },
        (Ok(()), None) => checkout::prepare_empty_off_runtime(env.checkout_dir()).await,
    };
    if let Some(push) = push {
        // The workspace's launcher reports from here on (replaying the outcome).
        push.abort();
    }
    match &result {
        Ok(outcome) => info!(?outcome, "checkout done"),
        Err(err) => error!(kind = ?err.failure_kind(), error = %err, "checkout failed"),
    }
    let recorded = child::record(&out, &result);
    if env.repo.is_some() && matches!(result, Ok(Outcome::Fetched | Outcome::UsedAsIs { .. })) {
        // Later starts' transfers read the roots from the hashed folder (see
        // `trust::folder`): made by a start that fetched, not by the first open,
        // whose pod waits for this container.
        let (config, extra) = (env.config_dir(), env.extra_ca_file.clone());
        let _ = tokio::task::spawn_blocking(move || {
            crate::trust::make_folder_for_next_start(&config, extra.as_deref())
        })
        .await;
    }
    match recorded {
        Ok(()) => 0,
        Err(err) => {
            let _ = writeln!(
                std::io::stderr(),
                "dcs-launcher checkout: cannot record the outcome in {}: {err}",
                out.display()
            );
            1
        }
    }
}

/// Starts pushing `readiness` to `DCS_PROGRESS_URL` with the hop credential
/// (`DCS_HOP_SECRET_FILE`, loaded at start), when both are set; best effort.
fn push_progress(env: &LauncherEnv, readiness: Arc<Readiness>) -> Option<JoinHandle<()>> {
    let uri = env.progress_url.as_deref()?.parse::<http::Uri>().ok()?;
    let credential = crate::hop::installed();
    if credential.is_none() {
        warn!("no hop credential: the clone's progress is not pushed");
        return None;
    }
    Some(tokio::spawn(async move {
        crate::progress_push::follow(uri, credential, &readiness, || async { false }).await;
    }))
}

fn log_progress(last: &Mutex<Option<Instant>>, status: Status) {
    let mut last = last.lock().unwrap_or_else(PoisonError::into_inner);
    let now = Instant::now();
    if last.is_some_and(|at| now.duration_since(at) < LOG_EVERY) {
        return;
    }
    *last = Some(now);
    match status {
        Status::Waiting => info!("waiting for another workspace to finish its checkout"),
        Status::Transfer { op, counts } => info!(
            ?op,
            received_bytes = counts.bytes(),
            objects = counts.received_objects,
            total = counts.total_objects,
            "checking out"
        ),
    }
}
