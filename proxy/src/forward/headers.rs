//! Header rewriting, in one place: hop-by-hop headers removed both ways, identity
//! headers from the client removed and set from the verified [`Identity`], a
//! request's `Set-Cookie` removed, `X-Forwarded-*` set for the workspace, and
//! `X-Request-Id` set to the proxy's own id for the request.
//!
//! **The request id** a workspace gets is the one the proxy's access line, error
//! pages and `X-Request-Id` answer carry ([`crate::telemetry::request_id`]: a
//! `--trusted-proxies` peer's own, else a fresh one), never one a client planted:
//! the launcher names it on its error pages and log lines, so either side's line is
//! one search away from the other's.
//!
//! **Credentials stop here** ([`Credentials`]): `Authorization`, the auth layer's
//! cookies (Authentik's `authentik_proxy_*` and `authentik_session`, plus any
//! `--strip-cookie`), the instance cookie and the preview cookie are removed from
//! every request forwarded to a workspace (IDE, files and previews alike), and a
//! workspace's `Set-Cookie` for one of those names never reaches the browser. Every
//! other `Set-Cookie` is kept to the host that answered (no `Domain`), and a
//! sandboxed preview's to its own path.

use std::borrow::Cow;
use std::cell::RefCell;
use std::net::{IpAddr, SocketAddr};
use std::thread::LocalKey;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};

use dcs_net::cookies::{self, NamePattern};
use dcs_net::hop;

use crate::auth::Identity;
use crate::kept::{kept, Last};
use crate::telemetry::REQUEST_ID_HEADER;

// Header names as constants: a `&str` name is parsed again at every use, a cost of
// every proxied request.
const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
use dcs_net::names::X_FORWARDED_PROTO;
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
const X_FORWARDED_PREFIX: HeaderName = HeaderName::from_static("x-forwarded-prefix");
const X_FORWARDED_USER: HeaderName = HeaderName::from_static("x-forwarded-user");
const X_FORWARDED_EMAIL: HeaderName = HeaderName::from_static("x-forwarded-email");
const X_FORWARDED_GROUPS: HeaderName = HeaderName::from_static("x-forwarded-groups");

/// Identity headers only the proxy may set.
const IDENTITY: [HeaderName; 4] = [
    X_FORWARDED_USER,
    X_FORWARDED_EMAIL,
    X_FORWARDED_GROUPS,
    X_FORWARDED_PREFIX,
];

/// The credentials that never cross to a workspace: `Authorization` (always) and the
/// cookies named by its patterns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    cookies: Vec<NamePattern>,
}

impl Default for Credentials {
    /// The cookies always stripped: Authentik's outpost session (`authentik_proxy_*`)
    /// and core session (`authentik_session`), the instance cookie and the preview
    /// cookie.
    fn default() -> Self {
        let prefix = format!("{}*", crate::auth::headers::SESSION_COOKIE_PREFIX);
        let cookies = [
            prefix.as_str(),
            crate::auth::headers::AUTHENTIK_SESSION_COOKIE,
            crate::api::cookie::COOKIE_NAME,
            crate::preview::COOKIE_NAME,
        ]
        .iter()
        .filter_map(|p| NamePattern::parse(p).ok())
        .collect();
        Self { cookies }
    }
}

impl Credentials {
    /// Strips cookies matching `pattern` as well.
    pub fn add_cookie(&mut self, pattern: NamePattern) {
        if !self.cookies.contains(&pattern) {
            self.cookies.push(pattern);
        }
    }

    /// Whether the cookie `name` is a credential that stops at the edge.
    pub fn strips_cookie(&self, name: &str) -> bool {
        self.cookies.iter().any(|p| p.matches(name))
    }

    /// The patterns, for `--check-config` and logs.
    pub fn cookie_patterns(&self) -> impl Iterator<Item = &NamePattern> {
        self.cookies.iter()
    }

    /// Removes `Authorization` and the credential cookies from a request, keeping
    /// every other cookie (the IDE and apps set their own) in one `Cookie` header.
    pub fn strip_request(&self, headers: &mut HeaderMap) {
        headers.remove(header::AUTHORIZATION);
        cookies::retain(headers, |name| !self.strips_cookie(name));
    }

    /// Drops a response's `Set-Cookie` for a credential name (an app must not set or
    /// overwrite one on the proxy's origin) and confines the others to the host that
    /// answered and, given `path`, to that path.
    pub fn confine_response(&self, headers: &mut HeaderMap, path: Option<&str>) {
        if !headers.contains_key(header::SET_COOKIE) {
            return;
        }
        let kept: Vec<HeaderValue> = headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter(|v| !self.strips_cookie(cookies::set_cookie_name(v)))
            .filter_map(|v| HeaderValue::from_str(&cookies::confine(v, path)).ok())
            .collect();
        headers.remove(header::SET_COOKIE);
        for value in kept {
            headers.append(header::SET_COOKIE, value);
        }
    }
}

