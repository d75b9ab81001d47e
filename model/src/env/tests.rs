//! Tests of [`super`]: env.

use std::collections::HashMap;

use super::*;
use crate::error::Error;

fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    move |k| map.get(k).cloned()
}

#[test]
fn defaults_fill_everything_but_the_repo() {
    let env = LauncherEnv::from_lookup(lookup(&[(DCS_REPO, "acme/hello")])).expect("valid");
    assert_eq!(
        env,
        LauncherEnv::new(RepoRef::parse("acme/hello").expect("repo"))
    );
    assert_eq!(env.checkout_dir(), PathBuf::from("/workspaces/acme/hello"));
    assert_eq!(env.config_dir(), PathBuf::from("/workspaces/.dcs"));
}

#[test]
fn every_optional_variable_round_trips_and_unset_ones_are_left_out() {
    let env = LauncherEnv::new(RepoRef::parse("acme/hello").expect("repo"));
    let names: Vec<&str> = env.to_vars().iter().map(|(k, _)| *k).collect();
    for optional in [
        DCS_IDE_BIN,
        DCS_IDE_VERSION,
        DCS_IDE_DOWNLOAD_BASE,
        DCS_CONFIG_DIR,
        DCS_EXTRA_CA_FILE,
        DCS_PRE_STOP,
        DCS_EGRESS_SOCKET,
        DCS_EXTENSIONS_GALLERY,
    ] {
        assert!(!names.contains(&optional), "{optional} unset is left out");
    }
    let with = LauncherEnv::from_lookup(lookup(&[
        (DCS_REPO, "acme/hello"),
        (DCS_IDE_DOWNLOAD_BASE, "https://mirror.example/ides/"),
    ]))
    .expect("valid");
    assert_eq!(
        with.ide_download_base.as_deref(),
        Some("https://mirror.example/ides")
    );
}

#[test]
fn to_vars_and_from_lookup_are_inverse() {
    let mut env = LauncherEnv::new(RepoRef::parse("acme/hello").expect("repo"));
    env.git_base = "http://127.0.0.1:9418".into();
    env.workspaces_dir = "/data/workspaces/alice".into();
    env.listen = "127.0.0.1:0".parse().expect("addr");
    env.addr_file = Some("/run/addr".into());
    env.git_token_file = Some("/secrets/token".into());
    env.hop_secret_file = Some(STDIN.into());
    env.credentials_file = Some("/var/run/secrets/dcs/credentials/credentials.json".into());
    env.checkout_outcome_file = Some("/opt/dcs/checkout/outcome.json".into());
    env.base_path = "/github/acme/hello".into();
    env.user = Some(UserId::new("alice").expect("user"));
    env.stop_grace_secs = 3;
    env.log = Some("debug".into());
    env.git_timeout_secs = 3;
    env.git_low_speed_limit = 0;
    env.git_low_speed_secs = 2;
    env.ide = "code-server".into();
    env.ide_bin = Some("/opt/code-server/bin/code-server".into());
    env.ide_version = Some("4.104.0".into());
    env.ide_download_base = Some("http://127.0.0.1:9/mirror".into());
    env.config_dir = Some("/config".into());
    env.extra_ca_file = Some("/var/run/secrets/dcs/ca/ca.crt".into());
    env.pre_stop = Some("git stash create >/dev/null; echo 'bye'".into());
    env.progress_url = Some("http://dcs-proxy.dcs.svc.cluster.local/_dcs/hop/progress/ws".into());
    env.devcontainer = Mode::Run;
    env.egress_socket = Some("/data/run/ws/egress.sock".into());
    env.extensions_gallery =
        Some(crate::gallery::Gallery::parse("https://vsx.example.com").expect("gallery"));
    let vars = env.to_vars();
    let pairs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(
        LauncherEnv::from_lookup(lookup(&pairs)).expect("valid"),
        env
    );
    assert!(vars.iter().all(|(k, _)| ALL.contains(k)));
}

