//! The front: routes each request the proxy forwards (prefix already stripped) to the
//! launcher's own endpoints under `/_dcs/` or to the IDE.
//!
//! - `GET /_dcs/ready` → [`crate::ready`]
//! - `/_dcs/ws-echo` → [`crate::ws_echo`]
//! - `/_dcs/terminal` → [`crate::terminal`] (a shell on a PTY)
//! - `/_dcs/files/…` → [`crate::files`]
//! - `/ports/<n>/…` → [`crate::ports`] (a preview of `127.0.0.1:<n>`)
//! - any other `/_dcs/…` → 404
//! - everything else → the running IDE, or a "starting"/"failed" page until there is one.

use std::sync::Arc;

use http::header::{HeaderValue, RETRY_AFTER};
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;

use crate::app::App;
use crate::body::Body;
use crate::ready::{self, Phase};
use crate::{files, pages, ports, terminal, ws_echo};

const FILES: &str = "/_dcs/files";

/// Answers one request.
pub async fn handle(app: Arc<App>, req: Request<Incoming>) -> Response<Body> {
    let path = req.uri().path().to_owned();
    if path == "/_dcs/ready" {
        app.note_ide_failure();
        let healthy = match app.ide() {
            Some(ide) => ide.healthy().await,
            None => false,
        };
        return ready::respond(&app.readiness().report(healthy));
    }
    if path == "/_dcs/ws-echo" {
        return ws_echo::handle(&app, req);
    }
    if path == terminal::PATH {
        return terminal::handle(&app, req);
    }
    if let Some(rest) = path.strip_prefix(FILES) {
        if rest.is_empty() || rest.starts_with('/') {
            return files::handle(&app, req, rest).await;
        }
    }
    if let Some(rest) = path.strip_prefix(ports::PREFIX) {
        if rest.starts_with('/') {
            return ports::handle(&app, req, rest).await;
        }
    }
    if path == "/_dcs" || path.starts_with("/_dcs/") {
        let msg = "no such launcher endpoint; known: /_dcs/ready, /_dcs/ws-echo, /_dcs/terminal, /_dcs/files/";
        return pages::message(
            StatusCode::NOT_FOUND,
            "error",
            msg,
            pages::wants_json(req.headers()),
        );
    }
    match app.ide() {
        Some(ide) => ide.handle(req).await,
        None => not_ready(&app, &req),
    }
}

/// What the IDE's paths answer before the IDE runs: 503, with a page that refreshes
/// itself while start-up is in progress and explains the failure once it stopped.
fn not_ready(app: &App, req: &Request<Incoming>) -> Response<Body> {
    let report = app.readiness().report(false);
    let as_json = pages::wants_json(req.headers());
    let status = StatusCode::SERVICE_UNAVAILABLE;
    if report.phase == Phase::Failed {
        let text = report
            .error
            .map(|f| f.message)
            .unwrap_or_else(|| "the workspace failed to start".into());
        return pages::message(status, "error", &text, as_json);
    }
    let text = match report.phase {
        Phase::Checkout => "the repository is being checked out; this page reloads by itself",
        _ => "the IDE is starting; this page reloads by itself",
    };
    let mut res = if as_json {
        pages::message(status, "error", text, true)
    } else {
        let body = format!(
            "<meta http-equiv=\"refresh\" content=\"2\"><h1>Starting {}</h1><p>{}</p>",
            pages::escape(app.label()),
            pages::escape(text)
        );
        pages::html(status, pages::document("Starting…", &body))
    };
    res.headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from_static("2"));
    res
}
