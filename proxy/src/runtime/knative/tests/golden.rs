//! Every builder's output, compared whole.

use dcs_model::names::user_volume_name;
use serde_json::json;

use super::{config, config_with, key, spec};
use crate::runtime::knative::objects::{
    self, credentials_secret_name, git_secret_name, hop_secret_name, repo_label, user_label,
    GitToken,
};
use crate::runtime::Upstream;

#[test]
fn knative_service_is_golden() {
    let k = key();
    let name = k.name().to_string();
    let (user, repo) = (
        user_label(&k.user),
        repo_label(k.repo().expect("a repository workspace")),
    );
    let mut got = serde_json::to_value(objects::ksvc(&config(), &spec())).expect("json");
    // The `history` container is golden on its own (`golden_history`).
    let containers = got["spec"]["template"]["spec"]["containers"].as_array_mut();
    let history = containers.expect("containers").remove(1);
    assert_eq!(history["name"], "history");
    let labels = json!({
        "app.kubernetes.io/managed-by": "dcs",
        "app.kubernetes.io/name": "dcs-workspace",
        "dcs.dev/repo": repo,
        "dcs.dev/user": user,
    });
    let mut ksvc_labels = labels.clone();
    ksvc_labels["networking.knative.dev/visibility"] = json!("cluster-local");
    let security = json!({
        "allowPrivilegeEscalation": false,
        "capabilities": {"drop": ["ALL"]},
        "runAsGroup": 1000, "runAsNonRoot": true, "runAsUser": 1000,
        "seccompProfile": {"type": "RuntimeDefault"},
    });
    let want = json!({
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {
            "name": name,
            "namespace": "dcs-workspaces",
            "labels": ksvc_labels,
            "annotations": {
                "dcs.dev/repo": "acme/hello",
                "dcs.dev/user": "alice@example.com",
                "dcs.dev/spec": concat!(
                    r#"{"repo":"acme/hello","base_image":null,"ide":null,"ide_version":null,"#,
                    r#""resources":{"storage":null,"cpu_request":null,"cpu_limit":null,"#,
                    r#""memory_request":null,"memory_limit":null},"env":{},"token_sha256":null,"#,
                    r#""created_unix":0}"#
                ),
            },
        },
        "spec": {"template": {
            "metadata": {
                "labels": labels,
                "annotations": {
                    "autoscaling.knative.dev/initial-scale": "1",
                    "autoscaling.knative.dev/max-scale": "1",
                    "autoscaling.knative.dev/min-scale": "0",
                    "serving.knative.dev/progress-deadline": "1800s",
                },
            },
            "spec": {
                "containerConcurrency": 0,
                "timeoutSeconds": 3600,
                "responseStartTimeoutSeconds": 3600,
                "idleTimeoutSeconds": 0,
                "affinity": {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [{
                    "labelSelector": {"matchLabels": {
                        "app.kubernetes.io/name": "dcs-workspace", "dcs.dev/user": user}},
                    "topologyKey": "kubernetes.io/hostname",
                }]}},
                "automountServiceAccountToken": false,
                "enableServiceLinks": false,
                "securityContext": {"fsGroup": 1000},
                "initContainers": [{
                    "name": "install-launcher",
                    "image": "dcs-launcher:0.1.0",
                    "command": ["cp", "/usr/local/bin/dcs-launcher", "/opt/dcs/bin/dcs-launcher"],
                    "resources": {"limits": {"memory": "64Mi"}, "requests": {"cpu": "10m", "memory": "16Mi"}},
                    "securityContext": security,
                    "volumeMounts": [{"mountPath": "/opt/dcs/bin", "name": "launcher"}],
                }, {
                    // The only container with the git token; it pushes the clone's
                    // progress to the proxy with the hop credential.
                    "name": "checkout",
                    "image": "dcs-launcher:0.1.0",
                    "command": ["/usr/local/bin/dcs-launcher", "checkout"],
                    "workingDir": "/workspaces",
                    "env": [
                        {"name": "DCS_REPO", "value": "acme/hello"},
                        {"name": "DCS_GIT_BASE", "value": "https://github.com"},
                        {"name": "DCS_WORKSPACES_DIR", "value": "/workspaces"},
                        {"name": "DCS_LISTEN", "value": "0.0.0.0:8080"},
                        {"name": "DCS_IDE", "value": "none"},
                        {"name": "DCS_GIT_TOKEN_FILE", "value": "/var/run/secrets/dcs/git/token"},
                        {"name": "DCS_HOP_SECRET_FILE", "value": "/var/run/secrets/dcs/hop/credential"},
                        {"name": "DCS_CHECKOUT_OUTCOME_FILE", "value": "/opt/dcs/checkout/outcome.json"},
                        {"name": "DCS_BASE_PATH", "value": "/github/acme/hello"},
                        {"name": "DCS_USER", "value": "alice@example.com"},
                        {"name": "DCS_STOP_GRACE", "value": "10"},
                        {"name": "DCS_GIT_TIMEOUT", "value": "1800"},
                        {"name": "DCS_GIT_LOW_SPEED_LIMIT", "value": "1000"},
                        {"name": "DCS_GIT_LOW_SPEED_TIME", "value": "60"},
                        {"name": "DCS_CONFIG_DIR", "value": "/opt/dcs/checkout/config"},
                        {"name": "DCS_PROGRESS_URL", "value": "http://dcs-proxy.dcs.svc.cluster.local/_dcs/hop/progress/ws-alice-example-com-acme-hello-67950b44de6b388a"},
                        {"name": "DCS_IDLE_TIMEOUT", "value": "1800"},
                        {"name": "DCS_IDLE_WARNING", "value": "300"},
                        {"name": "DCS_BUSY_MAX", "value": "14400"},
                        {"name": "DCS_TAB_POLL", "value": "15"},
                        {"name": "DCS_DEVCONTAINER", "value": "ask"},
                    ],
                    "resources": {
                        "limits": {"memory": "4Gi"},
                        "requests": {"cpu": "500m", "memory": "1Gi"},
                    },
                    "securityContext": security,
                    "terminationMessagePolicy": "FallbackToLogsOnError",
                    "volumeMounts": [
                        {"mountPath": "/workspaces", "name": "workspaces"},
                        {"mountPath": "/opt/dcs/checkout", "name": "checkout"},
                        {"mountPath": "/var/run/secrets/dcs/hop", "name": "hop", "readOnly": true},
                        {"mountPath": "/var/run/secrets/dcs/git", "name": "git-token", "readOnly": true},
                    ],
                }],
                "containers": [{
                    "name": "workspace",
                    "image": "mcr.microsoft.com/devcontainers/base:bookworm",
                    "command": ["/opt/dcs/bin/dcs-launcher", "run"],
                    "workingDir": "/workspaces",
                    "ports": [{"containerPort": 8080}],
                    "env": [
                        {"name": "DCS_REPO", "value": "acme/hello"},
                        {"name": "DCS_GIT_BASE", "value": "https://github.com"},
                        {"name": "DCS_WORKSPACES_DIR", "value": "/workspaces"},
                        {"name": "DCS_LISTEN", "value": "0.0.0.0:8080"},
                        {"name": "DCS_IDE", "value": "none"},
                        {"name": "DCS_HOP_SECRET_FILE", "value": "/var/run/secrets/dcs/hop/credential"},
                        {"name": "DCS_CREDENTIALS_FILE",
                         "value": "/var/run/secrets/dcs/credentials/credentials.json"},
                        {"name": "DCS_CHECKOUT_OUTCOME_FILE", "value": "/opt/dcs/checkout/outcome.json"},
                        {"name": "DCS_BASE_PATH", "value": "/github/acme/hello"},
                        {"name": "DCS_USER", "value": "alice@example.com"},
                        {"name": "DCS_STOP_GRACE", "value": "10"},
                        {"name": "DCS_GIT_TIMEOUT", "value": "1800"},
                        {"name": "DCS_GIT_LOW_SPEED_LIMIT", "value": "1000"},
                        {"name": "DCS_GIT_LOW_SPEED_TIME", "value": "60"},
                        {"name": "DCS_CONFIG_DIR", "value": "/home/dcs/.dcs"},
                        {"name": "DCS_PROGRESS_URL", "value": "http://dcs-proxy.dcs.svc.cluster.local/_dcs/hop/progress/ws-alice-example-com-acme-hello-67950b44de6b388a"},
                        {"name": "DCS_IDLE_TIMEOUT", "value": "1800"},
                        {"name": "DCS_IDLE_WARNING", "value": "300"},
                        {"name": "DCS_BUSY_MAX", "value": "14400"},
                        {"name": "DCS_TAB_POLL", "value": "15"},
                        {"name": "DCS_DEVCONTAINER", "value": "ask"},
                        {"name": "HOME", "value": "/home/dcs"},
                    ],
                    "readinessProbe": {"httpGet": {"path": "/_dcs/ready", "port": 8080}},
                    "resources": {
                        "limits": {"memory": "4Gi"},
                        "requests": {"cpu": "500m", "memory": "1Gi"},
                    },
                    "securityContext": security,
                    "terminationMessagePolicy": "FallbackToLogsOnError",
                    "volumeMounts": [
                        {"mountPath": "/workspaces", "name": "workspaces"},
                        {"mountPath": "/home/dcs", "name": "home"},
                        {"mountPath": "/opt/dcs/bin", "name": "launcher", "readOnly": true},
                        {"mountPath": "/opt/dcs/checkout", "name": "checkout", "readOnly": true},
                        {"mountPath": "/var/run/secrets/dcs/hop", "name": "hop", "readOnly": true},
                        {"mountPath": "/var/run/secrets/dcs/credentials", "name": "credentials",
                         "readOnly": true},
                    ],
                }],
                "volumes": [
                    {"name": "workspaces", "persistentVolumeClaim": {
                        "claimName": user_volume_name(&k.user).to_string(), "readOnly": false}},
                    {"name": "home", "persistentVolumeClaim": {"claimName": name, "readOnly": false}},
                    {"name": "launcher", "emptyDir": {"sizeLimit": "256Mi"}},
                    {"name": "checkout", "emptyDir": {"sizeLimit": "16Mi"}},
                    {"name": "hop", "secret": {
                        "secretName": hop_secret_name(&k).to_string(), "defaultMode": 0o440}},
                    {"name": "credentials", "secret": {
                        "secretName": credentials_secret_name(&k.user).to_string(),
                        "defaultMode": 0o440, "optional": true}},
                    {"name": "git-token", "secret": {
                        "secretName": git_secret_name(&k.user).to_string(), "defaultMode": 0o440}},
                ],
            },
        }},
    });
    assert_eq!(
        got,
        want,
        "{}",
        serde_json::to_string_pretty(&got).unwrap_or_default()
    );
}

