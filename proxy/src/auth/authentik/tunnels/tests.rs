//! The sessions of open tunnels against a scripted outpost on loopback: sign-out,
//! re-checks that close ended sessions, and outages that close nothing.

use std::sync::atomic::Ordering;

use futures_util::FutureExt;

use super::*;
use crate::auth::authentik::tests::{outpost, Script};
use crate::auth::Identity;

const GOOD: &str = "authentik_proxy_t=good";
const BAD: &str = "authentik_proxy_t=bad";
const URL: &str = "http://ide.test/github/acme/hello/_dcs/ws";

fn headers(cookie: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(COOKIE, HeaderValue::from_str(cookie).expect("cookie"));
    h.insert("accept", HeaderValue::from_static("*/*"));
    h
}

fn key(cookie: &str) -> SessionKey {
    SessionKey::of(&headers(cookie), &[b"http", b"ide.test"]).expect("key")
}

fn registry(outpost_url: &str, period: Duration) -> (Tunnels, Arc<SessionCache>) {
    let cache = Arc::new(SessionCache::new(Duration::from_secs(600), 100));
    let origin = Origin {
        scheme: "http".into(),
        host: HeaderValue::from_static("ide.test"),
    };
    let tunnels = Tunnels::new(
        OutpostClient::new(outpost_url),
        Some(origin),
        Arc::clone(&cache),
        Arc::default(),
        period,
    );
    (tunnels, cache)
}

fn admit(tunnels: &Tunnels, cookie: &str) -> Lease {
    tunnels.admit(key(cookie), &headers(cookie), HeaderValue::from_static(URL))
}

fn is_open(lease: &mut Lease) -> bool {
    lease.ended().now_or_never().is_none()
}

/// Waits (deadline 30 s) until the outpost has answered `n` more checks.
async fn checks_answered(script: &Script, n: usize) {
    let goal = script.checks.load(Ordering::SeqCst) + n;
    tokio::time::timeout(Duration::from_secs(30), async {
        while script.checks.load(Ordering::SeqCst) < goal {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the outpost was asked again in time");
}

#[test]
fn the_period_follows_the_cache_ttl_within_bounds() {
    assert_eq!(period(Duration::ZERO), UNCACHED_PERIOD);
    assert_eq!(period(Duration::from_secs(1)), MIN_PERIOD);
    assert_eq!(period(Duration::from_secs(600)), Duration::from_secs(600));
}

#[tokio::test]
async fn a_sign_out_closes_that_sessions_tunnels_only_and_closed_ones_are_forgotten() {
    let (tunnels, _) = registry("http://127.0.0.1:9", Duration::from_secs(3600));
    let (mut a1, mut a2, mut b) = (
        admit(&tunnels, GOOD),
        admit(&tunnels, GOOD),
        admit(&tunnels, BAD),
    );
    assert_eq!(tunnels.sessions(), 2);
    let due = tunnels.shared.due().expect("sessions");
    assert_eq!(due.len(), 2, "one check per session, not per tunnel");
    assert!(!format!("{:?}", due).contains("good"), "never shown");

    assert_eq!(tunnels.end(&key(GOOD)), 2);
    assert!(
        !is_open(&mut a1) && !is_open(&mut a2),
        "both closed at once"
    );
    assert!(is_open(&mut b), "another session's tunnel stays");
    drop((a1, a2));
    assert_eq!(tunnels.sessions(), 1);
    drop(b);
    assert_eq!(tunnels.sessions(), 0, "a closed tunnel is forgotten");
    assert_eq!(tunnels.end(&key(GOOD)), 0);
}

#[tokio::test]
async fn sessions_the_outpost_no_longer_knows_are_closed_and_unknown_is_not_gone() {
    let (url, script) = outpost().await;
    let (tunnels, cache) = registry(&url, Duration::from_millis(50));
    let alice = Arc::new(Identity::from_user(
        dcs_model::UserId::new("alice").expect("user"),
    ));
    cache.insert(key(BAD), Arc::clone(&alice));
    *script.status.lock().expect("lock") = Some(StatusCode::INTERNAL_SERVER_ERROR);
    let mut bad = admit(&tunnels, BAD);
    let mut good = admit(&tunnels, GOOD);

    // The outpost fails: unknown is not gone.
    checks_answered(&script, 4).await;
    assert!(is_open(&mut bad) && is_open(&mut good));

    // It answers again: 401 closes that session's tunnel and drops its cache entry.
    *script.status.lock().expect("lock") = None;
    tokio::time::timeout(Duration::from_secs(30), bad.ended())
        .await
        .expect("closed once the outpost says 401");
    assert!(cache.get(&key(BAD)).is_none());
    checks_answered(&script, 2).await;
    assert!(is_open(&mut good), "a session the outpost knows stays");
    let seen = script.seen.lock().expect("lock").last().cloned();
    let seen = seen.expect("checks");
    assert_eq!(seen["x-original-url"], URL);
    assert!(seen["cookie"].to_str().expect("ascii").contains(GOOD));

    // 403 (a policy now denies it) closes too.
    *script.status.lock().expect("lock") = Some(StatusCode::FORBIDDEN);
    tokio::time::timeout(Duration::from_secs(30), good.ended())
        .await
        .expect("closed once the outpost says 403");
    drop((bad, good));

    // With nothing open the task stops; the next tunnel starts it again.
    tokio::time::timeout(Duration::from_secs(30), async {
        while tunnels.shared.lock().checking {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the re-check task stops when no tunnel is open");
    *script.status.lock().expect("lock") = None;
    let mut again = admit(&tunnels, BAD);
    tokio::time::timeout(Duration::from_secs(30), again.ended())
        .await
        .expect("re-checked again");
}
