//! Origins and hosts as the edge compares them: `Origin` header values
//! (`scheme://host[:port]`) and `Host` header values (`host[:port]`), parsed
//! strictly and normalised (lowercase, default port made explicit) so that two
//! spellings of one site compare equal and nothing else does.

use std::borrow::Cow;
use std::fmt;
use std::net::{IpAddr, Ipv6Addr};

/// The default port of `scheme` (`http` 80, `https` 443).
fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}

/// A host and port, as in a `Host` header: the host lowercase (IPv6 literals in
/// brackets), the port as written (`None` when absent). The host is the header's
/// own text when it is lowercase already (every request's: no copy made).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPort<'a> {
    /// `example.com`, `127.0.0.1`, `[::1]`.
    pub host: Cow<'a, str>,
    /// The port, when one was written.
    pub port: Option<u16>,
}

impl<'a> HostPort<'a> {
    /// Parses `host[:port]`. Refuses anything with a scheme, path, user info,
    /// spaces or control characters, an empty host, or a port that is not 1–65535.
    pub fn parse(s: &'a str) -> Option<Self> {
        if s.is_empty() || s.len() > 300 {
            return None;
        }
        let (host, port) = if let Some(rest) = s.strip_prefix('[') {
            // `[v6]` or `[v6]:port`
            let (inner, after) = rest.split_once(']')?;
            let ip: std::net::Ipv6Addr = inner.parse().ok()?;
            let port = match after {
                "" => None,
                p => Some(parse_port(p.strip_prefix(':')?)?),
            };
            (Cow::Owned(format!("[{ip}]")), port)
        } else {
            // The last `:` (a byte scan: every request's `Host` comes here).
            let (host, port) = match s.bytes().rposition(|b| b == b':') {
                Some(at) => (&s[..at], Some(parse_port(&s[at + 1..])?)),
                None => (s, None),
            };
            let ok = !host.is_empty()
                && host
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
            if !ok {
                return None;
            }
            let host = match host.bytes().any(|b| b.is_ascii_uppercase()) {
                true => Cow::Owned(host.to_ascii_lowercase()),
                false => Cow::Borrowed(host),
            };
            (host, port)
        };
        Some(Self { host, port })
    }

    /// The port, or `scheme`'s default when none was written.
    pub fn port_or_default(&self, scheme: &str) -> Option<u16> {
        self.port.or_else(|| default_port(scheme))
    }
}

/// A web origin: scheme, host and port, normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// `http` or `https`.
    pub scheme: String,
    /// The host, lowercase.
    pub host: String,
    /// The port (the scheme's default when none was written).
    pub port: u16,
}

impl Origin {
    /// Parses an `Origin` header value or a `--public-url`: `http(s)://host[:port]`,
    /// with at most a trailing `/`. `null` (an opaque origin: a sandboxed page, a
    /// `file:` page) and every other scheme are not origins this proxy can own.
    pub fn parse(s: &str) -> Option<Self> {
        let (scheme, rest) = s.split_once("://")?;
        let scheme = scheme.to_ascii_lowercase();
        let default = default_port(&scheme)?;
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        let hp = HostPort::parse(rest)?;
        Some(Self {
            port: hp.port.unwrap_or(default),
            host: hp.host.into_owned(),
            scheme,
        })
    }

    /// The origin `scheme://host` for a `Host` header value.
    pub fn of_host(scheme: &str, host: &HostPort) -> Option<Self> {
        Some(Self {
            scheme: scheme.to_owned(),
            host: host.host.to_string(),
            port: host.port_or_default(scheme)?,
        })
    }

    /// Whether `host` names this origin's host and port (for the origin's scheme).
    pub fn serves(&self, host: &HostPort) -> bool {
        self.host == host.host && host.port_or_default(&self.scheme) == Some(self.port)
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.scheme, self.host)?;
        if default_port(&self.scheme) != Some(self.port) {
            write!(f, ":{}", self.port)?;
        }
        Ok(())
    }
}

/// Whether `host` (a [`HostPort`]'s or an [`Origin`]'s) is the literal of `ip` as
/// [`HostPort::parse`] normalises one (`127.0.0.1`, `[::1]`; a v4-mapped address as
/// IPv4). An IPv4 address has one spelling (no leading zeros), compared as text
/// written on the stack; an IPv6 one is parsed (it has many). The edge asks for
/// every request.
pub fn names_ip(host: &str, ip: IpAddr) -> bool {
    let bracketed = host.strip_prefix('[').and_then(|h| h.strip_suffix(']'));
    match (bracketed, ip.to_canonical()) {
        (Some(v6), IpAddr::V6(ip)) => v6.parse::<Ipv6Addr>().is_ok_and(|v6| v6 == ip),
        (None, IpAddr::V4(ip)) => host.as_bytes() == dcs_net::addr::V4Text::of(ip).as_bytes(),
        _ => false,
    }
}