#[test]
fn an_instance_without_a_repository_round_trips() {
    let id = InstanceId::parse("inst-0123456789abcdef").expect("id");
    let mut env = LauncherEnv::for_instance(Some(id.clone()), None);
    env.workspaces_dir = "/data/workspaces/alice".into();
    env.base_path = "/instances/inst-0123456789abcdef".into();
    let vars = env.to_vars();
    assert!(vars.contains(&(DCS_INSTANCE, id.to_string())));
    assert!(
        vars.iter().all(|(k, _)| *k != DCS_REPO),
        "no repository, no DCS_REPO"
    );
    let pairs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let back = LauncherEnv::from_lookup(lookup(&pairs)).expect("valid");
    assert_eq!(back, env);
    assert_eq!(
        back.checkout_dir(),
        PathBuf::from("/data/workspaces/alice/_instances/inst-0123456789abcdef")
    );
    assert_eq!(back.label(), "inst-0123456789abcdef");

    // An instance with a repository checks the repository out as usual.
    let both = LauncherEnv::from_lookup(lookup(&[
        (DCS_INSTANCE, "inst-0123456789abcdef"),
        (DCS_REPO, "acme/hello"),
    ]))
    .expect("valid");
    assert_eq!(both.instance, Some(id));
    assert_eq!(both.checkout_dir(), PathBuf::from("/workspaces/acme/hello"));
    assert_eq!(both.label(), "acme/hello");
}

#[test]
fn neither_a_repository_nor_an_instance_is_refused() {
    for vars in [vec![], vec![(DCS_REPO, ""), (DCS_INSTANCE, "")]] {
        match LauncherEnv::from_lookup(lookup(&vars)) {
            Err(Error::Env { var, why }) => {
                assert_eq!(var, DCS_REPO);
                assert!(why.contains(DCS_INSTANCE), "{why}");
            }
            other => panic!("{vars:?}: {other:?}"),
        }
    }
    match LauncherEnv::from_lookup(lookup(&[(DCS_INSTANCE, "../etc")])) {
        Err(Error::Env { var, .. }) => assert_eq!(var, DCS_INSTANCE),
        other => panic!("{other:?}"),
    }
}

#[test]
fn bad_values_name_the_variable() {
    let cases = [
        (vec![], DCS_REPO),
        (vec![(DCS_REPO, "nope")], DCS_REPO),
        (vec![(DCS_REPO, "a/b"), (DCS_LISTEN, "8080")], DCS_LISTEN),
        (
            vec![(DCS_REPO, "a/b"), (DCS_GIT_BASE, "ftp://x")],
            DCS_GIT_BASE,
        ),
        (
            vec![(DCS_REPO, "a/b"), (DCS_STOP_GRACE, "soon")],
            DCS_STOP_GRACE,
        ),
        (vec![(DCS_REPO, "a/b"), (DCS_BASE_PATH, "x")], DCS_BASE_PATH),
        (
            vec![(DCS_REPO, "a/b"), (DCS_GIT_TIMEOUT, "30s")],
            DCS_GIT_TIMEOUT,
        ),
        (
            vec![(DCS_REPO, "a/b"), (DCS_GIT_TIMEOUT, "0")],
            DCS_GIT_TIMEOUT,
        ),
        (
            vec![(DCS_REPO, "a/b"), (DCS_GIT_LOW_SPEED_LIMIT, "-1")],
            DCS_GIT_LOW_SPEED_LIMIT,
        ),
        (
            vec![(DCS_REPO, "a/b"), (DCS_GIT_LOW_SPEED_LIMIT, "1k")],
            DCS_GIT_LOW_SPEED_LIMIT,
        ),
        (
            vec![(DCS_REPO, "a/b"), (DCS_GIT_LOW_SPEED_TIME, " 60")],
            DCS_GIT_LOW_SPEED_TIME,
        ),
        (
            vec![(DCS_REPO, "a/b"), (DCS_GIT_LOW_SPEED_TIME, "0")],
            DCS_GIT_LOW_SPEED_TIME,
        ),
        (vec![(DCS_REPO, "a/b"), (DCS_USER, "../x")], DCS_USER),
        (
            vec![(DCS_REPO, "a/b"), (DCS_IDE_VERSION, "../../etc")],
            DCS_IDE_VERSION,
        ),
        (
            vec![(DCS_REPO, "a/b"), (DCS_IDE_DOWNLOAD_BASE, "file:///x")],
            DCS_IDE_DOWNLOAD_BASE,
        ),
        (
            vec![(DCS_REPO, "a/b"), (DCS_DEVCONTAINER, "yes")],
            DCS_DEVCONTAINER,
        ),
    ];
    for (vars, want) in cases {
        match LauncherEnv::from_lookup(lookup(&vars)) {
            Err(Error::Env { var, .. }) => assert_eq!(var, want),
            other => panic!("{vars:?}: {other:?}"),
        }
    }
}

