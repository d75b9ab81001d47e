//! Log lines on their way to stderr, batched per runtime worker thread.
//!
//! Writing every line as it is made cost each proxied request a system call (its
//! access-log line): the whole log is ~2 µs of the ~30 µs a small request costs the
//! proxy at 16 connections, most of it that call (docs/benchmarks.md). Instead a
//! worker thread appends each whole line to a buffer of its own and writes the buffer
//! - when it runs out of work and is about to sleep (the runtime's park hook:
//!   [`worker_parked`]), so a proxy that is not busy writes each line at once;
//! - before the buffer would pass [`BATCH_BYTES`];
//! - when, at its next line, the oldest line held is [`BATCH_AGE`] old;
//! - when the thread stops ([`flush_thread`] in the runtime's stop hook; the buffer's
//!   own drop otherwise), so a graceful shutdown loses nothing.
//!
//! A line therefore waits at most until its worker has nothing left to do (or logs
//! again after `BATCH_AGE`). Threads that never run the park hook (the main thread,
//! the blocking pool) write each line at once, as before.
//!
//! A batch holds whole lines (tracing-subscriber writes an event in one `write`) and
//! at most 4 KiB, so one batch is one `write` that a pipe takes whole (`PIPE_BUF`):
//! lines from different threads never interleave mid-line. Lines of different
//! workers can reach the log out of order by up to one batch; each carries its time.
//! What a worker holds is lost if the process is killed (SIGKILL, abort), as nginx's
//! and Envoy's buffered access logs are.

use std::cell::RefCell;
use std::io::{self, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing_subscriber::fmt::MakeWriter;

/// The most a batch holds: one atomic `write` to a pipe on Linux (`PIPE_BUF`).
pub const BATCH_BYTES: usize = 4096;

/// How old the oldest held line may be when the worker writes its next line.
pub const BATCH_AGE: Duration = Duration::from_millis(100);

/// What writes a batch (or a line) out.
type Sink = Box<dyn Fn(&[u8]) -> io::Result<()> + Send + Sync>;

/// Where batches go, and how long a worker may hold a line.
struct Out {
    sink: Sink,
    age: Duration,
}

/// A [`MakeWriter`] batching the lines written on runtime workers (see the module docs).
#[derive(Clone)]
pub struct Batched(Arc<Out>);

impl Batched {
    /// Batches written to this process's stderr.
    pub fn stderr() -> Self {
        Self::new(BATCH_AGE, |bytes| io::stderr().lock().write_all(bytes))
    }

    /// Batches handed to `sink`, each line held at most `age` (see the module docs).
    pub fn new(
        age: Duration,
        sink: impl Fn(&[u8]) -> io::Result<()> + Send + Sync + 'static,
    ) -> Self {
        Self(Arc::new(Out {
            sink: Box::new(sink),
            age,
        }))
    }
}

impl<'a> MakeWriter<'a> for Batched {
    type Writer = Line<'a>;

    fn make_writer(&'a self) -> Line<'a> {
        Line(&self.0)
    }
}

/// One event's line on its way to the batch of the thread writing it.
pub struct Line<'a>(&'a Arc<Out>);

impl Write for Line<'_> {
    fn write(&mut self, line: &[u8]) -> io::Result<usize> {
        let held = HELD.try_with(|held| match held.try_borrow_mut() {
            Ok(mut held) => held.add(self.0, line),
            // Only if the sink itself logged: write, do not lose it.
            Err(_) => (self.0.sink)(line),
        });
        // This thread is ending and its batch is gone: write at once.
        held.unwrap_or_else(|_| (self.0.sink)(line))?;
        Ok(line.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The runtime's park hook: this thread is a worker (it batches from now on) and is
/// about to sleep, so what it holds is written now.
pub fn worker_parked() {
    with_held(|held| {
        held.worker = true;
        held.flush();
    });
}

/// The runtime's thread-stop hook: writes what this thread holds.
pub fn flush_thread() {
    with_held(Held::flush);
}

fn with_held(f: impl FnOnce(&mut Held)) {
    let _ = HELD.try_with(|held| {
        if let Ok(mut held) = held.try_borrow_mut() {
            f(&mut held);
        }
    });
}

thread_local! {
    static HELD: RefCell<Held> = const {
        RefCell::new(Held { worker: false, bytes: Vec::new(), since: None, out: None })
    };
}

/// The lines one thread holds, all for `out`.
struct Held {
    /// Set by the park hook: only threads that run it batch.
    worker: bool,
    bytes: Vec<u8>,
    /// When the oldest line held was added.
    since: Option<Instant>,
    out: Option<Arc<Out>>,
}

impl Held {
    fn add(&mut self, out: &Arc<Out>, line: &[u8]) -> io::Result<()> {
        if !self.worker {
            return (out.sink)(line);
        }
        let same_out = self.out.as_ref().is_some_and(|o| Arc::ptr_eq(o, out));
        if !same_out || self.bytes.len() + line.len() > BATCH_BYTES {
            self.flush();
        }
        if line.len() > BATCH_BYTES {
            return (out.sink)(line);
        }
        if !same_out {
            self.out = Some(Arc::clone(out));
        }
        let now = Instant::now();
        let since = *self.since.get_or_insert(now);
        self.bytes.extend_from_slice(line);
        if now.duration_since(since) >= out.age {
            self.flush();
        }
        Ok(())
    }

    /// Writes what is held (a failing stderr has nobody left to tell).
    fn flush(&mut self) {
        if let Some(out) = &self.out {
            if !self.bytes.is_empty() {
                let _ = (out.sink)(&self.bytes);
            }
        }
        self.bytes.clear();
        self.since = None;
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.flush();
    }
}

#[cfg(test)]
mod tests;
