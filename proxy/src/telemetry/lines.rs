//! The log line formats, text and JSON, each carrying the id of the request being
//! served ([`super::current_request_id`]) without a span per request: a span is
//! created, entered and left on every poll of the request's future and formatted
//! for every line, which cost ~2.4 µs of each proxied request.
//!
//! - **Text**: tracing-subscriber's full format, with the id where the request's
//!   span used to be: `<time> <LEVEL> request{id=…}: <spans:> <target>: <fields>`.
//! - **JSON**: tracing-subscriber's JSON object with `"request_id"` first, and the
//!   DEL and C1 codes serde leaves in its strings escaped ([`super::escape`]).
//!
//! Ids are plain (`[A-Za-z0-9._:-]`, see [`super::request_id`]), so they need no
//! escaping in either.
//!
//! The text line's start ([`head`], [`target`]) is also what the access line
//! written without `tracing` begins with ([`super::access`]).

use std::fmt;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::{self, FormatEvent, FormatFields, Writer};
use tracing_subscriber::fmt::{FmtContext, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

const DIM: &str = "\x1b[2m";
const BOLD: &str = "\x1b[1m";
const RESET: &str = "\x1b[0m";

/// Text lines (see the module docs); colours only where the writer has them.
#[derive(Debug, Default)]
pub struct Text;

impl<S, N> FormatEvent<S, N> for Text
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let ansi = writer.has_ansi_escapes();
        let (dim, bold, reset) = styles(ansi);
        let mut spans = head(&mut writer, ansi, *event.metadata().level())?;
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                write!(writer, "{bold}{}{reset}", span.metadata().name())?;
                if let Some(fields) = span.extensions().get::<FormattedFields<N>>() {
                    if !fields.is_empty() {
                        write!(writer, "{bold}{{{reset}{fields}{bold}}}{reset}")?;
                    }
                }
                write!(writer, "{dim}:{reset}")?;
                spans = true;
            }
        }
        target(&mut writer, ansi, spans, event.metadata().target())?;
        ctx.format_fields(writer.by_ref(), event)?;
        writer.write_char('\n')
    }
}

/// The styles `(dim, bold, reset)` of a line, all empty without colours.
fn styles(ansi: bool) -> (&'static str, &'static str, &'static str) {
    if ansi {
        (DIM, BOLD, RESET)
    } else {
        ("", "", "")
    }
}

/// Writes `pieces` in order, skipping the empty ones (the styles without colours):
/// pieces one by one, not through `write!`, since every line pays for it.
pub(crate) fn put(writer: &mut impl fmt::Write, pieces: &[&str]) -> fmt::Result {
    pieces
        .iter()
        .filter(|piece| !piece.is_empty())
        .try_for_each(|piece| writer.write_str(piece))
}

/// The start every text line shares: `<time> <LEVEL> ` and, while a request is
/// served, `request{id=…}:`. Answers whether the id was written (then, as after
/// spans, a space comes before the target).
pub(crate) fn head(
    writer: &mut impl fmt::Write,
    ansi: bool,
    level: Level,
) -> Result<bool, fmt::Error> {
    let (dim, bold, reset) = styles(ansi);
    put(writer, &[dim])?;
    super::line_time::write_now(writer)?;
    let colour = if ansi { colour(level) } else { "" };
    put(writer, &[reset, " ", colour, padded(level), reset, " "])?;
    let id = super::with_current_request_id(|id| {
        put(
            writer,
            &[
                bold, "request{", reset, "id=", id, bold, "}", reset, dim, ":", reset,
            ],
        )
    });
    Ok(id.transpose()?.is_some())
}

/// The line's `target: ` after its [`head`] and spans (a space first if there were any).
pub(crate) fn target(
    writer: &mut impl fmt::Write,
    ansi: bool,
    spans: bool,
    target: &str,
) -> fmt::Result {
    let (dim, _, reset) = styles(ansi);
    if spans {
        writer.write_char(' ')?;
    }
    put(writer, &[dim, target, ":", reset, " "])
}

/// tracing-subscriber's level colours.
fn colour(level: Level) -> &'static str {
    match level {
        Level::TRACE => "\x1b[35m",
        Level::DEBUG => "\x1b[34m",
        Level::INFO => "\x1b[32m",
        Level::WARN => "\x1b[33m",
        Level::ERROR => "\x1b[31m",
    }
}

/// The level right-aligned in five columns, as `{level:>5}` writes it.
fn padded(level: Level) -> &'static str {
    match level {
        Level::TRACE => "TRACE",
        Level::DEBUG => "DEBUG",
        Level::INFO => " INFO",
        Level::WARN => " WARN",
        Level::ERROR => "ERROR",
    }
}

/// JSON lines (see the module docs).
#[derive(Debug)]
pub struct Json(format::Format<format::Json>);

impl Default for Json {
    fn default() -> Self {
        Self(format::format().json())
    }
}

impl<S, N> FormatEvent<S, N> for Json
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    format::Format<format::Json>: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut line = String::new();
        self.0.format_event(ctx, Writer::new(&mut line), event)?;
        let line = super::escape::json_controls(&line);
        match super::with_current_request_id(|id| format!("{{\"request_id\":\"{id}\",")) {
            Some(head) if line.starts_with('{') && line.len() > 2 => {
                writer.write_str(&head)?;
                writer.write_str(&line[1..])
            }
            _ => writer.write_str(&line),
        }
    }
}

#[cfg(test)]
mod tests;
