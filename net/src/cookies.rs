//! Cookies crossing a hop: every `name=value` pair a request carries, keeping only the
//! cookies a hop may pass on (in one header, or none), cookie name patterns
//! ([`NamePattern`]: `authentik_session`, `authentik_proxy_*`), and confining a
//! `Set-Cookie` an upstream sends to its own host and path ([`confine`]).

use http::header::{HeaderMap, HeaderValue, COOKIE};

/// Every `name=value` pair of the request's `Cookie` headers, trimmed.
pub fn pairs(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .map(str::trim)
        .filter(|p| !p.is_empty())
}

/// The name of a `name=value` pair.
pub fn name(pair: &str) -> &str {
    pair.split('=').next().unwrap_or("").trim()
}

/// Keeps the cookies whose name `keep` accepts, joined in one `Cookie` header; no
/// header is left if none remain. A `Cookie` header that is not text is dropped.
pub fn retain(headers: &mut HeaderMap, keep: impl Fn(&str) -> bool) {
    if !headers.contains_key(COOKIE) {
        return;
    }
    let kept: Vec<&str> = pairs(headers).filter(|p| keep(name(p))).collect();
    let joined = kept.join("; ");
    headers.remove(COOKIE);
    if let (false, Ok(v)) = (joined.is_empty(), HeaderValue::from_str(&joined)) {
        headers.insert(COOKIE, v);
    }
}

/// A cookie name, or every name starting with a prefix when written with a trailing
/// `*` (`authentik_proxy_*`). Compared ignoring ASCII case: stripping a cookie too
/// many is harmless, one too few is not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamePattern {
    stem: String,
    prefix: bool,
}

impl NamePattern {
    /// Parses `name` or `prefix*`. A cookie name is an RFC 6265 token (visible ASCII
    /// without separators); a lone `*` is refused (it would match every cookie).
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let (stem, prefix) = match text.strip_suffix('*') {
            Some(stem) => (stem, true),
            None => (text, false),
        };
        if stem.is_empty() {
            return Err(format!(
                "{text:?} names no cookie: give a name, or a prefix followed by '*'"
            ));
        }
        if let Some(bad) = stem.chars().find(|c| !is_token_char(*c)) {
            return Err(format!(
                "{text:?} is not a cookie name: {bad:?} is not allowed in one"
            ));
        }
        Ok(Self {
            stem: stem.to_owned(),
            prefix,
        })
    }

    /// Whether the cookie `name` matches.
    pub fn matches(&self, name: &str) -> bool {
        if self.prefix {
            name.len() >= self.stem.len()
                && name.is_char_boundary(self.stem.len())
                && name[..self.stem.len()].eq_ignore_ascii_case(&self.stem)
        } else {
            name.eq_ignore_ascii_case(&self.stem)
        }
    }
}

impl std::fmt::Display for NamePattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.stem)?;
        if self.prefix {
            f.write_str("*")?;
        }
        Ok(())
    }
}

/// RFC 6265 `cookie-name` = RFC 2616 `token`: visible ASCII but separators.
fn is_token_char(c: char) -> bool {
    c.is_ascii_graphic() && !"()<>@,;:\\\"/[]?={}".contains(c)
}

/// The name of the cookie a `Set-Cookie` value sets.
pub fn set_cookie_name(value: &str) -> &str {
    name(value.split(';').next().unwrap_or(""))
}

/// A `Set-Cookie` value confined to the host that answered (its `Domain` attribute
/// removed, so the browser keeps it host-only) and, when `path` is given (no trailing
/// `/`), to that path: a `Path` outside it becomes `<path>/`; an absent `Path` is kept
/// (the browser defaults it to the request's folder, which is inside).
pub fn confine(value: &str, path: Option<&str>) -> String {
    let mut parts = value.split(';');
    let mut out = parts.next().unwrap_or("").trim().to_owned();
    for attr in parts.map(str::trim).filter(|a| !a.is_empty()) {
        let (key, val) = attr.split_once('=').unwrap_or((attr, ""));
        let key = key.trim();
        if key.eq_ignore_ascii_case("domain") {
            continue;
        }
        if let (true, Some(base)) = (key.eq_ignore_ascii_case("path"), path) {
            let val = val.trim();
            if val != base && !val.starts_with(&format!("{base}/")) {
                out.push_str(&format!("; Path={base}/"));
                continue;
            }
        }
        out.push_str("; ");
        out.push_str(attr);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_names_or_prefixes_and_refuse_nonsense() {
        let exact = NamePattern::parse("authentik_session").expect("name");
        assert!(exact.matches("authentik_session") && exact.matches("Authentik_Session"));
        assert!(!exact.matches("authentik_sessionx") && !exact.matches("authentik"));
        let prefix = NamePattern::parse(" authentik_proxy_* ").expect("prefix");
        assert_eq!(prefix.to_string(), "authentik_proxy_*");
        assert!(prefix.matches("authentik_proxy_ab12") && prefix.matches("authentik_proxy_"));
        assert!(!prefix.matches("authentik_prox") && !prefix.matches("x_authentik_proxy_1"));
        assert!(!prefix.matches("é"), "no panic on a short multi-byte name");
        for bad in ["", "*", " * ", "a b", "a;b", "a=b*", "ä"] {
            assert!(NamePattern::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn set_cookie_values_are_confined_to_their_host_and_path() {
        let base = "/github/acme/hello/ports/9998";
        assert_eq!(set_cookie_name(" sid=1; Path=/"), "sid");
        assert_eq!(
            confine("sid=1; Path=/; Domain=example.com; HttpOnly", Some(base)),
            "sid=1; Path=/github/acme/hello/ports/9998/; HttpOnly"
        );
        assert_eq!(
            confine("sid=1; path=/github/acme/hello/ports/9998/app", Some(base)),
            "sid=1; path=/github/acme/hello/ports/9998/app"
        );
        assert_eq!(
            confine("sid=1; Path=/github/acme/hello/ports/99980", Some(base)),
            "sid=1; Path=/github/acme/hello/ports/9998/"
        );
        assert_eq!(confine("sid=1; Secure", Some(base)), "sid=1; Secure");
        assert_eq!(
            confine("sid=1; domain=.preview.example.com; Path=/", None),
            "sid=1; Path=/"
        );
    }

    #[test]
    fn kept_cookies_end_in_one_header_and_none_leave_no_header() {
        let mut h = HeaderMap::new();
        h.append(COOKIE, HeaderValue::from_static("a=1; secret=x;  b=2"));
        h.append(COOKIE, HeaderValue::from_static("secret2=y"));
        retain(&mut h, |n| !n.starts_with("secret"));
        assert_eq!(h.get_all(COOKIE).iter().count(), 1);
        assert_eq!(h[COOKIE], "a=1; b=2");
        retain(&mut h, |_| false);
        assert!(!h.contains_key(COOKIE));
    }
}
