//! The access line written directly is the subscriber's line, character for
//! character (but the time), and the subscriber's filter decides about both.

use std::time::Duration;

use crate::telemetry::batch::Batched;
use crate::telemetry::test_buffer::Buffer;
use crate::telemetry::{subscriber, with_request_id, LogFormat};

use super::*;

/// A batching writer handing every line to `buf` (the test thread is no runtime
/// worker, so each line is written at once).
fn batched(buf: &Buffer) -> Batched {
    let buf = buf.clone();
    Batched::new(Duration::from_millis(100), move |bytes| {
        buf.clone().write_all(bytes)
    })
}

/// The lines `answered` makes under the plain text subscriber with `filter`: through
/// `tracing`, then directly, each into a buffer of its own.
fn both(filter: &str, answered: &Answered<'_>) -> (String, String) {
    let (subscribed, direct) = (Buffer::default(), Buffer::default());
    let out = subscribed.clone();
    let _default =
        tracing::subscriber::set_default(subscriber(filter, LogFormat::Text, false, move || {
            out.clone()
        }));
    answered.through_tracing();
    answered.write_to(&batched(&direct));
    (subscribed.text(), direct.text())
}

/// The line without its time (they were written microseconds apart), after checking
/// that the time is there.
fn timeless(line: &str) -> &str {
    let (time, rest) = line.split_once(' ').expect("a time, then the rest");
    assert!(time.starts_with("20") && time.ends_with('Z'), "{line:?}");
    rest
}

fn requests() -> Vec<Answered<'static>> {
    let peers = [
        "127.0.0.1:50312",
        "10.1.2.3:5",
        "[::1]:8080",
        "[::ffff:1.2.3.4]:1",
    ]
    .map(|p| p.parse::<SocketAddr>().expect("addr"));
    let mut all = Vec::new();
    for (i, peer) in peers.into_iter().enumerate() {
        for (method, path) in [
            ("GET", "/github/acme/hello/"),
            ("POST", "/api/instances"),
            ("PROPFIND", "/github/acme/hello/_dcs/files/a%20b/\"q\"\\é"),
            ("GET", "/"),
        ] {
            all.push(Answered {
                peer,
                method,
                path,
                status: [200, 403, 502, 101][i],
                ms: [0, 7, 12_345, u64::MAX][i],
            });
        }
    }
    all
}

#[tokio::test]
async fn the_direct_line_is_the_subscribers_line() {
    for answered in requests() {
        let (subscribed, direct) = both("info", &answered);
        assert_eq!(timeless(&direct), timeless(&subscribed), "{answered:?}");
        assert!(direct.ends_with('\n') && direct.lines().count() == 1);
        // And while a request is served: its id where the span was.
        let (subscribed, direct) =
            with_request_id("0123abcd4567ef89".into(), async { both("info", &answered) }).await;
        assert_eq!(timeless(&direct), timeless(&subscribed), "{answered:?}");
        assert!(
            direct.contains(" INFO request{id=0123abcd4567ef89}: dcs_proxy::server: request peer=")
        );
    }
    let (_, direct) = both("info", &requests()[0]);
    assert_eq!(
        timeless(&direct),
        " INFO dcs_proxy::server: request peer=127.0.0.1:50312 method=GET path=/github/acme/hello/ status=200 ms=0\n"
    );
}

/// A path's C1 codes (UTF-8 in a request target is let through) and any other control
/// character are escaped, the same way in both lines.
#[test]
fn control_characters_in_the_path_are_escaped_in_both_lines() {
    let answered = Answered {
        path: "/github/acme/x\u{9b}2J\u{85}\nFAKE\u{7f}",
        method: "G\tET",
        ..requests()[0]
    };
    let (subscribed, direct) = both("info", &answered);
    assert_eq!(timeless(&direct), timeless(&subscribed));
    assert_eq!(direct.lines().count(), 1, "{direct:?}");
    assert!(
        direct.contains(" method=G\\tET path=/github/acme/x\\u{9b}2J\\u{85}\\nFAKE\\x7f status="),
        "{direct:?}"
    );
}

#[test]
fn the_filter_decides_about_the_direct_line_as_about_any_other() {
    let answered = requests()[0];
    for (filter, shown) in [
        ("info", true),
        ("warn", false),
        ("info,dcs_proxy::server=warn", false),
        ("warn,dcs_proxy::server=info", true),
        ("off", false),
    ] {
        let (subscribed, direct) = both(filter, &answered);
        assert_eq!(!subscribed.is_empty(), shown, "{filter}: {subscribed:?}");
        assert_eq!(!direct.is_empty(), shown, "{filter}: {direct:?}");
    }
}
