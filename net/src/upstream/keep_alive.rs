//! Kept-alive HTTP/1 connections by upstream address: hyper's connection-level
//! client (`hyper::client::conn::http1`), each upstream's idle connections kept for
//! its next requests.
//!
//! A connection is handed back the moment its answer's body ends, by the task that
//! read that end ([`AnswerBody`]), if hyper already waits for its next request on it
//! (nearly always); otherwise a task waits for that first. An answer dropped before
//! its end takes its connection with it (hyper closes it: what was left unread
//! cannot be skipped). The most recently used connection goes first; one idle
//! longer than the idle timeout is never used, and a background task closes such
//! ones while any are kept. A kept connection found closed before the request went
//! out (the upstream's keep-alive timeout ended it) is passed over and the request
//! goes on the next one, or on a new connection.
//!
//! Why not hyper-util's pooled client (used before): for every request it hashed its
//! key one byte at a time (SipHash, three times), and for every answer with a body
//! spawned a task that waited for the connection to be ready again, its body wrapped
//! to hold the end back until then. A proxied 1 KB request took 63,870 instructions
//! in dcs-proxy with it and 58,160 with this (callgrind, docs/benchmarks.md).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use dcs_os::mutex::lock;
use http::{Request, Response};
use http_body::Body as _;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper::client::conn::http1::SendRequest;
use tracing::debug;

use super::Failure;
use crate::BoxError;

/// The idle connections of every upstream, for requests with bodies of type `B`.
pub struct KeepAlive<B> {
    shared: Arc<Shared<B>>,
}

impl<B> std::fmt::Debug for KeepAlive<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeepAlive").finish_non_exhaustive()
    }
}

struct Shared<B> {
    hosts: Mutex<HashMap<Box<str>, Arc<Host<B>>, foldhash::fast::RandomState>>,
    max_idle: usize,
    idle_timeout: Duration,
    /// Whether the task that closes expired connections runs.
    sweeping: AtomicBool,
}

/// One upstream's idle connections, oldest first.
struct Host<B> {
    idle: Mutex<Vec<Idle<B>>>,
    max_idle: usize,
    idle_timeout: Duration,
}

struct Idle<B> {
    sender: SendRequest<B>,
    since: Instant,
}

impl<B> KeepAlive<B>
where
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    /// Keeps up to `max_idle` idle connections per upstream, each for `idle_timeout`.
    pub fn new(max_idle: usize, idle_timeout: Duration) -> Self {
        Self {
            shared: Arc::new(Shared {
                hosts: Mutex::default(),
                max_idle,
                idle_timeout,
                sweeping: AtomicBool::new(false),
            }),
        }
    }

    /// Sends `req` (its own `Host`; its target as [`super::origin_form`] makes it)
    /// to the upstream known as `key` over one of its idle connections, or over a
    /// new one `connect` makes.
    pub async fn send<C, F, IO>(
        &self,
        key: &str,
        mut req: Request<B>,
        connect: C,
    ) -> Result<Response<AnswerBody<B>>, Failure>
    where
        C: FnOnce() -> F,
        F: Future<Output = Result<IO, Failure>>,
        IO: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    {
        super::origin_form(&mut req);
        // An upstream gets a record with its first answer: failures leave none.
        let known = lock(&self.shared.hosts).get(key).cloned();
        if let Some(host) = known {
            while let Some(mut sender) = host.checkout() {
                match sender.try_send_request(req).await {
                    Ok(resp) => return Ok(self.answer(resp, sender, host)),
                    // Closed before the request went out: the next one, or a new one.
                    Err(mut err) => match err.take_message() {
                        Some(unsent) => req = unsent,
                        None => return Err(Failure::of(&err.into_error(), false)),
                    },
                }
            }
        }
        let io = connect().await?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
            .await
            .map_err(|e| Failure::of(&e, true))?;
        tokio::spawn(async move {
            if let Err(err) = conn.await {
                debug!(%err, "upstream connection ended with an error");
            }
        });
        let resp = sender
            .send_request(req)
            .await
            .map_err(|e| Failure::of(&e, false))?;
        Ok(self.answer(resp, sender, self.host(key)))
    }

    /// The upstreams with a record here (idle connections, or answers under way).
    pub fn upstreams(&self) -> usize {
        lock(&self.shared.hosts).len()
    }

    /// The idle connections kept for `key`.
    pub fn idle(&self, key: &str) -> usize {
        lock(&self.shared.hosts)
            .get(key)
            .map_or(0, |host| lock(&host.idle).len())
    }

    fn host(&self, key: &str) -> Arc<Host<B>> {
        let mut hosts = lock(&self.shared.hosts);
        if let Some(host) = hosts.get(key) {
            return host.clone();
        }
        let host = Arc::new(Host {
            idle: Mutex::default(),
            max_idle: self.shared.max_idle,
            idle_timeout: self.shared.idle_timeout,
        });
        hosts.insert(key.into(), host.clone());
        host
    }

    fn answer(
        &self,
        resp: Response<Incoming>,
        sender: SendRequest<B>,
        host: Arc<Host<B>>,
    ) -> Response<AnswerBody<B>> {
        self.sweep_later();
        let (parts, inner) = resp.into_parts();
        let mut body = AnswerBody {
            inner,
            back: Some(Back { sender, host }),
        };
        if body.inner.is_end_stream() {
            // Nothing to read (`HEAD`, `204`, `304`, an empty body): back at once.
            body.give_back();
        }
        Response::from_parts(parts, body)
    }

    /// Starts the task that closes expired idle connections, unless it runs.
    fn sweep_later(&self) {
        if self.shared.sweeping.load(Ordering::Relaxed)
            || self.shared.sweeping.swap(true, Ordering::AcqRel)
        {
            return;
        }
        let weak = Arc::downgrade(&self.shared);
        // An expired connection is never used; it is closed within half a timeout.
        let period = (self.shared.idle_timeout / 2)
            .clamp(Duration::from_millis(50), Duration::from_secs(30));
        tokio::spawn(sweep(weak, period));
    }
}

