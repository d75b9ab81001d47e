//! Decision semantics: admin override, rule order, deny before allow, anchoring,
//! the wildcard group, the default, and the shipped example policy.

use super::*;

fn policy(text: &str) -> Policy {
    match Policy::parse(text, "test.yaml") {
        Ok(p) => p,
        Err(problems) => panic!("policy should load: {problems:#?}"),
    }
}

fn repo(s: &str) -> RepoRef {
    RepoRef::parse(s).expect("valid repo in test")
}

fn groups(gs: &[&str]) -> Vec<String> {
    gs.iter().map(|g| (*g).to_owned()).collect()
}

fn allow(rule: &str) -> Decision<'_> {
    Decision::Allow { rule }
}

fn deny(rule: &str) -> Decision<'_> {
    Decision::Deny { rule }
}

const TEAM: &str = r#"
default: deny
admin_groups: [dcs-admins]
rules:
  - name: platform-team
    groups: [platform]
    allow: ["acme/.*", "acme-infra/(terraform|charts)"]
    deny: ["acme/secrets"]
  - name: everyone-public
    groups: ["*"]
    allow: ["public-org/.*"]
"#;

#[test]
fn first_matching_rule_decides_and_deny_beats_allow_within_it() {
    let p = policy(TEAM);
    let platform = groups(&["platform"]);
    assert_eq!(
        p.decide(&platform, &repo("acme/web")),
        allow("platform-team")
    );
    assert_eq!(
        p.decide(&platform, &repo("acme/secrets")),
        deny("platform-team")
    );
    assert_eq!(
        p.decide(&platform, &repo("acme-infra/charts")),
        allow("platform-team")
    );
    assert_eq!(
        p.decide(&platform, &repo("public-org/x")),
        allow("everyone-public")
    );
    assert_eq!(p.decide(&platform, &repo("other/x")), deny(DEFAULT_RULE));
}

#[test]
fn rules_for_other_groups_do_not_apply() {
    let p = policy(TEAM);
    let dev = groups(&["dcs-users", "developers"]);
    assert_eq!(p.decide(&dev, &repo("acme/web")), deny(DEFAULT_RULE));
    assert_eq!(
        p.decide(&dev, &repo("public-org/site")),
        allow("everyone-public")
    );
    assert_eq!(
        p.decide(&[], &repo("public-org/site")),
        allow("everyone-public")
    );
}

#[test]
fn patterns_are_anchored_at_both_ends() {
    let p = policy(TEAM);
    let platform = groups(&["platform"]);
    // `acme/.*` must not match a longer owner ending in "acme" …
    assert_eq!(p.decide(&platform, &repo("xacme/web")), deny(DEFAULT_RULE));
    assert_eq!(
        p.decide(&platform, &repo("evil-acme/web")),
        deny(DEFAULT_RULE)
    );
    // … `acme/secrets` must not match a longer name starting with it …
    assert_eq!(
        p.decide(&platform, &repo("acme/secrets-public")),
        allow("platform-team")
    );
    // … and an alternation stays inside the anchors.
    assert_eq!(
        p.decide(&platform, &repo("acme-infra/terraform2")),
        deny(DEFAULT_RULE)
    );
    assert_eq!(
        p.decide(&platform, &repo("acme-infra/xcharts")),
        deny(DEFAULT_RULE)
    );
}

#[test]
fn top_level_alternation_cannot_escape_the_anchors() {
    let p =
        policy("default: deny\nrules:\n  - name: r\n    groups: ['*']\n    allow: ['a/b|c/d']\n");
    assert!(p.decide(&[], &repo("a/b")).is_allowed());
    assert!(p.decide(&[], &repo("c/d")).is_allowed());
    assert!(!p.decide(&[], &repo("a/bc")).is_allowed());
    assert!(!p.decide(&[], &repo("xc/d")).is_allowed());
    assert!(!p.decide(&[], &repo("xa/b")).is_allowed());
    assert!(!p.decide(&[], &repo("c/dx")).is_allowed());
    // Inline multi-line mode inside a pattern does not loosen the outer anchors.
    let p = policy(
        "default: deny\nrules:\n  - name: r\n    groups: ['*']\n    allow: ['(?m)^acme/x$']\n",
    );
    assert!(p.decide(&[], &repo("acme/x")).is_allowed());
    assert!(!p.decide(&[], &repo("acme/xy")).is_allowed());
}

#[test]
fn repositories_match_whatever_their_case_and_groups_exactly() {
    let p = policy(TEAM);
    let platform = groups(&["platform"]);
    assert_eq!(
        p.decide(&platform, &repo("Acme/web")),
        p.decide(&platform, &repo("acme/web"))
    );
    // The shipped example: `deny acme/secrets` denies every spelling of it.
    let p2 = policy(
        "default: allow\nrules:\n  - name: secrets\n    groups: ['*']\n    deny: ['acme/secrets']\n",
    );
    for spelling in ["acme/secrets", "acme/SECRETS", "ACME/Secrets"] {
        assert_eq!(
            p2.decide(&[], &repo(spelling)),
            deny("secrets"),
            "{spelling}"
        );
    }
    // Group names are case-sensitive.
    assert_eq!(
        p.decide(&groups(&["Platform"]), &repo("acme/web")),
        deny(DEFAULT_RULE)
    );
    let p = policy(
        "default: deny\nrules:\n  - name: r\n    groups: ['*']\n    allow: ['(?i)acme/.*']\n",
    );
    assert_eq!(p.decide(&[], &repo("ACME/Web")), allow("r"));
}

