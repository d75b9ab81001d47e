//! The corpus of client traffic (`corpus/*.txt`): what a browser with VS Code sends
//! to the workspace, replayed through the classifier, the request rule and the clock.
//! Each file is a list of events:
//! - `at <ms>`: the time from now on (milliseconds after the start);
//! - `open [<n>]`: a new WebSocket connection (named `n` when several are open);
//! - `ws <hex>`: bytes the client sent on the last one opened, as one read (masked
//!   frames, possibly cut anywhere); `ws:<n> <hex>`: on connection `n`;
//! - `http <METHOD> <path> [upgrade|background]`: an HTTP request;
//! - `beacon <kind>`: the page script's `POST /_dcs/activity`.
//!
//! `keepalives.txt`, `typing.txt` and `reconnect.txt` are written from VS Code's
//! protocol (`ipc.net.ts`); `recorded-*.txt` are what code-server in Chromium sent
//! through the real proxy (`make record-corpus`).

use dcs_model::env::IdlePolicy;
use http::{HeaderMap, HeaderValue, Method};

use super::classify::{Classifier, Message, VsCode};
use super::{requests, Activity};

const START: u64 = 1_800_000_000_000;

/// What replaying a file gave: every message classified, and the clock.
struct Replay {
    messages: Vec<Message>,
    activity: std::sync::Arc<Activity>,
    end: u64,
}

fn replay(text: &str) -> Replay {
    let activity = Activity::new(IdlePolicy::default(), START);
    let mut now = START;
    let mut classifiers: std::collections::HashMap<String, Classifier> = Default::default();
    let mut last_opened = String::new();
    let mut messages = Vec::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (verb, rest) = line.split_once(' ').unwrap_or((line, ""));
        match verb {
            "at" => now = START + rest.parse::<u64>().expect("at <ms>"),
            "open" => {
                last_opened = rest.to_owned();
                classifiers.insert(last_opened.clone(), Classifier::default());
            }
            ws if ws == "ws" || ws.starts_with("ws:") => {
                let name = ws.strip_prefix("ws:").unwrap_or(&last_opened);
                let classifier = classifiers.get_mut(name).expect("ws on an open connection");
                let bytes = hex(rest);
                classifier.feed(&bytes, &mut |m| {
                    messages.push(m);
                    if m.counts() {
                        activity.input("websocket", now);
                    }
                });
            }
            "http" => {
                let mut words = rest.split(' ');
                let method: Method = words.next().expect("method").parse().expect("method");
                let path = words.next().expect("path");
                let path = path.split('?').next().unwrap_or(path);
                let mut headers = HeaderMap::new();
                match words.next() {
                    Some("upgrade") => {
                        headers.insert("connection", HeaderValue::from_static("Upgrade"));
                        headers.insert("upgrade", HeaderValue::from_static("websocket"));
                    }
                    Some("background") => {
                        headers.insert(
                            dcs_model::plumbing::BACKGROUND_HEADER,
                            HeaderValue::from_static("1"),
                        );
                    }
                    _ => {}
                }
                activity.request(requests::of(&method, path, &headers), now);
            }
            "beacon" => activity.input(rest, now),
            other => panic!("unknown corpus event {other:?}"),
        }
    }
    Replay {
        messages,
        activity,
        end: now,
    }
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn count(messages: &[Message], m: Message) -> usize {
    messages.iter().filter(|x| **x == m).count()
}

#[test]
fn an_untouched_vscode_tab_sends_nothing_that_counts() {
    let r = replay(include_str!("corpus/keepalives.txt"));
    assert_eq!(count(&r.messages, Message::VsCode(VsCode::Control)), 2);
    assert!(count(&r.messages, Message::VsCode(VsCode::KeepAlive)) >= 20);
    assert!(count(&r.messages, Message::VsCode(VsCode::Ack)) >= 5);
    assert!(count(&r.messages, Message::Control) >= 1, "pings");
    assert!(!r.messages.iter().any(|m| m.counts()), "{:?}", r.messages);
    let report = r.activity.report(r.end, None);
    assert_eq!(report.last_input, None, "{report:?}");
    assert_eq!(
        report.stop_at,
        Some(START / 1000 + IdlePolicy::default().idle_timeout_secs),
        "the clock runs from the start as if the tab were closed"
    );
}

#[test]
fn typing_counts_through_the_page_beacons_only() {
    let r = replay(include_str!("corpus/typing.txt"));
    assert!(count(&r.messages, Message::VsCode(VsCode::Regular)) >= 30);
    assert!(count(&r.messages, Message::VsCode(VsCode::KeepAlive)) >= 12);
    assert!(
        !r.messages.iter().any(|m| m.counts()),
        "VS Code's own messages never count: {:?}",
        r.messages
    );
    let report = r.activity.report(r.end, None);
    let last = report.last_input.expect("the beacons are input");
    assert_eq!(last.kind, "key");
    assert!(last.at > START / 1000 + 60, "{last:?}");
}

/// When the recorded workbench had loaded (ms after the start of the recording).
fn loaded_at(text: &str) -> u64 {
    let mut at = 0;
    for line in text.lines() {
        if let Some(ms) = line.strip_prefix("at ") {
            at = ms.parse().expect("at <ms>");
        }
        if line.starts_with("# loaded") {
            return at;
        }
    }
    panic!("no `# loaded` marker")
}

/// The page script sends a burst's last input when its throttle period ends.
const BEACON_THROTTLE_S: u64 = 30;

