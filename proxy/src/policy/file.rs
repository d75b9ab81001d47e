//! The policy file format (YAML, parsed with `serde-saphyr`) and its validation.
//!
//! Parsing happens in two steps. First the text is read into span-carrying raw types
//! (`deny_unknown_fields`): a YAML syntax error or a wrong shape (unknown key, a
//! string where a list belongs) stops here with one problem, since the rest of the
//! file cannot be read reliably. Then every semantic problem is collected (missing
//! or duplicate names, empty groups, invalid patterns, …), so an operator fixes them
//! all in one round. Each problem reads `<file>:<line>:<column>: <what>`.

use std::collections::HashMap;

use regex::{Regex, RegexSet, RegexSetBuilder};
use serde::Deserialize;
use serde_saphyr::{DefaultMessageFormatter, Location, MessageFormatter, Spanned};

use super::{Effect, Policy, Rule, ADMIN_RULE, ANY_GROUP, DEFAULT_RULE};

#[cfg(test)]
mod tests;

/// The file as written, with source locations.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    default: Option<Spanned<RawEffect>>,
    #[serde(default)]
    admin_groups: Vec<Spanned<String>>,
    #[serde(default)]
    rules: Vec<Spanned<RawRule>>,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum RawEffect {
    Allow,
    Deny,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    name: Option<Spanned<String>>,
    groups: Option<Spanned<Vec<Spanned<String>>>>,
    #[serde(default)]
    allow: Vec<Spanned<String>>,
    #[serde(default)]
    deny: Vec<Spanned<String>>,
}

/// Collects problems, each prefixed with the file and a location when one is known.
struct Problems<'a> {
    file: &'a str,
    /// `(line, column, message)`; line 0 when the location is unknown.
    list: Vec<(u64, u64, String)>,
}

impl Problems<'_> {
    fn at(&mut self, loc: Location, what: impl std::fmt::Display) {
        let msg = if loc.line() == 0 {
            format!("{}: {what}", self.file)
        } else {
            format!("{}:{}:{}: {what}", self.file, loc.line(), loc.column())
        };
        self.list.push((loc.line(), loc.column(), msg));
    }

    /// The messages in source order (file-level problems first).
    fn into_sorted(mut self) -> Vec<String> {
        self.list.sort_by_key(|(line, column, _)| (*line, *column));
        self.list.into_iter().map(|(_, _, msg)| msg).collect()
    }
}

/// Parses and validates `text`; `file` names the source in messages.
pub(super) fn parse(text: &str, file: &str) -> Result<Policy, Vec<String>> {
    if text.trim().is_empty() {
        return Err(vec![format!(
            "{file}: the policy file is empty; `default: allow` or `default: deny` is required"
        )]);
    }
    let options = serde_saphyr::options! {
        strict_booleans: true,
        reject_unsupported_tags: true,
        with_snippet: false,
    };
    let raw: RawPolicy = serde_saphyr::from_str_with_options(text, options)
        .map_err(|e| vec![yaml_problem(file, &e)])?;
    let mut problems = Problems {
        file,
        list: Vec::new(),
    };
    match validate(raw, &mut problems) {
        Some(policy) if problems.list.is_empty() => Ok(policy),
        _ => Err(problems.into_sorted()),
    }
}

/// One line for a YAML syntax or shape error: `<file>:<line>:<column>: <message>`.
fn yaml_problem(file: &str, err: &serde_saphyr::Error) -> String {
    let inner = err.without_snippet();
    // The formatter's text may quote the input: keep the problem on one line.
    let message: String = DefaultMessageFormatter
        .format_message(inner)
        .chars()
        .flat_map(char::escape_debug)
        .collect();
    match err.location().filter(|l| l.line() > 0) {
        Some(l) => format!("{file}:{}:{}: {message}", l.line(), l.column()),
        None => format!("{file}: {message}"),
    }
}

fn validate(raw: RawPolicy, problems: &mut Problems<'_>) -> Option<Policy> {
    let default = match &raw.default {
        Some(d) => Some(match d.value {
            RawEffect::Allow => Effect::Allow,
            RawEffect::Deny => Effect::Deny,
        }),
        None => {
            problems.at(
                Location::UNKNOWN,
                "`default` is required: `default: allow` or `default: deny`",
            );
            None
        }
    };
    let admin_groups = raw
        .admin_groups
        .into_iter()
        .filter_map(|g| {
            if g.value.trim().is_empty() {
                problems.at(g.referenced, "admin_groups: empty group name");
                None
            } else if g.value == ANY_GROUP {
                problems.at(
                    g.referenced,
                    "admin_groups: \"*\" would make everyone an admin; use `default: allow` instead",
                );
                None
            } else {
                Some(g.value)
            }
        })
        .collect();
    let mut seen: HashMap<String, u64> = HashMap::new();
    let rules: Vec<Rule> = raw
        .rules
        .into_iter()
        .enumerate()
        .filter_map(|(i, rule)| validate_rule(i, rule, &mut seen, problems))
        .collect();
    Some(Policy::new(default?, admin_groups, rules))
}

