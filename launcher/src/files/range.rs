//! Partial and conditional downloads (RFC 9110 §13, §14): a file's validators (a
//! strong `ETag` from its inode, size and modification time, and `Last-Modified`) and
//! what a `GET` or `HEAD` asks with `If-Unmodified-Since`, `If-None-Match`,
//! `If-Modified-Since`, `If-Range` and `Range`, decided into an [`Answer`].
//!
//! One range at a time (`bytes=a-b`, `bytes=a-`, `bytes=-n`), which is what resumed
//! downloads and media players ask for: a request for several ranges gets the whole
//! file (RFC 9110 allows it), as does a `Range` of another unit or one that cannot
//! be read. `If-Match` is not evaluated.
//!
//! The tag is strong (as nginx's, from the same facts): it changes whenever the
//! file's size, modification time (to the nanosecond) or inode does, so a
//! rewritten file gets the whole new content, not a splice. `If-Range` compares
//! strongly (RFC 9110 §13.1.5: a weak tag never passes); `If-None-Match` weakly.

use std::os::unix::fs::MetadataExt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::header::{
    HeaderMap, HeaderName, HeaderValue, IF_MODIFIED_SINCE, IF_NONE_MATCH, IF_RANGE,
    IF_UNMODIFIED_SINCE, RANGE,
};

/// What identifies one version of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validators {
    /// The strong entity tag, quoted: `"<inode>-<size>-<seconds>.<nanoseconds>"` (hex).
    pub etag: String,
    /// The modification time in whole seconds (what `Last-Modified` can say), when
    /// it is after 1970.
    pub modified: Option<SystemTime>,
}

impl Validators {
    /// The validators of the file `meta` describes.
    pub fn of(meta: &std::fs::Metadata) -> Self {
        let etag = format!(
            "\"{:x}-{:x}-{:x}.{:x}\"",
            meta.ino(),
            meta.len(),
            meta.mtime(),
            meta.mtime_nsec()
        );
        let modified = u64::try_from(meta.mtime())
            .ok()
            .map(|secs| UNIX_EPOCH + Duration::from_secs(secs));
        Self { etag, modified }
    }

    /// The `Last-Modified` value, when the modification time is known.
    pub fn last_modified(&self) -> Option<String> {
        self.modified.map(httpdate::fmt_http_date)
    }
}

/// The request headers that decide a download's answer.
#[derive(Debug, Clone, Default)]
pub struct Conditions {
    range: Option<HeaderValue>,
    if_range: Option<HeaderValue>,
    if_none_match: Vec<HeaderValue>,
    if_modified_since: Option<HeaderValue>,
    if_unmodified_since: Option<HeaderValue>,
}

impl Conditions {
    /// Takes them from a request's headers. A header that must have one value and
    /// was sent twice counts as absent (two `Range` lines: several ranges).
    pub fn of(headers: &HeaderMap) -> Self {
        let one = |name: HeaderName| {
            let mut all = headers.get_all(name).iter();
            match (all.next(), all.next()) {
                (Some(value), None) => Some(value.clone()),
                _ => None,
            }
        };
        Self {
            range: one(RANGE),
            if_range: one(IF_RANGE),
            if_none_match: headers.get_all(IF_NONE_MATCH).iter().cloned().collect(),
            if_modified_since: one(IF_MODIFIED_SINCE),
            if_unmodified_since: one(IF_UNMODIFIED_SINCE),
        }
    }
}

/// What a download answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// `200` with the whole file.
    Full,
    /// `206` with the bytes `start..=end`.
    Part {
        /// The first byte sent.
        start: u64,
        /// The last byte sent (inclusive).
        end: u64,
    },
    /// `304`: the client's copy is current.
    NotModified,
    /// `412`: the file changed after the client's `If-Unmodified-Since`.
    Changed,
    /// `416`: the range starts past the end of the file.
    Unsatisfiable,
}

/// The preconditions, decided before the file is read (RFC 9110 §13.2.2 order):
/// `Some` when they are the answer.
pub fn precondition(c: &Conditions, v: &Validators, now: SystemTime) -> Option<Answer> {
    if let (Some(since), Some(modified)) = (date(c.if_unmodified_since.as_ref()), v.modified) {
        if modified > since {
            return Some(Answer::Changed);
        }
    }
    if !c.if_none_match.is_empty() {
        let mut listed = c
            .if_none_match
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .map(str::trim);
        let current = listed.any(|tag| tag == "*" || same_tag(tag, &v.etag));
        return current.then_some(Answer::NotModified);
    }
    if let (Some(since), Some(modified)) = (date(c.if_modified_since.as_ref()), v.modified) {
        // A date in the future is no date the client got from us.
        if since <= now && modified <= since {
            return Some(Answer::NotModified);
        }
    }
    None
}

/// What part of a file of `len` bytes a `GET` whose preconditions passed gets.
pub fn span(c: &Conditions, v: &Validators, len: u64) -> Answer {
    let Some(range) = &c.range else {
        return Answer::Full;
    };
    if let Some(if_range) = &c.if_range {
        if !if_range_holds(if_range, v) {
            return Answer::Full;
        }
    }
    parse(range.as_bytes(), len).unwrap_or(Answer::Full)
}

/// Reads a `Range` value for a file of `len` bytes: [`Answer::Part`] or
/// [`Answer::Unsatisfiable`]; `None` when it is to be ignored (another unit, several
/// ranges, not a range at all).
pub fn parse(value: &[u8], len: u64) -> Option<Answer> {
    let text = std::str::from_utf8(value).ok()?;
    let (unit, set) = text.split_once('=')?;
    if !unit.trim().eq_ignore_ascii_case("bytes") || set.contains(',') {
        return None;
    }
    let (first, last) = set.trim().split_once('-')?;
    // Digits only (no sign, no space inside); more than a u64 holds is "very far".
    let number = |s: &str| {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<u64>().unwrap_or(u64::MAX))
    };
    if first.is_empty() {
        // `-n`: the last n bytes (the whole file if it is shorter).
        let n = number(last)?;
        if n == 0 || len == 0 {
            return Some(Answer::Unsatisfiable);
        }
        return Some(Answer::Part {
            start: len - n.min(len),
            end: len - 1,
        });
    }
    let start = number(first)?;
    let end = match last {
        "" => u64::MAX,
        last => number(last)?,
    };
    if end < start || start >= len {
        return Some(Answer::Unsatisfiable);
    }
    Some(Answer::Part {
        start,
        end: end.min(len - 1),
    })
}

/// Whether `If-Range` names the current version: our entity tag (see the module
/// comment) or exactly our `Last-Modified` date.
fn if_range_holds(value: &HeaderValue, v: &Validators) -> bool {
    let Ok(text) = value.to_str() else {
        return false;
    };
    let text = text.trim();
    if text.starts_with('"') {
        return text == v.etag;
    }
    if text.starts_with("W/") {
        return false;
    }
    date(Some(value)).is_some_and(|at| Some(at) == v.modified)
}

/// Weak comparison: the opaque tags are equal, whether marked weak or not.
fn same_tag(a: &str, b: &str) -> bool {
    fn opaque(tag: &str) -> &str {
        tag.strip_prefix("W/").unwrap_or(tag)
    }
    opaque(a) == opaque(b)
}

fn date(value: Option<&HeaderValue>) -> Option<SystemTime> {
    let text = value?.to_str().ok()?;
    httpdate::parse_http_date(text.trim()).ok()
}

#[cfg(test)]
mod tests;
