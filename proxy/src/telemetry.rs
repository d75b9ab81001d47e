//! Logging setup: structured `tracing` output to stderr, as text (colours only
//! when stderr is a terminal, so `kubectl logs` and files get plain lines) or as
//! one JSON object per line (`--log-format json`, for log collectors).

use std::io::IsTerminal;

use clap::ValueEnum;
use tracing::Subscriber;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

/// How log lines are written (`--log-format`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines; coloured only on a terminal.
    #[default]
    Text,
    /// One JSON object per line: `timestamp`, `level`, `target`, `fields`.
    Json,
}

/// The subscriber writing to `writer` with `filter` (falls back to `info` if
/// invalid) in `format`; `ansi` colours text lines.
pub fn subscriber<W>(
    filter: &str,
    format: LogFormat,
    ansi: bool,
    writer: W,
) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    match format {
        LogFormat::Text => Box::new(builder.with_ansi(ansi).finish()),
        LogFormat::Json => Box::new(builder.json().with_ansi(false).finish()),
    }
}

/// Installs the global subscriber: stderr, `filter`, `format`; colours only
/// when stderr is a terminal.
pub fn init(filter: &str, format: LogFormat) {
    let ansi = std::io::stderr().is_terminal();
    let _ =
        tracing::subscriber::set_global_default(subscriber(filter, format, ansi, std::io::stderr));
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("lock").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn logged(format: LogFormat, ansi: bool) -> String {
        let buf = Buffer::default();
        let out = buf.clone();
        let sub = subscriber("info", format, ansi, move || out.clone());
        tracing::subscriber::with_default(sub, || {
            tracing::info!(workspace = "alice:acme/hello", ms = 3u64, "request");
        });
        let bytes = buf.0.lock().expect("lock").clone();
        String::from_utf8(bytes).expect("utf8")
    }

    #[test]
    fn text_lines_carry_no_colour_codes_unless_on_a_terminal() {
        let plain = logged(LogFormat::Text, false);
        assert!(
            plain.contains("request") && plain.contains("workspace=\"alice:acme/hello\""),
            "{plain}"
        );
        assert!(!plain.contains('\u{1b}'), "{plain:?}");
        assert!(logged(LogFormat::Text, true).contains('\u{1b}'));
    }

    #[test]
    fn json_lines_are_one_object_each_with_the_fields() {
        let json = logged(LogFormat::Json, true);
        assert!(!json.contains('\u{1b}'), "{json:?}");
        let lines: Vec<&str> = json.lines().collect();
        assert_eq!(lines.len(), 1, "{json}");
        let v: serde_json::Value = serde_json::from_str(lines[0]).expect("JSON");
        assert_eq!(v["level"], "INFO");
        assert_eq!(v["fields"]["message"], "request");
        assert_eq!(v["fields"]["workspace"], "alice:acme/hello");
        assert_eq!(v["fields"]["ms"], 3);
    }
}
