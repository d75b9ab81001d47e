//! The tunnel between a socket and a stream that is not one (an HTTP/2 stream of
//! the hop to a launcher, [`crate::extended_connect`]), holding no buffer while
//! idle on either side: the socket is waited on for readiness as in
//! [`super::tunnel_sockets`], and the stream is read into a buffer on the stack of
//! the poll that finds data, copied out only as long as the bytes are on their way.

use std::io;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::Poll;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};

use super::socket::{read_some, shutdown_write, write_all, Socket};
use super::{BURST, CHUNK};

/// Which end of a [`tunnel_socket_stream`] is the client (whose bytes are observed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Client {
    /// The socket is the client's side.
    Socket,
    /// The stream is the client's side.
    Stream,
}

/// Carries bytes between `socket` (with the bytes already read from it) and
/// `stream` until both directions end or `stop` resolves; `observe` sees what the
/// client sends. Returns the bytes carried up (client → upstream) and down.
pub async fn tunnel_socket_stream<S, T>(
    socket: (S, Bytes),
    stream: T,
    client: Client,
    mut observe: impl FnMut(&[u8]),
    stop: impl std::future::Future<Output = ()>,
) -> (u64, u64)
where
    S: Socket,
    T: AsyncRead + AsyncWrite + Unpin,
{
    let (socket, socket_read) = socket;
    let (mut stream_rd, mut stream_wr) = tokio::io::split(stream);
    let (to_stream, to_socket) = (AtomicU64::new(0), AtomicU64::new(0));
    // Only the client's direction is observed.
    let (mut on_socket, mut on_stream) = match client {
        Client::Socket => (Some(&mut observe), None),
        Client::Stream => (None, Some(&mut observe)),
    };
    let socket_to_stream = async {
        let mut buf = socket_read.to_vec();
        loop {
            if !buf.is_empty() {
                if let Some(observe) = on_socket.as_mut() {
                    observe(&buf);
                }
                if stream_wr.write_all(&buf).await.is_err() {
                    break;
                }
                to_stream.fetch_add(buf.len() as u64, Ordering::Relaxed);
            }
            buf = Vec::new();
            if socket.readable().await.is_err() {
                break;
            }
            buf.reserve_exact(BURST);
            match read_some(&socket, &mut buf) {
                Ok((0, _)) => break,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(_) => break,
            }
        }
        let _ = stream_wr.shutdown().await;
    };
    let stream_to_socket = async {
        loop {
            let chunk = match read_chunk(&mut stream_rd).await {
                Ok(chunk) if !chunk.is_empty() => chunk,
                _ => break,
            };
            if let Some(observe) = on_stream.as_mut() {
                observe(&chunk);
            }
            if write_all(&socket, &chunk).await.is_err() {
                break;
            }
            to_socket.fetch_add(chunk.len() as u64, Ordering::Relaxed);
        }
        let _ = shutdown_write(&socket);
    };
    tokio::select! {
        // Each direction half-closes the other side when it ends; the tunnel is
        // over when both have.
        _ = async { tokio::join!(socket_to_stream, stream_to_socket) } => {}
        // Stopped: dropping both ends closes both connections.
        () = stop => {}
    }
    let (to_stream, to_socket) = (to_stream.into_inner(), to_socket.into_inner());
    match client {
        Client::Socket => (to_stream, to_socket),
        Client::Stream => (to_socket, to_stream),
    }
}

/// What `from` has now (empty at its end), read into a buffer on the stack of the
/// poll that finds it, so that waiting holds none.
async fn read_chunk<T: AsyncRead + Unpin>(from: &mut T) -> io::Result<Vec<u8>> {
    std::future::poll_fn(|cx| {
        let mut room = [const { MaybeUninit::<u8>::uninit() }; CHUNK];
        let mut buf = ReadBuf::uninit(&mut room);
        match Pin::new(&mut *from).poll_read(cx, &mut buf) {
            Poll::Ready(Ok(())) => Poll::Ready(Ok(buf.filled().to_vec())),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    })
    .await
}

#[cfg(test)]
mod tests;
