//! An upgraded connection's tunnel: bytes carried both ways between the client and
//! the upstream until both directions end (each end half-closes the other) or a
//! stop signal comes (idle policy, shutdown), which drops both connections.
//!
//! Two ways to carry them, the same behaviour:
//! - [`tunnel_upgraded`], for hyper's upgraded connections: when both ends are TCP
//!   sockets (always, between the proxy, the launcher and the IDE) the bytes go by
//!   [`tunnel_tcp`], which waits for readiness without holding a buffer, so an idle
//!   tunnel holds none; a burst borrows one [`BURST`] buffer while it lasts, enough
//!   for a 64 KiB WebSocket message in one read and one write.
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
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, Interest, ReadBuf};
use tokio::net::tcp::{ReadHalf, WriteHalf};
use tokio::net::TcpStream;

/// Bytes read at once in each direction by [`tunnel`].
pub const CHUNK: usize = 16 * 1024;

/// The largest read of [`tunnel_tcp`]; its buffer exists only while data flows.
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

/// [`tunnel`] for hyper's upgraded connections: by [`tunnel_tcp`] when both are TCP
/// sockets, else by [`tunnel`]. Bytes hyper read past the upgrade's head are carried
/// first.
pub async fn tunnel_upgraded(
    client: Upgraded,
    upstream: Upgraded,
    observe: impl FnMut(&[u8]),
    stop: impl Future<Output = ()>,
) -> (u64, u64) {
    let client = match client.downcast::<TokioIo<TcpStream>>() {
        Ok(client) => client,
        Err(client) => {
            return tunnel(TokioIo::new(client), TokioIo::new(upstream), observe, stop).await
        }
    };
    match upstream.downcast::<TokioIo<TcpStream>>() {
        Ok(upstream) => {
            tunnel_tcp(
                (client.io.into_inner(), client.read_buf),
                (upstream.io.into_inner(), upstream.read_buf),
                observe,
                stop,
            )
            .await
        }
        Err(upstream) => {
            let client = Prefixed {
                pre: client.read_buf,
                io: client.io.into_inner(),
            };
            tunnel(client, TokioIo::new(upstream), observe, stop).await
        }
    }
}

/// [`tunnel`] between two TCP sockets, each with the bytes already read from it
/// (`(socket, read)`), holding a buffer only while bytes flow.
pub async fn tunnel_tcp(
    client: (TcpStream, Bytes),
    upstream: (TcpStream, Bytes),
    mut observe: impl FnMut(&[u8]),
    stop: impl Future<Output = ()>,
) -> (u64, u64) {
    let ((mut client, client_read), (mut upstream, upstream_read)) = (client, upstream);
    let (client_rd, mut client_wr) = client.split();
    let (up_rd, mut up_wr) = upstream.split();
    let (up, down) = (AtomicU64::new(0), AtomicU64::new(0));
    let client_to_upstream = async {
        if !client_read.is_empty() {
            observe(&client_read);
        }
        if up_wr.write_all(&client_read).await.is_ok() {
            up.store(client_read.len() as u64, Ordering::Relaxed);
            pump(&client_rd, &mut up_wr, &mut observe, &up).await;
        }
        let _ = up_wr.shutdown().await;
    };
    let upstream_to_client = async {
        if client_wr.write_all(&upstream_read).await.is_ok() {
            down.store(upstream_read.len() as u64, Ordering::Relaxed);
            pump(&up_rd, &mut client_wr, &mut |_: &[u8]| {}, &down).await;
        }
        let _ = client_wr.shutdown().await;
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
/// to `copied`. Waits for readability without a buffer; reads into a fresh [`BURST`]
/// buffer for as long as bytes keep coming, and drops it when none are left.
async fn pump(
    from: &ReadHalf<'_>,
    to: &mut WriteHalf<'_>,
    observe: &mut impl FnMut(&[u8]),
    copied: &AtomicU64,
) {
    loop {
        if from.readable().await.is_err() {
            return;
        }
        let mut buf = Vec::with_capacity(BURST);
        loop {
            buf.clear();
            match read_some(from, &mut buf) {
                Ok((0, _)) => return,
                Ok((n, drained)) => {
                    observe(&buf);
                    if to.write_all(&buf).await.is_err() {
                        return;
                    }
                    copied.fetch_add(n as u64, Ordering::Relaxed);
                    if drained {
                        break;
                    }
                }
                // Nothing more for now: idle again, without the buffer.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => return,
            }
        }
    }
}

/// Reads what `from` holds into `buf`'s spare room: the count, and whether that was
/// all it held. A read that fills less than its room took everything the socket had
/// (a TCP socket hands over all it holds, up to the room), so the socket's readiness
/// is cleared then, as nginx does, instead of a second read only to hear "would
/// block": one system call less per message and direction. The readiness cleared is
/// the one seen before the read (tokio's `try_io`), so bytes that arrive after it
/// make the socket ready again and are not missed.
fn read_some(from: &ReadHalf<'_>, buf: &mut Vec<u8>) -> io::Result<(usize, bool)> {
    let room = buf.capacity() - buf.len();
    let mut got = 0;
    let read = from.as_ref().try_io(Interest::READABLE, || {
        got = from.try_read_buf(buf)?;
        if got > 0 && got < room {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        Ok(())
    });
    match read {
        Ok(()) => Ok((got, false)),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock && got > 0 => Ok((got, true)),
        Err(e) => Err(e),
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
