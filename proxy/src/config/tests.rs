//! Tests of [`super`]: config.

use clap::Parser;

use super::*;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: ServeArgs,
}

/// An executable `dcs-launcher` in `dir` (validation checks it exists and runs).
fn fake_launcher(dir: &std::path::Path) -> std::path::PathBuf {
    let bin = dir.join("dcs-launcher");
    std::fs::write(&bin, "#!/bin/sh\n").expect("write");
    std::fs::set_permissions(&bin, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    bin
}

fn args(extra: &[&str]) -> ServeArgs {
    let mut argv = vec!["dcs-proxy"];
    argv.extend_from_slice(extra);
    Cli::try_parse_from(argv).expect("parses").args
}

/// `extra` after a launcher binary that exists and a data directory, both in `dir`.
fn local_args(dir: &std::path::Path, extra: &[&str]) -> ServeArgs {
    let bin = fake_launcher(dir);
    let mut argv = vec![
        "--launcher-bin",
        bin.to_str().expect("utf8"),
        "--data-dir",
        dir.to_str().expect("utf8"),
    ];
    argv.extend_from_slice(extra);
    args(&argv)
}

#[test]
fn every_problem_is_listed_at_once() {
    let tmp = tempfile::tempdir().expect("tmp");
    let data = tmp.path().join("data");
    let problems = args(&[
        "--listen",
        "0.0.0.0:8080",
        "--user",
        "../root",
        "--git-base",
        "ftp://x",
        "--git-token-file",
        "/nonexistent/token",
        "--ide",
        "emacs",
        "--idle-timeout",
        "0s",
        "--launcher-bin",
        "/nonexistent/dcs-launcher",
        "--data-dir",
        data.to_str().expect("utf8"),
        "--max-cpu",
        "lots",
    ])
    .validate()
    .expect_err("invalid");
    let all = problems.join("\n");
    for needle in [
        "loopback",
        "--user",
        "--git-base",
        "--git-token-file",
        "--ide",
        "--idle-timeout",
        "launcher binary",
        "--max-cpu",
    ] {
        assert!(all.contains(needle), "missing {needle:?} in:\n{all}");
    }
    assert_eq!(problems.len(), 8, "{all}");
}

#[test]
fn a_good_configuration_resolves_defaults() {
    let tmp = tempfile::tempdir().expect("tmp");
    let bin = fake_launcher(tmp.path());
    let cfg = args(&[
        "--user",
        "alice",
        "--git-base",
        "http://127.0.0.1:9/",
        "--launcher-bin",
        bin.to_str().expect("utf8"),
        "--data-dir",
        tmp.path().to_str().expect("utf8"),
    ])
    .validate()
    .expect("valid");
    assert_eq!(cfg.git_base, "http://127.0.0.1:9");
    assert_eq!(cfg.idle_timeout, Duration::from_secs(30 * 60));
    match cfg.auth {
        AuthConfig::None { user } => assert_eq!(user.as_str(), "alice"),
        other => panic!("{other:?}"),
    }
    assert!(cfg.api.everyone_admin, "the single local user is an admin");
    assert_eq!(cfg.api.bounds.max_cpu, 8.0);
    assert_eq!(cfg.limits, Limits::default());
}

#[test]
fn limit_flags_set_the_paces_and_the_launchers_git_limits() {
    let tmp = tempfile::tempdir().expect("tmp");
    let cfg = local_args(
        tmp.path(),
        &[
            "--body-timeout",
            "5s",
            "--body-min-rate",
            "0",
            "--upstream-timeout",
            "1m",
            "--git-timeout",
            "10m",
            "--git-low-speed-limit",
            "0",
            "--git-low-speed-time",
            "2m",
        ],
    )
    .validate()
    .expect("valid");
    assert_eq!(cfg.limits.request_body.timeout, Duration::from_secs(5));
    assert_eq!(cfg.limits.request_body.min_rate, 0);
    assert_eq!(cfg.limits.upstream_timeout, Duration::from_secs(60));
    let mut env = dcs_model::LauncherEnv::new(dcs_model::RepoRef::parse("a/b").expect("repo"));
    cfg.limits.git.apply(&mut env);
    assert_eq!(
        (
            env.git_timeout_secs,
            env.git_low_speed_limit,
            env.git_low_speed_secs
        ),
        (600, 0, 120)
    );

    let short = ["--body-timeout", "0s", "--git-timeout", "100ms"];
    let problems = local_args(tmp.path(), &short)
        .validate()
        .expect_err("too short")
        .join("\n");
    assert!(
        problems.contains("--body-timeout must be at least 1s"),
        "{problems}"
    );
    assert!(
        problems.contains("--git-timeout must be at least 1s"),
        "{problems}"
    );
}

#[test]
fn idle_flags_make_the_launchers_policy() {
    let tmp = tempfile::tempdir().expect("tmp");
    let cfg = local_args(tmp.path(), &[]).validate().expect("valid");
    assert_eq!(cfg.idle_policy, dcs_model::env::IdlePolicy::default());
    let flags = ["--idle-timeout", "2m", "--idle-warning", "30s"];
    let more = ["--busy-max", "0s", "--tab-poll", "10m"];
    let cfg = local_args(tmp.path(), &[flags, more].concat())
        .validate()
        .expect("valid");
    assert_eq!(
        cfg.idle_policy,
        dcs_model::env::IdlePolicy {
            idle_timeout_secs: 120,
            warning_secs: 30,
            busy_max_secs: 0,
            tab_poll_secs: 600,
        }
    );
    assert_eq!(cfg.idle_timeout, Duration::from_secs(120));

    let short = ["--tab-poll", "500ms", "--idle-timeout", "0s"];
    let problems = local_args(tmp.path(), &short)
        .validate()
        .expect_err("too short")
        .join("\n");
    for flag in ["--tab-poll", "--idle-timeout"] {
        assert!(
            problems.contains(&format!("{flag} must be at least 1s")),
            "{problems}"
        );
    }
}

#[test]
fn api_flags_set_admin_groups_and_bounds() {
    let tmp = tempfile::tempdir().expect("tmp");
    let cfg = local_args(
        tmp.path(),
        &[
            "--admin-group",
            "ops,admins",
            "--admin-group",
            "root",
            "--max-cpu",
            "500m",
            "--max-memory",
            "2Gi",
            "--max-storage",
            "1Ti",
        ],
    )
    .validate()
    .expect("valid");
    assert_eq!(cfg.api.admin_groups, ["ops", "admins", "root"]);
    assert_eq!(cfg.api.bounds.max_cpu, 0.5);
    assert_eq!(cfg.api.bounds.max_memory, 2.0 * 1024.0 * 1024.0 * 1024.0);
    assert_eq!(cfg.api.bounds.max_storage, 1024f64.powi(4));
}

#[test]
fn relative_paths_are_made_absolute_and_a_bare_program_name_stays_on_path() {
    let here = std::env::current_dir().expect("cwd");
    assert_eq!(
        absolute("bin/dcs-launcher".into()),
        here.join("bin/dcs-launcher")
    );
    assert_eq!(
        absolute("/opt/dcs".into()),
        std::path::PathBuf::from("/opt/dcs")
    );
    let bare = absolute_unless_bare("code-server".into());
    assert_eq!(
        bare,
        std::path::PathBuf::from("code-server"),
        "looked up on PATH"
    );
    let nested = absolute_unless_bare("ide/bin/code-server".into());
    assert_eq!(nested, here.join("ide/bin/code-server"));
}

#[test]
fn websocket_streams_default_to_auto_and_take_always_and_never() {
    use hop::Streams;
    assert_eq!(args(&[]).hop.websocket_streams, Streams::Auto);
    for (value, streams) in [("always", Streams::Always), ("never", Streams::Never)] {
        let parsed = args(&["--websocket-streams", value]);
        assert_eq!(parsed.hop.websocket_streams, streams);
    }
    let refused = Cli::try_parse_from(["dcs-proxy", "--websocket-streams", "sometimes"])
        .err()
        .expect("refused");
    assert!(refused.to_string().contains("auto"), "{refused}");
}

#[test]
fn a_git_base_with_credentials_is_refused_without_showing_them() {
    let problems = args(&["--git-base", "https://bot:s3cret@git.example.com"])
        .validate()
        .expect_err("credentials in the URL");
    let all = problems.join("\n");
    assert!(all.contains("--git-token-file"), "{all}");
    assert!(!all.contains("s3cret"), "the token is not shown: {all}");
}

/// Settings every other check passed, though the proxy or each workspace's start
/// failed with them once running: refused, each naming its flag, all at once.
#[test]
fn bad_log_filters_and_shared_listen_addresses_are_refused() {
    let tmp = tempfile::tempdir().expect("tmp");
    let refused = |extra: &[&str], flag: &str, why: &str| {
        let problems = local_args(tmp.path(), extra)
            .validate()
            .expect_err("refused");
        let all = problems.join("\n");
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with(flag) && p.contains(why)),
            "{extra:?}: {all}"
        );
    };
    let no_filter = "is not a log filter";
    refused(
        &["--launcher-log", "info,["],
        "--launcher-log \"info,[\"",
        no_filter,
    );
    refused(&["--log", "info,dcs_proxy=debg"], "--log", no_filter);
    let shared = "takes the address of --listen";
    let same = [
        "--listen",
        "127.0.0.1:8080",
        "--metrics-listen",
        "127.0.0.1:8080",
    ];
    refused(&same, "--metrics-listen 127.0.0.1:8080", shared);
    let wild = ["--listen", "0.0.0.0:8081", "--hop-listen", "127.0.0.1:8081"];
    refused(&wild, "--hop-listen 127.0.0.1:8081", shared);
    let problems = local_args(
        tmp.path(),
        &[
            "--log",
            "[",
            "--launcher-log",
            "dcs=nope",
            "--listen",
            "127.0.0.1:9000",
            "--metrics-listen",
            "127.0.0.1:9000",
        ],
    )
    .validate()
    .expect_err("refused");
    assert_eq!(problems.len(), 3, "{problems:#?}");
    // Port 0 is a free port each; an empty launcher filter is the launcher's default.
    let cfg = local_args(
        tmp.path(),
        &[
            "--log",
            "info,dcs_proxy::server=warn",
            "--launcher-log",
            "",
            "--listen",
            "127.0.0.1:0",
            "--metrics-listen",
            "127.0.0.1:0",
        ],
    )
    .validate()
    .expect("valid");
    assert_eq!(cfg.metrics_listen, Some(([127, 0, 0, 1], 0).into()));
    let other_port = local_args(
        tmp.path(),
        &[
            "--listen",
            "127.0.0.1:8080",
            "--metrics-listen",
            "127.0.0.1:9090",
        ],
    );
    assert!(other_port.validate().is_ok());
}

