//! Progress pushed by a launcher while its pod is not routable (Knative): the
//! launcher POSTs its `/_dcs/ready` report to [`PATH_PREFIX`]`<name>` on the proxy's
//! Service (`DCS_PROGRESS_URL`), authenticated by the workspace's hop credential.
//!
//! [`handle`] answers it, in this order: 405 for anything but `POST`; 404 when the
//! runtime records no pushes ([`crate::runtime::Runtime::progress_sink`]: local
//! mode asks its launchers itself) or the name is no workspace name; 401 unless
//! the hop header is exactly that workspace's credential (another workspace's does
//! not do); 413 over [`MAX_BODY`]; 400 (415) for a body that is not a JSON report;
//! then the [`ProgressSink`]: 404 for a workspace that does not exist or is being
//! deleted (nothing is created), 429 when the same workspace was written less than
//! [`PACE`] ago (a final ready/failed report is never refused for that), 204 when
//! written. The report becomes a [`Pushed`] by the one conversion
//! ([`Report::pushed`]; its text read with control characters as spaces, so nothing
//! the workspace's user pushes forges a log line or drives a terminal): a ready report clears what was recorded, so a later wake
//! does not show the last run's state; a failed one records the failure (its kind,
//! its reason and what to do) for every replica's page and for the start waiting on
//! it.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use dcs_model::api::Progress;
use http::{Method, Request, Response, StatusCode};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use crate::api::ApiErr;
use crate::body::Body;
use crate::error::{Error, Result, StartFailure};
use crate::hop::HopKey;
use crate::runtime::local::ready::Report;
use crate::runtime::Runtime;

/// The path under which launchers push their progress: `<prefix><workspace name>`.
pub const PATH_PREFIX: &str = "/_dcs/hop/progress/";

/// The largest report accepted.
pub const MAX_BODY: usize = 16 * 1024;

/// The shortest time between two recorded reports of one workspace.
pub const PACE: Duration = Duration::from_secs(1);

/// The workspace name of a push's `path`: what follows [`PATH_PREFIX`], one
/// non-empty segment; `None` for any other path.
pub fn name_in(path: &str) -> Option<&str> {
    path.strip_prefix(PATH_PREFIX)
        .filter(|name| !name.is_empty() && !name.contains('/'))
}

/// The `DCS_PROGRESS_URL` of the workspace `name`, for a proxy reached at
/// `proxy_url` (no trailing slash).
pub fn url(proxy_url: &str, name: &str) -> String {
    format!("{}{PATH_PREFIX}{name}", proxy_url.trim_end_matches('/'))
}

/// What a launcher last said of its start, as recorded: its progress, and for a
/// start that cannot succeed the failure's kind (the progress then is `failed`
/// with the reason and what to do).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pushed {
    /// The phase and its figures.
    #[serde(flatten)]
    pub progress: Progress,
    /// The kind of the failure, when the launcher reported one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<StartFailure>,
}

/// Where a runtime records the progress its launchers push (Knative: an
/// annotation on the workspace's Service, which every replica's cache sees).
#[async_trait]
pub trait ProgressSink: Send + Sync {
    /// The key hop credentials are derived from (`None`: no push is accepted).
    fn hop_key(&self) -> Option<&HopKey>;
    /// Records `pushed` as what the launcher of workspace `name` last said
    /// (`None` clears it). `NotFound` unless the workspace exists and is not being
    /// deleted (nothing is created); `TooManyRequests` when it was written less
    /// than [`PACE`] ago, unless `last` (a final report).
    async fn record(&self, name: &str, pushed: Option<&Pushed>, last: bool) -> Result<()>;
}

/// When each workspace was last written: [`PACE`] between writes.
#[derive(Debug, Default)]
pub struct Pacer {
    last: Mutex<HashMap<String, Instant>>,
}

/// Entries kept before old ones are dropped.
const PACER_ROOM: usize = 1024;

impl Pacer {
    /// Whether `name` may be written now (`last`: always); if so, notes it.
    /// `Err` holds how long to wait.
    pub fn admit(&self, name: &str, last: bool) -> Result<(), Duration> {
        self.admit_at(name, last, Instant::now())
    }

    /// [`Pacer::admit`] at `now`.
    fn admit_at(&self, name: &str, last: bool, now: Instant) -> Result<(), Duration> {
        let mut map = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(at) = map.get(name) {
            let since = now.saturating_duration_since(*at);
            if !last && since < PACE {
                return Err(PACE - since);
            }
        }
        if map.len() >= PACER_ROOM {
            map.retain(|_, at| now.saturating_duration_since(*at) < PACE);
        }
        if last {
            map.remove(name);
        } else {
            map.insert(name.to_owned(), now);
        }
        Ok(())
    }
}

/// Answers a launcher's push to [`PATH_PREFIX`]`<name>` (see the module docs);
/// every refusal is a JSON [`ApiErr`] (a launcher reads it, not a person).
pub async fn handle<B>(runtime: &dyn Runtime, req: Request<B>, name: &str) -> Response<Body>
where
    B: http_body::Body<Data = bytes::Bytes>,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    match answer(runtime, req, name).await {
        Ok(()) => {
            let mut resp = Response::new(crate::body::empty());
            *resp.status_mut() = StatusCode::NO_CONTENT;
            resp
        }
        Err(e) => e.into_response(),
    }
}

async fn answer<B>(runtime: &dyn Runtime, req: Request<B>, name: &str) -> Result<(), ApiErr>
where
    B: http_body::Body<Data = bytes::Bytes>,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    if req.method() != Method::POST {
        return Err(ApiErr::method_not_allowed(req.method(), &["POST"]));
    }
    let not_found = || {
        ApiErr::not_found(format!(
            "no workspace {} records pushed progress here",
            crate::server::truncate(name, 63)
        ))
    };
    let Some(sink) = runtime.progress_sink() else {
        return Err(not_found());
    };
    if !dcs_model::K8sName::is_dns1035(name) {
        return Err(not_found());
    }
    let (parts, body) = req.into_parts();
    let sent = parts
        .headers
        .get_all(crate::hop::HEADER)
        .iter()
        .map(|v| v.as_bytes())
        .collect::<Vec<_>>();
    let expected = sink.hop_key().map(|key| key.credential_for(name));
    let authentic = match (sent.as_slice(), &expected) {
        ([one], Some(expected)) => {
            let expected = expected.expose().as_bytes();
            one.len() == expected.len() && bool::from(one.ct_eq(expected))
        }
        _ => false,
    };
    if !authentic {
        return Err(Error::Unauthorized(
            "a progress push needs its workspace's hop credential".into(),
        )
        .into());
    }
    let value = crate::api::json::read_value(&parts, body, MAX_BODY).await?;
    let report: Report = serde_json::from_value(value).map_err(|e| {
        ApiErr::bad_request(format!(
            "the body is not a launcher's readiness report: {e}"
        ))
    })?;
    sink.record(name, report.pushed().as_ref(), report.is_final())
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests;
