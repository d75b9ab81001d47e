//! The origin of a git URL (scheme, host, port), and whether a host matches a
//! `no_proxy` list. The operator's token goes only to the origin of the git base
//! ([`super::credentials`]); the proxy of a transfer is picked for the git base's host
//! ([`super::proxy`]). Pure, so it is tested with strings.

use std::fmt;

/// Scheme, host and port of a URL, lower-cased, the port filled in for the schemes
/// that have a default one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// `http`, `https`, `ssh`…
    pub scheme: String,
    /// The host name or address (an IPv6 address without its brackets).
    pub host: String,
    /// The port, explicit or the scheme's default; `None` for a scheme without one.
    pub port: Option<u16>,
}

impl Origin {
    /// The origin of `url` (`scheme://[user@]host[:port][/…]`, parsed by the `url`
    /// crate as a WHATWG URL); `None` for anything else (a local path,
    /// `user@host:path`, a malformed port, no host).
    pub fn of(url: &str) -> Option<Self> {
        let parsed = url::Url::parse(url.trim()).ok()?;
        let host = match parsed.host()? {
            url::Host::Domain(name) if !name.is_empty() => name.to_ascii_lowercase(),
            url::Host::Domain(_) => return None,
            url::Host::Ipv4(addr) => addr.to_string(),
            url::Host::Ipv6(addr) => addr.to_string(),
        };
        let scheme = parsed.scheme().to_owned();
        let port = parsed.port().or_else(|| default_port(&scheme));
        Some(Self { scheme, host, port })
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        match self.port {
            Some(port) => write!(f, "{}://{host}:{port}", self.scheme),
            None => write!(f, "{}://{host}", self.scheme),
        }
    }
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" => Some(80),
        "https" => Some(443),
        "ssh" => Some(22),
        "git" => Some(9418),
        _ => None,
    }
}

/// Whether `origin` matches the comma-separated `list` of a `no_proxy` variable, as
/// libgit2 reads it: `*` matches everything; `host` matches that host only;
/// `.domain` and `*.domain` match the domain and its subdomains; `:port` after a
/// pattern must be the origin's port too. Blanks around patterns are ignored.
pub fn matches_no_proxy(origin: &Origin, list: &str) -> bool {
    list.split(',').map(str::trim).any(|pattern| {
        if pattern.is_empty() {
            return false;
        }
        if pattern == "*" {
            return true;
        }
        let (domain, wildcard) = match pattern.strip_prefix("*.") {
            Some(domain) => (domain, true),
            None => match pattern.strip_prefix('.') {
                Some(domain) => (domain, true),
                None => (pattern, false),
            },
        };
        let (domain, port) = split_port(domain);
        let domain = domain.to_ascii_lowercase();
        if port.is_some_and(|p| origin.port.map(|o| o.to_string()).as_deref() != Some(p)) {
            return false;
        }
        let host = origin.host.as_str();
        if !wildcard {
            return host == domain;
        }
        host == domain
            || host
                .strip_suffix(domain.as_str())
                .is_some_and(|sub| sub.ends_with('.'))
    })
}

/// `host:port` → (`host`, `port`); `[v6]:port` → (`v6`, `port`); a bare IPv6 address
/// or a host alone → (it, none).
fn split_port(pattern: &str) -> (&str, Option<&str>) {
    if let Some(v6) = pattern.strip_prefix('[') {
        let (host, after) = v6.split_once(']').unwrap_or((v6, ""));
        return (host, after.strip_prefix(':'));
    }
    match pattern.split_once(':') {
        Some((host, port)) if !port.contains(':') => (host, Some(port)),
        _ => (pattern, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(url: &str) -> Origin {
        Origin::of(url).expect(url)
    }

    #[test]
    fn scheme_host_and_port_are_compared_with_default_ports_filled_in() {
        let base = origin("https://git.example.com");
        assert_eq!(
            base,
            origin("HTTPS://Git.Example.com:443/acme/hello.git/info/refs")
        );
        assert_eq!(base, origin("https://x-access-token@git.example.com/acme"));
        assert_ne!(base, origin("http://git.example.com/acme"));
        assert_ne!(base, origin("https://git.example.com:8443/acme"));
        assert_ne!(base, origin("https://git.example.com.evil.test/acme"));
        assert_ne!(base, origin("https://evil.test/@git.example.com/acme"));
        assert_ne!(base, origin("https://git.example.com@evil.test/acme"));
        assert_eq!(origin("http://127.0.0.1:8080").port, Some(8080));
        assert_eq!(origin("http://[::1]:81/a").host, "::1");
        assert_eq!(origin("http://[::1]/a").port, Some(80));
        assert_eq!(origin("http://[::1]:81/a").to_string(), "http://[::1]:81");
        for bad in [
            "/srv/git",
            "git@host:acme/a.git",
            "http://",
            "http://h:99999/",
            "http://h:x/",
        ] {
            assert!(Origin::of(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn no_proxy_patterns_match_as_libgit2_reads_them() {
        let o = origin("https://git.corp.example:443/a");
        assert!(matches_no_proxy(&o, "*"));
        assert!(matches_no_proxy(&o, "localhost, git.corp.example"));
        assert!(matches_no_proxy(&o, ".corp.example"));
        assert!(matches_no_proxy(&o, "*.example"));
        assert!(matches_no_proxy(&o, "git.corp.example:443"));
        assert!(!matches_no_proxy(&o, "git.corp.example:8443"));
        assert!(!matches_no_proxy(&o, "corp.example"));
        assert!(!matches_no_proxy(&o, ".other.example,,"));
        assert!(!matches_no_proxy(&o, "rp.example"));
        assert!(!matches_no_proxy(&o, ""));
        assert!(matches_no_proxy(
            &origin("http://127.0.0.1:9/"),
            "127.0.0.1"
        ));
        assert!(matches_no_proxy(&origin("http://[::1]:9/"), "::1"));
        assert!(matches_no_proxy(&origin("http://[::1]:9/"), "[::1]:9"));
        assert!(!matches_no_proxy(&origin("http://[::1]:9/"), "[::1]:10"));
    }
}
