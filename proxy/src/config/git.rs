//! Where repositories come from: `--git-base` (a URL without credentials) and
//! `--git-token-file` (a regular file), checked with the rest of the configuration.

use std::path::PathBuf;

/// `base` without its trailing slashes; adds to `problems` what is wrong with it and
/// with `token_file`.
pub(super) fn check(
    base: &str,
    token_file: Option<&PathBuf>,
    problems: &mut Vec<String>,
) -> String {
    let git_base = base.trim_end_matches('/').to_owned();
    if !["http://", "https://", "file://"]
        .iter()
        .any(|s| git_base.starts_with(s))
    {
        problems.push(format!(
            "--git-base must start with http://, https:// or file:// (got {git_base:?})"
        ));
    }
    // Credentials in the URL would be written into every checkout's .git/config.
    let authority = git_base.split_once("://").map(|(_, r)| r.split('/').next());
    if authority.flatten().is_some_and(|a| a.contains('@')) {
        problems.push(
            "--git-base must not carry credentials (user:token@…): they would \
            land in every checkout's .git/config; put the token in --git-token-file"
                .into(),
        );
    }
    if let Some(f) = token_file {
        if let Err(e) = std::fs::metadata(f).and_then(|m| {
            if m.is_file() {
                Ok(())
            } else {
                Err(std::io::Error::other("not a regular file"))
            }
        }) {
            problems.push(format!("--git-token-file {}: {e}", f.display()));
        }
    }
    git_base
}
