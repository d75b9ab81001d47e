//! The sign-in flags (`--auth` and what each mode needs) and their validation,
//! which adds every problem it finds to the caller's list.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};
use dcs_model::UserId;
use http::Uri;
use ipnet::IpNet;

use crate::auth::authentik::{AuthentikConfig, PublicUrl};
use crate::auth::jwt::JwtConfig;
use crate::auth::secret::Secret;
use crate::auth::trusted::TrustedConfig;

/// Longest accepted `--auth-cache-ttl`: a signed-out or disabled user keeps
/// access for up to this long.
pub const MAX_CACHE_TTL: Duration = Duration::from_secs(10 * 60);

/// How requests are tied to a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AuthMode {
    /// Every request is `--user`; only on a loopback listen address.
    None,
    /// The proxy asks the Authentik outpost about each session itself (needs
    /// `--public-url`).
    Authentik,
    /// Behind an ingress that did forward auth: `X-authentik-*` with a verified JWT.
    TrustedHeaders,
}

/// Sign-in flags.
#[derive(Debug, Clone, Args)]
pub struct AuthArgs {
    /// How requests are tied to a person.
    #[arg(
        long = "auth",
        env = "DCS_PROXY_AUTH",
        value_enum,
        default_value = "none"
    )]
    pub mode: AuthMode,
    /// `--auth authentik`: the outpost, in-cluster HTTP, e.g.
    /// `http://ak-outpost-authentik-embedded-outpost.authentik:9000`.
    #[arg(long, env = "DCS_PROXY_AUTHENTIK_OUTPOST_URL")]
    pub authentik_outpost_url: Option<String>,
    /// `--auth authentik`: how long a successful session check is reused (0s: never).
    #[arg(long, env = "DCS_PROXY_AUTH_CACHE_TTL", default_value = "30s", value_parser = humantime::parse_duration)]
    pub auth_cache_ttl: Duration,
    /// The origin users open (`https://ide.example.com`): the edge's own origin in
    /// every mode; required by `--auth authentik`, whose outpost is told this host,
    /// never the request's `Host`.
    #[arg(long, env = "DCS_PROXY_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// `--auth trusted-headers`: file holding the proxy provider's client secret
    /// (the HS256 key of `X-authentik-jwt`).
    #[arg(long, env = "DCS_PROXY_JWT_SECRET_FILE")]
    pub jwt_secret_file: Option<PathBuf>,
    /// `--auth trusted-headers`: expected `iss`, e.g.
    /// `https://auth.example.com/application/o/ide/`.
    #[arg(long, env = "DCS_PROXY_JWT_ISSUER")]
    pub jwt_issuer: Option<String>,
    /// `--auth trusted-headers`: expected `aud`, the provider's client id.
    #[arg(long, env = "DCS_PROXY_JWT_AUDIENCE")]
    pub jwt_audience: Option<String>,
    /// `--auth trusted-headers`: only these peers (CIDRs or addresses, comma-separated
    /// or repeated) may send identity headers [default: any peer].
    #[arg(long, env = "DCS_PROXY_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<String>,
}

/// The validated sign-in mode.
#[derive(Debug, Clone)]
pub enum AuthConfig {
    /// Every request is this user.
    None {
        /// The local user.
        user: UserId,
    },
    /// Forward auth against an outpost.
    Authentik(AuthentikConfig),
    /// Verified `X-authentik-*` headers.
    TrustedHeaders(TrustedConfig),
}

impl AuthArgs {
    /// The mode's configuration, or `None` after adding every problem to `problems`.
    pub fn validate(
        &self,
        listen: SocketAddr,
        user: Option<&str>,
        problems: &mut Vec<String>,
    ) -> Option<AuthConfig> {
        let before = problems.len();
        let proxies = self.trusted_proxies(problems);
        let config = match self.mode {
            AuthMode::None => none(listen, user, problems),
            AuthMode::Authentik => self.authentik(problems),
            AuthMode::TrustedHeaders => self.trusted(proxies, problems),
        };
        config.filter(|_| problems.len() == before)
    }

