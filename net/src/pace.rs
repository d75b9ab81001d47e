//! Progress deadlines for bodies streamed through the proxy, so a client that
//! trickles an upload or a workspace that stalls a response cannot hold a
//! connection (and keep its workspace counted as busy) forever.
//!
//! A [`Pace`] is a timeout plus a minimum rate, as Apache's `mod_reqtimeout`: the
//! first byte must come within the timeout; each byte after it moves the deadline on
//! by `1 / min_rate` seconds, but never further than the timeout from now. A body
//! that keeps up the minimum rate never expires; one that stalls for the timeout, or
//! trickles below the rate, does. With a minimum rate of 0 only stalls count (for
//! responses, whose pace is the application's business).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::sync::Notify;
use tokio::time::{Instant, Sleep};

/// How fast a body must move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pace {
    /// The longest wait for the first byte, and the longest stall after it.
    pub timeout: Duration,
    /// Bytes per second the body must average; 0: only stalls count.
    pub min_rate: u64,
}

impl Pace {
    /// The deadline after `bytes` more arrived at `now`, given the current one.
    pub fn next_deadline(&self, current: Instant, bytes: usize, now: Instant) -> Instant {
        let cap = now + self.timeout;
        if self.min_rate == 0 {
            return cap;
        }
        let credit = Duration::from_secs_f64(bytes as f64 / self.min_rate as f64);
        (current + credit).min(cap)
    }
}

/// What a paced body tells the forwarder: whether it expired, and when it ended.
#[derive(Debug, Default)]
pub struct Progress {
    expired: AtomicBool,
    broken: AtomicBool,
    finished: AtomicBool,
    done: Notify,
}

impl Progress {
    /// Whether the body was cut for being too slow.
    pub fn expired(&self) -> bool {
        self.expired.load(Ordering::SeqCst)
    }

    /// Whether the body itself failed (its sender went away or broke the framing).
    pub fn broken(&self) -> bool {
        self.broken.load(Ordering::SeqCst)
    }

    /// Resolves once the body has ended (fully sent, failed or expired).
    pub async fn finished(&self) {
        loop {
            let notified = self.done.notified();
            if self.finished.load(Ordering::SeqCst) {
                return;
            }
            notified.await;
        }
    }

    fn finish(&self) {
        self.finished.store(true, Ordering::SeqCst);
        self.done.notify_waiters();
    }
}

/// The error of a body that fell behind its pace.
#[derive(Debug, thiserror::Error)]
#[error("the body moved too slowly (timeout {timeout:?}, at least {min_rate} bytes/s)")]
pub struct TooSlow {
    /// The pace's timeout.
    pub timeout: Duration,
    /// The pace's minimum rate.
    pub min_rate: u64,
}

/// `inner` under a [`Pace`].
///
/// The timer is armed only when the body has to wait: most bodies through the proxy
/// are whole at their first poll (or empty), and a timer made, registered and
/// cancelled for each is a cost of every request.
pub struct Paced<B> {
    inner: B,
    pace: Pace,
    deadline: Instant,
    timer: Option<Pin<Box<Sleep>>>,
    progress: Arc<Progress>,
}

impl<B: Body> Paced<B> {
    /// Paces `inner` from now on; the [`Progress`] handle reports on it.
    pub fn new(inner: B, pace: Pace) -> (Self, Arc<Progress>) {
        let progress = Arc::new(Progress::default());
        // A body that is empty from the start is never polled: it is done already.
        progress
            .finished
            .store(inner.is_end_stream(), Ordering::SeqCst);
        let body = Self {
            inner,
            pace,
            deadline: Instant::now() + pace.timeout,
            timer: None,
            progress: progress.clone(),
        };
        (body, progress)
    }
}

impl<B> Paced<B> {
    /// The timer, armed for the current deadline.
    fn timer(&mut self) -> Pin<&mut Sleep> {
        let deadline = self.deadline;
        let timer = self
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if timer.deadline() != deadline {
            timer.as_mut().reset(deadline);
        }
        timer.as_mut()
    }
}

