//! Parsing `dcs`'s command line: what each command accepts and refuses.

use super::*;

fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
    Cli::try_parse_from(std::iter::once("dcs").chain(args.iter().copied()))
}

#[test]
fn create_takes_every_flag_and_repeated_env() -> Result<(), clap::Error> {
    let cli = parse(&[
        "create",
        "--repo",
        "acme/hello",
        "--ide",
        "none",
        "--ide-version",
        "1.2.3",
        "--cpu-limit",
        "2",
        "--memory-request",
        "1Gi",
        "--env",
        "A=1",
        "--env",
        "B=x=y",
        "--wait",
        "--timeout",
        "9",
        "--output",
        "json",
    ])?;
    let Command::Create(c) = cli.command else {
        panic!("not create: {:?}", cli.command);
    };
    assert_eq!(c.repo.as_deref(), Some("acme/hello"));
    assert_eq!(c.vscode_version.as_deref(), Some("1.2.3"));
    assert_eq!(c.cpu_limit.as_deref(), Some("2"));
    assert_eq!(c.memory_request.as_deref(), Some("1Gi"));
    assert_eq!(
        c.env,
        vec![("A".into(), "1".into()), ("B".into(), "x=y".into())]
    );
    assert!(c.wait.wait);
    assert_eq!(c.wait.timeout, 9);
    assert_eq!(cli.output, Output::Json);
    Ok(())
}

#[test]
fn vscode_version_is_the_primary_name() -> Result<(), clap::Error> {
    let Command::Create(c) = parse(&["create", "--vscode-version", "1.96.0"])?.command else {
        panic!("not create");
    };
    assert_eq!(c.vscode_version.as_deref(), Some("1.96.0"));
    assert_eq!(c.wait.timeout, 300);
    Ok(())
}

#[test]
fn a_timeout_beyond_a_week_is_a_usage_error() {
    let huge = "10000000000000000000";
    for args in [
        &[
            "status",
            "--instance-id",
            "inst-1",
            "--wait",
            "--timeout",
            huge,
        ][..],
        &["create", "--wait", "--timeout", "604801"],
    ] {
        let err = parse(args).expect_err("rejected");
        assert_eq!(err.exit_code(), 2, "{err}");
    }
    let Command::Create(c) = parse(&["create", "--timeout", "604800"])
        .expect("a week is fine")
        .command
    else {
        panic!("not create");
    };
    assert_eq!(c.wait.timeout, MAX_WAIT_SECS);
}

#[test]
fn a_bad_env_entry_is_a_usage_error() {
    let err = parse(&["create", "--env", "NOEQUALS"]).expect_err("rejected");
    assert_eq!(err.exit_code(), 2);
    assert!(err.to_string().contains("KEY=VALUE"), "{err}");
}

#[test]
fn the_instance_id_is_a_flag_or_positional_but_required() -> Result<(), clap::Error> {
    let Command::Get(r) = parse(&["get", "--instance-id", "inst-1"])?.command else {
        panic!("not get");
    };
    assert_eq!(r.id(), "inst-1");
    let Command::Delete(r) = parse(&["delete", "inst-2"])?.command else {
        panic!("not delete");
    };
    assert_eq!(r.id(), "inst-2");
    let Command::Open { instance, print } = parse(&["open", "inst-3", "--print"])?.command else {
        panic!("not open");
    };
    assert_eq!((instance.id(), print), ("inst-3", true));
    assert_eq!(parse(&["status"]).expect_err("missing").exit_code(), 2);
    assert_eq!(
        parse(&["get", "a", "--instance-id", "b"])
            .expect_err("both")
            .exit_code(),
        2
    );
    Ok(())
}

#[test]
fn globals_go_anywhere() -> Result<(), clap::Error> {
    let cli = parse(&[
        "list",
        "--server",
        "https://dcs.example",
        "--output",
        "json",
    ])?;
    assert_eq!(cli.server, "https://dcs.example");
    assert_eq!(cli.output, Output::Json);
    assert_eq!(
        parse(&["list", "--output", "yaml"])
            .expect_err("bad")
            .exit_code(),
        2
    );
    Ok(())
}

/// The only test that reads or sets `DCS_SERVER` / `DCS_TOKEN` (the process
/// environment is shared by the tests running in parallel).
#[test]
fn server_and_token_default_or_come_from_the_environment() -> Result<(), clap::Error> {
    let saved: Vec<_> = ["DCS_SERVER", "DCS_TOKEN"]
        .iter()
        .map(|k| (*k, std::env::var_os(k)))
        .collect();
    std::env::remove_var("DCS_SERVER");
    std::env::remove_var("DCS_TOKEN");
    let defaults = parse(&["whoami"]);
    std::env::set_var("DCS_SERVER", "http://from-env:9");
    std::env::set_var("DCS_TOKEN", "s3cret");
    let from_env = parse(&["whoami"]);
    let flag_wins = parse(&["whoami", "--server", "http://flag:1"]);
    for (k, v) in saved {
        match v {
            Some(v) => std::env::set_var(k, v),
            None => std::env::remove_var(k),
        }
    }
    let defaults = defaults?;
    assert_eq!(defaults.server, DEFAULT_SERVER);
    assert_eq!(defaults.token, None);
    assert_eq!(defaults.output, Output::Table);
    let from_env = from_env?;
    assert_eq!(from_env.server, "http://from-env:9");
    assert_eq!(from_env.token.as_deref(), Some("s3cret"));
    assert_eq!(flag_wins?.server, "http://flag:1");
    Ok(())
}

#[test]
fn the_help_never_shows_the_token_value() {
    let mut cmd = <Cli as clap::CommandFactory>::command();
    let help = cmd.render_long_help().to_string();
    assert!(help.contains("DCS_TOKEN"));
    assert!(!help.contains("[env: DCS_TOKEN="), "{help}");
    assert!(help.contains("Exit codes:"), "{help}");
}

#[test]
fn every_command_is_well_formed() {
    // Includes: no flag of a subcommand collides with a global one (the global
    // --token-file is the API token's; `credentials set` has --git-token-file).
    <Cli as clap::CommandFactory>::command().debug_assert();
}

#[test]
fn the_git_token_file_and_the_api_token_file_are_different_flags() -> Result<(), clap::Error> {
    let cli = parse(&[
        "credentials",
        "set",
        "github.com",
        "--username",
        "x",
        "--git-token-file",
        "gh",
        "--token-file",
        "api",
    ])?;
    assert_eq!(cli.token_file, Some(PathBuf::from("api")));
    let Command::Credentials(CredentialsCommand::Set { git_token_file, .. }) = cli.command else {
        panic!("not credentials set");
    };
    assert_eq!(git_token_file, Some(PathBuf::from("gh")));
    Ok(())
}
