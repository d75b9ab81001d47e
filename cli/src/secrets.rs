//! Secrets kept off the command line, where other users of the machine read them
//! (`ps`, `/proc/<pid>/cmdline`) and shell history keeps them: the API token from
//! `--token-file` / `DCS_TOKEN_FILE` (a warning when `--token` is an argument), and
//! `dcs create`'s environment from `--env-file`. Both are read before the command
//! runs (blocking reads, outside the async runtime) and never printed.

use std::io::Read;
use std::path::Path;

use clap::parser::ValueSource;

use crate::args::{parse_env, Cli, Command, TokenSources};
use crate::exit::CliError;

/// What `--token` on the command line earns: one line on stderr.
pub const TOKEN_ARGUMENT_WARNING: &str =
    "dcs: warning: --token on the command line is visible to other users (ps) and kept in \
     shell history; use --token-file or DCS_TOKEN_FILE (or DCS_TOKEN)";

/// Reads what the command line names: the API token (returned) and, for `dcs
/// create`, the `--env-file` entries (put before the `--env` ones).
pub fn prepare(cli: &mut Cli, sources: TokenSources) -> Result<Option<String>, CliError> {
    if let Command::Create(args) = &mut cli.command {
        if let Some(path) = &args.env_file {
            let mut env = env_file(path)?;
            env.append(&mut args.env);
            args.env = env;
        }
    }
    api_token(cli, sources)
}

/// The API token: `--token` or `--token-file` as given on the command line (not
/// both), else `DCS_TOKEN` or `DCS_TOKEN_FILE` (not both).
fn api_token(cli: &Cli, sources: TokenSources) -> Result<Option<String>, CliError> {
    let argument = |s: Option<ValueSource>| s == Some(ValueSource::CommandLine);
    if argument(sources.token) {
        eprintln!("{TOKEN_ARGUMENT_WARNING}");
    }
    match (&cli.token, &cli.token_file) {
        (Some(_), Some(_)) if argument(sources.token) == argument(sources.token_file) => {
            Err(CliError::usage(if argument(sources.token) {
                "give --token or --token-file, not both"
            } else {
                "DCS_TOKEN and DCS_TOKEN_FILE are both set: unset one"
            }))
        }
        (Some(token), Some(_)) if argument(sources.token) => Ok(Some(token.clone())),
        (_, Some(path)) => token_file(path).map(Some),
        (token, None) => Ok(token.clone()),
    }
}

/// The token in `path`: its content trimmed, which must be one non-empty line.
pub fn token_file(path: &Path) -> Result<String, CliError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        CliError::local(format!(
            "cannot read the API token from {}: {e}",
            path.display()
        ))
    })?;
    let token = text.trim();
    if token.is_empty() {
        return Err(CliError::usage(format!(
            "{} is empty: it should hold the API token",
            path.display()
        )));
    }
    if token.chars().any(char::is_control) {
        return Err(CliError::usage(format!(
            "{} holds more than the API token (several lines or control characters)",
            path.display()
        )));
    }
    Ok(token.to_owned())
}

/// The `KEY=VALUE` lines of `path` (`-`: standard input).
fn env_file(path: &Path) -> Result<Vec<(String, String)>, CliError> {
    let (text, name) = if path == Path::new("-") {
        let mut text = String::new();
        std::io::stdin()
            .lock()
            .read_to_string(&mut text)
            .map_err(|e| {
                CliError::local(format!("--env-file -: cannot read standard input: {e}"))
            })?;
        (text, "standard input".to_owned())
    } else {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| CliError::local(format!("--env-file: cannot read {name}: {e}")))?;
        (text, name)
    };
    env_lines(&text, &name)
}

