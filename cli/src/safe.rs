//! Text from the server made safe for a terminal. Instance names, labels, error
//! messages and the idle report's work details (a workspace process's name, which
//! the workspace's own code chooses) are someone else's text: printed raw, an escape
//! sequence in them would drive the reader's terminal (retitle it, rewrite what is on
//! the screen, on some terminals worse), and a bidirectional formatting character
//! would make it read differently from what it is (`abc\u{202e}fed` shows as `abcdef`).
//! [`escape`] is the one rule: every such character ([`dcs_model::text::is_deceptive`]:
//! C0, DEL, C1, the bidi marks, embeddings, overrides and isolates) is written as
//! `\u{1b}`-style text instead.

use std::borrow::Cow;
use std::fmt::Write;

use dcs_model::text::is_deceptive;

/// `text` with every control character (U+0000–U+001F, U+007F, U+0080–U+009F: line
/// breaks and tabs too, as a field is one line) and every bidirectional formatting
/// character written as `\u{…}`.
pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_deceptive) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_deceptive(c) {
            // Writing to a String cannot fail.
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Several lines (separated by `\n`, which is kept) each made safe by [`escape`].
pub fn escape_lines(text: &str) -> Cow<'_, str> {
    if !text.chars().any(|c| is_deceptive(c) && c != '\n') {
        return Cow::Borrowed(text);
    }
    Cow::Owned(text.split('\n').map(escape).collect::<Vec<_>>().join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_become_visible_text() {
        assert!(matches!(escape("plain é text"), Cow::Borrowed(_)));
        assert_eq!(escape("\u{1b}]0;x\u{7}"), "\\u{1b}]0;x\\u{7}");
        assert_eq!(escape("a\nb\tc\r"), "a\\u{a}b\\u{9}c\\u{d}");
        assert_eq!(
            escape("\u{7f}\u{80}\u{9b}31m\u{9f}"),
            "\\u{7f}\\u{80}\\u{9b}31m\\u{9f}"
        );
        assert_eq!(escape("\u{a0}ü"), "\u{a0}ü", "past C1 is printable");
        assert_eq!(
            escape("inst-1\u{202e}txt.exe\u{2066}"),
            "inst-1\\u{202e}txt.exe\\u{2066}",
            "bidi formatting reorders what follows"
        );
        assert_eq!(escape_lines("a\u{200f}\nb\n"), "a\\u{200f}\nb\n");
        assert!(
            matches!(escape("עברית عربي"), Cow::Borrowed(_)),
            "RTL letters are text"
        );
        assert_eq!(escape_lines("a\u{1b}[2J\nb\n"), "a\\u{1b}[2J\nb\n");
        assert!(matches!(escape_lines("a\nb\n"), Cow::Borrowed(_)));
    }
}
