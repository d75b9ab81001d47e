//! The workspace's objects against upstream Knative data: the Service CRD's
//! OpenAPI schema (made strict: unknown fields are errors, where the apiserver
//! would silently prune them), the pod-spec feature flags its field descriptions
//! name, and Knative's pod-spec restrictions.

use std::collections::BTreeSet;

use serde_json::Value;

use super::{config, config_with, instance_spec, reference, spec};
use crate::runtime::knative::config::KnativeConfig;
use crate::runtime::knative::manifests::{knative_config, FEATURES};
use crate::runtime::knative::objects;
use crate::runtime::WorkspaceSpec;

/// Loads a YAML reference file.
pub fn load_yaml(path: &std::path::Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The `openAPIV3Schema` of a CRD's first served version.
pub fn crd_schema(path: &std::path::Path) -> Value {
    let crd = load_yaml(path);
    let versions = crd["spec"]["versions"].as_array().expect("versions");
    let v = versions
        .iter()
        .find(|v| v["served"] == true)
        .expect("served version");
    v["schema"]["openAPIV3Schema"].clone()
}

/// Makes a structural schema strict: objects with `properties` and without
/// `x-kubernetes-preserve-unknown-fields` reject unknown fields.
pub fn strict(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            let open = map.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
            if map.contains_key("properties") && !open && !map.contains_key("additionalProperties")
            {
                map.insert("additionalProperties".into(), Value::Bool(false));
            }
            for v in map.values_mut() {
                strict(v);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(strict),
        _ => {}
    }
}

/// Schema errors of `instance`, readable.
pub fn schema_errors(schema: &Value, instance: &Value) -> Vec<String> {
    let validator = jsonschema::validator_for(schema).expect("schema compiles");
    validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

/// Whether an upstream ConfigMap's `_example` block documents `key`.
fn upstream_key(example: &str, key: &str) -> bool {
    example
        .lines()
        .any(|l| l.trim_start().starts_with(&format!("{key}: ")))
}

/// A repository workspace with the defaults, and an instance asking for everything.
fn specs() -> Vec<WorkspaceSpec> {
    vec![spec(), instance_spec()]
}

fn configs() -> Vec<KnativeConfig> {
    vec![
        config(),
        config_with(&[]),
        config_with(&[
            "--knative-volume-access",
            "read-write-many",
            "--knative-cpu-limit",
            "2",
            "--knative-image-pull-secret",
            "registry",
            "--knative-storage-class",
            "nfs",
            "--knative-extra-ca-secret",
            "corp-ca",
        ]),
        config_with(&[
            "--knative-extra-ca-configmap",
            "trust-bundle",
            "--knative-extra-ca-key",
            "trust-bundle.pem",
        ]),
    ]
}

#[test]
fn knative_services_validate_against_the_upstream_crd_schema() {
    let mut schema = crd_schema(&reference("knative/crd-services.serving.knative.dev.yaml"));
    strict(&mut schema);
    for (cfg, spec) in configs()
        .into_iter()
        .flat_map(|c| specs().into_iter().map(move |s| (c.clone(), s)))
    {
        let ksvc = serde_json::to_value(objects::ksvc(&cfg, &spec)).expect("json");
        let errors = schema_errors(&schema, &ksvc);
        assert!(errors.is_empty(), "{errors:#?}");
    }
    // The strict schema does catch a misspelled field.
    let mut bad = serde_json::to_value(objects::ksvc(&config(), &spec())).expect("json");
    bad["spec"]["template"]["spec"]["timeoutSecs"] = Value::from(5);
    assert!(!schema_errors(&schema, &bad).is_empty());
}

/// Flags named by "behind a feature flag - <flag>" in the schema of each field
/// present in `value`.
fn flags_used(schema: &Value, value: &Value, out: &mut BTreeSet<String>) {
    if let Some(desc) = schema["description"].as_str() {
        if let Some(rest) = desc.split("behind a feature flag - ").nth(1) {
            let flag = rest.split_whitespace().next().unwrap_or_default();
            out.insert(flag.trim_end_matches('.').to_owned());
        }
    }
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                if let Some(s) = schema["properties"].get(k) {
                    flags_used(s, v, out);
                }
            }
        }
        Value::Array(items) => items
            .iter()
            .for_each(|v| flags_used(&schema["items"], v, out)),
        _ => {}
    }
}

/// Every config-features flag the workspace pod spec needs.
fn required_features(ksvc: &Value, schema: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    flags_used(schema, ksvc, &mut out);
    // Not in the CRD descriptions: a writable PVC needs its own flag (k8s_validation.go).
    let volumes = ksvc["spec"]["template"]["spec"]["volumes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if volumes.iter().any(|v| {
        v.get("persistentVolumeClaim")
            .is_some_and(|p| p["readOnly"] != true)
    }) {
        out.insert("kubernetes.podspec-persistent-volume-write".into());
    }
    out
}

