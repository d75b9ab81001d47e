//! [`PlainFields`]: the fields of a text line as tracing-subscriber's default field
//! formatter writes them (with its colours when the line has them), but for one
//! thing: every value is escaped ([`super::escape`]). The default formatter escapes
//! only some control codes and only in messages; a `%` (`Display`) field it writes as
//! it is, so a value holding a line break (a launcher's failure message, which the
//! workspace's user can write) forged a line of its own.
//!
//! Cheaply written too: the access log writes one line per request, so its fields
//! cost on every request; the default formatter goes through its (empty) colour
//! styles and `core::fmt` for every field, numbers included.
//!
//! - Integers and booleans are written directly; a string that needs no escaping is
//!   copied (quoted, as `Debug` quotes it, except the message, which is written bare).
//! - Everything else is formatted straight through the escaping writer.

use std::fmt::{self, Write as _};

use tracing::field::{Field, Visit};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::FormatFields;

use super::escape::{write_escaped, Escaping};

/// The default field format, every value escaped (see the module docs).
#[derive(Debug, Default, Clone, Copy)]
pub struct PlainFields;

impl<'w> FormatFields<'w> for PlainFields {
    fn format_fields<R: RecordFields>(&self, writer: Writer<'w>, fields: R) -> fmt::Result {
        let ansi = writer.has_ansi_escapes();
        let mut visitor = Plain {
            writer,
            ansi,
            is_empty: true,
            result: Ok(()),
        };
        fields.record(&mut visitor);
        visitor.result
    }
}

/// The default formatter's styles of a field's name and of its `=`.
const ITALIC: &str = "\x1b[3m";
const DIMMED: &str = "\x1b[2m";
const RESET: &str = "\x1b[0m";

struct Plain<'w> {
    writer: Writer<'w>,
    ansi: bool,
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
            self.italic(name.strip_prefix("r#").unwrap_or(name))?;
            self.equals()?;
        }
        Ok(())
    }

    fn italic(&mut self, text: &str) -> fmt::Result {
        let (on, off) = if self.ansi { (ITALIC, RESET) } else { ("", "") };
        super::lines::put(&mut self.writer, &[on, text, off])
    }

    fn equals(&mut self) -> fmt::Result {
        let (on, off) = if self.ansi { (DIMMED, RESET) } else { ("", "") };
        super::lines::put(&mut self.writer, &[on, "=", off])
    }

    /// `field`'s head, then what `value` writes, unless a field before failed.
    fn field(&mut self, field: &Field, value: impl FnOnce(&mut Self) -> fmt::Result) {
        if self.result.is_ok() {
            self.result = self.head(field).and_then(|()| value(self));
        }
    }

    fn integer(&mut self, field: &Field, value: impl itoa::Integer) {
        self.field(field, |me| {
            me.writer.write_str(itoa::Buffer::new().format(value))
        });
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
        self.field(field, |me| {
            me.writer.write_str(if value { "true" } else { "false" })
        });
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            return self.field(field, |me| write_escaped(&mut me.writer, value));
        }
        let plain = value
            .bytes()
            .all(|b| (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\');
        self.field(field, |me| {
            if plain {
                me.writer.write_char('"')?;
                me.writer.write_str(value)?;
                me.writer.write_char('"')
            } else {
                // `Debug` quotes and escapes it; escaped again, nothing is left to do.
                write!(Escaping(&mut me.writer), "{value:?}")
            }
        });
    }

    /// The error, then (if it has any) its sources as
    /// `<name>.sources=[<source>, …]`, as the default formatter writes them.
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.field(field, |me| {
            write!(Escaping(&mut me.writer), "{value}")?;
            let Some(first) = value.source() else {
                return Ok(());
            };
            me.writer.write_char(' ')?;
            me.italic(field.name())?;
            me.italic(".sources")?;
            me.equals()?;
            me.writer.write_char('[')?;
            let mut source = Some(first);
            let mut sep = "";
            while let Some(error) = source {
                me.writer.write_str(sep)?;
                write!(Escaping(&mut me.writer), "{error}")?;
                sep = ", ";
                source = error.source();
            }
            me.writer.write_char(']')
        });
    }

    /// `Debug` values, `%` (`Display`) ones and the formatted message: written
    /// through the escaping writer (a `Display` value is not escaped by itself).
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.field(field, |me| write!(Escaping(&mut me.writer), "{value:?}"));
    }
}

#[cfg(test)]
mod tests;
