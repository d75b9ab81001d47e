//! Name lookups through the egress proxy: bounded while DNS does not answer, and a
//! failure remembered briefly.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use super::fixtures::{status, Proxy, DEADLINE};
use super::{connect_close, Policy};
use crate::egress::{Egress, Lookups};

/// A blocking lookup that never answers until released (on drop too, so that a
/// failed test does not leave the runtime waiting for its blocking threads).
struct Stuck {
    released: Arc<(Mutex<bool>, Condvar)>,
    started: Arc<AtomicUsize>,
}

impl Stuck {
    fn new() -> Stuck {
        Stuck {
            released: Arc::default(),
            started: Arc::default(),
        }
    }

    fn lookup(&self) -> impl Fn(&str) -> io::Result<Vec<SocketAddr>> + Send + Sync + 'static {
        let (released, started) = (self.released.clone(), self.started.clone());
        move |_host| {
            started.fetch_add(1, Ordering::SeqCst);
            let (lock, cvar) = &*released;
            let mut done = lock.lock().unwrap_or_else(|p| p.into_inner());
            while !*done {
                done = cvar.wait(done).unwrap_or_else(|p| p.into_inner());
            }
            Err(io::Error::other("released"))
        }
    }

    fn release(&self) {
        let (lock, cvar) = &*self.released;
        *lock.lock().unwrap_or_else(|p| p.into_inner()) = true;
        cvar.notify_all();
    }
}

impl Drop for Stuck {
    fn drop(&mut self) {
        self.release();
    }
}

#[tokio::test]
async fn lookups_under_way_are_bounded_and_hold_their_place_until_they_really_end() {
    let stuck = Stuck::new();
    let lookups = Lookups::new(2).with_wait(Duration::from_millis(100));
    let egress = Egress::with_resolver(
        Policy::default(),
        lookups.resolver(Duration::ZERO, stuck.lookup()),
    )
    .with_connect_timeout(Duration::from_secs(1));
    let proxy = Proxy::serve(Arc::new(egress));

    let answers = futures_util::future::join_all((0..6).map(|n| {
        let request = connect_close(&format!("never{n}.example:443"));
        let proxy = &proxy;
        async move { proxy.exchange(&request).await }
    }))
    .await;
    let timed_out = answers.iter().filter(|a| status(a) == 504).count();
    let busy: Vec<_> = answers.iter().filter(|a| status(a) == 503).collect();
    assert_eq!((timed_out, busy.len()), (2, 4), "{answers:#?}");
    for answer in busy {
        assert!(
            answer.contains("too many name lookups under way"),
            "{answer}"
        );
        assert!(
            answer.to_ascii_lowercase().contains("retry-after: 1"),
            "{answer}"
        );
    }
    // Two lookups run (their threads may start late on a busy machine), no more.
    tokio::time::timeout(DEADLINE, async {
        while stuck.started.load(Ordering::SeqCst) < 2 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("two lookups start in time");
    assert_eq!(stuck.started.load(Ordering::SeqCst), 2, "two lookups ran");
    // Their callers gave up; the lookups still hold their places.
    assert_eq!(lookups.in_flight(), 2);

    stuck.release();
    tokio::time::timeout(DEADLINE, async {
        while lookups.in_flight() > 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the places free up once the lookups end");
}

#[tokio::test]
async fn a_failed_lookup_is_remembered_briefly() {
    let asked = Arc::new(AtomicUsize::new(0));
    let lookup = {
        let asked = asked.clone();
        move |host: &str| -> io::Result<Vec<SocketAddr>> {
            asked.fetch_add(1, Ordering::SeqCst);
            Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{host}: Name or service not known"),
            ))
        }
    };
    let lookup = Arc::new(lookup);
    for (failure_ttl, asks) in [(Duration::from_secs(60), 1), (Duration::ZERO, 3)] {
        asked.store(0, Ordering::SeqCst);
        let lookups = Lookups::new(4).with_failure_ttl(failure_ttl);
        let lookup = lookup.clone();
        let resolver = lookups.resolver(Duration::from_secs(60), move |host| lookup(host));
        let proxy = Proxy::serve(Arc::new(Egress::with_resolver(Policy::default(), resolver)));
        for _ in 0..3 {
            let answer = proxy.exchange(&connect_close("gone.example:443")).await;
            assert_eq!(status(&answer), 502, "{answer}");
            assert!(
                answer.contains("gone.example: Name or service not known"),
                "{answer}"
            );
        }
        assert_eq!(asked.load(Ordering::SeqCst), asks, "ttl {failure_ttl:?}");
    }
}

#[tokio::test]
async fn a_workspace_whose_lookups_hang_leaves_the_others_theirs() {
    let echo = super::fixtures::Echo::start().await;
    let stuck = Stuck::new();
    let hang = stuck.lookup();
    let lookup = move |host: &str| -> io::Result<Vec<SocketAddr>> {
        if host.starts_with("never") {
            hang(host)
        } else {
            Ok(vec![SocketAddr::from(([127, 0, 0, 1], 0))])
        }
    };
    let lookups = Lookups::new(8).with_wait(Duration::from_millis(100));
    let policy = super::allowing(&[echo.addr.to_string()]);
    let egress = Egress::with_resolver(policy, lookups.resolver(Duration::ZERO, lookup))
        .with_connect_timeout(Duration::from_secs(5))
        .with_lookups_per_workspace(4);
    let egress = Arc::new(egress);
    let (alice, bob) = (Proxy::serve(egress.clone()), Proxy::serve(egress));

    // Alice asks for eight names whose DNS never answers: four lookups start.
    let alice = Arc::new(alice);
    let asking: Vec<_> = (0..8)
        .map(|n| {
            let alice = alice.clone();
            tokio::spawn(async move {
                alice
                    .exchange(&connect_close(&format!("never{n}.example:443")))
                    .await
            })
        })
        .collect();
    tokio::time::timeout(DEADLINE, async {
        while stuck.started.load(Ordering::SeqCst) < 4 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("four lookups start");
    assert_eq!(lookups.in_flight(), 4, "alice's share, not every place");

    // Bob's name still resolves, and his tunnel opens.
    let (_tunnel, head) = bob
        .tunnel(&format!("echo.example:{}", echo.addr.port()))
        .await;
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
    assert_eq!(
        stuck.started.load(Ordering::SeqCst),
        4,
        "alice never had more"
    );
    stuck.release();
    for asked in asking {
        let answer = asked.await.expect("answered");
        assert!([502, 503, 504].contains(&status(&answer)), "{answer}");
    }
}
