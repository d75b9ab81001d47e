//! What a checkout keeps between starts in `<config>/devcontainer/<key>/state.json`:
//! whether its user allowed the file, which once-per-checkout steps finished
//! (so `onCreateCommand`, `updateContentCommand` and `postCreateCommand` never run
//! again after they succeeded), and which extensions were installed (installed again
//! only when the file's list changes). Written atomically and durably, owner-only; read and
//! written without following a link below the config volume ([`dcs_os::confined`]).
//! Blocking: run off the runtime.

use std::io;
use std::path::Path;

use serde::{Deserialize, Serialize};
use tracing::warn;

/// The file's name in the checkout's folder.
pub const FILE: &str = "state.json";

/// The largest state file read.
const MAX_BYTES: usize = 64 * 1024;

/// A checkout's state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Saved {
    /// The user allowed the file (mode `ask`).
    #[serde(default)]
    pub allowed: bool,
    /// The once-per-checkout steps that finished, by their property name.
    #[serde(default)]
    pub done: Vec<String>,
    /// The extension ids last installed (`customizations.vscode.extensions`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extensions: Vec<String>,
}

impl Saved {
    /// Whether `key`'s step finished (in this start or an earlier one).
    pub fn is_done(&self, key: &str) -> bool {
        self.done.iter().any(|d| d == key)
    }

    /// Whether `ids` are the extensions last installed (in any order, ids compared
    /// case-insensitively).
    pub fn has_extensions(&self, ids: &[String]) -> bool {
        let sorted = |ids: &[String]| {
            let mut ids: Vec<String> = ids.iter().map(|i| i.to_ascii_lowercase()).collect();
            ids.sort();
            ids
        };
        sorted(&self.extensions) == sorted(ids)
    }

    /// Records that `key`'s step finished.
    pub fn mark_done(&mut self, key: &str) {
        if !self.is_done(key) {
            self.done.push(key.to_owned());
        }
    }
}

/// The state in `<config>/<rel_dir>/state.json`; the default when there is none. A
/// file that is not a state (damaged) counts as none, with a warning.
pub fn load(config: &Path, rel_dir: &Path) -> io::Result<Saved> {
    match dcs_os::confined::read_file(config, &rel_dir.join(FILE), MAX_BYTES) {
        Ok(bytes) => Ok(serde_json::from_slice(&bytes).unwrap_or_else(|error| {
            warn!(%error, "the devcontainer.json state is damaged; starting afresh");
            Saved::default()
        })),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Saved::default()),
        Err(e) => Err(e),
    }
}

/// Replaces the state in `<config>/<rel_dir>/state.json` (folders made as needed).
pub fn store(config: &Path, rel_dir: &Path, saved: &Saved) -> io::Result<()> {
    std::fs::create_dir_all(config)?;
    let bytes = serde_json::to_vec_pretty(saved).map_err(io::Error::other)?;
    dcs_os::confined::write_private(config, &rel_dir.join(FILE), &bytes)
}
