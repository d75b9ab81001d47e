//! Which run of a supervised IDE answers, and requests that wait for it.
//!
//! A restarted IDE is `Running` from its spawn on, but it answers only once it
//! listens (code-server takes seconds, more on a busy machine): until then a request
//! forwarded to it would be refused, and a person who reloads the page during a
//! restart would land on a `502` instead of the IDE. So a run counts as up only once
//! its health check answered; a request that comes while the IDE restarts (the
//! backoff, the spawn, the start) waits for that, within a bound, and only then is
//! forwarded. One health check runs at a time, at most one per [`POLL`], however
//! many requests wait.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::supervise::{State, Supervisor};

/// How often a run that has not answered yet is asked again.
pub const POLL: Duration = Duration::from_millis(10);

/// The run that last answered its health check.
#[derive(Debug, Default)]
pub struct Answering {
    /// Its pid; 0 before any run answered.
    pid: AtomicU32,
    /// Held by the one health check under way; when the last one failed.
    probing: Mutex<Option<Instant>>,
}

impl Answering {
    /// Notes that the run `pid` answered.
    pub fn answered(&self, pid: u32) {
        self.pid.store(pid, Ordering::Release);
    }

    /// The address of the running IDE once its run answers: at once when it already
    /// did, else after waiting (through a restart's backoff and start) for `probe` to
    /// succeed, at most `hold`. `None` when `hold` passed first, or the IDE stopped or
    /// failed for good.
    pub async fn address<F, Fut>(
        &self,
        supervisor: &Supervisor,
        hold: Duration,
        probe: F,
    ) -> Option<SocketAddr>
    where
        F: Fn(SocketAddr) -> Fut,
        Fut: Future<Output = bool>,
    {
        let deadline = Instant::now() + hold;
        let mut states = supervisor.watch();
        loop {
            let state = states.borrow_and_update().clone();
            match state {
                State::Running { pid, addr } => {
                    if self.pid.load(Ordering::Acquire) == pid {
                        return Some(addr);
                    }
                    let mut failed = self.probing.lock().await;
                    if self.pid.load(Ordering::Acquire) == pid {
                        return Some(addr);
                    }
                    // Asked less than `POLL` ago (for another waiting request): the
                    // answer is not asked again before its time, however many wait.
                    if failed.is_none_or(|at| at.elapsed() >= POLL) {
                        let answers = tokio::time::timeout_at(deadline, probe(addr)).await;
                        if answers == Ok(true) {
                            self.answered(pid);
                            return Some(addr);
                        }
                        *failed = Some(Instant::now());
                    }
                    let next = failed.map_or(Instant::now(), |at| at + POLL);
                    drop(failed);
                    if Instant::now() >= deadline {
                        return None;
                    }
                    tokio::time::sleep_until(next.min(deadline)).await;
                }
                State::Failed(_) | State::Stopped => return None,
                State::Starting | State::Exited { .. } | State::Restarting { .. } => {
                    match tokio::time::timeout_at(deadline, states.changed()).await {
                        Ok(Ok(())) => {}
                        // The deadline, or the supervisor is gone.
                        Ok(Err(_)) | Err(_) => return None,
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
