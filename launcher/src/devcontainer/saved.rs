//! What a checkout keeps between starts: whether its user allowed the file, which
//! once-per-checkout steps finished (so `onCreateCommand`, `updateContentCommand` and
//! `postCreateCommand` never run again after they succeeded), and which extensions
//! were installed, per extensions folder ([`Saved::extensions`]: an IDE of another
//! kind, or one in another config volume, installs them into its own folder).
//!
//! Where ([`places`]):
//! - consent and the finished steps stay with the checkout: in a git checkout, in its
//!   git folder, `<checkout>/.git/dcs/devcontainer/state.json` ([`IN_GIT`]), which a
//!   clone never brings from the remote and a checkout cloned afresh starts without;
//!   so every workspace on the checkout (a `/github/acme/hello` workspace and an API
//!   instance of `acme/hello`, in any volume) shares it. A folder that is no git
//!   checkout (an API instance without a repository) keeps it in the config volume,
//!   `<config>/devcontainer/<key>/state.json`;
//! - the extensions installed, in the config volume in any case (there, in the IDE's
//!   folder, they are installed): `<config>/devcontainer/<key>/state.json`, keyed by
//!   the extensions folder they went to.
//!
//! Two launchers may share a checkout, so a write is a read-modify-write under
//! `record.lock` beside the record ([`update`]: consent and finished steps are added to
//! what is kept, never taken away), and the once-per-checkout steps run under
//! `steps.lock` ([`lock_steps`]): the second launcher waits, reads the record again and
//! skips what the first finished. Locks are `flock(2)`s, let go when their holder dies.
//! Written atomically and durably, owner-only; read, written and locked without
//! following a link below the checkout or the config volume ([`dcs_os::confined`]).
//! Blocking: run off the runtime.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use dcs_os::FileLock;
use serde::{Deserialize, Serialize};
use tracing::warn;

/// The record's name in its folder.
pub const FILE: &str = "state.json";

/// Held while the record is read and replaced.
pub const RECORD_LOCK: &str = "record.lock";

/// Held while the once-per-checkout steps (and the extensions' install) run.
pub const STEPS_LOCK: &str = "steps.lock";

/// The record's folder in a git checkout, below the checkout.
pub const IN_GIT: &str = ".git/dcs/devcontainer";

/// The largest state file read.
const MAX_BYTES: usize = 64 * 1024;

/// How often a waiting launcher tries the record's lock again (held for a write).
const RECORD_POLL: Duration = Duration::from_millis(10);

/// A checkout's state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Saved {
    /// The user allowed the file (mode `ask`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub allowed: bool,
    /// The once-per-checkout steps that finished, by their property name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub done: Vec<String>,
    /// The extension ids installed (`customizations.vscode.extensions`), by the
    /// extensions folder they were installed into (its path as the IDE was given it:
    /// [`crate::devcontainer::extensions::folder_key`]). Kept as `installed`.
    ///
    /// A record from before (`"extensions": [ids]`, whatever the folder) still reads
    /// (its consent and steps count) but its list counts for no folder: it cannot
    /// tell which IDE kind (or volume) it was made for, and counting it for the wrong
    /// one is the defect this keying fixes (that IDE never gets the extensions).
    /// Installing an id already in the folder again is harmless and quick (the IDE
    /// says it is installed and exits 0), so every folder installs the file's list
    /// once more, and the old list is dropped at the next write.
    #[serde(
        default,
        rename = "installed",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub extensions: BTreeMap<String, Vec<String>>,
}

fn is_false(b: &bool) -> bool {
    !b
}

impl Saved {
    /// Whether `key`'s step finished (in this start or an earlier one).
    pub fn is_done(&self, key: &str) -> bool {
        self.done.iter().any(|d| d == key)
    }

    /// The extension ids installed into the folder `folder` (a key of
    /// [`Self::extensions`]).
    pub fn installed_in(&self, folder: &str) -> &[String] {
        self.extensions.get(folder).map_or(&[], Vec::as_slice)
    }

    /// Whether `id` is installed into `folder` (ids compared case-insensitively).
    pub fn is_installed(&self, folder: &str, id: &str) -> bool {
        self.installed_in(folder)
            .iter()
            .any(|done| done.eq_ignore_ascii_case(id))
    }

    /// Records `ids` as what is installed into `folder` (none: the folder forgotten).
    pub fn set_installed(&mut self, folder: &str, ids: Vec<String>) {
        if ids.is_empty() {
            self.extensions.remove(folder);
        } else {
            self.extensions.insert(folder.to_owned(), ids);
        }
    }

    /// Records that `key`'s step finished.
    pub fn mark_done(&mut self, key: &str) {
        if !self.is_done(key) {
            self.done.push(key.to_owned());
        }
    }

    /// Takes in `kept` (the record as another launcher may have left it): its consent
    /// and finished steps are added, its extensions replace these.
    pub fn absorb(&mut self, kept: &Saved) {
        self.allowed |= kept.allowed;
        for key in &kept.done {
            self.mark_done(key);
        }
        self.extensions.clone_from(&kept.extensions);
    }
}

/// A record's folder: `dir` below the trusted folder `base`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    /// The checkout, or the config volume.
    pub base: PathBuf,
    /// Below `base`.
    pub dir: PathBuf,
    /// In the checkout's git folder, which is never made here: a checkout removed
    /// while its launcher runs is not given a `.git` of ours.
    pub in_git: bool,
}

impl Place {
    /// The record's path.
    pub fn file(&self) -> PathBuf {
        self.base.join(&self.dir).join(FILE)
    }

