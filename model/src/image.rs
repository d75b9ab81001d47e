//! Container image references (`ubuntu:24.04`,
//! `mcr.microsoft.com/devcontainers/python:1-3.12`, `repo@sha256:…`), validated with
//! the grammar of the OCI distribution reference: optional registry host (with
//! port), lowercase path components separated by `/`, an optional tag
//! `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}` and an optional digest `algo:hex`.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A syntactically valid image reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ImageRef(String);

/// Why an image reference was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ImageError(String);

impl ImageRef {
    /// Longest accepted reference.
    pub const MAX_LEN: usize = 255;

    /// Validates a reference.
    pub fn parse(s: &str) -> Result<Self, ImageError> {
        let err = |why: &str| {
            ImageError(format!(
                "{} is not an image reference: {why}",
                crate::error::shown(s)
            ))
        };
        if s.is_empty() || s.len() > Self::MAX_LEN {
            return Err(err("expected 1 to 255 characters such as ubuntu:24.04"));
        }
        let (rest, digest) = match s.split_once('@') {
            Some((r, d)) => (r, Some(d)),
            None => (s, None),
        };
        if let Some(d) = digest {
            let (algo, hex) = d
                .split_once(':')
                .ok_or_else(|| err("a digest is algorithm:hex"))?;
            let algo_ok = !algo.is_empty()
                && algo
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+._-".contains(&b));
            let hex_ok = hex.len() >= 32
                && hex
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase());
            if !algo_ok || !hex_ok {
                return Err(err(
                    "the digest must look like sha256:<64 lowercase hex digits>",
                ));
            }
        }
        // A tag follows the last ':' that comes after the last '/'.
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
            None => (rest, None),
        };
        if let Some(tag) = tag {
            let b = tag.as_bytes();
            let ok = !b.is_empty()
                && b.len() <= 128
                && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
                && b.iter()
                    .all(|c| c.is_ascii_alphanumeric() || b"_.-".contains(c));
            if !ok {
                return Err(err(
                    "the tag may use letters, digits, '_', '.', '-' (at most 128)",
                ));
            }
        }
        let mut parts: Vec<&str> = name.split('/').collect();
        if parts.len() > 1 && is_domain(parts[0]) {
            parts.remove(0);
        }
        if parts.is_empty() || !parts.iter().all(|p| is_component(p)) {
            return Err(err("path components are lowercase letters and digits separated by '.', '_', '__' or '-'"));
        }
        Ok(Self(s.to_owned()))
    }

    /// The reference as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A registry host: has a '.', a ':' port, or is `localhost`; labels alphanumeric
/// with inner '-'.
fn is_domain(s: &str) -> bool {
    if !(s.contains('.') || s.contains(':') || s == "localhost") {
        return false;
    }
    let (host, port) = match s.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (s, None),
    };
    let port_ok =
        port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()));
    let label_ok = |l: &str| {
        let b = l.as_bytes();
        !b.is_empty()
            && b[0].is_ascii_alphanumeric()
            && b[b.len() - 1].is_ascii_alphanumeric()
            && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
    };
    port_ok && host.split('.').all(label_ok)
}

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`
fn is_component(s: &str) -> bool {
    let b = s.as_bytes();
    if b.is_empty() || !is_alnum(b[0]) || !is_alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if is_alnum(b[i]) {
            i += 1;
            continue;
        }
        let sep_start = i;
        while i < b.len() && !is_alnum(b[i]) {
            i += 1;
        }
        let sep = &s[sep_start..i];
        if !(sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|c| c == b'-')) {
            return false;
        }
    }
    true
}

fn is_alnum(c: u8) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for ImageRef {
    type Error = ImageError;
    fn try_from(s: String) -> Result<Self, ImageError> {
        Self::parse(&s)
    }
}

impl From<ImageRef> for String {
    fn from(i: ImageRef) -> String {
        i.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_real_references() {
        for s in [
            "ubuntu",
            "ubuntu:24.04",
            "alpine:3.19",
            "amazonlinux:2023",
            "debian:bookworm-slim",
            "mcr.microsoft.com/devcontainers/python:1-3.12",
            "ghcr.io/acme/tools/dev-image:v1.2.3",
            "localhost:5000/my_image__x:latest",
            "registry.example.com:443/a/b-c.d",
            "busybox@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "busybox:1.36@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        ] {
            ImageRef::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        }
    }

    #[test]
    fn refuses_malformed_references() {
        for s in [
            "",
            "Ubuntu",
            "ubuntu:",
            ":latest",
            "ubuntu:-x",
            "a//b",
            "/ubuntu",
            "ubuntu/",
            "ub untu",
            "ubuntu;rm -rf /",
            "ubuntu@sha256:xyz",
            "ubuntu@sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
            "a..b",
            "a_-b",
            "-a",
            "$(id)",
            "example.com:99999999/x",
        ] {
            let err = ImageRef::parse(s).expect_err(s);
            assert!(err.to_string().contains("not an image reference"), "{err}");
        }
        assert!(ImageRef::parse(&format!("a{}", "b".repeat(255))).is_err());
    }
}
