//! [`Registry`]: the instances this proxy looks up for `/instances/<id>/…`, with
//! a short memory of the specs of instances it created and of ids the runtime
//! did not know.
//!
//! Two lookups: [`Registry::lookup`] asks the runtime (in Knative mode, an API
//! call for an id its watch cache has not seen), and only after sign-in;
//! [`Registry::lookup_cached`] asks only what this replica holds
//! ([`Runtime::find_cached`]), and is all that a request before sign-in may
//! cause, so made-up ids cost the API server nothing.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use dcs_model::{InstanceId, InstanceSpec, WorkspaceKey, WorkspaceKind};

use crate::error::Result;
use crate::runtime::{Runtime, WorkspaceInfo};

/// How long the spec of an instance this proxy created is remembered (for a
/// runtime that records no specs).
pub const CACHE_TTL: Duration = Duration::from_secs(30);

/// Most cached instances (and, separately, most ids remembered as absent).
const MAX_ENTRIES: usize = 10_000;

/// How long an id the runtime did not know is answered from memory: repeated
/// lookups of the same missing id (a tab reconnecting to a deleted instance, a
/// signed-in caller retrying) ask the runtime once per this long.
pub const ABSENT_TTL: Duration = Duration::from_secs(5);

#[derive(Debug, Clone)]
struct Entry {
    at: Instant,
    key: WorkspaceKey,
    spec: InstanceSpec,
}

/// Short-lived cache of instances: id → (owner's key, spec), and of ids the
/// runtime did not know.
#[derive(Debug)]
pub struct Registry {
    ttl: Duration,
    entries: Mutex<HashMap<InstanceId, Entry>>,
    absent: Mutex<HashMap<InstanceId, Instant>>,
}

impl Registry {
    /// An empty cache whose entries live `ttl`.
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Mutex::new(HashMap::new()),
            absent: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `id` was looked up recently and not found.
    fn known_absent(&self, id: &InstanceId) -> bool {
        let mut absent = self.absent.lock().unwrap_or_else(|p| p.into_inner());
        match absent.get(id) {
            Some(at) if at.elapsed() < ABSENT_TTL.min(self.ttl) => true,
            Some(_) => {
                absent.remove(id);
                false
            }
            None => false,
        }
    }

    fn mark_absent(&self, id: &InstanceId) {
        let mut absent = self.absent.lock().unwrap_or_else(|p| p.into_inner());
        if absent.len() >= MAX_ENTRIES {
            absent.retain(|_, at| at.elapsed() < ABSENT_TTL);
            if absent.len() >= MAX_ENTRIES {
                absent.clear();
            }
        }
        absent.insert(id.clone(), Instant::now());
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<InstanceId, Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Remembers an instance (just created, or just read from the runtime).
    pub fn insert(&self, key: WorkspaceKey, spec: InstanceSpec) {
        self.absent
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&key.id());
        let mut entries = self.lock();
        if entries.len() >= MAX_ENTRIES {
            let ttl = self.ttl;
            entries.retain(|_, e| e.at.elapsed() < ttl);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(
            key.id(),
            Entry {
                at: Instant::now(),
                key,
                spec,
            },
        );
    }

    /// Forgets an instance (deleted).
    pub fn remove(&self, id: &InstanceId) {
        self.lock().remove(id);
    }

    /// The cached instance, if fresh.
    pub fn cached(&self, id: &InstanceId) -> Option<(WorkspaceKey, InstanceSpec)> {
        let mut entries = self.lock();
        match entries.get(id) {
            Some(e) if e.at.elapsed() < self.ttl => Some((e.key.clone(), e.spec.clone())),
            Some(_) => {
                entries.remove(id);
                None
            }
            None => None,
        }
    }

    /// The API instance `id` (never a repository workspace): the runtime's record,
    /// unless the runtime did not know it a moment ago. May ask the API server:
    /// only after sign-in.
    pub async fn lookup(
        &self,
        runtime: &dyn Runtime,
        id: &InstanceId,
    ) -> Result<Option<(WorkspaceKey, InstanceSpec)>> {
        if self.known_absent(id) {
            return Ok(None);
        }
        let Some(info) = runtime.find(id).await? else {
            self.mark_absent(id);
            return Ok(None);
        };
        Ok(instance(info))
    }

    /// [`Registry::lookup`] from what this replica holds, asking no one else: for
    /// requests before sign-in. A miss is not remembered (it is no authority; the
    /// lookup after sign-in still asks).
    pub async fn lookup_cached(
        &self,
        runtime: &dyn Runtime,
        id: &InstanceId,
    ) -> Result<Option<(WorkspaceKey, InstanceSpec)>> {
        if self.known_absent(id) {
            return Ok(None);
        }
        Ok(runtime.find_cached(id).await?.and_then(instance))
    }
}

/// `info` if it is an API instance.
fn instance(info: WorkspaceInfo) -> Option<(WorkspaceKey, InstanceSpec)> {
    matches!(info.key.kind, WorkspaceKind::Instance(_)).then_some((info.key, info.spec))
}

#[cfg(test)]
mod tests {
    use dcs_model::UserId;

    use super::*;

    fn key(id: &InstanceId) -> WorkspaceKey {
        WorkspaceKey::instance(UserId::new("alice").expect("user"), id.clone())
    }

    #[test]
    fn the_cache_expires_and_forgets() {
        let id = InstanceId::from_random([1; 8]);
        let reg = Registry::new(Duration::from_secs(60));
        reg.insert(key(&id), InstanceSpec::default());
        assert!(reg.cached(&id).is_some());
        reg.remove(&id);
        assert!(reg.cached(&id).is_none());
        let short = Registry::new(Duration::ZERO);
        short.insert(key(&id), InstanceSpec::default());
        assert!(short.cached(&id).is_none(), "expired at once");
    }

    #[test]
    fn absent_ids_are_remembered_briefly_and_forgotten_on_insert() {
        let id = InstanceId::from_random([2; 8]);
        let reg = Registry::new(Duration::from_secs(60));
        assert!(!reg.known_absent(&id));
        reg.mark_absent(&id);
        assert!(
            reg.known_absent(&id),
            "asked again within ABSENT_TTL: from memory"
        );
        reg.insert(key(&id), InstanceSpec::default());
        assert!(!reg.known_absent(&id), "created here: known at once");
        let short = Registry::new(Duration::ZERO);
        short.mark_absent(&id);
        assert!(
            !short.known_absent(&id),
            "never longer than the cache's own TTL"
        );
    }
}
