//! `Cookie` headers: every `name=value` pair a request carries, and keeping only the
//! cookies a hop may pass on (in one header, or none).

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

#[cfg(test)]
mod tests {
    use super::*;

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
