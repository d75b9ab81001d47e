//! File descriptors as a resource: raising the soft `RLIMIT_NOFILE` to the hard limit
//! at start, telling a descriptor shortage (an overload) from a dead peer, and capping
//! upgraded connections below the limit.
//!
//! A shortage is never a reason to conclude anything about a workspace: it says the
//! machine (or this process) is busy, so it is answered with a 503 and `Retry-After`.

use std::io;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use nix::sys::resource::{getrlimit, setrlimit, Resource};

/// The soft limit is raised at most this far, even where the hard limit is higher
/// (or infinite): children inherit it, and some programs close every descriptor up
/// to the limit one by one.
pub const MAX_RAISE: u64 = 1 << 20;

/// The soft and hard `RLIMIT_NOFILE` before and after [`raise_nofile`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Raised {
    /// The soft limit found.
    pub before: u64,
    /// The soft limit now.
    pub after: u64,
    /// The hard limit.
    pub hard: u64,
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit (at most [`MAX_RAISE`]); never
/// lowers it.
pub fn raise_nofile() -> io::Result<Raised> {
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).map_err(io::Error::from)?;
    let target = hard.min(MAX_RAISE).max(soft);
    if target != soft {
        setrlimit(Resource::RLIMIT_NOFILE, target, hard).map_err(io::Error::from)?;
    }
    Ok(Raised {
        before: soft,
        after: target,
        hard,
    })
}

/// The soft `RLIMIT_NOFILE` in force (1024 if it cannot be read).
pub fn nofile() -> u64 {
    getrlimit(Resource::RLIMIT_NOFILE).map_or(1024, |(soft, _)| soft)
}

/// Whether `err` says the process or the machine ran out of descriptors, sockets,
/// ports or memory for them: an overload, not a dead peer.
pub fn exhausted(err: &io::Error) -> bool {
    matches!(
        err.raw_os_error(),
        Some(libc_errno::EMFILE)
            | Some(libc_errno::ENFILE)
            | Some(libc_errno::ENOBUFS)
            | Some(libc_errno::ENOMEM)
            | Some(libc_errno::EADDRNOTAVAIL)
    )
}

/// The errno values this module and [`crate::upstream`] tell apart (Linux).
pub(crate) mod libc_errno {
    pub const ENOMEM: i32 = nix::errno::Errno::ENOMEM as i32;
    pub const ENFILE: i32 = nix::errno::Errno::ENFILE as i32;
    pub const EMFILE: i32 = nix::errno::Errno::EMFILE as i32;
    pub const ENOBUFS: i32 = nix::errno::Errno::ENOBUFS as i32;
    pub const EADDRNOTAVAIL: i32 = nix::errno::Errno::EADDRNOTAVAIL as i32;
    pub const ECONNREFUSED: i32 = nix::errno::Errno::ECONNREFUSED as i32;
    pub const ECONNRESET: i32 = nix::errno::Errno::ECONNRESET as i32;
}

/// Descriptors kept free of tunnels for everything else (requests, logs, `/proc`):
/// a sixteenth of the limit, at least 32, at most 1024.
pub fn reserve(limit: u64) -> u64 {
    (limit / 16).clamp(32, 1024)
}

/// The descriptors tunnels may hold under `limit`: all but the [`reserve`].
pub fn tunnel_descriptors(limit: u64) -> u64 {
    limit.saturating_sub(reserve(limit))
}

/// Counts open tunnels and the descriptors they hold (a tunnel of the proxy holds
/// two, or one when its upstream side is a stream of a shared connection), and
/// admits a new one only while its descriptors fit under the cap, which follows
/// the soft limit in force (read at each admission, so a limit lowered from
/// outside is honoured at once).
#[derive(Debug, Clone, Default)]
pub struct TunnelGate {
    counts: Arc<Counts>,
    cap: Option<u64>,
}

#[derive(Debug, Default)]
struct Counts {
    tunnels: AtomicUsize,
    descriptors: AtomicU64,
}

/// One admitted tunnel; dropping it frees its place.
#[derive(Debug)]
pub struct TunnelSlot {
    counts: Arc<Counts>,
    descriptors: u64,
}

impl Drop for TunnelSlot {
    fn drop(&mut self) {
        self.counts.tunnels.fetch_sub(1, Ordering::AcqRel);
        self.counts
            .descriptors
            .fetch_sub(self.descriptors, Ordering::AcqRel);
    }
}

/// A tunnel was refused: this many are open, holding this many descriptors of the
/// cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "{open} connections are open, as many as the file-descriptor limit allows; \
     try again when some have closed"
)]
pub struct Full {
    /// Tunnels open.
    pub open: usize,
    /// Descriptors they hold.
    pub held: u64,
    /// The descriptors tunnels may hold.
    pub cap: u64,
}

impl TunnelGate {
    /// A gate capped by the soft limit in force.
    pub fn new() -> Self {
        Self::default()
    }

    /// The same gate with a fixed cap of `descriptors` (tests).
    pub fn with_cap(mut self, descriptors: u64) -> Self {
        self.cap = Some(descriptors);
        self
    }

    /// The descriptors tunnels may hold now.
    pub fn cap(&self) -> u64 {
        self.cap.unwrap_or_else(|| tunnel_descriptors(nofile()))
    }

    /// Tunnels open now.
    pub fn open(&self) -> usize {
        self.counts.tunnels.load(Ordering::Acquire)
    }

    /// Whether tunnels hold half of the descriptors they may or more: time to
    /// spend fewer per tunnel.
    pub fn scarce(&self) -> bool {
        self.counts.descriptors.load(Ordering::Acquire) * 2 >= self.cap()
    }

