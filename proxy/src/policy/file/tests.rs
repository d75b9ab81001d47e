//! Load errors: every problem listed at once, each with file, line and column.

use super::super::Policy;

fn problems(text: &str) -> Vec<String> {
    match Policy::parse(text, "policy.yaml") {
        Ok(_) => panic!("expected problems for:\n{text}"),
        Err(p) => p,
    }
}

#[test]
fn every_semantic_problem_is_listed_at_once_with_its_line() {
    let text = r#"default: deny
admin_groups: ["", "*"]
rules:
  - name: good
    groups: [a]
    allow: ["acme/.*"]
  - name: bad-regex
    groups: [a]
    allow:
      - "acme/("
      - "ok/.*"
    deny: ["[z-a]"]
  - name: ""
    groups: [a]
    allow: [x/y]
  - name: good
    groups: []
    allow: [x/y]
  - groups: [b, ""]
    allow: [x/y]
  - name: nothing
    groups: [c]
  - name: default
    allow: [""]
"#;
    let got = problems(text);
    let expected = [
        "policy.yaml:2:16: admin_groups: empty group name",
        "policy.yaml:2:20: admin_groups: \"*\" would make everyone an admin; use `default: allow` instead",
        "policy.yaml:10:9: rule \"bad-regex\": invalid pattern \"acme/(\": unclosed group",
        "policy.yaml:12:12: rule \"bad-regex\": invalid pattern \"[z-a]\": invalid character class range, the start must be <= the end",
        "policy.yaml:13:11: rule #3: empty name",
        "policy.yaml:16:11: rule \"good\": duplicate name (first used on line 4)",
        "policy.yaml:17:13: rule \"good\": `groups` is empty, so the rule never applies",
        "policy.yaml:19:5: rule #5: `name` is required",
        "policy.yaml:19:17: rule #5: empty group name",
        "policy.yaml:21:5: rule \"nothing\": neither `allow` nor `deny` patterns",
        "policy.yaml:23:5: rule \"default\": `groups` is required (use [\"*\"] for everyone)",
        "policy.yaml:23:11: rule \"default\": the name is reserved (decisions report it)",
        "policy.yaml:24:13: rule \"default\": invalid pattern \"\": an empty pattern never matches an owner/repo",
    ];
    assert_eq!(got, expected, "got:\n{}", got.join("\n"));
}

#[test]
fn missing_default_is_reported_with_the_other_problems() {
    let got = problems("rules:\n  - name: x\n    groups: []\n    allow: [a/b]\n");
    assert_eq!(
        got,
        [
            "policy.yaml: `default` is required: `default: allow` or `default: deny`",
            "policy.yaml:3:13: rule \"x\": `groups` is empty, so the rule never applies",
        ]
    );
}

#[test]
fn yaml_syntax_error_names_line_and_column() {
    let got = problems("default: deny\nrules:\n  - name: a\n    allow: [x\n");
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(got[0].starts_with("policy.yaml:4:12: "), "{got:?}");
    assert!(got[0].contains("unclosed bracket"), "{got:?}");
}

#[test]
fn unknown_fields_are_rejected_at_every_level() {
    let got = problems("default: deny\nbogus: 1\n");
    assert_eq!(got.len(), 1);
    assert!(
        got[0].starts_with("policy.yaml:2:1: unknown field `bogus`"),
        "{got:?}"
    );
    let got = problems("default: deny\nrules:\n  - name: a\n    groups: ['*']\n    alow: [a/b]\n");
    assert!(
        got[0].starts_with("policy.yaml:5:5: unknown field `alow`"),
        "{got:?}"
    );
}

#[test]
fn wrong_shapes_and_values_are_rejected() {
    for (text, needle) in [
        (
            "default: maybe\n",
            "policy.yaml:1:10: unknown variant `maybe`",
        ),
        ("default: yes\n", "policy.yaml:1:10:"),
        ("default: deny\nrules: {}\n", "policy.yaml:2:8:"),
        ("default: deny\nadmin_groups: admins\n", "policy.yaml:2:15:"),
        ("default: !Allow deny\n", "unsupported tag"),
        ("- default: deny\n", "policy.yaml:1:1:"),
        ("default: deny\ndefault: allow\n", "duplicate mapping key"),
        (
            "default: deny\n---\ndefault: allow\n",
            "multiple YAML documents",
        ),
    ] {
        let got = problems(text);
        assert_eq!(got.len(), 1, "{text:?} → {got:?}");
        assert!(got[0].contains(needle), "{text:?} → {got:?}");
        assert!(!got[0].contains('\n'), "one line per problem: {got:?}");
    }
}

#[test]
fn an_empty_file_says_what_is_required() {
    for text in ["", "  \n# only a comment?\n", "\n"] {
        let got = problems(text);
        assert_eq!(got.len(), 1);
        // A comment-only file is not blank text; either message must name `default`.
        assert!(got[0].starts_with("policy.yaml:"), "{got:?}");
    }
    assert_eq!(
        problems(""),
        ["policy.yaml: the policy file is empty; `default: allow` or `default: deny` is required"]
    );
}

#[test]
fn a_pattern_cannot_close_the_anchoring_group() {
    let got =
        problems("default: deny\nrules:\n  - name: r\n    groups: ['*']\n    allow: ['x)|(.*']\n");
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(
        got[0].starts_with(
            "policy.yaml:5:13: rule \"r\": invalid pattern \"x)|(.*\": unopened group"
        ),
        "{got:?}"
    );
}

#[test]
fn control_characters_in_input_stay_escaped_on_one_line() {
    let got = problems("default: deny\nrules:\n  - name: \"a\\nb\"\n    groups: ['*']\n    allow: [\"x\\u0007(\"]\n");
    assert!(
        got.iter()
            .all(|p| !p.contains('\n') && !p.contains('\u{7}')),
        "{got:?}"
    );
    assert_eq!(got.len(), 2, "{got:?}");
}

#[test]
fn minimal_policy_loads() {
    let p = Policy::parse("default: allow\n", "policy.yaml").expect("minimal policy");
    assert_eq!(p.rule_names().count(), 0);
    let p =
        Policy::parse("default: deny\nrules: []\nadmin_groups: []\n", "p").expect("empty lists");
    assert_eq!(p.default_effect(), super::super::Effect::Deny);
}
