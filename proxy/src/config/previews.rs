//! Port previews and what never reaches a workspace: how previews are isolated from
//! the proxy's origin (sandboxed, or on their own subdomain) and which credentials
//! stop at the edge.
//!
//! - Without `--preview-domain`, a preview is served under the workspace's path
//!   (`/github/<o>/<r>/ports/<n>/`) with a `Content-Security-Policy: sandbox` that
//!   puts its documents in an opaque origin ([`crate::preview`]).
//! - With `--preview-domain preview.example.com`, each preview is served on a host of
//!   its own, `<n>-<workspace>.preview.example.com`, entered with a one-time ticket
//!   and kept open by a short-lived signed cookie of that host.
//! - `--strip-cookie` adds cookie names (or `prefix*`) to those never forwarded to a
//!   workspace ([`crate::forward::headers::Credentials`]).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use crate::auth::secret::Secret;
use crate::forward::headers::Credentials;
use crate::preview::ticket::Keys;

/// Flags for previews and stripped credentials.
#[derive(Debug, Clone, Args)]
pub struct PreviewArgs {
    /// Serve each port preview on a host of its own, `<port>-<workspace>.<domain>`
    /// (a wildcard DNS name and certificate for `*.<domain>` must point at this
    /// proxy), for apps that need an origin of their own. `host[:port]`; without a
    /// port, previews use the port the proxy was reached on. [default: previews are
    /// served under the workspace's path, sandboxed]
    #[arg(long, env = "DCS_PROXY_PREVIEW_DOMAIN")]
    pub preview_domain: Option<String>,
    /// File holding the key that signs preview tickets and cookies (at least 32
    /// bytes); every replica needs the same one. [default: a random key per start:
    /// one replica only, and a restart signs previews out]
    #[arg(long, env = "DCS_PROXY_PREVIEW_SECRET_FILE")]
    pub preview_secret_file: Option<PathBuf>,
    /// How long the one-time ticket that opens a preview host is valid.
    #[arg(long, env = "DCS_PROXY_PREVIEW_TICKET_TTL", default_value = "2m", value_parser = humantime::parse_duration)]
    pub preview_ticket_ttl: Duration,
    /// How long a preview host's cookie is valid; a page opened after that goes
    /// back through the workspace's path for a new one.
    #[arg(long, env = "DCS_PROXY_PREVIEW_SESSION_TTL", default_value = "1h", value_parser = humantime::parse_duration)]
    pub preview_session_ttl: Duration,
    /// More cookies never forwarded to a workspace: names, or prefixes ending in `*`
    /// (comma-separated or repeated), added to those always stripped:
    /// `authentik_proxy_*`, `authentik_session`, the instance and preview cookies.
    #[arg(
        long = "strip-cookie",
        env = "DCS_PROXY_STRIP_COOKIE",
        value_delimiter = ','
    )]
    pub strip_cookies: Vec<String>,
}

impl Default for PreviewArgs {
    fn default() -> Self {
        Self {
            preview_domain: None,
            preview_secret_file: None,
            preview_ticket_ttl: DEFAULT_TICKET_TTL,
            preview_session_ttl: DEFAULT_SESSION_TTL,
            strip_cookies: Vec::new(),
        }
    }
}

/// Default `--preview-ticket-ttl`.
pub const DEFAULT_TICKET_TTL: Duration = Duration::from_secs(120);
/// Default `--preview-session-ttl`.
pub const DEFAULT_SESSION_TTL: Duration = Duration::from_secs(3600);
/// The shortest key `--preview-secret-file` may hold.
pub const MIN_SECRET_BYTES: usize = 32;

/// The domain previews are served under, with `--preview-domain`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviewDomain {
    /// The domain, lower case, without a port: `preview.example.com`.
    pub host: String,
    /// The port previews are reached on, when not the one the proxy was reached on.
    pub port: Option<u16>,
}

impl PreviewDomain {
    /// Parses `host[:port]`: a DNS name of letters, digits and `-` labels (no IP
    /// address, no wildcard), any case.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim().trim_end_matches('.');
        let problem = |why: &str| format!("--preview-domain {text:?}: {why}");
        if text.starts_with("*.") {
            return Err(problem(
                "give the domain itself (preview.example.com); the wildcard is for DNS and the certificate",
            ));
        }
        let (host, port) = match text.rsplit_once(':') {
            Some((host, port)) => {
                let port = port
                    .parse::<u16>()
                    .ok()
                    .filter(|p| *p != 0)
                    .ok_or_else(|| problem("the port must be a number from 1 to 65535"))?;
                (host, Some(port))
            }
            None => (text, None),
        };
        let host = host.to_ascii_lowercase();
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        };
        if host.is_empty() || host.len() > 200 || !host.split('.').all(label_ok) {
            return Err(problem(
                "expected a DNS name such as preview.example.com (letters, digits, '-', dots), optionally with :port",
            ));
        }
        if host
            .split('.')
            .all(|l| l.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(problem("an IP address has no subdomains; give a DNS name"));
        }
        Ok(Self { host, port })
    }
}

