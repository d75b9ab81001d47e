//! Accepting connections: every accepted socket gets `TCP_NODELAY` (interactive
//! traffic: a WebSocket message written in pieces must not wait ~40 ms for a
//! delayed ACK), and running out of descriptors is answered instead of ignored.
//!
//! Out of descriptors (`EMFILE`/`ENFILE`), `accept` fails and the client would wait
//! in the listen queue with no answer. The [`Acceptor`] keeps one descriptor in
//! reserve (`/dev/null`): at the limit it gives the reserve up, accepts the waiting
//! connection, answers it `503` with `Retry-After` and closes it, then takes the
//! reserve back. Nothing else is concluded from a shortage.

use std::fs::File;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tracing::{debug, warn};

/// Seconds a client is told to wait (`Retry-After`) when descriptors ran out.
pub const RETRY_AFTER_SECS: u64 = 1;

/// How long the overload answer waits for the client's request to arrive, so that
/// closing does not reset the connection before the client read the answer.
const LINGER: Duration = Duration::from_millis(500);

/// The pause before accepting again when nothing can be done about an error.
const BACKOFF: Duration = Duration::from_millis(50);

/// A listener whose accepted sockets are ready for interactive traffic, answering
/// `503` when descriptors run out.
#[derive(Debug)]
pub struct Acceptor {
    listener: TcpListener,
    reserve: Option<File>,
    /// Who we are, for the overload answer (`dcs-proxy`, `dcs-launcher`).
    server: &'static str,
}

impl Acceptor {
    /// Accepts on `listener`, naming `server` in overload answers.
    pub fn new(listener: TcpListener, server: &'static str) -> Self {
        Self {
            listener,
            reserve: open_reserve(),
            server,
        }
    }

    /// The listener.
    pub fn listener(&self) -> &TcpListener {
        &self.listener
    }

    /// The next connection, with `TCP_NODELAY` set. Errors are handled here (an
    /// overload answered, other failures logged and retried), so this only returns
    /// a connection. Cancel-safe: a connection is either returned or not accepted.
    pub async fn accept(&mut self) -> (TcpStream, SocketAddr) {
        loop {
            if self.reserve.is_none() {
                self.reserve = open_reserve();
            }
            match self.listener.accept().await {
                Ok((stream, peer)) => {
                    prepare(&stream);
                    return (stream, peer);
                }
                Err(err) if crate::limits::exhausted(&err) => self.overloaded(&err).await,
                // ECONNABORTED and the like: that connection is gone, the next is not.
                Err(err) => {
                    debug!(%err, "accept failed");
                    tokio::time::sleep(BACKOFF).await;
                }
            }
        }
    }

    /// Out of descriptors: frees the reserve to accept one waiting connection and
    /// answers it `503`; without a reserve, waits a moment.
    async fn overloaded(&mut self, err: &io::Error) {
        let Some(reserve) = self.reserve.take() else {
            warn!(%err, "out of file descriptors; connections wait");
            tokio::time::sleep(BACKOFF).await;
            return;
        };
        drop(reserve);
        match self.listener.accept().await {
            Ok((stream, peer)) => {
                warn!(%peer, %err, "out of file descriptors; answering 503");
                let server = self.server;
                // The answer holds the reserve's place until it is done; the reserve
                // is taken back at the next accept.
                tokio::spawn(answer_overloaded(stream, server));
            }
            Err(again) => {
                warn!(%again, "out of file descriptors even after freeing the reserve");
                tokio::time::sleep(BACKOFF).await;
            }
        }
    }
}

/// What every interactive socket needs: `TCP_NODELAY`.
pub fn prepare(stream: &TcpStream) {
    if let Err(err) = stream.set_nodelay(true) {
        debug!(%err, "cannot set TCP_NODELAY");
    }
}

fn open_reserve() -> Option<File> {
    File::open("/dev/null").ok()
}

/// The answer to a connection accepted while out of descriptors.
pub fn overloaded_response(server: &str) -> String {
    let body = format!(
        "{server} is out of file descriptors (too many open connections); \
         try again in a moment\n"
    );
    unavailable_response("Service Unavailable", &body)
}

/// A `503` with `Retry-After` ([`RETRY_AFTER_SECS`]), `reason` in its status line
/// (visible ASCII, the caller's to make so) and `body` as plain text, closing the
/// connection: what a connection turned away before HTTP is served gets.
pub fn unavailable_response(reason: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 503 {reason}\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Retry-After: {RETRY_AFTER_SECS}\r\nCache-Control: no-store\r\nConnection: close\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// Writes `answer` to `stream` and closes it, having read what the client sent (for
/// a moment): closing with unread bytes would reset the connection, and the client
/// could lose the answer.
pub async fn answer_and_close<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, answer: &[u8]) {
    let _ = stream.write_all(answer).await;
    let _ = stream.shutdown().await;
    let mut sink = [0u8; 1024];
    let _ = tokio::time::timeout(LINGER, async {
        while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
    })
    .await;
}

async fn answer_overloaded(stream: TcpStream, server: &'static str) {
    prepare(&stream);
    answer_and_close(stream, overloaded_response(server).as_bytes()).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn accepted_sockets_have_nodelay() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let mut acceptor = Acceptor::new(listener, "test");
        let client = TcpStream::connect(addr).await.expect("connect");
        let (stream, peer) = acceptor.accept().await;
        assert_eq!(peer, client.local_addr().expect("addr"));
        assert!(stream.nodelay().expect("getsockopt"), "TCP_NODELAY set");
    }

    #[tokio::test]
    async fn the_overload_answer_is_a_complete_503_with_retry_after() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let mut client = TcpStream::connect(addr).await.expect("connect");
        let (stream, _) = listener.accept().await.expect("accept");
        client
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .expect("write");
        answer_overloaded(stream, "dcs-test").await;
        let mut text = String::new();
        client.read_to_string(&mut text).await.expect("read");
        assert!(text.starts_with("HTTP/1.1 503 "), "{text}");
        assert!(text.contains("\r\nRetry-After: 1\r\n"), "{text}");
        assert!(text.ends_with("try again in a moment\n"), "{text}");
    }
}
