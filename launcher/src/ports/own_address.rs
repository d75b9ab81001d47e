//! A preview app's redirects to its own address: `Location: http://localhost:<n>/…`
//! (or `127.0.0.1`, `[::1]`, `https`), as an app with a configured base URL writes it,
//! would send the browser to the person's own machine. The launcher, which alone knows
//! `<n>`, puts such a location back under the preview's prefix (the
//! `X-Forwarded-Prefix` the app was given); other locations are the proxy's business
//! (root-relative ones and those on the request's own host) or left as the app wrote
//! them (other hosts).

use std::borrow::Cow;

use http::header::{HeaderMap, HeaderValue, LOCATION};

/// The names of this machine's loopback an app may call itself by.
const LOOPBACK: [&str; 3] = ["localhost", "127.0.0.1", "[::1]"];

/// Rewrites a `Location` on the app's own address (`port` on loopback) to `prefix`
/// followed by its path.
pub fn relocate(headers: &mut HeaderMap, port: u16, prefix: &str) {
    let moved = headers
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|loc| own_path(loc, port))
        .and_then(|path| HeaderValue::from_str(&format!("{prefix}{path}")).ok());
    if let Some(moved) = moved {
        headers.insert(LOCATION, moved);
    }
}

/// The root-relative path of `loc` if it is an `http(s)` URL on loopback at `port`
/// (the scheme's default port may go unwritten); `None` for anything else, and for a
/// path that would read as another host (`//…`).
pub fn own_path(loc: &str, port: u16) -> Option<Cow<'_, str>> {
    let (rest, default_port) =
        [("http://", 80), ("https://", 443)]
            .into_iter()
            .find_map(|(scheme, default)| {
                let head = loc.get(..scheme.len())?;
                head.eq_ignore_ascii_case(scheme)
                    .then(|| loc.get(scheme.len()..))
                    .flatten()
                    .map(|rest| (rest, default))
            })?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    let (host, written) = match authority.rsplit_once(':') {
        Some((host, written)) if !written.ends_with(']') => (host, Some(written)),
        _ => (authority, None),
    };
    let at_port = match written {
        Some(written) => written.parse::<u16>().ok() == Some(port),
        None => default_port == port,
    };
    let loopback = LOOPBACK.iter().any(|name| host.eq_ignore_ascii_case(name));
    if !at_port || !loopback || path.starts_with("//") {
        return None;
    }
    Some(match path.starts_with('/') {
        true => Cow::Borrowed(path),
        false => Cow::Owned(format!("/{path}")),
    })
}
