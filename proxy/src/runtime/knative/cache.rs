//! The watch-backed cache of the workspaces' Knative Services and Revisions:
//! one kube-rs `watcher` per kind (label selector `managed-by=dcs`, the workspace
//! app), each reflected into a `Store`. Every replica keeps its own, so a
//! create, delete or readiness change made through any replica (or by Knative)
//! reaches all of them within the watch's latency; nothing polls with LIST.
//!
//! Besides the stores the cache keeps what a waiter needs: a change counter
//! (a `tokio::sync::watch`) bumped after every event, the uids of objects seen
//! deleted (a Service deleted and gone between two looks still counts as
//! deleted), and the last watch error (until the stores are first synced it is
//! the answer to a read, instead of an endless wait).
//!
//! Whether both stores were ever synced ([`Cache::loaded`]) is what the proxy's
//! `/readyz` waits for. It stays true through later watch failures: the stores keep
//! their last state and the watches list again, and a 503 on every replica at once
//! (an API server briefly away) would take the whole service out.

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use kube::api::Api;
use kube::core::{ApiResource, Resource, ResourceExt};
use kube::runtime::reflector::{self, store::Writer, ObjectRef, Store};
use kube::runtime::watcher::{self, Event};
use kube::runtime::WatchStreamExt;
use serde::de::DeserializeOwned;
use tokio::sync::watch as notify;
use tracing::{debug, info, warn};

use super::types::{ksvc_resource, revision_resource, Ksvc, Revision};
use dcs_os::mutex::lock;

/// How long a deleted uid is remembered.
const TOMBSTONE_TTL: Duration = Duration::from_secs(600);

/// Why the cache cannot answer (yet).
#[derive(Debug, Clone, thiserror::Error)]
pub enum CacheError {
    /// The watch fails (the API server's error, for the log).
    #[error("cannot watch the workspaces: {0}")]
    Watch(String),
    /// The first list has not arrived within the time allowed.
    #[error("the workspaces are not loaded yet")]
    NotSynced,
}

#[derive(Default)]
struct Shared {
    tombstones: Mutex<HashMap<String, Instant>>,
    last_error: Mutex<Option<String>>,
    /// Each store got a first full list: Services, Revisions. Noted from the
    /// events (not `Store::wait_until_ready`, whose waiter a later one replaces).
    loaded: [AtomicBool; 2],
}

