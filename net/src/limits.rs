//! File descriptors as a resource: raising the soft `RLIMIT_NOFILE` to the hard limit
//! at start, telling a descriptor shortage (an overload) from a dead peer, and capping
//! upgraded connections below the limit.
//!
//! A shortage is never a reason to conclude anything about a workspace: it says the
//! machine (or this process) is busy, so it is answered with a 503 and `Retry-After`.

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
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

/// How many tunnels of `per_tunnel` descriptors each fit under `limit` with the
/// [`reserve`] kept free.
pub fn tunnel_cap(limit: u64, per_tunnel: u64) -> usize {
    let free = limit.saturating_sub(reserve(limit));
    usize::try_from(free / per_tunnel.max(1)).unwrap_or(usize::MAX)
}

/// Counts open tunnels and admits a new one only below the cap, which follows the
/// soft limit in force (read at each admission, so a limit lowered from outside is
/// honoured at once).
#[derive(Debug, Clone)]
pub struct TunnelGate {
    open: Arc<AtomicUsize>,
    per_tunnel: u64,
    cap: Option<usize>,
}

/// One admitted tunnel; dropping it frees its place.
#[derive(Debug)]
pub struct TunnelSlot {
    open: Arc<AtomicUsize>,
}

impl Drop for TunnelSlot {
    fn drop(&mut self) {
        self.open.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A tunnel was refused: this many are open, and this is the cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "{open} connections are open, as many as the file-descriptor limit allows; \
     try again when some have closed"
)]
pub struct Full {
    /// Tunnels open.
    pub open: usize,
    /// The cap.
    pub cap: usize,
}

impl TunnelGate {
    /// A gate for tunnels holding `per_tunnel` descriptors each, capped by the soft
    /// limit in force.
    pub fn new(per_tunnel: u64) -> Self {
        Self {
            open: Arc::new(AtomicUsize::new(0)),
            per_tunnel,
            cap: None,
        }
    }

    /// The same gate with a fixed cap (tests).
    pub fn with_cap(mut self, cap: usize) -> Self {
        self.cap = Some(cap);
        self
    }

    /// The cap now.
    pub fn cap(&self) -> usize {
        self.cap
            .unwrap_or_else(|| tunnel_cap(nofile(), self.per_tunnel))
    }

    /// Tunnels open now.
    pub fn open(&self) -> usize {
        self.open.load(Ordering::Acquire)
    }

    /// A place for one more tunnel, or [`Full`].
    pub fn admit(&self) -> Result<TunnelSlot, Full> {
        let cap = self.cap();
        let mut open = self.open.load(Ordering::Acquire);
        loop {
            if open >= cap {
                return Err(Full { open, cap });
            }
            match self.open.compare_exchange_weak(
                open,
                open + 1,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    return Ok(TunnelSlot {
                        open: self.open.clone(),
                    })
                }
                Err(now) => open = now,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(tunnel_cap(256, 2), 112);
        assert_eq!(tunnel_cap(20000, 2), (20000 - 1024) / 2);
        assert_eq!(tunnel_cap(65536, 2), (65536 - 1024) / 2);
        assert_eq!(tunnel_cap(10, 2), 0);
        let gate = TunnelGate::new(2).with_cap(2);
        let a = gate.admit().expect("first");
        let _b = gate.admit().expect("second");
        assert_eq!(gate.admit().expect_err("full"), Full { open: 2, cap: 2 });
        drop(a);
        assert_eq!(gate.open(), 1);
        assert!(gate.admit().is_ok(), "a closed tunnel frees its place");
    }
}