    /// Whether a tunnel holding `descriptors` would be admitted now ([`Full`] if not),
    /// taking no place: to refuse before anything is done for one.
    pub fn room(&self, descriptors: u64) -> Result<(), Full> {
        let now = self.counts.descriptors.load(Ordering::Acquire);
        self.fits(now, descriptors, self.cap())
    }

    /// Whether `descriptors` more fit under `cap` with `held` taken.
    fn fits(&self, held: u64, descriptors: u64, cap: u64) -> Result<(), Full> {
        if held + descriptors > cap {
            return Err(Full {
                open: self.open(),
                held,
                cap,
            });
        }
        Ok(())
    }

    /// A place for one more tunnel holding `descriptors`, or [`Full`].
    pub fn admit(&self, descriptors: u64) -> Result<TunnelSlot, Full> {
        self.admit_within(descriptors, self.cap())
    }

    /// [`Self::admit`] for connections of a lower rank, admitted only while all
    /// tunnels' descriptors stay within half of the cap: the other half is left to
    /// the rest (a sandbox's way out never takes what the IDEs' WebSockets need).
    pub fn admit_lower(&self, descriptors: u64) -> Result<TunnelSlot, Full> {
        self.admit_within(descriptors, self.cap() / 2)
    }

    /// A place for `descriptors` while everything held stays within `cap`.
    fn admit_within(&self, descriptors: u64, cap: u64) -> Result<TunnelSlot, Full> {
        let held = &self.counts.descriptors;
        let mut now = held.load(Ordering::Acquire);
        loop {
            self.fits(now, descriptors, cap)?;
            match held.compare_exchange_weak(
                now,
                now + descriptors,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    self.counts.tunnels.fetch_add(1, Ordering::AcqRel);
                    return Ok(TunnelSlot {
                        counts: self.counts.clone(),
                        descriptors,
                    });
                }
                Err(actual) => now = actual,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lower_rank_connections_leave_half_of_the_cap_to_the_rest() {
        let gate = TunnelGate::new().with_cap(8);
        let lower: Vec<_> = (0..2)
            .map(|_| gate.admit_lower(2).expect("within half"))
            .collect();
        let refused = gate.admit_lower(2).expect_err("half is taken");
        assert_eq!((refused.held, refused.cap), (4, 4));
        let rest: Vec<_> = (0..2)
            .map(|_| gate.admit(2).expect("the other half"))
            .collect();
        assert!(gate.admit(2).is_err(), "the whole cap is held");
        drop(rest);
        // Tunnels of the first rank holding more than half leave none to the lower.
        let first: Vec<_> = (0..1).map(|_| gate.admit(2).expect("room")).collect();
        assert!(gate.admit_lower(2).is_err());
        drop((lower, first));
        assert!(gate.admit_lower(2).is_ok());
    }

    #[test]
    fn the_soft_limit_is_raised_to_the_hard_one_and_never_lowered() {
        let raised = raise_nofile().expect("raise");
        assert!(raised.after >= raised.before);
        assert_eq!(raised.after, raised.hard.min(MAX_RAISE).max(raised.before));
        assert_eq!(nofile(), raised.after);
        // A second call changes nothing.
        let again = raise_nofile().expect("raise");
        assert_eq!(again.before, again.after);
    }

    #[test]
    fn shortages_are_told_from_dead_peers() {
        for errno in [libc_errno::EMFILE, libc_errno::ENFILE, libc_errno::ENOBUFS] {
            assert!(exhausted(&io::Error::from_raw_os_error(errno)));
        }
        for errno in [libc_errno::ECONNREFUSED, libc_errno::ECONNRESET] {
            assert!(!exhausted(&io::Error::from_raw_os_error(errno)));
        }
    }

    #[test]
    fn tunnels_are_capped_below_the_limit_with_a_reserve() {
        assert_eq!(reserve(256), 32);
        assert_eq!(tunnel_descriptors(256), 224);
        assert_eq!(tunnel_descriptors(65536), 65536 - 1024);
        assert_eq!(tunnel_descriptors(10), 0);
        assert_eq!(tunnel_descriptors(20000), 20000 - 1024);
        // Four descriptors: two tunnels of two, or a tunnel of two and two of one.
        let gate = TunnelGate::new().with_cap(4);
        assert!(!gate.scarce());
        let a = gate.admit(2).expect("first");
        assert!(gate.scarce(), "half held");
        let _b = gate.admit(2).expect("second");
        assert_eq!(
            gate.admit(1).expect_err("full"),
            Full {
                open: 2,
                held: 4,
                cap: 4
            }
        );
        drop(a);
        assert_eq!(gate.open(), 1);
        let _c = gate.admit(1).expect("a closed tunnel frees its place");
        let _d = gate.admit(1).expect("one descriptor each");
        assert_eq!(gate.open(), 3);
        assert!(gate.admit(1).is_err());
        assert_eq!(gate.room(1).expect_err("no room").open, 3);
    }

    #[test]
    fn room_is_told_without_taking_a_place() {
        let gate = TunnelGate::new().with_cap(2);
        assert_eq!(gate.room(2), Ok(()));
        assert_eq!(gate.room(2), Ok(()), "asking took nothing");
        let _a = gate.admit(1).expect("first");
        assert_eq!(gate.room(1), Ok(()));
        assert_eq!(
            gate.room(2),
            Err(Full {
                open: 1,
                held: 1,
                cap: 2
            })
        );
        assert_eq!(gate.open(), 1);
    }
}
