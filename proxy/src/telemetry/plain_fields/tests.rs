//! [`PlainFields`] writes what tracing-subscriber's default field formatter writes,
//! with and without colours, for every kind of value, but escapes control characters
//! in every value (a `%` field's and a message's line breaks included).

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
    written_in(fields, false, emit)
}

/// What `emit` logs through `fields`, with colours when `ansi`.
fn written_in<F>(fields: F, ansi: bool, emit: impl FnOnce()) -> String
where
    F: for<'w> FormatFields<'w> + Send + Sync + 'static,
{
    let buf = Buffer::default();
    let out = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || out.clone())
        .with_ansi(ansi)
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
    // A string field is `Debug`, which escapes it itself.
    assert!(ours.contains("esc=\"\\u{1b}[31mred\""), "{ours}");
    assert!(!ours.contains('\u{1b}'), "{ours:?}");
}

#[test]
fn with_colours_every_kind_of_field_is_written_as_the_default_formatter_writes_it() {
    let ours = written_in(PlainFields, true, emit);
    let theirs = written_in(DefaultFields::new(), true, emit);
    assert!(
        ours.contains("\u{1b}[3mstatus\u{1b}[0m\u{1b}[2m=\u{1b}[0m200"),
        "{ours:?}"
    );
    for (a, b) in ours.lines().zip(theirs.lines()) {
        assert_eq!(a, b);
    }
    assert_eq!(ours, theirs);
}

/// An error whose text and whose source's text hold a line break.
#[derive(Debug)]
struct Broken(Option<Box<Broken>>);

impl std::fmt::Display for Broken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "outer\nFAKE"
        } else {
            "inner\rFAKE"
        })
    }
}

impl std::error::Error for Broken {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.as_deref().map(|e| e as _)
    }
}

/// A value whose own `Debug` writes a line break and an escape code.
struct RawDebug;

impl std::fmt::Debug for RawDebug {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("raw\n\u{1b}[2J")
    }
}

/// Control characters in every kind of value a caller can hand over.
fn emit_forgeries() {
    info!(cause = %"a\nb\u{1b}[2J", "x");
    info!("message\nFAKE 2026-01-01T00:00:00Z ERROR forged \u{9b}2J");
    info!(message = "bare\r\nFAKE");
    info!(
        err = &Broken(Some(Box::new(Broken(None)))) as &(dyn std::error::Error + 'static),
        "e"
    );
    info!(dbg = ?RawDebug, tab = %"a\tb", del = %"\u{7f}", "d");
    info_span!("wake", why = %"span\nFAKE").in_scope(|| info!("inside"));
}

#[test]
fn control_characters_in_any_value_are_escaped_with_or_without_colours() {
    for ansi in [false, true] {
        let ours = written_in(PlainFields, ansi, emit_forgeries);
        assert_eq!(ours.lines().count(), 6, "one line each: {ours}");
        assert!(!ours.contains('\r') && !ours.contains('\u{9b}') && !ours.contains('\u{7f}'));
        // With colours the only ESC left are the styles' own.
        let unstyled = [
            "\u{1b}[0m",
            "\u{1b}[2m",
            "\u{1b}[3m",
            "\u{1b}[1m",
            "\u{1b}[32m",
        ]
        .iter()
        .fold(ours.clone(), |text, style| text.replace(style, ""));
        assert!(!unstyled.contains('\u{1b}'), "{ours:?}");
        for shown in [
            "a\\nb\\x1b[2J",
            "message\\nFAKE 2026-01-01T00:00:00Z ERROR forged \\u{9b}2J",
            "bare\\r\\nFAKE",
            "outer\\nFAKE",
            "inner\\rFAKE]",
            "raw\\n\\x1b[2J",
            "a\\tb",
            "\\x7f",
            "span\\nFAKE",
        ] {
            assert!(ours.contains(shown), "{ansi}: {shown} in {ours:?}");
        }
        if !ansi {
            assert!(ours.contains("x cause=a\\nb\\x1b[2J\n"), "{ours}");
        }
    }
}

/// The subscriber the proxy installs, in its text format: one line for a forged value.
#[test]
fn the_shipped_text_format_writes_a_forged_value_on_one_line() {
    for ansi in [false, true] {
        let buf = Buffer::default();
        let out = buf.clone();
        let subscriber = crate::telemetry::subscriber(
            "info",
            crate::telemetry::LogFormat::Text,
            ansi,
            move || out.clone(),
        );
        tracing::subscriber::with_default(subscriber, || info!(cause = %"a\nb\u{1b}[2J", "x"));
        let line = buf.text();
        assert_eq!(line.lines().count(), 1, "{line:?}");
        assert!(line.contains("a\\nb\\x1b[2J"), "{line:?}");
        if !ansi {
            assert!(!line.contains('\u{1b}'), "{line:?}");
        }
    }
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
