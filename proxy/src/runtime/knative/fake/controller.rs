//! The fake server playing the Knative controller: what happens to a Service
//! *after* the proxy applied it (a revision becomes ready, traffic stops and it
//! scales to zero, a start fails).

use serde_json::{json, Value};

use super::FakeApiServer;

const GROUP: &str = "serving.knative.dev";

fn key(resource: &str, ns: &str, name: &str) -> (String, String, String, String) {
    (GROUP.into(), resource.into(), ns.into(), name.into())
}

fn condition(type_: &str, status: &str, reason: Option<&str>) -> Value {
    let mut c = json!({"type": type_, "status": status});
    if let Some(r) = reason {
        c["reason"] = json!(r);
    }
    c
}

impl FakeApiServer {
    /// The Service's current generation gets a ready, active revision
    /// `<name>-<generation:05>` (labels from the template, as Knative does).
    pub fn mark_ready(&self, ns: &str, name: &str) {
        let mut state = self.lock();
        let Some(ksvc) = state.objects.get(&key("services", ns, name)).cloned() else {
            return;
        };
        let generation = ksvc["metadata"]["generation"].as_i64().unwrap_or(1);
        let rev = format!("{name}-{generation:05}");
        let mut labels = ksvc["spec"]["template"]["metadata"]["labels"].clone();
        labels["serving.knative.dev/service"] = json!(name);
        labels["serving.knative.dev/configuration"] = json!(name);
        let revision = json!({
            "apiVersion": "serving.knative.dev/v1", "kind": "Revision",
            "metadata": {"name": rev, "namespace": ns, "labels": labels},
            "spec": ksvc["spec"]["template"]["spec"],
            "status": {
                "conditions": [condition("Ready", "True", None), condition("Active", "True", None)],
                "actualReplicas": 1, "desiredReplicas": 1,
            },
        });
        state.objects.insert(key("revisions", ns, &rev), revision);
        if let Some(k) = state.objects.get_mut(&key("services", ns, name)) {
            k["status"] = json!({
                "observedGeneration": generation,
                "conditions": [
                    condition("ConfigurationsReady", "True", None),
                    condition("Ready", "True", None),
                    condition("RoutesReady", "True", None),
                ],
                "url": format!("http://{name}.{ns}.svc.cluster.local"),
                "latestReadyRevisionName": rev,
                "latestCreatedRevisionName": rev,
            });
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
        if let Some(r) = rev.and_then(|r| state.objects.get_mut(&key("revisions", ns, &r))) {
            r["status"] = json!({
                "conditions": [
                    condition("Ready", "True", None),
                    condition("Active", "False", Some("NoTraffic")),
                ],
                "actualReplicas": 0, "desiredReplicas": 0,
            });
        }
    }

    /// The Service's latest revision failed to become ready.
    pub fn fail(&self, ns: &str, name: &str, reason: &str, message: &str) {
        let mut state = self.lock();
        if let Some(k) = state.objects.get_mut(&key("services", ns, name)) {
            let mut ready = condition("Ready", "False", Some(reason));
            ready["message"] = json!(message);
            k["status"] = json!({"conditions": [ready]});
        }
    }
}
