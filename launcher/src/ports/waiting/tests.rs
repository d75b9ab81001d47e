//! The reloading page's backoff and who gets it.

use http_body_util::BodyExt;

use super::*;

#[test]
fn the_wait_grows_with_the_streak_and_starts_over_after_an_answer_or_a_pause() {
    let mut streaks = Streaks::new();
    let t0 = Instant::now();
    let at = |s: u64| t0 + Duration::from_millis(s * 1000 + 100);
    let waits: Vec<u64> = [0, 1, 2, 4, 8, 16, 26]
        .into_iter()
        .map(|s| streaks.failed(3000, at(s)))
        .collect();
    assert_eq!(waits, [1, 1, 2, 4, 8, LONGEST, LONGEST]);
    // Another port has a streak of its own.
    assert_eq!(streaks.failed(4000, at(26)), 1);
    // An answer ends the streak.
    streaks.answered(3000);
    assert_eq!(streaks.failed(3000, at(27)), 1);
    assert_eq!(streaks.failed(3000, at(31)), 4);
    // So does a pause longer than any wait.
    assert_eq!(streaks.failed(3000, at(31) + FORGOTTEN), 1);
}

#[test]
fn a_streak_is_remembered_for_a_bounded_number_of_ports() {
    let mut streaks = Streaks::new();
    let now = Instant::now();
    for port in 1..=1000 {
        streaks.failed(port, now);
    }
    assert_eq!(streaks.0.len(), REMEMBERED);
}

fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (name, value) in pairs {
        h.insert(*name, HeaderValue::from_static(value));
    }
    h
}

#[test]
fn only_a_browsers_navigation_gets_the_reloading_page() {
    let page = "text/html,application/xhtml+xml,*/*;q=0.8";
    let nav = [("accept", page), ("sec-fetch-mode", "navigate")];
    assert!(is_navigation(&Method::GET, &headers(&nav)));
    assert!(
        is_navigation(&Method::GET, &headers(&nav[..1])),
        "no fetch metadata"
    );
    assert!(!is_navigation(&Method::POST, &headers(&nav)));
    let fetch = [("accept", page), ("sec-fetch-mode", "cors")];
    assert!(!is_navigation(&Method::GET, &headers(&fetch)));
    assert!(!is_navigation(&Method::GET, &headers(&[("accept", "*/*")])));
    let json = [("accept", "application/json, text/html")];
    assert!(!is_navigation(&Method::GET, &headers(&json)));
}

#[tokio::test]
async fn the_page_says_it_reloads_itself_and_does_without_a_script() {
    let res = not_answering(61_001, "connection <refused>", false, true);
    assert_eq!(res.status(), StatusCode::BAD_GATEWAY);
    assert_eq!(res.headers()[REFRESH], "1");
    let body = res.into_body().collect().await.expect("body").to_bytes();
    let page = String::from_utf8_lossy(&body);
    assert!(page.contains("reloads itself in 1 s"), "{page}");
    assert!(
        page.contains("connection &lt;refused&gt;"),
        "escaped: {page}"
    );
    assert!(!page.contains("<script"), "{page}");

    let plain = not_answering(61_002, "refused", true, false);
    assert_eq!(plain.status(), StatusCode::BAD_GATEWAY);
    assert!(!plain.headers().contains_key(REFRESH));
}
