//! Upgrades to a launcher reached directly (local mode, over TCP or its unix socket)
//! as HTTP/2 extended CONNECT streams ([`crate::extended_connect`]) on one
//! connection per launcher: a WebSocket then holds one descriptor in the proxy (the
//! browser's) instead of two, and none of its own in the launcher.
//!
//! A connection is made when a launcher has none open (one connect at a time per
//! launcher, so WebSockets opened together share it) and lives as long as a tunnel
//! holds it ([`Held`], in the answer's extensions): once the last of its WebSockets
//! closed it closes too, and what it kept per stream is freed. One that closed
//! under its tunnels (a launcher that stopped or restarted) is replaced on the next
//! upgrade.

use std::any::Any;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, Weak};

use http::{HeaderValue, Request, Response};
use hyper::client::conn::http2::SendRequest;
use hyper_util::rt::TokioExecutor;
use tracing::debug;

use super::{send_alone, AnswerBody, Failure};
use crate::extended_connect::{CONNECTION_WINDOW, STREAM_WINDOW};
use crate::BoxError;
use dcs_os::mutex::lock;

/// One HTTP/2 connection per launcher, carrying its upgrades.
pub struct Multiplexed<B> {
    launchers: Mutex<HashMap<String, Arc<Launcher<B>>>>,
}

/// A launcher's connection, if one is open; locked while one is made.
struct Launcher<B> {
    conn: tokio::sync::Mutex<Weak<SendRequest<B>>>,
}

/// Keeps a launcher's HTTP/2 connection open; every tunnel on it holds one, taken
/// from its answer's extensions ([`Held::take`]).
#[derive(Clone)]
pub struct Held {
    _conn: Arc<dyn Any + Send + Sync>,
}

impl Held {
    /// The hold an answer of [`Multiplexed::send_upgrade`] carries (none for an
    /// answer over a connection of its own).
    pub fn take<T>(resp: &mut Response<T>) -> Option<Held> {
        resp.extensions_mut().remove::<Held>()
    }
}

impl<B> Default for Multiplexed<B> {
    fn default() -> Self {
        Self {
            launchers: Mutex::new(HashMap::new()),
        }
    }
}

impl<B> std::fmt::Debug for Multiplexed<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Multiplexed")
            .field("launchers", &lock(&self.launchers).len())
            .finish()
    }
}

impl<B> Multiplexed<B>
where
    B: http_body::Body + Send + Unpin + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    /// Sends `req`, an upgrade to `upgrade` (origin-form, `Host` as the browser sent
    /// it), to the launcher known as `key` (its address or socket path) as a stream
    /// on its connection, made by `connect` when there is none; `fallback_host`
    /// stands in for a missing `Host`. The answer reads as HTTP/1.1's: a `101` whose
    /// `hyper::upgrade::on` is the stream. An upgrade that cannot be a stream (not a
    /// `GET`) goes over a connection of its own.
    pub async fn send_upgrade<IO, F, Fut>(
        &self,
        key: &str,
        mut req: Request<B>,
        upgrade: &HeaderValue,
        fallback_host: &str,
        connect: F,
    ) -> Result<Response<AnswerBody<B>>, Failure>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<IO, Failure>>,
        IO: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    {
        if !crate::extended_connect::to_stream(&mut req, upgrade, fallback_host) {
            return send_alone(connect().await?, req).await;
        }
        let conn = self.conn(key, &connect).await?;
        let answer = (*conn).clone().send_request(req).await;
        let mut resp = answer.map_err(|e| Failure::of(&e, false))?;
        crate::extended_connect::to_switching(&mut resp, upgrade);
        resp.extensions_mut().insert(Held { _conn: conn });
        Ok(resp.map(AnswerBody::alone))
    }

    /// `key`'s open connection, or a new one made by `connect` (one at a time per
    /// launcher: those asking meanwhile take the one made).
    async fn conn<IO, F, Fut>(&self, key: &str, connect: &F) -> Result<Arc<SendRequest<B>>, Failure>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<IO, Failure>>,
        IO: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    {
        let launcher = self.launcher(key);
        let mut current = launcher.conn.lock().await;
        if let Some(open) = current.upgrade().filter(|s| !s.is_closed()) {
            return Ok(open);
        }
        let io = connect().await?;
        let (sender, conn) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
            .initial_stream_window_size(STREAM_WINDOW)
            .initial_connection_window_size(CONNECTION_WINDOW)
            .handshake(io)
            .await
            .map_err(|e| Failure::of(&e, false))?;
        // Ends once every hold is dropped and its streams have ended.
        tokio::spawn(async move {
            if let Err(err) = conn.await {
                debug!(%err, "HTTP/2 connection to a launcher ended with an error");
            }
        });
        let open = Arc::new(sender);
        *current = Arc::downgrade(&open);
        Ok(open)
    }

    /// `key`'s entry, made when it has none; entries of launchers with no
    /// connection and nobody connecting are forgotten then.
    fn launcher(&self, key: &str) -> Arc<Launcher<B>> {
        let mut launchers = lock(&self.launchers);
        if let Some(known) = launchers.get(key) {
            return known.clone();
        }
        launchers.retain(|_, l| {
            Arc::strong_count(l) > 1 || l.conn.try_lock().map_or(true, |c| c.strong_count() > 0)
        });
        let made = Arc::new(Launcher {
            conn: tokio::sync::Mutex::new(Weak::new()),
        });
        launchers.insert(key.to_owned(), made.clone());
        made
    }

    /// Launchers with a connection open now.
    pub fn open(&self) -> usize {
        lock(&self.launchers)
            .values()
            .filter(|l| {
                l.conn
                    .try_lock()
                    .map_or(true, |c| c.upgrade().is_some_and(|s| !s.is_closed()))
            })
            .count()
    }
}

#[cfg(test)]
mod tests;