/// What the request rewrite needs to know.
#[derive(Debug)]
pub struct RequestContext<'a> {
    /// The client's address.
    pub peer: SocketAddr,
    /// The stripped path prefix.
    pub prefix: &'a str,
    /// Who is asking.
    pub identity: &'a Identity,
    /// `Host` to send instead of the client's, if the upstream needs its own.
    pub host: Option<&'a str>,
    /// The upstream's `host:port`, used when the client sent no `Host`.
    pub authority: &'a str,
    /// The upgrade protocol, for upgrade requests.
    pub upgrade: Option<&'a HeaderValue>,
    /// What never crosses to the workspace.
    pub credentials: &'a Credentials,
    /// A preview served at the root of a host of its own (subdomain mode).
    pub preview_root: bool,
}

/// Rewrites a request's headers for the workspace; run under the request's id
/// ([`crate::telemetry::with_request_id`]), it sends that id as `X-Request-Id`.
pub fn rewrite_request(headers: &mut HeaderMap, ctx: &RequestContext<'_>) {
    hop::strip(headers, ctx.upgrade);
    let seen = Seen::of(headers);
    for name in seen.doomed {
        headers.remove(name);
    }
    if ctx.preview_root {
        headers.insert(dcs_net::preview::ROOT_HEADER, HeaderValue::from_static("1"));
    }
    ctx.credentials.strip_request(headers);

    let original_host = headers.get(header::HOST).cloned();
    if let Some(host) = ctx.host.and_then(|h| HeaderValue::from_str(h).ok()) {
        headers.insert(header::HOST, host);
    } else if original_host.is_none() {
        if let Ok(v) = HeaderValue::from_str(ctx.authority) {
            headers.insert(header::HOST, v);
        }
    }

    let prior = match seen.forwarded_for {
        true => headers.get(&X_FORWARDED_FOR).and_then(|v| v.to_str().ok()),
        false => None,
    };
    match prior {
        Some(prior) => {
            let xff = format!("{prior}, {}", dcs_net::addr::ip_text(ctx.peer.ip()));
            set(headers, X_FORWARDED_FOR, &xff);
        }
        None => {
            headers.insert(X_FORWARDED_FOR, peer_value(ctx.peer.ip()));
        }
    }
    if !seen.forwarded_proto {
        headers.insert(X_FORWARDED_PROTO, HeaderValue::from_static("http"));
    }
    if let (false, Some(host)) = (seen.forwarded_host, original_host) {
        headers.insert(X_FORWARDED_HOST, host);
    }
    put(
        headers,
        X_FORWARDED_PREFIX,
        kept_value(&LAST_PREFIX, ctx.prefix),
    );
    let user = kept_value(&LAST_USER, &ctx.identity.username);
    put(headers, X_FORWARDED_USER, user);
    if let Some(email) = &ctx.identity.email {
        put(headers, X_FORWARDED_EMAIL, kept_value(&LAST_EMAIL, email));
    }
    if !ctx.identity.groups.is_empty() {
        set(headers, X_FORWARDED_GROUPS, &ctx.identity.groups.join("|"));
    }
    // The proxy's id for this request, replacing a client's (the one kept from a
    // trusted proxy is this id): its one allocation is the value's.
    let id = crate::telemetry::with_current_request_id(|id| HeaderValue::from_str(id).ok());
    match id.flatten() {
        Some(id) => {
            headers.insert(REQUEST_ID_HEADER, id);
        }
        None if seen.request_id => {
            headers.remove(REQUEST_ID_HEADER);
        }
        None => {}
    }
}

/// What the request rewrite looks for among the names of a request's headers,
/// found in one pass: the names it removes, and whether the client sent
/// `X-Forwarded-*` or `X-Request-Id` of its own. Every name concerned but
/// `Set-Cookie` begins with `x-` and a browser's seldom do, so most are passed over
/// after two bytes (and a comparison with a standard name), and none of these
/// headers is looked up by name (a hash each, on every request, for headers that
/// are nearly always absent).
///
/// `Set-Cookie` is a response header, never a valid request header, yet one arrives
/// when an ingress copies its auth answer's headers onto the request (ingress-nginx
/// `auth-response-headers: Set-Cookie,…`, as Authentik's examples have it): the
/// outpost's session cookie. A workspace's code must never see it.
#[derive(Default)]
struct Seen {
    doomed: Vec<HeaderName>,
    forwarded_for: bool,
    forwarded_proto: bool,
    forwarded_host: bool,
    request_id: bool,
}

impl Seen {
    fn of(headers: &HeaderMap) -> Self {
        let mut seen = Self::default();
        for name in headers.keys() {
            if !name.as_str().starts_with("x-") {
                if *name == header::SET_COOKIE {
                    seen.doomed.push(header::SET_COOKIE);
                }
            } else if name.as_str().starts_with("x-authentik-")
                || IDENTITY.contains(name)
                || *name == dcs_net::preview::ROOT_HEADER
            {
                seen.doomed.push(name.clone());
            } else if *name == X_FORWARDED_FOR {
                seen.forwarded_for = true;
            } else if *name == X_FORWARDED_PROTO {
                seen.forwarded_proto = true;
            } else if *name == X_FORWARDED_HOST {
                seen.forwarded_host = true;
            } else if *name == REQUEST_ID_HEADER {
                seen.request_id = true;
            }
        }
        seen
    }
}