#[test]
fn without_a_token_there_is_no_secret_and_with_rwx_no_affinity() {
    let cfg = config_with(&["--knative-volume-access", "read-write-many"]);
    let got = serde_json::to_value(objects::ksvc(&cfg, &spec())).expect("json");
    let pod = &got["spec"]["template"]["spec"];
    assert!(pod.get("affinity").is_none(), "{pod}");
    let text = pod.to_string();
    assert!(
        !text.contains("git-token") && !text.contains("DCS_GIT_TOKEN_FILE"),
        "{text}"
    );
}

#[test]
fn volumes_and_secret_are_golden() {
    let k = key();
    let cfg = config_with(&["--knative-storage-class", "fast-ssd"]);
    let user_meta = |name: String, app: &str| {
        json!({
            "name": name, "namespace": "dcs-workspaces",
            "labels": {"app.kubernetes.io/managed-by": "dcs", "app.kubernetes.io/name": app,
                       "dcs.dev/user": user_label(&k.user)},
            "annotations": {"dcs.dev/user": "alice@example.com"},
        })
    };
    assert_eq!(
        serde_json::to_value(objects::user_volume(&cfg, &k.user, None)).expect("json"),
        json!({
            "apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": user_meta(user_volume_name(&k.user).to_string(), "dcs-user-volume"),
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "10Gi"}},
                     "storageClassName": "fast-ssd", "volumeMode": "Filesystem"},
        })
    );
    let mut home_meta = user_meta(k.name().to_string(), "dcs-workspace-home");
    home_meta["labels"]["dcs.dev/repo"] =
        json!(repo_label(k.repo().expect("a repository workspace")));
    home_meta["annotations"]["dcs.dev/repo"] = json!("acme/hello");
    assert_eq!(
        serde_json::to_value(objects::home_volume(&cfg, &spec())).expect("json"),
        json!({
            "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": home_meta,
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "2Gi"}},
                     "storageClassName": "fast-ssd", "volumeMode": "Filesystem"},
        })
    );
    let secret = objects::git_token_secret(&cfg, &k.user, &GitToken::new("s3cr3t"));
    assert_eq!(
        serde_json::to_value(&secret).expect("json"),
        json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": user_meta(git_secret_name(&k.user).to_string(), "dcs-git-token"),
            "type": "Opaque",
            "data": {"token": "czNjcjN0"},
        })
    );
    assert_eq!(
        format!("{:?}", GitToken::new("s3cr3t")),
        "GitToken(<redacted>)"
    );
}