#[test]
fn devcontainer_defaults_to_ask_takes_run_and_off_and_refuses_others_with_the_list() {
    use dcs_model::devcontainer::Mode;
    let tmp = tempfile::tempdir().expect("tmp");
    let cfg = local_args(tmp.path(), &[]).validate().expect("valid");
    assert_eq!(cfg.devcontainer, Mode::Ask);
    for (value, mode) in [("ask", Mode::Ask), ("run", Mode::Run), ("off", Mode::Off)] {
        let cfg = local_args(tmp.path(), &["--devcontainer", value])
            .validate()
            .expect("valid");
        assert_eq!(cfg.devcontainer, mode);
    }
    // Knative launchers are handed the same mode.
    let secret = tmp.path().join("hop.key");
    std::fs::write(&secret, [7u8; 32]).expect("write");
    let knative = [
        "--runtime",
        "knative",
        "--hop-secret-file",
        secret.to_str().expect("utf8"),
        "--devcontainer",
        "run",
    ];
    let cfg = local_args(tmp.path(), &knative).validate().expect("valid");
    let launcher = cfg.knative.expect("knative settings").launcher;
    assert_eq!(launcher.devcontainer, Mode::Run);
    let problems = local_args(tmp.path(), &["--devcontainer", "always"])
        .validate()
        .expect_err("unknown mode");
    assert_eq!(
        problems,
        ["--devcontainer \"always\" is not known; choose one of: ask, run, off"]
    );
}