impl<B> Body for Paced<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<crate::BoxError>,
{
    type Data = Bytes;
    type Error = crate::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                let bytes = frame.data_ref().map_or(0, Bytes::len);
                this.deadline = this
                    .pace
                    .next_deadline(this.deadline, bytes, Instant::now());
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => {
                this.progress.broken.store(true, Ordering::SeqCst);
                this.progress.finish();
                Poll::Ready(Some(Err(e.into())))
            }
            Poll::Ready(None) => {
                this.progress.finish();
                Poll::Ready(None)
            }
            Poll::Pending => match this.timer().poll(cx) {
                Poll::Ready(()) => {
                    this.progress.expired.store(true, Ordering::SeqCst);
                    this.progress.finish();
                    Poll::Ready(Some(Err(Box::new(TooSlow {
                        timeout: this.pace.timeout,
                        min_rate: this.pace.min_rate,
                    }))))
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl<B> Drop for Paced<B> {
    fn drop(&mut self) {
        self.progress.finish();
    }
}

#[cfg(test)]
mod tests {
    use futures_util::StreamExt;
    use http_body_util::{BodyExt, StreamBody};

    use super::*;

    const PACE: Pace = Pace {
        timeout: Duration::from_secs(20),
        min_rate: 500,
    };

    #[test]
    fn bytes_move_the_deadline_on_at_the_minimum_rate_up_to_the_timeout() {
        let now = Instant::now();
        let start = now + PACE.timeout;
        // 500 bytes buy one second.
        assert_eq!(
            PACE.next_deadline(start - Duration::from_secs(5), 500, now),
            start - Duration::from_secs(4)
        );
        // A burst never buys more than the timeout from now.
        assert_eq!(PACE.next_deadline(start, 10_000_000, now), start);
        // Without a minimum rate, any progress restarts the full timeout.
        let stall = Pace {
            min_rate: 0,
            ..PACE
        };
        assert_eq!(
            stall.next_deadline(now, 1, now + Duration::from_secs(3)),
            now + Duration::from_secs(23)
        );
    }

    fn trickle(
        every: Duration,
    ) -> StreamBody<impl futures_util::Stream<Item = Result<Frame<Bytes>, std::io::Error>>> {
        let stream = futures_util::stream::unfold((), move |()| async move {
            tokio::time::sleep(every).await;
            Some((Ok(Frame::data(Bytes::from_static(b"x"))), ()))
        });
        StreamBody::new(Box::pin(stream))
    }

    #[tokio::test(start_paused = true)]
    async fn a_trickle_below_the_rate_is_cut_near_the_timeout() {
        let (mut body, progress) = Paced::new(trickle(Duration::from_secs(1)), PACE);
        let began = Instant::now();
        let mut bytes = 0;
        let err = loop {
            match body.frame().await {
                Some(Ok(_)) => bytes += 1,
                Some(Err(e)) => break e,
                None => panic!("a trickle never ends"),
            }
        };
        assert!(err.is::<TooSlow>(), "{err}");
        assert!(progress.expired());
        // 1 byte/s buys 2 ms a second: the cut comes a little after the timeout.
        let took = began.elapsed();
        assert!(
            took >= PACE.timeout && took < PACE.timeout + Duration::from_secs(1),
            "{took:?}"
        );
        assert!((19..=21).contains(&bytes), "{bytes}");
        progress.finished().await;
    }

    #[tokio::test(start_paused = true)]
    async fn a_stall_is_timed_from_the_last_progress_not_from_the_first_wait() {
        let stall = Pace {
            min_rate: 0,
            ..PACE
        };
        // A byte after 15 s (the timer armed meanwhile), then nothing.
        let late_then_stuck = futures_util::stream::once(async {
            tokio::time::sleep(Duration::from_secs(15)).await;
            Ok::<_, std::io::Error>(Frame::data(Bytes::from_static(b"x")))
        })
        .chain(futures_util::stream::pending());
        let (mut body, progress) = Paced::new(StreamBody::new(Box::pin(late_then_stuck)), stall);
        let began = Instant::now();
        assert!(body.frame().await.is_some_and(|f| f.is_ok()));
        assert!(body.timer.is_some(), "it waited, so a timer was armed");
        let err = body.frame().await.and_then(Result::err).expect("cut");
        assert!(err.is::<TooSlow>(), "{err}");
        assert_eq!(began.elapsed(), Duration::from_secs(15) + stall.timeout);
        assert!(progress.expired());
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_whole_at_its_first_poll_arms_no_timer() {
        let whole = http_body_util::Full::new(Bytes::from_static(b"all of it"));
        let (mut body, progress) = Paced::new(whole, PACE);
        let frame = body.frame().await.expect("a frame").expect("data");
        assert_eq!(frame.into_data().expect("data"), "all of it");
        assert!(body.frame().await.is_none());
        assert!(body.timer.is_none());
        assert!(!progress.expired());
        progress.finished().await;
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_at_the_rate_is_never_cut() {
        let fast = futures_util::stream::unfold(0u32, |n| async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            (n < 3000).then(|| {
                (
                    Ok::<_, std::io::Error>(Frame::data(Bytes::from(vec![0u8; 60]))),
                    n + 1,
                )
            })
        });
        let (body, progress) = Paced::new(StreamBody::new(Box::pin(fast)), PACE);
        let all = body.collect().await.expect("never cut").to_bytes();
        assert_eq!(all.len(), 3000 * 60);
        assert!(!progress.expired());
    }
}