/// Validates one rule; `None` when it has problems (they are recorded).
fn validate_rule(
    index: usize,
    rule: Spanned<RawRule>,
    seen: &mut HashMap<String, u64>,
    problems: &mut Problems<'_>,
) -> Option<Rule> {
    let before = problems.list.len();
    let at = rule.referenced;
    let raw = rule.value;
    let numbered = format!("rule #{}", index + 1);
    let name = match raw.name {
        None => {
            problems.at(at, format!("{numbered}: `name` is required"));
            String::new()
        }
        Some(n) => {
            let shown = format!("{:?}", n.value);
            if n.value.trim().is_empty() {
                problems.at(n.referenced, format!("{numbered}: empty name"));
            } else if n.value.chars().any(char::is_control) {
                problems.at(
                    n.referenced,
                    format!("rule {shown}: control characters in the name"),
                );
            } else if n.value == DEFAULT_RULE || n.value == ADMIN_RULE {
                problems.at(
                    n.referenced,
                    format!("rule {shown}: the name is reserved (decisions report it)"),
                );
            } else if let Some(first) = seen.get(&n.value) {
                problems.at(
                    n.referenced,
                    format!("rule {shown}: duplicate name (first used on line {first})"),
                );
            } else {
                seen.insert(n.value.clone(), n.referenced.line());
            }
            n.value
        }
    };
    let label = if name.trim().is_empty() {
        numbered
    } else {
        format!("rule {name:?}")
    };
    let groups = match raw.groups {
        None => {
            problems.at(
                at,
                format!("{label}: `groups` is required (use [\"*\"] for everyone)"),
            );
            Vec::new()
        }
        Some(g) if g.value.is_empty() => {
            problems.at(
                g.referenced,
                format!("{label}: `groups` is empty, so the rule never applies"),
            );
            Vec::new()
        }
        Some(g) => g
            .value
            .into_iter()
            .filter_map(|g| {
                if g.value.trim().is_empty() {
                    problems.at(g.referenced, format!("{label}: empty group name"));
                    None
                } else {
                    Some(g.value)
                }
            })
            .collect(),
    };
    if raw.allow.is_empty() && raw.deny.is_empty() {
        problems.at(at, format!("{label}: neither `allow` nor `deny` patterns"));
    }
    let deny = compile(&raw.deny, &label, at, problems);
    let allow = compile(&raw.allow, &label, at, problems);
    if problems.list.len() > before {
        return None;
    }
    Some(Rule {
        name,
        groups,
        deny: deny?,
        allow: allow?,
    })
}

/// Checks each pattern on its own (so a stray `)` cannot escape the anchors), then
/// compiles the anchored set.
fn compile(
    patterns: &[Spanned<String>],
    label: &str,
    at: Location,
    problems: &mut Problems<'_>,
) -> Option<RegexSet> {
    let mut ok = true;
    for p in patterns {
        let problem = if p.value.is_empty() {
            Some("an empty pattern never matches an owner/repo".to_owned())
        } else {
            Regex::new(&p.value).err().map(|e| regex_problem(&e))
        };
        if let Some(why) = problem {
            problems.at(
                p.referenced,
                format!("{label}: invalid pattern {:?}: {why}", p.value),
            );
            ok = false;
        }
    }
    if !ok {
        return None;
    }
    let anchored = patterns.iter().map(|p| format!(r"\A(?:{})\z", p.value));
    // Owners and repository names are case-insensitive (as on GitHub).
    match RegexSetBuilder::new(anchored)
        .case_insensitive(true)
        .build()
    {
        Ok(set) => Some(set),
        Err(e) => {
            problems.at(at, format!("{label}: patterns: {}", regex_problem(&e)));
            None
        }
    }
}

/// The regex crate's message on one line (its syntax errors draw a caret diagram).
fn regex_problem(err: &regex::Error) -> String {
    match err {
        regex::Error::Syntax(text) => text
            .lines()
            .rev()
            .find_map(|l| l.strip_prefix("error: "))
            .unwrap_or(text)
            .to_owned(),
        regex::Error::CompiledTooBig(limit) => {
            format!("the compiled pattern is larger than the limit of {limit} bytes")
        }
        other => other.to_string(),
    }
}
