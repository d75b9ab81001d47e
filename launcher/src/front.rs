//! The front: routes each request the proxy forwards (prefix already stripped) to the
//! launcher's own endpoints under `/_dcs/` or to the IDE.
//!
//! First of all, the hop check ([`crate::hop`]): a request without this workspace's
//! hop credential gets `401` (upgrades included), except `/_dcs/ready`, which then
//! answers its bare status code; the credential's header is removed before anything
//! else sees the request. A request that carried the credential is served under the
//! proxy's id for it ([`request_id`]), which error pages and 5xx log lines name.
//!
//! - `GET /_dcs/ready` → [`crate::ready`]
//! - `GET /_dcs/idle`, `POST /_dcs/activity`, `POST /_dcs/keepalive` →
//!   [`crate::activity::endpoints`]; every request a person makes counts as use
//!   ([`crate::activity::requests`]) before it is routed
//! - `GET /_dcs/notices`, `GET /_dcs/notice.js` → [`crate::notices`]
//! - `/_dcs/ws-echo` → [`crate::ws_echo`]
//! - `/_dcs/terminal` → [`crate::terminal`] (a shell on a PTY)
//! - `/_dcs/files/…` → [`crate::files`]
//! - `/_dcs/devcontainer`, `/_dcs/devcontainer/…` → [`crate::devcontainer::routes`]
//! - `/ports/<n>/…` → [`crate::ports`] (a preview of `127.0.0.1:<n>`)
//! - any other `/_dcs/…` → 404
//! - everything else → the running IDE, or a "starting"/"failed" page until there is one.
//!   The IDE's HTML documents get the notice banner script ([`notices::inject`]), and
//!   the request carries the current [`PageNotices`] for IDEs that render their own
//!   pages (the `none` IDE).

use std::sync::Arc;
use std::time::{Duration, Instant};

use http::header::{HeaderValue, ALLOW};
use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;

use crate::activity::{self, endpoints};
use crate::app::App;
use crate::body::Body;
use crate::notices::{self, inject, Notice};
use crate::ready::{self, Phase};
use crate::{devcontainer, files, pages, ports, terminal, ws_echo};

pub mod request_id;

/// The hop credential's header, as a name (parsed once).
const HOP: http::HeaderName = http::HeaderName::from_static(dcs_model::env::HOP_HEADER);

/// The workspace's notices, as a request extension for an IDE that renders its own
/// pages (and then loads the banner script itself, so nothing is injected).
#[derive(Debug, Clone)]
pub struct PageNotices(pub Vec<Notice>);

/// Answers one request.
pub async fn handle(app: Arc<App>, mut req: Request<Incoming>) -> Response<Body> {
    // Only the proxy reaches a workspace: checked before anything else.
    let presented = req.headers().contains_key(&HOP);
    if crate::hop::check(req.headers_mut()) == crate::hop::Verdict::Refuse {
        if req.uri().path() == dcs_model::plumbing::READY {
            return crate::hop::bare_status(ready(&app).await.ready);
        }
        return crate::hop::refused();
    }
    // Passed with the credential: the proxy's request, and its id.
    match request_id::of(req.headers(), presented) {
        Some(id) => request_id::scope(id, route(app, req)).await,
        None => route(app, req).await,
    }
}

