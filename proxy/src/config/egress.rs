//! Where sandboxed local workspaces may connect (`--sandbox-egress`,
//! `--sandbox-egress-allow`): the [`Policy`] of the forward proxy each sandbox gets
//! as its only way out ([`crate::egress`], [`crate::runtime::local::egress_socket`]).
//! Unsandboxed and Knative workspaces use the network they have (Knative's is shaped
//! by its NetworkPolicy), so the flags apply to sandboxes only.

use clap::Args;

use crate::egress::{Allow, Mode, Policy};

/// The egress flags.
#[derive(Debug, Clone, Default, Args)]
pub struct EgressArgs {
    /// Local sandboxes: where their processes may connect, through the proxy (set
    /// for them as `HTTP_PROXY`/`HTTPS_PROXY`). `public`: public internet addresses
    /// (git push, package registries), never loopback, private, link-local (cloud
    /// metadata) or other reserved ones; `off`: nowhere.
    #[arg(long, env = "DCS_PROXY_SANDBOX_EGRESS", default_value = "public")]
    pub sandbox_egress: String,
    /// Local sandboxes: addresses or networks they may reach besides public ones,
    /// optionally on one port (an internal mirror: `10.20.0.0/16`,
    /// `127.0.0.1:3128`, `[fd00::1]:443`); repeatable or comma-separated.
    #[arg(long, env = "DCS_PROXY_SANDBOX_EGRESS_ALLOW", value_delimiter = ',')]
    pub sandbox_egress_allow: Vec<String>,
}

impl EgressArgs {
    /// The policy, adding every problem to `problems` (naming the flag and value);
    /// flags changed without a sandbox (`sandboxed` false) are a problem too, since
    /// they would change nothing.
    pub fn validate(&self, sandboxed: bool, problems: &mut Vec<String>) -> Policy {
        if !sandboxed && (self.sandbox_egress != "public" || !self.sandbox_egress_allow.is_empty())
        {
            problems.push(
                "--sandbox-egress and --sandbox-egress-allow apply to sandboxed local \
                 workspaces only (--sandbox, or any --auth but none); these run with the \
                 network they have"
                    .into(),
            );
        }
        let mode = self.sandbox_egress.parse::<Mode>().unwrap_or_else(|e| {
            problems.push(format!("--sandbox-egress: {e}"));
            Mode::default()
        });
        let allow = self
            .sandbox_egress_allow
            .iter()
            .filter_map(|entry| {
                entry
                    .parse::<Allow>()
                    .map_err(|e| problems.push(format!("--sandbox-egress-allow {entry:?}: {e}")))
                    .ok()
            })
            .collect();
        Policy { mode, allow }
    }
}