#[test]
fn a_recorded_untouched_vscode_tab_brings_no_input_once_loaded() {
    let text = include_str!("corpus/recorded-vscode-idle.txt");
    let r = replay(text);
    assert!(
        !r.messages.iter().any(|m| m.counts()),
        "VS Code's own messages never count"
    );
    assert!(count(&r.messages, Message::VsCode(VsCode::KeepAlive)) >= 20);
    assert!(count(&r.messages, Message::VsCode(VsCode::Control)) >= 2);
    let loaded = (START + loaded_at(text)) / 1000;
    let end = r.end / 1000;
    assert!(end >= loaded + 120, "two minutes recorded after the load");
    let report = r.activity.report(r.end, None);
    let last = report.last_input.expect("opening it was input");
    // The clicks that opened the file, sent when their throttle period ended; the
    // IDE's own requests for what was opened (grammars, themes) come with the load.
    assert!(
        last.at <= loaded + BEACON_THROTTLE_S + 1,
        "input {}s after the load of an untouched tab: {last:?}",
        last.at.saturating_sub(loaded)
    );
}

#[test]
fn recorded_typing_counts_through_the_page_beacons_only() {
    let text = include_str!("corpus/recorded-vscode-typing.txt");
    let r = replay(text);
    assert!(
        !r.messages.iter().any(|m| m.counts()),
        "edits travel as VS Code's own messages, which never count"
    );
    assert!(count(&r.messages, Message::VsCode(VsCode::Regular)) >= 30);
    let beacons = text.lines().filter(|l| *l == "beacon key").count();
    assert!(beacons >= 1, "typing sent key beacons");
    let loaded = (START + loaded_at(text)) / 1000;
    let report = r.activity.report(r.end, None);
    let last = report.last_input.expect("the beacons are input");
    assert_eq!(last.kind, "key");
    assert!(last.at >= loaded + BEACON_THROTTLE_S - 1, "{last:?}");
}

#[test]
fn a_reconnect_loop_is_no_input() {
    let r = replay(include_str!("corpus/reconnect.txt"));
    assert_eq!(count(&r.messages, Message::VsCode(VsCode::Control)), 20);
    assert_eq!(
        count(&r.messages, Message::VsCode(VsCode::ReplayRequest)),
        10
    );
    assert_eq!(count(&r.messages, Message::Control), 10, "close frames");
    let report = r.activity.report(r.end, None);
    assert_eq!(report.last_input, None, "{report:?}");
}

#[test]
fn another_protocols_messages_count_and_compressed_ones_do_not() {
    // A previewed app's socket: masked text frames of its own protocol.
    let mut c = Classifier::default();
    let mut seen = Vec::new();
    let mask = [1u8, 2, 3, 4];
    let text: Vec<u8> = b"{\"chat\":\"hi\"}"
        .iter()
        .enumerate()
        .map(|(i, b)| b ^ mask[i % 4])
        .collect();
    let mut frame = vec![0x81, 0x80 | u8::try_from(text.len()).expect("small")];
    frame.extend_from_slice(&mask);
    frame.extend_from_slice(&text);
    c.feed(&frame, &mut |m| seen.push(m));
    c.feed(&frame, &mut |m| seen.push(m));
    assert_eq!(seen, vec![Message::Other, Message::Other]);
    assert!(seen.iter().all(|m| m.counts()));

    // permessage-deflate (RSV1): unreadable, never counted.
    let mut c = Classifier::default();
    let mut seen = Vec::new();
    c.feed(&[0xc2, 0x83, 0, 0, 0, 0, 1, 2, 3], &mut |m| seen.push(m));
    assert_eq!(seen, vec![Message::Unreadable]);

    // A 64-bit length frame carrying a VS Code Regular message, unmasked.
    let mut c = Classifier::default();
    let mut seen = Vec::new();
    let mut frame = vec![0x82, 127];
    frame.extend_from_slice(&(13u64 + 70_000).to_be_bytes());
    frame.push(1);
    frame.extend_from_slice(&[0, 0, 0, 7, 0, 0, 0, 3]);
    frame.extend_from_slice(&70_000u32.to_be_bytes());
    frame.extend(std::iter::repeat_n(b'x', 70_000));
    for piece in frame.chunks(999) {
        c.feed(piece, &mut |m| seen.push(m));
    }
    c.feed(
        &[0x82, 13, 9, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0],
        &mut |m| seen.push(m),
    );
    assert_eq!(
        seen,
        vec![
            Message::VsCode(VsCode::Regular),
            Message::VsCode(VsCode::KeepAlive)
        ]
    );
}

#[test]
fn how_the_stream_is_cut_changes_nothing() {
    for text in [
        include_str!("corpus/keepalives.txt"),
        include_str!("corpus/typing.txt"),
    ] {
        let bytes: Vec<u8> = text
            .lines()
            .filter_map(|l| l.strip_prefix("ws "))
            .flat_map(hex)
            .collect();
        let mut whole = Vec::new();
        Classifier::default().feed(&bytes, &mut |m| whole.push(m));
        let mut cut = Vec::new();
        let mut c = Classifier::default();
        for (i, piece) in bytes.chunks(7).enumerate() {
            let (a, b) = piece.split_at(i % piece.len().max(1));
            c.feed(a, &mut |m| cut.push(m));
            c.feed(b, &mut |m| cut.push(m));
        }
        assert_eq!(whole, cut);
        assert!(whole.len() > 20);
    }
}
