//! Both line formats with and without a request being served: the id where the
//! request's span used to be, other spans as before, colours only on a terminal,
//! one JSON object per line.

use tracing::info;

use crate::telemetry::test_buffer::Buffer;

use super::super::{subscriber, with_request_id, LogFormat};

/// The lines written in `format` while serving the request `r-1` and after it.
async fn lines(format: LogFormat, ansi: bool) -> Vec<String> {
    let buf = Buffer::default();
    let out = buf.clone();
    let _default =
        tracing::subscriber::set_default(subscriber("info", format, ansi, move || out.clone()));
    with_request_id("r-1".into(), async {
        info!(workspace = "alice:acme/hello", "served");
        tracing::info_span!("wake", attempt = 2).in_scope(|| info!("inside"));
    })
    .await;
    info!(ms = 3u64, "after");
    buf.text().lines().map(str::to_owned).collect()
}

#[tokio::test]
async fn text_lines_carry_the_request_id_where_the_span_was() {
    let lines = lines(LogFormat::Text, false).await;
    assert_eq!(lines.len(), 3, "{lines:#?}");
    let rest = |line: &str| line.split_once(' ').expect("a timestamp").1.to_owned();
    assert!(lines[0].starts_with("20"), "{}", lines[0]);
    assert_eq!(
        rest(&lines[0]),
        " INFO request{id=r-1}: dcs_proxy::telemetry::lines::tests: served workspace=\"alice:acme/hello\""
    );
    assert_eq!(
        rest(&lines[1]),
        " INFO request{id=r-1}:wake{attempt=2}: dcs_proxy::telemetry::lines::tests: inside"
    );
    assert_eq!(
        rest(&lines[2]),
        " INFO dcs_proxy::telemetry::lines::tests: after ms=3"
    );
    assert!(!lines.concat().contains('\u{1b}'));
}

#[tokio::test]
async fn on_a_terminal_text_lines_have_colours_and_the_same_words() {
    let lines = lines(LogFormat::Text, true).await;
    assert!(
        lines[0].contains("\u{1b}[32m INFO\u{1b}[0m"),
        "{:?}",
        lines[0]
    );
    let plain: String = {
        let mut out = String::new();
        let mut chars = lines[0].chars();
        while let Some(c) = chars.next() {
            if c == '\u{1b}' {
                for c in chars.by_ref() {
                    if c == 'm' {
                        break;
                    }
                }
            } else {
                out.push(c);
            }
        }
        out
    };
    assert!(
        plain.ends_with(" INFO request{id=r-1}: dcs_proxy::telemetry::lines::tests: served workspace=\"alice:acme/hello\""),
        "{plain:?}"
    );
}

#[tokio::test]
async fn json_lines_carry_the_request_id_first_and_stay_json() {
    let lines = lines(LogFormat::Json, true).await;
    assert_eq!(lines.len(), 3, "{lines:#?}");
    let parsed: Vec<serde_json::Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert!(
        lines[0].starts_with("{\"request_id\":\"r-1\","),
        "{}",
        lines[0]
    );
    assert_eq!(parsed[0]["fields"]["message"], "served");
    assert_eq!(parsed[0]["fields"]["workspace"], "alice:acme/hello");
    assert_eq!(parsed[1]["request_id"], "r-1");
    assert_eq!(parsed[1]["span"]["name"], "wake");
    assert_eq!(parsed[2].get("request_id"), None);
    assert_eq!(parsed[2]["fields"]["ms"], 3);
    assert_eq!(parsed[2]["level"], "INFO");
    assert!(!lines.concat().contains('\u{1b}'));
}

#[tokio::test]
async fn text_lines_carry_no_colour_codes_unless_on_a_terminal() {
    let plain = lines(LogFormat::Text, false).await.concat();
    assert!(plain.contains("workspace=\"alice:acme/hello\""), "{plain}");
    assert!(!plain.contains('\u{1b}'), "{plain:?}");
    assert!(lines(LogFormat::Text, true)
        .await
        .concat()
        .contains('\u{1b}'));
}

/// A `%` value holding control characters: serde escapes the C0 ones, DEL and C1
/// codes are escaped after it; the line stays one JSON object with the same value.
#[test]
fn json_lines_hold_no_raw_control_characters() {
    let buf = Buffer::default();
    let out = buf.clone();
    let value = "a\nb\u{1b}[2J\u{7f}\u{9b}2J";
    let subscriber = subscriber("info", LogFormat::Json, false, move || out.clone());
    tracing::subscriber::with_default(subscriber, || info!(cause = %value, "x"));
    let text = buf.text();
    assert_eq!(text.lines().count(), 1, "{text:?}");
    assert!(!text.trim_end().chars().any(char::is_control), "{text:?}");
    let parsed: serde_json::Value = serde_json::from_str(&text).expect("one JSON object");
    assert_eq!(parsed["fields"]["cause"], value);
}
