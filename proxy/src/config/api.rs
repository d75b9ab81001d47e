//! The management API's settings, from the flags: admin groups, whether others
//! than an instance's owner may open it, the bounds of what an instance may ask
//! for, and when the instance cookie is `Secure`.

use dcs_model::api::Bounds;
use dcs_model::Quantity;
use ipnet::IpNet;

use super::auth::AuthConfig;
use super::ServeArgs;

/// Management API settings.
#[derive(Debug, Clone, Default)]
pub struct ApiSettings {
    /// Groups whose members may act for other users.
    pub admin_groups: Vec<String>,
    /// Whether every caller is an admin (`--auth none`: the single local user).
    pub everyone_admin: bool,
    /// `--dangerous-allow-shared-instances`: others than the owner may open an
    /// instance (see [`crate::api::sharing`]).
    pub others_open: bool,
    /// Upper bounds of what an instance may ask for.
    pub bounds: Bounds,
    /// When the instance cookie gets `Secure`.
    pub cookie: CookieSecurity,
}

/// When the instance cookie is marked `Secure`: the public URL is https, or
/// (without a public URL) a trusted peer says `X-Forwarded-Proto: https`.
#[derive(Debug, Clone, Default)]
pub struct CookieSecurity {
    /// `Some(is https)` when `--public-url` is set; it decides alone.
    pub public_https: Option<bool>,
    /// Peers whose `X-Forwarded-Proto` counts (empty: any peer, as for the
    /// auth modes' own use of the header).
    pub trusted_proxies: Vec<IpNet>,
}

impl ServeArgs {
    /// The API settings, adding every problem to `problems`.
    pub(super) fn api(&self, auth: Option<&AuthConfig>, problems: &mut Vec<String>) -> ApiSettings {
        let mut quantity = |flag: &str, value: &str| -> f64 {
            match Quantity::parse(value) {
                Ok(q) if q.value() > 0.0 => q.value(),
                Ok(_) => {
                    problems.push(format!("{flag} must be more than 0"));
                    0.0
                }
                Err(e) => {
                    problems.push(format!("{flag}: {e}"));
                    0.0
                }
            }
        };
        let bounds = Bounds {
            max_cpu: quantity("--max-cpu", &self.max_cpu),
            max_memory: quantity("--max-memory", &self.max_memory),
            max_storage: quantity("--max-storage", &self.max_storage),
            ..Bounds::default()
        };
        let admin_groups: Vec<String> = self
            .admin_groups
            .iter()
            .map(|g| g.trim().to_owned())
            .filter(|g| !g.is_empty())
            .collect();
        let public_https = self
            .auth
            .public_url
            .as_deref()
            .and_then(|u| crate::auth::authentik::PublicUrl::parse(u).ok())
            .map(|p| p.scheme == "https");
        let trusted_proxies = match auth {
            Some(AuthConfig::TrustedHeaders(t)) => t.trusted_proxies.clone(),
            _ => Vec::new(),
        };
        ApiSettings {
            admin_groups,
            everyone_admin: matches!(auth, Some(AuthConfig::None { .. })),
            others_open: self.dangerous_allow_shared_instances,
            bounds,
            cookie: CookieSecurity {
                public_https,
                trusted_proxies,
            },
        }
    }
}
