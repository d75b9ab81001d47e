//! What wakes a workspace after an idle stop, and what its stopped answer says.

use http::header::{ACCEPT, CONNECTION, UPGRADE};
use http::HeaderMap;
use http_body_util::BodyExt;

use dcs_model::plumbing::BACKGROUND_HEADER;
use dcs_model::{RepoRef, UserId};

use super::*;

fn key(repo: &str) -> WorkspaceKey {
    WorkspaceKey::new(
        UserId::new("resume-tester").expect("user"),
        RepoRef::parse(repo).expect("repo"),
    )
}

fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (name, value) in pairs {
        h.insert(*name, HeaderValue::from_static(value));
    }
    h
}

/// [`classify`] of a request with `headers`.
fn kind(method: &Method, rest: &str, headers: &HeaderMap) -> Kind {
    classify(method, rest, &Asked::of(headers))
}

#[test]
fn requests_are_told_apart_by_what_they_are() {
    let nav = headers(&[
        (ACCEPT.as_str(), "text/html"),
        ("sec-fetch-mode", "navigate"),
    ]);
    assert_eq!(kind(&Method::GET, "/?folder=/w", &nav), Kind::Wakes);
    let poll = headers(&[(BACKGROUND_HEADER, "1")]);
    assert_eq!(kind(&Method::GET, "/_dcs/idle", &poll), Kind::Background);
    let ws = headers(&[
        (CONNECTION.as_str(), "Upgrade"),
        (UPGRADE.as_str(), "websocket"),
    ]);
    assert_eq!(
        kind(&Method::GET, "/stable-x?reconnection=true", &ws),
        Kind::Upgrade
    );
    let none = HeaderMap::new();
    assert_eq!(kind(&Method::POST, "/_dcs/activity", &none), Kind::Beacon);
    assert_eq!(kind(&Method::GET, "/_dcs/activity", &none), Kind::Wakes);
    assert_eq!(kind(&Method::POST, "/_dcs/stop", &none), Kind::Stop);
    assert_eq!(kind(&Method::POST, "/_dcs/stop?x=1", &none), Kind::Stop);
    assert_eq!(kind(&Method::GET, "/_dcs/files/x", &none), Kind::Wakes);
    // A stale page's own fetches and frames do not wake; a navigation does.
    let fetch = headers(&[("sec-fetch-mode", "cors"), ("sec-fetch-dest", "empty")]);
    assert_eq!(
        kind(&Method::GET, "/stable-x/static/x.js", &fetch),
        Kind::Subresource
    );
    let frame = headers(&[("sec-fetch-mode", "navigate"), ("sec-fetch-dest", "iframe")]);
    assert_eq!(
        kind(&Method::GET, "/webview/index.html", &frame),
        Kind::Subresource
    );
    let top = headers(&[
        ("sec-fetch-mode", "navigate"),
        ("sec-fetch-dest", "document"),
    ]);
    assert_eq!(kind(&Method::GET, "/", &top), Kind::Wakes);
    // Only `1` marks background traffic.
    let other = headers(&[(BACKGROUND_HEADER, "0")]);
    assert_eq!(kind(&Method::GET, "/_dcs/idle", &other), Kind::Wakes);
}

#[test]
fn a_note_stands_until_forgotten() {
    let (stops, k) = (IdleStops::default(), key("acme/noted"));
    assert_eq!(stops.get(&k), None);
    stops.note(&k, Duration::from_secs(1800));
    assert_eq!(
        stops.get(&k).and_then(|s| s.after),
        Some(Duration::from_secs(1800))
    );
    assert_eq!(IdleStops::default().get(&k), None, "each activator its own");
    stops.forget(&k);
    assert_eq!(stops.get(&k), None);
}

#[tokio::test(start_paused = true)]
async fn the_reapers_mark_on_the_tracker_holds_until_the_next_use() {
    let activity = crate::activity::Activity::default();
    let k = key("acme/reaped");
    let idle = Duration::from_secs(900);
    assert_eq!(reaped(None, idle), None, "no tracker: nothing marked");
    let tracker = activity.tracker(&k);
    assert_eq!(reaped(Some(&tracker), idle), None, "in use");
    tracker.mark_idle_stopped(tracker.period());
    let stop = reaped(Some(&tracker), idle).expect("marked");
    assert_eq!(stop.after, Some(idle));
    tokio::time::advance(Duration::from_millis(5)).await;
    // Each request through this replica begins on the same tracker.
    let peeked = activity.peek(&k).expect("the tracker is kept");
    drop(peeked.begin());
    assert_eq!(reaped(Some(&tracker), idle), None, "used again");
}

#[tokio::test]
async fn the_stopped_answer_is_json_saying_why_and_after_how_long() {
    let res = stopped(Some(IdleStop {
        at: SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        after: Some(Duration::from_secs(1805)),
    }));
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(res.headers()[CONTENT_TYPE], "application/json");
    assert_eq!(res.headers()[CACHE_CONTROL], "no-store");
    let body = res.into_body().collect().await.expect("body").to_bytes();
    let json: serde_json::Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(
        json,
        serde_json::json!({"stopped": true, "reason": "idle", "stopped_after_s": 1805,
                           "stopped_at": 1_700_000_000u64})
    );
    let asked = stopped(Some(IdleStop {
        at: SystemTime::UNIX_EPOCH,
        after: None,
    }));
    let body = asked.into_body().collect().await.expect("body").to_bytes();
    let json: serde_json::Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(json["reason"], "requested");
    let body = stopped(None).into_body().collect().await.expect("body");
    let json: serde_json::Value = serde_json::from_slice(&body.to_bytes()).expect("json");
    assert_eq!(json["reason"], "stopped");
    assert!(json["stopped_after_s"].is_null());
}
