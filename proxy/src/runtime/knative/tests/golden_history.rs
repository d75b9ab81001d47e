//! The pod's `history` container, compared whole, and where the git token is once
//! it runs beside the workspace: in `checkout` and `history`, never in `workspace`.

use serde_json::{json, Value};

use super::{config, config_with, instance_spec, spec};
use crate::runtime::knative::objects;
use crate::runtime::WorkspaceSpec;

fn pod(cfg: &crate::runtime::knative::KnativeConfig, spec: &WorkspaceSpec) -> Value {
    let ksvc = serde_json::to_value(objects::ksvc(cfg, spec)).expect("json");
    ksvc["spec"]["template"]["spec"].clone()
}

fn container<'a>(pod: &'a Value, name: &str) -> Option<&'a Value> {
    pod["containers"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["name"] == name))
}

fn mounts(container: &Value) -> Vec<String> {
    let mounts = container["volumeMounts"].as_array().into_iter().flatten();
    mounts
        .map(|m| format!("{}:{}", m["name"], m["mountPath"]).replace('"', ""))
        .collect()
}

fn env_names(container: &Value) -> Vec<&str> {
    let env = container["env"].as_array().into_iter().flatten();
    env.filter_map(|e| e["name"].as_str()).collect()
}

#[test]
fn the_history_container_is_golden() {
    let pod = pod(&config(), &spec());
    let names: Vec<&str> = pod["containers"]
        .as_array()
        .expect("containers")
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(
        names,
        ["workspace", "history"],
        "the workspace's comes first"
    );
    let got = container(&pod, "history").expect("history");
    let checkout = &pod["initContainers"][1];
    assert_eq!(checkout["name"], "checkout");
    // The checkout's contract, less the hop credential and the progress push.
    let env: Vec<&Value> = checkout["env"]
        .as_array()
        .expect("env")
        .iter()
        .filter(|e| {
            !matches!(
                e["name"].as_str(),
                Some("DCS_HOP_SECRET_FILE" | "DCS_PROGRESS_URL")
            )
        })
        .collect();
    let want = json!({
        "name": "history",
        "image": "dcs-launcher:0.1.0",
        "command": ["/usr/local/bin/dcs-launcher", "checkout", "--history", "--stay"],
        "workingDir": "/workspaces",
        "env": env,
        "resources": {
            "limits": {"memory": "4Gi"},
            "requests": {"cpu": "10m", "memory": "64Mi"},
        },
        "securityContext": checkout["securityContext"],
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "volumeMounts": [
            {"mountPath": "/workspaces", "name": "workspaces"},
            {"mountPath": "/opt/dcs/checkout", "name": "checkout"},
            {"mountPath": "/var/run/secrets/dcs/git", "name": "git-token", "readOnly": true},
        ],
    });
    assert_eq!(
        got,
        &want,
        "{}",
        serde_json::to_string_pretty(got).unwrap_or_default()
    );
    assert!(env_names(got).contains(&"DCS_GIT_TOKEN_FILE"));
}

#[test]
fn the_workspace_container_never_holds_the_token_the_history_container_does() {
    let mut with_ca = config_with(&["--knative-extra-ca-secret", "corp-ca"]);
    with_ca.launcher = config().launcher;
    for cfg in [config(), with_ca] {
        let pod = pod(&cfg, &spec());
        let workspace = container(&pod, "workspace").expect("workspace");
        let history = container(&pod, "history").expect("history");
        let token = "git-token:/var/run/secrets/dcs/git".to_owned();
        assert!(!mounts(workspace).contains(&token), "{workspace}");
        assert!(!env_names(workspace).contains(&"DCS_GIT_TOKEN_FILE"));
        assert!(mounts(history).contains(&token), "{history}");
        // The user's volume, as the checkout has it; no hop credential, no port.
        assert!(mounts(history).contains(&"workspaces:/workspaces".to_owned()));
        assert!(!mounts(history).iter().any(|m| m.starts_with("hop:")));
        assert!(!env_names(history).contains(&"DCS_HOP_SECRET_FILE"));
        assert!(history.get("ports").is_none() && history.get("readinessProbe").is_none());
        let extra_ca = "extra-ca:/var/run/secrets/dcs/ca".to_owned();
        let has_ca = cfg.extra_ca.is_some();
        assert_eq!(mounts(history).contains(&extra_ca), has_ca, "{history}");
    }
}

#[test]
fn without_a_token_or_a_repository_the_history_container_has_no_token_or_is_not_there() {
    let pod_without_token = pod(&config_with(&[]), &spec());
    let history = container(&pod_without_token, "history").expect("history");
    assert!(!history.to_string().contains("git-token"), "{history}");
    assert!(!env_names(history).contains(&"DCS_GIT_TOKEN_FILE"));
    // An instance without a repository has no history to fetch.
    let pod = pod(&config(), &instance_spec());
    let names: Vec<&Value> = pod["containers"]
        .as_array()
        .expect("containers")
        .iter()
        .map(|c| &c["name"])
        .collect();
    assert_eq!(names, [&json!("workspace")]);
}

#[test]
fn the_history_containers_memory_limit_is_the_workspaces() {
    let mut spec = spec();
    spec.instance.resources.memory_limit =
        Some(dcs_model::Quantity::parse("6Gi").expect("quantity"));
    let pod = pod(&config(), &spec);
    let history = container(&pod, "history").expect("history");
    assert_eq!(history["resources"]["limits"], json!({"memory": "6Gi"}));
    assert_eq!(
        history["resources"]["requests"],
        json!({"cpu": "10m", "memory": "64Mi"})
    );
}
