//! Asking a launcher whether it is ready: `GET /_dcs/ready?wait=<ms>`, a question of
//! its own over the authenticated hop ([`crate::hop::ask`]). The launcher holds the
//! answer until its start moves on or the wait passed (and says so in
//! [`dcs_model::env::READY_WAIT_HEADER`]), so readiness is seen the moment it comes.
//! The report's phase and clone figures become the start's [`Progress`] (see
//! [`crate::progress`]).
//!
//! A report's text (a failure's message, the checkout's note) is the workspace's to
//! write (its user can push a report with the hop credential their workspace
//! holds): it is read with control characters as spaces ([`one_line`]), so what is
//! kept, shown and logged of it is one line that cannot drive a terminal.

use std::time::Duration;

use dcs_model::api::{Progress, StartPhase};
use serde::{Deserialize, Deserializer};

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
    #[serde(default, deserialize_with = "one_line_or_none")]
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
    #[serde(deserialize_with = "one_line_text")]
    message: String,
}

/// `text` with each control character (line breaks, tabs, escape codes: C0, DEL,
/// C1) replaced by a space.
pub fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

fn one_line_text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    String::deserialize(d).map(|text| one_line(&text))
}

fn one_line_or_none<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Option::<String>::deserialize(d).map(|text| text.as_deref().map(one_line))
}

/// What one probe learnt.
#[derive(Debug)]
pub struct Probe {
    /// Whether the launcher is ready.
    pub readiness: Readiness,
    /// The progress it reports (none when it does not answer yet).
    pub progress: Option<Progress>,
    /// Whether it held its answer until its start moved on (an older launcher answers
    /// at once: ask it again only after a pause).
    pub held: bool,
}

/// One readiness probe of `up`, held by the launcher for up to `wait`, and bounded
/// by `wait` plus `timeout`.
pub async fn probe(up: &Upstream, wait: Duration, timeout: Duration) -> Probe {
    let (report, held) = tokio::time::timeout(wait + timeout, fetch(up, wait))
        .await
        .ok()
        .flatten()
        .map_or((None, false), |(report, held)| (Some(report), held));
    let progress = report.as_ref().and_then(Report::progress);
    Probe {
        readiness: readiness(report),
        progress,
        held,
    }
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

async fn fetch(up: &Upstream, wait: Duration) -> Option<(Report, bool)> {
    let path = format!("{}?wait={}", dcs_model::plumbing::READY, wait.as_millis());
    let answer = crate::hop::ask::ask(up, http::Method::GET, &path, None)
        .await
        .ok()?;
    let held = answer
        .headers
        .contains_key(dcs_model::env::READY_WAIT_HEADER);
    Some((serde_json::from_slice(&answer.body).ok()?, held))
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    /// A loopback stand-in for a launcher's `/_dcs/ready` that answers `body`, saying
    /// it held the answer when `holds`; returns its address and the targets asked for.
    async fn stand_in(
        holds: bool,
        body: &'static str,
    ) -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        let asked = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = asked.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let seen = seen.clone();
                let svc = hyper::service::service_fn(move |req: http::Request<_>| {
                    seen.lock().expect("lock").push(req.uri().to_string());
                    let mut resp = http::Response::new(http_body_util::Full::new(
                        Bytes::from_static(body.as_bytes()),
                    ));
                    *resp.status_mut() = http::StatusCode::SERVICE_UNAVAILABLE;
                    if holds {
                        resp.headers_mut().insert(
                            dcs_model::env::READY_WAIT_HEADER,
                            http::HeaderValue::from_static("1000"),
                        );
                    }
                    async move { Ok::<_, std::convert::Infallible>(resp) }
                });
                let io = hyper_util::rt::TokioIo::new(stream);
                tokio::spawn(hyper::server::conn::http1::Builder::new().serve_connection(io, svc));
            }
        });
        (addr, asked)
    }

    #[tokio::test]
    async fn a_probe_asks_for_a_held_answer_and_knows_whether_it_got_one() {
        let body = r#"{"phase": "checkout", "ready": false, "error": null}"#;
        for holds in [true, false] {
            let (addr, asked) = stand_in(holds, body).await;
            let up = Upstream {
                authority: addr,
                host: None,
                socket: None,
                hop: None,
                multiplexed: false,
            };
            let probe = probe(&up, Duration::from_millis(1000), Duration::from_secs(30)).await;
            assert_eq!(probe.readiness, Readiness::NotYet);
            assert_eq!(probe.progress.map(|p| p.phase), Some(StartPhase::Cloning));
            assert_eq!(probe.held, holds, "an older launcher answers at once");
            assert_eq!(*asked.lock().expect("lock"), ["/_dcs/ready?wait=1000"]);
        }
    }

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

    /// What the workspace's user can push (its hop credential is in their workspace)
    /// is recorded on one line: no forged log line, no escape code for a terminal.
    #[test]
    fn a_reports_text_is_kept_without_control_characters() {
        let report = |json| serde_json::from_value::<Report>(json).expect("report");
        let failed = report(serde_json::json!({"ready": false, "phase": "failed",
            "error": {"kind": "other", "message": "x\nFAKE\r\u{1b}[2J\u{9b}\t."}}));
        let pushed = failed.pushed().expect("a failure is recorded");
        let message = pushed.progress.reason.expect("the reason");
        assert!(message.contains("x FAKE  [2J  ."), "{message:?}");
        assert!(!message.chars().any(char::is_control), "{message:?}");
        assert!(
            matches!(readiness(Some(failed)), Readiness::Failed { message, .. }
            if message == "x FAKE  [2J  .")
        );
        let cloning = report(serde_json::json!({"ready": false, "phase": "checkout",
            "progress": {"note": "resolving\n2026-01-01 ERROR forged"}}));
        let note = cloning.pushed().expect("progress").progress.message;
        assert_eq!(note.as_deref(), Some("resolving 2026-01-01 ERROR forged"));
        assert_eq!(
            report(serde_json::json!({"ready": false, "phase": "checkout",
            "progress": {"note": null}}))
            .progress()
            .and_then(|p| p.message),
            None
        );
    }
}
