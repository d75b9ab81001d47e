//! The time at the start of a text log line, as tracing-subscriber's `SystemTime`
//! writes it (RFC 3339 in UTC, microseconds: `2026-12-01T05:47:38.970647Z`), with
//! the date and time of day formatted once a second per thread instead of through
//! `core::fmt` on every line (~2,400 instructions of each proxied request's access
//! log line).

use std::cell::RefCell;
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Writes the time now as the module docs say (the start of every text line:
/// [`super::lines::head`]).
pub(crate) fn write_now(w: &mut impl fmt::Write) -> fmt::Result {
    write_time(SystemTime::now(), &mut |part| w.write_str(part))
}

thread_local! {
    /// The last second formatted on this thread, and its text up to the seconds
    /// followed by the last line's fraction (replaced for each line, so the time is
    /// handed on in one piece).
    static SECOND: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
}

/// `2026-12-01T05:47:38`: the bytes of the time up to the seconds.
const UP_TO_SECONDS: usize = 19;

/// Writes `now` as the module docs say.
fn write_time(now: SystemTime, out: &mut dyn FnMut(&str) -> fmt::Result) -> fmt::Result {
    let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let (secs, micros) = (since.as_secs(), since.subsec_micros());
    // Six digits, zeros first: those of 1xxxxxx after its leading 1.
    let mut digits = itoa::Buffer::new();
    let micros = digits.format(1_000_000 + micros);
    SECOND.with_borrow_mut(|(second, text)| {
        if *second != secs {
            let whole = UNIX_EPOCH + Duration::from_secs(secs);
            *text = humantime::format_rfc3339_seconds(whole).to_string();
            *second = secs;
        }
        // Up to the seconds (humantime writes years 0000–9999 only: 19 bytes).
        text.truncate(UP_TO_SECONDS);
        text.push('.');
        text.push_str(&micros[1..]);
        text.push('Z');
        out(text)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(t: SystemTime) -> String {
        let mut s = String::new();
        write_time(t, &mut |part| {
            s.push_str(part);
            Ok(())
        })
        .expect("write");
        s
    }

    #[test]
    fn lines_are_timed_as_rfc3339_with_microseconds() {
        // Across second, day, month and leap-year boundaries, and back in time.
        let mut times = vec![UNIX_EPOCH, SystemTime::now()];
        for base in [951_782_399u64, 1_709_251_199, 1_764_547_199, 4_102_444_799] {
            for offset_us in [0u64, 1, 999_999, 1_000_000, 1_000_001, 86_400_000_000] {
                times.push(
                    UNIX_EPOCH + Duration::from_secs(base) + Duration::from_micros(offset_us),
                );
            }
        }
        times.push(UNIX_EPOCH + Duration::from_secs(1_764_547_199));
        for t in times {
            assert_eq!(
                text(t),
                humantime::format_rfc3339_micros(t).to_string(),
                "{t:?}"
            );
        }
    }

    #[test]
    fn the_clock_writes_what_tracing_subscribers_does() {
        // Both read the clock: compare the shapes (every digit as `9`).
        use tracing_subscriber::fmt::format::Writer;
        use tracing_subscriber::fmt::time::FormatTime;
        let mut ours = String::new();
        write_now(&mut ours).expect("ours");
        let mut theirs = String::new();
        tracing_subscriber::fmt::time::SystemTime
            .format_time(&mut Writer::new(&mut theirs))
            .expect("theirs");
        let shape = |s: &str| -> String {
            s.chars()
                .map(|c| if c.is_ascii_digit() { '9' } else { c })
                .collect()
        };
        assert_eq!(shape(&ours), shape(&theirs), "{ours} {theirs}");
        assert_eq!(shape(&ours), "9999-99-99T99:99:99.999999Z");
    }
}