/// Answers a request that passed the hop check.
async fn route(app: Arc<App>, mut req: Request<Incoming>) -> Response<Body> {
    // A request that came out of a port preview never reaches a launcher (this one
    // or another user's): previews address only apps.
    if let Some(refused) = crate::ports::refuse_looped(req.headers()) {
        return refused;
    }
    let path = req.uri().path().to_owned();
    // The idle clock: a person's requests are use; WebSocket tunnels classify
    // their client messages with it (`crate::forward`).
    let now = crate::activity::now_ms();
    let what = activity::requests::of(req.method(), &path, req.headers());
    app.activity().request(what, now);
    // A person's upload is watched work until it is answered: a slow link is no idle
    // workspace.
    let uploading =
        what == activity::requests::Use::Input && !hyper::body::Body::is_end_stream(req.body());
    let _receiving = uploading.then(|| app.activity().receiving());
    if endpoints::is_endpoint(&path) {
        return endpoints::handle(&app, req).await;
    }
    req.extensions_mut().insert(app.activity().clone());
    if path == dcs_model::plumbing::READY {
        return match ready::wait_of(req.uri().query()) {
            Ok(wait) if wait.is_zero() => ready::respond(&ready(&app).await, None),
            Ok(wait) => ready::respond(&held(&app, wait).await, Some(wait)),
            Err(problem) => pages::message(StatusCode::BAD_REQUEST, "error", &problem, true),
        };
    }
    if path == notices::PATH || path == notices::SCRIPT_PATH {
        if !matches!(*req.method(), Method::GET | Method::HEAD) {
            let mut res = pages::message(
                StatusCode::METHOD_NOT_ALLOWED,
                "error",
                "the notices are read with GET",
                pages::wants_json(req.headers()),
            );
            res.headers_mut()
                .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
            return res;
        }
        if path == notices::PATH {
            return notices::respond(&app.notices().list());
        }
        return notices::script();
    }
    if path == "/_dcs/ws-echo" {
        return ws_echo::handle(&app, req);
    }
    if path == terminal::PATH {
        return terminal::handle(&app, req);
    }
    if let Some(rest) = path.strip_prefix(files::PREFIX) {
        if rest.is_empty() || rest.starts_with('/') {
            return files::handle(&app, req, rest).await;
        }
    }
    if let Some(rest) = path.strip_prefix(devcontainer::routes::PATH) {
        if rest.is_empty() || rest.starts_with('/') {
            return devcontainer::routes::handle(&app, req, rest).await;
        }
    }
    if let Some(rest) = path.strip_prefix(ports::PREFIX) {
        if rest.starts_with('/') {
            return ports::handle(&app, req, rest).await;
        }
    }
    if path == "/_dcs" || path.starts_with("/_dcs/") {
        let msg = "no such launcher endpoint; known: /_dcs/ready, /_dcs/notices, /_dcs/notice.js, \
                   /_dcs/idle, /_dcs/activity, /_dcs/keepalive, /_dcs/ws-echo, /_dcs/terminal, \
                   /_dcs/files/, /_dcs/devcontainer";
        return pages::message(
            StatusCode::NOT_FOUND,
            "error",
            msg,
            pages::wants_json(req.headers()),
        );
    }
    let Some(ide) = app.ide() else {
        return not_ready(&app, &req);
    };
    if !inject::wants(req.method(), &path, req.headers()) {
        return ide.handle(req).await;
    }
    let mut req = req;
    inject::prepare(&mut req);
    req.extensions_mut()
        .insert(PageNotices(app.notices().list()));
    let res = ide.handle(req).await;
    // The run that answered (read after the answer: a restart during the request is
    // waited for, and its page belongs to the new run).
    let root = notices::root_from(&path);
    let tag = match ide.run() {
        Some(run) => notices::ide_script_tag(&root, &run),
        None => notices::script_tag(&root),
    };
    inject::response(res, &tag).await
}

/// The readiness report, with the IDE's health asked now.
async fn ready(app: &App) -> ready::ReadyReport {
    app.note_ide_failure();
    let healthy = match app.ide() {
        Some(ide) => ide.healthy().await,
        None => false,
    };
    app.readiness().report(healthy)
}

/// The readiness report once the start moved on, or after `wait` (see
/// [`ready::ReadyReport::moved_on`]).
async fn held(app: &App, wait: Duration) -> ready::ReadyReport {
    // Subscribed before the first look, so no change between the two is missed.
    let mut changes = app.readiness().subscribe();
    let first = ready(app).await;
    if first.is_final() {
        return first;
    }
    let began = Instant::now();
    let mut seen = first.clone();
    loop {
        let held = began.elapsed();
        if held >= wait {
            return seen;
        }
        let step = if app.readiness().phase() == Phase::Ready {
            // Up, but its health is asked, not told: look again shortly.
            ready::HEALTH_EVERY
        } else if seen.progress != first.progress {
            // Progress to tell once PROGRESS_EVERY has passed.
            ready::PROGRESS_EVERY.saturating_sub(held)
        } else {
            wait
        };
        let step = step.min(wait - held);
        if let Ok(false) = tokio::time::timeout(step, changes.changed()).await {
            // The workspace is going away: what there is.
            return ready(app).await;
        }
        seen = if app.readiness().phase() == Phase::Ready {
            ready(app).await
        } else {
            app.readiness().report(false)
        };
        if seen.moved_on(&first, began.elapsed()) {
            return seen;
        }
    }
}

/// What the IDE's paths answer before the IDE runs: 503, with a page that refreshes
/// itself while start-up is in progress and explains the failure once it stopped.
fn not_ready(app: &App, req: &Request<Incoming>) -> Response<Body> {
    let report = app.readiness().report(false);
    let as_json = pages::wants_json(req.headers());
    if report.phase == Phase::Failed {
        let text = report
            .error
            .map(|f| f.message)
            .unwrap_or_else(|| "the workspace failed to start".into());
        return pages::message(StatusCode::SERVICE_UNAVAILABLE, "error", &text, as_json);
    }
    let text = match (report.phase, report.progress.and_then(|p| p.note)) {
        (Phase::Checkout, Some(note)) => format!("{note}; this page reloads by itself"),
        (Phase::Checkout, None) => {
            "the repository is being checked out; this page reloads by itself".to_owned()
        }
        _ => "the IDE is starting; this page reloads by itself".to_owned(),
    };
    let heading = format!("Starting {}", app.label());
    pages::reloads_itself("Starting…", &heading, &text, as_json)
}
