use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use super::*;

const CAP: usize = 64;

/// A trusted base (the volume) and, beside it, another party's folder.
fn setup() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let root = tempfile::tempdir().expect("tempdir");
    let base = root.path().join("alice");
    let other = root.path().join("bob");
    std::fs::create_dir_all(other.join(".dcs")).expect("mkdir");
    std::fs::write(other.join(".dcs/secret.json"), "bob's").expect("write");
    std::fs::create_dir(&base).expect("mkdir");
    (root, base, other)
}

fn rel() -> &'static Path {
    Path::new(".dcs/secret.json")
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn assert_refused(result: io::Result<impl std::fmt::Debug>, what: &str) {
    match result {
        Err(e) => assert!(is_refusal(&e), "{what}: not a refusal: {e:?}"),
        Ok(v) => panic!("{what}: accepted: {v:?}"),
    }
}

/// `read_file` on another thread, failed if it takes longer than 5 s.
fn read_promptly(base: &Path, rel: &Path) -> io::Result<Vec<u8>> {
    let (base, rel) = (base.to_path_buf(), rel.to_path_buf());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(read_file(&base, &rel, CAP));
    });
    rx.recv_timeout(Duration::from_secs(5))
        .expect("the read returns promptly")
}

#[test]
fn a_regular_file_round_trips_in_a_new_private_folder() {
    let (_root, base, _) = setup();
    let err = read_file(&base, rel(), CAP).expect_err("missing");
    assert_eq!(err.kind(), io::ErrorKind::NotFound);
    assert!(!is_refusal(&err));
    write_private(&base, rel(), b"{\"a\":1}").expect("write");
    assert_eq!(read_file(&base, rel(), CAP).expect("read"), b"{\"a\":1}");
    write_private(&base, rel(), b"second").expect("rewrite");
    assert_eq!(read_file(&base, rel(), CAP).expect("read"), b"second");
    let dir_mode = std::fs::metadata(base.join(".dcs"))
        .expect("meta")
        .permissions()
        .mode();
    assert_eq!(dir_mode & 0o777, 0o700, "{dir_mode:o}");
    let mode = std::fs::metadata(base.join(rel()))
        .expect("meta")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    assert_eq!(
        names(&base.join(".dcs")),
        ["secret.json"],
        "no temporary file remains"
    );
}

#[test]
fn a_file_at_the_cap_is_read_and_one_past_it_is_refused() {
    let (_root, base, _) = setup();
    std::fs::create_dir(base.join(".dcs")).expect("mkdir");
    std::fs::write(base.join(rel()), vec![b'x'; CAP]).expect("write");
    assert_eq!(read_file(&base, rel(), CAP).expect("read").len(), CAP);
    std::fs::write(base.join(rel()), vec![b'x'; CAP + 1]).expect("write");
    let err = read_file(&base, rel(), CAP).expect_err("too large");
    assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    assert!(is_refusal(&err), "{err}");
}

#[test]
fn a_symlinked_file_is_refused_not_read() {
    let (_root, base, other) = setup();
    std::fs::create_dir(base.join(".dcs")).expect("mkdir");
    symlink(other.join(".dcs/secret.json"), base.join(rel())).expect("symlink");
    let err = read_file(&base, rel(), CAP).expect_err("a link to another user's file");
    assert_eq!(refused_path(&err), Some(rel()), "{err}");
    assert!(err.to_string().contains("symbolic link"), "{err}");
    symlink("/dev/zero", base.join(".dcs/zero")).expect("symlink");
    assert_refused(
        read_promptly(&base, Path::new(".dcs/zero")),
        "a link to /dev/zero",
    );
}

#[test]
fn a_symlinked_folder_is_refused_and_its_target_untouched() {
    let (_root, base, other) = setup();
    symlink(other.join(".dcs"), base.join(".dcs")).expect("symlink");
    let err = read_file(&base, rel(), CAP).expect_err("read through a linked folder");
    assert_eq!(refused_path(&err), Some(Path::new(".dcs")), "{err}");
    assert!(err.to_string().contains("symbolic link"), "{err}");
    assert_refused(
        write_private(&base, rel(), b"alice's"),
        "write through a linked folder",
    );
    let bob = std::fs::read(other.join(".dcs/secret.json")).expect("read");
    assert_eq!(bob, b"bob's");
    assert_eq!(names(&other.join(".dcs")), ["secret.json"]);
}

#[test]
fn a_fifo_is_refused_without_blocking() {
    let (_root, base, _) = setup();
    std::fs::create_dir(base.join(".dcs")).expect("mkdir");
    nix::unistd::mkfifo(&base.join(rel()), nix::sys::stat::Mode::S_IRWXU).expect("mkfifo");
    assert_refused(read_promptly(&base, rel()), "a fifo");
}

