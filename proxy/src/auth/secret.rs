//! Secrets (the JWT key, session cookies, tokens) held in a newtype whose `Debug`
//! never shows the value, so a stray `?config` in a log line cannot leak one.

use std::fmt;
use std::path::Path;

/// Bytes that must never be logged or shown.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// Wraps `bytes`.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Self(bytes.into())
    }

    /// Reads a secret from `path`, trimming surrounding whitespace (files written
    /// by `echo` end in a newline). An empty secret is an error.
    pub fn from_file(path: &Path) -> std::io::Result<Self> {
        let raw = std::fs::read(path)?;
        let trimmed = raw.trim_ascii();
        if trimmed.is_empty() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "the file is empty",
            ));
        }
        Ok(Self(trimmed.to_vec()))
    }

    /// The secret itself, for the one place that uses it.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?}"), "Secret(<redacted>)");
    }

    #[test]
    fn files_are_trimmed_and_empty_ones_refused() {
        let tmp = tempfile::tempdir().expect("tmp");
        let f = tmp.path().join("s");
        std::fs::write(&f, "  abc\n").expect("write");
        assert_eq!(Secret::from_file(&f).expect("read").expose(), b"abc");
        std::fs::write(&f, "\n").expect("write");
        assert!(Secret::from_file(&f).is_err());
        assert!(Secret::from_file(&tmp.path().join("missing")).is_err());
    }
}
