//! The launcher's secrets at start: the hop credential and the operator's git token,
//! each from its file or, when its variable is `-`, from the one JSON object
//! ([`StdinSecrets`]) the starter wrote to the launcher's stdin. Read once, before
//! the front serves and before any user process exists; the token is then held in
//! memory only ([`credentials::hold`]) and the hop credential installed for the
//! front ([`hop::install`]).
//!
//! Errors name the variable or file, never a secret.

use std::io::Read;
use std::path::Path;

use dcs_model::env::{StdinSecrets, DCS_GIT_TOKEN_FILE, DCS_HOP_SECRET_FILE, STDIN};
use dcs_model::LauncherEnv;

use crate::checkout::credentials::{self, Secret};
use crate::hop;

/// What was read.
#[derive(Debug, Default)]
pub struct Loaded {
    /// The hop credential, if the contract names one, and its file (not stdin).
    pub hop: Option<(hop::Credential, Option<std::path::PathBuf>)>,
    /// The git token, if it came on stdin (a token *file* is read by the transfer).
    pub git_token: Option<Secret>,
}

/// Reads the secrets `env` names, taking stdin from `stdin` when a variable is `-`.
pub fn load(env: &LauncherEnv, stdin: impl Read) -> Result<Loaded, String> {
    let from_stdin = if env.reads_stdin() {
        let mut text = String::new();
        stdin
            .take(dcs_model::env::stdin::MAX_STDIN_SECRETS)
            .read_to_string(&mut text)
            .map_err(|e| format!("reading the secrets on stdin: {e}"))?;
        serde_json::from_str::<StdinSecrets>(&text)
            .map_err(|_| "the secrets on stdin are not the expected JSON object".to_owned())?
    } else {
        StdinSecrets::default()
    };
    let is_stdin = |f: &Path| f.as_os_str() == STDIN;
    let hop = match env.hop_secret_file.as_deref() {
        None => None,
        Some(f) if is_stdin(f) => {
            let text = from_stdin.hop.as_deref().ok_or_else(|| {
                format!("{DCS_HOP_SECRET_FILE}=- but no hop credential arrived on stdin")
            })?;
            Some((parse_hop(text)?, None))
        }
        Some(f) => {
            let text = std::fs::read_to_string(f)
                .map_err(|e| format!("{DCS_HOP_SECRET_FILE} {}: {}", f.display(), e.kind()))?;
            Some((parse_hop(&text)?, Some(f.to_path_buf())))
        }
    };
    let git_token = match env.git_token_file.as_deref() {
        Some(f) if is_stdin(f) => {
            let token = from_stdin
                .git_token
                .as_deref()
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .ok_or_else(|| {
                    format!("{DCS_GIT_TOKEN_FILE}=- but no git token arrived on stdin")
                })?;
            Some(Secret::new(token.to_owned()))
        }
        _ => None,
    };
    Ok(Loaded { hop, git_token })
}

fn parse_hop(text: &str) -> Result<hop::Credential, String> {
    hop::Credential::parse(text)
        .ok_or_else(|| format!("{DCS_HOP_SECRET_FILE}: the hop credential is empty"))
}

/// Installs what was loaded for the rest of the launcher's life.
pub fn install(loaded: Loaded) {
    if let Some((credential, file)) = loaded.hop {
        hop::install(credential, file);
    }
    if let Some(token) = loaded.git_token {
        credentials::hold(token);
    }
}

#[cfg(test)]
mod tests {
    use dcs_model::RepoRef;

    use super::*;

    fn env() -> LauncherEnv {
        LauncherEnv::new(RepoRef::parse("acme/hello").expect("repo"))
    }

    #[test]
    fn secrets_come_from_stdin_when_a_variable_says_so() {
        let mut env = env();
        env.hop_secret_file = Some(STDIN.into());
        env.git_token_file = Some(STDIN.into());
        let stdin = br#"{"hop":"abc","git_token":" ghp_x\n"}"#;
        let loaded = load(&env, &stdin[..]).expect("loaded");
        let (hop, file) = loaded.hop.expect("hop");
        assert!(hop.matches(b"abc"));
        assert_eq!(file, None, "stdin is read once");
        assert_eq!(loaded.git_token.expect("token").expose(), "ghp_x");
    }

    #[test]
    fn a_hop_file_is_read_and_nothing_is_read_from_stdin_without_a_dash() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("hop");
        std::fs::write(&file, "fromfile\n").expect("write");
        let mut env = env();
        env.hop_secret_file = Some(file);
        env.git_token_file = Some("/secrets/token".into());
        let loaded = load(&env, &b"not json"[..]).expect("stdin unread");
        let (hop, from) = loaded.hop.expect("hop");
        assert!(hop.matches(b"fromfile"));
        assert!(from.is_some(), "a file may be read again");
        assert!(loaded.git_token.is_none(), "a token file is the transfer's");
        assert!(load(&self::env(), &b""[..]).expect("nothing").hop.is_none());
    }

    #[test]
    fn missing_or_malformed_secrets_fail_without_showing_them() {
        let mut env = env();
        env.hop_secret_file = Some(STDIN.into());
        let err = load(&env, &br#"{"git_token":"ghp_secret"}"#[..]).expect_err("no hop");
        assert!(err.contains(DCS_HOP_SECRET_FILE), "{err}");
        let err = load(&env, &b"{\"hop\": ghp_secret"[..]).expect_err("malformed");
        assert!(!err.contains("ghp_secret"), "{err}");
        env.hop_secret_file = Some("/nonexistent/hop".into());
        let err = load(&env, &b""[..]).expect_err("missing file");
        assert!(err.contains("/nonexistent/hop"), "{err}");
    }
}
