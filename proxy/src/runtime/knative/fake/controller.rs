//! The fake server playing the Knative controller: what happens to a Service
//! *after* the proxy applied it. On demand ([`FakeApiServer::mark_ready`],
//! [`FakeApiServer::scale_to_zero`], [`FakeApiServer::fail`]) or on a clock
//! ([`Policy`]): with a policy other than `Manual`, each new generation of a
//! Service gets its revision `<name>-<generation:05>` at once, reported
//! `Unknown` (deploying) as Knative does, and becomes Ready (with its route URL)
//! or fails after the policy's time.

use std::time::Duration;

use serde_json::{json, Value};

use super::{FakeApiServer, Key, State};

const GROUP: &str = "serving.knative.dev";

fn key(resource: &str, ns: &str, name: &str) -> Key {
    (GROUP.into(), resource.into(), ns.into(), name.into())
}

/// A condition as Knative writes it, changed now.
fn condition(type_: &str, status: &str, reason: Option<&str>, message: Option<&str>) -> Value {
    let now = k8s_openapi::jiff::Timestamp::now().to_string();
    let mut c = json!({"type": type_, "status": status, "lastTransitionTime": now});
    if let Some(r) = reason {
        c["reason"] = json!(r);
    }
    if let Some(m) = message {
        c["message"] = json!(m);
    }
    c
}

/// What the Knative controller does with a new generation of a Service.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Policy {
    /// Nothing, until the test says ([`FakeApiServer::mark_ready`], …).
    #[default]
    Manual,
    /// Its revision becomes Ready (and the Service's route exists) after this long.
    ReadyAfter(Duration),
    /// Its revision fails after `after`: condition `condition` (`ContainerHealthy`,
    /// `ResourcesAvailable`) turns `False` with `reason` and `message`. With
    /// `service`, the Service reports it too (`RevisionFailed`); else the Service
    /// stays `Unknown`, as while Knative waits for the progress deadline.
    FailAfter {
        /// When.
        after: Duration,
        /// Which revision condition.
        condition: &'static str,
        /// Kubernetes' or Knative's one-word reason (`ImagePullBackOff`, …).
        reason: String,
        /// The detail.
        message: String,
        /// Whether the Service's `Ready` turns `False` as well.
        service: bool,
    },
}

impl FakeApiServer {
    /// What happens to every Service's new generations from now on.
    pub fn set_policy(&self, policy: Policy) {
        self.lock().policy = policy;
    }

    /// What happens to the Service `name`'s new generations from now on.
    pub fn set_policy_for(&self, name: &str, policy: Policy) {
        self.lock().policies.insert(name.to_owned(), policy);
    }

    /// Called with the state locked when a Service got a new generation.
    pub(super) fn controller_saw_new_generation(&self, state: &mut State, ns: &str, name: &str) {
        let policy = state
            .policies
            .get(name)
            .cloned()
            .unwrap_or_else(|| state.policy.clone());
        let after = match &policy {
            Policy::Manual => return,
            Policy::ReadyAfter(after) => *after,
            Policy::FailAfter { after, .. } => *after,
        };
        let Some((uid, generation)) = deploying(state, ns, name) else {
            return;
        };
        let server = self.clone();
        let (ns, name) = (ns.to_owned(), name.to_owned());
        tokio::spawn(async move {
            tokio::time::sleep(after).await;
            let mut state = server.lock();
            let current = state.objects.get(&key("services", &ns, &name)).map(|k| {
                (
                    k["metadata"]["uid"].clone(),
                    k["metadata"]["generation"].as_i64(),
                )
            });
            if current != Some((uid, Some(generation))) {
                return; // deleted or changed meanwhile
            }
            match policy {
                Policy::ReadyAfter(_) => ready_now(&mut state, &ns, &name),
                Policy::FailAfter {
                    condition,
                    reason,
                    message,
                    service,
                    ..
                } => fail_revision(
                    &mut state, &ns, &name, condition, &reason, &message, service,
                ),
                Policy::Manual => {}
            }
        });
    }

    /// The Service's current generation gets a ready, active revision
    /// `<name>-<generation:05>` (labels from the template, as Knative does).
    pub fn mark_ready(&self, ns: &str, name: &str) {
        ready_now(&mut self.lock(), ns, name);
    }

    /// [`FakeApiServer::mark_ready`], unless the Service is Ready for its current
    /// generation already (or does not exist).
    pub fn settle(&self, ns: &str, name: &str) {
        let mut state = self.lock();
        let Some(k) = state.objects.get(&key("services", ns, name)) else {
            return;
        };
        let current = k["status"]["observedGeneration"] == k["metadata"]["generation"];
        let ready = k["status"]["conditions"].as_array().is_some_and(|cs| {
            cs.iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        });
        if !(current && ready) && k["metadata"]["deletionTimestamp"].is_null() {
            ready_now(&mut state, ns, name);
        }
    }

