//! Reading the file (which one counts, what is refused) and the kept state.

use std::path::Path;

use super::*;

#[test]
fn the_first_file_that_exists_counts_and_links_or_huge_files_are_refused() {
    let ws = Workspace::new(Mode::Run, ".devcontainer.json", r#"{"name": "root"}"#);
    let name = |found: Found| match found {
        Found::Usable(loaded) => (loaded.file, loaded.config.name.clone()),
        other => panic!("{}", found_error(&other)),
    };
    assert_eq!(
        name(read::load(&ws.checkout, "id")),
        (".devcontainer.json", Some("root".into()))
    );
    let first = ws.checkout.join(".devcontainer/devcontainer.json");
    std::fs::write(&first, "// comment\n{\"name\": \"inner\",}").expect("write");
    assert_eq!(
        name(read::load(&ws.checkout, "id")),
        (".devcontainer/devcontainer.json", Some("inner".into()))
    );

    // A link (out of the checkout) is not followed, and the next file does not count.
    let outside = ws.checkout.parent().expect("parent").join("outside.json");
    std::fs::write(&outside, r#"{"name": "outside"}"#).expect("write");
    std::fs::remove_file(&first).expect("rm");
    std::os::unix::fs::symlink(&outside, &first).expect("link");
    let err = found_error(&read::load(&ws.checkout, "id"));
    assert!(err.contains("symbolic link"), "{err}");
    // The folder as a link too.
    std::fs::remove_file(&first).expect("rm");
    std::fs::remove_dir(ws.checkout.join(".devcontainer")).expect("rmdir");
    let elsewhere = ws.checkout.parent().expect("parent").join("dc");
    std::fs::create_dir_all(&elsewhere).expect("mkdir");
    std::fs::write(elsewhere.join("devcontainer.json"), "{}").expect("write");
    std::os::unix::fs::symlink(&elsewhere, ws.checkout.join(".devcontainer")).expect("link");
    let err = found_error(&read::load(&ws.checkout, "id"));
    assert!(
        err.contains(".devcontainer") && err.contains("link"),
        "{err}"
    );

    // A plain file named `.devcontainer`: the root file counts.
    std::fs::remove_file(ws.checkout.join(".devcontainer")).expect("rm link");
    std::fs::write(ws.checkout.join(".devcontainer"), "not a folder").expect("write");
    assert_eq!(name(read::load(&ws.checkout, "id")).0, ".devcontainer.json");

    // Over the limit, and not UTF-8.
    let big = format!("{{\"name\": \"{}\"}}", "x".repeat(MAX));
    std::fs::write(ws.checkout.join(".devcontainer.json"), big).expect("write");
    let err = found_error(&read::load(&ws.checkout, "id"));
    assert!(err.contains("larger than"), "{err}");
    std::fs::write(ws.checkout.join(".devcontainer.json"), b"{\"a\": \"\xff\"}").expect("write");
    let err = found_error(&read::load(&ws.checkout, "id"));
    assert_eq!(
        err,
        ".devcontainer.json: line 1, column 8: the file is not UTF-8 text"
    );

    std::fs::remove_file(ws.checkout.join(".devcontainer.json")).expect("rm");
    assert!(matches!(read::load(&ws.checkout, "id"), Found::Missing));
}

const MAX: usize = dcs_model::devcontainer::MAX_BYTES;

#[test]
fn the_state_is_kept_owner_only_and_a_damaged_one_counts_as_none() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().expect("tempdir");
    let config = tmp.path().join("config");
    let rel = Path::new("devcontainer/acme__hello-1234");
    // No git checkout (an API instance without a repository): all in the config volume.
    let places = saved::places(&tmp.path().join("_instances/x"), &config, rel);
    assert_eq!(places.checkout, places.ide);
    assert_eq!(saved::load(&places).expect("none"), saved::Saved::default());
    let mut state = saved::Saved {
        allowed: true,
        ..saved::Saved::default()
    };
    state.set_installed("/ext", vec!["a.b".into(), "C.d@1.0.0".into()]);
    assert!(state.is_installed("/ext", "c.D@1.0.0") && !state.is_installed("/ext", "e.f"));
    state.mark_done("onCreateCommand");
    state.mark_done("onCreateCommand");
    assert_eq!(saved::update(&places, &state, true).expect("store"), state);
    assert_eq!(saved::load(&places).expect("load"), state);
    assert_eq!(state.done, ["onCreateCommand"]);
    let file = config.join(rel).join(saved::FILE);
    let mode = std::fs::metadata(&file).expect("stat").permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let mut names: Vec<_> = std::fs::read_dir(config.join(rel))
        .expect("list")
        .map(|e| e.expect("entry").file_name())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [saved::RECORD_LOCK, saved::FILE],
        "no temporary left"
    );
    std::fs::write(&file, "{not json").expect("write");
    assert_eq!(
        saved::load(&places).expect("damaged"),
        saved::Saved::default()
    );
}
