//! `--metrics-listen`: `/metrics` only on its own address, never through the
//! public listener; without the flag the public listener serves it as before.

mod common;

use common::{get, get_with, next_with, Proxy};

#[test]
fn metrics_move_to_their_own_address_and_leave_the_public_one() {
    let mut proxy = Proxy::start(&["--metrics-listen", "127.0.0.1:0"]);
    let metrics = next_with(&mut proxy.stdout, "dcs-proxy metrics on http://");
    let metrics = metrics.trim_end_matches("/metrics").to_owned();

    let public = get(&proxy.addr, "/metrics");
    assert!(public.starts_with("HTTP/1.1 404"), "{public}");
    assert!(!public.contains("dcs_requests_total"), "{public}");

    let scraped = get(&metrics, "/metrics");
    assert!(scraped.starts_with("HTTP/1.1 200"), "{scraped}");
    assert!(
        scraped.contains("application/openmetrics-text"),
        "{scraped}"
    );
    assert!(scraped.contains("dcs_"), "{scraped}");

    // Not to a workspace's preview of this port (the preview hop marks what it
    // forwards, as the launcher's `/ports/<n>/` does).
    let previewed = get_with(&metrics, "/metrics", "Via: 1.1 dcs-preview\r\n");
    assert!(previewed.starts_with("HTTP/1.1 403"), "{previewed}");
    assert!(!previewed.contains("dcs_requests_total"), "{previewed}");

    // Nothing else is served there: not the API, not a workspace.
    for path in ["/", "/api/me", "/github/acme/hello/", "/healthz"] {
        let other = get(&metrics, path);
        assert!(other.starts_with("HTTP/1.1 404"), "{path}: {other}");
    }
    proxy.stop();
}

#[test]
fn without_the_flag_the_public_listener_serves_metrics() {
    let proxy = Proxy::start(&[]);
    let public = get(&proxy.addr, "/metrics");
    assert!(public.starts_with("HTTP/1.1 200"), "{public}");
    assert!(public.contains("dcs_"), "{public}");
    proxy.stop();
}
