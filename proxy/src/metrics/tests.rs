//! The rendered metrics and their labels.

use super::*;

#[test]
fn renders_counters() {
    let m = Metrics::default();
    m.starts.inc();
    m.count_request(http::StatusCode::NOT_FOUND);
    let text = m.render();
    assert!(text.contains("dcs_workspace_starts_total 1"), "{text}");
    assert!(
        text.contains("dcs_requests_total{code=\"4xx\"} 1"),
        "{text}"
    );
}

#[test]
fn every_upstream_failure_has_a_reported_label() {
    use dcs_net::upstream::Kind;
    for kind in [
        Kind::Refused,
        Kind::Reset,
        Kind::Exhausted,
        Kind::Timeout,
        Kind::Resolve,
        Kind::Closed,
        Kind::Other,
    ] {
        assert!(UPSTREAM_ERRORS.contains(&upstream_kind(kind)), "{kind:?}");
    }
}

#[test]
fn idle_stops_are_counted_by_reason() {
    let m = Metrics::default();
    m.idle_stop("busy_max");
    let text = m.render();
    for line in [
        "dcs_idle_stops_total{reason=\"busy_max\"} 1",
        "dcs_idle_stops_total{reason=\"idle\"} 0",
        "dcs_workspace_idle_stops_total 1",
    ] {
        assert!(text.contains(line), "{line}: {text}");
    }
}

#[test]
fn workspaces_by_state_and_open_tunnels_are_gauges() {
    let m = Metrics::default();
    let failed = Status::Failed {
        reason: "ImagePullBackOff".into(),
    };
    m.set_workspaces(&[Status::Running, Status::Running, Status::Starting, failed]);
    let text = m.render();
    for line in [
        "dcs_workspaces{state=\"running\"} 2",
        "dcs_workspaces{state=\"starting\"} 1",
        "dcs_workspaces{state=\"failed\"} 1",
        "dcs_workspaces{state=\"stopped\"} 0",
    ] {
        assert!(text.contains(line), "{line} in {text}");
    }
    // The next report replaces the last.
    m.set_workspaces(&[Status::Stopped, Status::NotFound]);
    let text = m.render();
    assert!(
        text.contains("dcs_workspaces{state=\"running\"} 0"),
        "{text}"
    );
    assert!(
        text.contains("dcs_workspaces{state=\"stopped\"} 1"),
        "{text}"
    );
    let (a, b) = (m.tunnel_opened(), m.tunnel_opened());
    assert!(m.render().contains("dcs_tunnels_open 2"));
    drop(a);
    drop(b);
    assert!(m.render().contains("dcs_tunnels_open 0"));
}

#[test]
fn every_status_class_is_counted_in_its_own_series() {
    let m = Metrics::default();
    let text = m.render();
    assert!(
        text.contains("dcs_requests_total{code=\"2xx\"} 0"),
        "{text}"
    );
    for (code, times) in [(101, 1), (200, 3), (304, 1), (404, 2), (503, 1), (799, 1)] {
        let status = http::StatusCode::from_u16(code).expect("a status");
        for _ in 0..times {
            m.count_request(status);
        }
    }
    let text = m.render();
    for line in [
        "dcs_requests_total{code=\"1xx\"} 1",
        "dcs_requests_total{code=\"2xx\"} 3",
        "dcs_requests_total{code=\"3xx\"} 1",
        "dcs_requests_total{code=\"4xx\"} 2",
        "dcs_requests_total{code=\"5xx\"} 1",
        "dcs_requests_total{code=\"7xx\"} 1",
    ] {
        assert!(text.contains(line), "{line}:\n{text}");
    }
}
