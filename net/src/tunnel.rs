//! An upgraded connection's tunnel: bytes carried both ways between the client and
//! the upstream until both directions end (each end half-closes the other) or a
//! stop signal comes (idle policy, shutdown), which drops both connections.
//!
//! Two ways to carry them, the same behaviour:
//! - [`tunnel_sockets`], between two sockets ([`Socket`]: TCP or unix, so also a
//!   sandboxed workspace's, reached through a socket file, and the launcher's relay
//!   into its sandbox): it waits for readiness without holding a buffer, so an idle
//!   tunnel holds none; a burst passes through the thread's [`BURST`] scratch buffer,
//!   enough for a 64 KiB WebSocket message in one read and one write. [`tunnel_upgraded`]
//!   takes it for hyper's upgraded connections whenever both are sockets (always,
//!   between the proxy, the launcher and the IDE).
//! - [`tunnel_socket_stream`], between a socket and a stream that is not one (an
//!   HTTP/2 stream of the hop between the proxy and a launcher): no buffer while
//!   idle either, the stream read into a [`CHUNK`] buffer on the stack of the poll.
//! - [`tunnel`], generic over `AsyncRead + AsyncWrite` (tested with in-memory pipes),
//!   with a [`CHUNK`] buffer each way for as long as it runs.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpStream, UnixStream};

mod socket;
mod stream;

pub use socket::Socket;
use socket::{move_some, shutdown_write, write_all, Moved};
pub use stream::{tunnel_socket_stream, Client};

/// Bytes read at once in each direction by [`tunnel`].
pub const CHUNK: usize = 16 * 1024;

/// The largest read of [`tunnel_sockets`]; its buffer exists only while data flows.
pub const BURST: usize = 64 * 1024;

/// Carries bytes between `client` and `upstream` until both directions end or
/// `stop` resolves. `observe` sees every chunk the client sends before it is passed
/// on (the proxy counts WebSocket data frames with it). Returns the bytes carried
/// up (client → upstream) and down.
pub async fn tunnel<C, U>(
    client: C,
    upstream: U,
    mut observe: impl FnMut(&[u8]),
    stop: impl Future<Output = ()>,
) -> (u64, u64)
where
    C: AsyncRead + AsyncWrite + Unpin,
    U: AsyncRead + AsyncWrite + Unpin,
{
    let (mut client_rd, mut client_wr) = tokio::io::split(client);
    let (mut up_rd, mut up_wr) = tokio::io::split(upstream);
    let mut up = 0u64;
    let mut down = 0u64;
    let client_to_upstream = async {
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = match client_rd.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            observe(&buf[..n]);
            if up_wr.write_all(&buf[..n]).await.is_err() {
                break;
            }
            up += n as u64;
        }
        let _ = up_wr.shutdown().await;
    };
    let upstream_to_client = async {
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = match up_rd.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if client_wr.write_all(&buf[..n]).await.is_err() {
                break;
            }
            down += n as u64;
        }
        let _ = client_wr.shutdown().await;
    };
    tokio::select! {
        // Each direction half-closes the other side when it ends; the tunnel is
        // over when both have.
        _ = async { tokio::join!(client_to_upstream, upstream_to_client) } => {}
        // Stopped: dropping both halves closes both connections.
        () = stop => {}
    }
    (up, down)
}

/// [`tunnel`] for hyper's upgraded connections: by [`tunnel_sockets`] when both are
/// sockets, by [`tunnel_socket_stream`] when one is, else by [`tunnel`]. Bytes hyper
/// read past the upgrade's head are carried first.
pub async fn tunnel_upgraded(
    client: Upgraded,
    upstream: Upgraded,
    observe: impl FnMut(&[u8]),
    stop: impl Future<Output = ()>,
) -> (u64, u64) {
    use Conn::{Tcp, Unix};
    match (Conn::of(client), Conn::of(upstream)) {
        (Tcp(c), Tcp(u)) => tunnel_sockets(c, u, observe, stop).await,
        (Tcp(c), Unix(u)) => tunnel_sockets(c, u, observe, stop).await,
        (Unix(c), Tcp(u)) => tunnel_sockets(c, u, observe, stop).await,
        (Unix(c), Unix(u)) => tunnel_sockets(c, u, observe, stop).await,
        (Tcp(c), Conn::Other(u)) => {
            tunnel_socket_stream(c, TokioIo::new(u), Client::Socket, observe, stop).await
        }
        (Unix(c), Conn::Other(u)) => {
            tunnel_socket_stream(c, TokioIo::new(u), Client::Socket, observe, stop).await
        }
        (Conn::Other(c), Tcp(u)) => {
            tunnel_socket_stream(u, TokioIo::new(c), Client::Stream, observe, stop).await
        }
        (Conn::Other(c), Unix(u)) => {
            tunnel_socket_stream(u, TokioIo::new(c), Client::Stream, observe, stop).await
        }
        (client, upstream) => tunnel(client.into_io(), upstream.into_io(), observe, stop).await,
    }
}

