//! [`PlainFields`] writes what tracing-subscriber's default field formatter writes
//! without colours, for every kind of value, and escapes control codes in messages.

use tracing::{info, info_span};
use tracing_subscriber::fmt::format::DefaultFields;
use tracing_subscriber::fmt::FormatFields;

use super::PlainFields;
use crate::telemetry::test_buffer::Buffer;

#[derive(Debug)]
struct Failing;

impl std::fmt::Display for Failing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "disk \u{1b}[2Jfull")
    }
}

impl std::error::Error for Failing {}

/// Events of every kind of field value, and spans with fields.
fn emit() {
    let peer: std::net::SocketAddr = ([127, 0, 0, 1], 5).into();
    info!(%peer, method = %"GET", path = %"/github/acme/hello/", status = 200u16, ms = 3u64, "request");
    info!(
        n = -7i64,
        big = u64::MAX,
        yes = true,
        no = false,
        ratio = 0.5f64,
        "numbers"
    );
    info!(
        word = "plain",
        quote = "say \"hi\"",
        slash = "a\\b",
        tab = "a\tb",
        "strings"
    );
    info!(
        unicode = "grüße",
        esc = "\u{1b}[31mred",
        empty = "",
        "more strings"
    );
    info!(r#type = "raw name", "raw");
    info!(message = "a bare message string");
    info!(message = "bare with \u{1b}[31m escape");
    info!("formatted {} and {:?}", 42, "q");
    info!("a message with \u{1b}[2J a clear-screen and \u{85} a C1 code");
    info!("only a message");
    info!(
        err = &Failing as &(dyn std::error::Error + 'static),
        "an error"
    );
    info!(list = ?vec![1, 2], opt = ?Some("x"), "debug values");
    info!(status = 404u16);
    info_span!("wake", attempt = 2, who = "alice").in_scope(|| info!(k = 1u64, "inside"));
}

fn written<F>(fields: F) -> String
where
    F: for<'w> FormatFields<'w> + Send + Sync + 'static,
{
    let buf = Buffer::default();
    let out = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || out.clone())
        .with_ansi(false)
        .without_time()
        .fmt_fields(fields)
        .finish();
    tracing::subscriber::with_default(subscriber, emit);
    buf.text()
}

#[test]
fn every_kind_of_field_is_written_as_the_default_formatter_writes_it() {
    let ours = written(PlainFields);
    let theirs = written(DefaultFields::new());
    assert_eq!(ours.lines().count(), 14, "{ours}");
    for (a, b) in ours.lines().zip(theirs.lines()) {
        assert_eq!(a, b);
    }
    assert_eq!(ours, theirs);
    assert!(ours
        .contains("request peer=127.0.0.1:5 method=GET path=/github/acme/hello/ status=200 ms=3"));
}

#[test]
fn control_codes_in_messages_are_escaped_not_written() {
    let ours = written(PlainFields);
    assert!(
        ours.contains("a message with \\x1b[2J a clear-screen and \\u{85} a C1 code"),
        "{ours}"
    );
    assert!(ours.contains("bare with \\x1b[31m escape"), "{ours}");
    // Other fields are `Debug`, which escapes them itself.
    assert!(ours.contains("esc=\"\\u{1b}[31mred\""), "{ours}");
    assert!(!ours.contains('\u{1b}'), "{ours:?}");
}

/// A value whose `Debug` logs: tracing drops the inner event (its dispatcher does not
/// re-enter a subscriber), and the outer line is written as the default writes it.
#[test]
fn a_message_formatted_while_another_is_still_written() {
    struct Nested;
    impl std::fmt::Debug for Nested {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            info!("inner");
            f.write_str("outer")
        }
    }
    let run = |plain: bool| {
        let buf = Buffer::default();
        let out = buf.clone();
        let builder = tracing_subscriber::fmt()
            .with_writer(move || out.clone())
            .with_ansi(false)
            .without_time();
        let subscriber: Box<dyn tracing::Subscriber + Send + Sync> = if plain {
            Box::new(builder.fmt_fields(PlainFields).finish())
        } else {
            Box::new(builder.finish())
        };
        tracing::subscriber::with_default(subscriber, || info!("{:?}", Nested));
        buf.text()
    };
    let ours = run(true);
    assert!(ours.ends_with("outer\n"), "{ours}");
    assert_eq!(ours, run(false));
}
