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
        if mode == Mode::Off && !self.sandbox_egress_allow.is_empty() {
            problems.push(
                "--sandbox-egress-allow has no effect with --sandbox-egress off (nothing is \
                 reached); drop one of them"
                    .into(),
            );
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Flags {
        #[command(flatten)]
        egress: EgressArgs,
    }

    fn validate(argv: &[&str], sandboxed: bool) -> (Policy, Vec<String>) {
        let flags = Flags::try_parse_from([&["dcs-proxy"], argv].concat()).expect("parses");
        let mut problems = Vec::new();
        let policy = flags.egress.validate(sandboxed, &mut problems);
        (policy, problems)
    }

    #[test]
    fn public_by_default_and_allow_entries_repeat_or_come_comma_separated() {
        let (policy, problems) = validate(&[], true);
        assert_eq!((policy, problems), (Policy::default(), vec![]));
        let (policy, problems) = validate(
            &[
                "--sandbox-egress-allow",
                "10.20.0.0/16,10.0.0.5:443",
                "--sandbox-egress-allow",
                "[fd00::1]:3128",
            ],
            true,
        );
        assert!(problems.is_empty(), "{problems:?}");
        let shown: Vec<String> = policy.allow.iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["10.20.0.0/16", "10.0.0.5:443", "[fd00::1]:3128"]);
        assert_eq!(
            validate(&["--sandbox-egress", "off"], true).0.mode,
            Mode::Off
        );
    }

    #[test]
    fn every_mistake_is_a_problem_naming_the_flag() {
        let (_, problems) = validate(
            &[
                "--sandbox-egress",
                "all",
                "--sandbox-egress-allow",
                "10.0.0.0/33",
            ],
            true,
        );
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(
            problems[0].starts_with("--sandbox-egress: "),
            "{problems:?}"
        );
        assert!(
            problems[1].starts_with("--sandbox-egress-allow \"10.0.0.0/33\": "),
            "{problems:?}"
        );
        let (_, problems) = validate(
            &[
                "--sandbox-egress",
                "off",
                "--sandbox-egress-allow",
                "10.0.0.1",
            ],
            true,
        );
        assert!(
            problems.iter().any(|p| p.contains("no effect")),
            "{problems:?}"
        );
    }

    #[test]
    fn without_a_sandbox_changed_flags_are_a_problem_and_defaults_are_not() {
        assert!(validate(&[], false).1.is_empty());
        for argv in [
            &["--sandbox-egress", "off"][..],
            &["--sandbox-egress-allow", "10.0.0.0/8"][..],
        ] {
            let (_, problems) = validate(argv, false);
            assert!(
                problems.iter().any(|p| p.contains("sandboxed local")),
                "{argv:?}: {problems:?}"
            );
        }
    }
}
