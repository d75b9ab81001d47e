//! Port previews, as both sides of the hop read them: the `/ports/<n>/…` path
//! grammar (the proxy must classify a request exactly as the launcher will route it),
//! the `Via` mark a launcher puts on every request it sends to a preview (so a request
//! that comes back to the proxy or to a launcher through a preview is recognised and
//! refused), and the header by which the proxy says that a preview is served at the
//! root of a host of its own (subdomain mode).

use http::header::{HeaderMap, HeaderName, HeaderValue, VIA};

/// Where the previews live in a workspace: `/ports/<n>/…`.
pub const PREFIX: &str = "/ports";

/// The pseudonym of a preview hop in `Via` (RFC 9110 §7.6.3).
pub const VIA_PSEUDONYM: &str = "dcs-preview";

/// Set by the proxy on a request for a preview served on a host of its own: the app
/// is at that host's root, so it gets no `X-Forwarded-Prefix`. The proxy removes any
/// copy a client sent; the launcher removes it before the request reaches the app.
pub const ROOT_HEADER: HeaderName = HeaderName::from_static("x-dcs-preview-root");

/// What a path under [`PREFIX`] asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `/ports/<n>` without the slash: redirect to `<n>/` (relative URLs need it).
    AddSlash(u16),
    /// Forward to port `.0` with path and query `.1` (starting with `/`).
    Forward(u16, String),
}

impl Target {
    /// The port asked for.
    pub fn port(&self) -> u16 {
        match self {
            Self::AddSlash(port) | Self::Forward(port, _) => *port,
        }
    }
}

/// A preview path whose port is not a number from 1 to 65535.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a preview is /ports/<port>/ with a port from 1 to 65535")]
pub struct BadPort;

/// The part of `path` after [`PREFIX`] when the launcher routes `path` to a preview
/// (`/ports/…`; not `/ports` alone, not `/portsx`). `path` has no query.
pub fn rest_of(path: &str) -> Option<&str> {
    path.strip_prefix(PREFIX)
        .filter(|rest| rest.starts_with('/'))
}

/// Parses `rest`, the path after [`PREFIX`] (`/<n>` or `/<n>/…`), and the query.
/// The port is 1 to 5 ASCII digits, 1–65535.
pub fn parse(rest: &str, query: Option<&str>) -> Result<Target, BadPort> {
    let rest = rest.strip_prefix('/').ok_or(BadPort)?;
    let (port, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let digits = !port.is_empty() && port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit());
    let port: u16 = port
        .parse()
        .ok()
        .filter(|p| digits && *p != 0)
        .ok_or(BadPort)?;
    if path.is_empty() {
        return Ok(Target::AddSlash(port));
    }
    let query = query.map(|q| format!("?{q}")).unwrap_or_default();
    Ok(Target::Forward(port, format!("{path}{query}")))
}

/// The preview a request target (`path[?query]`, as forwarded to a launcher) asks
/// for: `None` when the launcher would not route it to a preview at all.
pub fn of_target(target: &str) -> Option<Result<Target, BadPort>> {
    let (path, query) = crate::query::split_target(target);
    rest_of(path).map(|rest| parse(rest, query))
}

/// Adds this hop to `Via`, keeping what is there.
pub fn mark(headers: &mut HeaderMap) {
    headers.append(VIA, HeaderValue::from_static("1.1 dcs-preview"));
}

/// Whether the request already passed a preview hop: it reached the proxy or a
/// launcher through a workspace's `/ports/<n>/`, which must never happen.
pub fn looped(headers: &HeaderMap) -> bool {
    headers
        .get_all(VIA)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|hop| hop.split_whitespace().nth(1))
        .any(|pseudonym| pseudonym.eq_ignore_ascii_case(VIA_PSEUDONYM))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preview_paths_parse_and_bad_ports_are_refused() {
        assert_eq!(parse("/3000", None), Ok(Target::AddSlash(3000)));
        assert_eq!(
            parse("/3000/", Some("a=1")),
            Ok(Target::Forward(3000, "/?a=1".into()))
        );
        assert_eq!(
            parse("/65535/x/y", None),
            Ok(Target::Forward(65535, "/x/y".into()))
        );
        assert_eq!(parse("/00080/", None).map(|t| t.port()), Ok(80));
        for bad in [
            "/0/", "/65536/", "/abc/", "/-1/", "//", "/", "/+80/", "/123456/", "x/1/", "/%38%30/",
        ] {
            assert_eq!(parse(bad, None), Err(BadPort), "{bad}");
        }
    }

    #[test]
    fn only_what_the_launcher_routes_to_a_preview_is_one() {
        assert_eq!(
            of_target("/ports/9998/a?b=1"),
            Some(Ok(Target::Forward(9998, "/a?b=1".into())))
        );
        assert_eq!(of_target("/ports/9998"), Some(Ok(Target::AddSlash(9998))));
        assert_eq!(of_target("/ports/x/"), Some(Err(BadPort)));
        for not_a_preview in [
            "/ports",
            "/portsx/1/",
            "//ports/1/",
            "/a/ports/1/",
            "/?/ports/1/",
        ] {
            assert_eq!(of_target(not_a_preview), None, "{not_a_preview}");
        }
    }

    #[test]
    fn a_marked_request_is_recognised_whatever_else_via_holds() {
        let mut h = HeaderMap::new();
        assert!(!looped(&h));
        h.append(
            VIA,
            HeaderValue::from_static("1.1 ingress, 1.0 fred (comment)"),
        );
        assert!(!looped(&h));
        mark(&mut h);
        assert!(looped(&h));
        assert_eq!(h.get_all(VIA).iter().count(), 2, "kept what was there");
        let mut h = HeaderMap::new();
        h.insert(VIA, HeaderValue::from_static("HTTP/1.1 DCS-Preview"));
        assert!(looped(&h));
        h.insert(
            VIA,
            HeaderValue::from_static("1.1 dcs-previewx, dcs-preview"),
        );
        assert!(!looped(&h), "a pseudonym is the second word of a hop");
    }
}
