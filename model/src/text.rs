//! Rules for someone else's text shown to a person: which characters would make it
//! read differently from what it is ([`is_deceptive`]), and the one-line form of such
//! text for a notice or a progress page ([`one_line`]: white space shown as one,
//! deceptive characters made visible, bounded). Terminals (the CLI) and logs write
//! such characters their own escaped way; which characters count is decided here.

/// Whether `c` is a Unicode bidirectional formatting character (the Arabic letter
/// mark, left-to-right and right-to-left marks, embeddings, overrides, isolates):
/// invisible, yet it reorders what follows, so `abc\u{202e}fed` shows as `abcdef`
/// ("Trojan Source").
pub fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
    )
}

/// Whether `c` must not reach a person as it is: a control character (C0, DEL, C1)
/// or a bidirectional formatting character.
pub fn is_deceptive(c: char) -> bool {
    c.is_control() || is_bidi_control(c)
}

/// `text` as one line of at most `max` characters for a notice or a log: a run of
/// white space (of any kind, and characters that show as blank) becomes one space, or
/// `⏎` if it holds a line break; other control characters and bidirectional-text
/// controls (which could make the text read differently than it runs) `�`; a longer
/// text is cut with `…` (counted in `max`).
pub fn one_line(text: &str, max: usize) -> String {
    one_line_cut(text, max).0
}

/// [`one_line`], and whether the text was cut.
pub fn one_line_cut(text: &str, max: usize) -> (String, bool) {
    let mut line = Line::new(max);
    line.push(text);
    line.finish()
}

/// A line being written for [`one_line`], from pieces; it stops taking text once
/// cut, so a long text costs no more than its shown part (and its blanks).
pub struct Line {
    out: String,
    chars: usize,
    max: usize,
    /// White space seen since the last character written: none, a space, a break.
    gap: Option<char>,
    cut: bool,
}

impl Line {
    /// An empty line of at most `max` characters.
    pub fn new(max: usize) -> Self {
        Self {
            out: String::new(),
            chars: 0,
            max,
            gap: None,
            cut: false,
        }
    }

    /// Appends `text` (nothing once cut).
    pub fn push(&mut self, text: &str) {
        for c in text.chars() {
            if self.cut {
                return;
            }
            if c == '\n' || c == '\r' {
                self.gap = Some('⏎');
            } else if is_blank(c) {
                self.gap.get_or_insert(' ');
            } else {
                self.flush_gap();
                self.put(if is_deceptive(c) { '\u{FFFD}' } else { c });
            }
        }
    }

    /// Whether the line is cut (more text is not taken).
    pub fn is_cut(&self) -> bool {
        self.cut
    }

    /// The line and whether it was cut (trailing white space that does not fit is
    /// left out, not cut).
    pub fn finish(mut self) -> (String, bool) {
        if self.chars < self.max {
            self.flush_gap();
        }
        (self.out, self.cut)
    }

    fn flush_gap(&mut self) {
        if let Some(gap) = self.gap.take() {
            self.put(gap);
        }
    }

    fn put(&mut self, c: char) {
        if self.cut {
            return;
        }
        if self.chars < self.max {
            self.out.push(c);
            self.chars += 1;
        } else {
            self.cut = true;
            self.out.pop();
            self.out.push('…');
        }
    }
}

/// Whether `c` shows as blank: Unicode white space, or a character drawn empty
/// (zero width space, word joiner, Braille blank, Hangul fillers, ...).
fn is_blank(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '\u{180E}'
                | '\u{200B}'
                | '\u{2060}'
                | '\u{FEFF}'
                | '\u{2800}'
                | '\u{3164}'
                | '\u{115F}'
                | '\u{1160}'
                | '\u{FFA0}'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_shows_blanks_as_one_makes_deceptive_characters_visible_and_cuts() {
        assert_eq!(one_line("a\u{202E}b\nc", 10), "a\u{FFFD}b⏎c");
        assert_eq!(one_line("abcdef", 4), "abc…");
        assert_eq!(one_line_cut("abcd", 4), ("abcd".to_owned(), false));
        assert_eq!(
            one_line("npm ci \t\u{200B}   && curl", 40),
            "npm ci && curl"
        );
        assert_eq!(one_line("x\u{1b}[2J", 10), "x\u{FFFD}[2J");
    }

    #[test]
    fn bidi_formatting_and_controls_are_caught_and_text_is_not() {
        for c in [
            '\u{061C}', '\u{200E}', '\u{200F}', '\u{202A}', '\u{202E}', '\u{2066}', '\u{2069}',
        ] {
            assert!(is_bidi_control(c) && is_deceptive(c), "{:x}", u32::from(c));
        }
        for c in ['\u{1b}', '\u{7f}', '\u{85}', '\n'] {
            assert!(is_deceptive(c) && !is_bidi_control(c), "{:x}", u32::from(c));
        }
        for c in [
            'a', 'é', 'ש', 'ع', '\u{200D}', '\u{2065}', '\u{202F}', '\u{a0}',
        ] {
            assert!(!is_deceptive(c), "{:x}", u32::from(c));
        }
    }
}