    /// The state in it; the default when there is none. A file that is not a state
    /// (damaged) counts as none, with a warning.
    fn load(&self) -> io::Result<Saved> {
        match dcs_os::confined::read_file(&self.base, &self.dir.join(FILE), MAX_BYTES) {
            Ok(bytes) => Ok(serde_json::from_slice(&bytes).unwrap_or_else(|error| {
                let file = self.file();
                let file = file.display();
                warn!(%error, %file, "the devcontainer.json state is damaged; starting afresh");
                Saved::default()
            })),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Saved::default()),
            Err(e) => Err(e),
        }
    }

    /// Replaces the state in it (folders made as needed).
    fn store(&self, saved: &Saved) -> io::Result<()> {
        self.make_base()?;
        let bytes = serde_json::to_vec_pretty(saved).map_err(io::Error::other)?;
        dcs_os::confined::write_private(&self.base, &self.dir.join(FILE), &bytes)
    }

    /// Takes the lock `name` in it (made if missing), polled every `poll` while
    /// `waiting` says so: `Ok(None)` once it says no. A link at its name is refused.
    fn lock(
        &self,
        name: &str,
        poll: Duration,
        waiting: impl FnMut() -> bool,
    ) -> io::Result<Option<FileLock>> {
        self.make_base()?;
        lock_below(&self.base, &self.dir.join(name), poll, waiting)
    }

    /// Makes the config volume if missing; a checkout's git folder must be there.
    fn make_base(&self) -> io::Result<()> {
        if !self.in_git {
            return std::fs::create_dir_all(&self.base);
        }
        let git = self.base.join(".git");
        if std::fs::symlink_metadata(&git).is_ok_and(|m| m.is_dir()) {
            return Ok(());
        }
        let text = format!("{} is no longer a git folder", git.display());
        Err(io::Error::new(io::ErrorKind::NotFound, text))
    }
}

/// Where a checkout's state is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Places {
    /// Consent and the finished steps (and the locks).
    pub checkout: Place,
    /// The extensions installed (the same place when the checkout is no git checkout).
    pub ide: Place,
}

/// The places of the checkout `checkout`, whose folder in the config volume `config`
/// is `config_dir`: in its git folder when `.git` is a folder (not a link, not a
/// worktree's `.git` file), else in the config volume. Blocking.
pub fn places(checkout: &Path, config: &Path, config_dir: &Path) -> Places {
    let ide = Place {
        base: config.to_path_buf(),
        dir: config_dir.to_path_buf(),
        in_git: false,
    };
    let git = std::fs::symlink_metadata(checkout.join(".git")).is_ok_and(|m| m.is_dir());
    let checkout = if git {
        Place {
            base: checkout.to_path_buf(),
            dir: PathBuf::from(IN_GIT),
            in_git: true,
        }
    } else {
        ide.clone()
    };
    Places { checkout, ide }
}

/// The state kept; the default when there is none.
pub fn load(places: &Places) -> io::Result<Saved> {
    let mut saved = places.checkout.load()?;
    if places.ide != places.checkout {
        saved.extensions = match places.ide.load() {
            Ok(ide) => ide.extensions,
            Err(error) => {
                warn!(%error, "cannot read which extensions were installed; installing again");
                BTreeMap::new()
            }
        };
    }
    Ok(saved)
}

/// Adds `mine`'s consent and finished steps to the state kept, and replaces its
/// extensions (every folder's) with `mine`'s when `extensions` (a launcher holding
/// [`STEPS_LOCK`]: only it installs them, after reading the record again), under
/// [`RECORD_LOCK`]; writes only what changed. Returns the
/// state as kept now (with what other launchers kept).
pub fn update(places: &Places, mine: &Saved, extensions: bool) -> io::Result<Saved> {
    let _lock = places.checkout.lock(RECORD_LOCK, RECORD_POLL, || true)?;
    let before = load(places)?;
    let mut after = before.clone();
    after.allowed |= mine.allowed;
    for key in &mine.done {
        after.mark_done(key);
    }
    if extensions {
        after.extensions.clone_from(&mine.extensions);
    }
    if places.ide == places.checkout {
        if after != before {
            places.checkout.store(&after)?;
        }
        return Ok(after);
    }
    let checkout_part = |s: &Saved| Saved {
        extensions: BTreeMap::new(),
        ..s.clone()
    };
    if checkout_part(&after) != checkout_part(&before) {
        places.checkout.store(&checkout_part(&after))?;
    }
    if after.extensions != before.extensions {
        let ide = Saved {
            extensions: after.extensions.clone(),
            ..Saved::default()
        };
        places.ide.store(&ide)?;
    }
    Ok(after)
}

/// Takes the checkout's [`STEPS_LOCK`], waiting (polled every `poll`) while another
/// launcher holds it and `waiting` says so: `Ok(None)` once it says no.
pub fn lock_steps(
    places: &Places,
    poll: Duration,
    waiting: impl FnMut() -> bool,
) -> io::Result<Option<FileLock>> {
    places.checkout.lock(STEPS_LOCK, poll, waiting)
}

/// Takes the lock file `rel` below the trusted folder `base` (its folders made as
/// needed, `0700`), polled every `poll` while `waiting` says so: `Ok(None)` once it
/// says no. A link on the way or at its name is refused (never followed). Blocking.
pub fn lock_below(
    base: &Path,
    rel: &Path,
    poll: Duration,
    waiting: impl FnMut() -> bool,
) -> io::Result<Option<FileLock>> {
    if let Some(dir) = rel.parent().filter(|d| !d.as_os_str().is_empty()) {
        dcs_os::confined::make_folders(base, dir)?;
    }
    if let Some(link) = dcs_os::confined::first_link(base, rel)? {
        let text = format!("{} is a symbolic link", link.display());
        return Err(io::Error::new(io::ErrorKind::InvalidData, text));
    }
    FileLock::lock_polling(&base.join(rel), poll, waiting)
}