    /// The Service's serving revision scales to zero (`Active=False`, `NoTraffic`);
    /// the Service itself stays `Ready=True`, as in Knative.
    pub fn scale_to_zero(&self, ns: &str, name: &str) {
        let mut state = self.lock();
        let rev = state.objects.get(&key("services", ns, name)).and_then(|k| {
            k["status"]["latestReadyRevisionName"]
                .as_str()
                .map(str::to_owned)
        });
        let Some(rev) = rev else { return };
        let Some(mut r) = state.objects.get(&key("revisions", ns, &rev)).cloned() else {
            return;
        };
        r["status"] = json!({
            "conditions": [
                condition("Ready", "True", None, None),
                condition("Active", "False", Some("NoTraffic"), Some("The target is not receiving traffic.")),
            ],
            "actualReplicas": 0, "desiredReplicas": 0,
        });
        state.put(key("revisions", ns, &rev), r);
    }

    /// The pod of the Service's current generation cannot be scheduled (yet), as
    /// Knative reports it: the revision's `ResourcesAvailable=False`
    /// (`Unschedulable`, with the scheduler's `message`), the Service's
    /// `Ready=False` (`RevisionFailed`). [`FakeApiServer::mark_ready`] later is
    /// the pod getting its node.
    pub fn unschedulable(&self, ns: &str, name: &str, message: &str) {
        let mut state = self.lock();
        let reason = "Unschedulable";
        deploying(&mut state, ns, name);
        fail_revision(
            &mut state,
            ns,
            name,
            "ResourcesAvailable",
            reason,
            message,
            true,
        );
    }

    /// The Service's latest generation failed to become ready: `Ready=False`.
    pub fn fail(&self, ns: &str, name: &str, reason: &str, message: &str) {
        let mut state = self.lock();
        let Some(mut k) = state.objects.get(&key("services", ns, name)).cloned() else {
            return;
        };
        k["status"] = json!({
            "observedGeneration": k["metadata"]["generation"],
            "conditions": [condition("Ready", "False", Some(reason), Some(message))],
        });
        state.put(key("services", ns, name), k);
    }
}

/// Starts deploying the Service's current generation: its revision exists,
/// everything reads `Unknown`. Returns the Service's uid and generation.
fn deploying(state: &mut State, ns: &str, name: &str) -> Option<(Value, i64)> {
    let mut k = state.objects.get(&key("services", ns, name)).cloned()?;
    let generation = k["metadata"]["generation"].as_i64().unwrap_or(1);
    let rev = format!("{name}-{generation:05}");
    let deploying = condition("ResourcesAvailable", "Unknown", Some("Deploying"), None);
    let revision = revision_of(
        &k,
        ns,
        name,
        &rev,
        json!({"conditions": [
            condition("Ready", "Unknown", Some("Deploying"), None),
            deploying,
            condition("ContainerHealthy", "Unknown", Some("Deploying"), None),
            condition("Active", "Unknown", Some("Deploying"), None),
        ]}),
    );
    state.put(key("revisions", ns, &rev), revision);
    let waiting = format!("Configuration \"{name}\" is waiting for a Revision to become ready.");
    let mut status = k["status"].clone();
    if !status.is_object() {
        status = json!({});
    }
    status["observedGeneration"] = json!(generation);
    status["latestCreatedRevisionName"] = json!(rev);
    status["conditions"] = json!([
        condition(
            "ConfigurationsReady",
            "Unknown",
            Some("RevisionMissing"),
            Some(&waiting)
        ),
        condition("Ready", "Unknown", Some("RevisionMissing"), Some(&waiting)),
        condition(
            "RoutesReady",
            "Unknown",
            Some("RevisionMissing"),
            Some(&waiting)
        ),
    ]);
    k["status"] = status;
    let uid = k["metadata"]["uid"].clone();
    state.put(key("services", ns, name), k);
    Some((uid, generation))
}

fn revision_of(ksvc: &Value, ns: &str, name: &str, rev: &str, status: Value) -> Value {
    let mut labels = ksvc["spec"]["template"]["metadata"]["labels"].clone();
    if !labels.is_object() {
        labels = json!({});
    }
    labels["serving.knative.dev/service"] = json!(name);
    labels["serving.knative.dev/configuration"] = json!(name);
    json!({
        "apiVersion": "serving.knative.dev/v1", "kind": "Revision",
        "metadata": {"name": rev, "namespace": ns, "labels": labels,
                     "uid": format!("{}-{rev}", ksvc["metadata"]["uid"].as_str().unwrap_or("uid"))},
        "spec": ksvc["spec"]["template"]["spec"],
        "status": status,
    })
}