#[test]
fn upstream_is_the_cluster_local_route_with_its_host_and_hop_credential() {
    let name = key().name();
    let mut cfg = config();
    let hop = crate::hop::HopKey::from_bytes(&[b'h'; 32]).expect("key");
    cfg.hop = Some(hop.clone());
    assert_eq!(
        objects::upstream(&cfg, &key()),
        Upstream {
            authority: format!("{name}.dcs-workspaces.svc.cluster.local:80"),
            host: Some(format!("{name}.dcs-workspaces.svc.cluster.local")),
            socket: None,
            hop: Some(hop.credential(&name)),
            multiplexed: false,
        }
    );
}

#[test]
fn labels_are_valid_label_values_and_keys_read_back() {
    let k = key();
    for v in [
        user_label(&k.user),
        repo_label(k.repo().expect("a repository workspace")),
    ] {
        assert!(v.len() <= 63 && dcs_model::K8sName::is_dns1035(&v), "{v}");
    }
    let ksvc = objects::ksvc(&config(), &spec());
    assert_eq!(objects::key_of(&ksvc.metadata), Some(k.clone()));
    assert_eq!(
        objects::workspace_selector(Some(&k.user)),
        format!(
            "app.kubernetes.io/managed-by=dcs,app.kubernetes.io/name=dcs-workspace,dcs.dev/user={}",
            user_label(&k.user)
        )
    );
}

