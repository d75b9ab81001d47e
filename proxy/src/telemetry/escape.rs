//! The one escaping of text log lines: every field value (the message included) and
//! the access line written directly ([`super::access`]) go through [`write_escaped`],
//! so no value can end a line (a forged line in a shared log) or drive the terminal
//! that shows it (escape codes). Values may quote what a workspace's launcher, a git
//! server or Knative said, which their users control.
//!
//! Escaped are the control characters (`char::is_control`: C0 with line feed,
//! carriage return and tab, DEL, C1): `\n`, `\r`, `\t`, C1 codes as `\u{85}` and
//! the others as `\x1b`, the spellings tracing-subscriber uses for the codes it
//! escapes in messages. JSON lines are escaped by serde, but for DEL and C1 codes,
//! which it writes as they are ([`json_controls`]).

use std::fmt::{self, Write as _};

/// Whether `text` holds nothing [`write_escaped`] would change (bytes first: printable
/// ASCII is the common case).
pub fn is_plain(text: &str) -> bool {
    text.bytes().all(|b| (b' '..=b'~').contains(&b)) || !text.chars().any(char::is_control)
}

/// Writes `text` to `out` with its control characters escaped (see the module docs).
pub fn write_escaped<W: fmt::Write + ?Sized>(out: &mut W, text: &str) -> fmt::Result {
    if text.bytes().all(|b| (b' '..=b'~').contains(&b)) {
        return out.write_str(text);
    }
    let mut start = 0;
    for (at, c) in text.char_indices() {
        if c.is_control() {
            out.write_str(&text[start..at])?;
            match c {
                '\n' => out.write_str("\\n")?,
                '\r' => out.write_str("\\r")?,
                '\t' => out.write_str("\\t")?,
                '\u{80}'..='\u{9f}' => write!(out, "\\u{{{:x}}}", u32::from(c))?,
                _ => write!(out, "\\x{:02x}", u32::from(c))?,
            }
            start = at + c.len_utf8();
        }
    }
    out.write_str(&text[start..])
}

/// A writer escaping everything written through it into the writer it holds: for
/// values that are formatted (`Display`, `Debug`), escaped as they are written.
pub struct Escaping<'a, W: ?Sized>(pub &'a mut W);

impl<W: fmt::Write + ?Sized> fmt::Write for Escaping<'_, W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        write_escaped(self.0, s)
    }
}

/// `line` (a JSON object) with the control characters serde leaves as they are (DEL,
/// C1) written as JSON escapes (`\u007f`): they occur only inside its strings.
pub fn json_controls(line: &str) -> std::borrow::Cow<'_, str> {
    // DEL is 0x7f; a C1 code is 0xc2 then 0x80..=0x9f in UTF-8.
    if !line.bytes().any(|b| b == 0x7f || b == 0xc2) {
        return line.into();
    }
    let mut out = String::with_capacity(line.len() + 12);
    for c in line.chars() {
        if c == '\x7f' || ('\u{80}'..='\u{9f}').contains(&c) {
            // Writing into a `String` cannot fail.
            let _ = write!(out, "\\u{:04x}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    out.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn escaped(text: &str) -> String {
        let mut out = String::new();
        write_escaped(&mut out, text).expect("a String takes it");
        out
    }

    #[test]
    fn every_control_character_is_escaped_and_nothing_else() {
        assert_eq!(escaped("plain: é ü \"q\" \\"), "plain: é ü \"q\" \\");
        assert_eq!(
            escaped("a\nb\rc\td\u{1b}[2J\u{7}\u{0}\u{7f}\u{85}\u{9b}e"),
            "a\\nb\\rc\\td\\x1b[2J\\x07\\x00\\x7f\\u{85}\\u{9b}e"
        );
        for c in (0..=0x3000u32).filter_map(char::from_u32) {
            let text = c.to_string();
            assert_eq!(is_plain(&text), !c.is_control(), "{c:?}");
            assert!(!escaped(&text).chars().any(char::is_control), "{c:?}");
        }
        let mut through = String::new();
        let text = "x\ny";
        write!(Escaping(&mut through), "{text}|{text:?}").expect("written");
        assert_eq!(through, "x\\ny|\"x\\ny\"");
    }

    #[test]
    fn json_lines_get_del_and_c1_codes_as_escapes() {
        let line = r#"{"fields":{"message":"a"#.to_owned() + "\u{7f}\u{9b}2J é\"}}";
        let fixed = json_controls(&line);
        let value: serde_json::Value = serde_json::from_str(&fixed).expect("still JSON");
        assert_eq!(value["fields"]["message"], "a\u{7f}\u{9b}2J é");
        assert!(!fixed.chars().any(char::is_control), "{fixed:?}");
        assert!(matches!(
            json_controls("{\"a\":\"é\"}"),
            std::borrow::Cow::Borrowed(_)
        ));
    }
}
