//! `devcontainer::parse` on any UTF-8 text, then everything a launcher does with the
//! result: never panics; an error has a 1-based position and one line of message; a
//! configuration's lists are bounded one-line texts, its steps come once each in spec
//! order with something to run, its variable names are valid; the environment sets
//! and removes valid names, each once; extension ids are valid, each once, bounded;
//! summaries are one bounded line without runs of blanks; substitution keeps a
//! command's shape and stays within its budget (each string at most 128 KiB, all of a
//! file's at most 1 MiB).
#![no_main]

use std::collections::HashSet;

use dcs_model::devcontainer::customizations::{valid_id, MAX_EXTENSIONS};
use dcs_model::devcontainer::{
    environment, parse, substitute, valid_name, Budget, Command, Context, Step, MAX_STRING_BYTES,
    MAX_TOTAL_BYTES,
};
use libfuzzer_sys::fuzz_target;

fn user_env(name: &str) -> Option<String> {
    match name {
        "HOME" => Some("/home/ann".to_owned()),
        "LOOP" => Some("${localEnv:HOME}".to_owned()),
        "EMPTY" => Some(String::new()),
        _ => None,
    }
}

fn one_line(text: &str) -> bool {
    !text.chars().any(char::is_control)
}

fn check_command(command: &Command, ctx: &Context, nested: bool) {
    let (summary, cut) = command.summary_cut();
    assert!(one_line(&summary), "{summary:?}");
    assert!(summary.chars().count() <= 120, "{summary:?}");
    assert!(!summary.contains("  "), "blanks collapse: {summary:?}");
    assert!(!cut || summary.ends_with('…'), "{summary:?}");
    let mut budget = Budget::default();
    let Ok(after) = command.substituted(ctx, &mut budget) else {
        return;
    };
    match (command, after) {
        (Command::Shell(text), Command::Shell(_)) => assert!(!text.trim().is_empty()),
        (Command::Exec(argv), Command::Exec(after)) => {
            assert!(argv.first().is_some_and(|program| !program.is_empty()));
            assert_eq!(argv.len(), after.len());
        }
        (Command::Parallel(members), Command::Parallel(after)) => {
            assert!(!nested && !members.is_empty());
            assert_eq!(members.len(), after.len());
            for ((name, member), (name_after, _)) in members.iter().zip(&after) {
                assert_eq!(name, name_after);
                check_command(member, ctx, true);
            }
        }
        (before, after) => panic!("substitution changed the shape: {before:?} → {after:?}"),
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let ctx = Context {
        workspace_folder: "/workspaces/acme/web",
        devcontainer_id: "0123abc",
        env: &user_env,
    };
    if !text.contains("${") && text.len() <= MAX_STRING_BYTES {
        assert_eq!(
            substitute(text, &ctx, &mut Budget::default()).as_deref(),
            Ok(text)
        );
    }
    let config = match parse(text) {
        Ok(config) => config,
        Err(err) => {
            assert!(err.line >= 1 && err.column >= 1, "{err:?}");
            assert!(
                !err.message.is_empty() && one_line(&err.to_string()),
                "{err:?}"
            );
            return;
        }
    };
    for list in [&config.not_applied, &config.problems] {
        assert!(list.len() <= 64);
        for entry in list {
            assert!(one_line(entry) && !entry.is_empty(), "{entry:?}");
        }
    }
    let order: Vec<Step> = config.steps.iter().map(|(step, _)| *step).collect();
    let expected: Vec<Step> = Step::ALL
        .into_iter()
        .filter(|s| order.contains(s))
        .collect();
    assert_eq!(order, expected, "steps once each, in spec order");
    for (_, command) in &config.steps {
        check_command(command, &ctx, false);
    }
    let names = config.container_env.iter().map(|(name, _)| name);
    for name in names.chain(config.remote_env.iter().map(|(name, _)| name)) {
        assert!(valid_name(name), "{name:?}");
    }
    let wanted: HashSet<String> = config.env_names().into_iter().collect();
    assert!(config.extensions.len() <= MAX_EXTENSIONS);
    let mut ids = HashSet::new();
    for id in &config.extensions {
        assert!(valid_id(id), "{id:?}");
        assert!(ids.insert(id.to_ascii_lowercase()), "{id:?} twice");
    }
    assert_eq!(
        config.wants_anything(),
        !config.steps.is_empty() || !wanted.is_empty() || !config.extensions.is_empty()
    );
    let mut budget = Budget::default();
    let Ok(env) = environment(&config, &ctx, &mut budget) else {
        return;
    };
    let total: usize = env.set.iter().map(|(_, value)| value.len()).sum();
    assert!(total <= MAX_TOTAL_BYTES - budget.left());
    assert!(env.set.iter().all(|(_, v)| v.len() <= MAX_STRING_BYTES));
    let mut seen = HashSet::new();
    let set = env.set.iter().map(|(name, _)| name);
    for name in set.chain(&env.unset) {
        assert!(valid_name(name), "{name:?}");
        assert!(seen.insert(name.clone()), "{name:?} twice in {env:?}");
    }
    assert_eq!(seen, wanted);
});
