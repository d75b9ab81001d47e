//! The access log: one line per answered request, at `info`, target
//! [`TARGET`]: `request peer=… method=… path=… status=… ms=…`.
//!
//! The line is written through `tracing` like every other line, except when the
//! plain text format goes to the batched stderr (what [`super::init`] sets up when
//! stderr is not a terminal: files, `kubectl logs`, the benchmark). Then it is
//! written straight into the batch, as the same text (the tests compare each line
//! with the subscriber's), without tracing's event and field machinery: that was
//! ~3,900 instructions of a small proxied request's ~54,000, most of it `core::fmt`
//! for three `Display` fields. The subscriber's filter still decides whether the
//! line is written (`tracing::enabled!`, a cached answer per call site).

use std::cell::RefCell;
use std::fmt;
use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use tracing::Level;
use tracing_subscriber::fmt::MakeWriter;

use super::batch::Batched;
use super::{escape, lines};
use crate::kept::{kept, Last};

/// The target of access lines: the module that wrote them before they had one of
/// their own, kept because filters name it (`--log info,dcs_proxy::server=warn`).
pub const TARGET: &str = "dcs_proxy::server";

/// One answered request, as its access line shows it.
#[derive(Debug, Clone, Copy)]
pub struct Answered<'a> {
    /// Who asked (the connection's peer).
    pub peer: SocketAddr,
    /// The request's method.
    pub method: &'a str,
    /// The path only (a query string may carry a token), at most 200 characters.
    pub path: &'a str,
    /// The answer's status code.
    pub status: u16,
    /// Milliseconds from the request's head to its answer's head.
    pub ms: u64,
}

/// Where access lines go directly, once [`super::init`] has installed the plain text
/// format on this writer.
static DIRECT: OnceLock<Batched> = OnceLock::new();

/// From now on access lines are written straight into `out`'s batches (see the
/// module docs). Only for the plain text format without colours writing to `out`.
pub(super) fn write_directly_to(out: Batched) {
    let _ = DIRECT.set(out);
}

thread_local! {
    /// A line being made (kept between lines).
    static LINE: RefCell<String> = const { RefCell::new(String::new()) };
}

impl Answered<'_> {
    /// Writes the access line (see the module docs).
    pub fn log(&self) {
        match DIRECT.get() {
            Some(out) => self.write_to(out),
            None => self.through_tracing(),
        }
    }

    /// The line as a `tracing` event, for whichever format the subscriber writes.
    fn through_tracing(&self) {
        tracing::info!(
            target: TARGET,
            peer = %dcs_net::addr::Shown(self.peer),
            method = %self.method,
            path = %self.path,
            status = self.status,
            ms = self.ms,
            "request"
        );
    }

    /// The line made here and handed to `out`, if the subscriber's filter lets it be.
    fn write_to(&self, out: &Batched) {
        if !tracing::enabled!(target: TARGET, Level::INFO) {
            return;
        }
        let written = LINE.try_with(|line| {
            // Only if writing a line made another one (the sink logged): no buffer.
            let Ok(mut line) = line.try_borrow_mut() else {
                return false;
            };
            line.clear();
            if self.text(&mut line).is_err() {
                return false;
            }
            // The batch takes the line whole; a failing stderr has nobody to tell.
            let _ = out.make_writer().write_all(line.as_bytes());
            true
        });
        if written != Ok(true) {
            self.through_tracing();
        }
    }

    /// The text line, as the subscriber's plain text format writes the event of
    /// [`Self::through_tracing`].
    fn text(&self, line: &mut String) -> fmt::Result {
        let id = lines::head(line, false, Level::INFO)?;
        lines::target(line, false, id, TARGET)?;
        line.push_str("request peer=");
        line.push_str(&peer_text(self.peer));
        // Escaped as the subscriber escapes them: a path may hold C1 codes (UTF-8).
        line.push_str(" method=");
        escape::write_escaped(line, self.method)?;
        line.push_str(" path=");
        escape::write_escaped(line, self.path)?;
        lines::put(
            line,
            &[
                " status=",
                itoa::Buffer::new().format(self.status),
                " ms=",
                itoa::Buffer::new().format(self.ms),
                "\n",
            ],
        )
    }
}

thread_local! {
    /// This thread's last peer and its text ([`crate::kept`]).
    static LAST_PEER: Last<SocketAddr, Arc<str>> = const { RefCell::new(None) };
}

/// `peer` as its `Display` writes it, kept: a connection's requests come from one peer.
fn peer_text(peer: SocketAddr) -> Arc<str> {
    kept(&LAST_PEER, &peer, |peer| {
        let mut text = String::with_capacity(21);
        dcs_net::addr::push_addr(&mut text, *peer);
        Arc::from(text)
    })
}

#[cfg(test)]
mod tests;
