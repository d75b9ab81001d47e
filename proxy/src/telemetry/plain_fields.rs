//! [`PlainFields`]: the fields of a text line exactly as tracing-subscriber's default
//! field formatter writes them without colours, written more cheaply. The access log
//! writes one line per request, so its fields cost on every request: the default
//! formatter goes through its (empty) colour styles and `core::fmt` for every field,
//! numbers included.
//!
//! - Integers and booleans are written directly; a string that needs no escaping is
//!   copied (quoted, as `Debug` quotes it, except the message, which is written bare);
//!   the message (formatted once into a scratch buffer) is copied only when it holds
//!   none of the control characters the default formatter escapes (terminal
//!   injection: a message may quote a git server's answer).
//! - Everything else (other values, strings that need escaping, errors) is written by
//!   the default formatter's own visitor, so the text is the same in every case.

use std::fmt::{self, Write as _};

use tracing::field::{Field, Visit};
use tracing_subscriber::field::{RecordFields, VisitOutput};
use tracing_subscriber::fmt::format::{DefaultVisitor, Writer};
use tracing_subscriber::fmt::FormatFields;

/// The default field format without colours, with fast paths (see the module docs).
#[derive(Debug, Default, Clone, Copy)]
pub struct PlainFields;

impl<'w> FormatFields<'w> for PlainFields {
    fn format_fields<R: RecordFields>(&self, writer: Writer<'w>, fields: R) -> fmt::Result {
        let mut visitor = Plain {
            writer,
            is_empty: true,
            result: Ok(()),
        };
        fields.record(&mut visitor);
        visitor.result
    }
}

struct Plain<'w> {
    writer: Writer<'w>,
    is_empty: bool,
    result: fmt::Result,
}

impl Plain<'_> {
    /// The separator, then `name=` (nothing for the message), as the default
    /// formatter writes them.
    fn head(&mut self, field: &Field) -> fmt::Result {
        if !std::mem::take(&mut self.is_empty) {
            self.writer.write_char(' ')?;
        }
        let name = field.name();
        if name != "message" {
            self.writer
                .write_str(name.strip_prefix("r#").unwrap_or(name))?;
            self.writer.write_char('=')?;
        }
        Ok(())
    }

    fn integer(&mut self, field: &Field, value: impl itoa::Integer) {
        if self.result.is_ok() {
            self.result = self
                .head(field)
                .and_then(|()| self.writer.write_str(itoa::Buffer::new().format(value)));
        }
    }

    /// The default formatter's own visitor, for one field.
    fn fallback(&mut self, record: impl FnOnce(&mut DefaultVisitor<'_>)) {
        if self.result.is_ok() {
            let mut visitor = DefaultVisitor::new(self.writer.by_ref(), self.is_empty);
            record(&mut visitor);
            self.is_empty = false;
            self.result = visitor.finish();
        }
    }
}

impl Visit for Plain<'_> {
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.integer(field, value);
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.integer(field, value);
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        if self.result.is_ok() {
            self.result = self
                .head(field)
                .and_then(|()| self.writer.write_str(if value { "true" } else { "false" }));
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        let message = field.name() == "message";
        let plain = if message {
            !value.chars().any(escaped_in_messages)
        } else {
            value
                .bytes()
                .all(|b| (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\')
        };
        if !plain {
            return self.fallback(|v| v.record_str(field, value));
        }
        if self.result.is_ok() {
            self.result = self.head(field).and_then(|()| {
                if message {
                    self.writer.write_str(value)
                } else {
                    self.writer.write_char('"')?;
                    self.writer.write_str(value)?;
                    self.writer.write_char('"')
                }
            });
        }
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.fallback(|v| v.record_error(field, value));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            // Formatted once into a scratch buffer; copied when it needs no escaping,
            // else escaped (terminal injection) by the default visitor.
            // (A message formatted while another is, or at thread exit: no buffer.)
            let copied = SCRATCH.try_with(|cell| {
                let Ok(mut text) = cell.try_borrow_mut() else {
                    return false;
                };
                text.clear();
                if write!(text, "{value:?}").is_err() {
                    return false;
                }
                if text.chars().any(escaped_in_messages) {
                    let text = text.as_str();
                    self.fallback(|v| v.record_str(field, text));
                } else if self.result.is_ok() {
                    self.result = self.head(field).and_then(|()| self.writer.write_str(&text));
                }
                true
            });
            if !matches!(copied, Ok(true)) {
                self.fallback(|v| v.record_debug(field, value));
            }
            return;
        }
        if self.result.is_ok() {
            self.result = self
                .head(field)
                .and_then(|()| write!(self.writer, "{value:?}"));
        }
    }
}

thread_local! {
    /// A message's text, formatted before it is written (kept between lines).
    static SCRATCH: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// What the default formatter escapes in a message (ANSI and C1 control codes).
fn escaped_in_messages(c: char) -> bool {
    matches!(
        c,
        '\x1b' | '\x07' | '\x08' | '\x0c' | '\x7f' | '\u{80}'..='\u{9f}'
    )
}

#[cfg(test)]
mod tests;