#[test]
fn git_limits_default_to_half_an_hour_and_1000_bytes_per_second_over_a_minute() {
    let env = LauncherEnv::from_lookup(lookup(&[(DCS_REPO, "acme/hello")])).expect("valid");
    assert_eq!(
        (
            env.git_timeout_secs,
            env.git_low_speed_limit,
            env.git_low_speed_secs
        ),
        (1800, 1000, 60)
    );
    let vars = env.to_vars();
    for (name, value) in [
        (DCS_GIT_TIMEOUT, "1800"),
        (DCS_GIT_LOW_SPEED_LIMIT, "1000"),
        (DCS_GIT_LOW_SPEED_TIME, "60"),
    ] {
        assert!(
            vars.contains(&(name, value.to_owned())),
            "{name} is always emitted: {vars:?}"
        );
        assert!(ALL.contains(&name));
    }
    let off = LauncherEnv::from_lookup(lookup(&[
        (DCS_REPO, "acme/hello"),
        (DCS_GIT_LOW_SPEED_LIMIT, "0"),
        (DCS_GIT_TIMEOUT, "3"),
        (DCS_GIT_LOW_SPEED_TIME, "2"),
    ]))
    .expect("0 disables the low-speed check");
    assert_eq!(
        (
            off.git_timeout_secs,
            off.git_low_speed_limit,
            off.git_low_speed_secs
        ),
        (3, 0, 2)
    );
}

