//! Waiting for a supervised process that listens late, with real processes: `sh`
//! scripts under a [`Supervisor`], probed over HTTP as the IDE is.

use std::net::SocketAddr;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use super::*;
use crate::fixtures::fake_ide::shell;
use crate::forward::probe;
use crate::supervise::Policy;

/// Listens only after a second: as an IDE that takes its time to start.
const LATE: &str =
    "sleep 1; exec python3 -m http.server --bind 127.0.0.1 \"$PORT\" >/dev/null 2>&1";

/// Exits at once the first time; listens late the second.
const CRASHES_ONCE: &str = "if [ -e ran ]; then sleep 1; \
                            exec python3 -m http.server --bind 127.0.0.1 \"$PORT\" >/dev/null 2>&1; \
                            fi; touch ran; exit 3";

/// Never listens.
const MUTE: &str = "exec sleep 300";

/// Counts the health checks and how many run at once.
#[derive(Default)]
struct Probes {
    running: AtomicUsize,
    most: AtomicUsize,
    total: AtomicUsize,
}

impl Probes {
    async fn probe(&self, addr: SocketAddr) -> bool {
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(now, Ordering::SeqCst);
        self.total.fetch_add(1, Ordering::SeqCst);
        let answers = probe(addr, "/", Duration::from_secs(2)).await;
        self.running.fetch_sub(1, Ordering::SeqCst);
        answers
    }
}

#[tokio::test]
async fn requests_wait_for_a_run_that_listens_late_with_one_check_at_a_time() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sup = Supervisor::spawn("late", shell(dir.path(), LATE), Policy::default());
    let (answering, probes) = (Answering::default(), Probes::default());
    let hold = Duration::from_secs(120);

    // Eight requests come before it listens: all of them get its address once it
    // answers, and never more than one health check runs at a time.
    let began = Instant::now();
    let waits = (0..8).map(|_| answering.address(&sup, hold, |a| probes.probe(a)));
    let addrs = futures_util::future::join_all(waits).await;
    let waited = began.elapsed();
    let State::Running { pid, addr } = sup.state() else {
        panic!("not running: {:?}", sup.state());
    };
    assert!(
        addrs.iter().all(|a| *a == Some(addr)),
        "{addrs:?} vs {addr}"
    );
    assert_eq!(probes.most.load(Ordering::SeqCst), 1);
    // At most one check per POLL, not one per waiting request.
    let most = waited.as_millis() / POLL.as_millis() + 2;
    let asked = probes.total.load(Ordering::SeqCst) as u128;
    assert!(asked <= most, "{asked} checks in {waited:?}");
    assert!(probe(addr, "/", Duration::from_secs(2)).await, "it listens");

    // Once a run answered, nothing is asked again.
    assert_eq!(answering.pid.load(Ordering::SeqCst), pid);
    let before = probes.total.load(Ordering::SeqCst);
    let again = answering.address(&sup, hold, |a| probes.probe(a)).await;
    assert_eq!(again, Some(addr));
    assert_eq!(probes.total.load(Ordering::SeqCst), before);
    sup.stop(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn a_request_waits_through_a_crash_and_the_backoff_for_the_next_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sup = Supervisor::spawn(
        "crashes",
        shell(dir.path(), CRASHES_ONCE),
        Policy::default(),
    );
    let answering = Answering::default();
    let addr = answering
        .address(&sup, Duration::from_secs(120), |a| {
            probe(a, "/", Duration::from_secs(2))
        })
        .await;
    let State::Running { pid, addr: now } = sup.state() else {
        panic!("not running: {:?}", sup.state());
    };
    assert_eq!(addr, Some(now), "the second run's address");
    assert!(dir.path().join("ran").is_file(), "the first run crashed");
    assert_eq!(answering.pid.load(Ordering::SeqCst), pid);
    sup.stop(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn a_run_that_never_listens_is_given_up_after_the_hold() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sup = Supervisor::spawn("mute", shell(dir.path(), MUTE), Policy::default());
    let (answering, probes) = (Answering::default(), Probes::default());
    let hold = Duration::from_millis(300);
    // The run is up (its process started, its address known) before the hold
    // begins: the hold is spent asking it, never waiting for it to start.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !matches!(sup.state(), State::Running { .. }) {
        assert!(Instant::now() < deadline, "never ran: {:?}", sup.state());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let began = Instant::now();
    let addr = answering.address(&sup, hold, |a| probes.probe(a)).await;
    assert_eq!(addr, None);
    assert!(began.elapsed() >= hold, "not before the hold passed");
    assert!(probes.total.load(Ordering::SeqCst) >= 1, "it was asked");
    sup.stop(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn a_stopped_ide_is_not_waited_for() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sup = Supervisor::spawn("mute", shell(dir.path(), MUTE), Policy::default());
    sup.stop(Duration::from_secs(1)).await;
    let answering = Answering::default();
    let began = Instant::now();
    let addr = answering
        .address(&sup, Duration::from_secs(120), |a| {
            probe(a, "/", Duration::from_secs(2))
        })
        .await;
    assert_eq!(addr, None);
    assert!(
        began.elapsed() < Duration::from_secs(60),
        "answered at once"
    );
}
