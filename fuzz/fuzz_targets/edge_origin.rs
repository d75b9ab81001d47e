//! The edge's Origin/Host decision (`dcs_proxy::edge::decide`) on hostile input.
//! Never panics, and:
//! - an `Origin` of a foreign site never passes a state-changing request or an
//!   upgrade to a workspace, an instance or `/api`;
//! - any `Origin` that passes such a request is the proxy's own: `--public-url`
//!   when set, else a loopback name or the listen address with the listen port, or
//!   the request's own `Host`;
//! - the proxy's own origin always passes, whatever the method;
//! - `GET`, `HEAD` and `OPTIONS` without an upgrade are never refused as cross-site;
//! - under `--auth none` a `Host` that is not the listen address, a loopback name
//!   with the listen port or the public URL's host never passes anything.
#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use arbitrary::Arbitrary;
use dcs_proxy::edge::{decide, Ask, HostPort, Origin, Scope, Site, Verdict};
use libfuzzer_sys::fuzz_target;

const METHODS: &[&str] = &[
    "GET", "HEAD", "OPTIONS", "POST", "PUT", "DELETE", "PATCH", "get",
];
const OWN_NAMES: &[&str] = &["localhost", "127.0.0.1", "[::1]", "LOCALHOST"];

#[derive(Debug, Arbitrary)]
enum HostIn {
    /// Anything at all.
    Raw(String),
    /// A loopback name with a port.
    Loopback(u8, u16),
    /// The public URL's host.
    Public,
    /// A foreign name (`<label>.evil-host.example[:port]`).
    Foreign(String, Option<u16>),
}

#[derive(Debug, Arbitrary)]
enum OriginIn {
    Raw(String),
    /// `http://<loopback name>:<listen port>`.
    OwnLoopback(u8),
    /// The public URL.
    Public,
    /// `http(s)://<label>.evil-origin.example[:port]`: never a Host sent here.
    Foreign(bool, String, Option<u16>),
}

#[derive(Debug, Arbitrary)]
struct Input {
    method: u8,
    upgrade: bool,
    guarded: bool,
    host: Option<HostIn>,
    origin: Option<OriginIn>,
    fetch_site: Option<String>,
    forwarded_https: bool,
    public: Option<(bool, String, Option<u16>)>,
    guard_host: bool,
    local_port: u16,
    local_v6: bool,
}

/// A DNS label from arbitrary text, never empty and never containing `evil`
/// unless it is a foreign name.
fn label(s: &str) -> String {
    let l: String = s
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(20)
        .collect::<String>()
        .to_ascii_lowercase()
        .replace("evil", "");
    if l.is_empty() {
        "x".into()
    } else {
        l
    }
}

fn with_port(host: &str, port: Option<u16>) -> String {
    match port {
        Some(p) => format!("{host}:{p}"),
        None => host.to_owned(),
    }
}

fuzz_target!(|input: Input| {
    let local_port = input.local_port.max(1);
    let local = SocketAddr::new(
        if input.local_v6 {
            IpAddr::V6(Ipv6Addr::LOCALHOST)
        } else {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        },
        local_port,
    );
    let public_text = input.public.as_ref().map(|(https, host, port)| {
        let scheme = if *https { "https" } else { "http" };
        format!(
            "{scheme}://{}",
            with_port(
                &format!("{}.public.test", label(host)),
                port.filter(|p| *p > 0)
            )
        )
    });
    let public = public_text.as_deref().and_then(Origin::parse);
    let site = Site {
        public: public.clone(),
        guard_host: input.guard_host,
        trusted_proxies: Vec::new(),
    };
    let host_text: Option<String> = input.host.as_ref().map(|h| match h {
        HostIn::Raw(s) if s.to_ascii_lowercase().contains("evil") => "x".into(),
        HostIn::Raw(s) => s.clone(),
        HostIn::Loopback(i, port) => {
            with_port(OWN_NAMES[usize::from(*i) % OWN_NAMES.len()], Some(*port))
        }
        HostIn::Public => public_text
            .as_deref()
            .and_then(|p| p.split_once("://"))
            .map_or_else(|| "x".into(), |(_, h)| h.to_owned()),
        HostIn::Foreign(l, port) => with_port(&format!("{}.evil-host.example", label(l)), *port),
    });
    let foreign_origin = matches!(input.origin, Some(OriginIn::Foreign(..)));
    let origin_text: Option<String> = input.origin.as_ref().map(|o| match o {
        OriginIn::Raw(s) => s.clone(),
        OriginIn::OwnLoopback(i) => format!(
            "http://{}:{local_port}",
            OWN_NAMES[usize::from(*i) % OWN_NAMES.len()]
        ),
        OriginIn::Public => public_text.clone().unwrap_or_else(|| "null".into()),
        OriginIn::Foreign(https, l, port) => format!(
            "{}://{}",
            if *https { "https" } else { "http" },
            with_port(&format!("{}.evil-origin.example", label(l)), *port)
        ),
    });
    let method = METHODS[usize::from(input.method) % METHODS.len()];
    let ask = Ask {
        method,
        upgrade: input.upgrade,
        scope: if input.guarded {
            Scope::Guarded
        } else {
            Scope::Open
        },
        host: host_text.as_deref(),
        origin: origin_text.as_deref(),
        fetch_site: input.fetch_site.as_deref(),
        forwarded_https: input.forwarded_https,
        local,
    };
    let verdict = decide(&site, &ask);

    let writes = input.upgrade || !matches!(method, "GET" | "HEAD" | "OPTIONS");
    let host = host_text.as_deref().and_then(HostPort::parse);

    // A foreign Origin never passes a guarded write or upgrade (no Host, public URL
    // or loopback name is ever that origin's host).
    if input.guarded && writes && foreign_origin {
        assert_ne!(verdict, Verdict::Pass, "{ask:?}");
    }
    // Whatever Origin passes a guarded write is the proxy's own.
    if let (Verdict::Pass, true, true, Some(text)) =
        (&verdict, input.guarded, writes, origin_text.as_deref())
    {
        let o = Origin::parse(text).expect("a passing Origin parses");
        let own = match &public {
            Some(p) => &o == p,
            None => {
                let loopback = o.scheme == "http"
                    && o.port == local_port
                    && (["localhost", "127.0.0.1", "[::1]"].contains(&o.host.as_str()));
                let scheme = if input.forwarded_https {
                    "https"
                } else {
                    "http"
                };
                let of_host = host.as_ref().and_then(|h| Origin::of_host(scheme, h));
                loopback || of_host.as_ref() == Some(&o)
            }
        };
        assert!(own, "{o:?} passed {ask:?}");
    }
    // The own origin always passes (with a Host the proxy answers to).
    let host_ok = match (&input.host, &public) {
        (None, _) => true,
        (Some(HostIn::Loopback(_, port)), _) => *port == local_port,
        (Some(HostIn::Public), Some(_)) => true,
        _ => false,
    };
    let own_origin = match (&input.origin, &public) {
        (Some(OriginIn::OwnLoopback(_)), None) => true,
        (Some(OriginIn::Public), Some(_)) => true,
        _ => false,
    };
    if host_ok && own_origin {
        assert_eq!(verdict, Verdict::Pass, "{ask:?}");
    }
    // Reads are never refused as cross-site.
    if !writes {
        assert!(!matches!(verdict, Verdict::CrossSite(_)), "{ask:?}");
    }
    // --auth none: a foreign Host never passes.
    if input.guard_host && matches!(input.host, Some(HostIn::Foreign(..))) {
        assert!(matches!(verdict, Verdict::Misdirected(_)), "{ask:?}");
    }
});
