//! The local runtime's persisted state: one JSON record per workspace under
//! `<data-dir>/state/`, written atomically (temp file + rename) so a proxy killed at
//! any instant leaves either the old record or the new one, never half of one. A new
//! record keeps the spec it was first given ([`recorded_spec`]).
//!
//! A record carries what this version does not know through: fields a newer
//! version wrote (at the top level and in the spec) are read into
//! [`Record::unknown`] and written back as they were, so a proxy rolled back and
//! forward again loses none of them. A record marked [`Record::deleting`] is one whose
//! deletion began: it is never listed or started again (see `super::adopt`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use dcs_model::{InstanceSpec, WorkspaceKey};

use crate::runtime::WorkspaceSpec;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tracing::{info, warn};

/// A workspace the local runtime knows about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "Persisted", into = "Persisted")]
pub struct Record {
    /// Whose workspace for which repository.
    pub key: WorkspaceKey,
    /// The prefix it is served under.
    pub base_path: String,
    /// What it runs, recorded when it was first registered or started and never
    /// replaced by a later `ensure`. Records written before specs existed read as
    /// the default spec (see [`Record::normalized`]).
    #[serde(default)]
    pub spec: InstanceSpec,
    /// The launcher process, while one runs.
    pub process: Option<ProcessRecord>,
    /// Why the last start failed, if it did.
    pub last_error: Option<String>,
    /// Its deletion began: written before its launcher is stopped, so a proxy that
    /// ends during the stop leaves a record the next one finishes deleting.
    pub deleting: bool,
    /// What a newer version wrote that this one does not know, kept as it was.
    pub unknown: Unknown,
}

/// Fields of a record this version does not know (written by a newer one).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Unknown {
    /// Beside the record's own fields.
    record: Map<String, Value>,
    /// Beside the spec's fields.
    spec: Map<String, Value>,
}

/// A record as it is written: [`Record`] with the unknown fields in their places.
#[derive(Serialize, Deserialize)]
struct Persisted {
    key: WorkspaceKey,
    base_path: String,
    #[serde(default)]
    spec: PersistedSpec,
    process: Option<ProcessRecord>,
    last_error: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    deleting: bool,
    #[serde(flatten)]
    rest: Map<String, Value>,
}

/// A spec as it is written: the fields this version knows, and the others.
#[derive(Default, Serialize, Deserialize)]
struct PersistedSpec {
    #[serde(flatten)]
    known: InstanceSpec,
    #[serde(flatten)]
    rest: Map<String, Value>,
}

impl From<Persisted> for Record {
    fn from(p: Persisted) -> Self {
        Self {
            key: p.key,
            base_path: p.base_path,
            spec: p.spec.known,
            process: p.process,
            last_error: p.last_error,
            deleting: p.deleting,
            unknown: Unknown {
                record: p.rest,
                spec: p.spec.rest,
            },
        }
    }
}

impl From<Record> for Persisted {
    fn from(r: Record) -> Self {
        Self {
            key: r.key,
            base_path: r.base_path,
            spec: PersistedSpec {
                known: r.spec,
                rest: r.unknown.spec,
            },
            process: r.process,
            last_error: r.last_error,
            deleting: r.deleting,
            rest: r.unknown.record,
        }
    }
}

impl Record {
    /// Fills in what an older record cannot hold: a repository workspace's spec
    /// names its repository.
    pub fn normalized(mut self) -> Self {
        if self.spec.repo.is_none() {
            self.spec.repo = self.key.repo().cloned();
        }
        self
    }
}

/// A running launcher, identified robustly against pid reuse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessRecord {
    /// Its pid (and process-group id: each launcher leads its own group).
    pub pid: u32,
    /// Its start time in clock ticks since boot (`/proc/<pid>/stat` field 22).
    pub start_time: u64,
    /// Where it listens, once it does.
    pub addr: Option<SocketAddr>,
}

/// The directory of records.
#[derive(Debug, Clone)]
pub struct StateDir {
    dir: PathBuf,
}

impl StateDir {
    /// Opens (creating) the state directory.
    pub fn open(dir: PathBuf) -> std::io::Result<Self> {
        std::fs::create_dir_all(&dir)?;
        Ok(Self { dir })
    }

    fn path(&self, key: &WorkspaceKey) -> PathBuf {
        self.dir.join(format!("{}.json", key.name()))
    }

