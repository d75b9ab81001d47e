//! Asking a launcher whether it is ready: `GET /_dcs/ready` over a fresh connection
//! (TCP, or the unix socket of a sandboxed launcher), with the workspace's hop
//! credential (without it a launcher answers only a bare status code). The report's
//! phase and clone figures become the start's [`Progress`] (see [`crate::progress`]).

use std::time::Duration;

use bytes::Bytes;
use dcs_model::api::{Progress, StartPhase};
use http_body_util::{BodyExt, Empty, Limited};
use serde::Deserialize;

use crate::error::StartFailure;
use crate::runtime::Upstream;

/// The launcher's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    /// Serving.
    Ready,
    /// Still working (checkout, IDE start), or not answering yet.
    NotYet,
    /// It cannot serve this workspace.
    Failed {
        /// Failure class.
        kind: StartFailure,
        /// Readable message.
        message: String,
    },
}

/// A launcher's readiness report: the JSON of its `/_dcs/ready`, asked for by the
/// local runtime or pushed by a Knative launcher ([`crate::progress::push`]).
#[derive(Deserialize)]
pub struct Report {
    ready: bool,
    error: Option<ReportError>,
    /// `checkout`, `starting_ide`, `ready`, `failed` (older launchers: absent).
    #[serde(default)]
    phase: Option<String>,
    /// The checkout's figures while it runs.
    #[serde(default)]
    progress: Option<CheckoutProgress>,
}

/// The launcher's `progress` while it checks out.
#[derive(Deserialize)]
struct CheckoutProgress {
    #[serde(default)]
    received_bytes: u64,
    #[serde(default)]
    objects_done: u64,
    #[serde(default)]
    objects_total: u64,
    #[serde(default)]
    note: Option<String>,
}

impl Report {
    /// Whether this is the start's final state: ready, or failed.
    pub fn is_final(&self) -> bool {
        self.ready || self.error.is_some() || self.phase.as_deref() == Some("failed")
    }

    /// What a pushed report records ([`crate::progress::push`]): nothing once
    /// ready (what was recorded is cleared), the failure with its reason and what
    /// to do, else the progress (`None` for an older launcher's).
    pub fn pushed(&self) -> Option<crate::progress::push::Pushed> {
        use crate::progress::push::Pushed;
        if self.ready {
            return None;
        }
        let failure = match &self.error {
            Some(e) => Some((e.kind, e.message.clone())),
            None if self.phase.as_deref() == Some("failed") => Some((
                StartFailure::Other,
                "the workspace's launcher reported a failure".to_owned(),
            )),
            None => None,
        };
        if let Some((kind, message)) = failure {
            let err = crate::error::Error::StartFailed { kind, message };
            return Some(Pushed {
                progress: crate::progress::failed(&err),
                failure: Some(kind),
            });
        }
        self.progress().map(|progress| Pushed {
            progress,
            failure: None,
        })
    }

    /// The start's progress this report tells (failures are the start's outcome).
    pub fn progress(&self) -> Option<Progress> {
        let phase = self.phase.as_deref()?;
        Some(match phase {
            "checkout" => match &self.progress {
                Some(c) => Progress {
                    message: c.note.clone(),
                    ..Progress::cloning(c.objects_done, c.objects_total, c.received_bytes)
                },
                None => Progress::at(StartPhase::Cloning),
            },
            "installing_ide" => Progress::at(StartPhase::IdeInstalling),
            "starting_ide" => Progress::at(StartPhase::IdeStarting),
            "ready" if self.ready => Progress::at(StartPhase::Ready),
            "ready" => Progress::at(StartPhase::IdeStarting),
            _ => return None,
        })
    }
}

#[derive(Deserialize)]
struct ReportError {
    kind: StartFailure,
    message: String,
}

/// One readiness probe of `up`, bounded by `timeout`.
pub async fn probe(up: &Upstream, timeout: Duration) -> Readiness {
    probe_with_progress(up, timeout).await.0
}

/// One readiness probe of `up`, bounded by `timeout`, with the progress the
/// launcher reports (none when it does not answer yet).
pub async fn probe_with_progress(
    up: &Upstream,
    timeout: Duration,
) -> (Readiness, Option<Progress>) {
    let report = tokio::time::timeout(timeout, fetch(up))
        .await
        .ok()
        .flatten();
    let progress = report.as_ref().and_then(Report::progress);
    (readiness(report), progress)
}

fn readiness(report: Option<Report>) -> Readiness {
    match report {
        Some(report) => match (report.ready, report.error) {
            (true, _) => Readiness::Ready,
            (false, Some(e)) => Readiness::Failed {
                kind: e.kind,
                message: e.message,
            },
            (false, None) => Readiness::NotYet,
        },
        None => Readiness::NotYet,
    }
}

async fn fetch(up: &Upstream) -> Option<Report> {
    let mut req = http::Request::get("/_dcs/ready")
        .header(http::header::HOST, &up.authority)
        .header(http::header::ACCEPT, "application/json")
        .body(Empty::<Bytes>::new())
        .ok()?;
    crate::hop::insert(req.headers_mut(), up.hop.as_ref());
    let resp = match &up.socket {
        Some(socket) => send(tokio::net::UnixStream::connect(socket).await.ok()?, req).await?,
        None => {
            send(
                tokio::net::TcpStream::connect(&up.authority).await.ok()?,
                req,
            )
            .await?
        }
    };
    let body = Limited::new(resp.into_body(), 64 * 1024)
        .collect()
        .await
        .ok()?
        .to_bytes();
    serde_json::from_slice(&body).ok()
}

async fn send<S>(
    stream: S,
    req: http::Request<Empty<Bytes>>,
) -> Option<http::Response<hyper::body::Incoming>>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .ok()?;
    tokio::spawn(conn);
    sender.send_request(req).await.ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn progress_of(json: serde_json::Value) -> Option<Progress> {
        serde_json::from_value::<Report>(json)
            .expect("report")
            .progress()
    }

    #[test]
    fn the_launchers_report_becomes_the_starts_progress() {
        let cloning = progress_of(serde_json::json!({
            "phase": "checkout", "ready": false, "error": null,
            "progress": {"phase": "clone", "received_bytes": 4096, "objects_done": 5,
                         "objects_total": 20, "objects_indexed": 0, "note": null},
        }))
        .expect("progress");
        assert_eq!(
            (cloning.phase, cloning.percent),
            (StartPhase::Cloning, Some(25))
        );
        assert_eq!(cloning.bytes, Some(4096));
        let ide = progress_of(serde_json::json!({"phase": "starting_ide", "ready": false}));
        assert_eq!(ide.map(|p| p.phase), Some(StartPhase::IdeStarting));
        assert_eq!(
            progress_of(serde_json::json!({"ready": false})),
            None,
            "an older launcher"
        );
        let failed = progress_of(serde_json::json!({"phase": "failed", "ready": false}));
        assert_eq!(failed, None, "a failure is the start's outcome");
    }
}
