//! The sockets a tunnel carries bytes between without a buffer of its own while
//! idle: tokio's TCP and unix streams, read and written by readiness through a
//! shared reference (so both directions use one socket at once, without splitting
//! it), and half-closed for writing.

use std::cell::RefCell;
use std::future::Future;
use std::io;
use std::net::Shutdown;
use std::os::fd::AsFd;

use socket2::SockRef;
use tokio::io::Interest;
use tokio::net::{TcpStream, UnixStream};

/// A connected stream socket registered with tokio's reactor.
pub trait Socket: AsFd + Send + Sync {
    /// Whether a read that fills less than its room took everything the socket
    /// held. True for TCP (the kernel hands over all it holds, up to the room); not
    /// promised for unix sockets (a read stops early at a writer's passed
    /// descriptors or credentials), which are read until they would block.
    const SHORT_READ_DRAINS: bool;

    /// Waits until the socket may be read (or has ended or failed).
    fn readable(&self) -> impl Future<Output = io::Result<()>> + Send;
    /// Waits until the socket may be written.
    fn writable(&self) -> impl Future<Output = io::Result<()>> + Send;
    /// Runs `f` (one system call) and clears the readiness seen before it if `f`
    /// says it would block.
    fn try_io<R>(&self, interest: Interest, f: impl FnOnce() -> io::Result<R>) -> io::Result<R>;
    /// Reads what the socket holds into `buf`'s spare room, without waiting.
    fn try_read_buf(&self, buf: &mut Vec<u8>) -> io::Result<usize>;
    /// Writes what the socket takes of `buf`, without waiting.
    fn try_write(&self, buf: &[u8]) -> io::Result<usize>;
}

macro_rules! socket {
    ($stream:ty, $short_read_drains:expr) => {
        impl Socket for $stream {
            const SHORT_READ_DRAINS: bool = $short_read_drains;

            fn readable(&self) -> impl Future<Output = io::Result<()>> + Send {
                <$stream>::readable(self)
            }

            fn writable(&self) -> impl Future<Output = io::Result<()>> + Send {
                <$stream>::writable(self)
            }

            fn try_io<R>(
                &self,
                interest: Interest,
                f: impl FnOnce() -> io::Result<R>,
            ) -> io::Result<R> {
                <$stream>::try_io(self, interest, f)
            }

            fn try_read_buf(&self, buf: &mut Vec<u8>) -> io::Result<usize> {
                <$stream>::try_read_buf(self, buf)
            }

            fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
                <$stream>::try_write(self, buf)
            }
        }
    };
}

socket!(TcpStream, true);
socket!(UnixStream, false);

/// Writes all of `buf` to `to`, waiting while it is full.
pub async fn write_all(to: &impl Socket, mut buf: &[u8]) -> io::Result<()> {
    loop {
        buf = &buf[write_now(to, buf)?..];
        if buf.is_empty() {
            return Ok(());
        }
        to.writable().await?;
    }
}

/// Writes what `to` takes of `buf` now, without waiting: the bytes written, fewer
/// than `buf` holds only when `to` is full.
fn write_now(to: &impl Socket, buf: &[u8]) -> io::Result<usize> {
    let mut sent = 0;
    while sent < buf.len() {
        match to.try_write(&buf[sent..]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => sent += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) => return Err(e),
        }
    }
    Ok(sent)
}

/// Ends `socket`'s sending side (the peer reads the end); reading goes on.
pub fn shutdown_write(socket: &impl Socket) -> io::Result<()> {
    SockRef::from(socket).shutdown(Shutdown::Write)
}

/// Reads what `from` holds into `buf`'s spare room: the count, and whether that was
/// all it held. A read that fills less than its room took everything a TCP socket
/// had ([`Socket::SHORT_READ_DRAINS`]), so the socket's readiness is cleared then,
/// as nginx does, instead of a second read only to hear "would block": one system
/// call less per message and direction. The readiness cleared is the one seen
/// before the read (tokio's `try_io`), so bytes that arrive after it make the
/// socket ready again and are not missed.
pub fn read_some<S: Socket>(from: &S, buf: &mut Vec<u8>) -> io::Result<(usize, bool)> {
    let room = buf.capacity() - buf.len();
    let mut got = 0;
    let read = from.try_io(Interest::READABLE, || {
        got = from.try_read_buf(buf)?;
        if S::SHORT_READ_DRAINS && got > 0 && got < room {
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

/// What one [`move_some`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum Moved {
    /// `from` has ended.
    Ended,
    /// `n` bytes read and all written; `drained` as [`read_some`] says.
    All { n: usize, drained: bool },
    /// `n` bytes read, of which `to` could not take `rest` yet: the caller writes it
    /// (waiting), and it is the only copy made.
    Part {
        n: usize,
        drained: bool,
        rest: Vec<u8>,
    },
}

thread_local! {
    /// This thread's burst buffer ([`move_some`]): one per thread, not per tunnel, and
    /// never held across an await.
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Reads what `from` holds (up to `burst` bytes), shows it to `observe`, and writes
/// what `to` takes of it at once, all without waiting: the bytes pass through this
/// thread's scratch buffer, so a message costs no allocation (a 64 KiB one was a
/// trip to the allocator's arena, per message and direction). `WouldBlock` when
/// `from` holds nothing.
pub fn move_some<A: Socket, B: Socket>(
    from: &A,
    to: &B,
    burst: usize,
    observe: &mut impl FnMut(&[u8]),
) -> io::Result<Moved> {
    SCRATCH.with(|scratch| match scratch.try_borrow_mut() {
        Ok(mut buf) => move_through(from, to, burst, observe, &mut buf),
        // Only if `observe` moved bytes itself: a buffer of this call's own.
        Err(_) => move_through(from, to, burst, observe, &mut Vec::new()),
    })
}

fn move_through<A: Socket, B: Socket>(
    from: &A,
    to: &B,
    burst: usize,
    observe: &mut impl FnMut(&[u8]),
    buf: &mut Vec<u8>,
) -> io::Result<Moved> {
    buf.clear();
    buf.reserve_exact(burst);
    let (n, drained) = read_some(from, buf)?;
    if n == 0 {
        return Ok(Moved::Ended);
    }
    observe(buf);
    let sent = write_now(to, buf)?;
    if sent < n {
        return Ok(Moved::Part {
            n,
            drained,
            rest: buf[sent..].to_vec(),
        });
    }
    Ok(Moved::All { n, drained })
}
