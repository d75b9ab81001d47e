//! `customizations`: the extensions to install, and what of it is not applied.

use super::super::customizations::{valid_id, MAX_EXTENSIONS};
use super::super::*;

#[test]
fn extensions_are_read_in_order_once_each_and_exclusions_are_ignored() {
    let config = parse(
        r#"{
            "customizations": {
                "vscode": {
                    "extensions": [
                        "ms-python.python",
                        "dbaeumer.vscode-eslint@2.4.4",
                        "-ms-vscode.cpptools",
                        "MS-Python.Python",
                        " rust-lang.rust-analyzer ",
                    ],
                },
            },
        }"#,
    )
    .expect("JSONC");
    assert_eq!(
        config.extensions,
        vec![
            "ms-python.python",
            "dbaeumer.vscode-eslint@2.4.4",
            "rust-lang.rust-analyzer"
        ]
    );
    assert!(config.not_applied.is_empty(), "{:?}", config.not_applied);
    assert!(config.problems.is_empty(), "{:?}", config.problems);
    assert!(
        config.wants_anything(),
        "extensions alone are something to apply"
    );
}

#[test]
fn other_customizations_are_not_applied_and_wrong_shapes_are_problems() {
    let config = parse(
        r#"{
            "customizations": {
                "vscode": { "settings": {"a": 1}, "extensions": ["ok.one", "no-dot", "a.b c", 3, "a.b@", "a.b@-1", ".x", "x."] },
                "jetbrains": {}
            }
        }"#,
    )
    .expect("JSON");
    assert_eq!(config.extensions, vec!["ok.one"]);
    assert_eq!(
        config.not_applied,
        vec!["customizations.vscode.settings", "customizations.jetbrains"]
    );
    let bad = |id: &str| {
        format!("customizations.vscode.extensions: {id:?} is not an extension id (publisher.name or publisher.name@version)")
    };
    assert_eq!(
        config.problems,
        vec![
            bad("no-dot"),
            bad("a.b c"),
            "customizations.vscode.extensions: expected an array of strings".to_owned(),
            bad("a.b@"),
            bad("a.b@-1"),
            bad(".x"),
            bad("x."),
        ]
    );
    for (text, problem) in [
        (
            r#"{"customizations": []}"#,
            "customizations: expected an object",
        ),
        (
            r#"{"customizations": {"vscode": "x"}}"#,
            "customizations.vscode: expected an object",
        ),
        (
            r#"{"customizations": {"vscode": {"extensions": "a.b"}}}"#,
            "customizations.vscode.extensions: expected an array of strings",
        ),
    ] {
        let config = parse(text).expect("JSON");
        assert_eq!(config.problems, vec![problem], "{text}");
        assert!(config.extensions.is_empty() && config.not_applied.is_empty());
    }
    let config = parse(r#"{"customizations": {"vscode": {"extensions": null}}}"#).expect("JSON");
    assert!(config.problems.is_empty() && !config.wants_anything());
}

#[test]
fn the_list_is_bounded() {
    let ids: Vec<String> = (0..MAX_EXTENSIONS + 5)
        .map(|i| format!("\"p.e{i}\""))
        .collect();
    let text = format!(
        r#"{{"customizations": {{"vscode": {{"extensions": [{}]}}}}}}"#,
        ids.join(",")
    );
    let config = parse(&text).expect("JSON");
    assert_eq!(config.extensions.len(), MAX_EXTENSIONS);
    assert_eq!(
        config.problems,
        vec![format!(
            "customizations.vscode.extensions: more than {MAX_EXTENSIONS} extensions; the rest are not installed"
        )]
    );
}

#[test]
fn valid_ids() {
    for ok in [
        "a.b",
        "ms-python.python",
        "GitHub.copilot-chat",
        "a1.b2@1.2.3",
        "x.y@1.0.0-beta+7",
    ] {
        assert!(valid_id(ok), "{ok:?}");
    }
    for bad in [
        "",
        "a",
        "a.",
        ".b",
        "-a.b",
        "a.-b",
        "a.b.c",
        "a_b.c",
        "a.b@",
        "a.b@.1",
        "a.b@1 2",
        "a.b@1@2",
        "a/b.c",
        "a.b\n",
        &format!("a.{}", "b".repeat(300)),
        // A file the repository ships, not an id: the IDE would install it.
        "a.vsix",
        "a.VSIX",
        "ms-python.python@2024.1.vsix",
        "ms-python.python@2024.1.Vsix",
    ] {
        assert!(!valid_id(bad), "{bad:?}");
    }
}