#[test]
fn a_non_number_git_limit_says_what_it_must_be() {
    match LauncherEnv::from_lookup(lookup(&[(DCS_REPO, "a/b"), (DCS_GIT_TIMEOUT, "soon")])) {
        Err(Error::Env { var, why }) => {
            assert_eq!(var, DCS_GIT_TIMEOUT);
            assert!(why.contains("whole number of seconds"), "{why}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_extra_ca_file_must_be_an_absolute_path() {
    let ok = LauncherEnv::from_lookup(lookup(&[
        (DCS_REPO, "acme/hello"),
        (DCS_EXTRA_CA_FILE, "/etc/dcs/ca.pem"),
    ]))
    .expect("valid");
    assert_eq!(ok.extra_ca_file, Some(PathBuf::from("/etc/dcs/ca.pem")));
    let err = LauncherEnv::from_lookup(lookup(&[
        (DCS_REPO, "acme/hello"),
        (DCS_EXTRA_CA_FILE, "ca.pem"),
    ]))
    .expect_err("relative");
    assert!(err.to_string().contains(DCS_EXTRA_CA_FILE), "{err}");
}

#[test]
fn listen_takes_a_unix_socket_and_secrets_may_come_on_stdin() {
    let env = LauncherEnv::from_lookup(lookup(&[
        (DCS_REPO, "acme/hello"),
        (DCS_LISTEN, "unix:/data/run/ws/launcher.sock"),
        (DCS_HOP_SECRET_FILE, "-"),
    ]))
    .expect("valid");
    assert_eq!(
        env.listen,
        Listen::Unix("/data/run/ws/launcher.sock".into())
    );
    assert!(env.reads_stdin());
    let mut plain = LauncherEnv::new(RepoRef::parse("acme/hello").expect("repo"));
    assert!(!plain.reads_stdin());
    plain.git_token_file = Some(STDIN.into());
    assert!(plain.reads_stdin());
    for (var, bad) in [
        (DCS_LISTEN, "unix:relative"),
        (DCS_CREDENTIALS_FILE, "relative.json"),
        (DCS_CHECKOUT_OUTCOME_FILE, "out.json"),
    ] {
        let err = LauncherEnv::from_lookup(lookup(&[(DCS_REPO, "acme/hello"), (var, bad)]))
            .expect_err(bad);
        assert!(err.to_string().contains(var), "{err}");
    }
}

#[test]
fn the_progress_url_must_be_http() {
    let bad = LauncherEnv::from_lookup(lookup(&[
        (DCS_REPO, "acme/hello"),
        (DCS_PROGRESS_URL, "dcs-proxy/_dcs/hop/progress/ws"),
    ]));
    assert!(
        matches!(
            bad,
            Err(Error::Env {
                var: DCS_PROGRESS_URL,
                ..
            })
        ),
        "{bad:?}"
    );
}

#[test]
fn the_devcontainer_mode_round_trips_defaults_to_ask_and_refuses_unknown_names() {
    let unset = LauncherEnv::from_lookup(lookup(&[(DCS_REPO, "acme/hello")])).expect("valid");
    assert_eq!(unset.devcontainer, Mode::Ask);
    assert!(
        unset
            .to_vars()
            .contains(&(DCS_DEVCONTAINER, "ask".to_owned())),
        "always emitted, like DCS_IDE"
    );
    assert!(ALL.contains(&DCS_DEVCONTAINER));
    for mode in [Mode::Ask, Mode::Run, Mode::Off] {
        let mut env = LauncherEnv::new(RepoRef::parse("acme/hello").expect("repo"));
        env.devcontainer = mode;
        let vars = env.to_vars();
        assert!(vars.contains(&(DCS_DEVCONTAINER, mode.as_str().to_owned())));
        let pairs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
        assert_eq!(
            LauncherEnv::from_lookup(lookup(&pairs)).expect("valid"),
            env
        );
    }
    let err = LauncherEnv::from_lookup(lookup(&[
        (DCS_REPO, "acme/hello"),
        (DCS_DEVCONTAINER, "always"),
    ]))
    .expect_err("unknown mode");
    let shown = err.to_string();
    assert!(
        shown.contains(DCS_DEVCONTAINER) && shown.contains("ask, run, off"),
        "{shown}"
    );
}

#[test]
fn the_egress_socket_must_be_an_absolute_path() {
    let with = |socket: &str| {
        LauncherEnv::from_lookup(lookup(&[
            (DCS_REPO, "acme/hello"),
            (DCS_EGRESS_SOCKET, socket),
        ]))
    };
    assert_eq!(
        with("/run/dcs/egress.sock").expect("valid").egress_socket,
        Some(PathBuf::from("/run/dcs/egress.sock"))
    );
    let err = with("egress.sock").expect_err("relative").to_string();
    assert!(
        err.contains(DCS_EGRESS_SOCKET) && err.contains("absolute"),
        "{err}"
    );
}

#[test]
fn a_gallery_code_server_could_not_use_is_refused() {
    let err = LauncherEnv::from_lookup(lookup(&[
        (DCS_REPO, "acme/hello"),
        (DCS_EXTENSIONS_GALLERY, "{\"itemUrl\": \"https://x/item\"}"),
    ]))
    .expect_err("no serviceUrl")
    .to_string();
    assert!(
        err.contains(DCS_EXTENSIONS_GALLERY) && err.contains("serviceUrl"),
        "{err}"
    );
}
