//! Where an IDE keeps its state in the config volume (`DCS_CONFIG_DIR`): one folder
//! per kind holding its user data (settings, state) and extensions, so they survive
//! a scale to zero; installs live beside them under `ides/` (see `install`).

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The folders of one IDE kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigDirs {
    /// `<config>/<kind>`: the kind's own folder (config files go here).
    pub root: PathBuf,
    /// `<config>/<kind>/data`: user data (settings, workspace state).
    pub data: PathBuf,
    /// `<config>/<kind>/extensions`: installed extensions.
    pub extensions: PathBuf,
}

impl ConfigDirs {
    /// The folders of `kind` under `config`, not created.
    pub fn under(config: &Path, kind: &str) -> Self {
        let root = config.join(kind);
        Self {
            data: root.join("data"),
            extensions: root.join("extensions"),
            root,
        }
    }

    /// The folders of `kind` under `config`, created if missing.
    pub fn create(config: &Path, kind: &str) -> Result<Self> {
        let dirs = Self::under(config, kind);
        for dir in [&dirs.data, &dirs.extensions] {
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        }
        Ok(dirs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_gets_its_own_data_and_extensions_folders() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dirs = ConfigDirs::create(tmp.path(), "code-server").expect("created");
        assert!(dirs.data.is_dir() && dirs.extensions.is_dir());
        assert_eq!(dirs.root, tmp.path().join("code-server"));
        assert_ne!(ConfigDirs::under(tmp.path(), "vscode").data, dirs.data);
    }
}
