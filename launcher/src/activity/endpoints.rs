//! The clock's endpoints, behind the hop check like everything else:
//! - `GET /_dcs/idle`: the [`IdleReport`] (does not count as use; the proxies' reaper
//!   and the IDE page's warning poll it);
//! - `POST /_dcs/activity` `{"kind": "key"|"pointer"|"scroll"|"focus"|"keep-working"}`
//!   (and `"ago_ms"` when sent late): a person's input in the page, reported by its
//!   script (`204`), recorded at the time it happened (at most a minute back);
//! - `POST /_dcs/keepalive` `{"for_s": N}`: declared work for `N` seconds, at most the
//!   busy limit (`422` beyond); answers the report;
//! - `POST /_dcs/stop`: a stop was asked for (the proxy tells the workspace, so every
//!   replica's reaper stops it, [`Activity::stop_requested`]); answers the report.
//!   A browser's `<workspace>/_dcs/stop` never gets here: the proxy answers it.

use std::sync::Arc;

use bytes::Bytes;
use dcs_model::api::{ActivityBeacon, IdleReport, KeepaliveRequest};
use http::header::{HeaderValue, ALLOW, CACHE_CONTROL};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use serde::de::DeserializeOwned;

use super::{now_ms, Activity};
use crate::app::App;
use crate::body::Body;
use crate::pages;

use dcs_model::plumbing::{
    ACTIVITY as ACTIVITY_PATH, IDLE as IDLE_PATH, KEEPALIVE as KEEPALIVE_PATH, STOP as STOP_PATH,
};

/// The largest body accepted.
const MAX_BODY: usize = 4 * 1024;

/// Whether `path` is one of the clock's endpoints.
pub fn is_endpoint(path: &str) -> bool {
    [IDLE_PATH, ACTIVITY_PATH, KEEPALIVE_PATH, STOP_PATH].contains(&path)
}

/// Answers a request for one of the clock's endpoints.
pub async fn handle(app: &App, req: Request<Incoming>) -> Response<Body> {
    let path = req.uri().path().to_owned();
    let (allowed, ok) = match path.as_str() {
        IDLE_PATH => (
            "GET, HEAD",
            matches!(*req.method(), Method::GET | Method::HEAD),
        ),
        _ => ("POST", req.method() == Method::POST),
    };
    if !ok {
        let mut res = pages::message(
            StatusCode::METHOD_NOT_ALLOWED,
            "error",
            &format!("{path} answers {allowed}"),
            true,
        );
        res.headers_mut()
            .insert(ALLOW, HeaderValue::from_static(allowed));
        return res;
    }
    let activity = app.activity();
    match path.as_str() {
        IDLE_PATH => report(app, activity),
        STOP_PATH => {
            activity.stop_requested(now_ms());
            tracing::info!("a stop was asked for: due now");
            report(app, activity)
        }
        ACTIVITY_PATH => match body::<ActivityBeacon>(req).await {
            Ok(beacon) if ActivityBeacon::KINDS.contains(&beacon.kind.as_str()) => {
                activity.input(&beacon.kind, beacon.input_at(now_ms()));
                let mut res = Response::new(crate::body::empty());
                *res.status_mut() = StatusCode::NO_CONTENT;
                res
            }
            Ok(beacon) => unprocessable(&format!(
                "unknown kind {:?}; known: {}",
                beacon.kind,
                ActivityBeacon::KINDS.join(", ")
            )),
            Err(res) => res,
        },
        _ => match body::<KeepaliveRequest>(req).await {
            Ok(ask) => match activity.keepalive(ask.for_s, now_ms()) {
                Ok(()) => report(app, activity),
                Err(beyond) => unprocessable(&beyond.to_string()),
            },
            Err(res) => res,
        },
    }
}

/// The report now, as JSON that is never cached.
fn report(app: &App, activity: &Arc<Activity>) -> Response<Body> {
    let report: IdleReport = activity.report(now_ms(), starting(app));
    let mut value = serde_json::to_value(&report).unwrap_or_default();
    if let Some(fields) = value.as_object_mut() {
        // For the page (`idle.js`): how often to ask again while nothing else makes
        // it look, and which run of the IDE answers now (a page of another one lost
        // it).
        fields.insert("poll_s".to_owned(), activity.policy().tab_poll_secs.into());
        if let Some(run) = app.ide().and_then(|ide| ide.run()) {
            fields.insert("ide_run".to_owned(), run.into());
        }
    }
    let mut res = pages::json(StatusCode::OK, &value);
    res.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// The start-up phase while the workspace is still starting (no IDE running yet).
fn starting(app: &App) -> Option<&'static str> {
    if app.ide().is_some() {
        return None;
    }
    match app.readiness().phase() {
        crate::ready::Phase::Checkout => Some("checking out the repository"),
        crate::ready::Phase::StartingIde => Some("starting the IDE"),
        crate::ready::Phase::Ready | crate::ready::Phase::Failed => None,
    }
}

fn unprocessable(text: &str) -> Response<Body> {
    pages::message(StatusCode::UNPROCESSABLE_ENTITY, "error", text, true)
}

/// The JSON body of `req`, or the `4xx` that says why it is unusable.
async fn body<T: DeserializeOwned>(req: Request<Incoming>) -> Result<T, Response<Body>> {
    let bytes: Bytes = match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            return Err(pages::message(
                StatusCode::PAYLOAD_TOO_LARGE,
                "error",
                &format!("the body must be a small JSON object (at most {MAX_BODY} bytes)"),
                true,
            ))
        }
        Err(e) => {
            return Err(pages::message(
                StatusCode::BAD_REQUEST,
                "error",
                &format!("the body could not be read: {e}"),
                true,
            ))
        }
    };
    serde_json::from_slice(&bytes).map_err(|e| {
        pages::message(
            StatusCode::BAD_REQUEST,
            "error",
            &format!("the body is not the expected JSON object: {e}"),
            true,
        )
    })
}
