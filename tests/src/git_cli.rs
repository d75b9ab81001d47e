//! The `git` command line, isolated for tests: no global or system config,
//! no interactive prompts, no askpass helpers and no HTTP proxies inherited
//! from the environment, and a fixed author/committer identity.

use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{bail, Context};

/// Author and committer name used for every commit the tests make.
pub const GIT_USER_NAME: &str = "dcs-e2e";
/// Author and committer email used for every commit the tests make.
pub const GIT_USER_EMAIL: &str = "dcs-e2e@example.invalid";

/// The variables naming an HTTP proxy, which a test's git (or launcher) must not
/// inherit from the machine: tests talk to loopback only.
pub const PROXY_VARS: &[&str] = &[
    "http_proxy",
    "https_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "all_proxy",
    "ALL_PROXY",
];

/// A `git` command with an isolated environment and `-c` options already set
/// (`init.defaultBranch=main`, no gpg signing, no askpass). Add the
/// subcommand and its arguments: `git_command().args(["clone", url, dir])`.
///
/// Set `GIT_ASKPASS` or add `-c credential.helper=…` afterwards to supply
/// credentials; later settings override the ones made here.
pub fn git_command() -> Command {
    let mut cmd = Command::new("git");
    cmd.env("GIT_AUTHOR_NAME", GIT_USER_NAME)
        .env("GIT_AUTHOR_EMAIL", GIT_USER_EMAIL)
        .env("GIT_COMMITTER_NAME", GIT_USER_NAME)
        .env("GIT_COMMITTER_EMAIL", GIT_USER_EMAIL)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost");
    for var in [
        "GIT_ASKPASS",
        "SSH_ASKPASS",
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GIT_INDEX_FILE",
        "GIT_CONFIG_PARAMETERS",
        "GIT_CONFIG_COUNT",
    ]
    .iter()
    .chain(PROXY_VARS)
    {
        cmd.env_remove(var);
    }
    cmd.args([
        "-c",
        "init.defaultBranch=main",
        "-c",
        "commit.gpgsign=false",
        "-c",
        "tag.gpgsign=false",
        "-c",
        "core.askPass=",
        "-c",
        "credential.helper=",
    ]);
    cmd.stdin(Stdio::null());
    cmd
}

/// Runs `git -C <dir> <args…>` with [`git_command`]'s environment and returns
/// its trimmed stdout; a non-zero exit becomes an error carrying stderr.
pub fn run_git(dir: &Path, args: &[&str]) -> anyhow::Result<String> {
    let output = git_command()
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .with_context(|| format!("spawning `git {}`", args.join(" ")))?;
    if !output.status.success() {
        bail!(
            "`git {}` in {} failed ({}): {}",
            args.join(" "),
            dir.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// The commit a benchmark measured (12 hex digits), `+dirty` when the tree has
/// uncommitted changes to tracked files; `unknown` outside a git checkout.
pub fn measured_commit() -> String {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    let head = git(&["rev-parse", "--short=12", "HEAD"]).unwrap_or_else(|| "unknown".into());
    let dirty =
        git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
    if dirty {
        format!("{head}+dirty")
    } else {
        head
    }
}
