//! The edge's first phase: whether a request comes from this proxy's own site.
//! One pure function, [`decide`], reads the facts of a request ([`Ask`]) against
//! what the proxy counts as its own ([`Site`]) and returns a [`Verdict`]; the
//! server calls it once, before identity, policy, limits and routing (see the
//! phase list in [`crate::server`]).
//!
//! - **Host (DNS rebinding).** Under `--auth none` whoever reaches the port *is*
//!   the user, so a page on `rebind.evil.example`, whose name its owner re-points at
//!   127.0.0.1, would be the user too. There only the listen address, the loopback
//!   names with the listen port (`localhost`, `127.0.0.1`, `[::1]`) and the
//!   `--public-url` host are served; any other `Host` gets 421.
//! - **Origin (cross-site requests).** A WebSocket upgrade, or a state-changing
//!   request (anything but `GET`, `HEAD`, `OPTIONS`), to a workspace, an instance
//!   or `/api` must come from a page of the proxy's own origin. `Origin` decides
//!   when sent (`null`, an opaque origin such as a sandboxed preview, never
//!   matches); else `Sec-Fetch-Site` (`same-origin` and `none` pass; `same-site`,
//!   `cross-site` do not); else (neither header: the CLI, curl, scripts, which carry
//!   their own credentials and cannot be driven by a foreign page) it passes.
//!   Refused: 403 with the reason.
//!
//! The own origin is `--public-url` when set. Otherwise it is `http://` with the
//! listen port on a loopback name or the address the connection came in on, and
//! the request's own `Host` (the ingress case), its scheme `https` when a trusted
//! peer says `X-Forwarded-Proto: https` (`--trusted-proxies`, every peer when
//! none are given, as for the instance cookie).
//!
//! # Layout
//! - [`origin`]: parsing and comparing `Origin` and `Host` values.

pub mod origin;

#[cfg(test)]
mod tests;

use std::net::SocketAddr;

use http::{HeaderMap, Request};
use ipnet::IpNet;

pub use self::origin::{HostPort, Origin};

use crate::asked::Asked;
use crate::error::{Error, Result};
use crate::route::Route;
use crate::server::truncate;

/// Host names that always mean this machine (with the listen port).
const LOOPBACK_NAMES: &[&str] = &["localhost", "127.0.0.1", "[::1]"];

/// What the proxy counts as its own site.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Site {
    /// `--public-url`: when set, the one own origin (and, under `--auth none`, a
    /// served host).
    pub public: Option<Origin>,
    /// Whether a request for any other host is refused (421): `--auth none`.
    pub guard_host: bool,
    /// Peers whose `X-Forwarded-Proto` counts (empty: every peer).
    pub trusted_proxies: Vec<IpNet>,
}

/// Which part of the proxy a request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// A workspace, an instance, `/api` or the home page: writes and upgrades must
    /// be our own.
    Guarded,
    /// Health, metrics, redirects, the outpost's sign-in pages, launchers' progress
    /// pushes, the home page's script, nothing-here.
    Open,
}

impl Scope {
    /// The scope of `route`.
    pub fn of(route: &Route) -> Self {
        match route {
            Route::Workspace { .. } | Route::Instance { .. } | Route::Api | Route::Home => {
                Scope::Guarded
            }
            Route::Healthz
            | Route::Readyz
            | Route::Metrics
            | Route::Redirect(_)
            | Route::Outpost
            | Route::HomeScript
            // A launcher, not a browser: its hop credential is the only check.
            | Route::ProgressPush { .. }
            | Route::NotFound => Scope::Open,
        }
    }
}

/// The facts of one request that [`decide`] reads. A header sent more than once
/// (or not visible ASCII) reads as `""`, which never parses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ask<'a> {
    /// The method, as sent.
    pub method: &'a str,
    /// Whether it asks for a protocol upgrade (a WebSocket).
    pub upgrade: bool,
    /// Which part of the proxy it is for.
    pub scope: Scope,
    /// `Host` (else the request target's authority).
    pub host: Option<&'a str>,
    /// `Origin`.
    pub origin: Option<&'a str>,
    /// `Sec-Fetch-Site`.
    pub fetch_site: Option<&'a str>,
    /// A trusted peer said `X-Forwarded-Proto: https`.
    pub forwarded_https: bool,
    /// The address the connection came in on (the listen address and port).
    pub local: SocketAddr,
}

impl<'a> Ask<'a> {
    /// The facts of `req` (whose headers ask what `asked` says) from `peer` that
    /// came in on `local`.
    pub fn of<B>(
        req: &'a Request<B>,
        asked: &Asked,
        scope: Scope,
        site: &Site,
        peer: SocketAddr,
        local: SocketAddr,
    ) -> Self {
        let [host, origin, fetch_site, proto] = singles(
            req.headers(),
            [
                &http::header::HOST,
                &http::header::ORIGIN,
                &dcs_net::names::SEC_FETCH_SITE,
                &dcs_net::names::X_FORWARDED_PROTO,
            ],
        );
        let forwarded_https = proto
            .and_then(|v| v.split(',').next())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"))
            && crate::auth::trusted::is_trusted(&site.trusted_proxies, peer.ip());
        Self {
            method: req.method().as_str(),
            upgrade: asked.upgrade().is_some(),
            scope,
            host: host.or_else(|| req.uri().authority().map(|a| a.as_str())),
            origin,
            fetch_site,
            forwarded_https,
            local,
        }
    }
}