/// An upgraded connection as the socket under it (with the bytes hyper read past
/// the upgrade's head), when it is one.
enum Conn {
    Tcp((TcpStream, Bytes)),
    Unix((UnixStream, Bytes)),
    Other(Upgraded),
}

/// Something read and written as a stream.
trait Io: AsyncRead + AsyncWrite + Send + Unpin {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

impl Conn {
    fn of(upgraded: Upgraded) -> Conn {
        let upgraded = match upgraded.downcast::<TokioIo<TcpStream>>() {
            Ok(parts) => return Conn::Tcp((parts.io.into_inner(), parts.read_buf)),
            Err(upgraded) => upgraded,
        };
        match upgraded.downcast::<TokioIo<UnixStream>>() {
            Ok(parts) => Conn::Unix((parts.io.into_inner(), parts.read_buf)),
            Err(upgraded) => Conn::Other(upgraded),
        }
    }

    /// The connection as a stream, read from the bytes already read first.
    fn into_io(self) -> Box<dyn Io> {
        match self {
            Conn::Tcp((io, pre)) => Box::new(Prefixed { pre, io }),
            Conn::Unix((io, pre)) => Box::new(Prefixed { pre, io }),
            Conn::Other(upgraded) => Box::new(TokioIo::new(upgraded)),
        }
    }
}

/// [`tunnel`] between two sockets, each with the bytes already read from it
/// (`(socket, read)`), holding a buffer only while bytes flow.
pub async fn tunnel_sockets<A: Socket, B: Socket>(
    client: (A, Bytes),
    upstream: (B, Bytes),
    mut observe: impl FnMut(&[u8]),
    stop: impl Future<Output = ()>,
) -> (u64, u64) {
    let ((client, client_read), (upstream, upstream_read)) = (client, upstream);
    let (up, down) = (AtomicU64::new(0), AtomicU64::new(0));
    let client_to_upstream = async {
        if !client_read.is_empty() {
            observe(&client_read);
        }
        if write_all(&upstream, &client_read).await.is_ok() {
            up.store(client_read.len() as u64, Ordering::Relaxed);
            pump(&client, &upstream, &mut observe, &up).await;
        }
        let _ = shutdown_write(&upstream);
    };
    let upstream_to_client = async {
        if write_all(&client, &upstream_read).await.is_ok() {
            down.store(upstream_read.len() as u64, Ordering::Relaxed);
            pump(&upstream, &client, &mut |_: &[u8]| {}, &down).await;
        }
        let _ = shutdown_write(&client);
    };
    tokio::select! {
        // Each direction half-closes the other side when it ends; the tunnel is
        // over when both have.
        _ = async { tokio::join!(client_to_upstream, upstream_to_client) } => {}
        // Stopped: dropping both sockets closes both connections.
        () = stop => {}
    }
    (up.into_inner(), down.into_inner())
}

/// Copies `from` to `to` until `from` ends or either fails, adding the bytes copied
/// to `copied`. Waits for readability without a buffer; moves what is there through
/// the thread's scratch buffer ([`move_some`], up to [`BURST`] at a time) for as long
/// as bytes keep coming. Only bytes `to` cannot take at once are copied, and held
/// while it is written.
async fn pump(
    from: &impl Socket,
    to: &impl Socket,
    observe: &mut impl FnMut(&[u8]),
    copied: &AtomicU64,
) {
    loop {
        if from.readable().await.is_err() {
            return;
        }
        loop {
            let (n, drained) = match move_some(from, to, BURST, observe) {
                Ok(Moved::Ended) => return,
                Ok(Moved::All { n, drained }) => (n, drained),
                Ok(Moved::Part { n, drained, rest }) => {
                    if write_all(to, &rest).await.is_err() {
                        return;
                    }
                    (n, drained)
                }
                // Nothing more for now: idle again.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => return,
            };
            copied.fetch_add(n as u64, Ordering::Relaxed);
            if drained {
                break;
            }
        }
    }
}

/// An I/O object read from `pre` first, then from `io`.
struct Prefixed<T> {
    pre: Bytes,
    io: T,
}

impl<T: AsyncRead + Unpin> AsyncRead for Prefixed<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.pre.has_remaining() {
            let n = self.pre.len().min(buf.remaining());
            buf.put_slice(&self.pre[..n]);
            self.pre.advance(n);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Prefixed<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests;