    /// Every readable record. Unreadable files are set aside (renamed `.corrupt`)
    /// and reported, never deleted.
    pub fn load_all(&self) -> std::io::Result<Vec<Record>> {
        let mut records = Vec::new();
        // Listed first: a migrated record must not be read twice.
        let paths = std::fs::read_dir(&self.dir)?
            .map(|entry| entry.map(|e| e.path()))
            .collect::<std::io::Result<Vec<PathBuf>>>()?;
        for path in paths {
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            match std::fs::read(&path).map(|b| serde_json::from_slice::<Record>(&b)) {
                Ok(Ok(record)) => {
                    let record = record.normalized();
                    if self.migrate(&path, &record) {
                        records.push(record);
                    }
                }
                Ok(Err(err)) => {
                    warn!(path = %path.display(), %err, "unreadable workspace record set aside");
                    let _ = std::fs::rename(&path, path.with_extension("json.corrupt"));
                }
                Err(err) => warn!(path = %path.display(), %err, "cannot read workspace record"),
            }
        }
        Ok(records)
    }

    /// Moves a record written under an older name of its workspace (names of
    /// repository workspaces used to depend on the case of the URL) to its name now;
    /// if one is there already, the older file is set aside (`.json.superseded`) and
    /// `false` says its record is not to be used.
    fn migrate(&self, path: &Path, record: &Record) -> bool {
        let current = self.path(&record.key);
        if path == current {
            return true;
        }
        if current.exists() {
            let aside = path.with_extension("json.superseded");
            warn!(path = %path.display(), "an older record of a workspace that has one now; set aside");
            let _ = std::fs::rename(path, aside);
            return false;
        }
        match std::fs::rename(path, &current) {
            Ok(()) => {
                info!(from = %path.display(), to = %current.display(), "workspace record renamed")
            }
            Err(err) => {
                warn!(path = %path.display(), %err, "cannot rename an older workspace record")
            }
        }
        true
    }

    /// Writes a record atomically; the folder is made again if someone removed it.
    pub fn save(&self, record: &Record) -> std::io::Result<()> {
        let path = self.path(&record.key);
        std::fs::create_dir_all(&self.dir)?;
        dcs_os::write_atomic(
            &path,
            &serde_json::to_vec_pretty(record).map_err(std::io::Error::other)?,
        )
    }

    /// Forgets a record.
    pub fn remove(&self, key: &WorkspaceKey) -> std::io::Result<()> {
        match std::fs::remove_file(self.path(key)) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            other => other,
        }
    }
}

/// The spec a new workspace records: the given one, stamped with the time of
/// creation if it has none, naming the key's repository if it is a repository's.
pub(crate) fn recorded_spec(spec: &WorkspaceSpec) -> InstanceSpec {
    let mut recorded = spec.instance.clone();
    if recorded.created_unix == 0 {
        recorded.created_unix = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
    }
    if let Some(repo) = spec.key.repo() {
        recorded.repo = Some(repo.clone());
    }
    recorded
}

#[cfg(test)]
mod tests {
    use dcs_model::{RepoRef, UserId};

    use super::*;

    fn record() -> Record {
        Record {
            key: WorkspaceKey::new(
                UserId::new("alice").expect("u"),
                RepoRef::parse("acme/hello").expect("r"),
            ),
            base_path: "/github/acme/hello".into(),
            spec: InstanceSpec {
                repo: Some(RepoRef::parse("acme/hello").expect("r")),
                token_sha256: Some("ab".repeat(32)),
                created_unix: 7,
                ..InstanceSpec::default()
            },
            process: Some(ProcessRecord {
                pid: 42,
                start_time: 7,
                addr: Some("127.0.0.1:9".parse().expect("a")),
            }),
            last_error: None,
            deleting: false,
            unknown: Unknown::default(),
        }
    }

    #[test]
    fn records_round_trip_and_are_removed() {
        let tmp = tempfile::tempdir().expect("tmp");
        let state = StateDir::open(tmp.path().join("state")).expect("open");
        state.save(&record()).expect("save");
        assert_eq!(state.load_all().expect("load"), vec![record()]);
        state.remove(&record().key).expect("remove");
        state.remove(&record().key).expect("removing twice is fine");
        assert!(state.load_all().expect("load").is_empty());
    }

