//! Rules for someone else's text shown to a person: which characters would make it
//! read differently from what it is. Terminals (the CLI), notices and logs each write
//! such characters their own visible way; which characters count is decided here.

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

#[cfg(test)]
mod tests {
    use super::*;

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
