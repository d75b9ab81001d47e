//! The substitution budget: a file whose variables amplify is refused while it
//! expands (nothing of it materialised past the limits), and a string is bounded at
//! the kernel's `MAX_ARG_STRLEN`.

use super::super::*;

/// `X` is 100 bytes, `BIG` one byte short of the longest string, `WIDE` 100 000 bytes.
fn user_env(name: &str) -> Option<String> {
    match name {
        "X" => Some("x".repeat(100)),
        "BIG" => Some("b".repeat(MAX_STRING_BYTES - 1)),
        "WIDE" => Some("w".repeat(100_000)),
        _ => None,
    }
}

fn with_ctx<T>(f: impl FnOnce(&Context) -> T) -> T {
    let ctx = Context {
        workspace_folder: "/workspaces/acme/web",
        devcontainer_id: "id",
        env: &user_env,
    };
    f(&ctx)
}

#[test]
fn a_string_may_be_as_long_as_a_program_can_be_given_and_no_longer() {
    with_ctx(|ctx| {
        let mut budget = Budget::default();
        let just = substitute("${localEnv:BIG}y", ctx, &mut budget).expect("fits");
        assert_eq!(just.len(), MAX_STRING_BYTES);
        assert_eq!(budget.left(), MAX_TOTAL_BYTES - MAX_STRING_BYTES);
        let over = substitute("${localEnv:BIG}yz", ctx, &mut budget);
        assert_eq!(over, Err(Limit::String));
        // The same in a variable and in a command.
        let config = parse(r#"{"containerEnv": {"A": "${localEnv:BIG}yz"}}"#).expect("JSON");
        let err = environment(&config, ctx, &mut Budget::default()).expect_err("too long");
        assert_eq!(
            err,
            TooLarge {
                at: "containerEnv.A".into(),
                limit: Limit::String
            }
        );
        assert_eq!(
            err.to_string(),
            "containerEnv.A: its variables expand to more than 128 KiB, more than a program \
             can be given"
        );
        let argv = Command::Exec(vec!["echo".into(), "${localEnv:BIG}..".into()]);
        let got = argv.substituted(ctx, &mut Budget::default());
        assert_eq!(got, Err(Limit::String));
    });
}

#[test]
fn variables_that_amplify_are_refused_within_the_budget() {
    // Each remoteEnv value is 1000 × a 100-byte variable (100 000 bytes, under the
    // string limit); 20 of them would be 2 MB.
    let many = "${containerEnv:A}".repeat(1000);
    let remote: Vec<String> = (0..20).map(|i| format!("\"B{i}\": \"{many}\"")).collect();
    let json = format!(
        r#"{{"containerEnv": {{"A": "${{localEnv:X}}"}}, "remoteEnv": {{{}}}}}"#,
        remote.join(", ")
    );
    let config = parse(&json).expect("JSON");
    with_ctx(|ctx| {
        let mut budget = Budget::default();
        let err = environment(&config, ctx, &mut budget).expect_err("amplifies");
        assert_eq!(err.limit, Limit::Total);
        // Stopped at the first value past 1 MiB: B10 (11 × 100 000 > 1 MiB - 100).
        assert_eq!(err.at, "remoteEnv.B10");
        assert!(
            budget.left() < 100_000,
            "spent up to the limit: {}",
            budget.left()
        );
        assert_eq!(
            err.to_string(),
            "its variables expand to more than 1 MiB (reached at remoteEnv.B10)"
        );
    });
    // Commands spend the same budget: 11 members naming a 100 000-byte variable.
    let members = (0..11)
        .map(|i| {
            (
                format!("m{i}"),
                Command::Shell("${containerEnv:WIDE}".into()),
            )
        })
        .collect();
    let parallel = Command::Parallel(members);
    with_ctx(|ctx| {
        assert_eq!(
            parallel.substituted(ctx, &mut Budget::default()),
            Err(Limit::Total)
        );
        // With what is left after the environment, fewer suffice.
        let mut budget = Budget::default();
        let small = Command::Shell("${containerEnv:WIDE}".into());
        for _ in 0..10 {
            small.substituted(ctx, &mut budget).expect("fits");
        }
        assert_eq!(small.substituted(ctx, &mut budget), Err(Limit::Total));
    });
}