    #[test]
    fn records_without_a_spec_still_load_with_their_repository() {
        let tmp = tempfile::tempdir().expect("tmp");
        let state = StateDir::open(tmp.path().to_path_buf()).expect("open");
        let old = r#"{"key":{"user":"alice","repo":"acme/hello"},"base_path":"/github/acme/hello",
            "process":null,"last_error":null}"#;
        std::fs::write(tmp.path().join("old.json"), old).expect("write");
        let loaded = state.load_all().expect("load");
        assert_eq!(loaded.len(), 1);
        assert_eq!(loaded[0].key, record().key);
        assert_eq!(
            loaded[0].spec,
            InstanceSpec {
                repo: Some(RepoRef::parse("acme/hello").expect("r")),
                ..InstanceSpec::default()
            }
        );
    }

    #[test]
    fn fields_of_a_newer_version_survive_a_load_and_a_save() {
        let tmp = tempfile::tempdir().expect("tmp");
        let state = StateDir::open(tmp.path().to_path_buf()).expect("open");
        let mut newer = serde_json::to_value(record()).expect("json");
        newer["paused_until"] = serde_json::json!({"unix": 99});
        newer["spec"]["gpu"] = serde_json::json!("a100");
        let path = state.path(&record().key);
        std::fs::write(&path, serde_json::to_vec(&newer).expect("json")).expect("write");
        let mut loaded = state.load_all().expect("load");
        assert_eq!(loaded.len(), 1);
        assert_eq!(
            loaded[0].spec,
            record().spec,
            "the known spec reads as it was"
        );
        // Changed and saved by this version: what it does not know stays.
        loaded[0].last_error = Some("failed".into());
        state.save(&loaded[0]).expect("save");
        let reread: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("json");
        assert_eq!(reread["paused_until"], serde_json::json!({"unix": 99}));
        assert_eq!(reread["spec"]["gpu"], "a100");
        assert_eq!(reread["last_error"], "failed");
        assert_eq!(reread["spec"]["token_sha256"], "ab".repeat(32));
        assert_eq!(state.load_all().expect("load again"), loaded);
    }

    #[test]
    fn the_deletion_mark_is_written_only_when_set() {
        let tmp = tempfile::tempdir().expect("tmp");
        let state = StateDir::open(tmp.path().to_path_buf()).expect("open");
        state.save(&record()).expect("save");
        let text = std::fs::read_to_string(state.path(&record().key)).expect("read");
        assert!(!text.contains("deleting"), "{text}");
        let marked = Record {
            deleting: true,
            ..record()
        };
        state.save(&marked).expect("save");
        assert_eq!(state.load_all().expect("load"), vec![marked]);
    }

    #[test]
    fn corrupt_records_are_set_aside_not_deleted() {
        let tmp = tempfile::tempdir().expect("tmp");
        let state = StateDir::open(tmp.path().to_path_buf()).expect("open");
        std::fs::write(tmp.path().join("x.json"), b"{not json").expect("write");
        assert!(state.load_all().expect("load").is_empty());
        assert!(tmp.path().join("x.json.corrupt").exists());
    }

    #[test]
    fn a_record_under_an_older_name_moves_to_its_name_now() {
        let tmp = tempfile::tempdir().expect("tmp");
        let state = StateDir::open(tmp.path().to_path_buf()).expect("open");
        let mut mixed = record();
        mixed.key = WorkspaceKey::new(
            UserId::new("alice").expect("u"),
            RepoRef::parse("Acme/Hello").expect("r"),
        );
        let old = tmp.path().join("ws-alice-acme-hello-0123456789.json");
        std::fs::write(&old, serde_json::to_vec(&mixed).expect("json")).expect("write");
        let loaded = state.load_all().expect("load");
        assert_eq!(loaded.len(), 1, "read once");
        assert!(!old.exists());
        assert!(state.path(&mixed.key).exists());
        assert_eq!(state.path(&mixed.key), state.path(&record().key));
        // A second older file of the same workspace is set aside, not loaded twice.
        std::fs::write(&old, serde_json::to_vec(&mixed).expect("json")).expect("write");
        assert_eq!(state.load_all().expect("load").len(), 1);
        assert!(old.with_extension("json.superseded").exists());
    }
}