/// A text and the header value made of it (`None`: not a valid value).
type Kept = Last<String, Option<HeaderValue>>;

thread_local! {
    /// This thread's last `X-Forwarded-Prefix`, `-User` and `-Email` values.
    static LAST_PREFIX: Kept = const { RefCell::new(None) };
    static LAST_USER: Kept = const { RefCell::new(None) };
    static LAST_EMAIL: Kept = const { RefCell::new(None) };
    /// This thread's last peer and its `X-Forwarded-For` value.
    static LAST_PEER: Last<IpAddr, HeaderValue> = const { RefCell::new(None) };
}

/// `HeaderValue::from_str(text).ok()`, with this thread's last `text` for that
/// header kept in `last` ([`kept`]).
fn kept_value(last: &'static LocalKey<Kept>, text: &str) -> Option<HeaderValue> {
    kept(last, text, |text| HeaderValue::from_str(text).ok())
}

/// `ip` as a header value, kept.
fn peer_value(ip: IpAddr) -> HeaderValue {
    kept(&LAST_PEER, &ip, |ip| {
        HeaderValue::from_str(&dcs_net::addr::ip_text(*ip))
            .unwrap_or_else(|_| unreachable!("an address's text is a valid header value"))
    })
}

/// Rewrites a response's headers for the client: hop-by-hop removed (kept for a
/// `101`), `Clear-Site-Data` removed (a workspace's code, or an app it previews,
/// must not clear the site's cookies and storage: the sign-in of every user
/// session on the domain, the IDE's state), and a `Location` put back under
/// `prefix` ([`under_prefix`]).
///
/// `host` is the request's own `Host` (the one the workspace saw).
pub fn rewrite_response(
    headers: &mut HeaderMap,
    prefix: &str,
    host: Option<&str>,
    switching: bool,
) {
    let upgrade = if switching {
        headers.get(header::UPGRADE).cloned()
    } else {
        None
    };
    hop::strip(headers, upgrade.as_ref());
    // One pass over the few names an answer has: almost never there.
    if headers.keys().any(|name| name == CLEAR_SITE_DATA) {
        headers.remove(CLEAR_SITE_DATA);
    }
    let moved = headers
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|loc| under_prefix(loc, prefix, host));
    if let Some(loc) = moved {
        set(headers, header::LOCATION, &loc);
    }
}

/// Where a workspace's `Location` `loc` sends the browser instead, `None` to leave it:
/// a root-relative one (`/login`), or an absolute one on the request's own `host`
/// (`http://<host>/login`, as apps that build URLs from `Host` or a configured base
/// URL write them, nginx's `proxy_redirect default`), goes under `prefix` unless it
/// is there already. Relative, protocol-relative (`//…`) and other hosts' locations
/// are left as they are.
pub fn under_prefix(loc: &str, prefix: &str, host: Option<&str>) -> Option<String> {
    let path = match loc.as_bytes().first() {
        Some(b'/') => Cow::Borrowed(loc),
        _ => on_host(loc, host?)?,
    };
    let inside = path
        .strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(['/', '?', '#']));
    if path.starts_with("//") || inside {
        return None;
    }
    Some(format!("{prefix}{path}"))
}

/// The root-relative path of `loc` if it is an absolute `http(s)` URL on `host`
/// (its scheme's default port written or not, names compared without case).
fn on_host<'a>(loc: &'a str, host: &str) -> Option<Cow<'a, str>> {
    let (rest, default_port) = strip_scheme(loc)?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    let bare = |a: &'a str| a.strip_suffix(default_port).unwrap_or(a);
    if !bare(authority).eq_ignore_ascii_case(host.strip_suffix(default_port).unwrap_or(host)) {
        return None;
    }
    Some(match path.starts_with('/') {
        true => Cow::Borrowed(path),
        false => Cow::Owned(format!("/{path}")),
    })
}

/// `loc` after `http://` or `https://` (any case), and that scheme's default port.
fn strip_scheme(loc: &str) -> Option<(&str, &'static str)> {
    for (scheme, port) in [("http://", ":80"), ("https://", ":443")] {
        let head = loc.get(..scheme.len())?;
        if head.eq_ignore_ascii_case(scheme) {
            return Some((loc.get(scheme.len()..)?, port));
        }
    }
    None
}

/// The header that tells a browser to clear the site's data.
const CLEAR_SITE_DATA: &str = "clear-site-data";

/// Sets `name` to `value`, or removes it when `value` is no valid header value.
fn set(headers: &mut HeaderMap, name: HeaderName, value: &str) {
    put(headers, name, HeaderValue::from_str(value).ok());
}

/// Sets `name` to `value`; `None` (no valid value) removes it.
fn put(headers: &mut HeaderMap, name: HeaderName, value: Option<HeaderValue>) {
    match value {
        Some(value) => {
            headers.insert(name, value);
        }
        None => {
            headers.remove(name);
        }
    }
}

#[cfg(test)]
mod tests;