#[test]
fn admin_groups_override_every_rule_and_the_default() {
    let p = policy(TEAM);
    let admin = groups(&["platform", "dcs-admins"]);
    assert_eq!(p.decide(&admin, &repo("acme/secrets")), allow(ADMIN_RULE));
    assert_eq!(p.decide(&admin, &repo("anything/else")), allow(ADMIN_RULE));
}

#[test]
fn earlier_rule_wins_over_a_later_one() {
    let p = policy(
        r#"
default: allow
rules:
  - name: lock-down
    groups: ["*"]
    deny: ["acme/.*"]
  - name: never-reached-for-acme
    groups: [platform]
    allow: ["acme/.*"]
"#,
    );
    assert_eq!(
        p.decide(&groups(&["platform"]), &repo("acme/web")),
        deny("lock-down")
    );
    assert_eq!(p.decide(&[], &repo("other/web")), allow(DEFAULT_RULE));
}

#[test]
fn a_rule_that_matches_nothing_falls_through_to_the_next() {
    let p = policy(
        r#"
default: deny
rules:
  - name: only-deny
    groups: [platform]
    deny: ["acme/secrets"]
  - name: then-allow
    groups: [platform]
    allow: ["acme/.*"]
"#,
    );
    let platform = groups(&["platform"]);
    assert_eq!(p.decide(&platform, &repo("acme/web")), allow("then-allow"));
    assert_eq!(
        p.decide(&platform, &repo("acme/secrets")),
        deny("only-deny")
    );
}

#[test]
fn allow_all_allows_everyone_by_default() {
    let p = Policy::allow_all();
    assert_eq!(p.decide(&[], &repo("any/thing")), allow(DEFAULT_RULE));
    assert_eq!(p.default_effect(), Effect::Allow);
    assert_eq!(p.rule_names().count(), 0);
}

#[test]
fn decision_accessors() {
    assert!(allow("x").is_allowed());
    assert!(!deny("x").is_allowed());
    assert_eq!(deny("y").rule(), "y");
}

#[test]
fn shipped_example_policy_loads_and_denies_by_default() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../authentik/policy.example.yaml");
    let p = match Policy::load(&path) {
        Ok(p) => p,
        Err(problems) => panic!("example policy: {problems:#?}"),
    };
    assert_eq!(p.default_effect(), Effect::Deny);
    assert_eq!(
        p.rule_names().collect::<Vec<_>>(),
        [
            "platform-team",
            "contractors-readme-only",
            "everyone-public"
        ]
    );
    let platform = groups(&["dcs-users", "platform"]);
    assert_eq!(
        p.decide(&platform, &repo("acme/web")),
        allow("platform-team")
    );
    assert_eq!(
        p.decide(&platform, &repo("acme/secrets")),
        deny("platform-team")
    );
    assert_eq!(
        p.decide(&platform, &repo("acme/billing-private")),
        deny("platform-team")
    );
    let user = groups(&["dcs-users"]);
    assert_eq!(p.decide(&user, &repo("acme/web")), deny(DEFAULT_RULE));
    assert_eq!(
        p.decide(&user, &repo("opensource/lib")),
        allow("everyone-public")
    );
    assert_eq!(
        p.decide(&groups(&["dcs-admins"]), &repo("acme/secrets")),
        allow(ADMIN_RULE)
    );
}

#[test]
fn load_reports_a_missing_file_by_name() {
    let Err(problems) = Policy::load(Path::new("/nonexistent/policy.yaml")) else {
        panic!("a missing file must not load");
    };
    assert_eq!(problems.len(), 1);
    assert!(
        problems[0].starts_with("/nonexistent/policy.yaml: cannot read:"),
        "{problems:?}"
    );
}

#[test]
fn the_fingerprint_follows_what_decides_not_how_it_is_written() {
    let a = policy("default: allow\nrules:\n  - name: r\n    groups: [g]\n    deny: [acme/x]\n");
    let same = policy(
        "# the same\ndefault:   allow\nrules: [{name: r, groups: [g], deny: [\"acme/x\"]}]\n",
    );
    assert_eq!(a.fingerprint(), same.fingerprint());
    assert_eq!(a.fingerprint().len(), 32);
    for other in [
        "default: deny\nrules:\n  - name: r\n    groups: [g]\n    deny: [acme/x]\n",
        "default: allow\nrules:\n  - name: r\n    groups: [g]\n    allow: [acme/x]\n",
        "default: allow\nrules:\n  - name: r\n    groups: [h]\n    deny: [acme/x]\n",
        "default: allow\nadmin_groups: [g]\nrules:\n  - name: r\n    groups: [g]\n    deny: [acme/x]\n",
    ] {
        assert_ne!(a.fingerprint(), policy(other).fingerprint(), "{other}");
    }
    assert_ne!(
        Policy::allow_all().fingerprint(),
        policy("default: deny").fingerprint()
    );
}
