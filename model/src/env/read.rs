//! Reading the contract: [`LauncherEnv::from_lookup`], every variable checked
//! strictly, each problem an [`Error::Env`] naming the variable.

use std::path::PathBuf;

use super::*;
use crate::error::{Error, Result};
use crate::{InstanceId, RepoRef, UserId};

impl LauncherEnv {
    /// Reads the contract through `lookup` (e.g. `|k| std::env::var(k).ok()`).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let get = |k: &str| lookup(k).filter(|v| !v.is_empty());
        let repo = get(DCS_REPO)
            .map(|s| {
                RepoRef::parse(&s).map_err(|e| Error::Env {
                    var: DCS_REPO,
                    why: e.to_string(),
                })
            })
            .transpose()?;
        let instance = get(DCS_INSTANCE)
            .map(|s| {
                InstanceId::parse(&s).map_err(|e| Error::Env {
                    var: DCS_INSTANCE,
                    why: e.to_string(),
                })
            })
            .transpose()?;
        if repo.is_none() && instance.is_none() {
            return Err(Error::Env {
                var: DCS_REPO,
                why: "is required (or DCS_INSTANCE for a workspace without a repository)".into(),
            });
        }
        let mut env = Self::for_instance(instance, repo);
        if let Some(base) = get(DCS_GIT_BASE) {
            if !(base.starts_with("http://")
                || base.starts_with("https://")
                || base.starts_with("file://"))
            {
                return Err(Error::Env {
                    var: DCS_GIT_BASE,
                    why: "must start with http://, https:// or file://".into(),
                });
            }
            env.git_base = base.trim_end_matches('/').to_owned();
        }
        if let Some(dir) = get(DCS_WORKSPACES_DIR) {
            env.workspaces_dir = PathBuf::from(dir);
        }
        if let Some(listen) = get(DCS_LISTEN) {
            env.listen = listen.parse().map_err(|why| Error::Env {
                var: DCS_LISTEN,
                why,
            })?;
        }
        env.addr_file = get(DCS_ADDR_FILE).map(PathBuf::from);
        if let Some(ide) = get(DCS_IDE) {
            env.ide = ide;
        }
        env.git_token_file = get(DCS_GIT_TOKEN_FILE).map(PathBuf::from);
        env.hop_secret_file = get(DCS_HOP_SECRET_FILE).map(PathBuf::from);
        for (var, file) in [
            (DCS_CREDENTIALS_FILE, get(DCS_CREDENTIALS_FILE)),
            (DCS_CHECKOUT_OUTCOME_FILE, get(DCS_CHECKOUT_OUTCOME_FILE)),
        ] {
            if file.as_deref().is_some_and(|f| !f.starts_with('/')) {
                return Err(Error::Env {
                    var,
                    why: "must be an absolute path".into(),
                });
            }
        }
        env.credentials_file = get(DCS_CREDENTIALS_FILE).map(PathBuf::from);
        env.checkout_outcome_file = get(DCS_CHECKOUT_OUTCOME_FILE).map(PathBuf::from);
        if let Some(base_path) = get(DCS_BASE_PATH) {
            if !base_path.starts_with('/') {
                return Err(Error::Env {
                    var: DCS_BASE_PATH,
                    why: "must start with '/'".into(),
                });
            }
            env.base_path = base_path.trim_end_matches('/').to_owned();
        }
        if let Some(user) = get(DCS_USER) {
            env.user = Some(UserId::new(&user).map_err(|e| Error::Env {
                var: DCS_USER,
                why: e.to_string(),
            })?);
        }
        if let Some(grace) = get(DCS_STOP_GRACE) {
            env.stop_grace_secs = number(DCS_STOP_GRACE, &grace, "seconds")?;
        }
        env.log = get(DCS_LOG);
        if let Some(v) = get(DCS_GIT_TIMEOUT) {
            env.git_timeout_secs = number(DCS_GIT_TIMEOUT, &v, "seconds")?;
            if env.git_timeout_secs == 0 {
                return Err(Error::Env {
                    var: DCS_GIT_TIMEOUT,
                    why: "must be at least 1 second".into(),
                });
            }
        }
        if let Some(v) = get(DCS_GIT_LOW_SPEED_LIMIT) {
            env.git_low_speed_limit = number(DCS_GIT_LOW_SPEED_LIMIT, &v, "bytes per second")?;
        }
        if let Some(v) = get(DCS_GIT_LOW_SPEED_TIME) {
            env.git_low_speed_secs = number(DCS_GIT_LOW_SPEED_TIME, &v, "seconds")?;
            if env.git_low_speed_secs == 0 {
                return Err(Error::Env {
                    var: DCS_GIT_LOW_SPEED_TIME,
                    why: "must be at least 1 second (set DCS_GIT_LOW_SPEED_LIMIT=0 to \
                          disable the low-speed check)"
                        .into(),
                });
            }
        }
        env.ide_bin = get(DCS_IDE_BIN).map(PathBuf::from);
        if let Some(version) = get(DCS_IDE_VERSION) {
            let ok = version
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '+'));
            if !ok || version.starts_with('.') || version.len() > 64 {
                return Err(Error::Env {
                    var: DCS_IDE_VERSION,
                    why: "must be a version like 1.104.0 (letters, digits, . - _ +)".into(),
                });
            }
            env.ide_version = Some(version);
        }
        if let Some(base) = get(DCS_IDE_DOWNLOAD_BASE) {
            if !(base.starts_with("http://") || base.starts_with("https://")) {
                return Err(Error::Env {
                    var: DCS_IDE_DOWNLOAD_BASE,
                    why: "must start with http:// or https://".into(),
                });
            }
            env.ide_download_base = Some(base.trim_end_matches('/').to_owned());
        }
        env.config_dir = get(DCS_CONFIG_DIR).map(PathBuf::from);
        if let Some(file) = get(DCS_EXTRA_CA_FILE) {
            if !file.starts_with('/') {
                return Err(Error::Env {
                    var: DCS_EXTRA_CA_FILE,
                    why: "must be an absolute path to a PEM file".into(),
                });
            }
            env.extra_ca_file = Some(PathBuf::from(file));
        }
        env.pre_stop = get(DCS_PRE_STOP).filter(|c| !c.trim().is_empty());
        if let Some(url) = get(DCS_PROGRESS_URL) {
            if !url.starts_with("http://") && !url.starts_with("https://") {
                return Err(Error::Env {
                    var: DCS_PROGRESS_URL,
                    why: "must start with http:// or https://".into(),
                });
            }
            env.progress_url = Some(url);
        }
        env.idle = IdlePolicy::from_lookup(get)?;
        if let Some(mode) = get(DCS_DEVCONTAINER) {
            env.devcontainer = mode.parse().map_err(|why| Error::Env {
                var: DCS_DEVCONTAINER,
                why,
            })?;
        }
        if let Some(socket) = get(DCS_EGRESS_SOCKET) {
            if !socket.starts_with('/') {
                return Err(Error::Env {
                    var: DCS_EGRESS_SOCKET,
                    why: "must be an absolute path to a unix socket".into(),
                });
            }
            env.egress_socket = Some(PathBuf::from(socket));
        }
        if let Some(gallery) = get(DCS_EXTENSIONS_GALLERY) {
            let gallery = crate::gallery::Gallery::parse(&gallery).map_err(|why| Error::Env {
                var: DCS_EXTENSIONS_GALLERY,
                why,
            })?;
            env.extensions_gallery = Some(gallery);
        }
        Ok(env)
    }
}

/// A whole non-negative number for `var`, or an error saying what it must be.
fn number(var: &'static str, value: &str, unit: &str) -> Result<u64> {
    value.parse().map_err(|_| Error::Env {
        var,
        why: format!("must be a whole number of {unit}, not {value:?}"),
    })
}
