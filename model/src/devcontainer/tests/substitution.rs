//! `${...}` variables ([`substitute`], [`Command::substituted`]) and the environment a
//! workspace applies ([`environment`]).

use super::super::*;

/// The user environment of these tests.
fn user_env(name: &str) -> Option<String> {
    match name {
        "HOME" => Some("/home/ann".to_owned()),
        "EMPTY" => Some(String::new()),
        "LOOP" => Some("${localEnv:HOME}".to_owned()),
        "A" => Some("user-a".to_owned()),
        _ => None,
    }
}

/// `value` substituted within a whole file's budget.
fn sub(value: &str, ctx: &Context) -> String {
    substitute(value, ctx, &mut Budget::default()).expect("small")
}

fn with_ctx<T>(f: impl FnOnce(&Context) -> T) -> T {
    let ctx = Context {
        workspace_folder: "/workspaces/acme/web",
        devcontainer_id: "0123abc",
        env: &user_env,
    };
    f(&ctx)
}

#[test]
fn every_variable_is_substituted() {
    with_ctx(|ctx| {
        let cases = [
            ("${localEnv:HOME}", "/home/ann"),
            ("${env:HOME}", "/home/ann"),
            ("${containerEnv:HOME}", "/home/ann"),
            ("${localEnv:UNSET}", ""),
            ("${containerEnv:UNSET}", ""),
            ("${localEnv:UNSET:fallback}", "fallback"),
            ("${containerEnv:UNSET:fallback}", "fallback"),
            ("${env:UNSET:fallback}", "fallback"),
            ("${localEnv:HOME:fallback}", "/home/ann"),
            // A set but empty variable is not replaced by the default.
            ("${localEnv:EMPTY:fallback}", ""),
            // The default is everything after the second colon.
            ("${localEnv:UNSET:http://proxy:3128}", "http://proxy:3128"),
            ("${localWorkspaceFolder}", "/workspaces/acme/web"),
            ("${containerWorkspaceFolder}", "/workspaces/acme/web"),
            ("${localWorkspaceFolderBasename}", "web"),
            ("${containerWorkspaceFolderBasename}", "web"),
            ("${devcontainerId}", "0123abc"),
            (
                "cd ${containerWorkspaceFolder} && echo ${localEnv:HOME}/x-${devcontainerId}",
                "cd /workspaces/acme/web && echo /home/ann/x-0123abc",
            ),
            ("no variables at all", "no variables at all"),
            ("$HOME and $ {x} stay", "$HOME and $ {x} stay"),
        ];
        for (value, expected) in cases {
            assert_eq!(sub(value, ctx), expected, "{value}");
        }
    });
}

#[test]
fn unknown_or_unterminated_variables_stay_as_written() {
    with_ctx(|ctx| {
        for value in [
            "${unknown}",
            "${localEnv}",
            "${devcontainerId:x}",
            "${localWorkspaceFolder:x}",
            "${}",
            "${localEnv:HOME",
            "tail ${",
            "${{nested}}",
        ] {
            assert_eq!(sub(value, ctx), value, "{value}");
        }
        assert_eq!(sub("${x} ${localEnv:A} ${", ctx), "${x} user-a ${");
        // The first `}` closes the variable, as in VS Code.
        assert_eq!(sub("${a ${localEnv:A}}", ctx), "${a ${localEnv:A}}");
    });
}

#[test]
fn a_substituted_value_is_not_substituted_again() {
    with_ctx(|ctx| {
        assert_eq!(sub("${localEnv:LOOP}", ctx), "${localEnv:HOME}");
        assert_eq!(sub("${localEnv:UNSET:${x}", ctx), "${x");
    });
}

#[test]
fn basename_of_a_folder_with_a_trailing_slash() {
    let ctx = Context {
        workspace_folder: "/workspaces/acme/api/",
        devcontainer_id: "",
        env: &user_env,
    };
    assert_eq!(sub("${localWorkspaceFolderBasename}", &ctx), "api");
    let ctx = Context {
        workspace_folder: "plain",
        ..ctx
    };
    assert_eq!(sub("${containerWorkspaceFolderBasename}", &ctx), "plain");
}

#[test]
fn commands_are_substituted_in_every_string() {
    with_ctx(|ctx| {
        let command = Command::Parallel(vec![
            (
                "${devcontainerId}".into(),
                Command::Shell("cd ${localWorkspaceFolder}".into()),
            ),
            (
                "b".into(),
                Command::Exec(vec!["echo".into(), "${localEnv:A}".into()]),
            ),
        ]);
        assert_eq!(
            command.substituted(ctx, &mut Budget::default()),
            Ok(Command::Parallel(vec![
                // Member names are names, not values: they stay.
                (
                    "${devcontainerId}".into(),
                    Command::Shell("cd /workspaces/acme/web".into())
                ),
                (
                    "b".into(),
                    Command::Exec(vec!["echo".into(), "user-a".into()])
                ),
            ]))
        );
    });
}

#[test]
fn remote_env_sees_container_env_over_the_user_environment() {
    let config = parse(
        r#"{
            "containerEnv": {
                "A": "ce-${containerEnv:A}",
                "B": "${localEnv:HOME}/b",
                "C": "${containerEnv:B}"
            },
            "remoteEnv": {
                "R1": "${containerEnv:A}|${localEnv:A}|${containerEnv:B}",
                "B": "${containerEnv:B}+",
                "R2": "${containerEnv:R1:none}",
                "GONE": null,
                "C": null
            }
        }"#,
    )
    .expect("JSON");
    let env = with_ctx(|ctx| environment(&config, ctx, &mut Budget::default()).expect("small"));
    assert_eq!(
        env.set,
        vec![
            // containerEnv's own ${containerEnv:A} is the user's A.
            ("A".to_owned(), "ce-user-a".to_owned()),
            // remoteEnv replaces in place (order of first appearance).
            ("B".to_owned(), "/home/ann/b+".to_owned()),
            // containerEnv does not see its own earlier entries.
            // (C is removed by remoteEnv: see unset.)
            // remoteEnv sees containerEnv's results; localEnv stays the user's.
            ("R1".to_owned(), "ce-user-a|user-a|/home/ann/b".to_owned()),
            // remoteEnv does not see remoteEnv.
            ("R2".to_owned(), "none".to_owned()),
        ]
    );
    assert_eq!(env.unset, vec!["C".to_owned(), "GONE".to_owned()]);
}

#[test]
fn container_env_alone_and_nothing_at_all() {
    let config = parse(r#"{"containerEnv": {"X": "${containerEnv:Y}", "Y": "1"}}"#).expect("JSON");
    let env = with_ctx(|ctx| environment(&config, ctx, &mut Budget::default()).expect("small"));
    assert_eq!(
        env,
        Environment {
            set: vec![("X".into(), String::new()), ("Y".into(), "1".into())],
            unset: vec![],
        }
    );
    let env = with_ctx(|ctx| {
        environment(&Config::default(), ctx, &mut Budget::default()).expect("small")
    });
    assert_eq!(env, Environment::default());
}