/// `text`'s `KEY=VALUE` lines as `--env` takes them (the value as is, up to the line's
/// end); blank lines and lines starting with `#` are skipped. An error names the line
/// by number, never its content (a value may be a secret).
fn env_lines(text: &str, name: &str) -> Result<Vec<(String, String)>, CliError> {
    let mut env = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let pair = parse_env(line)
            .map_err(|e| CliError::usage(format!("--env-file {name}, line {}: {e}", n + 1)))?;
        env.push(pair);
    }
    Ok(env)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exit::Exit;

    fn parse(args: &[&str]) -> Result<(Cli, TokenSources), clap::Error> {
        Cli::try_parse_with_sources(std::iter::once("dcs").chain(args.iter().copied()))
    }

    #[test]
    fn env_files_take_key_value_lines() -> Result<(), CliError> {
        let text = "# secrets\nA=1\r\n\n  \nB=x=y \nC=\n";
        let env = env_lines(text, "f")?;
        let want = [("A", "1"), ("B", "x=y "), ("C", "")];
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        assert_eq!(env, want);
        let err = env_lines("A=1\nsecret-value\n", "f").expect_err("no =");
        assert_eq!(err.exit, Exit::Usage);
        assert_eq!(err.message, "--env-file f, line 2: expected KEY=VALUE");
        Ok(())
    }

    #[test]
    fn an_env_file_goes_before_the_env_flags() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("env");
        std::fs::write(&path, "TOKEN=s3cret\n")?;
        let path = path.to_string_lossy().into_owned();
        let (mut cli, sources) = parse(&["create", "--env-file", &path, "--env", "A=1"])?;
        prepare(&mut cli, sources)?;
        let Command::Create(args) = &cli.command else {
            panic!("not create");
        };
        let want = [("TOKEN", "s3cret"), ("A", "1")];
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        assert_eq!(args.env, want);
        let missing = dir.path().join("missing").to_string_lossy().into_owned();
        let (mut cli, sources) = parse(&["create", "--env-file", &missing])?;
        let err = prepare(&mut cli, sources).expect_err("missing");
        assert!(err.message.contains("cannot read"), "{err}");
        Ok(())
    }

    #[test]
    fn a_token_file_is_read_trimmed_and_must_hold_one_token(
    ) -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let file = |name: &str, text: &str| -> std::io::Result<String> {
            let path = dir.path().join(name);
            std::fs::write(&path, text)?;
            Ok(path.to_string_lossy().into_owned())
        };
        let good = file("good", "  tok-123\n")?;
        let (cli, sources) = parse(&["list", "--token-file", &good])?;
        assert_eq!(api_token(&cli, sources)?.as_deref(), Some("tok-123"));
        // Before the subcommand too.
        let (cli, sources) = parse(&["--token-file", &good, "list"])?;
        assert_eq!(api_token(&cli, sources)?.as_deref(), Some("tok-123"));

        for (path, exit, said) in [
            (file("empty", " \n")?, Exit::Usage, "is empty"),
            (
                file("two", "a\nb\n")?,
                Exit::Usage,
                "more than the API token",
            ),
            (
                dir.path().join("none").display().to_string(),
                Exit::Local,
                "cannot read",
            ),
        ] {
            let (cli, sources) = parse(&["list", "--token-file", &path])?;
            let err = api_token(&cli, sources).expect_err(said);
            assert_eq!(err.exit, exit, "{err}");
            assert!(err.message.contains(said), "{err}");
        }

        let (cli, sources) = parse(&["list", "--token", "t", "--token-file", &good])?;
        assert_eq!(sources.token, Some(ValueSource::CommandLine));
        let err = api_token(&cli, sources).expect_err("both");
        assert_eq!(err.exit, Exit::Usage);
        // A flag beats the other one's variable; both variables are an error.
        let env = Some(ValueSource::EnvVariable);
        let line = Some(ValueSource::CommandLine);
        let from = |token, token_file| TokenSources { token, token_file };
        assert_eq!(
            api_token(&cli, from(env, line))?.as_deref(),
            Some("tok-123")
        );
        assert_eq!(api_token(&cli, from(line, env))?.as_deref(), Some("t"));
        let err = api_token(&cli, from(env, env)).expect_err("both set");
        assert!(err.message.contains("DCS_TOKEN_FILE"), "{err}");
        Ok(())
    }
}