/// 1–5 digits naming 1–65535.
fn parse_port(p: &str) -> Option<u16> {
    if p.is_empty() || p.len() > 5 {
        return None;
    }
    let mut n: u32 = 0;
    for b in p.bytes() {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n * 10 + u32::from(b - b'0');
    }
    u16::try_from(n).ok().filter(|&n| n > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_parse_lowercase_with_optional_ports() {
        let h = HostPort::parse("LocalHost:8080").expect("valid");
        assert_eq!((&*h.host, h.port), ("localhost", Some(8080)));
        let h = HostPort::parse("[::1]:9").expect("v6");
        assert_eq!((&*h.host, h.port), ("[::1]", Some(9)));
        // Lowercase already: the header's own text, not a copy.
        let written = "ide.example.com:443";
        let h = HostPort::parse(written).expect("valid");
        assert!(matches!(h.host, Cow::Borrowed(_)));
        assert_eq!((&*h.host, h.port), ("ide.example.com", Some(443)));
        assert_eq!(HostPort::parse("[::1]").expect("v6").port, None);
        for bad in [
            "",
            ":80",
            "a b",
            "a/b",
            "user@host",
            "host:0",
            "host:65536",
            "host:8o",
            "[zz]:1",
            "[::1]x",
            "host:",
            "http://host",
        ] {
            assert_eq!(HostPort::parse(bad), None, "{bad:?}");
        }
    }

    /// Ports read as `str::parse::<u16>` read 1–5 ASCII digits, above 0.
    #[test]
    fn ports_are_one_to_five_digits_naming_1_to_65535() {
        let as_parsed = |p: &str| {
            let digits = !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit());
            digits
                .then(|| p.parse::<u16>().ok())
                .flatten()
                .filter(|&n| n > 0)
        };
        let mut ports: Vec<String> = (0..=70_000).step_by(7).map(|n| n.to_string()).collect();
        ports.extend(
            [
                "", "0", "00", "1", "80", "00080", "65535", "65536", "99999", "123456", "+1", "-1",
                "1a", " 1", "1 ", "\u{663}", "0x10",
            ]
            .map(String::from),
        );
        for p in &ports {
            assert_eq!(parse_port(p), as_parsed(p), "{p:?}");
        }
        assert_eq!(parse_port("00080"), Some(80));
    }

    #[test]
    fn origins_normalise_default_ports_and_case() {
        let a = Origin::parse("HTTPS://IDE.example.com").expect("valid");
        let b = Origin::parse("https://ide.example.com:443/").expect("valid");
        assert_eq!(a, b);
        assert_eq!(a.to_string(), "https://ide.example.com");
        let c = Origin::parse("http://127.0.0.1:8080").expect("valid");
        assert_eq!(c.to_string(), "http://127.0.0.1:8080");
        assert!(c.serves(&HostPort::parse("127.0.0.1:8080").expect("host")));
        assert!(!c.serves(&HostPort::parse("127.0.0.1").expect("host")));
        assert!(a.serves(&HostPort::parse("ide.example.com").expect("host")));
        for bad in [
            "null",
            "file://",
            "chrome-extension://abc",
            "http://",
            "http://a/b",
            "http://u@a",
            "https://a:x",
            "ws://a",
        ] {
            assert_eq!(Origin::parse(bad), None, "{bad:?}");
        }
    }

    /// An address as the edge compared it before `names_ip`: as text, IPv6 in
    /// brackets, a v4-mapped address as IPv4.
    fn text_of(ip: IpAddr) -> String {
        match ip.to_canonical() {
            IpAddr::V4(v4) => v4.to_string(),
            IpAddr::V6(v6) => format!("[{v6}]"),
        }
    }

    #[test]
    fn addresses_as_text() {
        let ip = |s: &str| s.parse::<IpAddr>().expect("ip");
        assert_eq!(text_of(ip("127.0.0.1")), "127.0.0.1");
        assert_eq!(text_of(ip("::1")), "[::1]");
        assert_eq!(text_of(ip("::ffff:127.0.0.1")), "127.0.0.1");
    }

    /// `names_ip` answers what comparing with the address's text answered, for
    /// every host a `Host` header or an `Origin` can hold.
    #[test]
    fn a_host_names_an_address_exactly_when_it_is_its_text() {
        let ips = [
            "127.0.0.1",
            "10.0.0.7",
            "::1",
            "::ffff:127.0.0.1",
            "fe80::1",
            "0.0.0.0",
        ];
        let hosts = [
            "127.0.0.1",
            "127.0.0.2",
            "127.000.000.001",
            "0127.0.0.1",
            "127.1",
            "10.0.0.7",
            "[::1]",
            "[0:0::1]",
            "[::ffff:127.0.0.1]",
            "[fe80::1]",
            "::1",
            "[::1",
            "localhost",
            "0.0.0.0",
            "",
            "[]",
            "1.2.3.4.5",
        ];
        for ip in ips {
            let ip: IpAddr = ip.parse().expect("ip");
            let text = text_of(ip);
            for host in hosts {
                // Another spelling of the same IPv6 address names it too (a parsed
                // `Host` is always written the one way: `HostPort::parse`).
                let same_v6 = host == "[0:0::1]" && ip.to_string() == "::1";
                assert_eq!(names_ip(host, ip), host == text || same_v6, "{host} {ip}");
            }
        }
    }
}
