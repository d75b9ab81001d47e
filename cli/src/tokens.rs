//! The local store of instance access tokens: `$XDG_CONFIG_HOME/dcs/tokens.json`
//! (else `~/.config/dcs/tokens.json`), keyed by server then instance id. The
//! directory is 0700, the file 0600, and every write replaces the file atomically
//! (a 0600 temporary file in the same directory, synced, then renamed over it).
//!
//! Several `dcs` may run at once (`for r in …; do dcs create … & done`): each change
//! (read, modify, replace) holds an exclusive advisory lock (`flock`) on
//! `tokens.json.lock` beside the store, so no change overwrites another's and every
//! token reported saved is kept. Reads take no lock: a rename is atomic.

use std::collections::BTreeMap;
use std::fs::{DirBuilder, OpenOptions};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::exit::CliError;

/// What is stored for one instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredToken {
    /// The access token.
    pub access_token: String,
    /// The instance's URL as the API gave it (possibly a path).
    pub url: String,
    /// Whose instance it is (its `user_id`); absent in stores written before it was
    /// kept. `dcs delete` forgets the token on an API "not found" only when the
    /// caller would see this user's instances (see [`crate::delete`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct File {
    /// server → instance id → token.
    #[serde(default)]
    servers: BTreeMap<String, BTreeMap<String, StoredToken>>,
}

/// The token store at one path.
#[derive(Debug, Clone)]
pub struct TokenStore {
    path: PathBuf,
}

impl TokenStore {
    /// The store in the user's config directory, found through `env` (the process
    /// environment in `main`): `XDG_CONFIG_HOME` if set and absolute, else `HOME/.config`.
    pub fn locate(env: impl Fn(&str) -> Option<String>) -> Result<Self, CliError> {
        let base = env("XDG_CONFIG_HOME")
            .filter(|d| Path::new(d).is_absolute())
            .map(PathBuf::from)
            .or_else(|| {
                env("HOME")
                    .filter(|d| Path::new(d).is_absolute())
                    .map(|h| Path::new(&h).join(".config"))
            })
            .ok_or_else(|| {
                CliError::local("cannot find a config directory: set HOME or XDG_CONFIG_HOME")
            })?;
        Ok(Self::at(base.join("dcs").join("tokens.json")))
    }

    /// The store at `path`.
    pub fn at(path: PathBuf) -> Self {
        Self { path }
    }

    /// Where it lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The token of `instance` on `server`, if stored.
    pub fn get(&self, server: &str, instance: &str) -> Result<Option<StoredToken>, CliError> {
        Ok(self
            .read()?
            .servers
            .get(server)
            .and_then(|m| m.get(instance))
            .cloned())
    }

    /// Stores (or replaces) the token of `instance` on `server`.
    pub fn put(&self, server: &str, instance: &str, token: StoredToken) -> Result<(), CliError> {
        let _lock = self.lock()?;
        let mut file = self.read()?;
        file.servers
            .entry(server.to_owned())
            .or_default()
            .insert(instance.to_owned(), token);
        self.write(&file)
    }

    /// Forgets the token of `instance` on `server`; returns whether there was one.
    pub fn forget(&self, server: &str, instance: &str) -> Result<bool, CliError> {
        if !self.path.exists() {
            // Nothing stored yet: nothing to forget (and no directory made for it).
            return Ok(false);
        }
        let _lock = self.lock()?;
        let mut file = self.read()?;
        let Some(tokens) = file.servers.get_mut(server) else {
            return Ok(false);
        };
        let had = tokens.remove(instance).is_some();
        if tokens.is_empty() {
            file.servers.remove(server);
        }
        if had {
            self.write(&file)?;
        }
        Ok(had)
    }

    /// The lock file beside the store.
    fn lock_path(&self) -> PathBuf {
        let mut name = self.path.file_name().unwrap_or_default().to_owned();
        name.push(".lock");
        self.path.with_file_name(name)
    }

    /// Waits for the store's exclusive lock (making its private directory and the
    /// 0600 lock file if needed); it is held until the returned file is dropped.
    fn lock(&self) -> Result<std::fs::File, CliError> {
        private_dir(&self.path)?;
        let path = self.lock_path();
        let fail = |doing: &str, e: &std::io::Error| {
            CliError::local(format!("{doing} {}: {e}", path.display()))
        };
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(|e| fail("opening the lock", &e))?;
        file.lock().map_err(|e| fail("locking", &e))?;
        Ok(file)
    }

    fn read(&self) -> Result<File, CliError> {
        match std::fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                CliError::local(format!(
                    "the token store {} is not valid JSON ({e}); move it away to start afresh",
                    self.path.display()
                ))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(File::default()),
            Err(e) => Err(self.io_error("reading", &e)),
        }
    }

    fn write(&self, file: &File) -> Result<(), CliError> {
        let mut json = serde_json::to_vec_pretty(file)
            .map_err(|e| CliError::local(format!("encoding the token store: {e}")))?;
        json.push(b'\n');
        write_private(&self.path, &json)
    }

    fn io_error(&self, doing: &str, e: &std::io::Error) -> CliError {
        CliError::local(format!(
            "{doing} the token store {}: {e}",
            self.path.display()
        ))
    }
}

/// Replaces `path` atomically with `bytes`, readable by the owner only: its directory
/// is created (or tightened) to 0700, then the file is replaced with a 0600 one
/// ([`dcs_os::write_atomic_private`]).
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    private_dir(path)?;
    dcs_os::write_atomic_private(path, bytes)
        .map_err(|e| CliError::local(format!("writing {}: {e}", path.display())))
}

