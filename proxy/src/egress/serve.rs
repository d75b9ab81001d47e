//! One workspace's egress proxy: the accept loop on its unix socket, the cap on its
//! open connections (503 beyond it), the bound on a request head (431, as the main
//! listener's: [`crate::server::MAX_HEAD_BYTES`]), and each request dispatched by
//! its form: `CONNECT` to [`super::tunnel`], an absolute `http://` URL to
//! [`super::forward`], anything else answered 400. Every answer that is not a
//! success carries its first line as its status line's reason phrase ([`text`]).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use dcs_net::coarse_timer::CoarseTimer;
use http::{header, HeaderValue, Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::ext::ReasonPhrase;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::{Ctx, Egress};
use crate::body::{full, Body};
use crate::server::MAX_HEAD_BYTES;

/// hyper's read buffer, as the main listener's: room for a head somewhat over
/// [`MAX_HEAD_BYTES`], so that the limit is decided here with a readable answer;
/// beyond this buffer hyper answers a bare 431 itself.
const READ_BUFFER_BYTES: usize = 2 * MAX_HEAD_BYTES;

/// The longest reason phrase put in a status line.
const MAX_REASON: usize = 200;

/// A place among the workspace's open connections, held by everything that serves
/// one (the connection, its tunnel, its upstream connection).
pub(super) type Slot = Arc<OwnedSemaphorePermit>;

/// The pause before accepting again after a failed accept.
const BACKOFF: Duration = Duration::from_millis(50);

/// Connections over the cap answered 503 at once; beyond, they are closed unanswered.
const ANSWERING_FULL: usize = 8;

/// A workspace's egress proxy being served. Dropping it ends
/// the accept loop and every open connection and tunnel of the workspace.
#[derive(Debug)]
pub struct Serving {
    stop: CancellationToken,
    slots: Arc<Semaphore>,
    max: usize,
}

impl Serving {
    /// The workspace's connections open now.
    pub fn open(&self) -> usize {
        self.max.saturating_sub(self.slots.available_permits())
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Serves `listener` (the socket in `workspace`'s run folder) as `workspace`'s
/// egress proxy until the returned [`Serving`] is dropped. Call within a tokio
/// runtime. The socket file stays (its owner removes it).
pub fn serve(egress: Arc<Egress>, listener: UnixListener, workspace: String) -> Serving {
    let max = egress.max_connections;
    let slots = Arc::new(Semaphore::new(max));
    let stop = CancellationToken::new();
    let egress_lookups = egress.lookups_per_workspace;
    let ctx = Arc::new(Ctx {
        egress,
        workspace: workspace.into(),
        stop: stop.clone(),
        lookups: Arc::new(Semaphore::new(egress_lookups)),
    });
    ctx.spawn(accept(ctx.clone(), listener, slots.clone()));
    Serving { stop, slots, max }
}

async fn accept(ctx: Arc<Ctx>, listener: UnixListener, slots: Arc<Semaphore>) {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(CoarseTimer)
        .header_read_timeout(ctx.egress.header_read_timeout)
        .max_buf_size(READ_BUFFER_BYTES);
    let answering_full = Arc::new(Semaphore::new(ANSWERING_FULL));
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(err) => {
                if dcs_net::limits::exhausted(&err) {
                    warn!(workspace = %ctx.workspace, %err, "egress: out of descriptors; connections wait");
                } else {
                    debug!(workspace = %ctx.workspace, %err, "egress: accept failed");
                }
                tokio::time::sleep(BACKOFF).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            ctx.egress.counts.over_cap();
            info!(
                workspace = %ctx.workspace,
                max = ctx.egress.max_connections,
                "egress refused: too many open connections"
            );
            if let Ok(answering) = answering_full.clone().try_acquire_owned() {
                let max = ctx.egress.max_connections;
                ctx.spawn(async move {
                    answer_full(stream, max).await;
                    drop(answering);
                });
            }
            continue;
        };
        let slot: Slot = Arc::new(slot);
        let svc = {
            let ctx = ctx.clone();
            service_fn(move |req| {
                let (ctx, slot) = (ctx.clone(), slot.clone());
                async move { Ok::<_, Infallible>(dispatch(ctx, slot, req).await) }
            })
        };
        let conn = http
            .serve_connection(TokioIo::new(stream), svc)
            .with_upgrades();
        let workspace = ctx.workspace.clone();
        ctx.spawn(async move {
            if let Err(err) = conn.await {
                debug!(%workspace, %err, "egress: connection ended with an error");
            }
        });
    }
}

/// What this endpoint is, for requests it does not serve.
const WHAT_THIS_IS: &str = "This is the workspace's egress proxy (HTTP_PROXY, HTTPS_PROXY): \
it takes CONNECT host:port, or a plain-HTTP request with an absolute URL \
(GET http://host/path); it serves nothing itself.\n";

async fn dispatch(ctx: Arc<Ctx>, slot: Slot, req: Request<Incoming>) -> Response<Body> {
    // The target as sent: absolute (`http://host/path`) or an authority (CONNECT).
    let head = crate::server::head_bytes(&req, req.uri().to_string().len());
    if head > MAX_HEAD_BYTES {
        return text(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            format!(
                "The request head is {} KiB; the egress proxy accepts at most {} KiB.\n",
                head.div_ceil(1024),
                MAX_HEAD_BYTES / 1024
            ),
        );
    }
    if req.method() == Method::CONNECT {
        return super::tunnel::connect(ctx, slot, req).await;
    }
    let uri = req.uri();
    match (uri.scheme_str(), uri.authority()) {
        (Some(scheme), Some(_)) if scheme.eq_ignore_ascii_case("http") => {
            super::forward::forward(ctx, slot, req).await
        }
        (Some(scheme), _) if scheme.eq_ignore_ascii_case("https") => text(
            StatusCode::BAD_REQUEST,
            format!(
                "https:// URLs go through CONNECT (set HTTPS_PROXY), not as a plain \
                 request.\n{WHAT_THIS_IS}"
            ),
        ),
        (Some(scheme), Some(_)) => text(
            StatusCode::BAD_REQUEST,
            format!("{scheme}:// URLs are not forwarded.\n{WHAT_THIS_IS}"),
        ),
        _ => text(StatusCode::BAD_REQUEST, WHAT_THIS_IS.to_owned()),
    }
}

/// A plain-text answer; unless a success, its first line is also its status line's
/// reason phrase (tools show a failed `CONNECT`'s status line, never its body).
pub(super) fn text(status: StatusCode, body: String) -> Response<Body> {
    let reason = (!status.is_success())
        .then(|| reason_phrase(&body))
        .flatten();
    let mut resp = Response::new(full(body));
    *resp.status_mut() = status;
    if let Some(reason) = reason {
        resp.extensions_mut().insert(reason);
    }
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// The first line of `message` as a reason phrase: visible ASCII and spaces only
/// (anything else becomes `?`), its closing punctuation dropped, at most
/// [`MAX_REASON`] bytes; none if empty.
fn reason_text(message: &str) -> String {
    let line = message.lines().next().unwrap_or_default();
    let line = line.trim().trim_end_matches(['.', ':']);
    let mut reason: String = line
        .chars()
        .map(|c| {
            if c == ' ' || c.is_ascii_graphic() {
                c
            } else {
                '?'
            }
        })
        .collect();
    if reason.len() > MAX_REASON {
        reason.truncate(MAX_REASON - 3);
        reason.push_str("...");
    }
    reason
}

/// [`reason_text`] as hyper's [`ReasonPhrase`].
fn reason_phrase(message: &str) -> Option<ReasonPhrase> {
    let reason = reason_text(message);
    if reason.is_empty() {
        return None;
    }
    ReasonPhrase::try_from(reason).ok()
}

/// The answer to a connection over the cap.
fn full_response(max: usize) -> String {
    let body = format!(
        "This workspace has {max} connections open through its egress proxy, the \
         most it may have; close some and try again.\n"
    );
    dcs_net::accept::unavailable_response(&reason_text(&body), &body)
}

async fn answer_full(stream: UnixStream, max: usize) {
    dcs_net::accept::answer_and_close(stream, full_response(max).as_bytes()).await;
}