/// Validated preview settings.
#[derive(Debug, Clone)]
pub struct Previews {
    /// Subdomain mode's domain; `None`: previews are served under the workspace's
    /// path, sandboxed.
    pub domain: Option<PreviewDomain>,
    /// How long a ticket opens a preview host.
    pub ticket_ttl: Duration,
    /// How long a preview host's cookie is valid.
    pub session_ttl: Duration,
    /// The credentials never forwarded to a workspace.
    pub credentials: Credentials,
    /// The key that signs tickets and cookies, and the tickets already used.
    pub keys: Arc<Keys>,
}

impl Default for Previews {
    fn default() -> Self {
        Self {
            domain: None,
            ticket_ttl: DEFAULT_TICKET_TTL,
            session_ttl: DEFAULT_SESSION_TTL,
            credentials: Credentials::default(),
            keys: Arc::new(Keys::random()),
        }
    }
}

impl PreviewArgs {
    /// The preview settings, adding every problem to `problems`.
    pub fn validate(&self, problems: &mut Vec<String>) -> Previews {
        let domain = self
            .preview_domain
            .as_deref()
            .filter(|d| !d.trim().is_empty())
            .and_then(|d| PreviewDomain::parse(d).map_err(|e| problems.push(e)).ok());
        let keys = match &self.preview_secret_file {
            None => Keys::random(),
            Some(path) => match Secret::from_file(path) {
                Ok(secret) if secret.expose().len() >= MIN_SECRET_BYTES => Keys::new(secret),
                Ok(_) => {
                    problems.push(format!(
                        "--preview-secret-file {}: the key must be at least {MIN_SECRET_BYTES} bytes (e.g. `openssl rand -hex 32`)",
                        path.display()
                    ));
                    Keys::random()
                }
                Err(e) => {
                    problems.push(format!("--preview-secret-file {}: {e}", path.display()));
                    Keys::random()
                }
            },
        };
        for (flag, value, min, max) in [
            (
                "--preview-ticket-ttl",
                self.preview_ticket_ttl,
                Duration::from_secs(1),
                Duration::from_secs(10 * 60),
            ),
            (
                "--preview-session-ttl",
                self.preview_session_ttl,
                Duration::from_secs(60),
                Duration::from_secs(24 * 3600),
            ),
        ] {
            if value < min || value > max {
                problems.push(format!(
                    "{flag} must be from {} to {}",
                    humantime::format_duration(min),
                    humantime::format_duration(max)
                ));
            }
        }
        let mut credentials = Credentials::default();
        for pattern in self.strip_cookies.iter().filter(|p| !p.trim().is_empty()) {
            match dcs_net::cookies::NamePattern::parse(pattern) {
                Ok(p) => credentials.add_cookie(p),
                Err(e) => problems.push(format!("--strip-cookie: {e}")),
            }
        }
        Previews {
            domain,
            ticket_ttl: self.preview_ticket_ttl,
            session_ttl: self.preview_session_ttl,
            credentials,
            keys: Arc::new(keys),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn validate(args: PreviewArgs) -> (Previews, Vec<String>) {
        let mut problems = Vec::new();
        let previews = args.validate(&mut problems);
        (previews, problems)
    }

    #[test]
    fn preview_domains_are_dns_names_with_an_optional_port() {
        assert_eq!(
            PreviewDomain::parse("Preview.Example.com").expect("ok"),
            PreviewDomain {
                host: "preview.example.com".into(),
                port: None
            }
        );
        assert_eq!(
            PreviewDomain::parse("preview.localhost:8443")
                .expect("ok")
                .port,
            Some(8443)
        );
        for bad in [
            "*.preview.example.com",
            "",
            "a..b",
            "-a.b",
            "a_b.example.com",
            "preview.example.com:0",
            "preview.example.com:x",
            "127.0.0.1",
            "https://preview.example.com",
        ] {
            assert!(PreviewDomain::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn defaults_are_path_mode_with_the_built_in_credentials() {
        let (p, problems) = validate(PreviewArgs::default());
        assert!(problems.is_empty(), "{problems:?}");
        assert!(p.domain.is_none());
        for name in [
            "authentik_proxy_ab12",
            "authentik_session",
            "dcs_instance_token",
            "dcs_preview",
        ] {
            assert!(p.credentials.strips_cookie(name), "{name}");
        }
        assert!(!p.credentials.strips_cookie("theme"));
    }

    #[test]
    fn every_problem_is_listed() {
        let tmp = tempfile::tempdir().expect("tmp");
        let short = tmp.path().join("short");
        std::fs::write(&short, "too short\n").expect("write");
        let (p, problems) = validate(PreviewArgs {
            preview_domain: Some("*.preview.example.com".into()),
            preview_secret_file: Some(short),
            preview_ticket_ttl: Duration::ZERO,
            preview_session_ttl: Duration::from_secs(7 * 24 * 3600),
            strip_cookies: vec!["corp_sso".into(), "*".into(), "_oauth2_*".into()],
        });
        assert_eq!(problems.len(), 5, "{problems:?}");
        for flag in [
            "--preview-domain",
            "--preview-secret-file",
            "--preview-ticket-ttl",
            "--preview-session-ttl",
            "--strip-cookie",
        ] {
            assert!(
                problems.iter().any(|p| p.contains(flag)),
                "{flag}: {problems:?}"
            );
        }
        assert!(p.credentials.strips_cookie("corp_sso"));
        assert!(p.credentials.strips_cookie("_oauth2_proxy"));
        assert!(
            !problems.iter().any(|p| p.contains("too short")),
            "no secret shown"
        );
    }
}