/// What the kubelet waits for before the Service's pod can run: the Secrets (not
/// optional) and claims its template mounts that do not exist or are being deleted.
fn unmountable(state: &State, ns: &str, ksvc: &Value) -> Vec<String> {
    let Some(volumes) = ksvc["spec"]["template"]["spec"]["volumes"].as_array() else {
        return Vec::new();
    };
    let wanted = volumes.iter().filter_map(|v| {
        if v["secret"].is_object() {
            let optional = v["secret"]["optional"].as_bool() == Some(true);
            let name = v["secret"]["secretName"].as_str()?;
            (!optional).then_some(("secrets", name))
        } else {
            let name = v["persistentVolumeClaim"]["claimName"].as_str()?;
            Some(("persistentvolumeclaims", name))
        }
    });
    wanted
        .filter(|(resource, name)| {
            let k = (
                String::new(),
                (*resource).to_owned(),
                ns.to_owned(),
                (*name).to_owned(),
            );
            state
                .objects
                .get(&k)
                .is_none_or(|o| !o["metadata"]["deletionTimestamp"].is_null())
        })
        .map(|(resource, name)| format!("{resource}/{name}"))
        .collect()
}

/// Ready, unless the pod cannot mount its volumes: then it stays deploying, as in
/// a cluster until Knative's progress deadline.
fn ready_now(state: &mut State, ns: &str, name: &str) {
    let Some(mut k) = state.objects.get(&key("services", ns, name)).cloned() else {
        return;
    };
    let missing = unmountable(state, ns, &k);
    if !missing.is_empty() {
        eprintln!("fake kubelet: the pod of {name} cannot mount {missing:?}; it stays deploying");
        return;
    }
    let generation = k["metadata"]["generation"].as_i64().unwrap_or(1);
    let rev = format!("{name}-{generation:05}");
    let revision = revision_of(
        &k,
        ns,
        name,
        &rev,
        json!({
            "conditions": [
                condition("Ready", "True", None, None),
                condition("ResourcesAvailable", "True", None, None),
                condition("ContainerHealthy", "True", None, None),
                condition("Active", "True", None, None),
            ],
            "actualReplicas": 1, "desiredReplicas": 1,
        }),
    );
    state.put(key("revisions", ns, &rev), revision);
    let url = format!("http://{name}.{ns}.svc.cluster.local");
    k["status"] = json!({
        "observedGeneration": generation,
        "conditions": [
            condition("ConfigurationsReady", "True", None, None),
            condition("Ready", "True", None, None),
            condition("RoutesReady", "True", None, None),
        ],
        "url": url,
        "address": {"url": url},
        "latestReadyRevisionName": rev,
        "latestCreatedRevisionName": rev,
    });
    state.put(key("services", ns, name), k);
}

fn fail_revision(
    state: &mut State,
    ns: &str,
    name: &str,
    which: &str,
    reason: &str,
    message: &str,
    service: bool,
) {
    let Some(mut k) = state.objects.get(&key("services", ns, name)).cloned() else {
        return;
    };
    let generation = k["metadata"]["generation"].as_i64().unwrap_or(1);
    let rev = format!("{name}-{generation:05}");
    let mut conditions = vec![
        condition("Ready", "False", Some(reason), Some(message)),
        condition("Active", "Unknown", Some("Deploying"), None),
    ];
    for other in ["ResourcesAvailable", "ContainerHealthy"] {
        conditions.push(if other == which {
            condition(other, "False", Some(reason), Some(message))
        } else {
            condition(other, "Unknown", Some("Deploying"), None)
        });
    }
    let revision = revision_of(&k, ns, name, &rev, json!({"conditions": conditions}));
    state.put(key("revisions", ns, &rev), revision);
    if service {
        let failed = format!("Revision \"{rev}\" failed with message: {message}.");
        k["status"]["observedGeneration"] = json!(generation);
        k["status"]["conditions"] = json!([
            condition(
                "ConfigurationsReady",
                "False",
                Some("RevisionFailed"),
                Some(&failed)
            ),
            condition("Ready", "False", Some("RevisionFailed"), Some(&failed)),
            condition("RoutesReady", "Unknown", Some("RevisionMissing"), None),
        ]);
        state.put(key("services", ns, name), k);
    }
}