#[test]
fn a_folder_or_a_file_in_the_wrong_place_is_refused() {
    let (_root, base, _) = setup();
    std::fs::create_dir_all(base.join(rel())).expect("mkdir");
    assert_refused(read_file(&base, rel(), CAP), "a folder as the file");
    assert_refused(write_private(&base, rel(), b"y"), "write over a folder");
    std::fs::remove_dir_all(base.join(".dcs")).expect("rm");
    std::fs::write(base.join(".dcs"), "x").expect("write");
    assert_refused(read_file(&base, rel(), CAP), "a file as the folder");
    assert_refused(write_private(&base, rel(), b"y"), "write below a file");
    assert_eq!(std::fs::read(base.join(".dcs")).expect("read"), b"x");
}

#[test]
fn a_symlink_at_the_final_name_is_replaced_not_followed() {
    let (_root, base, other) = setup();
    std::fs::create_dir(base.join(".dcs")).expect("mkdir");
    symlink(other.join(".dcs/secret.json"), base.join(rel())).expect("symlink");
    write_private(&base, rel(), b"alice's").expect("write");
    let meta = std::fs::symlink_metadata(base.join(rel())).expect("meta");
    assert!(meta.file_type().is_file(), "the link is replaced by a file");
    assert_eq!(std::fs::read(base.join(rel())).expect("read"), b"alice's");
    let bob = std::fs::read(other.join(".dcs/secret.json")).expect("read");
    assert_eq!(bob, b"bob's", "the link's target is untouched");
}

#[test]
fn names_that_leave_the_base_are_refused() {
    let (_root, base, other) = setup();
    for name in [
        "../bob/.dcs/secret.json",
        "/etc/passwd",
        "",
        ".dcs/../../bob",
    ] {
        let err = read_file(&base, Path::new(name), CAP).expect_err(name);
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{name}: {err}");
        let err = write_private(&base, Path::new(name), b"x").expect_err(name);
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{name}: {err}");
    }
    let bob = std::fs::read(other.join(".dcs/secret.json")).expect("read");
    assert_eq!(bob, b"bob's");
}

#[test]
fn folders_are_made_private_below_the_base_and_never_through_a_link() {
    let (_root, base, other) = setup();
    make_folders(&base, Path::new(".dcs/home")).expect("made");
    let mode = std::fs::metadata(base.join(".dcs/home"))
        .expect("meta")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o700);
    make_folders(&base, Path::new(".dcs/home")).expect("made again: nothing to do");

    let linked = tempfile::tempdir().expect("tempdir");
    let base = linked.path().join("alice");
    std::fs::create_dir(&base).expect("mkdir");
    symlink(other.join(".dcs"), base.join(".dcs")).expect("symlink");
    assert_refused(
        make_folders(&base, Path::new(".dcs/home")),
        "a folder made through a link",
    );
    assert_eq!(
        names(&other.join(".dcs")),
        ["secret.json"],
        "nothing made there"
    );
}

#[test]
fn the_first_link_on_a_path_is_named_and_folders_or_gaps_are_not() {
    let (_root, base, other) = setup();
    let rel = Path::new("acme/hello");
    assert_eq!(first_link(&base, rel).expect("walk"), None, "nothing there");
    std::fs::create_dir_all(base.join("acme/hello")).expect("mkdir");
    assert_eq!(first_link(&base, rel).expect("walk"), None, "folders");
    std::fs::remove_dir(base.join("acme/hello")).expect("rm");
    symlink(other.join(".dcs"), base.join("acme/hello")).expect("symlink");
    assert_eq!(
        first_link(&base, rel).expect("walk"),
        Some(PathBuf::from("acme/hello"))
    );
    std::fs::remove_file(base.join("acme/hello")).expect("rm");
    std::fs::remove_dir(base.join("acme")).expect("rm");
    symlink(&other, base.join("acme")).expect("symlink");
    assert_eq!(
        first_link(&base, rel).expect("walk"),
        Some(PathBuf::from("acme"))
    );
    std::fs::remove_file(base.join("acme")).expect("rm");
    std::fs::write(base.join("acme"), "a file").expect("write");
    assert_eq!(
        first_link(&base, rel).expect("walk"),
        None,
        "a file ends the walk"
    );
}

#[test]
fn a_socket_is_connected_to_as_opened_never_through_a_link() {
    let dir = tempfile::tempdir().expect("tmp");
    let real = dir.path().join("real.sock");
    let _listener = std::os::unix::net::UnixListener::bind(&real).expect("bind");
    let (fd, through) = socket(&real).expect("a socket");
    std::os::unix::net::UnixStream::connect(&through).expect("connects");
    drop(fd);
    // A link planted where the socket belongs (to the host's docker socket, say).
    let planted = dir.path().join("planted.sock");
    symlink(&real, &planted).expect("link");
    let err = socket(&planted).expect_err("a link");
    assert!(is_refusal(&err), "{err}");
    assert!(err.to_string().contains("symbolic link"), "{err}");
    let file = dir.path().join("file");
    std::fs::write(&file, "x").expect("write");
    assert!(is_refusal(&socket(&file).expect_err("a file")));
    let gone = socket(&dir.path().join("gone.sock")).expect_err("missing");
    assert_eq!(gone.kind(), io::ErrorKind::NotFound);
}
