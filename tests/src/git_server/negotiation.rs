//! What an upload-pack request asked for, read from its body: the `want`, `have`
//! and `shallow` pkt-lines, whether it limited the depth (`deepen…`) and whether it
//! ended the negotiation (`done`: the answer carries the pack). Protocol v0 and v2
//! bodies both work (v2's `command=fetch` and capability lines are skipped);
//! gzip-encoded bodies (`Content-Encoding: gzip`, as `git` sends a long negotiation)
//! are decoded first. This tells a clone (objects wanted, nothing had) from a fetch
//! into an existing repository, shallow or not.
//!
//! Over smart HTTP every round of a negotiation is a request of its own, repeating
//! the `want`s: a shallow clone is two (the `deepen` round, answered with the
//! shallow commits, then the one with `done`). So one transfer is the request that
//! says `done`.

use std::io::Read;
use std::sync::{Arc, Mutex, PoisonError};

use super::cgi::OnBody;
use super::RecordedRequest;

/// Most body bytes looked at (an upload-pack request is a few KiB; more is a push
/// or garbage, and only its start is read).
pub(super) const MAX_BODY: usize = 1024 * 1024;

/// The negotiation of one `POST …/git-upload-pack` request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Negotiation {
    /// `want <oid>` lines: the objects asked for.
    pub wants: usize,
    /// `have <oid>` lines: commits the client already had.
    pub haves: usize,
    /// `shallow <oid>` lines: the client's repository is shallow at these commits.
    pub shallows: usize,
    /// A `deepen`, `deepen-since` or `deepen-not` line: a depth-limited fetch.
    pub deepen: bool,
    /// A `done` line: the last round, answered with the pack.
    pub done: bool,
}

impl Negotiation {
    /// Whether this request was a clone's transfer: the round that gets the pack
    /// (`done`), wanting objects while the client had none (no `have`, and no
    /// `shallow` boundary of a repository it already has).
    pub fn is_clone(&self) -> bool {
        self.done && self.wants > 0 && self.haves == 0 && self.shallows == 0
    }

    /// Reads `body` (gzip-decoded first when `gzip`); `None` when it is not a
    /// readable pkt-line stream.
    pub(super) fn read(body: &[u8], gzip: bool) -> Option<Self> {
        let plain;
        let body = if gzip {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(body)
                .take(MAX_BODY as u64)
                .read_to_end(&mut out)
                .ok()?;
            plain = out;
            &plain[..]
        } else {
            body
        };
        let mut seen = Self::default();
        let mut rest = body;
        while rest.len() >= 4 {
            let len = std::str::from_utf8(&rest[..4])
                .ok()
                .and_then(|hex| usize::from_str_radix(hex, 16).ok())?;
            // 0000 flush, 0001 delimiter, 0002 response end: no payload.
            if len < 4 {
                rest = &rest[4..];
                continue;
            }
            let line = rest.get(4..len)?;
            rest = &rest[len..];
            if line.starts_with(b"want ") {
                seen.wants += 1;
            } else if line.starts_with(b"have ") {
                seen.haves += 1;
            } else if line.starts_with(b"shallow ") {
                seen.shallows += 1;
            } else if line.starts_with(b"deepen") {
                seen.deepen = true;
            } else if line == b"done\n" || line == b"done" {
                seen.done = true;
            }
        }
        Some(seen)
    }
}

/// The hook that reads a request body (`gzip`-encoded or not) and fills in the
/// negotiation of the request numbered `seq` in `requests`.
pub(super) fn recorder(requests: Arc<Mutex<Vec<RecordedRequest>>>, seq: u64, gzip: bool) -> OnBody {
    Box::new(move |body: &[u8]| {
        let negotiation = Negotiation::read(body, gzip);
        let mut requests = requests.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(r) = requests.iter_mut().find(|r| r.seq == seq) {
            r.negotiation = negotiation;
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkt(lines: &[&str]) -> Vec<u8> {
        let mut out = Vec::new();
        for line in lines {
            match *line {
                "0000" | "0001" => out.extend_from_slice(line.as_bytes()),
                _ => out.extend_from_slice(format!("{:04x}{line}", line.len() + 4).as_bytes()),
            }
        }
        out
    }

    const OID: &str = "0123456789abcdef0123456789abcdef01234567";

    #[test]
    fn a_shallow_clone_a_fetch_and_an_unshallow_fetch_are_told_apart() {
        let deepen_round = pkt(&[
            &format!("want {OID} multi_ack shallow side-band-64k\n"),
            "deepen 1\n",
            "0000",
        ]);
        let seen = Negotiation::read(&deepen_round, false).unwrap_or_default();
        assert!(!seen.is_clone() && seen.wants == 1, "{seen:?}");
        let clone = pkt(&[
            &format!("want {OID} multi_ack shallow side-band-64k\n"),
            "deepen 1\n",
            "0000",
            "done\n",
        ]);
        let seen = Negotiation::read(&clone, false).unwrap_or_default();
        assert!(seen.is_clone() && seen.deepen, "{seen:?}");
        let fetch = pkt(&[
            &format!("want {OID}\n"),
            "0000",
            &format!("have {OID}\n"),
            "done\n",
        ]);
        assert!(!Negotiation::read(&fetch, false)
            .unwrap_or_default()
            .is_clone());
        let unshallow = pkt(&[
            &format!("want {OID}\n"),
            &format!("shallow {OID}\n"),
            "deepen 2147483647\n",
            "0000",
            "done\n",
        ]);
        let seen = Negotiation::read(&unshallow, false).unwrap_or_default();
        assert!(!seen.is_clone() && seen.shallows == 1, "{seen:?}");
    }

    #[test]
    fn protocol_v2_and_gzip_bodies_are_read() -> std::io::Result<()> {
        let v2 = pkt(&[
            "command=fetch\n",
            "agent=git/2\n",
            "0001",
            &format!("want {OID}\n"),
            &format!("have {OID}\n"),
            "done\n",
            "0000",
        ]);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut gz, &v2)?;
        let gz = gz.finish()?;
        let seen = Negotiation::read(&gz, true).unwrap_or_default();
        assert_eq!((seen.wants, seen.haves), (1, 1), "{seen:?}");
        assert_eq!(Negotiation::read(b"zzzz", false), None);
        Ok(())
    }
}
