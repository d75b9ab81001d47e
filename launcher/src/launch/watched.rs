//! The start-up task, watched: a start that ends without the workspace being ready
//! or failed (it panicked: a bug, or a write that could not be made) moves the
//! workspace to the failed phase with the reason, "the start stopped: <why>".
//! Unwatched, such a start died silently and `/_dcs/ready` kept its last phase
//! (`checkout`) until the proxy's start limit ran out, ~40 minutes later; now the
//! proxy's progress page shows the reason at once and the next open starts afresh
//! (under Knative the launcher ends with it, as any failed start does).
//!
//! A start that returns early because the launcher is stopping (`cancel` set) is
//! not a failure.

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use futures_util::FutureExt as _;
use tracing::error;

use crate::app::App;
use crate::error::Error;
use crate::ready::Phase;

/// Runs `start`; if it panics, or returns while the workspace is neither ready nor
/// failed (and the launcher is not stopping), fails the workspace saying why.
pub async fn watched(start: impl Future<Output = ()>, app: Arc<App>, cancel: Arc<AtomicBool>) {
    let result = AssertUnwindSafe(start)
        .catch_unwind()
        .await
        .map_err(|panic| panic_message(panic.as_ref()));
    let readiness = app.readiness();
    match ending(result, cancel.load(Ordering::Relaxed), readiness.phase()) {
        Ending::Done => {}
        Ending::DiedAfter(why) => error!(%why, "the start-up task died after the start ended"),
        Ending::Failed(why) => {
            let err = Error::Task(format!("the start stopped: {why}"));
            error!(error = %err, "start-up failed");
            readiness.fail(&err);
            crate::failed_start::end_if_knative(&err.to_string()).await;
        }
    }
}

/// What the end of a start means.
#[derive(Debug, PartialEq, Eq)]
enum Ending {
    /// It ended as starts do: the workspace is ready or failed, or the launcher stops.
    Done,
    /// It panicked after the workspace was ready or failed (logged, nothing else).
    DiedAfter(String),
    /// It ended (returned or panicked) with the workspace neither: the start failed.
    Failed(String),
}

/// The ending of a start that returned (`Ok`) or panicked (`Err`, what it said),
/// with the launcher `stopping` or not and the workspace in `phase`.
fn ending(result: Result<(), String>, stopping: bool, phase: Phase) -> Ending {
    let settled = matches!(phase, Phase::Ready | Phase::Failed);
    match result {
        Ok(()) if stopping || settled => Ending::Done,
        Ok(()) => Ending::Failed("it ended before the workspace was ready".to_owned()),
        Err(why) if settled => Ending::DiedAfter(why),
        Err(why) => Ending::Failed(why),
    }
}

/// What a panic said (its `&str` or `String` payload).
fn panic_message(panic: &(dyn Any + Send)) -> String {
    match (panic.downcast_ref::<&str>(), panic.downcast_ref::<String>()) {
        (Some(said), _) => (*said).to_owned(),
        (None, Some(said)) => said.clone(),
        (None, None) => "it panicked".to_owned(),
    }
}

#[cfg(test)]
mod tests;
