//! Coarse timers: never early, fire within ticks, move when reset, forgotten when
//! dropped, under any runtime, and as hyper's header read timeout.

use std::sync::Weak;

use hyper::rt::Timer as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;

/// Far more than the few ticks a timer may be late on a busy machine: only a
/// timer that never fires reaches it.
const NEVER: Duration = Duration::from_secs(20);

/// How long `sleep` took to fire; fails if it was not woken by [`NEVER`] (the guard
/// is looked at first: a timeout that polled `sleep` again would find it due and
/// hide a timer that was never woken).
async fn waited(sleep: impl Future<Output = ()>) -> Duration {
    let began = Instant::now();
    tokio::select! {
        biased;
        () = tokio::time::sleep(NEVER) => panic!("the timer was not woken within {NEVER:?}"),
        () = sleep => began.elapsed(),
    }
}

#[tokio::test]
async fn a_timer_fires_at_its_deadline_never_before() {
    for ms in [0, 1, 150, 420] {
        let d = Duration::from_millis(ms);
        let took = waited(sleep(d)).await;
        assert!(took >= d, "{ms} ms: fired after {took:?}");
    }
}

#[tokio::test]
async fn reset_moves_the_deadline_later_or_earlier() {
    // Armed (polled once), then moved later: it waits for the new deadline.
    let mut later = sleep(Duration::from_millis(100));
    assert!(futures_poll_once(&mut later).await.is_pending());
    let began = Instant::now();
    later.reset(began + Duration::from_millis(500));
    let took = waited(&mut later).await;
    assert!(took >= Duration::from_millis(500), "fired after {took:?}");

    // Armed for a minute, then moved to now: it fires within ticks.
    let mut earlier = sleep(Duration::from_secs(60));
    assert!(futures_poll_once(&mut earlier).await.is_pending());
    earlier.reset(Instant::now() + Duration::from_millis(50));
    waited(&mut earlier).await;
}

/// Polls `sleep` once, arming it if it must wait.
async fn futures_poll_once(sleep: &mut Sleep) -> Poll<()> {
    std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut *sleep).poll(cx))).await
}

#[tokio::test]
async fn dropped_timers_are_forgotten_by_the_ticker() {
    let mut entries: Vec<Weak<Entry>> = Vec::new();
    for _ in 0..1000 {
        let mut s = sleep(Duration::from_secs(3600));
        assert!(futures_poll_once(&mut s).await.is_pending());
        entries.push(Arc::downgrade(s.entry.as_ref().expect("armed")));
    }
    // All dropped (cancelled) above; the ticker frees them at its next look.
    let deadline = Instant::now() + NEVER;
    while entries.iter().any(|e| e.upgrade().is_some()) {
        assert!(Instant::now() < deadline, "dropped timers are still kept");
        tokio::time::sleep(TICK).await;
    }
    // A timer that is not waited for is never armed.
    let unpolled = sleep(Duration::from_secs(1));
    assert!(unpolled.entry.is_none());
}

#[test]
fn timers_fire_under_any_runtime() {
    for _ in 0..3 {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("runtime");
        rt.block_on(async {
            waited(sleep(Duration::from_millis(120))).await;
        });
    }
    start().expect("the ticker runs");
}

#[test]
fn hypers_reset_keeps_the_same_timer() {
    let timer = CoarseTimer;
    let at = Instant::now() + Duration::from_secs(30);
    let mut s = timer.sleep_until(at);
    let later = at + Duration::from_secs(30);
    timer.reset(&mut s, later);
    let mine = s
        .as_mut()
        .downcast_mut_pin::<Sleep>()
        .expect("still a coarse timer");
    assert_eq!(mine.deadline_ms, CLOCK.ms_of(later));
}

/// hyper's header read timeout on these timers: a client that sends half a request
/// head is cut off once the timeout has passed, not before.
#[tokio::test]
async fn a_slow_request_head_is_cut_off_at_the_header_read_timeout() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let timeout = Duration::from_millis(400);
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.expect("accept");
        let mut http = hyper::server::conn::http1::Builder::new();
        http.timer(CoarseTimer).header_read_timeout(timeout);
        let svc = hyper::service::service_fn(|_req| async {
            Ok::<_, std::convert::Infallible>(hyper::Response::new(String::new()))
        });
        let _ = http
            .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
            .await;
    });
    let mut client = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let began = Instant::now();
    client
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
        .await
        .expect("write");
    let mut rest = Vec::new();
    tokio::time::timeout(NEVER, client.read_to_end(&mut rest))
        .await
        .expect("the connection was closed")
        .expect("read");
    let took = began.elapsed();
    assert!(took >= timeout, "cut off after {took:?}");
}
