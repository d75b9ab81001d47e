//! Repository access policy: which signed-in people may open which repositories.
//!
//! Loaded once at start-up from a YAML file (`--policy`, format in `docs/policy.md`),
//! validated with every problem listed, then consulted for each workspace request
//! with the caller's groups and the `owner/repo` being opened. Pure: no I/O after
//! [`Policy::load`].
//!
//! Decision order:
//! 1. a caller in any of `admin_groups` → allowed (rule `admin_groups`);
//! 2. the rules, in file order: a rule applies when one of its `groups` is one of
//!    the caller's (or it lists `"*"`); in an applying rule a matching `deny`
//!    pattern denies, else a matching `allow` pattern allows; the first rule that
//!    decides wins;
//! 3. nothing decided → `default` (rule `default`).
//!
//! Patterns are regular expressions (the `regex` crate's syntax) matched against the
//! whole `owner/repo`: each is wrapped as `\A(?:…)\z`, so `acme/.*` matches
//! `acme/web` but neither `xacme/web` nor `acme/web` inside a longer name. Matching
//! ignores case, as GitHub and the rest of the product do (`deny acme/secrets`
//! also denies `ACME/Secrets`). Group names match exactly.
//!
//! # Layout
//! - this file: [`Policy`], [`Decision`] and the decision procedure.
//! - `file`: the YAML format and its validation (every problem, with line numbers).

mod file;

#[cfg(test)]
mod tests;

use std::path::Path;

use dcs_model::RepoRef;
use regex::RegexSet;
use sha2::Digest;

/// Rule name reported when an admin group decided.
pub const ADMIN_RULE: &str = "admin_groups";
/// Rule name reported when no rule decided and the default applied.
pub const DEFAULT_RULE: &str = "default";
/// The group wildcard: a rule listing it applies to every signed-in user.
pub const ANY_GROUP: &str = "*";

/// The outcome of [`Policy::decide`], naming the rule that decided (shown on the 403
/// page and in the access log). It borrows the rule's name from the policy: it is
/// made for every request to a workspace of a repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision<'a> {
    /// The caller may open the repository.
    Allow {
        /// The deciding rule: a rule name, [`ADMIN_RULE`] or [`DEFAULT_RULE`].
        rule: &'a str,
    },
    /// The caller may not open the repository.
    Deny {
        /// The deciding rule: a rule name or [`DEFAULT_RULE`].
        rule: &'a str,
    },
}

impl Decision<'_> {
    /// Whether access is granted.
    pub fn is_allowed(&self) -> bool {
        matches!(self, Decision::Allow { .. })
    }

    /// The name of the rule that decided.
    pub fn rule(&self) -> &str {
        match self {
            Decision::Allow { rule } | Decision::Deny { rule } => rule,
        }
    }
}

/// What the `default` key says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Open the repository.
    Allow,
    /// Refuse with 403.
    Deny,
}

/// A validated access policy. Build it with [`Policy::load`], [`Policy::parse`] or
/// [`Policy::allow_all`].
#[derive(Debug, Clone)]
pub struct Policy {
    /// Applied when no admin group and no rule decided.
    default: Effect,
    /// Members of any of these groups may open every repository.
    admin_groups: Vec<String>,
    /// Ordered rules; the first that decides wins.
    rules: Vec<Rule>,
    /// [`Policy::fingerprint`], computed once.
    fingerprint: String,
}

/// One validated rule.
#[derive(Debug, Clone)]
struct Rule {
    /// Unique name, reported in decisions.
    name: String,
    /// The rule applies to callers in any of these groups (or everyone with `*`).
    groups: Vec<String>,
    /// Anchored deny patterns, checked first.
    deny: RegexSet,
    /// Anchored allow patterns.
    allow: RegexSet,
}

impl Rule {
    fn applies_to(&self, groups: &[String]) -> bool {
        self.groups
            .iter()
            .any(|g| g == ANY_GROUP || groups.contains(g))
    }
}

impl Policy {
    /// Reads and validates the policy file at `path`. On failure returns every problem
    /// found, each prefixed with `<path>:<line>:<column>:` where a location is known.
    pub fn load(path: &Path) -> Result<Policy, Vec<String>> {
        let shown = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|e| vec![format!("{shown}: cannot read: {e}")])?;
        let text = String::from_utf8(bytes)
            .map_err(|_| vec![format!("{shown}: the policy file is not valid UTF-8")])?;
        Self::parse(&text, &shown)
    }

    /// Validates policy text; `file` is the name used in problem messages. Never panics,
    /// whatever the input (fuzzed).
    pub fn parse(text: &str, file: &str) -> Result<Policy, Vec<String>> {
        file::parse(text, file)
    }

    /// The policy used when none is configured (`--auth none` without `--policy`):
    /// everyone may open everything, by the default.
    pub fn allow_all() -> Policy {
        Policy::new(Effect::Allow, Vec::new(), Vec::new())
    }

    /// The policy of these parts, with its fingerprint.
    fn new(default: Effect, admin_groups: Vec<String>, rules: Vec<Rule>) -> Policy {
        let parts = serde_json::json!([
            matches!(default, Effect::Allow),
            admin_groups,
            rules
                .iter()
                .map(|r| (&r.name, &r.groups, r.deny.patterns(), r.allow.patterns()))
                .collect::<Vec<_>>(),
        ]);
        let digest = sha2::Sha256::digest(parts.to_string().as_bytes());
        let fingerprint = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
        Policy {
            default,
            admin_groups,
            rules,
            fingerprint,
        }
    }

    /// A digest of everything a decision depends on besides the caller (the default,
    /// the admin groups, the rules in order): the same for the same policy on every
    /// replica and after a restart, another when any decision may differ. A preview
    /// host's cookie carries the one it was allowed under.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Decides whether a caller in `groups` may open `repo`.
    pub fn decide(&self, groups: &[String], repo: &RepoRef) -> Decision<'_> {
        if self.admin_groups.iter().any(|g| groups.contains(g)) {
            return Decision::Allow { rule: ADMIN_RULE };
        }
        // `owner/repo` as `Display` writes it, without a copy (every request).
        let subject = repo.as_str();
        for rule in self.rules.iter().filter(|r| r.applies_to(groups)) {
            if rule.deny.is_match(subject) {
                return Decision::Deny { rule: &rule.name };
            }
            if rule.allow.is_match(subject) {
                return Decision::Allow { rule: &rule.name };
            }
        }
        let rule = DEFAULT_RULE;
        match self.default {
            Effect::Allow => Decision::Allow { rule },
            Effect::Deny => Decision::Deny { rule },
        }
    }

    /// [`Self::decide`] as the one refusal every way of opening or starting a
    /// workspace gives: `Forbidden`, naming `who` and the deciding rule.
    pub fn require(
        &self,
        who: &str,
        groups: &[String],
        repo: &RepoRef,
    ) -> crate::error::Result<()> {
        let decision = self.decide(groups, repo);
        if decision.is_allowed() {
            return Ok(());
        }
        Err(crate::error::Error::Forbidden(format!(
            "{who} may not open {repo}: denied by the access policy (rule \"{}\")",
            decision.rule()
        )))
    }

    /// The effect applied when nothing else decides.
    pub fn default_effect(&self) -> Effect {
        self.default
    }

    /// The rule names, in evaluation order (for start-up logging).
    pub fn rule_names(&self) -> impl Iterator<Item = &str> {
        self.rules.iter().map(|r| r.name.as_str())
    }
}