/// Creates `path`'s directory (0700), or makes an existing one 0700.
fn private_dir(path: &Path) -> Result<(), CliError> {
    let fail = |doing: &str, e: &std::io::Error| {
        CliError::local(format!("{doing} {}: {e}", path.display()))
    };
    let dir = path
        .parent()
        .ok_or_else(|| CliError::local(format!("{} has no directory", path.display())))?;
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| fail("creating the directory of", &e))?;
    // An existing directory keeps its mode with `create`; ours must be private.
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .map_err(|e| fail("securing the directory of", &e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(t: &str) -> StoredToken {
        StoredToken {
            access_token: t.into(),
            url: "/instances/x/".into(),
            user_id: None,
        }
    }

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p)
            .map(|m| m.permissions().mode() & 0o777)
            .unwrap_or(0)
    }

    #[test]
    fn it_lives_under_xdg_config_home_or_home() -> Result<(), CliError> {
        let env = |k: &str| match k {
            "XDG_CONFIG_HOME" => Some("/xdg".to_owned()),
            "HOME" => Some("/home/u".to_owned()),
            _ => None,
        };
        assert_eq!(
            TokenStore::locate(env)?.path(),
            Path::new("/xdg/dcs/tokens.json")
        );
        let env = |k: &str| match k {
            "XDG_CONFIG_HOME" => Some("relative".to_owned()),
            "HOME" => Some("/home/u".to_owned()),
            _ => None,
        };
        assert_eq!(
            TokenStore::locate(env)?.path(),
            Path::new("/home/u/.config/dcs/tokens.json")
        );
        assert!(TokenStore::locate(|_| None).is_err());
        Ok(())
    }

    #[test]
    fn tokens_are_private_keyed_by_server_and_forgotten() -> Result<(), Box<dyn std::error::Error>>
    {
        let tmp = tempfile::tempdir()?;
        let dir = tmp.path().join("cfg/dcs");
        let store = TokenStore::at(dir.join("tokens.json"));
        assert_eq!(store.get("http://a", "i1")?, None);
        store.put("http://a", "i1", token("t1"))?;
        store.put("http://b", "i1", token("t2"))?;
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(store.path()), 0o600);
        assert_eq!(store.get("http://a", "i1")?, Some(token("t1")));
        assert_eq!(store.get("http://b", "i1")?, Some(token("t2")));
        assert!(store.forget("http://a", "i1")?);
        assert!(!store.forget("http://a", "i1")?);
        assert_eq!(store.get("http://a", "i1")?, None);
        assert_eq!(store.get("http://b", "i1")?, Some(token("t2")));
        assert_eq!(mode(store.path()), 0o600);
        Ok(())
    }

    #[test]
    fn writes_replace_the_file_and_leave_no_temporary() -> Result<(), Box<dyn std::error::Error>> {
        let tmp = tempfile::tempdir()?;
        let dir = tmp.path().join("dcs");
        std::fs::create_dir(&dir)?;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755))?;
        let path = dir.join("tokens.json");
        std::fs::write(&path, "{}")?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644))?;
        let before = std::fs::metadata(&path)?;
        let store = TokenStore::at(path.clone());
        store.put("http://a", "i1", token("t1"))?;
        let after = std::fs::metadata(&path)?;
        use std::os::unix::fs::MetadataExt;
        assert_ne!(
            before.ino(),
            after.ino(),
            "replaced by rename, not rewritten"
        );
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&dir), 0o700, "an existing directory is made private");
        let mut names: Vec<_> = std::fs::read_dir(&dir)?
            .filter_map(|e| e.ok().map(|e| e.file_name()))
            .collect();
        names.sort();
        assert_eq!(names, ["tokens.json", "tokens.json.lock"], "no temporary");
        assert_eq!(mode(&dir.join("tokens.json.lock")), 0o600);
        Ok(())
    }

    #[test]
    fn changes_at_once_are_all_kept() -> Result<(), Box<dyn std::error::Error>> {
        // Separate stores (open file descriptions) in threads, as separate `dcs`
        // processes: the lock serialises their read-modify-write.
        let tmp = tempfile::tempdir()?;
        let path = tmp.path().join("dcs/tokens.json");
        TokenStore::at(path.clone()).put("http://a", "gone", token("t"))?;
        let n = 16;
        let start = std::sync::Arc::new(std::sync::Barrier::new(n + 1));
        let threads: Vec<_> = (0..n)
            .map(|i| {
                let (path, start) = (path.clone(), start.clone());
                std::thread::spawn(move || {
                    start.wait();
                    TokenStore::at(path).put("http://a", &format!("i{i}"), token("t"))
                })
            })
            .collect();
        let forget = {
            let (path, start) = (path.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                TokenStore::at(path).forget("http://a", "gone")
            })
        };
        for t in threads {
            t.join().map_err(|_| "a thread panicked")??;
        }
        assert!(forget.join().map_err(|_| "a thread panicked")??);
        let store = TokenStore::at(path);
        for i in 0..n {
            assert!(store.get("http://a", &format!("i{i}"))?.is_some(), "i{i}");
        }
        assert_eq!(store.get("http://a", "gone")?, None);
        Ok(())
    }

    #[test]
    fn a_corrupt_store_is_a_clear_error_and_left_alone() -> Result<(), Box<dyn std::error::Error>> {
        let tmp = tempfile::tempdir()?;
        let path = tmp.path().join("tokens.json");
        std::fs::write(&path, "not json")?;
        let store = TokenStore::at(path.clone());
        let err = store.put("http://a", "i", token("t")).expect_err("corrupt");
        assert!(err.message.contains("not valid JSON"), "{err}");
        assert_eq!(std::fs::read_to_string(&path)?, "not json");
        Ok(())
    }
}
