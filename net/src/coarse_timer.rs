//! Coarse timers: deadlines kept to within a tick ([`TICK`]) by one ticker thread,
//! for the timeouts that guard every request and almost never fire (a request head
//! must arrive within 30 s; a workspace must begin its answer within the upstream
//! timeout). tokio's timer inserts each one into its wheel under a lock and takes
//! it out again under the lock, per request, with a clock read for each; here
//! arming one is an allocation and a push onto a list, cancelling it is dropping it
//! (the ticker forgets entries nobody holds), and moving it is one atomic store.
//!
//! **Never early, at most a tick late.** A deadline is taken from the real clock;
//! whether it has passed is judged by the ticker's clock, which lags the real one
//! by up to a tick. The ticker runs only while a timer is armed (it parks when the
//! list is empty) and on a thread of its own, so timers work under any runtime.
//!
//! [`CoarseTimer`] offers the same timers to hyper (`hyper::rt::Timer`).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::task::{Context, Poll};
use std::thread::Thread;
use std::time::{Duration, Instant};

use atomic_waker::AtomicWaker;
use dcs_os::mutex::lock;

/// How often the ticker looks at the armed timers.
pub const TICK: Duration = Duration::from_millis(100);

/// The ticker's clock and the armed timers.
struct Clock {
    epoch: Instant,
    /// Whole milliseconds since `epoch` at the ticker's last look (behind the real
    /// clock by up to a tick, never ahead).
    now_ms: AtomicU64,
    armed: Mutex<Vec<Arc<Entry>>>,
    /// The ticker thread, or the error that kept it from starting.
    ticker: Result<Thread, String>,
}

/// One armed timer.
struct Entry {
    deadline_ms: AtomicU64,
    waker: AtomicWaker,
}

static CLOCK: LazyLock<Clock> = LazyLock::new(|| {
    let ticker = std::thread::Builder::new()
        .name("coarse-timer".into())
        .spawn(|| tick(&CLOCK))
        .map(|handle| handle.thread().clone())
        .map_err(|e| e.to_string());
    Clock {
        epoch: Instant::now(),
        now_ms: AtomicU64::new(0),
        armed: Mutex::new(Vec::new()),
        ticker,
    }
});

/// Starts the ticker now; an error says why it cannot run (then no coarse timer
/// would ever fire: a server should not start).
pub fn start() -> std::io::Result<()> {
    match &CLOCK.ticker {
        Ok(_) => Ok(()),
        Err(e) => Err(std::io::Error::other(format!(
            "cannot start the coarse timer's thread: {e}"
        ))),
    }
}

/// The ticker: every [`TICK`] while timers are armed, moves its clock on, wakes
/// the timers whose deadline has passed and forgets those nobody holds.
fn tick(clock: &'static Clock) {
    loop {
        let now = ms_floor(clock.epoch.elapsed());
        clock.now_ms.store(now, Ordering::Release);
        let armed = {
            let mut list = lock(&clock.armed);
            list.retain(|entry| {
                if Arc::strong_count(entry) == 1 {
                    return false;
                }
                if entry.deadline_ms.load(Ordering::Acquire) <= now {
                    entry.waker.wake();
                }
                true
            });
            !list.is_empty()
        };
        if armed {
            std::thread::sleep(TICK);
        } else {
            // Unparked by the next timer armed (or at once, if it came meanwhile).
            std::thread::park();
        }
    }
}

fn ms_floor(d: Duration) -> u64 {
    d.as_secs()
        .saturating_mul(1000)
        .saturating_add(u64::from(d.subsec_millis()))
}

fn ms_ceil(d: Duration) -> u64 {
    d.as_secs()
        .saturating_mul(1000)
        .saturating_add(u64::from(d.subsec_nanos().div_ceil(1_000_000)))
}

impl Clock {
    /// `at` in milliseconds since the epoch, rounded up (a deadline is never moved
    /// earlier).
    fn ms_of(&self, at: Instant) -> u64 {
        ms_ceil(at.saturating_duration_since(self.epoch))
    }

    fn arm(&self, entry: Arc<Entry>) {
        let was_empty = {
            let mut list = lock(&self.armed);
            list.push(entry);
            list.len() == 1
        };
        if let (true, Ok(ticker)) = (was_empty, &self.ticker) {
            ticker.unpark();
        }
    }
}

/// A future that completes at its deadline or up to a [`TICK`] after it.
#[derive(Debug)]
pub struct Sleep {
    deadline_ms: u64,
    /// Armed at the first poll that must wait.
    entry: Option<Arc<Entry>>,
}

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entry")
            .field("deadline_ms", &self.deadline_ms.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// A timer for `deadline`.
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep {
        deadline_ms: CLOCK.ms_of(deadline),
        entry: None,
    }
}

/// A timer for `duration` from now.
pub fn sleep(duration: Duration) -> Sleep {
    sleep_until(Instant::now() + duration)
}

impl Sleep {
    /// Moves the deadline (earlier or later).
    pub fn reset(&mut self, deadline: Instant) {
        self.deadline_ms = CLOCK.ms_of(deadline);
        if let Some(entry) = &self.entry {
            entry.deadline_ms.store(self.deadline_ms, Ordering::Release);
        }
    }

    /// Whether the ticker's clock has reached the deadline.
    fn passed(&self) -> bool {
        CLOCK.now_ms.load(Ordering::Acquire) >= self.deadline_ms
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if this.passed() {
            return Poll::Ready(());
        }
        match &this.entry {
            Some(entry) => entry.waker.register(cx.waker()),
            None => {
                let entry = Arc::new(Entry {
                    deadline_ms: AtomicU64::new(this.deadline_ms),
                    waker: AtomicWaker::new(),
                });
                entry.waker.register(cx.waker());
                CLOCK.arm(entry.clone());
                this.entry = Some(entry);
            }
        }
        // The ticker may have moved on between the first look and the registration.
        if this.passed() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

impl hyper::rt::Sleep for Sleep {}

/// Coarse timers for hyper (`http1::Builder::timer`): its header read timeout
/// armed for every request.
#[derive(Debug, Clone, Copy, Default)]
pub struct CoarseTimer;

impl hyper::rt::Timer for CoarseTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(sleep(duration))
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(sleep_until(deadline))
    }

    fn reset(&self, sleep: &mut Pin<Box<dyn hyper::rt::Sleep>>, new_deadline: Instant) {
        match sleep.as_mut().downcast_mut_pin::<Sleep>() {
            // `Sleep` is `Unpin`.
            Some(mine) => mine.get_mut().reset(new_deadline),
            None => *sleep = self.sleep_until(new_deadline),
        }
    }
}

#[cfg(test)]
mod tests;
