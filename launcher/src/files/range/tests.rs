use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::header::{HeaderMap, HeaderValue};

use super::*;

fn part(start: u64, end: u64) -> Option<Answer> {
    Some(Answer::Part { start, end })
}

#[test]
fn single_ranges_of_each_form_are_read() {
    assert_eq!(parse(b"bytes=0-99", 1000), part(0, 99));
    assert_eq!(parse(b"bytes=1000-1999", 60_000_000), part(1000, 1999));
    assert_eq!(parse(b"bytes=500-", 1000), part(500, 999));
    assert_eq!(parse(b"bytes=-100", 1000), part(900, 999));
    // Clamped to the file: an end past it, a suffix longer than it.
    assert_eq!(parse(b"bytes=990-5000", 1000), part(990, 999));
    assert_eq!(parse(b"bytes=-5000", 1000), part(0, 999));
    assert_eq!(parse(b"bytes=0-99999999999999999999999", 10), part(0, 9));
    // The unit is case-insensitive; spaces around the range are allowed.
    assert_eq!(parse(b"Bytes= 7-8 ", 10), part(7, 8));
}

#[test]
fn ranges_past_the_end_or_backwards_are_unsatisfiable() {
    let no = Some(Answer::Unsatisfiable);
    assert_eq!(parse(b"bytes=1000-", 1000), no);
    assert_eq!(parse(b"bytes=1000-2000", 1000), no);
    assert_eq!(parse(b"bytes=99999999999999999999999-", 1000), no);
    assert_eq!(parse(b"bytes=5-3", 1000), no);
    assert_eq!(parse(b"bytes=-0", 1000), no);
    assert_eq!(parse(b"bytes=0-", 0), no);
    assert_eq!(parse(b"bytes=-5", 0), no);
}

#[test]
fn what_is_not_one_byte_range_is_ignored() {
    for value in [
        &b"bytes=0-1,5-6"[..],
        b"items=0-1",
        b"bytes=abc",
        b"bytes=1",
        b"bytes=-",
        b"bytes=+1-2",
        b"bytes=1 2-3",
        b"bytes=-1-2",
        b"0-1",
        b"bytes=\xff-1",
    ] {
        assert_eq!(
            parse(value, 1000),
            None,
            "{}",
            String::from_utf8_lossy(value)
        );
    }
}

fn validators() -> Validators {
    Validators {
        etag: "\"2a-3e8-65f0.1\"".into(),
        modified: Some(UNIX_EPOCH + Duration::from_secs(1_700_000_000)),
    }
}

fn conditions(pairs: &[(&'static str, &str)]) -> Conditions {
    let mut headers = HeaderMap::new();
    for (name, value) in pairs {
        headers.append(*name, HeaderValue::from_str(value).expect("value"));
    }
    Conditions::of(&headers)
}

const LAST_MODIFIED: &str = "Tue, 14 Nov 2023 22:13:20 GMT";

#[test]
fn validators_come_from_the_metadata() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("f");
    std::fs::write(&path, b"12345").expect("write");
    let meta = std::fs::metadata(&path).expect("meta");
    let v = Validators::of(&meta);
    assert!(
        v.etag.starts_with('"') && v.etag.ends_with('"'),
        "{}",
        v.etag
    );
    assert!(v.etag.contains("-5-"), "size in hex: {}", v.etag);
    assert!(v.last_modified().is_some_and(|d| d.ends_with(" GMT")));
    assert_eq!(validators().last_modified().as_deref(), Some(LAST_MODIFIED));
    std::fs::write(&path, b"12346").expect("rewrite");
    let later = std::fs::metadata(&path).expect("meta");
    if later.modified().ok() != meta.modified().ok() {
        assert_ne!(Validators::of(&later), v, "a rewrite changes the tag");
    }
}

#[test]
fn if_range_gates_the_range_on_the_current_version() {
    let v = validators();
    let range = ("range", "bytes=10-19");
    assert_eq!(
        span(&conditions(&[range]), &v, 100),
        Answer::Part { start: 10, end: 19 }
    );
    for current in [v.etag.as_str(), "\"2a-3e8-65f0.1\"", LAST_MODIFIED] {
        let c = conditions(&[range, ("if-range", current)]);
        assert_eq!(
            span(&c, &v, 100),
            Answer::Part { start: 10, end: 19 },
            "{current}"
        );
    }
    for stale in [
        "W/\"2a-3e8-65f0.2\"",
        "\"other\"",
        "Tue, 14 Nov 2023 22:13:21 GMT",
        "not a date",
    ] {
        let c = conditions(&[range, ("if-range", stale)]);
        assert_eq!(span(&c, &v, 100), Answer::Full, "{stale}");
    }
    assert_eq!(span(&conditions(&[]), &v, 100), Answer::Full);
    // Two Range lines are several ranges: the whole file.
    let twice = conditions(&[range, ("range", "bytes=30-39")]);
    assert_eq!(span(&twice, &v, 100), Answer::Full);
    let beyond = conditions(&[("range", "bytes=100-")]);
    assert_eq!(span(&beyond, &v, 100), Answer::Unsatisfiable);
}

#[test]
fn conditional_requests_are_answered_304_or_412() {
    let v = validators();
    let now = SystemTime::now();
    let check = |pairs: &[(&'static str, &str)]| precondition(&conditions(pairs), &v, now);
    assert_eq!(check(&[]), None);
    assert_eq!(
        check(&[("if-none-match", &v.etag)]),
        Some(Answer::NotModified)
    );
    let listed = format!("\"x\", W/{}", v.etag);
    assert_eq!(
        check(&[("if-none-match", &listed)]),
        Some(Answer::NotModified)
    );
    assert_eq!(check(&[("if-none-match", "*")]), Some(Answer::NotModified));
    assert_eq!(check(&[("if-none-match", "\"x\"")]), None);
    // If-None-Match decides alone when present.
    let both = [
        ("if-none-match", "\"x\""),
        ("if-modified-since", LAST_MODIFIED),
    ];
    assert_eq!(check(&both), None);
    assert_eq!(
        check(&[("if-modified-since", LAST_MODIFIED)]),
        Some(Answer::NotModified)
    );
    let before = "Tue, 14 Nov 2023 22:13:19 GMT";
    assert_eq!(check(&[("if-modified-since", before)]), None);
    let future = httpdate::fmt_http_date(now + Duration::from_secs(3600));
    assert_eq!(check(&[("if-modified-since", &future)]), None);
    assert_eq!(check(&[("if-modified-since", "yesterday")]), None);
    assert_eq!(
        check(&[("if-unmodified-since", before)]),
        Some(Answer::Changed)
    );
    assert_eq!(check(&[("if-unmodified-since", LAST_MODIFIED)]), None);
}
