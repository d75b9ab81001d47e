//! The send phase: the request goes to the workspace over the proxy's one pool of
//! kept-alive connections ([`dcs_net::upstream::Pool`]: `TCP_NODELAY`, a connect
//! timeout, a bounded number kept idle per workspace address, cached DNS answers for
//! Knative's service names); an upgrade goes over a connection of its own, or, to a
//! launcher reached directly, as a stream of its HTTP/2 connection (`Carried`).
//!
//! **What a failure means.** Only a refused or reset connection, or one closed
//! before any answer, says the workspace moved or went away: the cached upstream is
//! forgotten and the runtime asked again, and a request none of which was sent yet
//! is sent once more, as is a bodiless `GET`, `HEAD` or `OPTIONS` whose connection
//! was reset or closed before it was answered (a kept connection to a launcher that
//! died as it was used; RFC 9110 §9.2.2: such a request changes nothing). Sent again
//! only as far as it may wake the workspace ([`crate::resume::hold_again`]): a
//! background poll gets the stopped answer ([`Sent::Held`]) rather than starting a
//! launcher that died, and nothing makes a workspace deleted meanwhile again. Running
//! out of descriptors or ports ([`Kind::Exhausted`]) says the proxy is overloaded:
//! `503` with `Retry-After`, and nothing is concluded about the workspace.

use std::pin::Pin;
use std::sync::{Arc, LazyLock, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use http::request::Parts;
use http::{HeaderMap, Method, Request, Response, Uri};
use hyper::body::Incoming;
use tracing::debug;

use dcs_net::pace::{Pace, Paced, Progress};
use dcs_net::upstream::{Failure, Kind, Pool, PoolConfig};

use super::headers::{self, RequestContext};
use crate::error::{Error, Result};
use crate::runtime::{Upstream, WorkspaceSpec};
use crate::state::AppState;
use dcs_os::mutex::lock;

/// The body of a request on its way to a workspace.
pub type UpstreamBody = Paced<Reclaim<Incoming>>;

/// The body of a workspace's answer (its connection is kept when it has ended).
pub type AnswerBody = dcs_net::upstream::AnswerBody<UpstreamBody>;

/// The proxy's one client to its workspaces.
static POOL: LazyLock<Pool<UpstreamBody>> = LazyLock::new(|| Pool::new(&PoolConfig::default()));

/// What came back.
pub enum Sent {
    /// The workspace's answer, and the progress of the request body.
    Answer(Response<AnswerBody>, Arc<Progress>),
    /// The proxy is out of descriptors or ports: answer 503 with this message.
    Overloaded(String),
    /// The workspace went away and this request may not wake it: this answer.
    Held(Response<crate::body::Body>),
}

/// How a request travels to its workspace.
#[derive(Debug, Clone, Copy)]
pub enum Carried<'a> {
    /// Over a kept-alive connection.
    Kept,
    /// An upgrade, over an HTTP/1.1 connection of its own.
    Alone,
    /// An upgrade (to this protocol) as a stream of the launcher's HTTP/2 connection.
    Stream(&'a http::HeaderValue),
}

impl<'a> Carried<'a> {
    /// How a request upgrading to `upgrade` (if it does) travels: as a stream if
    /// `stream` (its admission said so, [`crate::accept::admit_tunnel`]).
    pub fn of(upgrade: Option<&'a http::HeaderValue>, stream: bool) -> Self {
        match upgrade {
            None => Carried::Kept,
            Some(upgrade) if stream => Carried::Stream(upgrade),
            Some(_) => Carried::Alone,
        }
    }
}

/// What the request rewrite needs besides the upstream.
pub struct Rewrite<'a> {
    /// The request context without `host`/`authority` (filled per attempt).
    pub ctx: RequestContext<'a>,
    /// Path and query to send.
    pub path: Uri,
    /// Whether an upgrade goes as a stream of the launcher's HTTP/2 connection.
    pub stream: bool,
}

/// Sends the request (`parts`, `body`) to `spec`'s workspace at `upstream` (as the
/// activator gave it), asking the runtime again (once) when that address refuses
/// the connection, if the request may wake the workspace (`waking`).
pub async fn send(
    state: &AppState,
    spec: &WorkspaceSpec,
    mut upstream: Arc<Upstream>,
    mut parts: Parts,
    body: Incoming,
    rewrite: Rewrite<'_>,
    waking: crate::resume::Waking,
) -> Result<Sent> {
    let limits = state.limits;
    // May be sent again whole after its connection closed unanswered.
    let repeatable = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS)
        && http_body::Body::is_end_stream(&body);
    let slot = Arc::new(Mutex::new(Some(body)));
    // The first attempt rewrites the request's own header map: hyper hands it over
    // with room for the headers the rewrite adds, where a copy (a `Vec` clone, room
    // for none) grew twice per request. The copy is kept for the one retry there may
    // be; none left, no retry. `parts.headers` is empty from here on.
    let mut headers = std::mem::take(&mut parts.headers);
    let mut spare = Some(headers.clone());
    loop {
        let (req, sent) = build(
            &parts,
            headers,
            &rewrite,
            &upstream,
            &slot,
            limits.request_body,
        );
        let carried = Carried::of(rewrite.ctx.upgrade, rewrite.stream && upstream.multiplexed);
        let exchange = async {
            let authority = &upstream.authority;
            match (&upstream.socket, carried) {
                // A sandboxed launcher: its unix socket (`crate::hop::unix`).
                (Some(socket), _) => crate::hop::unix::send(socket, req, carried).await,
                (None, Carried::Kept) => POOL.send(authority, req).await,
                (None, Carried::Alone) => POOL.send_upgrade(authority, req).await,
                (None, Carried::Stream(upgrade)) => {
                    POOL.send_upgrade_as_stream(authority, req, upgrade).await
                }
            }
        };
        // The answer must begin within the upstream timeout once the body is sent
        // (a coarse timer: armed for every request, it almost never fires).
        let answer_due = async {
            sent.finished().await;
            dcs_net::coarse_timer::sleep(limits.upstream_timeout).await;
        };
        let began = std::time::Instant::now();
        let failure = tokio::select! {
            result = exchange => match result {
                Ok(resp) => {
                    state.metrics.upstream_seconds.observe(began.elapsed().as_secs_f64());
                    return Ok(Sent::Answer(resp, sent));
                }
                Err(failure) => failure,
            },
            () = answer_due => {
                state.metrics.upstream_failed("stalled");
                return Err(super::stalled(limits.upstream_timeout));
            }
        };
        state
            .metrics
            .upstream_failed(crate::metrics::upstream_kind(failure.kind));
        let moved = matches!(failure.kind, Kind::Refused | Kind::Reset | Kind::Closed);
        if moved {
            // The workspace went away or moved: the next request asks the runtime.
            state.activator.invalidate(&spec.key);
        }
        let again = repeatable || (failure.connecting && lock(&slot).is_some());
        if let (true, true, Some(copy)) = (moved, again, spare.take()) {
            debug!(workspace = %spec.key, %failure, "cached upstream gone; asking the runtime again");
            // Its launcher is gone: woken again only as a first request would be.
            if let Some(held) = crate::resume::hold_again(state, &spec.key, waking).await? {
                return Ok(Sent::Held(held));
            }
            headers = copy;
            upstream = state.activator.upstream(spec).await?;
            continue;
        }
        return failed(failure, &sent, limits.request_body);
    }
}

