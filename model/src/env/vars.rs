//! Writing the contract: [`LauncherEnv::to_vars`], the inverse of
//! [`LauncherEnv::from_lookup`].

use super::*;

impl LauncherEnv {
    /// The variables to set for a launcher, in contract order. Optional ones that are
    /// unset are left out.
    pub fn to_vars(&self) -> Vec<(&'static str, String)> {
        let mut vars = Vec::new();
        if let Some(repo) = &self.repo {
            vars.push((DCS_REPO, repo.to_string()));
        }
        if let Some(id) = &self.instance {
            vars.push((DCS_INSTANCE, id.to_string()));
        }
        vars.extend([
            (DCS_GIT_BASE, self.git_base.clone()),
            (
                DCS_WORKSPACES_DIR,
                self.workspaces_dir.display().to_string(),
            ),
            (DCS_LISTEN, self.listen.to_string()),
        ]);
        if let Some(f) = &self.addr_file {
            vars.push((DCS_ADDR_FILE, f.display().to_string()));
        }
        vars.push((DCS_IDE, self.ide.clone()));
        for (var, file) in [
            (DCS_GIT_TOKEN_FILE, &self.git_token_file),
            (DCS_HOP_SECRET_FILE, &self.hop_secret_file),
            (DCS_CREDENTIALS_FILE, &self.credentials_file),
            (DCS_CHECKOUT_OUTCOME_FILE, &self.checkout_outcome_file),
        ] {
            if let Some(f) = file {
                vars.push((var, f.display().to_string()));
            }
        }
        if !self.base_path.is_empty() {
            vars.push((DCS_BASE_PATH, self.base_path.clone()));
        }
        if let Some(u) = &self.user {
            vars.push((DCS_USER, u.to_string()));
        }
        vars.push((DCS_STOP_GRACE, self.stop_grace_secs.to_string()));
        if let Some(l) = &self.log {
            vars.push((DCS_LOG, l.clone()));
        }
        vars.extend([
            (DCS_GIT_TIMEOUT, self.git_timeout_secs.to_string()),
            (
                DCS_GIT_LOW_SPEED_LIMIT,
                self.git_low_speed_limit.to_string(),
            ),
            (DCS_GIT_LOW_SPEED_TIME, self.git_low_speed_secs.to_string()),
        ]);
        if let Some(b) = &self.ide_bin {
            vars.push((DCS_IDE_BIN, b.display().to_string()));
        }
        if let Some(v) = &self.ide_version {
            vars.push((DCS_IDE_VERSION, v.clone()));
        }
        if let Some(b) = &self.ide_download_base {
            vars.push((DCS_IDE_DOWNLOAD_BASE, b.clone()));
        }
        if let Some(d) = &self.config_dir {
            vars.push((DCS_CONFIG_DIR, d.display().to_string()));
        }
        if let Some(f) = &self.extra_ca_file {
            vars.push((DCS_EXTRA_CA_FILE, f.display().to_string()));
        }
        if let Some(c) = &self.pre_stop {
            vars.push((DCS_PRE_STOP, c.clone()));
        }
        if let Some(u) = &self.progress_url {
            vars.push((DCS_PROGRESS_URL, u.clone()));
        }
        vars.extend(self.idle.to_vars());
        vars.push((DCS_DEVCONTAINER, self.devcontainer.to_string()));
        if let Some(s) = &self.egress_socket {
            vars.push((DCS_EGRESS_SOCKET, s.display().to_string()));
        }
        if let Some(g) = &self.extensions_gallery {
            vars.push((DCS_EXTENSIONS_GALLERY, g.json().to_owned()));
        }
        vars
    }
}