/// Every `period`, closes the idle connections that expired and forgets upstreams
/// with nothing left; ends when none are left (the next answer starts it again).
async fn sweep<B>(shared: Weak<Shared<B>>, period: Duration) {
    /// Clears the flag however the task ends (also when its runtime drops it).
    struct Running<B>(Weak<Shared<B>>);
    impl<B> Drop for Running<B> {
        fn drop(&mut self) {
            if let Some(shared) = self.0.upgrade() {
                shared.sweeping.store(false, Ordering::Release);
            }
        }
    }
    let _running = Running(shared.clone());
    loop {
        tokio::time::sleep(period).await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let now = Instant::now();
        let mut hosts = lock(&shared.hosts);
        hosts.retain(|_, host| {
            let mut idle = lock(&host.idle);
            idle.retain(|conn| now.duration_since(conn.since) < host.idle_timeout);
            // Kept while it has idle connections or an answer under way holds it.
            !idle.is_empty() || Arc::strong_count(host) > 1
        });
        if hosts.is_empty() {
            return;
        }
    }
}

impl<B> Host<B>
where
    B: http_body::Body + Send + 'static,
{
    /// The most recently used idle connection that can take a request now.
    fn checkout(&self) -> Option<SendRequest<B>> {
        let now = Instant::now();
        let mut idle = lock(&self.idle);
        while let Some(conn) = idle.pop() {
            if now.duration_since(conn.since) >= self.idle_timeout {
                // It and every older one expired.
                idle.clear();
                return None;
            }
            if conn.sender.is_ready() {
                return Some(conn.sender);
            }
            // Not ready while kept: it closed.
        }
        None
    }

    /// Keeps `sender` (ready for its next request) unless enough are kept.
    fn keep(&self, sender: SendRequest<B>) {
        let mut idle = lock(&self.idle);
        if idle.len() < self.max_idle {
            idle.push(Idle {
                sender,
                since: Instant::now(),
            });
        }
    }
}

/// The body of an upstream's answer: its connection goes back to the upstream's idle
/// connections when the body has ended.
pub struct AnswerBody<B> {
    inner: Incoming,
    back: Option<Back<B>>,
}

impl<B> AnswerBody<B> {
    /// The body of an answer on a connection of its own (an upgrade's), never kept.
    pub fn alone(inner: Incoming) -> Self {
        Self { inner, back: None }
    }
}

struct Back<B> {
    sender: SendRequest<B>,
    host: Arc<Host<B>>,
}

impl<B> AnswerBody<B>
where
    B: http_body::Body + Send + 'static,
{
    fn give_back(&mut self) {
        let Some(Back { mut sender, host }) = self.back.take() else {
            return;
        };
        if sender.is_ready() {
            host.keep(sender);
        } else if !sender.is_closed() {
            // hyper has not yet finished the exchange (the request's body may still
            // be going out): kept once it waits for the next request.
            tokio::spawn(async move {
                if sender.ready().await.is_ok() {
                    host.keep(sender);
                }
            });
        }
    }
}

impl<B> std::fmt::Debug for AnswerBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnswerBody").finish_non_exhaustive()
    }
}

impl<B> http_body::Body for AnswerBody<B>
where
    B: http_body::Body + Send + 'static,
{
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = &mut *self;
        let frame = Pin::new(&mut this.inner).poll_frame(cx);
        match &frame {
            Poll::Ready(None) => this.give_back(),
            Poll::Ready(Some(Ok(_))) if this.inner.is_end_stream() => this.give_back(),
            // An error: the connection is not reusable; dropped with the body.
            _ => {}
        }
        frame
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests;