/// One attempt's request: the original `headers` rewritten for `upstream`, the body
/// (still unsent) paced from now on.
fn build(
    parts: &Parts,
    mut headers: HeaderMap,
    rewrite: &Rewrite<'_>,
    upstream: &Upstream,
    slot: &Arc<Mutex<Option<Incoming>>>,
    pace: Pace,
) -> (Request<UpstreamBody>, Arc<Progress>) {
    let ctx = RequestContext {
        host: upstream.host.as_deref(),
        authority: &upstream.authority,
        ..rewrite.ctx
    };
    headers::rewrite_request(&mut headers, &ctx);
    // Only the proxy reaches a workspace: its hop credential, never a client's.
    crate::hop::insert(&mut headers, upstream.hop.as_ref());
    let (body, sent) = Paced::new(
        Reclaim {
            slot: slot.clone(),
            taken: None,
        },
        pace,
    );
    let mut req = Request::new(body);
    *req.method_mut() = parts.method.clone();
    *req.uri_mut() = rewrite.path.clone();
    *req.version_mut() = http::Version::HTTP_11;
    *req.headers_mut() = headers;
    (req, sent)
}

/// The error (or overload) a failed exchange is answered with.
fn failed(failure: Failure, sent: &Progress, pace: Pace) -> Result<Sent> {
    match failure.kind {
        Kind::Exhausted => Ok(Sent::Overloaded(format!(
            "the proxy is out of connections to workspaces right now ({failure}); \
             the workspace is fine, try again shortly"
        ))),
        Kind::Timeout if failure.connecting => Err(Error::UpstreamTimeout(format!(
            "the workspace did not accept a connection in time ({failure}); reload to try again"
        ))),
        _ if sent.expired() => Err(super::too_slow(pace)),
        _ if sent.broken() => Err(Error::BadRequest(
            "the request body ended before it was complete; nothing was stored".into(),
        )),
        _ if failure.connecting => Err(Error::Upstream(format!("cannot connect: {failure}"))),
        _ => Err(Error::Upstream(failure.to_string())),
    }
}

/// A request body that can be taken back as long as it was never polled: a request
/// whose connection was refused is sent again, body and all, to where the runtime
/// says the workspace is now.
pub struct Reclaim<B> {
    slot: Arc<Mutex<Option<B>>>,
    taken: Option<B>,
}

impl<B: http_body::Body<Data = Bytes> + Unpin> http_body::Body for Reclaim<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<std::result::Result<http_body::Frame<Bytes>, B::Error>>> {
        let this = &mut *self;
        if this.taken.is_none() {
            this.taken = lock(&this.slot).take();
        }
        match this.taken.as_mut() {
            Some(body) => Pin::new(body).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.taken {
            Some(body) => body.is_end_stream(),
            None => lock(&self.slot).as_ref().is_none_or(|b| b.is_end_stream()),
        }
    }

    fn size_hint(&self) -> http_body::SizeHint {
        match &self.taken {
            Some(body) => body.size_hint(),
            None => lock(&self.slot)
                .as_ref()
                .map_or_else(|| http_body::SizeHint::with_exact(0), |b| b.size_hint()),
        }
    }
}

#[cfg(test)]
mod tests {
    use http_body::Body as _;
    use http_body_util::{BodyExt, Full};

    use super::*;

    #[tokio::test]
    async fn an_unpolled_body_is_taken_back_whole_and_a_polled_one_is_not() {
        let slot = Arc::new(Mutex::new(Some(Full::new(Bytes::from_static(b"data")))));
        let body = Reclaim {
            slot: slot.clone(),
            taken: None,
        };
        assert_eq!(body.size_hint().exact(), Some(4));
        drop(body);
        assert!(lock(&slot).is_some(), "never polled: still there");

        let body = Reclaim {
            slot: slot.clone(),
            taken: None,
        };
        let bytes = body.collect().await.expect("body").to_bytes();
        assert_eq!(bytes, "data");
        assert!(lock(&slot).is_none(), "sent: gone");
    }
}