    fn authentik(&self, problems: &mut Vec<String>) -> Option<AuthConfig> {
        let outpost_url = match &self.authentik_outpost_url {
            None => {
                problems.push(
                    "--auth authentik needs --authentik-outpost-url, e.g. \
                     http://ak-outpost-authentik-embedded-outpost.authentik:9000"
                        .into(),
                );
                None
            }
            Some(url) => outpost_url(url)
                .map_err(|why| problems.push(format!("--authentik-outpost-url: {why}")))
                .ok(),
        };
        if self.auth_cache_ttl > MAX_CACHE_TTL {
            problems.push(format!(
                "--auth-cache-ttl must be at most {} (a signed-out user keeps access that long)",
                humantime::format_duration(MAX_CACHE_TTL)
            ));
        }
        // The host the outpost is told picks the Authentik application (and so the
        // policy) that checks the session: it is the operator's, never the client's
        // `Host`, which would let a session of another application on the same
        // outpost in.
        let public_url = match self.public_url.as_deref() {
            None => {
                problems.push(
                    "--auth authentik needs --public-url, the origin users open and the \
                     provider's external host, e.g. https://ide.example.com"
                        .into(),
                );
                None
            }
            Some(u) => PublicUrl::parse(u)
                .map_err(|why| problems.push(format!("--public-url: {why}")))
                .ok(),
        };
        Some(AuthConfig::Authentik(AuthentikConfig {
            outpost_url: outpost_url?,
            cache_ttl: self.auth_cache_ttl,
            public_url: public_url?,
        }))
    }

    fn trusted(
        &self,
        trusted_proxies: Vec<IpNet>,
        problems: &mut Vec<String>,
    ) -> Option<AuthConfig> {
        let secret = match &self.jwt_secret_file {
            None => {
                problems.push(
                    "--auth trusted-headers needs --jwt-secret-file (the proxy provider's client secret)"
                        .into(),
                );
                None
            }
            Some(f) => Secret::from_file(f)
                .map_err(|e| problems.push(format!("--jwt-secret-file {}: {e}", f.display())))
                .ok(),
        };
        let mut required = |flag: &str, value: &Option<String>, example: &str| {
            let v = value.as_deref().map(str::trim).filter(|v| !v.is_empty());
            if v.is_none() {
                problems.push(format!("--auth trusted-headers needs {flag} ({example})"));
            }
            v.map(str::to_owned)
        };
        let issuer = required(
            "--jwt-issuer",
            &self.jwt_issuer,
            "e.g. https://auth.example.com/application/o/ide/",
        );
        let audience = required(
            "--jwt-audience",
            &self.jwt_audience,
            "the provider's client id",
        );
        Some(AuthConfig::TrustedHeaders(TrustedConfig {
            jwt: JwtConfig {
                secret: secret?,
                issuer: issuer?,
                audience: audience?,
            },
            trusted_proxies,
        }))
    }

    fn trusted_proxies(&self, problems: &mut Vec<String>) -> Vec<IpNet> {
        let mut nets = Vec::new();
        for entry in self
            .trusted_proxies
            .iter()
            .map(|e| e.trim())
            .filter(|e| !e.is_empty())
        {
            let parsed = entry
                .parse::<IpNet>()
                .or_else(|_| entry.parse::<std::net::IpAddr>().map(IpNet::from));
            match parsed {
                Ok(net) => nets.push(net.trunc()),
                Err(_) => problems.push(format!(
                    "--trusted-proxies: {entry:?} is not a CIDR (10.0.0.0/8) or an address"
                )),
            }
        }
        nets
    }
}

fn none(listen: SocketAddr, user: Option<&str>, problems: &mut Vec<String>) -> Option<AuthConfig> {
    if !listen.ip().is_loopback() {
        problems.push(format!(
            "--auth none serves every request as one user, so it is only allowed on a loopback \
             --listen address (got {listen}); use 127.0.0.1 or ::1, or --auth authentik"
        ));
    }
    let user_s = user
        .map(str::to_owned)
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "dev".into());
    let user = UserId::new(&user_s)
        .map_err(|e| problems.push(format!("--user: {e}")))
        .ok()?;
    Some(AuthConfig::None { user })
}

/// Checks an outpost URL: `http://host[:port]`, nothing else; returns it without
/// a trailing slash.
fn outpost_url(url: &str) -> Result<String, String> {
    let uri: Uri = url.parse().map_err(|e| format!("{url:?}: {e}"))?;
    let ok = uri.scheme_str() == Some("http")
        && uri.authority().is_some_and(|a| !a.as_str().contains('@'))
        && matches!(uri.path(), "" | "/")
        && uri.query().is_none();
    if !ok {
        return Err(format!(
            "expected http://host[:port] of the outpost's in-cluster service (got {url:?})"
        ));
    }
    Ok(url.trim_end_matches('/').to_owned())
}

#[cfg(test)]
#[path = "auth/tests.rs"]
mod tests;