#[test]
fn shipped_config_features_enable_exactly_the_pod_spec_features_used() {
    let schema = crd_schema(&reference("knative/crd-services.serving.knative.dev.yaml"));
    let mut needed = BTreeSet::new();
    for (cfg, spec) in configs()
        .into_iter()
        .flat_map(|c| specs().into_iter().map(move |s| (c.clone(), s)))
    {
        let ksvc = serde_json::to_value(objects::ksvc(&cfg, &spec)).expect("json");
        needed.extend(required_features(&ksvc, &schema));
    }
    let shipped: BTreeSet<String> = FEATURES.iter().map(|f| (*f).to_owned()).collect();
    assert_eq!(shipped, needed);
    // Each is a real flag of the upstream ConfigMap, and ships as "enabled".
    let upstream = load_yaml(&reference("knative/config-features.yaml"));
    let example = upstream["data"]["_example"].as_str().expect("_example");
    let features = knative_config().swap_remove(0);
    assert_eq!(features.metadata.name.as_deref(), Some("config-features"));
    let data = features.data.expect("data");
    for flag in &shipped {
        assert!(
            upstream_key(example, flag),
            "{flag} is not an upstream flag"
        );
        assert_eq!(
            data.get(flag).map(String::as_str),
            Some("enabled"),
            "{flag}"
        );
    }
    assert_eq!(data.len(), shipped.len());
}

#[test]
fn shipped_defaults_and_autoscaler_keys_are_upstream_and_fit_the_timeouts() {
    let maps = knative_config();
    for (map, file) in maps[1..]
        .iter()
        .zip(["config-defaults", "config-autoscaler"])
    {
        assert_eq!(map.metadata.name.as_deref(), Some(file));
        let upstream = load_yaml(&reference(&format!("knative/{file}.yaml")));
        let example = upstream["data"]["_example"].as_str().expect("_example");
        for key in map.data.as_ref().expect("data").keys() {
            assert!(upstream_key(example, key), "{key} not in upstream {file}");
        }
    }
    let max: i64 = maps[1].data.as_ref().expect("data")["max-revision-timeout-seconds"]
        .parse()
        .expect("number");
    assert!(config().request_timeout_secs <= max);
}

#[test]
fn the_pod_spec_keeps_knatives_runtime_contract() {
    for (cfg, spec) in configs()
        .into_iter()
        .flat_map(|c| specs().into_iter().map(move |s| (c.clone(), s)))
    {
        let ksvc = serde_json::to_value(objects::ksvc(&cfg, &spec)).expect("json");
        let pod = &ksvc["spec"]["template"]["spec"];
        let containers = pod["containers"].as_array().expect("containers");
        let ports: Vec<&Value> = containers
            .iter()
            .filter_map(|c| c["ports"].as_array())
            .flatten()
            .collect();
        assert_eq!(ports.len(), 1, "exactly one port across all containers");
        let port = ports[0]["containerPort"].as_i64().expect("port");
        assert!(![8012, 8013, 8022, 9090, 9091, 8008].contains(&port));
        let init = pod["initContainers"].as_array().expect("init");
        for c in containers.iter().chain(init) {
            assert_ne!(c["name"], "queue-proxy");
            for e in c["env"].as_array().into_iter().flatten() {
                let n = e["name"].as_str().expect("name");
                assert!(!["PORT", "K_SERVICE", "K_CONFIGURATION", "K_REVISION"].contains(&n));
            }
            let mut paths = BTreeSet::new();
            for m in c["volumeMounts"].as_array().into_iter().flatten() {
                let p = m["mountPath"].as_str().expect("path");
                assert!(
                    paths.insert(p) && !["/", "/dev", "/dev/log"].contains(&p),
                    "{p}"
                );
                let vol = pod["volumes"]
                    .as_array()
                    .expect("volumes")
                    .iter()
                    .find(|v| v["name"] == m["name"])
                    .expect("volume");
                if vol.get("secret").is_some() || vol.get("configMap").is_some() {
                    assert_eq!(m["readOnly"], true, "secret mounts must be readOnly");
                }
            }
            for field in ["lifecycle", "stdin", "tty", "volumeDevices"] {
                assert!(c.get(field).is_none(), "{field}");
            }
        }
        for c in init {
            for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
                assert!(c.get(probe).is_none(), "no probes in init containers");
            }
        }
        let probe = &containers[0]["readinessProbe"];
        assert!(probe.get("periodSeconds").is_none() && probe.get("failureThreshold").is_none());
        for field in [
            "restartPolicy",
            "terminationGracePeriodSeconds",
            "nodeName",
            "hostname",
        ] {
            assert!(pod.get(field).is_none(), "{field}");
        }
    }
}