/// The one value of each header of `names`: `None` when absent, `""` when repeated
/// or unreadable. One pass over the headers, not a look-up by name for each (every
/// request: a request carries few headers, and comparing a name is cheaper than
/// hashing one).
fn singles<'a, const N: usize>(
    headers: &'a HeaderMap,
    names: [&http::HeaderName; N],
) -> [Option<&'a str>; N] {
    let mut found = [None; N];
    for (name, value) in headers {
        if let Some(i) = names.iter().position(|n| *n == name) {
            found[i] = Some(match found[i] {
                None => value.to_str().unwrap_or(""),
                Some(_) => "",
            });
        }
    }
    found
}

/// What the edge says about a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Carry on.
    Pass,
    /// The request names a host this proxy does not serve (421).
    Misdirected(String),
    /// A write or upgrade from a page of another origin (403).
    CrossSite(String),
}

impl Verdict {
    /// `Ok` to carry on, else the error the client is answered with.
    pub fn check(self) -> Result<()> {
        match self {
            Verdict::Pass => Ok(()),
            Verdict::Misdirected(why) => Err(Error::Misdirected(why)),
            Verdict::CrossSite(why) => Err(Error::Forbidden(why)),
        }
    }
}

/// Decides whether the request `ask` describes may go on (see the module docs).
pub fn decide(site: &Site, ask: &Ask<'_>) -> Verdict {
    let writes = ask.upgrade || !matches!(ask.method, "GET" | "HEAD" | "OPTIONS");
    let own_origin_checked = ask.scope == Scope::Guarded && writes;
    // The host is parsed only when something reads it (not for a plain read behind
    // an ingress: most requests).
    if !site.guard_host && !own_origin_checked {
        return Verdict::Pass;
    }
    let host = ask.host.map(HostPort::parse);
    if site.guard_host {
        if let Some(parsed) = &host {
            if !parsed.as_ref().is_some_and(|h| serves(site, ask.local, h)) {
                return Verdict::Misdirected(misdirected(site, ask));
            }
        }
    }
    if !own_origin_checked {
        return Verdict::Pass;
    }
    let host = host.flatten();
    match (ask.origin, ask.fetch_site) {
        (Some(origin), _) => match Origin::parse(origin) {
            Some(o) if is_own(site, ask, host.as_ref(), &o) => Verdict::Pass,
            _ => Verdict::CrossSite(cross_site(
                site,
                ask,
                host.as_ref(),
                &format!("a page of {}", truncate(origin, 100)),
            )),
        },
        (None, Some(s))
            if s.eq_ignore_ascii_case("same-origin") || s.eq_ignore_ascii_case("none") =>
        {
            Verdict::Pass
        }
        (None, Some(s)) => Verdict::CrossSite(cross_site(
            site,
            ask,
            host.as_ref(),
            &format!(
                "a page of another site (Sec-Fetch-Site: {})",
                truncate(s, 40)
            ),
        )),
        (None, None) => Verdict::Pass,
    }
}

/// Whether `host` is one this proxy answers to under `--auth none`.
fn serves(site: &Site, local: SocketAddr, host: &HostPort) -> bool {
    let local_port = host.port_or_default("http") == Some(local.port());
    (local_port
        && (LOOPBACK_NAMES.contains(&&*host.host) || origin::names_ip(&host.host, local.ip())))
        || site.public.as_ref().is_some_and(|p| p.serves(host))
}

/// Whether `origin` is the proxy's own (see the module docs).
fn is_own(site: &Site, ask: &Ask<'_>, host: Option<&HostPort>, origin: &Origin) -> bool {
    if let Some(public) = &site.public {
        return origin == public;
    }
    let loopback = origin.scheme == "http"
        && origin.port == ask.local.port()
        && (LOOPBACK_NAMES.contains(&origin.host.as_str())
            || origin::names_ip(&origin.host, ask.local.ip()));
    loopback || host.and_then(|h| own_of_host(ask, h)).as_ref() == Some(origin)
}

/// The origin the request's own `Host` stands for.
fn own_of_host(ask: &Ask<'_>, host: &HostPort) -> Option<Origin> {
    let scheme = if ask.forwarded_https { "https" } else { "http" };
    Origin::of_host(scheme, host)
}

/// The own origin to name in a message.
fn own_shown(site: &Site, ask: &Ask<'_>, host: Option<&HostPort>) -> String {
    if let Some(public) = &site.public {
        return public.to_string();
    }
    host.and_then(|h| own_of_host(ask, h)).map_or_else(
        || format!("http://127.0.0.1:{}", ask.local.port()),
        |o| o.to_string(),
    )
}

fn cross_site(site: &Site, ask: &Ask<'_>, host: Option<&HostPort>, from: &str) -> String {
    let own = own_shown(site, ask, host);
    let action = if ask.upgrade {
        "open a connection (a terminal, an editor) to a workspace".to_owned()
    } else {
        format!(
            "send {} requests to workspaces or the API",
            truncate(ask.method, 20)
        )
    };
    format!(
        "refused: {from} may not {action}; only pages of this server ({own}) may. \
         Open {own}/ and try again from there."
    )
}

fn misdirected(site: &Site, ask: &Ask<'_>) -> String {
    let port = ask.local.port();
    let public = site
        .public
        .as_ref()
        .map(|p| format!(" and {}", p.host))
        .unwrap_or_default();
    format!(
        "this server does not answer to the host name {:?}: with --auth none anyone who \
         reaches it acts as its user, so it serves only localhost, 127.0.0.1 and [::1] on \
         port {port}{public}. Open http://127.0.0.1:{port}/ instead, or set --public-url to \
         the address you use.",
        truncate(ask.host.unwrap_or(""), 100)
    )
}
