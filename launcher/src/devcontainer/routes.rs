//! `/_dcs/devcontainer` (behind the hop check, like every `/_dcs/` route):
//! - `GET` → the status report ([`super::status`]);
//! - `POST …/allow` → consent for this checkout (kept), and the lifecycle starts:
//!   `202 {"allowed": true}`; already allowed: `202` when it runs again from a failed
//!   step, else `200`; `404` with mode `off` or without a file, `409` for a file that
//!   cannot be used, `503` before the checkout was read;
//! - `POST …/dismiss` → the consent notice goes for this launcher run: `200`;
//! - `GET …/log` → this start's lifecycle log as plain text (sandboxed, never sniffed);
//! - `GET …/file` → the file exactly as last read (at the start, or by Run again: the
//!   bytes the status and the consent question describe, not read anew), as plain
//!   text, sandboxed, never sniffed; `404` with mode `off` or without a file, `409`
//!   for a file that could not be read (a link, too large), `503` before the checkout
//!   was read.
//!
//! Errors are JSON `{"error": …}`; another method gets `405` with `Allow`.

use std::sync::Arc;

use http::header::{HeaderValue, ALLOW, CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use serde_json::json;

use super::{lifecycle, notice, status, Found};
use crate::app::App;
use crate::body::{self, Body};
use crate::pages;

/// The status path; the others are below it.
pub const PATH: &str = "/_dcs/devcontainer";

/// Answers `PATH` + `rest`.
pub async fn handle(app: &Arc<App>, req: Request<Incoming>, rest: &str) -> Response<Body> {
    let method = req.method().clone();
    let read = matches!(method, Method::GET | Method::HEAD);
    match rest {
        "" | "/" if read => pages::json(StatusCode::OK, &status::report(app.devcontainer())),
        "/log" if read => log(app).await,
        "/file" if read => file(app),
        "/allow" if method == Method::POST => allow(app).await,
        "/dismiss" if method == Method::POST => dismiss(app),
        "" | "/" | "/log" | "/file" => not_allowed("GET, HEAD", "read with GET"),
        "/allow" | "/dismiss" => not_allowed("POST", "sent with POST"),
        _ => error(
            StatusCode::NOT_FOUND,
            "no such endpoint; known: /_dcs/devcontainer, /_dcs/devcontainer/allow, \
             /_dcs/devcontainer/dismiss, /_dcs/devcontainer/log, /_dcs/devcontainer/file",
        ),
    }
}

/// What an allow did.
enum Allowed {
    /// Consent is new.
    Now { env: bool },
    /// Runs again from the failed step.
    Again,
    /// Nothing new.
    Already,
}

async fn allow(app: &Arc<App>) -> Response<Body> {
    let dc = app.devcontainer();
    if dc.mode() == dcs_model::devcontainer::Mode::Off {
        return error(StatusCode::NOT_FOUND, OFF);
    }
    let reread = {
        let inner = dc.lock();
        dc.allowed(&inner) && !inner.running && !matches!(inner.found, Found::NotRead)
    };
    if reread {
        // Consent is the checkout's: Run again runs the file as the user left it.
        crate::devcontainer::reread(app).await;
    }
    let allowed = {
        let mut inner = dc.lock();
        let env = match &inner.found {
            Found::NotRead => {
                let text =
                    "the checkout has not been read yet; try again once the workspace is ready";
                return error(StatusCode::SERVICE_UNAVAILABLE, text);
            }
            Found::Missing => return error(StatusCode::NOT_FOUND, MISSING),
            Found::Unusable {
                file, error: why, ..
            } => {
                let text = format!("{file}: {why}; nothing of it applies");
                return error(StatusCode::CONFLICT, &text);
            }
            Found::Usable(loaded) => !loaded.env.is_empty(),
        };
        if !dc.allowed(&inner) {
            inner.saved.allowed = true;
            inner.dismissed = false;
            Allowed::Now { env }
        } else if !inner.running && lifecycle::failed(&inner) {
            lifecycle::forget_failure(&mut inner);
            Allowed::Again
        } else {
            Allowed::Already
        }
    };
    let status = match allowed {
        Allowed::Now { env } => {
            dc.save().await;
            app.notices().clear(notice::ID);
            if env {
                app.notices().set(notice::env_next_start());
            }
            lifecycle::start(app);
            StatusCode::ACCEPTED
        }
        // A step the file gained since (a fixed or a new one) runs too.
        Allowed::Again | Allowed::Already if lifecycle::start(app) => StatusCode::ACCEPTED,
        Allowed::Again | Allowed::Already => StatusCode::OK,
    };
    pages::json(status, &json!({"allowed": true}))
}

fn dismiss(app: &App) -> Response<Body> {
    let dc = app.devcontainer();
    if dc.mode() == dcs_model::devcontainer::Mode::Off {
        return error(StatusCode::NOT_FOUND, OFF);
    }
    let mut inner = dc.lock();
    inner.dismissed = true;
    if !dc.allowed(&inner) {
        app.notices().clear(notice::ID);
    }
    pages::json(StatusCode::OK, &json!({"dismissed": true}))
}

async fn log(app: &App) -> Response<Body> {
    let bytes = match app.devcontainer().log().read().await {
        Ok(bytes) => bytes,
        Err(e) if dcs_os::confined::is_refusal(&e) => {
            return error(
                StatusCode::CONFLICT,
                &format!("the log cannot be read: {e}"),
            );
        }
        Err(e) => {
            let text = format!("the log cannot be read: {e}");
            return error(StatusCode::INTERNAL_SERVER_ERROR, &text);
        }
    };
    plain_text(bytes)
}

/// The file as last read.
fn file(app: &App) -> Response<Body> {
    let dc = app.devcontainer();
    if dc.mode() == dcs_model::devcontainer::Mode::Off {
        return error(StatusCode::NOT_FOUND, OFF);
    }
    let bytes = match &dc.lock().found {
        Found::NotRead => {
            let text = "the checkout has not been read yet; try again once the workspace is ready";
            return error(StatusCode::SERVICE_UNAVAILABLE, text);
        }
        Found::Missing => return error(StatusCode::NOT_FOUND, MISSING),
        Found::Unusable {
            text: Some(bytes), ..
        } => bytes.clone(),
        Found::Unusable {
            file, error: why, ..
        } => {
            let text = format!("{file} cannot be shown: {why}");
            return error(StatusCode::CONFLICT, &text);
        }
        Found::Usable(loaded) => loaded.text.clone(),
    };
    plain_text(bytes)
}

/// `bytes` as plain text that a browser neither sniffs nor runs, nor keeps.
fn plain_text(bytes: impl Into<bytes::Bytes>) -> Response<Body> {
    let mut res = Response::new(body::full(bytes));
    let headers = res.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(
        http::header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static("sandbox"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

const OFF: &str = "devcontainer.json is not read in this workspace (DCS_DEVCONTAINER=off)";
const MISSING: &str =
    "this checkout has no devcontainer.json (.devcontainer/devcontainer.json or .devcontainer.json)";

fn error(status: StatusCode, text: &str) -> Response<Body> {
    pages::message(status, "error", text, true)
}

fn not_allowed(allow: &'static str, how: &str) -> Response<Body> {
    let text = format!("this endpoint is {how}");
    let mut res = error(StatusCode::METHOD_NOT_ALLOWED, &text);
    res.headers_mut()
        .insert(ALLOW, HeaderValue::from_static(allow));
    res
}