#[test]
fn an_instance_service_carries_its_id_spec_image_resources_and_env() {
    let s = super::instance_spec();
    let id = "inst-0123456789abcdef";
    let got = serde_json::to_value(objects::ksvc(&config(), &s)).expect("json");
    assert_eq!(
        got["metadata"]["name"], id,
        "an instance is named by its id"
    );
    let labels = &got["metadata"]["labels"];
    assert_eq!(labels["dcs.dev/instance"], id);
    assert!(
        labels.get("dcs.dev/repo").is_none(),
        "no repository, no repo label"
    );
    assert_eq!(
        got["spec"]["template"]["metadata"]["labels"]["dcs.dev/instance"],
        id
    );
    let ann = &got["metadata"]["annotations"];
    assert_eq!(ann["dcs.dev/user"], "alice@example.com");
    assert_eq!(ann["dcs.dev/instance"], id);
    assert!(ann.get("dcs.dev/repo").is_none());
    let recorded: dcs_model::InstanceSpec =
        serde_json::from_str(ann["dcs.dev/spec"].as_str().expect("spec")).expect("a spec");
    assert_eq!(recorded, s.instance);
    let ksvc = objects::ksvc(&config(), &s);
    assert_eq!(objects::key_of(&ksvc.metadata), Some(s.key.clone()));
    assert_eq!(objects::spec_of(&ksvc.metadata), Ok(s.instance.clone()));

    let c = &got["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(c["image"], "ubuntu:24.04");
    assert_eq!(
        c["resources"],
        json!({"limits": {"cpu": "2", "memory": "2Gi"}, "requests": {"cpu": "250m", "memory": "512Mi"}})
    );
    let env: Vec<(String, String)> = c["env"]
        .as_array()
        .expect("env")
        .iter()
        .map(|e| {
            (
                e["name"].as_str().expect("name").to_owned(),
                e["value"].as_str().expect("value").to_owned(),
            )
        })
        .collect();
    let value = |n: &str| env.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
    assert_eq!(value("DCS_INSTANCE"), Some(id));
    assert_eq!(value("DCS_REPO"), None, "the spec's env never sets DCS_*");
    assert_eq!(value("DCS_IDE"), Some("code-server"));
    assert_eq!(value("DCS_IDE_VERSION"), Some("4.104.0"));
    assert_eq!(
        value("DCS_BASE_PATH"),
        Some("/instances/inst-0123456789abcdef")
    );
    assert_eq!(value("HOME"), Some("/home/dcs"), "the pod's HOME wins");
    assert_eq!(value("PORT"), None, "Knative's own variables are never set");
    assert_eq!(value("FOO"), Some("bar"));
    let names: std::collections::BTreeSet<&str> = env.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names.len(), env.len(), "no duplicate names");

    // Volumes: the home volume is the instance's; the user's volume gets the
    // spec's storage (when it is first made).
    let home = serde_json::to_value(objects::home_volume(&config(), &s)).expect("json");
    assert_eq!(home["metadata"]["name"], id);
    assert_eq!(home["metadata"]["labels"]["dcs.dev/instance"], id);
    let storage = s.instance.resources.storage.as_ref();
    let user =
        serde_json::to_value(objects::user_volume(&config(), &s.key.user, storage)).expect("json");
    assert_eq!(user["spec"]["resources"]["requests"]["storage"], "20Gi");
}

#[test]
fn an_instance_with_a_repository_checks_it_out_and_is_labelled_with_it() {
    let mut s = super::instance_spec();
    let repo = dcs_model::RepoRef::parse("acme/hello").expect("repo");
    s.instance.repo = Some(repo.clone());
    let got = serde_json::to_value(objects::ksvc(&config(), &s)).expect("json");
    assert_eq!(got["metadata"]["labels"]["dcs.dev/repo"], repo_label(&repo));
    assert_eq!(got["metadata"]["annotations"]["dcs.dev/repo"], "acme/hello");
    // Still an instance: the instance id decides the key.
    let ksvc = objects::ksvc(&config(), &s);
    assert_eq!(objects::key_of(&ksvc.metadata), Some(s.key.clone()));
    let env = got["spec"]["template"]["spec"]["containers"][0]["env"].to_string();
    assert!(
        env.contains(r#"{"name":"DCS_REPO","value":"acme/hello"}"#),
        "{env}"
    );
}
