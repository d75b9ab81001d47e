//! Whether a workspace's route answers: `GET /_dcs/ready` through the Knative
//! networking layer, as the proxy's own requests will go.
//!
//! A Knative Service gets its route and DNS name only once its first revision
//! is Ready, and an ingress may take a moment more to program it; meanwhile a
//! request fails to resolve, or the ingress answers an empty `404` or a `503`.
//! None of that is the workspace's answer: only the launcher's JSON report is.
//! One request per attempt, over a new connection (so a fresh DNS lookup), with
//! backoff between attempts; the caller bounds the whole.

use std::time::Duration;

use bytes::Bytes;
use serde::Deserialize;
use tracing::debug;

use crate::error::{Error, StartFailure};
use crate::runtime::Upstream;

/// Longest wait for one answer.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// First pause between attempts; doubled up to [`MAX_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(100);
/// Longest pause between attempts.
const MAX_PAUSE: Duration = Duration::from_secs(2);

/// What one look through the route found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// The launcher answered: ready.
    Ready,
    /// No answer from the workspace yet (why, for the log).
    NotYet(String),
    /// The launcher answered that it cannot serve this workspace.
    Failed {
        /// Failure class.
        kind: StartFailure,
        /// Readable message.
        message: String,
    },
}

#[derive(Deserialize)]
struct Report {
    ready: bool,
    error: Option<ReportError>,
}

#[derive(Deserialize)]
struct ReportError {
    kind: StartFailure,
    message: String,
}

/// One `GET /_dcs/ready` through `up`.
pub async fn probe(up: &Upstream) -> Answer {
    match tokio::time::timeout(ATTEMPT_TIMEOUT, fetch(up)).await {
        Err(_) => Answer::NotYet("no answer in time".into()),
        Ok(Err(why)) => Answer::NotYet(why),
        Ok(Ok((status, body))) => match serde_json::from_slice::<Report>(&body) {
            Ok(Report { ready: true, .. }) if status == http::StatusCode::OK => Answer::Ready,
            Ok(Report {
                error: Some(e),
                ready: false,
            }) => Answer::Failed {
                kind: e.kind,
                message: e.message,
            },
            Ok(_) => Answer::NotYet("the workspace is starting".into()),
            Err(_) => Answer::NotYet(format!("the route answers {status}, not the workspace")),
        },
    }
}

async fn fetch(up: &Upstream) -> Result<(http::StatusCode, Bytes), String> {
    let answer =
        crate::hop::ask::ask(up, http::Method::GET, dcs_model::plumbing::READY, None).await?;
    Ok((answer.status, answer.body))
}

/// Probes until the workspace answers through its route (ready, or failed),
/// pausing with backoff in between. Runs until then: the caller bounds it.
pub async fn until_answered(up: &Upstream) -> Result<(), Error> {
    let mut pause = FIRST_PAUSE;
    let mut attempts = 0u32;
    loop {
        attempts += 1;
        match probe(up).await {
            Answer::Ready => {
                debug!(upstream = %up.authority, attempts, "the workspace answers through its route");
                return Ok(());
            }
            Answer::Failed { kind, message } => return Err(Error::StartFailed { kind, message }),
            Answer::NotYet(why) => {
                debug!(upstream = %up.authority, attempts, %why, "route not answering yet");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(MAX_PAUSE);
            }
        }
    }
}
