//! The environment of the processes a workspace runs for its user (the IDE, the
//! `none` IDE's terminals): the launcher's own, minus its contract (`DCS_*`, which
//! names files such as the git token's) and minus what the platform set for the
//! launcher itself (Knative's `PORT`, which is the launcher's port, and `K_*`), so
//! an app that reads `$PORT` does not collide with the launcher.
//!
//! What they get in addition ([`added`]): the launcher's trust bundle
//! ([`crate::trust::for_users`]: `SSL_CERT_FILE`, `NODE_EXTRA_CA_CERTS`); in a
//! sandbox, its way out ([`crate::egress`]: `HTTP_PROXY`, `HTTPS_PROXY`); the
//! operator's extension gallery (`EXTENSIONS_GALLERY`, from `DCS_EXTENSIONS_GALLERY`); when the user's own git credentials are
//! offered (`DCS_CREDENTIALS_FILE`), git's environment configuration
//! (`GIT_CONFIG_COUNT`, `GIT_CONFIG_KEY_<n>`, `GIT_CONFIG_VALUE_<n>`, git 2.31 and
//! later) naming `dcs-launcher credential-helper` as a credential helper, after any
//! the user configured themselves. No file of the user's is written.

use std::ffi::{OsStr, OsString};
use std::path::Path;

/// Variables the platform sets for the launcher's container, not for its users.
pub const PLATFORM: &[&str] = &["PORT", "K_SERVICE", "K_CONFIGURATION", "K_REVISION"];

/// Whether `name` is kept from user processes.
pub fn is_withheld(name: &OsStr) -> bool {
    name.to_str()
        .is_some_and(|k| k.starts_with("DCS_") || PLATFORM.contains(&k))
}

/// The names in this process's environment that user processes must not get.
pub fn withheld() -> Vec<OsString> {
    std::env::vars_os()
        .map(|(k, _)| k)
        .filter(|k| is_withheld(k))
        .collect()
}

/// Makes `cmd` a process of the user's in `cwd`: no stdin, a process group of its
/// own (stopped as one), killed should its handle be dropped, and the user's
/// environment ([`apply`]). Its output is the caller's to choose.
pub fn prepare<'a>(
    cmd: &'a mut tokio::process::Command,
    cwd: &Path,
) -> &'a mut tokio::process::Command {
    cmd.current_dir(cwd)
        .stdin(std::process::Stdio::null())
        .process_group(0)
        .kill_on_drop(true);
    apply(cmd);
    cmd
}

/// Gives `cmd` the user's environment: this process's minus what is [`withheld`],
/// plus what is [`added`] (the IDE, the pre-stop command, devcontainer.json's).
pub fn apply(cmd: &mut tokio::process::Command) {
    for key in withheld() {
        cmd.env_remove(key);
    }
    cmd.envs(added());
}

/// The variables user processes get in addition, from this process's environment.
pub fn added() -> Vec<(OsString, OsString)> {
    let mut vars = crate::trust::for_users::env();
    vars.extend(crate::egress::env());
    vars.extend(gallery());
    let Some(file) = std::env::var_os(dcs_model::env::DCS_CREDENTIALS_FILE) else {
        return vars;
    };
    let Ok(exe) = std::env::current_exe() else {
        return vars;
    };
    let count = std::env::var("GIT_CONFIG_COUNT")
        .ok()
        .and_then(|n| n.parse::<usize>().ok());
    vars.extend(helper_config(&exe, Path::new(&file), count));
    vars
}

/// code-server's `EXTENSIONS_GALLERY` from the operator's `DCS_EXTENSIONS_GALLERY`
/// (checked when the launcher read its contract), which wins over one of the
/// launcher's own environment.
fn gallery() -> Option<(OsString, OsString)> {
    let text = std::env::var(dcs_model::env::DCS_EXTENSIONS_GALLERY).ok()?;
    let gallery = dcs_model::gallery::Gallery::parse(&text).ok()?;
    Some(("EXTENSIONS_GALLERY".into(), gallery.json().into()))
}

/// `GIT_CONFIG_*` naming `exe`'s credential helper over `file`, after the `count`
/// entries already configured through the environment (if any).
pub fn helper_config(exe: &Path, file: &Path, count: Option<usize>) -> Vec<(OsString, OsString)> {
    let n = count.unwrap_or(0);
    let value = format!(
        "!{} {} --file {}",
        shell_quote(&exe.display().to_string()),
        crate::credential_helper::SUBCOMMAND,
        shell_quote(&file.display().to_string())
    );
    vec![
        ("GIT_CONFIG_COUNT".into(), (n + 1).to_string().into()),
        (
            format!("GIT_CONFIG_KEY_{n}").into(),
            "credential.helper".into(),
        ),
        (format!("GIT_CONFIG_VALUE_{n}").into(), value.into()),
    ]
}

/// `s` as one word for `sh`.
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_contract_and_the_platforms_variables_are_withheld() {
        for name in [
            "DCS_GIT_TOKEN_FILE",
            "DCS_REPO",
            "PORT",
            "K_SERVICE",
            "K_REVISION",
        ] {
            assert!(is_withheld(OsStr::new(name)), "{name}");
        }
        for name in ["HOME", "PATH", "SHELL", "PORTAL", "DCSX"] {
            assert!(!is_withheld(OsStr::new(name)), "{name}");
        }
    }

    #[test]
    fn the_credential_helper_is_configured_after_the_users_own_entries() {
        let vars = helper_config(
            Path::new("/opt/dcs/bin/dcs-launcher"),
            Path::new("/w/it's.json"),
            Some(2),
        );
        let get = |k: &str| {
            vars.iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.to_string_lossy().into_owned())
        };
        assert_eq!(get("GIT_CONFIG_COUNT").as_deref(), Some("3"));
        assert_eq!(
            get("GIT_CONFIG_KEY_2").as_deref(),
            Some("credential.helper")
        );
        assert_eq!(
            get("GIT_CONFIG_VALUE_2").as_deref(),
            Some("!'/opt/dcs/bin/dcs-launcher' credential-helper --file '/w/it'\\''s.json'")
        );
    }
}
