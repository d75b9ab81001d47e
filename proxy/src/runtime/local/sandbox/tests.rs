//! The sandbox's argv, whole (golden), and what it hides.

use super::*;

fn spec() -> Spec {
    Spec {
        system: System(vec![
            SystemDir::Dir("/usr".into()),
            SystemDir::Link {
                path: "/bin".into(),
                target: "usr/bin".into(),
            },
            SystemDir::Dir("/etc".into()),
        ]),
        volume: "/data/workspaces/alice".into(),
        run_dir: "/data/run/ws-alice-hello".into(),
        launcher: "/usr/local/bin/dcs-launcher".into(),
        read_only: vec!["/opt/code-server".into()],
        hidden: vec![
            "/etc/dcs/git-token".into(),
            "/root/secrets/hop.key".into(),
            "/data/workspaces/alice/../../secrets/jwt".into(),
        ],
        cwd: "/data/workspaces/alice".into(),
        env: vec![("DCS_REPO".into(), "acme/hello".into())],
    }
}

fn strings(argv: &[OsString]) -> Vec<String> {
    argv.iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect()
}

#[test]
fn the_argv_is_exactly_this() {
    let want = [
        "--unshare-user",
        "--unshare-pid",
        "--unshare-net",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--as-pid-1",
        "--disable-userns",
        "--cap-drop",
        "ALL",
        "--hostname",
        "workspace",
        "--ro-bind",
        "/usr",
        "/usr",
        "--symlink",
        "usr/bin",
        "/bin",
        "--ro-bind",
        "/etc",
        "/etc",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--tmpfs",
        "/tmp",
        "--tmpfs",
        "/run",
        "--tmpfs",
        "/var",
        "--dir",
        "/var/tmp",
        "--bind",
        "/data/workspaces/alice",
        "/data/workspaces/alice",
        "--bind",
        "/data/run/ws-alice-hello",
        "/data/run/ws-alice-hello",
        "--ro-bind",
        "/usr/local/bin/dcs-launcher",
        "/usr/local/bin/dcs-launcher",
        "--ro-bind",
        "/opt/code-server",
        "/opt/code-server",
        // The token under /etc is masked; the hop key is not bound at all. (A path
        // with `..` never counts as under the volume: paths are taken as given.)
        "--ro-bind",
        "/dev/null",
        "/etc/dcs/git-token",
        "--ro-bind",
        "/dev/null",
        "/data/workspaces/alice/../../secrets/jwt",
        "--setenv",
        "DCS_REPO",
        "acme/hello",
        "--chdir",
        "/data/workspaces/alice",
        "--",
    ];
    assert_eq!(strings(&argv(&spec())), want);
}

#[test]
fn nothing_of_the_proxy_but_the_volume_and_run_folder_is_writable() {
    let argv = strings(&argv(&spec()));
    let writable: Vec<&str> = argv
        .windows(2)
        .filter(|w| w[0] == "--bind")
        .map(|w| w[1].as_str())
        .collect();
    assert_eq!(
        writable,
        ["/data/workspaces/alice", "/data/run/ws-alice-hello"]
    );
    assert!(!argv.iter().any(|a| a == "/data" || a == "/data/workspaces"));
    assert!(argv.contains(&"--unshare-net".to_owned()));
    assert!(!argv.contains(&"--share-net".to_owned()));
}

#[test]
fn the_host_system_is_read_as_it_is() {
    let system = System::of_host();
    assert!(
        system
            .0
            .iter()
            .any(|d| matches!(d, SystemDir::Dir(p) if p == Path::new("/usr"))),
        "{system:?}"
    );
    assert!(!system.0.iter().any(|d| matches!(d,
        SystemDir::Dir(p) if p == Path::new("/home") || p == Path::new("/root"))));
}

#[test]
fn a_machine_without_bwrap_is_refused_with_what_to_install() {
    let err = probe(None).expect_err("no bwrap");
    assert!(err.contains("bubblewrap"), "{err}");
    assert!(err.contains("apt-get install bubblewrap"), "{err}");
    let err = probe(Some(Path::new("/nonexistent/bwrap"))).expect_err("missing");
    assert!(err.contains("/nonexistent/bwrap"), "{err}");
}

#[test]
fn a_data_dir_every_sandbox_can_read_is_refused() {
    let tmp = tempfile::tempdir().expect("tmp");
    let system = System(vec![SystemDir::Dir(tmp.path().join("opt"))]);
    let ide = tmp.path().join("tools");
    std::fs::create_dir_all(tmp.path().join("opt")).expect("mkdir");
    // Under a system folder, or the IDE's (`--ide-bin ~/bin/code-server` binds `~`).
    for data in [tmp.path().join("opt/dcs"), ide.join("data")] {
        let why = data_dir_exposed(&data, &system, Some(&ide)).expect("refused");
        assert!(why.contains("every other user's files"), "{why}");
    }
    assert_eq!(
        data_dir_exposed(&tmp.path().join("data"), &system, Some(&ide)),
        None
    );
    let bin = ide.join("bin/code-server");
    assert_eq!(ide_folder(Some(&bin)), Some(ide.clone()));
    assert_eq!(ide_folder(Some(std::path::Path::new("code-server"))), None);
}