/// The workspaces as this replica last heard of them.
pub struct Cache {
    ksvcs: Store<Ksvc>,
    revisions: Store<Revision>,
    namespace: String,
    shared: Arc<Shared>,
    changes: notify::Sender<u64>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Cache {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Cache {
    /// Starts watching the Services and Revisions in `namespace` that match
    /// `selector` (needs a Tokio runtime).
    pub fn start(client: kube::Client, namespace: &str, selector: &str) -> Self {
        let shared = Arc::new(Shared::default());
        let (changes, _) = notify::channel(0u64);
        let ksvc_api: Api<Ksvc> = Api::namespaced_with(client.clone(), namespace, &ksvc_resource());
        let rev_api: Api<Revision> = Api::namespaced_with(client, namespace, &revision_resource());
        let (ksvcs, t1) = reflect(ksvc_api, ksvc_resource(), selector, &shared, &changes, 0);
        let (revisions, t2) = reflect(rev_api, revision_resource(), selector, &shared, &changes, 1);
        Self {
            ksvcs,
            revisions,
            namespace: namespace.to_owned(),
            shared,
            changes,
            tasks: vec![t1, t2],
        }
    }

    /// Whether both stores were ever fully listed (see the module docs): the reads
    /// answer from what the API server said, not from an empty cache.
    pub fn loaded(&self) -> bool {
        self.shared.loaded.iter().all(|l| l.load(Ordering::SeqCst))
    }

    /// Waits until both stores hold a first full list, at most `limit`. A watch
    /// that fails before that is the answer at once.
    pub async fn synced(&self, limit: Duration) -> Result<(), CacheError> {
        let both = async {
            let _ = self.ksvcs.wait_until_ready().await;
            let _ = self.revisions.wait_until_ready().await;
        };
        let failed = async {
            let mut rx = self.changes.subscribe();
            loop {
                if let Some(e) = lock(&self.shared.last_error).clone() {
                    return CacheError::Watch(e);
                }
                if rx.changed().await.is_err() {
                    return CacheError::NotSynced;
                }
            }
        };
        tokio::select! {
            biased;
            // Synced: the normal case.
            () = both => Ok(()),
            // The watch failed first: say why.
            e = failed => Err(e),
            // Neither within the limit.
            () = tokio::time::sleep(limit) => Err(CacheError::NotSynced),
        }
    }

    /// The Service `name`, if cached.
    pub fn ksvc(&self, name: &str) -> Option<Arc<Ksvc>> {
        let key = ObjectRef::new_with(name, ksvc_resource()).within(&self.namespace);
        self.ksvcs.get(&key)
    }

    /// The Revision `name`, if cached.
    pub fn revision(&self, name: &str) -> Option<Arc<Revision>> {
        let key = ObjectRef::new_with(name, revision_resource()).within(&self.namespace);
        self.revisions.get(&key)
    }

    /// `ksvc`'s latest created revision, if cached.
    pub fn latest_revision(&self, ksvc: &Ksvc) -> Option<Arc<Revision>> {
        self.revision(super::types::latest_created(ksvc)?)
    }

    /// Every cached Service.
    pub fn ksvcs(&self) -> Vec<Arc<Ksvc>> {
        self.ksvcs.state()
    }

    /// Whether an object with this uid was seen deleted.
    pub fn was_deleted(&self, uid: &str) -> bool {
        lock(&self.shared.tombstones).contains_key(uid)
    }

    /// A receiver that wakes after every change.
    pub fn subscribe(&self) -> notify::Receiver<u64> {
        self.changes.subscribe()
    }

    /// Waits until `done` holds for the cache, at most `limit`; whether it did.
    pub async fn until(&self, limit: Duration, mut done: impl FnMut(&Self) -> bool) -> bool {
        let mut rx = self.subscribe();
        let wait = async {
            loop {
                if done(self) {
                    return true;
                }
                if rx.changed().await.is_err() {
                    return false;
                }
            }
        };
        tokio::time::timeout(limit, wait).await.unwrap_or(false)
    }
}

/// A store for `K`, and the task that keeps it current; its first full list is
/// noted in `shared.loaded[which]`.
fn reflect<K>(
    api: Api<K>,
    resource: ApiResource,
    selector: &str,
    shared: &Arc<Shared>,
    changes: &notify::Sender<u64>,
    which: usize,
) -> (Store<K>, tokio::task::JoinHandle<()>)
where
    K: Resource<DynamicType = ApiResource>
        + Clone
        + DeserializeOwned
        + Debug
        + Send
        + Sync
        + 'static,
{
    let writer = Writer::new(resource.clone());
    let store = writer.as_reader();
    let config = watcher::Config::default().labels(selector);
    let events = reflector::reflector(
        writer,
        watcher::watcher(api, config).modify(|obj| obj.managed_fields_mut().clear()),
    )
    .default_backoff();
    let shared = shared.clone();
    let changes = changes.clone();
    let kind = resource.kind;
    let task = tokio::spawn(events.for_each(move |event| {
        match event {
            Ok(event) => {
                *lock(&shared.last_error) = None;
                if let Event::Delete(obj) = &event {
                    if let Some(uid) = obj.uid() {
                        let mut tombstones = lock(&shared.tombstones);
                        tombstones.retain(|_, at| at.elapsed() < TOMBSTONE_TTL);
                        tombstones.insert(uid, Instant::now());
                    }
                }
                // The reflector applied it to the store before it came here.
                if matches!(event, Event::InitDone)
                    && !shared.loaded[which].swap(true, Ordering::SeqCst)
                    && shared.loaded.iter().all(|l| l.load(Ordering::SeqCst))
                {
                    info!("workspaces loaded from the Kubernetes API");
                }
                debug!(kind, %event, "workspace cache event");
            }
            Err(e) => {
                warn!(kind, error = %e, "watching the workspaces failed; retrying");
                *lock(&shared.last_error) = Some(e.to_string());
            }
        }
        changes.send_modify(|n| *n = n.wrapping_add(1));
        std::future::ready(())
    }));
    (store, task)
}
