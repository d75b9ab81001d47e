//! The HTTP proxy a transfer goes through: the one the operator gave the launcher's
//! own environment, never one named in git's configuration. The checkout's
//! `.git/config` (`http.proxy`, `http.<url>.proxy`, `remote.origin.proxy`) is the
//! workspace user's to write, and libgit2's automatic proxy (`ProxyOptions::auto`)
//! reads it first: a user could route the operator's transfers through a listener
//! of theirs. So the proxy is picked here, as libgit2 would pick it from the
//! environment alone, and handed to libgit2 as a URL; no variable set, no proxy.
//!
//! The variables, as libgit2 reads them: `https_proxy` (else `HTTPS_PROXY`) for an
//! `https://` git base, `http_proxy` (else `HTTP_PROXY`) for any other; none if the
//! base's host is in `no_proxy` (else `NO_PROXY`, see
//! [`origin::matches_no_proxy`]). The pick is made for the git base; a redirect on the
//! same host (`http` to `https`) keeps it. (libgit2 1.9 goes through a proxy only to
//! tunnel TLS, `CONNECT`, and connects straight to a plain-HTTP server.)

use git2::ProxyOptions;

use super::origin::{self, Origin};

/// The proxy URL for a transfer from `url`, given the environment `var` reads.
pub fn pick(url: &str, var: impl Fn(&str) -> Option<String>) -> Option<String> {
    let origin = Origin::of(url)?;
    let names: [&str; 2] = if origin.scheme == "https" {
        ["https_proxy", "HTTPS_PROXY"]
    } else {
        ["http_proxy", "HTTP_PROXY"]
    };
    let set = |name: &str| var(name).filter(|v| !v.trim().is_empty());
    let proxy = names.iter().find_map(|name| set(name))?;
    let no_proxy = set("no_proxy").or_else(|| set("NO_PROXY"));
    if no_proxy.is_some_and(|list| origin::matches_no_proxy(&origin, &list)) {
        return None;
    }
    // A variable cannot hold a NUL; git2 would panic on one.
    (!proxy.contains('\0')).then(|| proxy.trim().to_owned())
}

/// The proxy options of a transfer from `url`: this process's environment's proxy
/// ([`pick`]), or none.
pub fn options(url: &str) -> ProxyOptions<'static> {
    let mut options = ProxyOptions::new();
    if let Some(proxy) = pick(url, |name| std::env::var(name).ok()) {
        options.url(&proxy);
    }
    options
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn the_proxy_comes_from_the_environment_by_scheme_and_no_proxy() {
        let https = "https://git.example.com/acme/hello.git";
        let http = "http://git.example.com/acme/hello.git";
        assert_eq!(pick(https, env(&[])), None, "nothing set, no proxy");
        let vars = [
            ("https_proxy", "http://tls-proxy:3128"),
            ("HTTPS_PROXY", "http://upper:3128"),
            ("http_proxy", "http://plain-proxy:3128"),
        ];
        assert_eq!(
            pick(https, env(&vars)).as_deref(),
            Some("http://tls-proxy:3128")
        );
        assert_eq!(
            pick(http, env(&vars)).as_deref(),
            Some("http://plain-proxy:3128")
        );
        assert_eq!(
            pick(https, env(&vars[1..])).as_deref(),
            Some("http://upper:3128")
        );
        let no = [
            ("https_proxy", "http://p:1"),
            ("no_proxy", "localhost,.example.com"),
        ];
        assert_eq!(pick(https, env(&no)), None);
        let upper = [
            ("https_proxy", "http://p:1"),
            ("NO_PROXY", "git.example.com"),
        ];
        assert_eq!(pick(https, env(&upper)), None);
        let other = [("https_proxy", "http://p:1"), ("no_proxy", "other.test")];
        assert_eq!(pick(https, env(&other)).as_deref(), Some("http://p:1"));
        assert_eq!(pick("/srv/git/acme/hello.git", env(&vars)), None);
        assert_eq!(pick(https, env(&[("https_proxy", "  ")])), None);
    }
}
