//! How long what let a request in lasts, and the [`Lease`] of a tunnel it opens.
//!
//! A plain request is decided once and done; a tunnel (the IDE's WebSocket, a
//! terminal) stays open for hours, so it must not outlive the sign-in that admitted
//! it. Each [`super::Identity`] says what admitted it ([`Admission`], made once per
//! session or token: nothing is added per plain request), and the tunnel it opens
//! holds a [`Lease`] that ends with it:
//! - `--auth authentik`: the session (the key the session cache uses). It ends on a
//!   sign-out through this replica, or when the outpost no longer knows the session
//!   (re-checked every period, [`super::authentik::tunnels`]).
//! - `--auth trusted-headers`: the verified token's `exp` (plus
//!   [`super::jwt::LEEWAY_SECS`]); the IDE reconnects through the ingress with a
//!   fresh token.
//! - `--auth none`, and grants that are no sign-in (a preview's ticket): nothing.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::watch;
use tokio::time::Instant;

use super::authentik::cache::SessionKey;

/// What let a request in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Admission {
    /// Nothing that ends (`--auth none`, a preview's ticket).
    #[default]
    Lasting,
    /// An Authentik session, by the key the session cache uses (never the cookie).
    Session(SessionKey),
    /// A token valid until this `exp` (seconds since the epoch, leeway not included).
    Until(u64),
}

/// What ends a tunnel when its admission ends. Dropping it forgets the tunnel.
#[derive(Debug, Default)]
pub struct Lease {
    /// When it ends by itself.
    deadline: Option<Instant>,
    /// Turns `true` when it is revoked (a sign-out, an ended session).
    revoked: Option<watch::Receiver<bool>>,
    /// Kept for as long as the tunnel is open (a registration, undone on drop).
    _hold: Option<Box<dyn std::fmt::Debug + Send + Sync>>,
}

impl Lease {
    /// A lease that never ends.
    pub fn lasting() -> Self {
        Self::default()
    }

    /// A lease ending `leeway` after `exp` (seconds since the epoch), measured on
    /// the wall clock now (at once if that has passed).
    pub fn until(exp: u64, leeway: Duration) -> Self {
        let end = UNIX_EPOCH + Duration::from_secs(exp) + leeway;
        let left = end
            .duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO);
        Self {
            deadline: Some(Instant::now() + left),
            ..Self::default()
        }
    }

    /// A lease that ends when `revoked` turns `true` (or its sender is gone),
    /// keeping `hold` until the lease is dropped.
    pub fn revocable(
        revoked: watch::Receiver<bool>,
        hold: Box<dyn std::fmt::Debug + Send + Sync>,
    ) -> Self {
        Self {
            deadline: None,
            revoked: Some(revoked),
            _hold: Some(hold),
        }
    }

    /// The lease of a tunnel opened under `admission` when nothing but the clock
    /// can end it (every mode's default; authentik sessions are leased by their mode).
    pub fn of(admission: Admission) -> Self {
        match admission {
            Admission::Until(exp) => Self::until(exp, Duration::from_secs(super::jwt::LEEWAY_SECS)),
            Admission::Lasting | Admission::Session(_) => Self::lasting(),
        }
    }

    /// Whether it can end at all (a lasting lease never does).
    pub fn ends(&self) -> bool {
        self.deadline.is_some() || self.revoked.is_some()
    }

    /// Resolves when the lease has ended; never, for a lasting one.
    pub async fn ended(&mut self) {
        let deadline = self.deadline;
        let at_deadline = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        let revoked = async {
            match self.revoked.as_mut() {
                // An error: the sender is gone (its mode with it): ended as well.
                Some(rx) => drop(rx.wait_for(|r| *r).await),
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = at_deadline => {}
            () = revoked => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unix_now() -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }

    #[tokio::test(start_paused = true)]
    async fn a_token_lease_ends_at_exp_plus_the_leeway() {
        let exp = unix_now() + 5;
        let mut lease = Lease::of(Admission::Until(exp));
        assert!(lease.ends());
        let early = tokio::time::timeout(Duration::from_secs(4), lease.ended()).await;
        assert!(early.is_err(), "still valid before exp");
        let late = tokio::time::timeout(Duration::from_secs(40), lease.ended()).await;
        assert!(late.is_ok(), "ended by exp + leeway");
    }

    #[tokio::test(start_paused = true)]
    async fn a_lasting_lease_never_ends_and_a_revoked_one_does() {
        let mut lasting = Lease::of(Admission::Lasting);
        assert!(!lasting.ends());
        let never = tokio::time::timeout(Duration::from_secs(3600), lasting.ended()).await;
        assert!(never.is_err());

        let (tx, rx) = watch::channel(false);
        let mut lease = Lease::revocable(rx, Box::new("hold"));
        let open = tokio::time::timeout(Duration::from_secs(5), lease.ended()).await;
        assert!(open.is_err());
        tx.send_replace(true);
        let ended = tokio::time::timeout(Duration::from_secs(1), lease.ended()).await;
        assert!(ended.is_ok());
    }
}
